"""Sentences recorded per charge: kind, term, consecutive or concurrent, the total custodial
term; the free text is a summary, and sentences recorded as free text alone still load."""

from datetime import date
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from models.actions import Action, RecordSentence
from models.case import CaseFile, ChargeSentence, total_term_months
from models.enums import CaseState, SentenceKind
from models.offences import Offence
from readmodel.monitoring import report_facts
from tests.factories import (
    NOW,
    OFFICER,
    PROSECUTOR,
    WITNESS_CARE,
    act,
    case_in,
    history,
    request,
)
from workflows.lifecycle import check

S4A, S4, BREACH = "pha1997_s4a", "pha1997_s4", "pha1997_s5_breach"


def convicted_of(*charges: str, **new_case: Any) -> CaseFile:
    """A case charged with these offences, guilty pleas entered."""
    case = case_in(CaseState.CHARGING, **new_case)
    if not case.stalking:  # P3.10: harassment is charged once stalking is considered
        case = act(case, PROSECUTOR, "record_stalking_considered")
    case = act(case, PROSECUTOR, "make_charging_decision", charges=list(charges))
    case = act(case, WITNESS_CARE, "record_vps")
    case = act(case, PROSECUTOR, "record_first_appearance")
    return act(case, PROSECUTOR, "enter_pleas", guilty=True)


def custodial(offence: str, months: float, **runs: str) -> dict[str, Any]:
    return {"offence": offence, "kind": "custodial", "months": months, **runs}


def test_consecutive_terms_add_up_to_the_total_in_custody() -> None:
    """16 months for stalking and 2 months for the breach, consecutive: 18 months."""
    case = act(convicted_of(S4A, BREACH), PROSECUTOR, "record_sentence", sentence=None,
               charges=[custodial(S4A, 16), custodial(BREACH, 2, consecutive_to=S4A)],
               sentenced_on="2024-02-20")
    sentencing = case.sentencing
    assert sentencing is not None and sentencing.total_custodial_months == 18
    assert [(c.offence.value, c.kind, c.months, c.consecutive_to) for c in sentencing.charges] \
        == [(S4A, SentenceKind.CUSTODIAL, 16, None),
            (BREACH, SentenceKind.CUSTODIAL, 2, Offence.STALKING_FEAR_OR_DISTRESS)]
    assert sentencing.sentenced_on == date(2024, 2, 20) and sentencing.summary is None
    # Without words given, the case says the sentence in words made from the charges.
    stalking = "stalking involving fear of violence or serious alarm or distress"
    assert case.sentence == (f"{stalking}: 16 months custodial; breach of a restraining order: "
                             f"2 months custodial, consecutive to {stalking}")
    entry = history(case)[-1]
    assert entry.action == "record_sentence" and "18 months in custody in total" in entry.summary


def test_a_concurrent_term_overlaps_the_one_it_runs_with() -> None:
    """Five years for harassment and two and a half years concurrent for the breach: five."""
    case = act(convicted_of(S4, BREACH, stalking=False), PROSECUTOR, "record_sentence",
               sentence="Five years, with two and a half years concurrent",
               charges=[custodial(S4, 60), custodial(BREACH, 30, concurrent_with=S4)])
    assert case.sentencing is not None and case.sentencing.total_custodial_months == 60
    assert case.sentence == case.sentencing.summary == \
        "Five years, with two and a half years concurrent"


def test_total_custody_follows_chains_and_leaves_out_other_kinds() -> None:
    charges = [ChargeSentence.model_validate(c) for c in (
        custodial(S4A, 12),
        custodial(BREACH, 6, consecutive_to=S4A),
        custodial("mca1988_s1", 9, concurrent_with=BREACH),  # starts at 12, ends at 21
        {"offence": "cda1971_s1", "kind": "suspended", "months": 24},
        {"offence": "cja1988_s39", "kind": "fine"},
    )]
    assert total_term_months(charges) == 21
    assert total_term_months(charges, SentenceKind.SUSPENDED) == 24
    assert total_term_months(charges[3:]) is None


def test_a_sentence_recorded_in_words_alone_still_loads_and_applies() -> None:
    """Actions recorded before sentences were structured: `sentence` was the only field."""
    old = TypeAdapter(Action).validate_python(
        {"kind": "record_sentence", "sentence": "16 months' imprisonment"})
    assert isinstance(old, RecordSentence) and old.charges == []
    case = act(convicted_of(S4A), PROSECUTOR, old)
    assert case.sentence == "16 months' imprisonment"
    assert case.sentencing is not None and case.sentencing.total_custodial_months is None
    assert history(case)[-1].summary == "sentence: 16 months' imprisonment"
    # A file written before sentences were structured loads with none.
    file = case.model_dump(mode="json")
    del file["sentencing"]
    assert CaseFile.model_validate(file).sentencing is None


@pytest.mark.parametrize(("body", "message"), [
    ({}, "per charge"),
    ({"charges": [{"offence": S4A, "kind": "custodial"}]}, "needs its term"),
    ({"charges": [{"offence": S4A, "kind": "fine", "months": 3}]}, "no term"),
    ({"charges": [custodial(S4A, 3, consecutive_to=BREACH)]}, "not sentenced here"),
    ({"charges": [custodial(S4A, 3), custodial(S4A, 4)]}, "sentenced twice"),
    ({"charges": [custodial(S4A, 3, consecutive_to=BREACH),
                  custodial(BREACH, 2, consecutive_to=S4A)]}, "circle"),
    ({"charges": [custodial(S4A, 3), {"offence": BREACH, "kind": "suspended", "months": 2,
                                      "concurrent_with": S4A}]}, "only with another suspended"),
    ({"charges": [{"offence": S4A, "kind": "community_order", "months": 12,
                   "consecutive_to": BREACH}]}, "neither consecutively"),
    ({"charges": [custodial(S4A, 3, consecutive_to=BREACH, concurrent_with=BREACH),
                  custodial(BREACH, 1)]}, "not both"),
])
def test_an_inconsistent_sentence_is_malformed_input(body: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        RecordSentence.model_validate(body)


def test_a_sentence_names_charges_and_orders_the_case_holds() -> None:
    case = convicted_of(S4A)
    refusal = check(case, request(PROSECUTOR, "record_sentence", charges=[custodial(S4, 6)]), NOW)
    assert refusal is not None and refusal.rule == "INPUT" and S4 in refusal.message
    refusal = check(case, request(PROSECUTOR, "record_sentence", orders=["OTHER-1-RO1"]), NOW)
    assert refusal is not None and refusal.rule == "INPUT" and "OTHER-1-RO1" in refusal.message


def test_a_sentence_names_the_orders_made_with_it_here_or_on_the_linked_case() -> None:
    """A breach case's sentence revokes the breached case's order and makes a new one."""
    case = act(convicted_of(S4A, linked_from="FIRST-1"), OFFICER, "record_order_views")
    case = act(case, OFFICER, "reverify_order_details")
    case = act(case, PROSECUTOR, "apply_restraining_order")
    case = act(case, PROSECUTOR, "make_restraining_order")
    breached = "FIRST-1-RO1"
    case = act(case, PROSECUTOR, "record_sentence", orders=["REF-1-RO1"],
               orders_revoked=[breached])
    assert case.sentencing is not None
    assert (case.sentencing.orders, case.sentencing.orders_revoked) == (["REF-1-RO1"], [breached])


def test_sentences_are_report_facts_by_kind_and_the_custodial_total() -> None:
    case = act(convicted_of(S4A, BREACH), PROSECUTOR, "record_sentence",
               charges=[custodial(S4A, 16), {"offence": BREACH, "kind": "fine"}],
               sentenced_on="2024-02-20")
    facts = {f.fact_id: (f.kind, f.detail, f.at.date()) for f in report_facts(case)}
    assert facts["sentence:1:pha1997_s4a"] == ("sentence", "custodial", date(2024, 2, 20))
    assert facts["sentence:1:pha1997_s5_breach"] == ("sentence", "fine", date(2024, 2, 20))
    assert facts["custody:1"] == ("custodial_term", "16", date(2024, 2, 20))
