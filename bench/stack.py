"""The processes a benchmark run starts and stops itself: a Temporal dev server on free ports with
a throw-away SQLite file, its own PostgreSQL database, the case worker, the floor worker and the
API under uvicorn. Nothing here touches the `test` database or a developer's .data/ folder.
Starting, waiting for and stopping each process is devstack.py's, as for the process tests.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg

if TYPE_CHECKING:
    import psutil

from devstack import ROOT, ApiProc, DevServer, Proc, WorkerProc, clean_env, free_port

__all__ = ["ROOT", "STOP_TIMEOUT", "Stack", "running_stack"]

PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
STOP_TIMEOUT = 20.0  # a worker drains its in-flight tasks on SIGTERM; the load leaves many


@dataclass
class Stack:
    """Everything one run started; stop() ends exactly these processes and drops the database."""

    workdir: Path
    database: str
    api_port: int = field(default_factory=free_port)
    server: DevServer | None = None  # the first dev server: the one the run's processes use
    procs: list[Proc] = field(default_factory=list)
    keep_logs: bool = False
    files: list[Path] = field(default_factory=list)

    @property
    def temporal_address(self) -> str:
        assert self.server is not None, "start_temporal() first"
        return self.server.address

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
        return clean_env(CASES_TEMPORAL_ADDRESS=self.temporal_address,
                         CASES_DATABASE_URL=self.database_url, CASES_TASK_QUEUE="bench-cases",
                         CASES_NOTIFIER="outbox", PYTHONPATH=str(ROOT),
                         PYTHONUNBUFFERED="1") | extra

    def _log(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    def spawn(self, name: str, args: list[str], **env: str) -> Proc:
        proc = Proc(name, args, self.env(**env), self._log(name)).start()
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

    async def start_temporal(self, name: str = "temporal") -> DevServer:
        # SQLite as the dev server sets it (no FAST_SQLITE pragmas): on tmpfs, writes cost no
        # flush, and the floor stays comparable with earlier runs.
        server = DevServer(self._log(name), self.temporal_db(name), name=name, pragmas=(),
                           log_level="error", env=clean_env())
        self.procs.append(server.start())
        await server.ready()
        if self.server is None:
            self.server = server
        return server

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
    def start_worker(self, name: str = "worker") -> WorkerProc:
        proc = WorkerProc(name, self.env(), self._log(name)).start()
        self.procs.append(proc)
        return proc

    def start_floor_worker(self) -> Proc:
        return self.spawn("floor-worker", [sys.executable, "-m", "bench.floor",
                                           "--address", self.temporal_address])

    python = sys.executable

    async def start_api(self, *extra: str, app: str = "api.main:create_app",
                        processes: int | None = None, **env: str) -> ApiProc:
        """The API: as production runs it (`python -m api.serve`, one process per core unless
        `processes` says) when `processes` is given, else `app` under one uvicorn process."""
        proc = ApiProc("api", self.env(**env), self._log("api"), self.api_port, app=app,
                       uvicorn_args=("--log-level", "warning", "--no-access-log", *extra),
                       processes=processes)
        self.procs.append(proc.start())
        await proc.healthy()
        return proc

    async def restart_api(self, *extra: str, app: str = "api.main:create_app",
                          processes: int | None = None, **env: str) -> ApiProc:
        old = self.proc("api")
        await old.stop(STOP_TIMEOUT)
        self.procs.remove(old)
        return await self.start_api(*extra, app=app, processes=processes, **env)

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system) used so far by each process of the stack that is running,
        the PostgreSQL backends serving this run's database, and this (the load) process."""
        import psutil

        used: dict[str, float] = {}
        for proc in self.procs:
            if proc.running:
                with contextlib.suppress(psutil.Error):
                    p = psutil.Process(proc.pid)
                    times = p.cpu_times()
                    used[proc.name] = times.user + times.system + times.children_user + \
                        times.children_system + _live_children_cpu(p)
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

    async def stop(self) -> None:
        for proc in reversed(self.procs):
            await proc.stop(STOP_TIMEOUT)
        self.drop_database()
        for path in self.files:
            for leftover in path.parent.glob(path.name + "*"):
                leftover.unlink(missing_ok=True)


def _live_children_cpu(process: psutil.Process) -> float:
    """CPU used by a process's children still running (the API's launcher runs one process
    per core): psutil's children_* times count only children that have ended."""
    import psutil

    total = 0.0
    for child in process.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            times = child.cpu_times()
            total += times.user + times.system
    return total


@contextlib.asynccontextmanager
async def running_stack(keep_logs: bool = False) -> AsyncIterator[Stack]:
    workdir = Path(tempfile.mkdtemp(prefix="cases-bench-"))
    stack = Stack(workdir=workdir, database=f"cases_bench_{os.getpid()}", keep_logs=keep_logs)
    stack.create_database()
    try:
        yield stack
    finally:
        await stack.stop()
        if not stack.keep_logs:
            shutil.rmtree(workdir, ignore_errors=True)
