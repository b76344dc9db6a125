"""Real processes for the fault, scale-out and operations tests: a Temporal dev server on free
ports with its own SQLite file, `python worker.py`, and the API under uvicorn, each with the
CASES_* environment of a deployment pointing at them and at the test database.

Each process writes stdout and stderr to a log file (appended across restarts), which the
tests read: the logs are part of what they check.
"""

import asyncio
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import httpx
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from core.db import create_schema, make_engine
from core.security import issue_token
from core.settings import Settings
from core.temporal import data_converter
from models.case import Actor
from models.enums import Role
from workflows.search import dev_server_flags

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
START_TIMEOUT = 90.0  # a ceiling: a loaded machine starts Python processes slowly
PR_SET_PDEATHSIG = 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def database_url_for(workdir: Path) -> str:
    """The suite's database (PostgreSQL in CI's second pass), else a SQLite file of this test."""
    return os.environ.get("CASES_TEST_DATABASE_URL") or f"sqlite:///{workdir / 'read-model.db'}"


def _die_with_parent() -> None:
    # Linux: the child is killed when the test process dies, however it dies, so no worker or
    # server outlives a cancelled run.
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Proc:
    """One child process with its log file. Signals go to it alone, by its pid."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.argv, self.env, self.log = name, argv, env, log
        self.popen: subprocess.Popen[bytes] | None = None
        self.log_start = 0

    def start(self) -> Self:
        assert not self.running, f"{self.name} is already running"
        self.log_start = len(self.output())  # where this start's output begins
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=out,
                                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          preexec_fn=_die_with_parent)
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

    async def stop(self) -> None:
        """Cleanup: terminate, and kill what does not go in time."""
        try:
            await self.terminate(timeout=10)
        except subprocess.TimeoutExpired:
            await self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


# The dev server's SQLite without an fsync per write: it halves the server's CPU under load.
# A process that stops, however it stops, loses nothing (the OS holds the writes); only a
# machine crash could, and production runs Temporal on PostgreSQL anyway.
FAST_SQLITE = ("journal_mode=wal", "synchronous=off")


class DevServer(Proc):
    """`temporal server start-dev` on free ports, its state in a SQLite file that outlives it."""

    def __init__(self, workdir: Path, port: int | None = None, *, persist: bool = True,
                 pragmas: tuple[str, ...] = FAST_SQLITE) -> None:
        self.port = port or free_port()
        self.port_is_ours = port is None  # a port we picked may be re-picked if it was taken
        self.db_file = workdir / "temporal.db"
        argv = [str(BIN / "temporal"), "server", "start-dev", "--headless",
                "--ip", "127.0.0.1", "--port", str(self.port), "--log-level", "warn"]
        if persist:
            argv += ["--db-filename", str(self.db_file)]
        for pragma in pragmas:
            argv += ["--sqlite-pragma", pragma]
        argv += dev_server_flags()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CASES_")}
        super().__init__("temporal", argv, env, workdir / "temporal.log")

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

    async def ready(self, settings: Settings) -> Client:
        deadline = time.monotonic() + START_TIMEOUT
        restarts = 0
        while True:
            if not self.running and self._start_again_if_a_port_was_taken(restarts):
                restarts += 1
                continue
            assert self.running, f"the dev server exited:\n{self.output()[-2000:]}"
            try:
                client = await Client.connect(self.address, data_converter=data_converter(settings))
                if await client.service_client.check_health():
                    return client
            except RuntimeError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"the dev server did not start:\n{self.output()[-2000:]}")
            await asyncio.sleep(0.2)


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
        base = {k: v for k, v in os.environ.items() if not k.startswith("CASES_")}
        return base | {
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
            self.server = DevServer(self.workdir)
        self.server.start()
        self.client = await self.server.ready(self.settings)
        return self.client

    def worker(self, name: str = "worker") -> "WorkerProc":
        port = free_port()
        proc = WorkerProc(name, [sys.executable, "worker.py"],
                          self.env(CASES_WORKER_METRICS_HOST="127.0.0.1",
                                   CASES_WORKER_METRICS_PORT=str(port)),
                          self.workdir / f"{name}.log", metrics_port=port)
        self.procs.append(proc)
        return proc

    def api(self, name: str = "api") -> "ApiProc":
        port = free_port()
        proc = ApiProc(name, [str(BIN / "uvicorn"), "--factory", "api.main:create_app",
                              "--host", "127.0.0.1", "--port", str(port)],
                       self.env(), self.workdir / f"{name}.log", port=port)
        self.procs.append(proc)
        return proc

    async def start(self, workers: int = 1, apis: int = 1) -> tuple[list["WorkerProc"],
                                                                    list["ApiProc"]]:
        """Start the processes side by side (each takes seconds to import), then wait for all."""
        started_workers = [self.worker(f"worker-{i + 1}").start() for i in range(workers)]
        started_apis = [self.api(f"api-{i + 1}").start() for i in range(apis)]
        await asyncio.gather(*(w.polling(self) for w in started_workers),
                             *(a.healthy() for a in started_apis))
        return started_workers, started_apis

    async def start_worker(self, name: str = "worker") -> "WorkerProc":
        proc = self.worker(name)
        proc.start()
        await proc.polling(self)
        return proc

    async def start_api(self, name: str = "api") -> "ApiProc":
        proc = self.api(name)
        proc.start()
        await proc.healthy()
        return proc

    async def stop(self) -> None:
        await asyncio.gather(*(proc.stop() for proc in self.procs))
        if self.server is not None:
            await self.server.stop()


class WorkerProc(Proc):
    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path,
                 metrics_port: int) -> None:
        super().__init__(name, argv, env, log)
        self.metrics_port = metrics_port

    async def polling(self, stack: Stack) -> None:
        """Wait until this process polls the task queue (its identity is <pid>@<host>)."""
        assert stack.client is not None
        deadline = time.monotonic() + START_TIMEOUT
        request = DescribeTaskQueueRequest(
            namespace=stack.client.namespace, task_queue=TaskQueue(name=stack.task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW)
        while True:
            assert self.running, f"{self.name} exited:\n{self.output()[-3000:]}"
            response = await stack.client.workflow_service.describe_task_queue(request)
            if any(p.identity.startswith(f"{self.pid}@") for p in response.pollers):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} never polled:\n{self.output()[-3000:]}")
            await asyncio.sleep(0.2)

    async def metrics(self) -> str:
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.get(f"http://127.0.0.1:{self.metrics_port}/metrics")
            response.raise_for_status()
            return response.text


class ApiProc(Proc):
    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path,
                 port: int) -> None:
        super().__init__(name, argv, env, log)
        self.port = port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        async with httpx.AsyncClient(base_url=self.url, timeout=2) as http:
            while True:
                assert self.running, f"{self.name} exited:\n{self.output()[-3000:]}"
                try:
                    if (await http.get("/health")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"{self.name} did not start:\n{self.output()[-3000:]}")
                await asyncio.sleep(0.2)


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
