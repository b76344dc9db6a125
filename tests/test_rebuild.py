"""`cases-admin rebuild-read-model`: the read model rebuilt from the workflows equals the live one.

The cases live in an area of their own, so the rebuild (narrowed to that area) and the wiping
touch no other test's rows.
"""

import asyncio
import os
import sys
import uuid
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, delete, select
from temporalio.client import Client

from core.settings import Settings
from models.actions import CaseWorkflowInput, NewCase
from models.tables import CaseRow, HistoryRow, SuspectRow
from readmodel.rebuild import CASE_WORKFLOWS, rebuild_read_model
from tests.api_steps import Handler, new_case_body, new_reference
from tests.conftest import eventually
from workflows.case import CaseWorkflow, case_workflow_id

OFFICER, PROSECUTOR = "officer_in_case", "prosecutor"
ADMIN_COMMAND = Path(sys.executable).parent / "cases-admin"


def rows(engine: Engine, references: set[str]) -> dict[str, Any]:
    """Every read-model row of these cases, without updated_at (the time it was written)."""
    with Session(engine) as session:
        cases = session.exec(select(CaseRow).where(col(CaseRow.reference).in_(references)))
        history = session.exec(select(HistoryRow).where(col(HistoryRow.reference).in_(references)))
        suspects = session.exec(select(SuspectRow).where(col(SuspectRow.reference).in_(references)))
        return {
            "cases": {c.reference: c.model_dump(exclude={"updated_at"}) for c in cases},
            "history": {(h.reference, h.version): h.model_dump() for h in history},
            "suspects": {(s.reference, s.suspect_id): s.model_dump() for s in suspects},
        }


def wipe(engine: Engine, references: set[str]) -> None:
    """Everything projected from the workflows' facts. The history is the read model's own
    record (the workflows keep only what it has not yet confirmed): it is never wiped."""
    with Session(engine) as session:
        session.exec(delete(SuspectRow).where(col(SuspectRow.reference).in_(references)))
        session.exec(delete(CaseRow).where(col(CaseRow.reference).in_(references)))
        session.commit()


async def projected(engine: Engine, client: Client, reference: str) -> bool:
    """The read model holds the version the workflow is at."""
    case = await client.get_workflow_handle(case_workflow_id(reference)).query(CaseWorkflow.snapshot)
    with Session(engine) as session:
        row = session.get(CaseRow, reference)
        return row is not None and row.version == case.version


async def listed(client: Client, query: str) -> set[str]:
    return {w.id async for w in client.list_workflows(query)}


@pytest.fixture(scope="module")
async def area_cases(api: Any, auth: Any, client: Client, engine: Engine,
                     settings: Settings) -> tuple[str, set[str]]:
    """Cases in an area of their own: charged, closed (workflow completed), an order with its
    breach case, and one continued as new; all projected and visible."""
    area = f"rb-{uuid.uuid4().hex[:8]}"

    async def opened(prefix: str) -> Handler:
        handler = Handler(api, auth, new_reference(prefix), area=area)
        assert (await handler.open()).status_code == 201
        return handler

    charged = await opened("RBC")
    await charged.to_charging()
    await charged.act(PROSECUTOR, "make_charging_decision", action_plan=[
        {"item_id": "AP1", "description": "Phone download", "due_on": "2031-01-15"}])

    closed = await opened("RBN")
    await closed.to_charging()
    await closed.act(PROSECUTOR, "make_charging_decision", decision="no_further_action",
                     charges=[], action_plan=[], reasons="Evidential test not met.")
    await closed.act(OFFICER, "record_complainant_informed", complainant_id="C1",
                     topic="victims_right_to_review")
    await client.get_workflow_handle(case_workflow_id(closed.reference)).result()

    ordered = await opened("RBO")
    await ordered.to_restraining_order()
    await ordered.act(PROSECUTOR, "make_restraining_order", orders=[
        {"protected_person_id": "C1", "conditions": ["no contact"], "made_on": "2026-11-20"}])
    breach_reference = new_reference("RBB")
    await ordered.act(OFFICER, "report_order_breach", order_id=f"{ordered.reference}-RO1",
                      breach_reference=breach_reference, description="Seen at the house.",
                      new_offences=[])

    # Started directly, as only a test may: a tiny history limit makes it continue as new.
    renewed = Handler(api, auth, new_reference("RBR"), area=area)
    handle = await client.start_workflow(
        CaseWorkflow.run, CaseWorkflowInput(
            new_case=NewCase.model_validate(new_case_body(renewed.reference, area=area)),
            max_history_events=20),
        id=case_workflow_id(renewed.reference), task_queue=settings.task_queue)
    for day in range(1, 5):
        await renewed.act(OFFICER, "record_new_incident", description=f"Calls on day {day}.")
    await eventually(lambda: _renewed(handle), timeout=20)

    references = {charged.reference, closed.reference, ordered.reference, breach_reference,
                  renewed.reference}
    for reference in references:
        await eventually(partial(projected, engine, client, reference), timeout=20)
    ids = {case_workflow_id(r) for r in references}
    await eventually(lambda: _all_listed(client, area, ids), timeout=20)
    return area, references


async def _renewed(handle: Any) -> bool:
    return (await handle.describe()).run_id != handle.first_execution_run_id


async def _all_listed(client: Client, area: str, ids: set[str]) -> bool:
    return await listed(client, f"{CASE_WORKFLOWS} AND CaseArea='{area}'") == ids


async def test_rebuild_command_restores_wiped_rows_equal_to_the_live_read_model(
        area_cases: tuple[str, set[str]], client: Client, engine: Engine,
        settings: Settings) -> None:
    area, references = area_cases
    live = rows(engine, references)
    assert set(live["cases"]) == references
    assert any(c["state"] == "closed" for c in live["cases"].values())
    assert live["suspects"], "the suspect index (P3.8) is part of the projection"
    wipe(engine, references)
    assert rows(engine, references) == {"cases": {}, "history": live["history"], "suspects": {}}

    # The operator's command, in its own process; this process's worker answers its queries.
    env = os.environ | {"CASES_TEMPORAL_ADDRESS": client.service_client.config.target_host,
                        "CASES_DATABASE_URL": settings.database_url}
    process = await asyncio.create_subprocess_exec(
        str(ADMIN_COMMAND), "rebuild-read-model", "--filter", f"CaseArea='{area}'", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    assert f"rebuilt {len(references)} cases" in out.decode()

    rebuilt = rows(engine, references)
    assert rebuilt == live
    print(f"rebuilt {len(rebuilt['cases'])} cases, {len(rebuilt['history'])} history rows and "
          f"{len(rebuilt['suspects'])} suspect rows; equal to the live read model")


async def test_rebuild_repairs_a_damaged_row_and_keeps_one_already_ahead(
        area_cases: tuple[str, set[str]], client: Client, engine: Engine) -> None:
    """Unlike the projection (which never rewrites a version it has), a rebuild replaces what
    the workflow holds; but never a row the live projection has since moved past."""
    area, references = area_cases
    live = rows(engine, references)
    damaged, ahead = sorted(references)[:2]
    with Session(engine) as session:
        damaged_row = session.get(CaseRow, damaged)
        ahead_row = session.get(CaseRow, ahead)
        assert damaged_row is not None and ahead_row is not None
        damaged_row.state = "lost"
        ahead_row.version += 100
        session.add_all([damaged_row, ahead_row])
        session.commit()

    report = await rebuild_read_model(client, engine, f"{CASE_WORKFLOWS} AND CaseArea='{area}'")

    assert report.ahead == [ahead] and not report.failed
    assert sorted(report.rebuilt) == sorted(references - {ahead})
    after = rows(engine, references)
    assert after["cases"][damaged] == live["cases"][damaged]
    assert after["history"] == live["history"]
    assert after["cases"][ahead]["version"] == live["cases"][ahead]["version"] + 100
    with Session(engine) as session:  # put it back for any later reader
        row = session.get(CaseRow, ahead)
        assert row is not None
        row.version -= 100
        session.add(row)
        session.commit()
