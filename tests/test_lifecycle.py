"""The protocol as a state machine, tested without Temporal: states, roles, every GUARD by
its rule id (protocol-rules.md), the history that apply() records, and the transitions."""

from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

import pytest

from api.errors import refusal_http
from models.actions import ActionRequest, Refusal
from models.case import Actor, CaseFile
from models.enums import CaseState, DecidedBy, Outcome, Role, Verdict
from models.offences import OFFENCES, Offence, most_serious_first
from tests.factories import (
    HAPPY_PATH,
    MANAGER,
    NOW,
    OFFICER,
    PROSECUTOR,
    WITNESS_CARE,
    act,
    actor,
    case_in,
    opened,
    request,
    standard_risk,
)
from workflows.calendar import london_today
from workflows.lifecycle import LIFECYCLE, apply, check, diagram

S = CaseState
LATER = NOW + timedelta(days=3)


# --- helpers ------------------------------------------------------------------------------
def attempt(case: CaseFile, who: Actor, action: str, *, at: Any = NOW,
            **overrides: Any) -> Refusal | None:
    """check() an action built from its example body with `overrides`."""
    return check(case, request(who, action, **overrides), at)


def assert_refused(refusal: Refusal | None, rule: str, *fragments: str) -> None:
    assert refusal is not None, f"expected a {rule} refusal, the action was allowed"
    assert refusal.rule == rule, refusal
    for fragment in fragments:
        assert fragment in refusal.message, refusal.message


def allowed_actor(kind: str) -> Actor:
    """An actor in the case's area whose role the action lists (first in Role order)."""
    return actor(next(r for r in Role if r in LIFECYCLE[kind].roles))


def first_allowed_state(kind: str) -> CaseState:
    return next(s for s in S if s in LIFECYCLE[kind].states)


@cache
def _cached_case(state: CaseState) -> CaseFile:
    """Read-only cases for the matrix tests (check() never mutates: tested below)."""
    return case_in(state)


def assessed(**new_case: Any) -> CaseFile:
    """A case in investigation whose complainant C1 has a standard risk assessment."""
    return act(opened(**new_case), OFFICER, "record_risk_assessment", assessment=standard_risk())


def high_risk() -> dict[str, Any]:
    return standard_risk() | {"level": "high", "assessed_on": NOW.date().isoformat()}


def harassment_charging() -> CaseFile:
    """A harassment (not stalking) case under charging review, stalking already considered."""
    return act(case_in(S.CHARGING, stalking=False), PROSECUTOR, "record_stalking_considered",
               decision="Not stalking", reasons="No fixation or surveillance.")


def convicted_at_trial(*, views: bool = True, reverified: bool = True) -> CaseFile:
    case = act(case_in(S.TRIAL), PROSECUTOR, "record_verdict", verdict="convicted")
    if views:
        case = act(case, OFFICER, "record_order_views")
    if reverified:
        case = act(case, OFFICER, "reverify_order_details")
    return case


def with_plea_authority(case: CaseFile, *, views: bool) -> CaseFile:
    case = act(case, MANAGER, "record_manager_authority")
    if views:
        case = act(case, PROSECUTOR, "record_complainant_plea_views")
    return case


# --- states and access --------------------------------------------------------------------
STATE_PAIRS = [(state, kind) for state in S for kind in LIFECYCLE]


@pytest.mark.parametrize(("state", "kind"), STATE_PAIRS,
                         ids=[f"{s.value}-{k}" for s, k in STATE_PAIRS])
def test_action_is_refused_with_state_exactly_outside_its_allowed_states(
        state: CaseState, kind: str) -> None:
    refusal = attempt(_cached_case(state), allowed_actor(kind), kind)
    if state in LIFECYCLE[kind].states:
        assert refusal is None or refusal.rule != "STATE", refusal
    else:
        assert_refused(refusal, "STATE",
                       f"'{kind}' is not allowed while the case is in {state.value}")


ROLE_PAIRS = [(kind, role) for kind, spec in LIFECYCLE.items() for role in Role
              if role not in spec.roles]


@pytest.mark.parametrize(("kind", "role"), ROLE_PAIRS,
                         ids=[f"{k}-{r.value}" for k, r in ROLE_PAIRS])
def test_action_refuses_a_role_it_does_not_list(kind: str, role: Role) -> None:
    case = _cached_case(first_allowed_state(kind))
    assert_refused(attempt(case, actor(role), kind), "ACCESS",
                   f"a {role.value} cannot take it")


@pytest.mark.parametrize("kind", list(LIFECYCLE))
def test_action_refuses_an_actor_from_another_area(kind: str) -> None:
    case = _cached_case(first_allowed_state(kind))
    outsider = allowed_actor(kind).model_copy(update={"area": "south"})
    # Refused as if the case did not exist: the answer must not say that it does.
    assert_refused(attempt(case, outsider, kind), "NOT_FOUND", f"No case {case.reference}.")


# --- P3.7 risk ----------------------------------------------------------------------------
def test_p3_7_referral_needs_every_complainant_risk_assessed() -> None:
    case = case_in(S.INVESTIGATION)
    assert_refused(attempt(case, OFFICER, "refer_to_cps"), "P3.7", "risk assessment", "C1")
    case = act(case, OFFICER, "record_risk_assessment", assessment=standard_risk())
    assert attempt(case, OFFICER, "refer_to_cps") is None


def test_p3_7_police_charging_decision_needs_risk_assessment() -> None:
    case = case_in(S.INVESTIGATION)
    assert_refused(attempt(case, OFFICER, "make_charging_decision"), "P3.7", "C1")
    case = act(case, OFFICER, "record_risk_assessment", assessment=standard_risk())
    assert attempt(case, OFFICER, "make_charging_decision") is None


def test_p3_7_prosecutor_decision_needs_a_complainant_added_after_referral_assessed() -> None:
    case = act(case_in(S.CHARGING), OFFICER, "add_complainant")
    refusal = attempt(case, PROSECUTOR, "make_charging_decision")
    assert_refused(refusal, "P3.7", "C2")
    assert "C1" not in refusal.message  # type: ignore[union-attr]
    case = act(case, OFFICER, "record_risk_assessment", complainant_id="C2",
               assessment=standard_risk())
    assert attempt(case, PROSECUTOR, "make_charging_decision") is None


def test_p3_7_other_risk_tool_must_be_named() -> None:
    case = case_in(S.INVESTIGATION)
    other = standard_risk() | {"tool": "other"}
    assert_refused(attempt(case, OFFICER, "record_risk_assessment", assessment=other),
                   "P3.7", "Name the risk tool")
    named = other | {"tool_name": "Stalking Risk Profile"}
    assert attempt(case, OFFICER, "record_risk_assessment", assessment=named) is None


def test_p3_7_high_risk_needs_marac_or_mappa_considered_before_charge() -> None:
    case = act(case_in(S.CHARGING), OFFICER, "record_risk_assessment", assessment=high_risk())
    assert_refused(attempt(case, PROSECUTOR, "make_charging_decision"), "P3.7",
                   "high", "MARAC", "C1")
    case = act(case, OFFICER, "record_multi_agency_referral")
    assert attempt(case, PROSECUTOR, "make_charging_decision") is None


def test_p3_7_high_risk_does_not_hold_up_further_investigation() -> None:
    case = act(case_in(S.CHARGING), OFFICER, "record_risk_assessment", assessment=high_risk())
    assert attempt(case, PROSECUTOR, "make_charging_decision",
                   decision="further_investigation") is None


# --- P3.10, P3.11 -------------------------------------------------------------------------
def test_p3_10_harassment_only_charge_needs_stalking_considered() -> None:
    case = case_in(S.CHARGING, stalking=False)
    charge_s4 = {"charges": [Offence.HARASSMENT_FEAR_OF_VIOLENCE]}
    assert_refused(attempt(case, PROSECUTOR, "make_charging_decision", **charge_s4),
                   "P3.10", "record_stalking_considered")
    case = act(case, PROSECUTOR, "record_stalking_considered",
               decision="Not stalking", reasons="No fixation or surveillance.")
    assert attempt(case, PROSECUTOR, "make_charging_decision", **charge_s4) is None


def test_p3_11_no_pin_in_stalking_but_allowed_in_harassment() -> None:
    assert_refused(attempt(case_in(S.INVESTIGATION), OFFICER, "issue_pin"),
                   "P3.11", "stalking case")
    assert attempt(case_in(S.INVESTIGATION, stalking=False), OFFICER, "issue_pin") is None


# --- P4.2, P4.3 ---------------------------------------------------------------------------
def test_p4_2_stalking_case_charged_as_harassment_needs_reasons() -> None:
    case = act(case_in(S.CHARGING), PROSECUTOR, "record_stalking_considered",
               decision="Stalking behaviour", reasons="Repeated following.")
    charge_s4 = {"charges": [Offence.HARASSMENT_FEAR_OF_VIOLENCE]}
    assert_refused(attempt(case, PROSECUTOR, "make_charging_decision", **charge_s4),
                   "P4.2", "s.2A or s.4A", "harassment_reasons")
    assert attempt(case, PROSECUTOR, "make_charging_decision", **charge_s4,
                   harassment_reasons="Fear of violence, no fixation evidenced.") is None


def test_p4_2_not_p3_10_refuses_s4_in_a_stalking_case_with_nothing_recorded() -> None:
    """§4.2: in a stalking case s.2A/s.4A is the starting point; P3.10 is for a case treated
    as harassment, so a stalking case needs the reasons, not a 'stalking considered' record."""
    case = case_in(S.CHARGING)
    assert case.stalking and case.stalking_considered is None
    for charges in ([Offence.HARASSMENT_FEAR_OF_VIOLENCE], [Offence.HARASSMENT]):
        assert_refused(attempt(case, PROSECUTOR, "make_charging_decision", charges=charges),
                       "P4.2", "s.2A or s.4A", "harassment_reasons")
    assert attempt(case, PROSECUTOR, "make_charging_decision",
                   charges=[Offence.HARASSMENT_FEAR_OF_VIOLENCE],
                   harassment_reasons="Fear of violence, no fixation evidenced.") is None


def test_p4_3_domestic_abuse_case_cannot_be_charged_by_police() -> None:
    case = assessed(domestic_abuse=True)
    assert_refused(attempt(case, OFFICER, "make_charging_decision"), "P4.3",
                   "domestic-abuse", "referred to the CPS")
    referred = case_in(S.CHARGING, domestic_abuse=True)
    assert attempt(referred, PROSECUTOR, "make_charging_decision") is None


def test_p4_3_police_cannot_decide_after_referral() -> None:
    case = case_in(S.CHARGING)
    assert_refused(attempt(case, OFFICER, "make_charging_decision"), "P4.3",
                   "has been referred", "prosecutor's")
    assert attempt(case, PROSECUTOR, "make_charging_decision") is None


def test_p4_3_police_cannot_decide_a_case_the_cps_sent_back_for_investigation() -> None:
    case = act(case_in(S.CHARGING), PROSECUTOR, "make_charging_decision",
               decision="further_investigation")
    assert_refused(attempt(case, OFFICER, "make_charging_decision"), "P4.3",
                   "has been referred")
    case = act(case, OFFICER, "refer_to_cps")
    case = act(case, PROSECUTOR, "begin_charging_review")
    assert attempt(case, PROSECUTOR, "make_charging_decision") is None


def test_p4_3_prosecutor_decides_only_under_charging_review() -> None:
    assert_refused(attempt(assessed(), PROSECUTOR, "make_charging_decision"), "P4.3",
                   "under charging review")
    assert attempt(case_in(S.CHARGING), PROSECUTOR, "make_charging_decision") is None


# --- P4.5 ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("missing", "expected"), [
    ({"statements": 0}, "the statements"),
    ({"mg2_included": False}, "an MG2"),
    ({"risk_documentation": False}, "the risk documentation"),
], ids=["statements", "mg2", "risk_documentation"])
def test_p4_5_referral_must_carry_its_contents(missing: dict[str, Any], expected: str) -> None:
    case = assessed()
    assert_refused(attempt(case, OFFICER, "refer_to_cps", **missing), "P4.5", expected)
    assert attempt(case, OFFICER, "refer_to_cps") is None


def test_p4_5_mg2_is_needed_only_where_special_measures_may_be_needed() -> None:
    assert attempt(assessed(), OFFICER, "refer_to_cps", special_measures_may_be_needed=False,
                   mg2_included=False) is None


# --- P4.7 ---------------------------------------------------------------------------------
def test_p4_7_charging_decision_needs_reasons() -> None:
    case = case_in(S.CHARGING)
    assert_refused(attempt(case, PROSECUTOR, "make_charging_decision", reasons="  "),
                   "P4.7", "reasons")
    assert attempt(case, PROSECUTOR, "make_charging_decision",
                   reasons="Full Code Test met.") is None


def test_p4_7_decision_to_charge_names_the_charges() -> None:
    case = case_in(S.CHARGING)
    assert_refused(attempt(case, PROSECUTOR, "make_charging_decision", charges=[]),
                   "P4.7", "name the charges")
    assert attempt(case, PROSECUTOR, "make_charging_decision",
                   charges=[Offence.STALKING]) is None


def test_p4_7_charge_needs_action_plan_unless_no_further_work() -> None:
    case = case_in(S.CHARGING)
    assert_refused(attempt(case, PROSECUTOR, "make_charging_decision", action_plan=[]),
                   "P4.7", "action plan", "no_further_work")
    assert attempt(case, PROSECUTOR, "make_charging_decision", action_plan=[],
                   no_further_work=True) is None


def test_p4_7_further_investigation_needs_action_plan() -> None:
    case = case_in(S.CHARGING)
    assert_refused(attempt(case, PROSECUTOR, "make_charging_decision",
                           decision="further_investigation", action_plan=[]),
                   "P4.7", "action plan")
    assert attempt(case, PROSECUTOR, "make_charging_decision",
                   decision="further_investigation") is None


@pytest.mark.parametrize(("due_on", "next_working_day"), [
    ("2027-01-01", "Monday 4 January 2027 (2027-01-04)"),  # New Year's Day, a Friday
    ("2026-12-19", "Monday 21 December 2026 (2026-12-21)"),  # a Saturday
    ("2026-12-25", "Tuesday 29 December 2026 (2026-12-29)"),  # Christmas, then Boxing Day (Mon)
])
def test_p4_7_action_plan_date_on_a_non_working_day_is_refused_naming_the_next_working_day(
        due_on: str, next_working_day: str) -> None:
    case = case_in(S.CHARGING)
    plan = [{"item_id": "AP1", "description": "Obtain phone download", "due_on": "2026-12-15"},
            {"item_id": "AP2", "description": "Interview the neighbour", "due_on": due_on}]
    refusal = attempt(case, PROSECUTOR, "make_charging_decision", action_plan=plan)
    assert_refused(refusal, "INPUT", "AP2", due_on, "not a working day", next_working_day)
    assert refusal is not None and refusal_http(refusal.rule, refusal.message).status_code == 422
    plan[1]["due_on"] = next_working_day[-11:-1]
    assert attempt(case, PROSECUTOR, "make_charging_decision", action_plan=plan) is None


# --- P4.8 ---------------------------------------------------------------------------------
def test_p4_8_no_postal_requisition_in_stalking() -> None:
    case = case_in(S.CHARGING)
    assert_refused(attempt(case, PROSECUTOR, "make_charging_decision", postal_requisition=True,
                           postal_requisition_justification="Suspect abroad."),
                   "P4.8", "must not be used in a stalking case")
    assert attempt(case, PROSECUTOR, "make_charging_decision", postal_requisition=False) is None


def test_p4_8_no_postal_requisition_when_a_stalking_offence_is_charged() -> None:
    case = harassment_charging()
    assert_refused(attempt(case, PROSECUTOR, "make_charging_decision", postal_requisition=True,
                           postal_requisition_justification="Low risk.",
                           charges=[Offence.STALKING_FEAR_OR_DISTRESS]),
                   "P4.8", "stalking case")


def test_p4_8_harassment_postal_requisition_needs_justification() -> None:
    case = harassment_charging()
    charge = {"charges": [Offence.HARASSMENT_FEAR_OF_VIOLENCE], "postal_requisition": True}
    assert_refused(attempt(case, PROSECUTOR, "make_charging_decision", **charge),
                   "P4.8", "justification", "risk to the complainant")
    assert attempt(case, PROSECUTOR, "make_charging_decision", **charge,
                   postal_requisition_justification="Suspect moved abroad; risk low.") is None


# --- P4.10, P4.11, P4.13 ------------------------------------------------------------------
def test_p4_10_threshold_test_charge_records_further_evidence_expected() -> None:
    case = case_in(S.CHARGING)
    assert_refused(attempt(case, PROSECUTOR, "make_charging_decision", test="threshold"),
                   "P4.10", "further evidence expected")
    assert attempt(case, PROSECUTOR, "make_charging_decision", test="threshold",
                   further_evidence_expected="Phone download",
                   further_evidence_due_on="2026-12-15") is None


def test_p4_10_threshold_test_charge_records_the_date_evidence_is_due() -> None:
    assert_refused(attempt(case_in(S.CHARGING), PROSECUTOR, "make_charging_decision",
                           test="threshold", further_evidence_expected="Phone download"),
                   "P4.10", "the date")


def test_p4_11_bail_conditions_record_complainant_views() -> None:
    case = case_in(S.INVESTIGATION)
    bail = {"granted_on": "2026-11-20", "conditions": ["no contact"]}
    assert_refused(attempt(case, OFFICER, "record_bail", bail=bail), "P4.11",
                   "complainant's views")
    assert attempt(case, OFFICER, "record_bail",
                   bail=bail | {"complainant_views": "Wants an exclusion zone."}) is None


def test_p4_13_bail_breach_needs_bail_recorded() -> None:
    case = case_in(S.INVESTIGATION)
    assert_refused(attempt(case, OFFICER, "report_bail_breach"), "P4.13", "No pre-charge bail")
    case = act(case, OFFICER, "record_bail")
    assert attempt(case, OFFICER, "report_bail_breach") is None


# --- P5 -----------------------------------------------------------------------------------
def test_p5_2_guilty_plea_needs_vps_and_order_views() -> None:
    case = case_in(S.PREPARATION)
    assert_refused(attempt(case, PROSECUTOR, "indicate_guilty_plea"), "P5.2",
                   "C1: VPS", "C1: views on restraining-order conditions")
    case = act(case, WITNESS_CARE, "record_vps")
    case = act(case, OFFICER, "record_order_views")
    assert attempt(case, PROSECUTOR, "indicate_guilty_plea") is None


def test_p5_2_guilty_plea_needs_risk_assessment_for_every_complainant() -> None:
    case = act(case_in(S.PREPARATION), OFFICER, "add_complainant")
    for cid in ("C1", "C2"):
        case = act(case, WITNESS_CARE, "record_vps", complainant_id=cid)
        case = act(case, OFFICER, "record_order_views", complainant_id=cid)
    assert_refused(attempt(case, PROSECUTOR, "indicate_guilty_plea"), "P5.2",
                   "C2: risk assessment")
    case = act(case, OFFICER, "record_risk_assessment", complainant_id="C2",
               assessment=standard_risk())
    assert attempt(case, PROSECUTOR, "indicate_guilty_plea") is None


def withdrawal(statement: dict[str, Any] | None = None,
               officer_report: dict[str, Any] | None = None) -> dict[str, Any]:
    from api.examples import ACTION_EXAMPLES

    example = ACTION_EXAMPLES["record_withdrawal"]
    return {"statement": example["statement"] | (statement or {}),
            "officer_report": example["officer_report"] | (officer_report or {})}


def test_p5_3_withdrawal_statement_covers_every_point() -> None:
    case = case_in(S.PREPARATION)
    assert_refused(attempt(case, OFFICER, "record_withdrawal",
                           **withdrawal(statement={"pressure": None})),
                   "P5.3", "§5.3", "pressure")
    assert attempt(case, OFFICER, "record_withdrawal", **withdrawal()) is None


def test_p5_4_officer_report_on_withdrawal_covers_every_point() -> None:
    case = case_in(S.PREPARATION)
    assert_refused(attempt(case, OFFICER, "record_withdrawal",
                           **withdrawal(officer_report={"safety_risks": " "})),
                   "P5.4", "§5.4", "safety_risks")
    assert attempt(case, OFFICER, "record_withdrawal", **withdrawal()) is None


def test_p5_7_witness_summons_needs_last_resort_reason() -> None:
    case = act(case_in(S.PREPARATION), PROSECUTOR, "record_safety_check")
    assert_refused(attempt(case, PROSECUTOR, "apply_witness_summons", last_resort_reason=None),
                   "P5.7", "last resort")
    assert attempt(case, PROSECUTOR, "apply_witness_summons",
                   last_resort_reason="Only eyewitness to the threats.") is None


def test_p5_8_witness_summons_needs_safety_check() -> None:
    case = case_in(S.PREPARATION)
    assert_refused(attempt(case, PROSECUTOR, "apply_witness_summons"), "P5.8",
                   "Record a safety check")
    case = act(case, PROSECUTOR, "record_safety_check")
    assert attempt(case, PROSECUTOR, "apply_witness_summons") is None


def test_p5_8_no_witness_summons_when_safety_check_found_risk() -> None:
    case = act(case_in(S.PREPARATION), PROSECUTOR, "record_safety_check",
               children_and_dependents_safe=False)
    assert_refused(attempt(case, PROSECUTOR, "apply_witness_summons"), "P5.8",
                   "found a risk")
    case = act(case, PROSECUTOR, "record_safety_check", at=LATER)
    assert attempt(case, PROSECUTOR, "apply_witness_summons", at=LATER) is None


# --- P6 -----------------------------------------------------------------------------------
def test_p6_1_support_referral_needs_consent() -> None:
    case = case_in(S.INVESTIGATION)
    referral = {"service": "Local ISAC service", "referred_on": "2026-11-20"}
    assert_refused(attempt(case, WITNESS_CARE, "refer_to_support_service",
                           referral=referral | {"consent": False}), "P6.1", "consent")
    assert attempt(case, WITNESS_CARE, "refer_to_support_service",
                   referral=referral | {"consent": True}) is None


def test_p6_7_first_hearing_needs_vps_or_reason_not_taken() -> None:
    case = case_in(S.PREPARATION)
    assert_refused(attempt(case, PROSECUTOR, "record_first_appearance"), "P6.7",
                   "C1: a VPS or the reason it was not taken")
    case = act(case, WITNESS_CARE, "record_vps",
               vps={"not_taken_reason": "Declined for now", "presentation": "not presented"})
    assert attempt(case, PROSECUTOR, "record_first_appearance") is None


def test_p6_7_first_hearing_needs_vps_presentation_preference() -> None:
    case = act(case_in(S.PREPARATION), WITNESS_CARE, "record_vps",
               vps={"taken_on": "2026-11-20"})
    assert_refused(attempt(case, PROSECUTOR, "record_first_appearance"), "P6.7",
                   "how the VPS is to be presented")
    case = act(case, WITNESS_CARE, "record_vps",
               vps={"taken_on": "2026-11-20", "presentation": "read by the complainant"})
    assert attempt(case, PROSECUTOR, "record_first_appearance") is None


# --- P7.2, P7.3 ---------------------------------------------------------------------------
def test_p7_2_harassment_plea_to_stalking_charge_needs_compelling_reasons() -> None:
    from api.examples import ACTION_EXAMPLES

    case = with_plea_authority(case_in(S.PLEAS), views=True)
    full = ACTION_EXAMPLES["accept_lesser_plea"]["compelling_reasons"]
    assert_refused(attempt(case, PROSECUTOR, "accept_lesser_plea",
                           compelling_reasons=full | {"new_evidence": None}),
                   "P7.2", "compelling reasons", "new_evidence")
    assert attempt(case, PROSECUTOR, "accept_lesser_plea", compelling_reasons=full) is None


def test_p7_3_lesser_plea_needs_manager_authority() -> None:
    assert_refused(attempt(case_in(S.PLEAS), PROSECUTOR, "accept_lesser_plea"), "P7.3",
                   "manager's authority")


def test_p7_3_lesser_plea_needs_complainant_views_after_authority() -> None:
    case = with_plea_authority(case_in(S.PLEAS), views=False)
    assert_refused(attempt(case, PROSECUTOR, "accept_lesser_plea"), "P7.3",
                   "complainant's views")
    case = act(case, PROSECUTOR, "record_complainant_plea_views")
    assert attempt(case, PROSECUTOR, "accept_lesser_plea") is None


def test_p7_3_complainant_views_taken_only_after_manager_authority() -> None:
    case = case_in(S.PLEAS)
    assert_refused(attempt(case, PROSECUTOR, "record_complainant_plea_views"), "P7.3",
                   "manager's authority must be recorded before")
    case = act(case, MANAGER, "record_manager_authority")
    assert attempt(case, PROSECUTOR, "record_complainant_plea_views") is None


def test_p7_3_offering_no_evidence_at_court_needs_authority_then_views() -> None:
    case = case_in(S.TRIAL)
    assert_refused(attempt(case, PROSECUTOR, "discontinue"), "P7.3", "manager's authority")
    case = with_plea_authority(case, views=True)
    assert attempt(case, PROSECUTOR, "discontinue") is None


def test_p7_3_discontinuance_before_first_appearance_needs_no_authority() -> None:
    assert attempt(case_in(S.PREPARATION), PROSECUTOR, "discontinue") is None


# --- P9.1, P9.2 ---------------------------------------------------------------------------
def test_p9_1_order_application_needs_a_verdict() -> None:
    case = act(case_in(S.TRIAL), OFFICER, "record_order_views")
    case = act(case, OFFICER, "reverify_order_details")
    assert_refused(attempt(case, PROSECUTOR, "apply_restraining_order"), "P9.1",
                   "record the verdict first")
    case = act(case, PROSECUTOR, "record_verdict", verdict="acquitted")
    assert attempt(case, PROSECUTOR, "apply_restraining_order") is None


def test_p9_2_order_application_needs_complainant_views() -> None:
    case = convicted_at_trial(views=False)
    assert_refused(attempt(case, PROSECUTOR, "apply_restraining_order"), "P9.2",
                   "views on the order", "C1")
    case = act(case, OFFICER, "record_order_views")
    assert attempt(case, PROSECUTOR, "apply_restraining_order") is None


def test_p9_2_order_details_must_be_reverified() -> None:
    case = convicted_at_trial(reverified=False)
    assert_refused(attempt(case, PROSECUTOR, "apply_restraining_order"), "P9.2", "Re-verify")
    case = act(case, OFFICER, "reverify_order_details")
    assert attempt(case, PROSECUTOR, "apply_restraining_order") is None


def test_p9_2_reverification_more_than_14_days_old_is_stale() -> None:
    case = convicted_at_trial()  # re-verified at NOW
    stale = NOW + timedelta(days=14, seconds=1)
    assert_refused(attempt(case, PROSECUTOR, "apply_restraining_order", at=stale), "P9.2",
                   "within 14 days")
    case = act(case, OFFICER, "reverify_order_details", at=stale)
    assert attempt(case, PROSECUTOR, "apply_restraining_order", at=stale) is None


def test_p9_2_reverification_14_days_old_is_still_fresh() -> None:
    assert attempt(convicted_at_trial(), PROSECUTOR, "apply_restraining_order",
                   at=NOW + timedelta(days=14)) is None


def test_p9_2_address_change_after_reverification_reopens_the_check() -> None:
    moved_at = NOW + timedelta(hours=1)
    case = act(convicted_at_trial(), OFFICER, "record_address_change", at=moved_at)
    assert_refused(attempt(case, PROSECUTOR, "apply_restraining_order", at=moved_at), "P9.2",
                   "address changed", "C1")
    case = act(case, OFFICER, "reverify_order_details", at=moved_at + timedelta(hours=1))
    assert attempt(case, PROSECUTOR, "apply_restraining_order",
                   at=moved_at + timedelta(hours=2)) is None


# --- G.1, G.2 -----------------------------------------------------------------------------
def breach_case_in_charging() -> CaseFile:
    return case_in(S.CHARGING, offences=[Offence.BREACH_OF_RESTRAINING_ORDER],
                   linked_from="REF-0")


def test_g_1_breach_alone_needs_reasons_when_new_offences_recorded() -> None:
    case = act(breach_case_in_charging(), OFFICER, "add_candidate_offence")
    breach_only = {"charges": [Offence.BREACH_OF_RESTRAINING_ORDER]}
    assert_refused(attempt(case, PROSECUTOR, "make_charging_decision", **breach_only),
                   "G.1", "totality", "breach_only_reasons")
    assert attempt(case, PROSECUTOR, "make_charging_decision", **breach_only,
                   breach_only_reasons="Messages already charged on the linked case.") is None


def test_g_1_breach_alone_needs_no_reasons_without_new_offences() -> None:
    assert attempt(breach_case_in_charging(), PROSECUTOR, "make_charging_decision",
                   charges=[Offence.BREACH_OF_RESTRAINING_ORDER]) is None


def test_g_2_charges_listed_most_serious_first() -> None:
    given = [Offence.STALKING, Offence.MALICIOUS_COMMUNICATIONS,
             Offence.STALKING_FEAR_OR_DISTRESS, Offence.ASSAULT_ABH]
    case = act(case_in(S.CHARGING), PROSECUTOR, "make_charging_decision", charges=given)
    expected = [Offence.STALKING_FEAR_OR_DISTRESS, Offence.ASSAULT_ABH,  # 120, 60 months
                Offence.MALICIOUS_COMMUNICATIONS, Offence.STALKING]  # 24, 6 months
    assert case.charges == expected
    assert case.decisions[-1].charges == expected


def test_g_2_threats_to_kill_and_order_breaches_ranked_by_maximum_penalty() -> None:
    threats = Offence.THREATS_TO_KILL
    five_years = {Offence.BREACH_OF_NON_MOLESTATION_ORDER,
                  Offence.BREACH_OF_STALKING_PROTECTION_ORDER, Offence.THREATENING_COMMUNICATIONS}
    assert (OFFENCES[threats].statute, OFFENCES[threats].max_months) == (
        "Offences Against the Person Act 1861 s.16", 120)
    assert {(OFFENCES[o].statute, OFFENCES[o].max_months) for o in five_years} == {
        ("Family Law Act 1996 s.42A", 60), ("Stalking Protection Act 2019 s.8", 60),
        ("Online Safety Act 2023 s.181", 60)}
    assert not any(OFFENCES[o].summary_only for o in {threats, *five_years})
    given = [Offence.HARASSMENT, Offence.THREATENING_COMMUNICATIONS,
             Offence.MALICIOUS_COMMUNICATIONS, Offence.BREACH_OF_NON_MOLESTATION_ORDER,
             Offence.COMMON_ASSAULT, threats, Offence.BREACH_OF_STALKING_PROTECTION_ORDER]
    ranked = most_serious_first(given)
    assert ranked[0] is threats  # 10 years
    assert set(ranked[1:4]) == five_years  # 5 years each
    assert ranked[4] is Offence.MALICIOUS_COMMUNICATIONS  # 2 years
    assert set(ranked[5:]) == {Offence.HARASSMENT, Offence.COMMON_ASSAULT}  # 6 months
    months = [OFFENCES[o].max_months for o in ranked]
    assert months == sorted(months, reverse=True)
    case = act(case_in(S.CHARGING), PROSECUTOR, "make_charging_decision",
               charges=[Offence.STALKING_FEAR_OR_DISTRESS, *given])
    assert set(case.charges[:2]) == {threats, Offence.STALKING_FEAR_OR_DISTRESS}  # 10 years
    assert case.charges[2:] == ranked[1:]


# --- apply() ------------------------------------------------------------------------------
def referral_request(**kwargs: Any) -> ActionRequest:
    return request(OFFICER, "refer_to_cps", **kwargs)


def test_apply_increments_the_version_by_one() -> None:
    case = assessed()
    assert apply(case, referral_request(), LATER).case.version == case.version + 1


def test_apply_records_actor_time_action_states_and_reasons_in_history() -> None:
    case = assessed()
    applied = apply(case, referral_request(request_reasons="File complete."), LATER)
    after, entry = applied.case, applied.entry
    assert (entry.version, entry.at, entry.actor, entry.action) == (
        after.version, LATER, OFFICER, "refer_to_cps")
    assert (entry.state_before, entry.state_after) == (S.INVESTIGATION, S.REFERRAL)
    assert entry.reasons == "File complete."
    assert entry.rules == ["P4.5"]


def test_apply_records_the_action_reasons_when_the_request_gives_none() -> None:
    after = apply(case_in(S.CHARGING),
                  request(PROSECUTOR, "make_charging_decision", reasons="Full Code Test met."),
                  LATER)
    assert after.entry.reasons == "Full Code Test met."


def test_apply_moves_state_since_when_the_state_changes() -> None:
    after = apply(assessed(), referral_request(), LATER).case
    assert (after.state, after.state_since) == (S.REFERRAL, LATER)


def test_apply_keeps_state_since_when_the_state_stays() -> None:
    case = case_in(S.INVESTIGATION)
    after = apply(case, request(OFFICER, "record_new_incident"), LATER).case
    assert (after.state, after.state_since) == (S.INVESTIGATION, case.state_since)


@pytest.mark.parametrize("kind", list(LIFECYCLE))
def test_check_never_mutates_the_case(kind: str) -> None:
    case = case_in(first_allowed_state(kind))
    before = case.model_dump()
    check(case, request(allowed_actor(kind), kind), LATER)
    assert case.model_dump() == before


def _first_applicable(kind: str) -> tuple[CaseState, str] | None:
    who = allowed_actor(kind)
    for state in S:
        if (state in LIFECYCLE[kind].states
                and check(_cached_case(state), request(who, kind), NOW) is None):
            return state, kind
    return None


APPLICABLE = [pair for kind in LIFECYCLE if (pair := _first_applicable(kind))]


@pytest.mark.parametrize(("state", "kind"), APPLICABLE,
                         ids=[f"{s.value}-{k}" for s, k in APPLICABLE])
def test_apply_never_mutates_the_case(state: CaseState, kind: str) -> None:
    case = case_in(state)
    before = case.model_dump()
    apply(case, request(allowed_actor(kind), kind), LATER)
    assert case.model_dump() == before


@pytest.mark.parametrize("target", list(HAPPY_PATH), ids=[s.value for s in HAPPY_PATH])
def test_apply_never_mutates_the_case_along_the_happy_path(target: CaseState) -> None:
    case = case_in(list(S)[list(S).index(target) - 1])
    before = case.model_dump()
    HAPPY_PATH[target](case)
    assert case.model_dump() == before


# --- transitions --------------------------------------------------------------------------
def test_charging_can_send_the_case_back_to_investigation() -> None:
    case = act(case_in(S.CHARGING), PROSECUTOR, "make_charging_decision",
               decision="further_investigation")
    assert case.state is S.INVESTIGATION
    assert [i.item_id for i in case.action_plan] == ["AP1"]


def test_police_decision_charges_straight_from_investigation_in_a_non_da_case() -> None:
    case = act(assessed(), OFFICER, "make_charging_decision")
    assert case.state is S.PREPARATION
    assert case.decisions[-1].decided_by is DecidedBy.POLICE
    assert case.referral is None


def test_no_further_action_closes_the_case_with_that_outcome() -> None:
    case = act(case_in(S.CHARGING), PROSECUTOR, "make_charging_decision",
               decision="no_further_action", charges=[], action_plan=[])
    assert (case.state, case.outcome) == (S.CLOSED, Outcome.NO_FURTHER_ACTION)


def test_not_guilty_pleas_go_to_trial() -> None:
    case = act(case_in(S.PLEAS), PROSECUTOR, "enter_pleas", guilty=False)
    assert case.state is S.TRIAL


def test_guilty_pleas_record_a_conviction_and_stay_in_pleas() -> None:
    case = act(case_in(S.PLEAS), PROSECUTOR, "enter_pleas", guilty=True)
    assert (case.state, case.verdict) == (S.PLEAS, Verdict.CONVICTED)


@pytest.mark.parametrize("verdict", list(Verdict), ids=[v.value for v in Verdict])
def test_p9_1_order_application_leads_to_restraining_order_on_either_verdict(
        verdict: Verdict) -> None:
    case = act(case_in(S.TRIAL), PROSECUTOR, "record_verdict", verdict=verdict)
    case = act(case, OFFICER, "record_order_views")
    case = act(case, OFFICER, "reverify_order_details")
    case = act(case, PROSECUTOR, "apply_restraining_order")
    assert case.state is S.RESTRAINING_ORDER
    assert case.order_application is not None
    assert case.order_application.on_verdict is verdict


def test_close_case_refused_while_an_order_is_in_force() -> None:
    order = {"protected_person_id": "C1", "conditions": ["no contact"],
             "made_on": NOW.date().isoformat()}
    case = act(case_in(S.RESTRAINING_ORDER), PROSECUTOR, "make_restraining_order",
               orders=[order])
    assert_refused(attempt(case, PROSECUTOR, "close_case"), "LIFECYCLE", "in force")
    case = act(case, PROSECUTOR, "revoke_and_replace_order", replacements=[])
    assert attempt(case, PROSECUTOR, "close_case") is None


# --- today is London's date ---------------------------------------------------------------
# 23:30 UTC on 31 March 2027 is 00:30 on 1 April in London (BST since 28 March).
LATE_ON_31_MARCH_UTC = datetime(2027, 3, 31, 23, 30, tzinfo=UTC)


def test_today_is_londons_date_not_the_utc_date() -> None:
    assert london_today(LATE_ON_31_MARCH_UTC) == date(2027, 4, 1)
    assert london_today(datetime(2027, 1, 31, 23, 30, tzinfo=UTC)) == date(2027, 1, 31)  # GMT


def order_ending_31_march() -> CaseFile:
    order = {"protected_person_id": "C1", "conditions": ["no contact"],
             "made_on": NOW.date().isoformat(), "expires_on": "2027-03-31"}
    return act(case_in(S.RESTRAINING_ORDER), PROSECUTOR, "make_restraining_order",
               orders=[order])


def test_an_order_ending_31_march_is_over_at_2330_utc_that_day_in_summer_time() -> None:
    """The guards count an order's last day in London: at 00:30 on 1 April (London) an order
    that ended on 31 March no longer keeps the case open and cannot be breached."""
    case = order_ending_31_march()
    on_its_last_day = datetime(2027, 3, 31, 12, 0, tzinfo=UTC)
    assert_refused(attempt(case, PROSECUTOR, "close_case", at=on_its_last_day),
                   "LIFECYCLE", "in force")
    assert attempt(case, PROSECUTOR, "close_case", at=LATE_ON_31_MARCH_UTC) is None
    assert_refused(attempt(case, OFFICER, "report_order_breach", at=LATE_ON_31_MARCH_UTC),
                   "LIFECYCLE", "no longer in force")


def test_diagram_contains_every_state() -> None:
    drawn = diagram()
    assert drawn.startswith("stateDiagram-v2")
    for state in S:
        assert state.value in drawn, state
