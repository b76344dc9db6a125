"""Where each Python process spends its time under the throughput load: py-spy, sampling from
outside the process (no change to the code it samples), over one extra window of accepted
actions that the throughput figures do not count.

py-spy leaves out the threads the operating system shows waiting; of the samples it takes, one
whose innermost frame is a wait (the event loop's poll or its C core, a thread pool's queue, a
database socket) counts as idle too. That is a picture of where the work goes, not a measure
of CPU (the benchmark's CPU table is that): psycopg's `Connection.wait` also covers some of
libpq's own work, and the event loop's C core some of its callbacks. The busy samples are
grouped two ways: by the package the innermost frame
is in (where the CPU is spent), and by the service's own functions on the stack (which of its
steps it is spent for). The Temporal server is Go: its share is in the CPU table only.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

SAMPLES_PER_SECOND = 100
# Innermost frames that are a thread waiting, not working.
IDLE_LEAVES = ("Condition.wait", "Connection.wait", "Runner.run", "Queue.get", "_worker ",
               "EpollSelector.select", "select ", "poll ", "BaseEventLoop._run_once")
OWN_PACKAGES = ("api/", "core/", "readmodel/", "workflows/", "activities/", "models/")
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>.*?):\d+\)$")
TOP = 12
_LAYER_SUFFIXES = (".__call__", ".http")
REQUEST_STEP = "answering an HTTP request (every middleware, the route, its dependencies)"


@dataclass
class ProcessProfile:
    name: str
    samples: int = 0
    idle: int = 0
    by_package: list[tuple[float, str]] = field(default_factory=list)
    by_step: list[tuple[float, str]] = field(default_factory=list)

    @property
    def active(self) -> int:
        return self.samples - self.idle


def available() -> str | None:
    """py-spy's path (beside this interpreter, as `make bench` installs it, or on PATH), or
    None where it is not installed."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def start(py_spy: str, pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    """Sample `pid` and its child processes (the API's launcher runs one per core)."""
    return subprocess.Popen(
        [py_spy, "record", "--nonblocking", "--subprocesses", "--rate", str(SAMPLES_PER_SECOND),
         "--duration", str(int(seconds)), "--format", "raw", "--output", str(out),
         "--pid", str(pid)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _where(frame: str) -> tuple[str, str]:
    """(function, file) of a py-spy frame; py-spy names a file from its import root
    ("api/acting.py", "sqlalchemy/orm/session.py", "asyncio/events.py")."""
    match = _FRAME.match(frame)
    return (match["function"], match["file"]) if match else (frame, "")


def _package(path: str) -> str:
    if path.startswith(OWN_PACKAGES) or path == "worker.py":
        return "the service's own code"
    if not path or path.startswith("<"):
        return "interpreter"
    top = path.split("/", 1)[0].removesuffix(".py")
    return "standard library" if top in sys.stdlib_module_names else top


def summarise(name: str, raw: Path) -> ProcessProfile:
    profile = ProcessProfile(name)
    packages: Counter[str] = Counter()
    steps: Counter[str] = Counter()
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_where(f) for f in stack.split(";") if f and not f.startswith("process ")]
        if not frames:
            continue
        profile.samples += n
        function, path = frames[-1]
        if f"{function} ".startswith(IDLE_LEAVES) or function.startswith(IDLE_LEAVES):
            profile.idle += n
            continue
        packages[_package(path)] += n
        # The ASGI layers each wrap the whole request: one line for all of them.
        own = {f"{fn} ({p})" for fn, p in frames
               if p.startswith(OWN_PACKAGES) and not fn.endswith(_LAYER_SUFFIXES)}
        if any(fn == "FastAPI.__call__" for fn, _ in frames):
            own.add(REQUEST_STEP)
        for step in own:
            steps[step] += n
    active = max(1, profile.active)
    profile.by_package = [(n / active, p) for p, n in packages.most_common(TOP)]
    profile.by_step = [(n / active, s) for s, n in steps.most_common(TOP)]
    return profile
