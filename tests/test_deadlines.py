"""Every TIMER rule on the time-skipping server: it opens, reminds its owner, escalates when
missed (to the manager and the SPOC, recorded in the history) and closes when met.
"""

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowUpdateFailedError

from api.errors import from_update_failure
from models.enums import Role
from tests.timer_steps import InDays, Step, TimedCase, skip_time
from worker import build_worker
from workflows.calendar import add_working_days, at_local, working_days_after

RISK: dict[str, Any] = {"complainant_id": "C1", "assessment": {"tool": "DASH", "level": "medium",
                                               "assessed_on": "2026-11-20", "assessor": "PC 1"}}
TO_CHARGING: list[Step] = [
    ("officer_in_case", "record_risk_assessment", RISK),
    ("officer_in_case", "refer_to_cps", {}),
    ("prosecutor", "begin_charging_review", {}),
]
CHARGE = ("prosecutor", "make_charging_decision", {"no_further_work": True, "action_plan": []})
TO_PREPARATION: list[Step] = [*TO_CHARGING, CHARGE]
TO_PLEAS: list[Step] = [*TO_PREPARATION, ("officer_in_case", "record_vps", {}),
                        ("prosecutor", "record_first_appearance", {})]
ORDER_VIEWS: Step = ("officer_in_case", "record_order_views", {})
TO_ORDER: list[Step] = [*TO_PLEAS, ("prosecutor", "enter_pleas", {"guilty": True}), ORDER_VIEWS,
                        ("officer_in_case", "reverify_order_details", {}),
                        ("prosecutor", "apply_restraining_order", {"draft": [
                            {"protected_person_id": "C1", "prohibitions": ["no contact"]}]}),
                        ("prosecutor", "make_restraining_order", {})]
WITHDRAWAL: Step = ("officer_in_case", "record_withdrawal", {})


def _in_days(days: int) -> InDays:
    return InDays(days)


# rule id, deadline kind, the steps that open it, the steps that meet it
TIMER_RULES: list[tuple[str, str, list[Step], list[Step]]] = [
    ("P3.7", "risk_review", [("officer_in_case", "record_risk_assessment", RISK)],
     [("officer_in_case", "record_risk_assessment",
       {**RISK, "assessment": {**RISK["assessment"], "assessed_on": _in_days(400)}})]),
    ("P4.7", "action_plan", [*TO_CHARGING, ("prosecutor", "make_charging_decision", {
        "action_plan": [{"item_id": "AP1", "description": "Phone download",
                         "due_on": InDays(10, working_day=True)}]})],
     [("officer_in_case", "complete_action_item", {"item_id": "AP1"})]),
    ("P4.9", "tell_charging_decision", TO_PREPARATION,
     [("officer_in_case", "record_complainant_informed",
       {"complainant_id": "C1", "topic": "charging_decision"})]),
    ("P4.10", "threshold_evidence", [*TO_CHARGING, ("prosecutor", "make_charging_decision", {
        "test": "threshold", "no_further_work": True, "action_plan": [],
        "further_evidence_expected": "forensic report", "further_evidence_due_on": _in_days(7)})],
     [("officer_in_case", "record_further_evidence", {})]),
    ("P4.13", "breach_action", [("officer_in_case", "record_bail", {}),
                                ("officer_in_case", "report_bail_breach", {})],
     [("officer_in_case", "record_breach_action_taken", {})]),
    ("P5.6", "withdrawal_decision", [*TO_PREPARATION, WITHDRAWAL],
     [("prosecutor", "record_proceed_decision", {})]),
    ("P5.8", "safety_check", [*TO_PREPARATION, WITHDRAWAL],
     [("prosecutor", "record_safety_check", {"complainant_id": "C1"})]),
    ("P6.4", "contact_details", [],
     [("officer_in_case", "record_contact_details", {"complainant_id": "C1"})]),
    ("P6.8", "addendum_vps", [*TO_PLEAS, ("prosecutor", "enter_pleas", {"guilty": True})],
     [("witness_care", "record_vps", {"vps": {"taken_on": _in_days(1), "addendum": True,
                                              "presentation": "read aloud"}})]),
    ("P6.9", "victims_right_to_review", [*TO_PREPARATION, ("prosecutor", "discontinue", {})],
     [("officer_in_case", "record_complainant_informed",
       {"complainant_id": "C1", "topic": "victims_right_to_review"})]),
    ("P9.2", "reverify_order_details", [*TO_PLEAS, ORDER_VIEWS, ("prosecutor", "list_hearing", {
        "hearing": {"kind": "trial", "on": InDays(30, at="10:00:00")}})],
     [("officer_in_case", "reverify_order_details", {})]),
    ("P9.4", "tell_order_conditions", TO_ORDER,
     [("officer_in_case", "record_complainant_informed",
       {"complainant_id": "C1", "topic": "order_conditions", "shared_with": ["ISAC"]})]),
    ("PACE s.47ZB", "bail_expiry", [("officer_in_case", "record_bail", {"bail": {
        "granted_on": _in_days(0), "conditions": ["no contact"],
        "complainant_views": "agrees", "expires_on": _in_days(20)}})],
     TO_PREPARATION),
    ("MCA 1980 s.127", "summary_time_limit", [("officer_in_case", "add_candidate_offence", {
        "offence": "pha1997_s2a", "last_act_on": _in_days(-150)})], TO_PREPARATION),
    ("Victims' Code Right 7", "hearing_reminder", [*TO_PREPARATION, ("witness_care", "list_hearing", {
        "hearing": {"kind": "first_hearing", "on": InDays(21, at="10:00:00")}})],
     [("witness_care", "record_complainant_informed",
       {"complainant_id": "C1", "topic": "hearing"})]),
]


@pytest.mark.parametrize(("rule", "kind", "opening", "meeting"), TIMER_RULES,
                         ids=[f"{r[0]}-{r[1]}" for r in TIMER_RULES])
async def test_timer_rule_opens_reminds_escalates_and_closes(
        skipping_env: Any, skipping_worker: str, engine: Any, rule: str, kind: str,
        opening: list[Step], meeting: list[Step]) -> None:
    """P3.7 P4.7 P4.9 P4.10 P4.13 P5.6 P5.8 P6.4 P6.8 P6.9 P9.2 P9.4 (and PACE s.47ZB,
    MCA 1980 s.127, hearing reminders): open, remind, escalate, close."""
    case = await TimedCase.start(skipping_env, skipping_worker, engine)
    await case.steps(opening)
    deadline = await case.deadline(kind)
    assert deadline is not None, f"{kind} did not open"
    assert deadline.rule == rule

    await case.sleep_past(deadline.remind_at)
    snapshot = await case.case()
    assert snapshot.deadline_marks[deadline.deadline_id].reminded_at is not None
    reminders = [r for r in case.outbox(deadline.deadline_id) if ":remind:" in r.idempotency_key]
    assert reminders and reminders[0].audience == deadline.owner_role.value

    await case.sleep_past(deadline.due_at)
    snapshot = await case.case()
    assert snapshot.deadline_marks[deadline.deadline_id].escalated_at is not None
    escalations = [h for h in await case.history() if h.action == "escalate_deadline"
                   and rule in h.rules]
    assert escalations, "the escalation is recorded in the history"
    notified = {r.audience for r in case.outbox(deadline.deadline_id)
                if ":escalate:" in r.idempotency_key}
    assert Role.MANAGER.value in notified
    assert notified & {Role.POLICE_SPOC.value, Role.CPS_SPOC.value}

    await case.steps(meeting)
    closed = await case.case()
    assert kind not in {d.kind for d in closed.deadlines if d.deadline_id == deadline.deadline_id}
    assert closed.deadline_marks[deadline.deadline_id].met_at is not None


async def test_p4_9_deadline_met_in_time_is_never_escalated(
        skipping_env: Any, skipping_worker: str, engine: Any) -> None:
    case = await TimedCase.start(skipping_env, skipping_worker, engine)
    await case.steps(TO_PREPARATION)
    deadline = await case.deadline("tell_charging_decision")
    assert deadline is not None
    await case.act("officer_in_case", "record_complainant_informed", complainant_id="C1",
                   topic="charging_decision")
    await case.sleep_past(deadline.due_at + timedelta(days=3))
    snapshot = await case.case()
    assert snapshot.deadline_marks[deadline.deadline_id].escalated_at is None
    assert not case.outbox(deadline.deadline_id)


async def test_p4_7_running_case_refuses_an_action_plan_date_on_a_bank_holiday(
        skipping_env: Any, skipping_worker: str, engine: Any) -> None:
    """The live update refuses it (422 through the API); replaying history never does."""
    case = await TimedCase.start(skipping_env, skipping_worker, engine)
    await case.steps(TO_CHARGING)
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await case.act("prosecutor", "make_charging_decision", action_plan=[
            {"item_id": "AP1", "description": "Phone download", "due_on": "2027-01-01"}])
    refusal = from_update_failure(failed.value, "test-request")
    assert refusal.status_code == 422
    assert "AP1" in str(refusal.detail) and "Monday 4 January 2027" in str(refusal.detail)
    assert (await case.case()).state.value == "charging"


async def test_p3_7_new_incident_makes_risk_review_due_next_working_day(
        skipping_env: Any, skipping_worker: str, engine: Any) -> None:
    case = await TimedCase.start(skipping_env, skipping_worker, engine)
    await case.act("officer_in_case", "record_risk_assessment",
                   **{**RISK, "assessment": {**RISK["assessment"], "assessed_on": InDays(0)}})
    before = await case.deadline("risk_review")
    assert before is not None
    await case.act("officer_in_case", "record_new_incident")
    after = await case.deadline("risk_review")
    now = await skipping_env.get_current_time()
    assert after is not None and after.due_at < before.due_at
    assert after.due_at == working_days_after(now, 1)


async def test_deadlines_survive_a_worker_restart(skipping_env: Any, engine: Any,
                                                   settings: Any) -> None:
    """A deadline opened under one worker is reminded and escalated by the next one."""
    queue = f"restart-{uuid.uuid4().hex[:8]}"
    with ThreadPoolExecutor(max_workers=4) as executor:
        # No sticky cache: the test server does not hand a dead worker's sticky tasks back.
        async with build_worker(skipping_env.client, settings, engine, executor, task_queue=queue,
                                max_cached_workflows=0):
            case = await TimedCase.start(skipping_env, queue, engine)
            deadline = await case.deadline("contact_details")
            assert deadline is not None
            await case.settled()
        # no worker now: the deadline's timer is held by the server alone
        async with build_worker(skipping_env.client, settings, engine, executor, task_queue=queue):
            await case.sleep_past(deadline.due_at)
            snapshot = await case.case()
    marks = snapshot.deadline_marks[deadline.deadline_id]
    assert marks.reminded_at is not None and marks.escalated_at is not None


async def test_three_year_order_is_watched_then_closes_with_bounded_history(
        skipping_env: Any, skipping_worker: str, engine: Any) -> None:
    """P9.4 / restraining_order: a 3-year order keeps the case open, continues as new, and
    closes by itself (order_expired) the day after the order ends."""
    case = await TimedCase.start(skipping_env, skipping_worker, engine, max_history_events=60)
    await case.act("officer_in_case", "record_contact_details", complainant_id="C1")
    order_steps = [*TO_ORDER[:-1], ("prosecutor", "make_restraining_order", {"orders": [
        {"protected_person_id": "C1", "conditions": ["no contact"], "made_on": InDays(0),
         "expires_on": InDays(3 * 365)}]})]
    await case.steps(order_steps)
    await case.act("officer_in_case", "record_complainant_informed", complainant_id="C1",
                   topic="order_conditions")
    first_run = (await case.handle.describe()).run_id
    for _ in range(12):  # three years, a quarter at a time: risk reviews fall due throughout
        await skip_time(skipping_env, timedelta(days=92))
    await skip_time(skipping_env, timedelta(days=10))
    result = await case.handle.result()
    assert result.state.value == "closed" and result.outcome.value == "order_expired"
    assert (await case.handle.describe()).run_id != first_run, "continued as new on the way"
    history = await case.handle.fetch_history()
    assert len(history.events) < 400


def test_working_days_skip_christmas_bank_holidays() -> None:
    # Thu 24 Dec 2026 + 1 working day: Fri 25 (Christmas), Mon 28 (Boxing Day observed) skipped.
    assert add_working_days(date(2026, 12, 24), 1) == date(2026, 12, 29)


def test_working_days_skip_easter() -> None:
    assert add_working_days(date(2027, 3, 25), 1) == date(2027, 3, 30)


def test_deadline_time_stays_at_five_pm_london_across_the_clock_change() -> None:
    # BST starts 29 March 2026: 17:00 London is 17:00 UTC before, 16:00 UTC after.
    assert at_local(date(2026, 3, 27)).hour == 17
    assert at_local(date(2026, 3, 30)).hour == 16
    friday_before = datetime(2026, 3, 27, 12, tzinfo=UTC)
    assert working_days_after(friday_before, 1) == datetime(2026, 3, 30, 16, tzinfo=UTC)
