"""Shared fixtures: a real Temporal dev server, a real worker, a real database, the API.

The read model runs on SQLite by default; set CASES_TEST_DATABASE_URL (as CI does) to run the
same suite on PostgreSQL. Each test module gets its own task queue through the worker fixture.
"""

import asyncio
import os
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import SQLModel
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from core.db import create_schema, make_engine
from core.security import issue_token
from core.settings import Settings
from core.temporal import data_converter
from models.case import Actor
from models.enums import Role
from worker import build_worker
from workflows.search import ALL_KEYS

BIN = Path(sys.executable).parent


def binary(name: str) -> str:
    found = shutil.which(name, path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if found is None:
        raise RuntimeError(f"{name} not found: install the project (make test does)")
    return found


def test_database_url(tmp_dir: Path) -> str:
    return os.environ.get("CASES_TEST_DATABASE_URL") or f"sqlite:///{tmp_dir / 'read-model.db'}"


@pytest.fixture(scope="session")
def tmp_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cases")


@pytest.fixture(scope="session")
def engine(tmp_dir: Path) -> Iterator[Engine]:
    engine = make_engine(test_database_url(tmp_dir))
    SQLModel.metadata.drop_all(engine)
    create_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
async def dev_env(settings: Settings) -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=binary("temporal"),
        search_attributes=ALL_KEYS,
        data_converter=data_converter(settings),
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
def task_queue() -> str:
    return f"cases-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def settings(tmp_dir: Path, task_queue: str) -> Settings:
    # A short backstop: tests that watch the workflow's own projection need not wait 30 s.
    # Every in-process request comes from one client address: the per-address sign-in limit
    # would otherwise be reached by the suite's own wrong passwords (tests/test_tokens.py
    # tests the limit with settings of its own).
    return Settings(task_queue=task_queue, database_url=test_database_url(tmp_dir),
                    projection_backstop_seconds=1, login_attempts_per_address=1_000_000)


@pytest.fixture(scope="session")
async def worker(dev_env: WorkflowEnvironment, settings: Settings,
                 engine: Engine) -> AsyncIterator[None]:
    with ThreadPoolExecutor(max_workers=16) as executor:
        async with build_worker(dev_env.client, settings, engine, executor):
            yield


@pytest.fixture(scope="session")
def client(dev_env: WorkflowEnvironment) -> Client:
    return dev_env.client


@pytest.fixture(scope="session")
async def api(worker: None, client: Client, settings: Settings,
              engine: Engine) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, client, engine)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cases.test",
                                 timeout=30) as http:
        yield http


@pytest.fixture(scope="session")
def auth(settings: Settings) -> Callable[..., dict[str, str]]:
    """Headers with a bearer token for a role in an area: auth("prosecutor")."""

    def headers(role: str | Role, area: str = "north", user: str | None = None) -> dict[str, str]:
        actor = Actor(user_id=user or f"{role}-{area}", role=Role(role), area=area)
        return {"Authorization": f"Bearer {issue_token(settings, actor)}"}

    return headers


async def eventually(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Poll until check() returns something truthy: projections and visibility lag a little."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


@pytest.fixture(scope="session")
async def skipping_env(settings: Settings) -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server: env.sleep(timedelta(days=30)) returns at once."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=binary("temporal-test-server"),
        data_converter=data_converter(settings),
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def skipping_worker(skipping_env: WorkflowEnvironment, settings: Settings,
                          engine: Engine) -> AsyncIterator[str]:
    """A worker on the time-skipping server; yields its task queue."""
    queue = f"cases-skipping-{uuid.uuid4().hex[:8]}"
    with ThreadPoolExecutor(max_workers=8) as executor:
        async with build_worker(skipping_env.client, settings, engine, executor, task_queue=queue):
            yield queue


# What a test needs decides its mark: `pure` tests use no server, database or process and run
# in seconds (`make test-fast`); the rest are marked `services`.
SERVICE_FIXTURES = frozenset({
    "dev_env", "client", "worker", "api", "engine", "skipping_env", "skipping_worker",
    "settings", "tmp_dir", "stack", "oidc_api", "managers",
})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        needs = set(getattr(item, "fixturenames", ())) & SERVICE_FIXTURES
        item.add_marker(pytest.mark.services if needs or item.get_closest_marker("asyncio")
                        else pytest.mark.pure)
