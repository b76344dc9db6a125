"""The read model from an action's answer, and the workflow's projection as its backstop.

An accepted action is written to the read model by the API from the Update's own result. The
case's workflow projects only after its backstop period, once for a burst of actions, and keeps
its deadline timer unless an action moved the next deadline earlier.
"""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import Session
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

from api.examples import ACTION_EXAMPLES
from api.main import create_app
from models.actions import ActionRequest, CaseWorkflowInput, NewCase
from models.case import Actor
from models.enums import Role
from models.tables import CaseRow, HistoryRow
from tests.api_steps import new_case_body, new_reference
from tests.conftest import eventually
from workflows.case import CaseWorkflow, case_workflow_id

OFFICER = Actor(user_id="oic-1", role=Role.OFFICER_IN_CASE, area="north")


def _row(engine: Any, reference: str) -> CaseRow | None:
    with Session(engine) as session:
        return session.get(CaseRow, reference)


async def _start(client: Client, task_queue: str, backstop: float) -> WorkflowHandle:
    """A case with its SPOC and means agreed, so that no deadline is open at the start."""
    reference = new_reference("PROJ")
    body = new_case_body(reference)
    body["complainants"][0]["contact"] = {"spoc": "PC Lee", "preferred_means": "email",
                                          "email": "c1@example.org"}
    return await client.start_workflow(
        CaseWorkflow.run,
        CaseWorkflowInput(new_case=NewCase.model_validate(body), index_search_attributes=False,
                          projection_backstop_seconds=backstop),
        id=case_workflow_id(reference), task_queue=task_queue)


async def _act(handle: WorkflowHandle, kind: str, **fields: Any) -> int:
    request = ActionRequest(request_id=str(uuid.uuid4()), actor=OFFICER,
                            action={"kind": kind, **{**ACTION_EXAMPLES[kind], **fields}})
    return (await handle.execute_update(CaseWorkflow.act, request)).version


async def _events_since(handle: WorkflowHandle, after: int) -> list[Any]:
    history = await handle.fetch_history()
    return [e for e in history.events if e.event_id > after]


def _projections(events: list[Any]) -> int:
    return sum(1 for e in events
               if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
               and e.activity_task_scheduled_event_attributes.activity_type.name == "project_case")


def _timers(events: list[Any]) -> list[timedelta]:
    return [e.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
            for e in events if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED]


@pytest.mark.asyncio
async def test_an_action_costs_its_update_alone_until_the_backstop(
        client: Client, worker: None, task_queue: str, engine: Any) -> None:
    handle = await _start(client, task_queue, backstop=600)
    reference = handle.id.removeprefix("case-")
    await eventually(lambda: _row(engine, reference))  # the opening projection
    before = (await handle.fetch_history()).events[-1].event_id

    # A risk assessment opens the P3.7 review: the next deadline moved earlier than the loop's
    # timer (none was set), so the loop wakes and sets one for it; the action itself started
    # the backstop's timer.
    today = datetime.now(UTC).date().isoformat()
    await _act(handle, "record_risk_assessment", complainant_id="C1",
               assessment={"tool": "DASH", "level": "medium", "assessed_on": today,
                           "assessor": "PC 1"})

    async def review_timer_set() -> list[timedelta] | None:
        timers = _timers(await _events_since(handle, before))
        return timers if any(t > timedelta(days=20) for t in timers) else None

    timers = await eventually(review_timer_set)
    assert timedelta(seconds=600) in timers  # the backstop
    mark = (await handle.fetch_history()).events[-1].event_id

    # Two more actions that move no deadline: no timer, no cancelled timer, no projection.
    await _act(handle, "record_evidence_item")
    version = await _act(handle, "record_evidence_item", item="phone download")
    await handle.query(CaseWorkflow.snapshot)
    later = await _events_since(handle, mark)
    kinds = {e.event_type for e in later}
    assert EventType.EVENT_TYPE_TIMER_STARTED not in kinds
    assert EventType.EVENT_TYPE_TIMER_CANCELED not in kinds
    assert _projections(later) == 0
    row = _row(engine, reference)
    assert row is not None and row.version < version  # only the backstop would write it
    await handle.terminate("test over")


@pytest.mark.asyncio
async def test_the_backstop_projects_a_burst_of_actions_once(
        client: Client, worker: None, task_queue: str, engine: Any) -> None:
    handle = await _start(client, task_queue, backstop=2)
    reference = handle.id.removeprefix("case-")
    await eventually(lambda: _row(engine, reference))
    before = (await handle.fetch_history()).events[-1].event_id
    actions = 5
    for n in range(actions):
        version = await _act(handle, "record_evidence_item", item=f"exhibit {n}")

    def projected() -> bool:
        row = _row(engine, reference)
        return row is not None and row.version == version

    await eventually(projected)  # nobody but the workflow writes here: no API in the way
    with Session(engine) as session:
        assert session.get(HistoryRow, (reference, version)) is not None
    projections = _projections(await _events_since(handle, before))
    assert 1 <= projections < actions  # one per burst, not one per action
    await handle.terminate("test over")


@pytest.mark.asyncio
async def test_the_api_writes_the_read_model_from_the_answer(
        client: Client, worker: None, settings: Any, engine: Any, auth: Any) -> None:
    # Cases opened by this API project from their workflow only after an hour: whatever the
    # read model shows straight after an action, the API wrote it.
    slow = settings.model_copy(update={"projection_backstop_seconds": 3600})
    app = create_app(slow, client, engine)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://cases.test", timeout=30) as api:
        reference = new_reference("ANSWER")
        opened = await api.post("/cases", json=new_case_body(reference),
                                headers=auth("officer_in_case"))
        assert opened.status_code == 201, opened.text
        await eventually(lambda: _row(engine, reference))
        response = await api.post(f"/cases/{reference}/actions",
                                  json={"action": {"kind": "record_evidence_item",
                                                   **ACTION_EXAMPLES["record_evidence_item"]}},
                                  headers=auth("officer_in_case"))
        assert response.status_code == 200, response.text
        answer = response.json()
        row = _row(engine, reference)  # the transport returns once the app is done
        assert row is not None and row.version == answer["version"]
        assert row.version > 1 and row.state == answer["state"]
        listed = (await api.get("/cases", params={"limit": 500}, headers=auth("manager"))).json()
        assert {"reference": reference, "version": answer["version"]} in [
            {"reference": i["reference"], "version": i["version"]} for i in listed["items"]]
        with Session(engine) as session:
            assert session.get(HistoryRow, (reference, answer["version"])) is not None
    await client.get_workflow_handle(case_workflow_id(reference)).terminate("test over")


@pytest.mark.asyncio
async def test_a_burst_of_answers_is_written_in_fewer_transactions_every_one_of_them(
        client: Client, worker: None, settings: Any, engine: Any, auth: Any) -> None:
    """The API's writes from answers are a group commit: a burst of actions on many cases
    shares transactions, and every action's entry and row are written before the API is done."""
    from api.acting import _answers_commit

    slow = settings.model_copy(update={"projection_backstop_seconds": 3600})
    app = create_app(slow, client, engine)
    references = [new_reference("BURST") for _ in range(12)]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://cases.test", timeout=60) as api:
        for reference in references:
            opened = await api.post("/cases", json=new_case_body(reference),
                                    headers=auth("officer_in_case"))
            assert opened.status_code == 201, opened.text
        before = _answers_commit(engine).transactions
        body = {"action": {"kind": "record_evidence_item",
                           **ACTION_EXAMPLES["record_evidence_item"]}}
        answers = await asyncio.gather(*(
            api.post(f"/cases/{ref}/actions", json=body, headers=auth("officer_in_case"))
            for ref in references for _ in range(3)))
        written = _answers_commit(engine).transactions - before
    assert {a.status_code for a in answers} == {200}
    with Session(engine) as session:
        for answer, (ref, _) in zip(answers, [(r, n) for r in references for n in range(3)],
                                    strict=True):
            assert session.get(HistoryRow, (ref, answer.json()["version"])) is not None
        for ref in references:
            row = session.get(CaseRow, ref)
            assert row is not None and row.version == 4  # opened, then three items
    assert 1 <= written < len(answers), written
    for ref in references:
        await client.get_workflow_handle(case_workflow_id(ref)).terminate("test over")


def test_a_failing_write_from_the_answer_is_left_to_the_backstop(caplog: Any) -> None:
    from sqlmodel import create_engine

    from models.actions import ActionResult
    from models.case import CaseFacts, HistoryEntry
    from readmodel.projection import project_answer

    unreachable = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none",
                                connect_args={"connect_timeout": 1})
    entry = HistoryEntry(version=3, at=datetime.now(UTC), actor=OFFICER, action="record_vps",
                         summary="VPS recorded for C1", reasons="Secret Name asked for it",
                         state_before="investigation", state_after="investigation")
    facts = CaseFacts(reference="UNREACHABLE-1", police_area="north", cps_area="north",
                      state="investigation", stalking=True, domestic_abuse=False, version=3,
                      opened_at=datetime.now(UTC), state_since=datetime.now(UTC),
                      complainants=1, charges=[], linked_cases=[])
    result = ActionResult(version=3, state="investigation", facts=facts, entry=entry)
    project_answer(unreachable, "UNREACHABLE-1", entry, result)  # logs; the answer stands
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "backstop" in logged and "Secret Name" not in logged


def _versions(count: int) -> list[Any]:
    """Successive versions of one case file (with the entry that made each), as the workflow
    would produce them."""
    from workflows import lifecycle

    now = datetime.now(UTC)
    versions = [lifecycle.open_case(NewCase.model_validate(new_case_body(new_reference("RACE"))),
                                    now)]
    for n in range(count - 1):
        request = ActionRequest(request_id=f"r{n}", actor=OFFICER, action={
            "kind": "record_evidence_item", **ACTION_EXAMPLES["record_evidence_item"],
            "item": f"exhibit {n}"})
        versions.append(lifecycle.apply(versions[-1].case, request, now))
    return versions


def test_an_older_version_read_first_never_lands_last(engine: Any) -> None:
    """The API and the backstop may write one case at once. Writer A (older) reads the row;
    writer B (newer) then tries to write it before A does: B must wait for A, or A's older
    version would overwrite B's."""
    import threading

    from sqlalchemy import event

    from readmodel.projection import write_case

    base, older, newer = (applied.case for applied in _versions(3))
    with Session(engine) as session:
        write_case(session, base)
        session.commit()
    a_has_read, b_committed = threading.Event(), threading.Event()
    a_thread: list[int] = []

    def pause_a_after_its_read(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if threading.get_ident() in a_thread and not a_has_read.is_set() \
                and statement.lstrip().upper().startswith("SELECT") and "FROM cases" in statement:
            a_has_read.set()
            b_committed.wait(timeout=3)  # B cannot commit while A holds the case: time out

    def write(case: Any) -> None:
        with Session(engine) as session:
            write_case(session, case)
            session.commit()

    def writer_a() -> None:
        a_thread.append(threading.get_ident())
        write(older)

    def writer_b() -> None:
        assert a_has_read.wait(timeout=10)
        write(newer)
        b_committed.set()

    event.listen(engine, "after_cursor_execute", pause_a_after_its_read)
    try:
        threads = [threading.Thread(target=writer_a), threading.Thread(target=writer_b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        event.remove(engine, "after_cursor_execute", pause_a_after_its_read)
    row = _row(engine, newer.reference)
    assert row is not None and row.version == newer.version


def test_projection_is_idempotent_and_never_goes_backwards(engine) -> None:
    from sqlmodel import Session, select

    from activities.projection import ReadModelActivities
    from models.actions import ProjectionInput
    from models.tables import CaseRow, HistoryRow
    from tests.factories import case_in
    from tests.factories import history as entries_of

    newer = case_in("charging")
    older = case_in("referral")
    newer_entries, older_entries = entries_of(newer), entries_of(older)
    reference = f"PROJ-{newer.version}-{id(newer) % 10000}"
    newer = newer.model_copy(update={"reference": reference})
    older = older.model_copy(update={"reference": reference})
    activity = ReadModelActivities(engine)
    activity.project_case(ProjectionInput(reference=reference, entries=newer_entries, case=newer))
    activity.project_case(ProjectionInput(reference=reference, entries=newer_entries,
                                          case=newer))  # a retried activity
    activity.project_case(ProjectionInput(reference=reference, entries=older_entries,
                                          case=older))  # a late, out-of-order one
    with Session(engine) as session:
        row = session.get(CaseRow, reference)
        history = session.exec(select(HistoryRow).where(HistoryRow.reference == reference)).all()
    assert row is not None and row.version == newer.version and row.state == "charging"
    assert sorted(h.version for h in history) == list(range(1, newer.version + 1))


def test_the_suspect_index_follows_added_suspects_and_older_versions_change_nothing(
        engine: Any) -> None:
    from sqlmodel import select

    from models.tables import SuspectRow
    from readmodel.projection import write_case
    from workflows import lifecycle

    opened, first_applied = _versions(2)
    first = first_applied.case
    added = lifecycle.apply(first, ActionRequest(
        request_id="add", actor=OFFICER, action={
            "kind": "add_suspect", "suspect": {"suspect_id": "S2", "name": "Second Suspect"}}),
        datetime.now(UTC))
    later = lifecycle.apply(added.case, ActionRequest(
        request_id="later", actor=OFFICER, action={
            "kind": "record_evidence_item", **ACTION_EXAMPLES["record_evidence_item"]}),
        datetime.now(UTC))
    entries = {id(first): [opened.entry, first_applied.entry], id(added.case): [added.entry],
               id(later.case): [later.entry]}

    def suspects() -> set[str]:
        with Session(engine) as session:
            return set(session.exec(select(SuspectRow.suspect_id)
                                    .where(SuspectRow.reference == first.reference)))

    for case, expected in ((first, {"S1"}), (added.case, {"S1", "S2"}),
                           (later.case, {"S1", "S2"}),
                           (first, {"S1", "S2"})):  # the last: an older snapshot, late
        with Session(engine) as session:
            write_case(session, case, entries[id(case)])
            session.commit()
        assert suspects() == expected
    row = _row(engine, first.reference)
    assert row is not None and row.version == later.case.version
    with Session(engine) as session:
        versions = set(session.exec(select(HistoryRow.version)
                                    .where(HistoryRow.reference == first.reference)))
    assert versions == set(range(1, later.case.version + 1))
