"""RECORD rules: each fact lands in the case file and in its history with who, when and why;
and the pure derivation of the deadlines some of them open or meet."""

from datetime import timedelta

from models.enums import CaseState
from tests.factories import NOW, OFFICER, PROSECUTOR, WITNESS_CARE, act, case_in, history, opened
from workflows.deadlines import open_deadlines


def _last(case):
    return history(case)[-1]


def test_p3_1_evidence_checklist_item_marked_done_with_note() -> None:
    case = act(opened(), OFFICER, "record_evidence_item", item="CCTV seized", note="3 cameras")
    assert case.evidence_checklist["CCTV seized"].note == "3 cameras"
    assert case.evidence_checklist["CCTV seized"].at == NOW
    assert _last(case).rules == ["P3.1"] and _last(case).actor == OFFICER


def test_p3_5_other_offending_recorded_as_candidate_offences_online_and_offline() -> None:
    case = act(opened(), OFFICER, "add_candidate_offence", offence="mca1988_s1", online=True)
    case = act(case, OFFICER, "add_candidate_offence", offence="cda1971_s1", online=False)
    offences = [(c.offence.value, c.online) for c in case.candidate_offences]
    assert ("mca1988_s1", True) in offences and ("cda1971_s1", False) in offences
    assert "P3.5" in _last(case).rules


def test_p3_9_altered_behaviour_answer_recorded_per_complainant() -> None:
    case = act(opened(), OFFICER, "record_altered_behaviour", complainant_id="C1",
               answer="Moved her car to a friend's street")
    assert case.complainant("C1").altered_behaviour == "Moved her car to a friend's street"  # type: ignore[union-attr]
    assert _last(case).rules == ["P3.9"]


def test_p6_5_special_measures_views_with_supporter() -> None:
    case = act(opened(), WITNESS_CARE, "record_special_measures_views", complainant_id="C1",
               views={"explained_on": "2026-11-20", "views": "Screens", "supporter": "ISAC",
                      "supporter_name": "R. Patel"})
    views = case.complainant("C1").special_measures  # type: ignore[union-attr]
    assert views is not None and views.supporter == "ISAC" and views.views == "Screens"
    assert _last(case).rules == ["P6.5"]


def test_p8_2_advocate_introduction_recorded_before_trial() -> None:
    case = act(case_in(CaseState.TRIAL), PROSECUTOR, "record_advocate_introduction")
    assert case.advocate_introduced_at == NOW
    assert _last(case).rules == ["P8.2"]


def test_p9_3_form_and_mg5_notice_recorded_on_the_application() -> None:
    case = case_in(CaseState.RESTRAINING_ORDER)
    application = case.order_application
    assert application is not None and application.form.value in ("MG3", "MG6")
    assert application.mg5_served is True
    entry = next(h for h in history(case) if h.action == "apply_restraining_order")
    assert "P9.3" in entry.rules


def _kinds(case):
    return {d.kind for d in open_deadlines(case)}


def test_p5_6_withdrawal_opens_a_decision_deadline_met_by_the_decision() -> None:
    case = act(case_in(CaseState.PREPARATION), OFFICER, "record_withdrawal")
    assert "withdrawal_decision" in _kinds(case)
    case = act(case, PROSECUTOR, "record_proceed_decision", at=NOW + timedelta(hours=1))
    assert "withdrawal_decision" not in _kinds(case)


def test_p6_8_conviction_opens_addendum_vps_offer_met_by_an_addendum() -> None:
    case = act(case_in(CaseState.PLEAS), PROSECUTOR, "enter_pleas", guilty=True)
    assert "addendum_vps" in _kinds(case)
    case = act(case, WITNESS_CARE, "record_vps", complainant_id="C1",
               vps={"taken_on": "2026-11-24", "addendum": True, "presentation": "read"})
    assert "addendum_vps" not in _kinds(case)


def test_p6_9_no_further_action_opens_victims_right_to_review_until_told() -> None:
    case = act(case_in(CaseState.CHARGING), PROSECUTOR, "make_charging_decision",
               decision="no_further_action", charges=[], action_plan=[])
    assert case.state is CaseState.CLOSED
    deadline = next(d for d in open_deadlines(case) if d.kind == "victims_right_to_review")
    assert deadline.rule == "P6.9" and deadline.due_at > NOW
    case = act(case, OFFICER, "record_complainant_informed", complainant_id="C1",
               topic="victims_right_to_review", at=NOW + timedelta(hours=2))
    assert "victims_right_to_review" not in _kinds(case)


def test_p9_4_order_made_opens_telling_its_conditions_met_when_told() -> None:
    case = act(case_in(CaseState.RESTRAINING_ORDER), PROSECUTOR, "make_restraining_order",
               orders=[{"protected_person_id": "C1", "conditions": ["no contact"],
                        "made_on": "2026-11-23"}])
    assert "tell_order_conditions" in _kinds(case)
    case = act(case, OFFICER, "record_complainant_informed", complainant_id="C1",
               topic="order_conditions", shared_with=["IDVA", "probation"],
               at=NOW + timedelta(hours=3))
    assert "tell_order_conditions" not in _kinds(case)
    assert case.notices[-1].shared_with == ["IDVA", "probation"]


def test_p4_13_bail_breach_puts_further_offences_before_the_prosecutor() -> None:
    case = act(opened(), OFFICER, "record_bail")
    case = act(case, OFFICER, "report_bail_breach", further_offences=["pha1997_s4a"],
               at=NOW + timedelta(hours=1))
    assert case.candidate_offences[-1].offence.value == "pha1997_s4a"
    deadline = next(d for d in open_deadlines(case) if d.kind == "breach_action")
    assert deadline.rule == "P4.13" and deadline.due_at == NOW + timedelta(hours=25)
    assert "prosecutor" in {r.value for r in deadline.escalate_to}
    case = act(case, OFFICER, "record_breach_action_taken", at=NOW + timedelta(hours=2))
    assert "breach_action" not in _kinds(case)
