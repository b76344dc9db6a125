"""GET /cases/stuck: every reason a case is stuck, its age and whose move it is, per area.

Cases are seeded through the real projection (write_case) from case files built by the real
lifecycle at chosen times, or run by real workflows: on the time-skipping server for overdue
and failing deadlines, on the dev server for the sweeper's failing activities and tasks.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine
from sqlmodel import Session, select
from temporalio.client import Client, ScheduleIntervalSpec
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.worker import Worker

from activities.sweeper import Sweeper, ensure_sweep_schedule
from api.main import create_app
from models.case import CaseFile
from models.deadlines import DeadlineMarks
from models.monitoring import AlertRow, DeadlineRow
from models.tables import StaffProfileRow
from readmodel.projection import write_case
from tests import factories as f
from tests.broken_workflow import BrokenCaseWorkflow
from tests.conftest import eventually
from tests.isolated_skipping import isolated_skipping
from tests.timer_steps import TimedCase
from worker import build_worker
from workflows import search
from workflows.deadlines import open_deadlines

pytestmark = pytest.mark.asyncio
NOW = datetime.now(UTC)
AREA = "stk"  # this module's own area: nothing from other tests shows in its lists
OVERRIDDEN = "stk-fast"  # an area whose investigation service level is 5 days


def days_ago(n: float) -> datetime:
    return NOW - timedelta(days=n)


def opened(reference: str, at: datetime, area: str = AREA, cps_area: str | None = None) -> CaseFile:
    return f.open_at(f.new_case(reference=reference, police_area=area,
                                          cps_area=cps_area or area), at)


def referred(reference: str, at: datetime, area: str = AREA) -> CaseFile:
    case = opened(reference, at - timedelta(days=1), area)
    case = f.act(case, f.actor("officer_in_case", area), "record_risk_assessment", at=at,
                 complainant_id="C1", assessment=f.standard_risk())
    return f.act(case, f.actor("officer_in_case", area), "refer_to_cps", at=at)


def with_marks(case: CaseFile, kind: str, **marks: Any) -> CaseFile:
    """The case with its open deadlines, the one of `kind` carrying the given marks."""
    case.deadlines = open_deadlines(case)
    for d in case.deadlines:
        case.deadline_marks[d.deadline_id] = DeadlineMarks(
            opened_at=case.opened_at, **(marks if d.kind == kind else {}))
    case.version += 1
    return case


def project(engine: Any, case: CaseFile) -> None:
    with Session(engine) as session:
        write_case(session, case, f.history(case))
        session.commit()


def ref(prefix: str = "STK") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8].upper()}"


@pytest.fixture(scope="module")
async def skipping(settings: Any, engine: Any) -> AsyncIterator[tuple[Any, str]]:
    async with isolated_skipping(settings, engine) as env_and_queue:
        yield env_and_queue


@pytest.fixture(scope="module")
async def managers(client: Client, settings: Any, engine: Any) -> AsyncIterator[httpx.AsyncClient]:
    tuned = settings.model_copy(update={"service_level_overrides": {OVERRIDDEN: {
        "investigation": 5}}})
    app = create_app(tuned, client, engine)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://cases.test", timeout=30) as http:
        yield http


async def stuck(http: httpx.AsyncClient, auth: Any, area: str = AREA, role: str = "manager",
                **params: Any) -> dict[str, Any]:
    response = await http.get("/cases/stuck", params=params, headers=auth(role, area=area))
    assert response.status_code == 200, response.text
    return response.json()


def item(listing: dict[str, Any], reference: str) -> dict[str, Any] | None:
    return next((i for i in listing["items"] if i["reference"] == reference), None)


def reasons(entry: dict[str, Any] | None) -> set[str]:
    return {r["reason"] for r in entry["reasons"]} if entry else set()


async def test_over_service_level_shows_age_reason_and_officer_as_owner(managers, auth, engine):
    late, fresh = ref(), ref()
    project(engine, opened(late, days_ago(60)))
    project(engine, opened(fresh, days_ago(10)))
    listing = await stuck(managers, auth)
    entry = item(listing, late)
    assert entry is not None and item(listing, fresh) is None
    assert reasons(entry) == {"over_service_level"}
    assert "service level 56 days" in entry["reasons"][0]["detail"]
    assert 59.9 <= entry["in_state_days"] <= 60.1
    assert entry["owner_role"] == "officer_in_case" and entry["state"] == "investigation"


async def test_service_level_is_configurable_per_area(managers, auth, engine):
    reference = ref()
    project(engine, opened(reference, days_ago(10), area=OVERRIDDEN))
    entry = item(await stuck(managers, auth, area=OVERRIDDEN), reference)
    assert entry is not None
    assert "service level 5 days" in entry["reasons"][0]["detail"]


async def test_a_referral_waiting_is_the_prosecutors_move(managers, auth, engine):
    reference = ref()
    project(engine, referred(reference, days_ago(9)))
    entry = item(await stuck(managers, auth), reference)
    assert entry is not None and entry["state"] == "referral"
    assert entry["owner_role"] == "prosecutor"


async def test_overdue_deadline_names_its_owner_over_the_states(managers, auth, engine):
    # In referral (the prosecutor's move) but the officer's contact-details deadline is overdue.
    reference = ref()
    case = with_marks(referred(reference, days_ago(1)), "contact_details",
                      escalated_at=days_ago(0.5))
    project(engine, case)
    entry = item(await stuck(managers, auth), reference)
    assert entry is not None and reasons(entry) == {"overdue_deadline"}
    overdue = entry["reasons"][0]
    assert overdue["rule"] == "P6.4" and overdue["owner_role"] == "officer_in_case"
    assert entry["owner_role"] == "officer_in_case"
    assert entry["earliest_due"] is not None


async def test_failing_delivery_is_a_failing_activity_without_the_address(managers, auth, engine):
    reference = ref()
    case = with_marks(opened(reference, days_ago(0.2)), "contact_details",
                      failing="550 <jane.doe@example.org> rejected; call 07700 900123")
    project(engine, case)
    entry = item(await stuck(managers, auth), reference)
    assert entry is not None and reasons(entry) == {"failing_activity"}
    detail = entry["reasons"][0]["detail"]
    assert "contact details" in detail and "rejected" in detail
    assert "jane.doe" not in detail and "900123" not in detail


async def test_a_case_met_since_is_no_longer_stuck(managers, auth, engine):
    reference = ref()
    case = with_marks(opened(reference, days_ago(1)), "contact_details", escalated_at=days_ago(0.5))
    project(engine, case)
    assert item(await stuck(managers, auth), reference) is not None
    case.deadline_marks = {k: v.model_copy(update={"met_at": NOW}) for k, v in
                           case.deadline_marks.items()}
    case.version += 1
    project(engine, case)
    assert item(await stuck(managers, auth), reference) is None


async def test_filters_by_reason_state_and_owner(managers, auth, engine):
    area = f"stk-{uuid.uuid4().hex[:6]}"
    slow, waiting, failing = ref(), ref(), ref()
    project(engine, opened(slow, days_ago(80), area=area))
    project(engine, referred(waiting, days_ago(20), area=area))
    project(engine, with_marks(opened(failing, days_ago(0.1), area=area), "contact_details",
                               failing="Connection refused"))
    refs = lambda listing: {i["reference"] for i in listing["items"]}  # noqa: E731
    assert refs(await stuck(managers, auth, area)) == {slow, waiting, failing}
    assert refs(await stuck(managers, auth, area, reason="failing_activity")) == {failing}
    assert refs(await stuck(managers, auth, area, reason="over_service_level")) == {slow, waiting}
    assert refs(await stuck(managers, auth, area, state="referral")) == {waiting}
    assert refs(await stuck(managers, auth, area, owner="prosecutor")) == {waiting}
    by_age = [i["reference"] for i in (await stuck(managers, auth, area, sort="age"))["items"]]
    assert by_age == [slow, waiting, failing]
    paged = await stuck(managers, auth, area, limit=1, offset=1)
    assert paged["total"] == 3 and [i["reference"] for i in paged["items"]] == [waiting]


async def test_sort_by_due_puts_the_most_overdue_first(managers, auth, engine):
    area = f"stk-{uuid.uuid4().hex[:6]}"
    older, newer = ref(), ref()
    project(engine, with_marks(opened(older, days_ago(6), area=area), "contact_details",
                               escalated_at=days_ago(5)))
    project(engine, with_marks(opened(newer, days_ago(3), area=area), "contact_details",
                               escalated_at=days_ago(2)))
    listing = await stuck(managers, auth, area, sort="due")
    assert [i["reference"] for i in listing["items"]] == [older, newer]


async def test_only_the_users_area_and_cps_area_cases_show(managers, auth, engine):
    reference = ref()
    project(engine, f.open_at(f.new_case(reference=reference, police_area="stk-police",
                                                   cps_area="stk-cps"), days_ago(70)))
    assert item(await stuck(managers, auth, "stk-police"), reference) is not None
    assert item(await stuck(managers, auth, "stk-cps", role="prosecutor"), reference) is not None
    assert item(await stuck(managers, auth, "stk-elsewhere"), reference) is None


async def test_bad_filters_are_422_and_no_token_is_401(managers, auth):
    bad = await managers.get("/cases/stuck", params={"reason": "bored"}, headers=auth("manager"))
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "reason"]
    sort = await managers.get("/cases/stuck", params={"sort": "size"}, headers=auth("manager"))
    assert sort.status_code == 422
    assert (await managers.get("/cases/stuck")).status_code == 401
    # An offset past what the database can count is refused, not a 500; the last allowed is
    # simply an empty page that still gives the total.
    huge = await managers.get("/cases/stuck", params={"offset": 10**18}, headers=auth("manager"))
    assert huge.status_code == 422 and huge.json()["detail"][0]["loc"] == ["query", "offset"]
    last = await managers.get("/cases/stuck", params={"offset": 1_000_000},
                              headers=auth("manager"))
    assert last.status_code == 200 and last.json()["items"] == []


# --- real workflows ------------------------------------------------------------------------
async def test_a_case_driven_past_its_due_date_is_overdue(skipping, engine, managers, auth):
    env, queue = skipping
    case = await TimedCase.start(env, queue, engine, police_area=AREA, cps_area=AREA)
    deadline = await case.deadline("contact_details")
    assert deadline is not None
    await case.sleep_past(deadline.due_at)
    await case.settled()
    entry = item(await stuck(managers, auth, reason="overdue_deadline"), case.reference)
    assert entry is not None
    assert entry["reasons"][0]["deadline_id"] == deadline.deadline_id


async def test_a_failing_notification_is_projected_while_the_version_stands_still(
        skipping, engine, settings, managers, auth):
    skipping_env, _ = skipping
    broken = settings.model_copy(update={"notifier": "smtp", "smtp_port": 9})  # nothing listens
    queue = f"stk-failing-{uuid.uuid4().hex[:8]}"
    with ThreadPoolExecutor(max_workers=4) as executor:
        async with build_worker(skipping_env.client, broken, engine, executor, task_queue=queue):
            case = await TimedCase.start(skipping_env, queue, engine, police_area=AREA,
                                         cps_area=AREA)
            deadline = await case.deadline("contact_details")
            assert deadline is not None
            await case.sleep_past(deadline.remind_at + timedelta(minutes=10))

            def failing_row() -> DeadlineRow | None:
                with Session(engine) as session:
                    row = session.get(DeadlineRow, (case.reference, deadline.deadline_id))
                    return row if row is not None and row.failing else None

            row = await eventually(failing_row)
            await case.handle.terminate("test over")
    assert row.reminded_at is None and row.escalated_at is None
    entry = item(await stuck(managers, auth, reason="failing_activity"), case.reference)
    assert entry is not None and "refused" in entry["reasons"][0]["detail"].lower()


# --- the sweeper ---------------------------------------------------------------------------
async def _start_on(client: Client, queue: str, reference: str, area: str) -> Any:
    return await client.start_workflow(
        "CaseWorkflow", {"new_case": None}, id=f"case-{reference}", task_queue=queue,
        search_attributes=TypedSearchAttributes([
            SearchAttributePair(search.CASE_AREA, area),
            SearchAttributePair(search.CASE_STATE, "investigation")]))


async def test_sweeper_records_a_workflow_task_that_keeps_failing(client, engine, settings,
                                                                  managers, auth):
    area, reference = f"stk-{uuid.uuid4().hex[:6]}", ref("BROKEN")
    queue = f"broken-{uuid.uuid4().hex[:8]}"
    sweeper = Sweeper(client, engine, settings.model_copy(update={"stuck_activity_attempts": 2}))
    async with Worker(client, task_queue=queue, workflows=[BrokenCaseWorkflow]):
        handle = await _start_on(client, queue, reference, area)

        async def swept() -> bool:
            await sweeper.sweep()
            with Session(engine) as session:
                return session.get(AlertRow, (reference, "workflow_task")) is not None

        await eventually(swept, timeout=30)
        entry = item(await stuck(managers, auth, area), reference)
        assert entry is not None and reasons(entry) == {"failing_workflow_task"}
        await handle.terminate("test over")
    # Terminated: no longer running, so its task's alert clears; the case is listed for how its
    # workflow ended instead.
    await sweeper.sweep()
    with Session(engine) as session:
        cleared = session.get(AlertRow, (reference, "workflow_task"))
        assert cleared is not None and cleared.cleared_at is not None
    entry = item(await stuck(managers, auth, area), reference)
    assert entry is not None and reasons(entry) == {"workflow_ended"}


async def test_sweeper_records_a_failing_projection_and_clears_it(client, engine, settings,
                                                                  managers, auth):
    area, reference = f"stk-{uuid.uuid4().hex[:6]}", ref("NOPROJ")
    queue = f"noproj-{uuid.uuid4().hex[:8]}"
    unreachable = create_engine("sqlite:////nonexistent-dir/read-model.db")
    sweeper = Sweeper(client, engine, settings)
    with ThreadPoolExecutor(max_workers=4) as executor:
        async with build_worker(client, settings, unreachable, executor, task_queue=queue):
            from models.actions import CaseWorkflowInput
            from workflows.case import CaseWorkflow

            handle = await client.start_workflow(
                CaseWorkflow.run, CaseWorkflowInput(new_case=f.new_case(
                    reference=reference, police_area=area, cps_area=area)),
                id=f"case-{reference}", task_queue=queue)

            async def swept() -> AlertRow | None:
                await sweeper.sweep()
                with Session(engine) as session:
                    return session.get(AlertRow, (reference, "activity:project_case"))

            # The linked-case search fails first (its five attempts), then the projection.
            alert = await eventually(swept, timeout=90)
            entry = item(await stuck(managers, auth, area), reference)
            await handle.terminate("test over")
    assert alert.attempts >= settings.stuck_activity_attempts
    # The server keeps a failure only up to a size; a database error with its stack trace is
    # over it, and the alert says where to look instead of showing nothing.
    assert alert.last_failure and ("read model unavailable" in alert.last_failure
                                   or "worker's log" in alert.last_failure)
    assert "[SQL:" not in alert.last_failure
    assert entry is not None and reasons(entry) == {"failing_activity"}
    assert "project_case" in entry["reasons"][0]["detail"]
    assert entry["state"] == "investigation"  # from the search attributes: no case row yet
    await sweeper.sweep()
    with Session(engine) as session:
        cleared = session.get(AlertRow, (reference, "activity:project_case"))
        assert cleared is not None and cleared.cleared_at is not None


async def test_the_sweep_runs_from_a_schedule_on_the_worker(client, worker, settings):
    schedule_id = f"stuck-sweep-test-{uuid.uuid4().hex[:6]}"
    await ensure_sweep_schedule(client, settings, schedule_id)
    await ensure_sweep_schedule(client, settings, schedule_id)  # idempotent
    handle = client.get_schedule_handle(schedule_id)
    try:
        described = await handle.describe()
        assert described.schedule.spec.intervals == [
            ScheduleIntervalSpec(every=timedelta(seconds=settings.sweep_interval_seconds))]
        await handle.trigger()

        async def finished() -> Any:
            actions = (await handle.describe()).info.recent_actions
            return actions[0] if actions else None

        action = await eventually(finished, timeout=20)
        run = client.get_workflow_handle(action.action.workflow_id,
                                         run_id=action.action.first_execution_run_id)
        assert isinstance(await asyncio.wait_for(run.result(), 30), int)
    finally:
        await handle.delete()


async def test_alerts_table_is_indexed_by_area_for_the_stuck_list(engine):
    from sqlalchemy import inspect

    names = {i["name"] for i in inspect(engine).get_indexes("stuck_alerts")}
    assert "ix_stuck_alerts_area_open" in names
    deadline_indexes = {i["name"] for i in inspect(engine).get_indexes("case_deadlines")}
    assert {"ix_case_deadlines_open_escalated", "ix_case_deadlines_open_failing"} <= deadline_indexes
    with Session(engine) as session:
        assert session.exec(select(AlertRow).limit(1)).all() is not None


# --- whose move as a person; the case's risk -----------------------------------------------
async def test_the_owner_is_the_user_the_case_names_for_the_owners_role(managers, auth, engine):
    reference = ref()
    project(engine, opened(reference, days_ago(60)))  # the officer's move; named at opening
    entry = item(await stuck(managers, auth), reference)
    assert entry is not None and entry["owner_role"] == "officer_in_case"
    assert entry["owner_user"] == f.OFFICER.user_id and entry["unassigned"] is False


async def test_a_case_whose_owner_role_names_nobody_is_unassigned_and_filtered(managers, auth,
                                                                               engine):
    area = f"stk-{uuid.uuid4().hex[:6]}"
    nobody, named = ref(), ref()
    lawyer = f"cps-lawyer-{uuid.uuid4().hex[:6]}"
    project(engine, referred(nobody, days_ago(20), area=area))  # the prosecutor's move
    case = f.act(referred(named, days_ago(20), area=area), f.actor("manager", area),
                 "assign_case_team_member", role="prosecutor", user_id=lawyer)
    project(engine, case)
    listing = await stuck(managers, auth, area)
    assert item(listing, nobody)["unassigned"] is True  # type: ignore[index]
    assert item(listing, nobody)["owner_user"] is None  # type: ignore[index]
    assert item(listing, named)["owner_user"] == lawyer  # type: ignore[index]
    assert item(listing, named)["owner_name"] is None  # type: ignore[index]  # no profile yet
    with Session(engine) as session:
        session.merge(StaffProfileRow(user_id=lawyer, display_name="Priya Lawyer",
                                      role="prosecutor", area=area,
                                      updated_at=datetime.now(UTC)))
        session.commit()
    named_now = item(await stuck(managers, auth, area), named)
    assert named_now["owner_name"] == "Priya Lawyer"  # type: ignore[index]
    only = await stuck(managers, auth, area, unassigned="true")
    assert [i["reference"] for i in only["items"]] == [nobody] and only["total"] == 1


async def test_the_list_shows_risk_domestic_abuse_repeat_perpetrator_and_breach(managers, auth,
                                                                                engine):
    reference = ref()
    case = f.open_at(f.new_case(reference=reference, police_area=AREA, cps_area=AREA,
                                domestic_abuse=True), days_ago(60))
    case = f.act(case, f.actor("officer_in_case", AREA), "record_risk_assessment",
                 at=days_ago(59), complainant_id="C1",
                 assessment={**f.standard_risk(), "level": "high"})
    case.repeat_perpetrator = True  # as the linked-suspect search records it (P3.8)
    case.recorded["report_order_breach"] = 1  # as a reported breach counts
    project(engine, case)
    entry = item(await stuck(managers, auth), reference)
    assert entry is not None
    assert (entry["risk_level"], entry["domestic_abuse"], entry["repeat_perpetrator"],
            entry["breach"]) == ("high", True, True, True)
    plain = ref()
    project(engine, opened(plain, days_ago(60)))
    entry = item(await stuck(managers, auth), plain)
    assert entry is not None
    assert (entry["risk_level"], entry["domestic_abuse"], entry["repeat_perpetrator"],
            entry["breach"]) == (None, False, False, False)


async def test_no_personal_data_in_the_stuck_list(managers, auth, engine):
    reference = ref()
    project(engine, opened(reference, days_ago(60)))
    text = (await managers.get("/cases/stuck", params={"limit": 500},
                               headers=auth("manager", area=AREA))).text
    assert reference in text
    for secret in ("Complainant One", "Secret Street", "John Example"):
        assert secret not in text


async def test_a_bad_unassigned_flag_is_422_naming_it(managers, auth):
    bad = await managers.get("/cases/stuck", params={"unassigned": "maybe"},
                             headers=auth("manager"))
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "unassigned"]
