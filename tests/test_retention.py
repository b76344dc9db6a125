"""The case file keeps what the guards and deadlines read, however many actions the case takes
(workflows/retention.py): thousands of records leave it small, and every deadline and guard
answers as it would with all of them."""

from datetime import timedelta

from models.enums import CaseState
from tests.factories import NOW, OFFICER, PROSECUTOR, act, case_in, history, opened, standard_risk
from workflows.deadlines import open_deadlines
from workflows.retention import CLIP, KEEP_LATEST


def _risk_review(case):
    return next(d for d in open_deadlines(case) if d.kind == "risk_review")


def test_p3_7_the_review_after_many_incidents_stays_dated_by_the_first() -> None:
    case = act(opened(), OFFICER, "record_risk_assessment", complainant_id="C1",
               assessment=standard_risk(), at=NOW)
    case = act(case, OFFICER, "record_new_incident", description="first", at=NOW + timedelta(hours=1))
    due = _risk_review(case).due_at
    for n in range(KEEP_LATEST * 3):
        case = act(case, OFFICER, "record_new_incident", description=f"later {n}",
                   at=NOW + timedelta(days=2, minutes=n))
    assert _risk_review(case).due_at == due
    assert len(case.incidents) <= KEEP_LATEST + 1
    assert case.recorded["record_new_incident"] == KEEP_LATEST * 3 + 1


def test_thousands_of_records_leave_the_file_small_and_counted() -> None:
    case = opened()
    size = len(case.model_dump_json())
    long_text = "x" * 5000
    for n in range(300):
        case = act(case, OFFICER, "record_evidence_item", item=f"page {n}", note=long_text)
        case = act(case, OFFICER, "record_conduct", conduct={
            "when": "before", "online": True, "description": long_text})
    assert case.recorded["record_evidence_item"] == 300
    assert len(case.evidence_checklist) <= KEEP_LATEST * 2 and len(case.conduct) <= KEEP_LATEST
    assert all(len(item.note) <= CLIP for item in case.evidence_checklist.values())
    # The whole text is in each action's history entry.
    assert long_text in (history(case)[-1].detail or "")
    assert len(case.model_dump_json()) < size + 40_000


def test_p5_8_safety_checks_are_kept_per_complainant() -> None:
    case = case_in(CaseState.PREPARATION)
    case = act(case, OFFICER, "add_complainant", complainant={
        "complainant_id": "C2", "name": "Complainant Two"})
    for cid in ("C1", "C2"):
        case = act(case, OFFICER, "record_withdrawal", complainant_id=cid)
    case = act(case, PROSECUTOR, "record_safety_check", complainant_id="C1")
    for _ in range(KEEP_LATEST * 2):
        case = act(case, PROSECUTOR, "record_safety_check", complainant_id="C2")
    assert not [d for d in open_deadlines(case) if d.kind == "safety_check"]
    assert [c.complainant_id for c in case.safety_checks].count("C1") == 1
