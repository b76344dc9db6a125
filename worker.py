"""Runs the worker: every workflow and activity on the case task queue.

SIGTERM and Ctrl-C drain it: in-flight activities finish before it exits.
"""

import asyncio
import logging
import os
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.linking import LinkingActivities
from activities.metrics import ActivityMetrics
from activities.notify import (
    GovUkNotifyNotifier,
    NotificationActivities,
    Notifier,
    OutboxOnly,
    SmtpNotifier,
)
from activities.projection import ReadModelActivities
from activities.spoc_contact import SpocContactActivities
from activities.sweeper import Sweeper, ensure_sweep_schedule
from core import telemetry
from core.db import create_schema, make_engine
from core.logging import configure as configure_logging
from core.schedules import ensure_spoc_contact_schedule
from core.settings import Settings, get_settings
from core.temporal import connect
from workflows.case import CaseWorkflow
from workflows.spoc_contact import SpocContactWorkflow
from workflows.sweep import StuckCaseSweep

log = logging.getLogger("worker")


def make_notifier(settings: Settings) -> Notifier:
    if settings.notifier == "smtp":
        return SmtpNotifier(settings.smtp_host, settings.smtp_port, settings.smtp_sender)
    if settings.notifier == "notify":
        assert settings.notify_api_key and settings.notify_email_template \
            and settings.notify_sms_template, "GOV.UK Notify needs a key and two templates"
        return GovUkNotifyNotifier(settings.notify_api_key, settings.notify_email_template,
                                   settings.notify_sms_template)
    return OutboxOnly()


def workflow_runner() -> SandboxedWorkflowRunner:
    # The bank-holiday calendar reads the clock once at import (dateutil) and loads countries
    # lazily: it passes through the sandbox. Its answers are pure data, the same on replay.
    # Every module passes through (imported once, shared by all runs): re-importing the workflow
    # modules for each cached run cost about 250 KB per open case (bench: 380 KB a cached case
    # sandboxed, 126 KB passed through), which put a worker with its 1,000-run cache past 400 MB.
    # The sandbox still refuses non-deterministic calls (time, random, I/O) from workflow code;
    # our workflow modules keep no module-level state, which is what passing through relies on.
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules("holidays", "dateutil")
        .with_passthrough_all_modules())


def activities(client: Client, settings: Settings, engine: Engine) -> list[Callable[..., Any]]:
    """An implementation of each of workflows/activity_contracts.py's contracts."""
    read_model = ReadModelActivities(engine)
    notifications = NotificationActivities(engine, make_notifier(settings),
                                           settings.staff_email_domain)
    return [read_model.project_case, read_model.history_versions_missing, notifications.send,
            LinkingActivities(engine).find, SpocContactActivities(engine).area_figures,
            Sweeper(client, engine, settings).sweep_activity]


def build_worker(client: Client, settings: Settings, engine: Engine,
                 executor: ThreadPoolExecutor, task_queue: str | None = None,
                 **worker_options: Any) -> Worker:
    return Worker(
        client,
        task_queue=task_queue or settings.task_queue,
        workflows=[CaseWorkflow, SpocContactWorkflow, StuckCaseSweep],
        workflow_runner=workflow_runner(),
        activities=activities(client, settings, engine),
        activity_executor=executor,
        max_concurrent_activities=executor._max_workers,
        interceptors=[ActivityMetrics(), *worker_options.pop("interceptors", ())],
        graceful_shutdown_timeout=timedelta(seconds=20),
        **worker_options,
    )


async def main() -> None:
    settings = get_settings()
    configure_logging("worker", settings.log_level)
    # Before the client connects: the client's runtime forwards core logs and serves metrics.
    telemetry.install(f"{settings.worker_metrics_host}:{settings.worker_metrics_port}"
                      if settings.worker_metrics_port else None)
    engine = make_engine(settings.database_url)
    create_schema(engine)
    client = await connect(settings)
    for area in settings.areas:  # P4.1: each area's monthly SPOC contact
        await ensure_spoc_contact_schedule(client, area, settings.task_queue)
    await ensure_sweep_schedule(client, settings)  # stuck cases: failing activities and tasks
    with ThreadPoolExecutor(max_workers=32) as executor:
        worker = build_worker(client, settings, engine, executor,
                              max_concurrent_workflow_tasks=settings.worker_workflow_slots)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        async with worker:
            log.info("worker polling %s", settings.task_queue)
            await stop.wait()
            log.info("draining")
    log.info("drained")


if __name__ == "__main__":
    asyncio.run(main())
    # Drained and flushed: leave without the interpreter's finalization, during which the
    # SDK's native threads can still be releasing the runtime (a crash there, SIGABRT, would
    # report a clean drain as a failure).
    logging.shutdown()
    os._exit(0)
