"""Cases whose workflow ended without closing the case: terminated, failed, timed out or
cancelled. Such a case takes no actions (api/errors.py answers them 409 WORKFLOW_ENDED) and no
timer of it fires, so it is stuck until an administrator restores it.

Temporal's visibility lists them; each is recorded as a stuck_alerts row of kind
`workflow_ended` (one per ended run, alert id `workflow_ended:<run id>`), saved by the sweeper
on every sweep and by GET /cases/stuck for the user's area before it answers, so an ended case
is listed at once. The alert is cleared only once the case's workflow is seen running again (or
a later run of it has ended some other way): never because visibility no longer lists the run,
which it stops doing once the namespace's retention has passed.
"""

import asyncio
import logging
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import (
    Client,
    WorkflowExecution,
    WorkflowExecutionStatus,
    WorkflowHistoryEventFilterType,
)
from temporalio.service import RPCError

from models.monitoring import AlertRow, Reason
from readmodel.alerts import upsert_alerts
from readmodel.monitoring import scrub_failure, utc
from workflows import search

log = logging.getLogger("ended_cases")

ENDED_KIND = Reason.WORKFLOW_ENDED.value  # the sweeper records an ended run as its reason
# How a case's workflow ended, when it did not end by closing the case.
ENDED_STATUSES: dict[WorkflowExecutionStatus, str] = {
    WorkflowExecutionStatus.TERMINATED: "terminated",
    WorkflowExecutionStatus.FAILED: "failed",
    WorkflowExecutionStatus.TIMED_OUT: "timed out",
    WorkflowExecutionStatus.CANCELED: "cancelled",
}
ENDED_RUNS = ("WorkflowType = 'CaseWorkflow' AND ExecutionStatus IN "
              "('Terminated', 'Failed', 'TimedOut', 'Canceled')")
# Ids and areas are put into visibility queries only when they hold nothing a query could
# misread (references and areas are letters, digits and hyphens).
_QUOTABLE = re.compile(r"^[\w.:-]+$")
_IDS_PER_QUERY = 100
_CONCURRENT_CALLS = 8

Known = Mapping[tuple[str, str], str | None]  # (reference, alert id) -> the text recorded


def reference_of(workflow_id: str) -> str:
    return workflow_id.removeprefix("case-")[:40]


def alert_id_of(run_id: str) -> str:
    return f"{ENDED_KIND}:{run_id}"


def _run_of(alert_id: str) -> str:
    return alert_id.removeprefix(f"{ENDED_KIND}:")


async def _ended_runs(client: Client, area: str | None) -> list[WorkflowExecution]:
    """Each case workflow's latest run, where that run ended abnormally."""
    if area is not None and not _QUOTABLE.match(area):
        return []
    query = ENDED_RUNS if area is None else f"{ENDED_RUNS} AND CaseArea = '{area}'"
    ended: dict[str, WorkflowExecution] = {}
    async for run in client.list_workflows(query):
        if run.id not in ended or run.start_time > ended[run.id].start_time:
            ended[run.id] = run
    latest = await _latest_runs(client, list(ended)) if ended else {}
    return [run for workflow_id, run in ended.items()
            if latest.get(workflow_id, (run.run_id, run.status)) == (run.run_id, run.status)]


async def _alerts_of(client: Client, runs: list[WorkflowExecution], known: Known,
                     now: datetime | None = None) -> list[AlertRow]:
    """The runs as open alerts (not yet saved); a run's ending is read unless `known` has it."""
    now = now or datetime.now(UTC)
    gate = asyncio.Semaphore(_CONCURRENT_CALLS)

    async def alert(run: WorkflowExecution) -> AlertRow:
        reference, alert_id = reference_of(run.id), alert_id_of(run.run_id)
        if (reference, alert_id) in known:
            text = known[(reference, alert_id)]
        else:
            async with gate:
                text = await _ending_text(client, run)
        sa = run.typed_search_attributes
        state_since = sa.get(search.STATE_SINCE)
        return AlertRow(
            reference=reference, alert_id=alert_id, kind=ENDED_KIND,
            police_area=sa.get(search.CASE_AREA) or "", state=sa.get(search.CASE_STATE),
            state_since=utc(state_since) if state_since else None,
            subject=ENDED_STATUSES[run.status] if run.status else "",
            last_failure=text, first_seen=utc(run.close_time or now), last_seen=now)

    return list(await asyncio.gather(*(alert(run) for run in runs)))


async def _latest_runs(client: Client, workflow_ids: list[str]
                       ) -> dict[str, tuple[str, WorkflowExecutionStatus | None]]:
    """Each workflow's latest run (run id, status): a run that started after the ended one
    (the case restored) decides instead."""
    latest: dict[str, WorkflowExecution] = {}
    quotable = [i for i in workflow_ids if _QUOTABLE.match(i)]
    for start in range(0, len(quotable), _IDS_PER_QUERY):
        ids = ", ".join(f"'{i}'" for i in quotable[start:start + _IDS_PER_QUERY])
        # A continued-as-new run always has a later one.
        async for run in client.list_workflows(
                f"WorkflowId IN ({ids}) AND ExecutionStatus != 'ContinuedAsNew'"):
            if run.id not in latest or run.start_time > latest[run.id].start_time:
                latest[run.id] = run
    return {i: (run.run_id, run.status) for i, run in latest.items()}


async def _ending_text(client: Client, run: WorkflowExecution) -> str | None:
    """What the run's close event says: a termination's reason and details, a failure's
    message, a cancellation's details. Withheld: addresses and phone numbers."""
    handle = client.get_workflow_handle(run.id, run_id=run.run_id)
    try:
        events = [e async for e in handle.fetch_history_events(
            event_filter_type=WorkflowHistoryEventFilterType.CLOSE_EVENT)]
    except RPCError:
        return None
    parts = [part for event in events for part in await _close_parts(client, event)]
    return scrub_failure("; ".join(parts)) if parts else None


async def _close_parts(client: Client, event: HistoryEvent) -> list[str]:
    converter = client.data_converter
    try:
        if event.HasField("workflow_execution_terminated_event_attributes"):
            terminated = event.workflow_execution_terminated_event_attributes
            details = await converter.decode(terminated.details.payloads)
            return [p for p in (terminated.reason, *details) if isinstance(p, str) and p]
        if event.HasField("workflow_execution_failed_event_attributes"):
            error = await converter.decode_failure(
                event.workflow_execution_failed_event_attributes.failure)
            return [(str(error) or type(error).__name__).split("\n", 1)[0]]
        if event.HasField("workflow_execution_canceled_event_attributes"):
            details = await converter.decode(
                event.workflow_execution_canceled_event_attributes.details.payloads)
            return [p for p in details if isinstance(p, str) and p]
    except Exception as err:  # an undecodable text still leaves the case listed as ended
        return [f"(could not be decoded: {type(err).__name__})"]
    return []


async def _no_longer_ended(client: Client, alerts: Iterable[tuple[str, str]]
                           ) -> list[tuple[str, str]]:
    """Of the recorded alerts visibility no longer lists, those whose workflow has moved on:
    a later run (restored), or the run no longer ended. A workflow Temporal no longer holds
    (past retention) stays ended."""
    gate = asyncio.Semaphore(_CONCURRENT_CALLS)

    async def moved_on(reference: str, alert_id: str) -> bool:
        async with gate:
            try:
                described = await client.get_workflow_handle(f"case-{reference}").describe()
            except RPCError:
                return False
        return described.run_id != _run_of(alert_id) or described.status not in ENDED_STATUSES

    alerts = list(alerts)
    flags = await asyncio.gather(*(moved_on(*a) for a in alerts))
    return [a for a, flag in zip(alerts, flags, strict=True) if flag]


def _open_ended(engine: Engine, area: str | None) -> dict[tuple[str, str], str | None]:
    query = select(AlertRow).where(col(AlertRow.kind) == ENDED_KIND,
                                   col(AlertRow.cleared_at).is_(None))
    if area is not None:
        query = query.where(col(AlertRow.police_area) == area)
    with Session(engine) as session:
        return {(a.reference, a.alert_id): a.last_failure for a in session.exec(query)}


def save_ended(engine: Engine, found: list[AlertRow], cleared: Iterable[tuple[str, str]],
               now: datetime | None = None) -> None:
    """Open or refresh the alerts found; clear those whose workflow moved on. Idempotent: a
    repeat (or another writer's save of the same alert) changes nothing but when it was last
    seen."""
    now = now or datetime.now(UTC)
    with Session(engine) as session:
        upsert_alerts(session, found, ("police_area", "state", "state_since", "subject",
                                       "last_failure"), now)
        for ended_key in cleared:
            row = session.get(AlertRow, ended_key)
            if row is not None and row.cleared_at is None:
                row.cleared_at = now
                session.add(row)
        session.commit()


async def record_ended(client: Client, engine: Engine, area: str | None = None,
                       refresh: bool = False) -> list[AlertRow]:
    """Find the ended case workflows (of one police area, or all) and save them as alerts;
    clear the recorded ones whose workflow runs again. Returns the open ones found. Only new
    alerts are written unless `refresh` (the sweeper's) marks every one seen again."""
    known, runs = await asyncio.gather(asyncio.to_thread(_open_ended, engine, area),
                                       _ended_runs(client, area))
    found = await _alerts_of(client, runs, known)
    seen = {(a.reference, a.alert_id) for a in found}
    cleared = await _no_longer_ended(client, [k for k in known if k not in seen])
    save = found if refresh else [a for a in found if (a.reference, a.alert_id) not in known]
    if save or cleared:
        await asyncio.to_thread(save_ended, engine, save, cleared)
    if cleared:
        log.info("ended workflows moved on (restored): %s", ", ".join(r for r, _ in cleared))
    return found
