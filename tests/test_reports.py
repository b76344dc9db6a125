"""Managers' reports agree with a hand count on a seeded data set.

Four cases in one area run through October 2026 by the real lifecycle at chosen times and are
projected by the real projection; one case opened in November and one in another area must
not count. Every expected number below is counted by hand from the timeline in SEED.
"""

import csv
import io
import uuid
from datetime import datetime
from typing import Any

import pytest
from sqlmodel import Session

from models.case import CaseFile
from models.deadlines import DeadlineMarks
from readmodel.projection import write_case
from tests import factories as f
from workflows.deadlines import open_deadlines

pytestmark = pytest.mark.asyncio
AREA = f"rpt-{uuid.uuid4().hex[:6]}"
OCTOBER = {"since": "2026-10-01", "until": "2026-10-31"}


def at(day: str) -> datetime:
    """10:00 UTC on a day of 2026 (MM-DD): whole days between steps, whatever the clocks do."""
    return datetime.fromisoformat(f"2026-{day}T10:00:00+00:00")


class Seed:
    """One case walked through the lifecycle, each step at its own time."""

    def __init__(self, name: str, opened: str, area: str = AREA, stalking: bool = True) -> None:
        self.reference = f"{name}-{uuid.uuid4().hex[:6].upper()}"
        self.area = area
        self.case: CaseFile = f.open_at(f.new_case(
            reference=self.reference, police_area=area, cps_area=area, stalking=stalking),
            at(opened))

    def act(self, role: str, kind: str, day: str, **fields: Any) -> "Seed":
        self.case = f.act(self.case, f.actor(role, self.area), kind, at=at(day), **fields)
        return self

    def referred(self, risk: str, refer: str, review: str) -> "Seed":
        self.act("officer_in_case", "record_risk_assessment", risk, complainant_id="C1",
                 assessment=f.standard_risk())
        self.act("officer_in_case", "refer_to_cps", refer)
        return self.act("prosecutor", "begin_charging_review", review)

    def escalated(self, kind: str, day: str, met: str | None = None) -> "Seed":
        """Marks the deadline of `kind` overdue (escalated) that day, and met on `met`."""
        self.case.deadlines = open_deadlines(self.case)
        deadline = next(d for d in self.case.deadlines if d.kind == kind)
        self.case.deadline_marks[deadline.deadline_id] = DeadlineMarks(
            opened_at=self.case.opened_at, escalated_at=at(day), met_at=at(met) if met else None)
        self.case.version += 1
        return self


def seed() -> list[Seed]:
    # A: stalking (s.4A), opened in September; referred 1 Oct, charged 8 Oct, first appearance
    # 18 Oct, guilty plea 20 Oct, order applied for 22 Oct and made 23 Oct, order breached 28 Oct.
    a = (Seed("A", "09-20").referred("10-01", "10-01", "10-03")
         .act("prosecutor", "make_charging_decision", "10-08")
         .act("witness_care", "record_vps", "10-09")
         .act("prosecutor", "record_first_appearance", "10-18")
         .act("prosecutor", "enter_pleas", "10-20", guilty=True)
         .act("officer_in_case", "record_order_views", "10-21")
         .act("officer_in_case", "reverify_order_details", "10-21")
         .act("prosecutor", "apply_restraining_order", "10-22"))
    a.act("prosecutor", "make_restraining_order", "10-23", orders=[
        {"protected_person_id": "C1", "conditions": ["no contact"], "made_on": "2026-10-23"}])
    a.act("officer_in_case", "report_order_breach", "10-28", order_id=f"{a.reference}-RO1",
          breach_reference=f"{a.reference}-B")
    # Sentenced 30 Oct: 16 months for stalking.
    a.act("prosecutor", "record_sentence", "10-30", sentenced_on="2026-10-30", charges=[
        {"offence": "pha1997_s4a", "kind": "custodial", "months": 16}])
    a.escalated("contact_details", "09-25")  # overdue in September: not October's
    # B: harassment (s.4 after "stalking considered"), opened 2 Oct; not guilty pleas 27 Oct.
    b = (Seed("B", "10-02", stalking=False).referred("10-05", "10-05", "10-09")
         .act("prosecutor", "record_stalking_considered", "10-12",
              decision="Not stalking", reasons="No fixation.")
         .act("prosecutor", "make_charging_decision", "10-19", charges=["pha1997_s4"],
              harassment_reasons="No stalking behaviour.")
         .act("witness_care", "record_vps", "10-20")
         .act("prosecutor", "record_first_appearance", "10-25")
         .act("prosecutor", "enter_pleas", "10-27", guilty=False)
         .escalated("contact_details", "10-03"))
    # C: stalking and malicious communications, opened 1 Oct; a witness summons 13 Oct and a
    # plea to harassment accepted 14 Oct.
    c = (Seed("C", "10-01").referred("10-02", "10-02", "10-03")
         .act("prosecutor", "make_charging_decision", "10-10",
              charges=["pha1997_s4a", "mca1988_s1"])
         .act("witness_care", "record_vps", "10-11")
         .act("prosecutor", "record_first_appearance", "10-12")
         .act("prosecutor", "record_safety_check", "10-13")
         .act("prosecutor", "apply_witness_summons", "10-13")
         .act("manager", "record_manager_authority", "10-14")
         .act("prosecutor", "record_complainant_plea_views", "10-14")
         .act("prosecutor", "accept_lesser_plea", "10-14")
         # Recorded 31 Oct, for a sentence the court passed on 2 November: November's.
         .act("prosecutor", "record_sentence", "10-31", sentenced_on="2026-11-02", charges=[
             {"offence": "pha1997_s2", "kind": "suspended", "months": 4}])
         .escalated("contact_details", "10-04", met="10-06"))
    # D: opened 4 Oct, bail 4 Oct breached 5 Oct; a full SPO applied for 5 Oct, made 6 Oct until
    # further order and breached that day, an interim one applied for 5 Oct and never made; no
    # further action by the police 6 Oct.
    d = (Seed("D", "10-04")
         .act("officer_in_case", "record_risk_assessment", "10-04", complainant_id="C1",
              assessment=f.standard_risk())
         .act("officer_in_case", "record_bail", "10-04")
         .act("officer_in_case", "report_bail_breach", "10-05")
         .act("officer_in_case", "apply_stalking_protection_order", "10-05",
              applied_on="2026-10-05")
         .act("officer_in_case", "apply_stalking_protection_order", "10-05",
              order_type="interim", applied_on="2026-10-05"))
    (d.act("officer_in_case", "make_stalking_protection_order", "10-06",
           application_id=f"{d.reference}-SPOA1", made_on="2026-10-06", ends_on=None)
     .act("officer_in_case", "report_stalking_protection_order_breach", "10-06",
          order_id=f"{d.reference}-SPO1", breach_reference=f"{d.reference}-B")
     .act("officer_in_case", "make_charging_decision", "10-06", decision="no_further_action",
          charges=[], action_plan=[], no_further_work=True, reasons="Evidential test not met.")
     .escalated("victims_right_to_review", "10-08"))
    # E: November, so in none of October's figures. F: another area's, charged in October.
    e = Seed("E", "11-02").referred("11-03", "11-03", "11-04")
    other = (Seed("F", "10-01", area=f"{AREA}-other").referred("10-02", "10-02", "10-03")
             .act("prosecutor", "make_charging_decision", "10-05"))
    return [a, b, c, d, e, other]


@pytest.fixture(scope="module")
def seeded(engine) -> list[Seed]:
    cases = seed()
    with Session(engine) as session:
        for s in cases:
            write_case(session, s.case, f.history(s.case))
        session.commit()
    return cases


async def report(api, auth, name: str, **params: Any) -> list[dict[str, Any]]:
    query = {k: v for k, v in {**OCTOBER, **params}.items() if v is not None}
    response = await api.get(f"/reports/{name}", params=query,
                             headers=auth("manager", area=AREA))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["area"] == AREA and body["report"] == name
    return body["rows"]


async def test_cases_by_state_at_the_end_of_the_period(api, auth, seeded):
    rows = {r["state"]: r["cases"] for r in await report(api, auth, "cases-by-state")}
    assert rows == {"investigation": 0, "referral": 0, "charging": 0, "preparation": 0,
                    "pleas": 1, "trial": 1, "restraining_order": 1, "closed": 1}


async def test_median_and_90th_percentile_time_in_each_state(api, auth, seeded):
    rows = {r["state"]: r for r in await report(api, auth, "time-in-state")}
    # investigation: A 11, B 3, C 1, D 2 days -> median 2.5, p90 (nearest rank 4 of 4) 11
    assert (rows["investigation"]["stays"], rows["investigation"]["median_days"],
            rows["investigation"]["p90_days"]) == (4, 2.5, 11.0)
    assert (rows["referral"]["median_days"], rows["referral"]["p90_days"]) == (2.0, 4.0)  # 2, 4, 1
    assert (rows["charging"]["median_days"], rows["charging"]["p90_days"]) == (7.0, 10.0)  # 5, 10, 7
    assert (rows["preparation"]["median_days"], rows["preparation"]["p90_days"]) == (6.0, 10.0)
    assert (rows["pleas"]["stays"], rows["pleas"]["median_days"]) == (2, 3.0)  # A 4, B 2
    assert rows["trial"]["stays"] == 0 and rows["trial"]["median_days"] is None


async def test_referrals(api, auth, seeded):
    assert await report(api, auth, "referrals") == [{"referrals": 3, "cases": 3}]


async def test_charges_by_offence_and_the_share_charged_as_stalking(api, auth, seeded):
    charges = {r["offence"]: r["charges"] for r in await report(api, auth, "charges-by-offence")}
    assert charges == {"pha1997_s4a": 2, "pha1997_s4": 1, "mca1988_s1": 1}
    share = {r["charged_as"]: (r["decisions"], r["share"])
             for r in await report(api, auth, "stalking-share")}
    assert share == {"stalking": (2, 0.667), "harassment": (1, 0.333), "other": (0, None)}


async def test_pleas_orders_breaches_and_summonses(api, auth, seeded):
    assert await report(api, auth, "lesser-pleas") == [{"lesser_pleas_accepted": 1}]
    assert await report(api, auth, "orders") == [{"kind": "new", "orders": 1},
                                                 {"kind": "replacement", "orders": 0}]
    assert await report(api, auth, "breaches") == [
        {"kind": "restraining_order", "breaches": 1},
        {"kind": "stalking_protection_order", "breaches": 1}, {"kind": "bail", "breaches": 1}]
    assert await report(api, auth, "stalking-protection-orders") == [
        {"order": "interim", "applications": 1, "orders_made": 0},
        {"order": "full", "applications": 1, "orders_made": 1}]
    assert await report(api, auth, "witness-summonses") == [{"witness_summonses": 1}]


async def test_sentences_by_kind_and_custodial_terms_count_by_the_day_sentenced(
        api, auth, seeded):
    kinds = {r["kind"]: (r["sentences"], r["cases"])
             for r in await report(api, auth, "sentences-by-kind")}
    assert kinds == {"custodial": (1, 1), "suspended": (0, 0), "community_order": (0, 0),
                     "fine": (0, 0), "discharge": (0, 0)}
    november = {r["kind"]: r["sentences"] for r in await report(
        api, auth, "sentences-by-kind", since="2026-11-01", until="2026-11-30")}
    assert november["suspended"] == 1 and november["custodial"] == 0
    assert await report(api, auth, "custodial-terms") == [
        {"cases": 1, "median_months": 16.0, "longest_months": 16.0, "total_months": 16.0}]


async def test_overdue_deadlines_by_kind(api, auth, seeded):
    assert await report(api, auth, "overdue-deadlines") == [
        {"kind": "contact_details", "rule": "P6.4", "overdue": 2, "still_open": 1},
        {"kind": "victims_right_to_review", "rule": "P6.9", "overdue": 1, "still_open": 1}]


async def test_p4_1_monthly_spoc_figures(api, auth, seeded):
    rows = await report(api, auth, "spoc-monthly", since=None, until=None, month="2026-10")
    figures = {(r["section"], r["measure"]): r["value"] for r in rows}
    assert figures == {
        ("reporting", "cases reported"): 3,  # B, C, D (A opened in September, E in November)
        ("reporting", "of which stalking"): 2,
        ("reporting", "of which harassment"): 1,
        ("referrals", "referrals to the CPS"): 3,
        ("charging", "charged"): 3,
        ("charging", "charged as stalking"): 2,
        ("charging", "charged as harassment only"): 1,
        ("charging", "no further action"): 1,
        ("charging", "further investigation"): 0,
        ("prosecutions", "first appearances"): 3,
        ("prosecutions", "convicted"): 2,  # A's guilty plea, C's accepted lesser plea
        ("prosecutions", "acquitted"): 0,
        ("prosecutions", "discontinued"): 0,
    }


async def test_a_period_outside_the_events_counts_nothing(api, auth, seeded):
    rows = await report(api, auth, "referrals", since="2026-12-01", until="2026-12-31")
    assert rows == [{"referrals": 0, "cases": 0}]


async def test_csv_by_query_or_accept_header(api, auth, seeded):
    by_query = await api.get("/reports/charges-by-offence", params={**OCTOBER, "format": "csv"},
                             headers=auth("manager", area=AREA))
    by_accept = await api.get("/reports/charges-by-offence", params=OCTOBER,
                              headers={**auth("manager", area=AREA), "Accept": "text/csv"})
    for response in (by_query, by_accept):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert {r["offence"]: int(r["charges"]) for r in rows} == {
            "pha1997_s4a": 2, "pha1997_s4": 1, "mca1988_s1": 1}
    assert "attachment" in by_query.headers["content-disposition"]


async def test_another_area_sees_only_its_own(api, auth, seeded):
    response = await api.get("/reports/referrals", params=OCTOBER,
                             headers=auth("manager", area=f"{AREA}-other"))
    assert response.json()["rows"] == [{"referrals": 1, "cases": 1}]


@pytest.mark.parametrize("params, message", [
    ({"since": "2026-10-31", "until": "2026-10-01"}, "on or before"),
    ({"month": "2026-10", "since": "2026-10-01"}, "not both"),
    ({"since": "2020-01-01", "until": "2026-01-01"}, "three years"),
])
async def test_bad_periods_are_422_with_a_reason(api, auth, params, message):
    response = await api.get("/reports/referrals", params=params, headers=auth("manager"))
    assert response.status_code == 422 and message in response.json()["detail"]["message"]


@pytest.mark.parametrize("month", ["October", "", "2026-13", "9999-12"])
async def test_a_month_not_yyyy_mm_is_422_naming_the_parameter(api, auth, month):
    response = await api.get("/reports/referrals", params={"month": month},
                             headers=auth("manager"))
    assert response.status_code == 422, response.text
    assert [e["loc"] for e in response.json()["detail"]] == [["query", "month"]]


async def test_unknown_report_is_404_naming_the_reports(api, auth):
    response = await api.get("/reports/everything", headers=auth("manager"))
    assert response.status_code == 404 and "spoc-monthly" in response.json()["detail"]["message"]
    index = await api.get("/reports", headers=auth("manager"))
    assert "time-in-state" in {r["name"] for r in index.json()}
