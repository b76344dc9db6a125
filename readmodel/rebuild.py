"""Rebuild the read model from the workflows: `cases-admin rebuild-read-model`.

The workflows hold the truth of each case's facts; the read model projects them. Each case's
latest run is asked for its `case` snapshot and the history entries it has not yet seen
confirmed (queries answer on closed workflows too, while a worker polls the task queue), and
its rows are rewritten with the functions the projection activity uses, so a rebuilt row is
exactly what the live projection would have written. The history log itself lives only in the
read model (workflows keep just what is not yet confirmed there): it is kept, never deleted,
and the entries the workflow still holds are added to it.

Only cases Temporal still holds are rebuilt: closed workflows past the namespace's retention
period are gone from Temporal, and their rows are left as they are.
"""

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.client import Client, WorkflowQueryFailedError, WorkflowQueryRejectedError
from temporalio.service import RPCError

from core.db import lock_case
from models.case import CaseFile, HistoryEntry
from models.tables import CaseRow
from readmodel.projection import write_case, write_entries
from workflows.case import CaseWorkflow

CASE_WORKFLOWS = "WorkflowType='CaseWorkflow'"
QUERY_TIMEOUT = timedelta(seconds=30)


@dataclass
class RebuildReport:
    rebuilt: list[str] = field(default_factory=list)
    # The live projection had already written a newer version: that row is kept.
    ahead: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # workflow id -> why


def replace_case(session: Session, case: CaseFile, entries: list[HistoryEntry]) -> bool:
    """Replace the case's row with this snapshot, unless the live projection is ahead of it;
    add the history entries the read model lacks."""
    lock_case(session, case.reference)
    existing = session.get(CaseRow, case.reference)
    if existing is not None and existing.version > case.version:
        write_entries(session, case.reference, entries)
        return False
    if existing is not None:
        session.delete(existing)
        session.flush()
    write_case(session, case, entries)
    return True


async def rebuild_read_model(client: Client, engine: Engine, query: str = CASE_WORKFLOWS,
                             concurrency: int = 16) -> RebuildReport:
    """Rewrite the rows of every case workflow that `query` lists (all of them by default)."""
    report = RebuildReport()
    limit = asyncio.Semaphore(concurrency)

    async def rebuild(workflow_id: str) -> None:
        async with limit:
            try:
                # No run id: the latest run, past any continue-as-new.
                handle = client.get_workflow_handle(workflow_id)
                case = await handle.query(CaseWorkflow.snapshot, rpc_timeout=QUERY_TIMEOUT)
                entries = await handle.query(CaseWorkflow.unprojected, rpc_timeout=QUERY_TIMEOUT)
            except (RPCError, WorkflowQueryFailedError, WorkflowQueryRejectedError) as err:
                report.failed[workflow_id] = str(err)
                return
            replaced = await asyncio.to_thread(write, case, entries)
            (report.rebuilt if replaced else report.ahead).append(case.reference)

    def write(case: CaseFile, entries: list[HistoryEntry]) -> bool:
        with Session(engine) as session:
            replaced = replace_case(session, case, entries)
            session.commit()
        return replaced

    seen: set[str] = set()
    tasks: list[asyncio.Task[None]] = []
    # Every run is listed, including those closed by continue-as-new: one rebuild per case.
    async for execution in client.list_workflows(query):
        if execution.id not in seen:
            seen.add(execution.id)
            tasks.append(asyncio.create_task(rebuild(execution.id)))
    await asyncio.gather(*tasks)
    return report
