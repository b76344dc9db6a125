"""Stalking protection orders (Stalking Protection Act 2019): the police apply to a magistrates'
court for an interim or full order, with or without a prosecution; the order's prohibitions,
requirements and end; a reminder before it ends; and a breach treated as a restraining order's
breach is (P9.5 by analogy): a linked breach case opens with its expeditious-action deadline."""

from datetime import date, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from models.actions import ApplyStalkingProtectionOrder
from models.case import CaseFile, case_facts
from models.enums import CaseState, Role
from models.offences import OFFENCES, Offence
from tests.api_steps import Handler, new_reference
from tests.conftest import eventually
from tests.factories import (
    NOW,
    OFFICER,
    PROSECUTOR,
    act,
    case_in,
    history,
    opened,
    request,
    standard_risk,
)
from workflows.calendar import LONDON
from workflows.deadlines import open_deadlines
from workflows.lifecycle import LIFECYCLE, OPEN, check
from workflows.retention import KEEP_LATEST

S = CaseState
SPO_ACTIONS = ("apply_stalking_protection_order", "make_stalking_protection_order",
               "review_stalking_protection_order", "report_stalking_protection_order_breach")


def full_order(case: CaseFile, *, made_on: str = "2026-12-01",
               ends_on: str | None = "2028-12-01", **apply: Any) -> CaseFile:
    case = act(case, OFFICER, "apply_stalking_protection_order", **apply)
    application_id = case.spo_applications[-1].application_id
    return act(case, OFFICER, "make_stalking_protection_order", application_id=application_id,
               made_on=made_on, ends_on=ends_on)


def refusal(case: CaseFile, kind: str, **fields: Any) -> tuple[str, str] | None:
    found = check(case, request(OFFICER, kind, **fields), NOW)
    return None if found is None else (found.rule, found.message)


def spo_deadlines(case: CaseFile) -> list[Any]:
    return [d for d in open_deadlines(case) if d.kind == "spo_ends"]


@pytest.mark.parametrize("kind", SPO_ACTIONS)
def test_spo_actions_are_the_polices_in_any_open_state(kind: str) -> None:
    assert LIFECYCLE[kind].states == OPEN
    assert LIFECYCLE[kind].roles == {Role.OFFICER_IN_CASE, Role.POLICE_SPOC}


@pytest.mark.parametrize("state", [S.INVESTIGATION, S.PREPARATION, S.RESTRAINING_ORDER])
def test_an_spo_is_applied_for_and_made_with_or_without_a_prosecution(state: CaseState) -> None:
    case = full_order(case_in(state))
    [application] = case.spo_applications
    assert application.application_id == "REF-1-SPOA1"
    assert (application.order_type, application.applied_on) == ("full", date(2026, 11, 20))
    assert application.protected_person_ids == ["C1"] and application.determined_at == NOW
    [order] = case.stalking_protection_orders
    assert order.order_id == "REF-1-SPO1" and order.application_id == "REF-1-SPOA1"
    assert order.prohibitions == ["no contact with C1, direct or indirect",
                                  "not to enter Smith Street"]
    assert order.requirements == ["attend an assessment for a stalking intervention programme"]
    assert (order.made_on, order.ends_on) == (date(2026, 12, 1), date(2028, 12, 1))
    assert case.state is state  # an SPO moves nothing in the prosecution
    entries = history(case)[-2:]
    assert [e.action for e in entries] == ["apply_stalking_protection_order",
                                           "make_stalking_protection_order"]
    assert "REF-1-SPO1 made, until 2028-12-01" in entries[1].summary


def test_a_closed_case_takes_no_spo_action() -> None:
    found = refusal(case_in(S.CLOSED), "apply_stalking_protection_order")
    assert found is not None and found[0] == "STATE"


def test_an_spo_prohibits_or_requires_something() -> None:
    with pytest.raises(ValidationError, match="prohibits or requires"):
        ApplyStalkingProtectionOrder(order_type="full", applied_on=date(2026, 11, 20),
                                     protected_person_ids=["C1"])
    assert refusal(opened(), "apply_stalking_protection_order",
                   protected_person_ids=["C9"]) == ("INPUT", "Unknown protected person(s): C9.")


def test_an_interim_order_is_sought_with_or_after_the_full_application() -> None:
    case = opened()
    found = refusal(case, "apply_stalking_protection_order", order_type="interim")
    assert found is not None and found[0] == "SPA 2019 s.5"
    case = act(case, OFFICER, "apply_stalking_protection_order")
    case = act(case, OFFICER, "apply_stalking_protection_order", order_type="interim")
    case = act(case, OFFICER, "make_stalking_protection_order", application_id="REF-1-SPOA2",
               made_on="2026-11-24", ends_on="2027-01-31")
    [interim] = case.stalking_protection_orders
    assert interim.order_type == "interim" and interim.ends_on == date(2027, 1, 31)
    # The full order determines the main application: the interim order ends with it.
    later = NOW + timedelta(days=30)
    case = act(case, OFFICER, "make_stalking_protection_order", application_id="REF-1-SPOA1",
               made_on="2026-12-23", ends_on=None, at=later)
    interim, full = case.stalking_protection_orders
    assert interim.ended_at == later and full.ended_at is None and full.ends_on is None
    found = refusal(case, "make_stalking_protection_order", application_id="REF-1-SPOA1")
    assert found is not None and found[0] == "LIFECYCLE"


def test_a_full_order_lasts_at_least_two_years_or_until_further_order() -> None:
    case = act(opened(), OFFICER, "apply_stalking_protection_order")
    found = refusal(case, "make_stalking_protection_order", made_on="2026-12-01",
                    ends_on="2028-11-29")
    assert found is not None and found[0] == "SPA 2019 s.3" and "2028-11-30" in found[1]
    for ends_on in ("2028-11-30", None):  # two years beginning with the day it is made
        assert refusal(case, "make_stalking_protection_order", made_on="2026-12-01",
                       ends_on=ends_on) is None


def test_the_officer_is_reminded_before_an_spo_ends_and_decides_before_it_does() -> None:
    """Due 28 days before the end, brought to a working day; reminded 5 working days before;
    met by the review; a renewal opens the decision for the new end."""
    case = full_order(opened(), made_on="2026-12-01", ends_on="2029-01-27")
    [deadline] = spo_deadlines(case)
    assert deadline.rule == "SPA 2019 s.7" and deadline.owner_role is Role.OFFICER_IN_CASE
    # 28 days before 27 January 2029 is Saturday 30 December 2028: brought to Friday the 29th.
    assert deadline.due_at.astimezone(LONDON).date() == date(2028, 12, 29)
    # Five working days before it, the bank holidays of Christmas skipped.
    assert deadline.remind_at.astimezone(LONDON).date() == date(2028, 12, 20)
    assert "REF-1-SPO1" in deadline.description and "2029-01-27" in deadline.description
    case = act(case, OFFICER, "review_stalking_protection_order", renewed_until="2031-01-27")
    assert case.stalking_protection_orders[0].ends_on == date(2031, 1, 27)
    [renewed] = spo_deadlines(case)
    assert renewed.deadline_id != deadline.deadline_id and "2031-01-27" in renewed.description
    case = act(case, OFFICER, "review_stalking_protection_order", decision="Let it end",
               reasons="No contact for two years; the complainant agrees.")
    assert spo_deadlines(case) == []
    assert case.stalking_protection_orders[0].review == "Let it end"


def test_an_order_until_further_order_has_no_end_to_remind_of() -> None:
    assert spo_deadlines(full_order(opened(), ends_on=None)) == []


def test_p9_5_spo_breach_is_recorded_as_an_order_breach_is() -> None:
    """SPA 2019 s.8: breach of an SPO is an offence; the breach is recorded on the case and
    names the linked breach case, as report_order_breach does, in any open state."""
    assert OFFENCES[Offence.BREACH_OF_STALKING_PROTECTION_ORDER].statute == \
        "Stalking Protection Act 2019 s.8"
    case = act(full_order(opened()), OFFICER, "record_risk_assessment",
               assessment=standard_risk())
    assert refusal(case, "report_stalking_protection_order_breach", order_id="REF-1-SPO9") == (
        "INPUT", "The case has no stalking protection order 'REF-1-SPO9'.")
    case = act(case, OFFICER, "report_stalking_protection_order_breach",
               at=NOW + timedelta(hours=1))
    assert case.state is S.INVESTIGATION
    assert case.incidents[-1].kind == "order_breach"
    assert (case.linked_cases[-1].reference, case.linked_cases[-1].relation) == (
        "REF-3", "breach case")
    entry = history(case)[-1]
    assert entry.rules == ["P9.5"] and "breach of REF-1-SPO1 reported" in entry.summary
    assert case_facts(case).breaches == 1
    # A breach is a new incident: the risk review falls due at once (P3.7), not in 28 days.
    [review] = [d for d in open_deadlines(case) if d.kind == "risk_review"]
    assert review.due_at < NOW + timedelta(days=3)


def test_an_ended_spo_cannot_be_breached() -> None:
    case = full_order(opened(), made_on="2024-11-01", ends_on="2026-11-01")
    found = refusal(case, "report_stalking_protection_order_breach")
    assert found is not None and found[0] == "LIFECYCLE" and "no longer in force" in found[1]


def test_g_1_an_spo_breach_alone_needs_reasons_when_new_offences_are_recorded() -> None:
    case = act(case_in(S.CHARGING, offences=[Offence.BREACH_OF_STALKING_PROTECTION_ORDER,
                                              Offence.MALICIOUS_COMMUNICATIONS]),
               PROSECUTOR, "record_history_considered")
    alone = [Offence.BREACH_OF_STALKING_PROTECTION_ORDER.value]
    found = check(case, request(PROSECUTOR, "make_charging_decision", charges=alone), NOW)
    assert found is not None and found.rule == "G.1"
    assert check(case, request(PROSECUTOR, "make_charging_decision", charges=alone,
                               breach_only_reasons="Messages not proved to be his."), NOW) is None


def test_a_case_keeps_its_spos_in_force_and_the_latest_ended_ones() -> None:
    case = opened()
    for i in range(KEEP_LATEST + 5):
        case = full_order(case, made_on="2024-01-01", ends_on="2026-01-01")
        case = act(case, OFFICER, "review_stalking_protection_order",
                   order_id=f"REF-1-SPO{i + 1}")
    case = full_order(case, ends_on=None)
    orders = case.stalking_protection_orders
    assert len(orders) == KEEP_LATEST + 1 and orders[-1].order_id == f"REF-1-SPO{KEEP_LATEST + 6}"
    assert len(case.spo_applications) == KEEP_LATEST


@pytest.mark.asyncio
async def test_p9_5_spo_breach_opens_a_linked_case_with_its_expeditious_action_deadline(
        api, auth) -> None:
    """With no prosecution yet: an SPO made in investigation is breached; the linked breach
    case opens as its own workflow, charged with the s.8 offence and the new one, and its
    P9.5 deadline open, as for a restraining order's breach."""
    first = Handler(api, auth, new_reference("SPO"))
    assert (await first.open(stalking=False)).status_code == 201
    applied = await first.act("officer_in_case", "apply_stalking_protection_order",
                              applied_on=date.today().isoformat())
    application_id = applied["case"]["spo_applications"][0]["application_id"]
    made = await first.act("officer_in_case", "make_stalking_protection_order",
                           application_id=application_id, made_on=date.today().isoformat(),
                           ends_on=None)
    [order] = made["case"]["stalking_protection_orders"]
    assert order["order_id"] == f"{first.reference}-SPO1" and order["ends_on"] is None
    breach_ref = new_reference("SPOB")
    reported = await first.act("officer_in_case", "report_stalking_protection_order_breach",
                               order_id=order["order_id"], breach_reference=breach_ref,
                               new_offences=["mca1988_s1"])
    assert reported["state"] == "investigation" and reported["entry"]["rules"] == ["P9.5"]
    breach = Handler(api, auth, breach_ref)

    async def opened_case() -> Any:
        response = await api.get(f"/cases/{breach_ref}", headers=auth("officer_in_case"))
        return response.json() if response.status_code == 200 else None

    breach_case = await eventually(opened_case)
    assert [(link["reference"], link["relation"]) for link in breach_case["linked_cases"]] == [
        (first.reference, "breach of")]
    assert [c["offence"] for c in breach_case["candidate_offences"]] == [
        "spa2019_s8", "mca1988_s1"]
    assert breach_case["stalking"] is True  # an SPO is made on acts associated with stalking
    deadlines = (await api.get(f"/cases/{breach_ref}/deadlines",
                               headers=auth("officer_in_case"))).json()
    [expeditious] = [d["deadline"] for d in deadlines if d["deadline"]["kind"] == "breach_action"]
    assert expeditious["rule"] == "P9.5"
    met = await breach.act("officer_in_case", "record_breach_action_taken")
    assert "breach_action" in {d.split(":")[0] for d in met["deadlines_met"]}


@pytest.mark.asyncio
async def test_the_lifecycle_names_the_statute_of_the_spo_guards(api, auth) -> None:
    body = (await api.get("/lifecycle", headers=auth("manager"))).json()
    actions = body["actions"]
    rules = {g["name"]: g["rule"] for kind in SPO_ACTIONS for g in actions[kind]["guards"]}
    assert rules["spa_interim_with_the_main_application"] == "SPA 2019 s.5"
    assert rules["spa_full_order_at_least_two_years"] == "SPA 2019 s.3"
    assert actions["report_stalking_protection_order_breach"]["records"] == ["P9.5"]
    assert actions["apply_stalking_protection_order"]["states"] == [
        s.value for s in CaseState if s is not CaseState.CLOSED]
