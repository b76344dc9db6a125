"""Deadlines counted in days fall on England and Wales working days; deadlines counted in
hours stay on the clock. Pure: the deadlines are derived from the case file, no Temporal."""

from datetime import UTC, date, datetime, timedelta

import pytest

from models.case import CaseFile
from models.deadlines import Deadline
from models.enums import CaseState
from tests.factories import OFFICER, PROSECUTOR, act, case_in, opened, standard_risk
from workflows.calendar import at_local, is_working_day, local_date
from workflows.deadlines import open_deadlines


def deadline(case: CaseFile, kind: str) -> Deadline:
    return next(d for d in open_deadlines(case) if d.kind == kind)


def assessed_on(day: date) -> CaseFile:
    return act(opened(), OFFICER, "record_risk_assessment",
               assessment=standard_risk() | {"assessed_on": day.isoformat()})


def test_p3_7_risk_review_due_on_christmas_day_is_brought_forward_to_christmas_eve() -> None:
    # 27 Nov 2026 + 28 days is Friday 25 December: the review falls due on Thursday 24th.
    review = deadline(assessed_on(date(2026, 11, 27)), "risk_review")
    assert review.due_at == at_local(date(2026, 12, 24)) == datetime(2026, 12, 24, 17, tzinfo=UTC)


def test_p3_7_risk_review_falls_on_a_working_day_whatever_the_assessment_date() -> None:
    start = date(2026, 11, 1)
    for offset in range(120):  # Christmas, New Year and Easter 2027 (26-29 March) included
        day = start + timedelta(days=offset)
        review = deadline(assessed_on(day), "risk_review")
        due = local_date(review.due_at)
        assert is_working_day(due), (day, due)
        assert day + timedelta(days=24) <= due <= day + timedelta(days=28), (day, due)


def test_p3_7_calendar_days_kept_when_the_policy_says_so() -> None:
    """The policy switch keeps runs recorded before the rule on calendar days."""
    case = assessed_on(date(2026, 11, 27))
    case.policy = case.policy.model_copy(update={"day_deadlines_on_working_days": False})
    assert deadline(case, "risk_review").due_at == at_local(date(2026, 12, 25))


def test_p4_10_threshold_evidence_due_on_a_bank_holiday_falls_due_the_working_day_before() -> None:
    case = act(case_in(CaseState.CHARGING), PROSECUTOR, "make_charging_decision",
               test="threshold", further_evidence_expected="forensic report",
               further_evidence_due_on="2026-12-28")  # Boxing Day, observed on the Monday
    assert deadline(case, "threshold_evidence").due_at == at_local(date(2026, 12, 24))


def test_pace_s47zb_bail_ending_on_boxing_day_falls_due_on_christmas_eve() -> None:
    # Granted 26 Sep 2026: three months end on Saturday 26 December.
    case = act(opened(), OFFICER, "record_bail",
               bail={"granted_on": "2026-09-26", "conditions": ["no contact"],
                     "complainant_views": "Agrees."})
    bail = deadline(case, "bail_expiry")
    assert bail.due_at == at_local(date(2026, 12, 24))
    assert bail.subject == "2026-12-26", "the deadline still names the day bail ends"
    assert is_working_day(local_date(bail.remind_at))


def test_mca_1980_s127_limit_on_a_sunday_falls_due_the_friday_before() -> None:
    # Last act 29 Aug 2026: six months end on Sunday 28 February 2027.
    case = act(opened(), OFFICER, "add_candidate_offence", offence="pha1997_s2a",
               last_act_on="2026-08-29")
    limit = deadline(case, "summary_time_limit")
    assert limit.due_at == at_local(date(2027, 2, 26))
    # Its reminder, 28 days before the limit (Sunday 31 January), is on the Friday too.
    assert local_date(limit.remind_at) == date(2027, 1, 29)


@pytest.mark.parametrize("offset", range(0, 21))
def test_every_day_counted_deadline_lands_on_a_working_day(offset: int) -> None:
    """P3.7 P4.10 PACE s.47ZB MCA 1980 s.127: from any starting day around Christmas."""
    day = date(2026, 12, 14) + timedelta(days=offset)
    case = act(opened(), OFFICER, "record_risk_assessment",
               assessment=standard_risk() | {"assessed_on": day.isoformat()})
    case = act(case, OFFICER, "record_bail",
               bail={"granted_on": day.isoformat(), "conditions": ["no contact"],
                     "complainant_views": "Agrees.", "expires_on": day.isoformat()})
    case = act(case, OFFICER, "add_candidate_offence", offence="pha1997_s2",
               last_act_on=(day - timedelta(days=182)).isoformat())
    before_charge = open_deadlines(case)
    case = act(case, OFFICER, "make_charging_decision", test="threshold",
               further_evidence_expected="forensic report",
               further_evidence_due_on=day.isoformat(), no_further_work=True, action_plan=[])
    found = {d.kind: d for d in [*before_charge, *open_deadlines(case)]}
    kinds = {"risk_review", "bail_expiry", "summary_time_limit", "threshold_evidence",
             "contact_details", "tell_charging_decision"}
    assert kinds <= set(found), sorted(found)
    for kind in kinds:
        assert is_working_day(local_date(found[kind].due_at)), (kind, found[kind].due_at)


def test_p4_13_breach_action_counted_in_hours_stays_on_the_clock() -> None:
    """A breach reported on a Friday evening is acted on within 24 hours: on the Saturday."""
    friday_evening = datetime(2026, 12, 4, 18, tzinfo=UTC)
    case = act(opened(), OFFICER, "record_bail")
    case = act(case, OFFICER, "report_bail_breach", at=friday_evening)
    assert deadline(case, "breach_action").due_at == friday_evening + timedelta(hours=24)


def test_a_date_outside_the_bank_holiday_table_never_calls_the_library(monkeypatch) -> None:
    """The library reads the locale, which a case's workflow may not: a far-off date counts
    weekends only rather than failing the workflow on every task."""
    import holidays

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("the holidays library was called from a lookup")

    monkeypatch.setattr(holidays, "country_holidays", forbidden)
    assert is_working_day(date(2000, 1, 4)) and not is_working_day(date(2000, 1, 3))  # 2000 bank holiday
    assert is_working_day(date(1900, 1, 1)) and is_working_day(date(9999, 12, 31))
