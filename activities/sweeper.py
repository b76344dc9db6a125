"""The stuck-case sweeper: finds running case workflows whose activities or workflow tasks
keep failing, and records them in stuck_alerts for the managers' stuck list.

Why a sweeper: a failing projection cannot record its own failure (the database it writes to
is usually what fails), and a failing workflow task runs no code of ours at all. Temporal
knows both: describe() gives each pending activity's attempts and last failure, and the
pending workflow task's attempts. (Server 1.32 can also set the TemporalReportedProblems search
attribute, but only where its dynamic config enables it: the dev server left it unset after
40 failed attempts when checked, so the attempts are what we rely on, and the attribute's text
is kept when present.) The sweep runs from a Temporal Schedule
(workflows/sweep.py) every CASES_SWEEP_INTERVAL_SECONDS; the stuck list then reads the table,
never the workflows one by one.

Each sweep also records the case workflows that ended without closing their case (terminated,
failed, timed out, cancelled: core/ended_cases.py). Those alerts are not cleared for being
unseen among the running cases: only once the case's workflow runs again.
"""

import asyncio
import logging
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.api.failure.v1 import Failure
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    WorkflowExecutionDescription,
)
from temporalio.common import SearchAttributeKey
from temporalio.service import RPCError

from core.ended_cases import ENDED_KIND, record_ended
from core.settings import Settings
from models.monitoring import AlertRow, Reason
from readmodel.alerts import upsert_alerts
from readmodel.monitoring import scrub_failure
from workflows import activity_contracts as contracts
from workflows import search
from workflows.activity_contracts import implements
from workflows.sweep import SWEEP_WORKFLOW

log = logging.getLogger("sweeper")
RUNNING_CASES = "WorkflowType = 'CaseWorkflow' AND ExecutionStatus = 'Running'"
SCHEDULE_ID = "stuck-case-sweep"
CONCURRENT_DESCRIBES = 8
# What the server keeps instead of a failure over its size limit (4 KB by default).
SIZE_LIMIT_PLACEHOLDER = "Failure exceeds size limit."
# Set by the server (1.28+) on a workflow whose tasks keep failing.
REPORTED_PROBLEMS = SearchAttributeKey.for_keyword_list("TemporalReportedProblems")


def _reference(workflow_id: str) -> str:
    return workflow_id.removeprefix("case-")[:40]


def _first_line(text: str) -> str:
    # Database errors quote the statement and its parameters: keep only what went wrong.
    return text.split("\n", 1)[0].split("[SQL:", 1)[0].strip()


class Sweeper:
    def __init__(self, client: Client, engine: Engine, settings: Settings) -> None:
        self._client, self._engine, self._settings = client, engine, settings

    async def _failure_text(self, failure: Failure) -> str:
        """The failure's message, decrypted (failure texts travel encrypted, core/temporal.py)."""
        try:
            error = await self._client.data_converter.decode_failure(failure)
            text = str(error) or type(error).__name__
        except Exception as err:  # an undecodable failure still counts as a failure
            text = f"(failure could not be decoded: {type(err).__name__})"
        if text == SIZE_LIMIT_PLACEHOLDER:
            text = "the failure was too large for Temporal to keep; see the worker's log"
        return scrub_failure(_first_line(text)) or ""

    async def _alerts_of(self, desc: WorkflowExecutionDescription) -> list[AlertRow]:
        """What is going wrong in one workflow, as alert rows (not yet saved)."""
        now, threshold = datetime.now(UTC), self._settings.stuck_activity_attempts
        sa = desc.typed_search_attributes
        base: dict[str, Any] = {
            "reference": _reference(desc.id), "police_area": sa.get(search.CASE_AREA) or "",
            "state": sa.get(search.CASE_STATE), "state_since": sa.get(search.STATE_SINCE),
            "first_seen": now, "last_seen": now}
        raw = desc.raw_description
        found = []
        for pending in raw.pending_activities:
            if pending.attempt >= threshold and pending.HasField("last_failure"):
                name = pending.activity_type.name
                found.append(AlertRow(**base, alert_id=f"activity:{name}"[:200],
                                      kind=Reason.FAILING_ACTIVITY.value, subject=name[:100],
                                      attempts=pending.attempt,
                                      last_failure=await self._failure_text(pending.last_failure)))
        task_attempts = raw.pending_workflow_task.attempt if raw.HasField("pending_workflow_task") \
            else 0
        problems = sa.get(REPORTED_PROBLEMS) or []
        if task_attempts >= threshold or problems:
            found.append(AlertRow(**base, alert_id="workflow_task",
                                  kind=Reason.FAILING_WORKFLOW_TASK.value,
                                  attempts=task_attempts, last_failure=scrub_failure(
                                      "; ".join(str(p) for p in problems) or None)))
        return found

    async def _describe(self, workflow_id: str, run_id: str | None,
                        gate: asyncio.Semaphore) -> list[AlertRow]:
        async with gate:
            try:
                desc = await self._client.get_workflow_handle(workflow_id, run_id=run_id).describe()
            except RPCError:  # closed or gone since it was listed: nothing to report
                return []
            return await self._alerts_of(desc)

    async def sweep(self) -> int:
        """Sweep every running case once, and every case whose workflow ended without closing
        it; returns how many alerts are open afterwards."""
        gate = asyncio.Semaphore(CONCURRENT_DESCRIBES)
        tasks = [self._describe(wf.id, wf.run_id, gate)
                 async for wf in self._client.list_workflows(RUNNING_CASES)]
        alerts = [a for found in await asyncio.gather(*tasks) for a in found]
        ended = await record_ended(self._client, self._engine, refresh=True)
        return await asyncio.to_thread(self._save, alerts, len(ended))

    def _save(self, alerts: list[AlertRow], ended: int = 0) -> int:
        """Open or refresh what was seen; clear what was not seen this time (an ended
        workflow's alert is record_ended's to clear)."""
        now = datetime.now(UTC)
        seen = {(a.reference, a.alert_id) for a in alerts}
        with Session(self._engine) as session:
            upsert_alerts(session, alerts, ("police_area", "state", "state_since", "attempts",
                                            "last_failure"), now)
            for row in session.exec(select(AlertRow).where(col(AlertRow.cleared_at).is_(None),
                                                           col(AlertRow.kind) != ENDED_KIND)):
                if (row.reference, row.alert_id) not in seen:
                    row.cleared_at = now
                    session.add(row)
            session.commit()
        log.info("sweep: %d open alert(s), %d ended workflow(s)", len(seen), ended)
        return len(seen) + ended

    @implements(contracts.sweep_stuck_cases)
    async def sweep_activity(self) -> int:
        return await self.sweep()


async def ensure_sweep_schedule(client: Client, settings: Settings,
                                schedule_id: str = SCHEDULE_ID) -> str:
    """Create the sweeper's schedule if it is missing (it outlives deploys)."""
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(SWEEP_WORKFLOW, id=schedule_id,
                                           task_queue=settings.task_queue),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(
            every=timedelta(seconds=settings.sweep_interval_seconds))]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP))
    with suppress(ScheduleAlreadyRunningError):
        await client.create_schedule(schedule_id, schedule)
    return schedule_id
