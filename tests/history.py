"""A case's whole history as the service holds it: the read model's entries and those the
workflow has not yet seen confirmed there (what GET /cases/{reference}/history pages through)."""

from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.client import Client

from models.case import HistoryEntry
from readmodel.history import history_page, with_pending
from workflows.case import CaseWorkflow, case_workflow_id


async def case_history(client: Client, engine: Engine, reference: str) -> list[HistoryEntry]:
    pending = await client.get_workflow_handle(case_workflow_id(reference)).query(
        CaseWorkflow.unprojected)
    with Session(engine) as session:
        stored = history_page(session, reference, 0, 1_000_000)
    return with_pending(stored, pending, 0, 1_000_000)[0]
