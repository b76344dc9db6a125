"""A time-skipping server of a module's own, with a worker on it.

The session's time-skipping server is shared: a workflow another test leaves behind with an
activity still pending (on a queue whose worker has gone) stops time from skipping there, and
then a one-day `env.sleep` waits a real day. Tests that sleep past deadlines after such tests
start their own server (about a second) and are immune.
"""

import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from core.temporal import data_converter
from tests.conftest import binary
from worker import build_worker


@asynccontextmanager
async def isolated_skipping(settings: Settings,
                            engine: Engine) -> AsyncIterator[tuple[WorkflowEnvironment, str]]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=binary("temporal-test-server"),
        data_converter=data_converter(settings))
    queue = f"isolated-{uuid.uuid4().hex[:8]}"
    try:
        with ThreadPoolExecutor(max_workers=8) as executor:
            async with build_worker(env.client, settings, engine, executor, task_queue=queue):
                yield env, queue
    finally:
        await env.shutdown()
