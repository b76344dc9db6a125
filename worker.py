"""Runs the worker: every workflow and activity on the case task queue.

SIGTERM and Ctrl-C drain it: in-flight activities finish before it exits.
"""

import asyncio
import logging
import signal
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.worker import Worker

from activities.projection import ReadModelActivities
from core.db import create_schema, make_engine
from core.settings import Settings, get_settings
from core.temporal import connect
from workflows.case import CaseWorkflow

log = logging.getLogger("worker")


def build_worker(client: Client, settings: Settings, engine: Engine,
                 executor: ThreadPoolExecutor, task_queue: str | None = None) -> Worker:
    read_model = ReadModelActivities(engine)
    return Worker(
        client,
        task_queue=task_queue or settings.task_queue,
        workflows=[CaseWorkflow],
        activities=[read_model.project_case],
        activity_executor=executor,
        max_concurrent_activities=executor._max_workers,
        graceful_shutdown_timeout=timedelta(seconds=20),
    )


async def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = get_settings()
    engine = make_engine(settings.database_url)
    create_schema(engine)
    client = await connect(settings)
    with ThreadPoolExecutor(max_workers=32) as executor:
        worker = build_worker(client, settings, engine, executor)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        async with worker:
            log.info("worker polling %s", settings.task_queue)
            await stop.wait()
            log.info("draining")


if __name__ == "__main__":
    asyncio.run(main())
