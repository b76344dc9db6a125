"""A case takes its 3,000th action as it took its first: through the API, back to back, each
with an Idempotency-Key and 5,000 characters of reasons. Every action is applied once, the
history is complete, the workflow keeps running (continuing as new under the stream rather
than being terminated by Temporal's limits), retried keys change nothing in any run, and no
payload in its stored Temporal history comes near Temporal's limits."""

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlmodel import Session
from temporalio.client import Client, WorkflowExecutionStatus

from core.move_cases import continue_cases_as_new
from core.settings import Settings
from core.temporal import execute_action
from models.actions import ActionRequest, CaseWorkflowInput, NewCase
from models.case import Actor
from models.enums import Role
from readmodel.history import history_page
from tests.api_steps import Handler, new_case_body, new_reference
from tests.conftest import eventually
from workflows.case import CaseWorkflow, case_workflow_id

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(900)]

ACTIONS = 3000
REASONS_CHARS = 5000
IN_FLIGHT = 4  # back to back: a few at once, as a busy team would send them
RESENT = 50
PAYLOAD_LIMIT = 256 * 1024


def action_body(n: int) -> dict[str, Any]:
    """One of three kinds of records, each carrying its own text; long reasons on every one."""
    kinds = [
        {"kind": "record_evidence_item", "item": f"screenshot page {n}",
         "note": f"Page {n} of the messages, captured and exhibited."},
        {"kind": "record_new_incident", "description": f"Incident {n}: messages overnight."},
        {"kind": "record_conduct", "conduct": {"when": "during", "online": True,
                                               "description": f"Conduct {n}: posts online."}},
    ]
    reasons = f"Reasons for action {n}. " + ("x" * REASONS_CHARS)
    return {"action": kinds[n % 3], "reasons": reasons[:REASONS_CHARS]}


async def history(api: httpx.AsyncClient, headers: dict[str, str],
                  reference: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    after = 0
    while True:
        response = await api.get(f"/cases/{reference}/history", headers=headers,
                                 params={"after": after, "limit": 1000})
        assert response.status_code == 200, response.text
        entries += response.json()
        if "X-Next-After" not in response.headers:
            return entries
        after = int(response.headers["X-Next-After"])


async def runs_and_largest_event(client: Client, reference: str) -> tuple[int, int]:
    """How many runs the case's workflow has had, and its largest stored event in bytes (an
    event holds its payloads, so no payload is larger)."""
    workflow_id = case_workflow_id(reference)
    runs = [w.run_id async for w in client.list_workflows(f"WorkflowId = '{workflow_id}'")]
    largest = 0
    for run_id in runs:
        stored = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        largest = max(largest, *(event.ByteSize() for event in stored.events))
    return len(runs), largest


async def test_a_case_takes_3000_long_actions_back_to_back_once_each_and_keeps_running(
        api: httpx.AsyncClient, auth: Any, client: Client) -> None:
    handler = Handler(api, auth, new_reference("BIG"))
    assert (await handler.open()).status_code == 201
    url = f"/cases/{handler.reference}/actions"
    officer = auth("officer_in_case")
    keys = [f"{handler.reference}:{n}" for n in range(ACTIONS)]
    answers: dict[int, httpx.Response] = {}
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def send(n: int) -> None:
        async with gate:
            answers[n] = await api.post(url, json=action_body(n),
                                        headers=officer | {"Idempotency-Key": keys[n]})

    await asyncio.gather(*(send(n) for n in range(ACTIONS)))
    statuses = {answers[n].status_code for n in range(ACTIONS)}
    assert statuses == {200}, [answers[n].text for n in range(ACTIONS)
                               if answers[n].status_code != 200][:3]
    versions = {n: answers[n].json()["version"] for n in range(ACTIONS)}
    assert sorted(versions.values())[:ACTIONS] == sorted(set(versions.values()))  # no repeats
    largest_answer = max(len(answers[n].content) for n in range(ACTIONS))

    # Fifty early keys again: each is answered with its first answer, and nothing changes.
    before = await handler.get()
    resent = [await api.post(url, json=action_body(n),
                             headers=officer | {"Idempotency-Key": keys[n]})
              for n in range(RESENT)]
    assert [r.status_code for r in resent] == [200] * RESENT
    assert [r.json()["version"] for r in resent] == [versions[n] for n in range(RESENT)]
    assert all(r.json()["repeated"] for r in resent)
    after = await handler.get()
    assert after["version"] == before["version"]

    # The history is complete: every action once, with its reasons and what it recorded.
    entries = await history(api, officer, handler.reference)
    assert [e["version"] for e in entries] == list(range(1, after["version"] + 1))
    by_request = {e["request_id"]: e for e in entries if e["request_id"]}
    for n in (0, 1, 2, ACTIONS // 2, ACTIONS - 1):
        entry = by_request[keys[n]]
        assert entry["version"] == versions[n]
        assert entry["reasons"] == action_body(n)["reasons"]
        recorded = json.loads(entry["detail"])
        assert recorded.items() >= {k: v for k, v in action_body(n)["action"].items()
                                    if k != "kind"}.items()
    assert sum(1 for e in entries if e["action"] == "record_evidence_item") == ACTIONS // 3

    # The file keeps the latest records and counts them all; the workflow runs on.
    assert after["recorded"]["record_evidence_item"] == ACTIONS // 3
    assert len(after["evidence_checklist"]) < 50 and len(after["incidents"]) < 50
    described = await client.get_workflow_handle(case_workflow_id(handler.reference)).describe()
    assert described.status == WorkflowExecutionStatus.RUNNING
    runs, largest_event = await runs_and_largest_event(client, handler.reference)
    print(f"\nbig case: {ACTIONS} actions of {REASONS_CHARS} characters of reasons, "
          f"{len(entries)} history entries, {runs} runs (continued as new under the stream), "
          f"largest stored event {largest_event} bytes, largest answer {largest_answer} bytes")
    assert runs > 1, "the stream of actions never starved continue-as-new"
    assert largest_event < PAYLOAD_LIMIT
    # The answer stays small: the action's own text and a few hundred bytes more.
    assert largest_answer < 3 * REASONS_CHARS


async def test_a_request_id_applied_in_an_earlier_run_is_answered_with_its_first_answer(
        client: Client, worker: None, settings: Settings) -> None:
    """The workflow remembers the request ids it applied across continue-as-new (the read
    model is not asked here: the update goes straight to the workflow)."""
    reference = new_reference("RUNS")
    handle = await _start(client, settings, reference, max_history_events=40,
                          projection_backstop_seconds=1, bounded_runs=True)
    request = _incidents(reference)

    first = [await execute_action(handle, request(n)) for n in range(30)]
    first_run = handle.first_execution_run_id

    async def continued() -> bool:  # the run continues as new just after an update, not in it
        return (await handle.describe()).run_id != first_run

    assert await eventually(continued), "continued as new on the way"
    again = await execute_action(handle, request(0))
    assert again.repeated and again.version == first[0].version
    assert (await handle.query(CaseWorkflow.snapshot)).version == first[-1].version


async def test_a_case_started_before_bounded_runs_moves_onto_them_when_asked(
        client: Client, worker: None, settings: Settings, engine: Any) -> None:
    """docs/versioning.md: `cases-admin continue-cases-as-new` moves a run of the earlier shape
    (no bounded_runs) onto bounded runs; its facts, history and request ids travel with it."""
    reference = new_reference("MOVE")
    handle = await _start(client, settings, reference, projection_backstop_seconds=30)
    request = _incidents(reference)

    before = [await execute_action(handle, request(n)) for n in range(3)]

    async def moved() -> Any:
        signalled = await continue_cases_as_new(client, f"WorkflowId = '{handle.id}'")
        described = await handle.describe()
        return signalled and described.run_id != handle.first_execution_run_id

    await eventually(moved)
    current = client.get_workflow_handle(handle.id)
    started = (await current.fetch_history()).events[0]
    payload = started.workflow_execution_started_event_attributes.input.payloads
    [carried] = await client.data_converter.decode(payload, [CaseWorkflowInput])
    assert carried.bounded_runs and carried.carried_over is not None
    assert carried.carried_over.version == before[-1].version
    again = await execute_action(current, request(0))
    assert again.repeated and again.version == before[0].version
    after = await execute_action(current, request(3))
    assert after.version == before[-1].version + 1
    entries = await eventually(lambda: _all_stored(engine, reference, after.version))
    assert [e.action for e in entries][1:] == ["record_new_incident"] * 4


def _all_stored(engine: Any, reference: str, version: int) -> Any:
    with Session(engine) as session:
        entries = history_page(session, reference, 0, 1000)
    return entries if len(entries) == version else None


async def _start(client: Client, settings: Settings, reference: str, **shape: Any) -> Any:
    """A case's workflow started directly (as only a test may), in the shape given."""
    return await client.start_workflow(
        CaseWorkflow.run, CaseWorkflowInput(
            new_case=NewCase.model_validate(new_case_body(reference)),
            index_search_attributes=False, **shape),
        id=case_workflow_id(reference), task_queue=settings.task_queue)


def _incidents(reference: str) -> Callable[[int], ActionRequest]:
    officer = Actor(user_id="officer_in_case-north", role=Role.OFFICER_IN_CASE, area="north")

    def request(n: int) -> ActionRequest:
        return ActionRequest(request_id=f"{reference}:{n}", actor=officer, action={
            "kind": "record_new_incident", "description": f"incident {n}"})
    return request
