"""Real processes for the fault, scale-out and operations tests: a Temporal dev server on free
ports with its own SQLite file, `python worker.py`, and the API under uvicorn (devstack.py), each
with the CASES_* environment of a deployment pointing at them and at the test database.

The processes' logs are part of what the tests check (`Proc.output()`).
"""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.client import Client

from core.db import create_schema, make_engine
from core.security import issue_token
from core.settings import Settings
from devstack import ApiProc, DevServer, Proc, WorkerProc, clean_env, free_port
from models.case import Actor
from models.enums import Role

__all__ = ["ApiProc", "DevServer", "Proc", "Stack", "TcpProxy", "WorkerProc", "bearer",
           "database_url_for", "free_port", "metric_value", "running_stack"]


def database_url_for(workdir: Path) -> str:
    """The suite's database (PostgreSQL in CI's second pass), else a SQLite file of this test."""
    return os.environ.get("CASES_TEST_DATABASE_URL") or f"sqlite:///{workdir / 'read-model.db'}"


@dataclass
class Stack:
    """A deployment on this machine: one dev server, and any number of workers and APIs."""

    workdir: Path
    database_url: str
    task_queue: str = field(default_factory=lambda: f"cases-proc-{uuid.uuid4().hex[:8]}")
    extra_env: dict[str, str] = field(default_factory=dict)
    server: DevServer | None = None
    client: Client | None = None
    procs: list[Proc] = field(default_factory=list)
    settings: Settings = field(default_factory=Settings)

    def env(self, **extra: str) -> dict[str, str]:
        assert self.server is not None
        return clean_env() | {
            "PYTHONUNBUFFERED": "1",
            "CASES_TEMPORAL_ADDRESS": self.server.address,
            "CASES_TASK_QUEUE": self.task_queue,
            "CASES_DATABASE_URL": self.database_url,
            "CASES_LOG_LEVEL": "INFO",
            # The backstop that writes what an API lost to a fault: short, so tests settle soon.
            "CASES_PROJECTION_BACKSTOP_SECONDS": "2",
        } | self.extra_env | extra

    async def start_server(self) -> Client:
        if self.server is None:
            self.server = DevServer(self.workdir / "temporal.log", self.workdir / "temporal.db")
        self.server.start()
        self.client = await self.server.ready(self.settings)
        return self.client

    def worker(self, name: str = "worker") -> WorkerProc:
        proc = WorkerProc(name, self.env(), self.workdir / f"{name}.log", metrics_port=free_port())
        self.procs.append(proc)
        return proc

    def api(self, name: str = "api", processes: int | None = None) -> ApiProc:
        proc = ApiProc(name, self.env(), self.workdir / f"{name}.log", port=free_port(),
                       processes=processes)
        self.procs.append(proc)
        return proc

    async def polling(self, worker: WorkerProc) -> None:
        assert self.client is not None, "start_server() first"
        await worker.polling(self.client, self.task_queue)

    async def start(self, workers: int = 1, apis: int = 1, api_processes: int | None = None,
                    ) -> tuple[list[WorkerProc], list[ApiProc]]:
        """Start the processes side by side (each takes seconds to import), then wait for all.
        `api_processes`: each API through its launcher with that many processes."""
        started_workers = [self.worker(f"worker-{i + 1}").start() for i in range(workers)]
        started_apis = [self.api(f"api-{i + 1}", api_processes).start() for i in range(apis)]
        await asyncio.gather(*(self.polling(w) for w in started_workers),
                             *(a.healthy() for a in started_apis))
        return started_workers, started_apis

    async def start_worker(self, name: str = "worker") -> WorkerProc:
        proc = self.worker(name)
        proc.start()
        await self.polling(proc)
        return proc

    async def start_api(self, name: str = "api", processes: int | None = None) -> ApiProc:
        proc = self.api(name, processes)
        proc.start()
        await proc.healthy()
        return proc

    async def stop(self) -> None:
        await asyncio.gather(*(proc.stop() for proc in self.procs))
        if self.server is not None:
            await self.server.stop()


@asynccontextmanager
async def running_stack(workdir: Path) -> AsyncIterator[Stack]:
    """A Stack with its read-model schema made and its Temporal server up, stopped on leaving.
    The schema exists before any process starts, so they do not race to create it."""
    stack = Stack(workdir, database_url_for(workdir))
    schema = make_engine(stack.database_url)
    create_schema(schema)
    schema.dispose()
    await stack.start_server()
    try:
        yield stack
    finally:
        await stack.stop()


def bearer(role: str | Role, area: str = "north", settings: Settings | None = None) -> dict[str, str]:
    """Headers of a user of `role` in `area`, signed with the key the processes verify with."""
    actor = Actor(user_id=f"{Role(role).value}-{area}", role=Role(role), area=area)
    return {"Authorization": f"Bearer {issue_token(settings or Settings(), actor)}"}


def metric_value(exposition: str, name: str, **labels: str) -> float:
    """The sum of a metric's samples whose labels include `labels` (0 when there are none)."""
    total = 0.0
    for line in exposition.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        series, _, value = line.rpartition(" ")
        metric, _, label_text = series.partition("{")
        if metric != name:
            continue
        pairs = dict(part.split("=", 1) for part in label_text.rstrip("}").split(",") if "=" in part)
        if all(pairs.get(k) == f'"{v}"' for k, v in labels.items()):
            total += float(value)
    return total


class TcpProxy:
    """A TCP relay to a database that the test can cut: while cut, connecting is refused and
    the connections it carried are dropped, as when a database host goes away."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target_host, self.target_port = target_host, target_port
        self.port = free_port()
        self.server: asyncio.Server | None = None
        self.links: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def cut(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        for writer in list(self.links):
            writer.transport.abort()
        self.links.clear()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self.links |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                sink.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self.links -= {writer, up_writer}
