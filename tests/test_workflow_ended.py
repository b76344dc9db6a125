"""A case whose workflow ended without closing it (terminated, failed, timed out, cancelled) is
on its area's stuck list at once, with how it ended, until its workflow runs again; an action on
it is refused 409 WORKFLOW_ENDED, never as a closed case. A case closed normally is not listed.

Visibility lags a little behind a workflow's end: the lists are polled with a deadline.
"""

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import Session, col, select
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.worker import Worker

from activities.sweeper import Sweeper
from api.routes import stuck as stuck_route
from core.ended_cases import ENDED_KIND
from models.monitoring import AlertRow
from tests.api_steps import Handler, new_reference
from tests.conftest import eventually
from tests.ending_workflow import EndingCaseWorkflow
from workflows import search
from workflows.case import case_workflow_id

pytestmark = pytest.mark.asyncio
PROSECUTOR, OFFICER = "prosecutor", "officer_in_case"


def new_area() -> str:
    return f"end-{uuid.uuid4().hex[:6]}"


async def stuck(http: httpx.AsyncClient, auth: Any, area: str, **params: Any) -> dict[str, Any]:
    response = await http.get("/cases/stuck", params=params, headers=auth("manager", area=area))
    assert response.status_code == 200, response.text
    return response.json()


def item(listing: dict[str, Any], reference: str) -> dict[str, Any] | None:
    return next((i for i in listing["items"] if i["reference"] == reference), None)


def ended_reason(entry: dict[str, Any] | None) -> dict[str, Any] | None:
    return next((r for r in entry["reasons"] if r["reason"] == "workflow_ended"), None) \
        if entry else None


async def listed_as_ended(http: httpx.AsyncClient, auth: Any, area: str,
                          reference: str) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        entry = item(await stuck(http, auth, area), reference)
        return entry if ended_reason(entry) else None

    return await eventually(check, timeout=15)


def open_ended_alerts(engine: Any, reference: str) -> list[AlertRow]:
    with Session(engine) as session:
        return list(session.exec(select(AlertRow).where(
            col(AlertRow.reference) == reference, col(AlertRow.kind) == ENDED_KIND,
            col(AlertRow.cleared_at).is_(None))))


async def restore(client: Client, reference: str) -> None:
    """What an administrator does: reset the ended run to its first workflow task."""
    handle = client.get_workflow_handle(case_workflow_id(reference))
    described = await handle.describe()
    completed = [e.event_id async for e in handle.fetch_history_events()
                 if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED]
    await client.workflow_service.reset_workflow_execution(ResetWorkflowExecutionRequest(
        namespace=client.namespace, reason="restored by an administrator",
        workflow_execution=WorkflowExecution(workflow_id=handle.id, run_id=described.run_id),
        workflow_task_finish_event_id=completed[0], request_id=str(uuid.uuid4())))


async def test_a_terminated_case_is_on_the_stuck_list_at_once_and_refuses_actions(
        api, auth, client, engine):
    area = new_area()
    case = Handler(api, auth, new_reference("END"), area=area)
    assert (await case.open()).status_code == 201
    assert item(await stuck(api, auth, area), case.reference) is None  # running and fresh
    await client.get_workflow_handle(case_workflow_id(case.reference)).terminate(
        "test", reason="moved to the archive by mistake")

    # No sweep: the list itself looked the area's ended workflows up.
    entry = await listed_as_ended(api, auth, area, case.reference)
    assert [r["reason"] for r in entry["reasons"]] == ["workflow_ended"]
    reason = entry["reasons"][0]
    assert reason["detail"] == "workflow terminated: moved to the archive by mistake; test"
    assert reason["since"] is not None
    assert entry["state"] == "investigation" and entry["owner_role"] == "admin"
    only = await stuck(api, auth, area, reason="workflow_ended")
    assert [i["reference"] for i in only["items"]] == [case.reference]
    assert item(await stuck(api, auth, area, reason="failing_activity"), case.reference) is None
    assert item(await stuck(api, auth, area, owner="admin"), case.reference) is not None
    # Listed again and again: one alert, not one per request.
    await stuck(api, auth, area)
    assert len(open_ended_alerts(engine, case.reference)) == 1

    refused = await case.act(OFFICER, "record_new_incident", expect=409)
    assert refused["detail"]["rule"] == "WORKFLOW_ENDED", refused
    assert "terminated" in refused["detail"]["message"]
    assert "closed" not in refused["detail"]["message"]
    # Another area is told nothing of it: the 404 of an unknown case.
    elsewhere = await api.post(f"/cases/{case.reference}/actions",
                               json={"action": {"kind": "record_new_incident",
                                                "description": "calls overnight"}},
                               headers=auth(OFFICER, area=new_area()))
    assert elsewhere.status_code == 404, elsewhere.text


async def test_an_ended_case_stays_listed_through_sweeps_until_it_runs_again(
        api, auth, client, engine, settings):
    area = new_area()
    case = Handler(api, auth, new_reference("SWEPT"), area=area)
    assert (await case.open()).status_code == 201
    await case.act(OFFICER, "record_new_incident")
    handle = client.get_workflow_handle(case_workflow_id(case.reference))
    await handle.terminate(reason="operator error")
    sweeper = Sweeper(client, engine, settings)

    async def swept() -> list[AlertRow]:
        await sweeper.sweep()
        return open_ended_alerts(engine, case.reference)

    # The sweep records it too, in every area, and a sweep never clears it for not running.
    recorded = await eventually(swept, timeout=15)
    assert recorded[0].subject == "terminated" and recorded[0].police_area == area
    await sweeper.sweep()
    assert [a.alert_id for a in open_ended_alerts(engine, case.reference)] == \
        [recorded[0].alert_id]
    assert ended_reason(item(await stuck(api, auth, area), case.reference)) is not None

    await restore(client, case.reference)

    async def off_the_list() -> bool:
        entry = item(await stuck(api, auth, area), case.reference)
        return ended_reason(entry) is None and not open_ended_alerts(engine, case.reference)

    await eventually(off_the_list, timeout=15)
    await sweeper.sweep()  # running again: nothing to record
    assert not open_ended_alerts(engine, case.reference)
    assert (await case.act(OFFICER, "record_new_incident"))["state"] == "investigation"
    await handle.terminate("test over")


async def test_failed_timed_out_and_cancelled_workflows_are_listed_with_how_they_ended(
        api, auth, client):
    area, queue = new_area(), f"ending-{uuid.uuid4().hex[:8]}"
    attributes = TypedSearchAttributes([SearchAttributePair(search.CASE_AREA, area),
                                        SearchAttributePair(search.CASE_STATE, "charging")])
    references = {how: new_reference(how.upper()[:4]) for how in ("failed", "timed", "cancelled")}

    async def start(how: str, start: dict[str, Any], **options: Any) -> Any:
        return await client.start_workflow(
            "CaseWorkflow", start, id=case_workflow_id(references[how]), task_queue=queue,
            search_attributes=attributes, **options)

    async with Worker(client, task_queue=queue, workflows=[EndingCaseWorkflow]):
        failed = await start("failed", {"fail": "the disk is full; ring 07700 900123"})
        timed = await start("timed", {}, execution_timeout=timedelta(seconds=1))
        cancelled = await start("cancelled", {})
        await cancelled.cancel()
        for handle in (failed, timed, cancelled):
            with pytest.raises(WorkflowFailureError):
                await asyncio.wait_for(handle.result(), 30)

    details = {}
    for how, reference in references.items():
        entry = await listed_as_ended(api, auth, area, reference)
        assert entry["state"] == "charging"  # no case row: from its search attributes
        details[how] = ended_reason(entry)["detail"]  # type: ignore[index]
    assert details == {"failed": "workflow failed: the disk is full; ring [number]",
                       "timed": "workflow timed out", "cancelled": "workflow cancelled"}


async def test_a_case_closed_as_the_protocol_closes_it_is_not_listed_as_ended(
        api, auth, client):
    area = new_area()
    case = Handler(api, auth, new_reference("CLOSED"), area=area)
    assert (await case.open()).status_code == 201
    await case.to_charging()
    await case.act(PROSECUTOR, "make_charging_decision", decision="no_further_action",
                   charges=[], action_plan=[], reasons="Evidential test not met.")
    await case.act(OFFICER, "record_complainant_informed", complainant_id="C1",
                   topic="victims_right_to_review")
    workflow_id = case_workflow_id(case.reference)
    await asyncio.wait_for(client.get_workflow_handle(workflow_id).result(), 30)

    async def visibly_completed() -> bool:
        return bool([w async for w in client.list_workflows(
            f"WorkflowId = '{workflow_id}' AND ExecutionStatus = 'Completed'")])

    await eventually(visibly_completed, timeout=15)
    assert ended_reason(item(await stuck(api, auth, area), case.reference)) is None
    refused = await case.act(OFFICER, "record_new_incident", expect=409)
    assert refused["detail"]["rule"] == "STATE" and "closed" in refused["detail"]["message"]


async def test_the_list_answers_from_the_read_model_when_temporal_is_slow(
        api, auth, monkeypatch):
    async def stalled(*_: Any) -> None:
        await asyncio.sleep(30)

    monkeypatch.setattr(stuck_route, "record_ended", stalled)
    monkeypatch.setattr(stuck_route, "ENDED_LOOKUP_SECONDS", 0.2)
    response = await asyncio.wait_for(
        api.get("/cases/stuck", headers=auth("manager", area=new_area())), 5)
    assert response.status_code == 200 and response.json()["items"] == []
