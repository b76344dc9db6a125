"""The processes a benchmark run starts and stops itself: a Temporal dev server on free ports with
a throw-away SQLite file, its own PostgreSQL database, the case worker, the floor worker and the
API under uvicorn. Nothing here touches the `test` database or a developer's .data/ folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

from workflows.search import dev_server_flags

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def binary(name: str) -> str:
    found = shutil.which(name, path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if found is None:
        raise SystemExit(f"{name} not found: `make bench` installs the project first")
    return found


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 20) -> None:
        if not self.alive():
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(5)


@dataclass
class Stack:
    """Everything one run started; stop() ends exactly these processes and drops the database."""

    workdir: Path
    database: str
    temporal_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    procs: list[Proc] = field(default_factory=list)
    keep_logs: bool = False
    files: list[Path] = field(default_factory=list)

    @property
    def temporal_address(self) -> str:
        return f"127.0.0.1:{self.temporal_port}"

    @property
    def database_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:5432/{self.database}"

    @property
    def psycopg_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:5432/{self.database}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CASES_")}
        env.update(CASES_TEMPORAL_ADDRESS=self.temporal_address, CASES_DATABASE_URL=self.database_url,
                   CASES_TASK_QUEUE="bench-cases", CASES_NOTIFIER="outbox",
                   PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
        env.update(extra)
        return env

    def spawn(self, name: str, args: list[str], **env: str) -> Proc:
        log = self.workdir / f"{name}.log"
        handle = log.open("wb")
        popen = subprocess.Popen(args, cwd=ROOT, env=self.env(**env), stdout=handle,
                                 stderr=subprocess.STDOUT, start_new_session=True)
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def proc(self, name: str) -> Proc:
        return next(p for p in self.procs if p.name == name)

    # --- Temporal -------------------------------------------------------------------------------
    def temporal_db(self, name: str) -> Path:
        """The dev server's SQLite file: on tmpfs where there is one, so that the floor measures
        Temporal's own work rather than this VM's disk flushes (2 ms each here), which the dev
        server's single writer would otherwise serialise every write behind."""
        shm = Path("/dev/shm")
        folder = shm if shm.is_dir() and os.access(shm, os.W_OK) else self.workdir
        path = folder / f"{self.workdir.name}-{name}.db"
        self.files.append(path)
        return path

    def start_temporal(self, name: str = "temporal", port: int | None = None) -> Proc:
        port = port or self.temporal_port
        address = f"127.0.0.1:{port}"
        args = [binary("temporal"), "server", "start-dev", "--headless", "--ip", "127.0.0.1",
                "--port", str(port), "--http-port", str(free_port()),
                "--metrics-port", str(free_port()), "--log-level", "error",
                "--db-filename", str(self.temporal_db(name))]
        args += dev_server_flags()
        proc = self.spawn(name, args)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ok = subprocess.run([binary("temporal"), "operator", "cluster", "health", "--address",
                                 address], capture_output=True).returncode == 0
            if ok:
                return proc
            if not proc.alive():
                break
            time.sleep(0.3)
        raise RuntimeError(f"the Temporal dev server did not start; see {proc.log}")

    # --- PostgreSQL -----------------------------------------------------------------------------
    def create_database(self) -> None:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{self.database}"')

    def drop_database(self) -> None:
        with contextlib.suppress(psycopg.Error), \
                psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')

    # --- our processes --------------------------------------------------------------------------
    def start_worker(self, name: str = "worker") -> Proc:
        return self.spawn(name, [sys.executable, "worker.py"])

    def start_floor_worker(self) -> Proc:
        return self.spawn("floor-worker", [sys.executable, "-m", "bench.floor",
                                           "--address", self.temporal_address])

    python = sys.executable

    def start_api(self, *extra: str, app: str = "api.main:create_app", **env: str) -> Proc:
        proc = self.spawn("api", [sys.executable, "-m", "uvicorn", "--factory", app,
                                  "--host", "127.0.0.1", "--port", str(self.api_port),
                                  "--log-level", "warning", "--no-access-log", *extra], **env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.api_url}/openapi.json", timeout=2).status_code == 200:
                    return proc
            if not proc.alive():
                break
            time.sleep(0.2)
        raise RuntimeError(f"the API did not start; see {proc.log}")

    def restart_api(self, *extra: str, app: str = "api.main:create_app", **env: str) -> Proc:
        old = self.proc("api")
        old.stop()
        self.procs.remove(old)
        return self.start_api(*extra, app=app, **env)

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system) used so far by each process of the stack that is running,
        the PostgreSQL backends serving this run's database, and this (the load) process."""
        import psutil

        used: dict[str, float] = {}
        for proc in self.procs:
            if proc.alive():
                with contextlib.suppress(psutil.Error):
                    p = psutil.Process(proc.pid)
                    times = p.cpu_times()
                    used[proc.name] = times.user + times.system + times.children_user + \
                        times.children_system
        total = 0.0
        for p in psutil.process_iter(["name", "cmdline"]):
            with contextlib.suppress(psutil.Error, TypeError):
                if p.info["name"] and p.info["name"].startswith("postgres") and \
                        any(self.database in part for part in p.info["cmdline"] or []):
                    times = p.cpu_times()
                    total += times.user + times.system
        used["postgres"] = total
        me = psutil.Process().cpu_times()
        used["load generator"] = me.user + me.system
        return used

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self.drop_database()
        for path in self.files:
            for leftover in path.parent.glob(path.name + "*"):
                leftover.unlink(missing_ok=True)


@contextlib.contextmanager
def running_stack(keep_logs: bool = False) -> Iterator[Stack]:
    workdir = Path(tempfile.mkdtemp(prefix="cases-bench-"))
    stack = Stack(workdir=workdir, database=f"cases_bench_{os.getpid()}", keep_logs=keep_logs)
    stack.create_database()
    try:
        yield stack
    finally:
        stack.stop()
        if not stack.keep_logs:
            shutil.rmtree(workdir, ignore_errors=True)
