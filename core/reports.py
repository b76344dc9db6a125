"""Managers' reports per area and period, from the read model (§4.1 monthly figures, §10
monitoring). Each report is a list of rows with the same columns, so it is JSON and CSV alike.

A period runs from the start of its first day to the end of its last, in London time. Counts
are of what happened in the period: a case belongs to an area when it is the case's police or
CPS area.
"""

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from core.db import aware
from models.enums import CaseState, SentenceKind, SpoKind
from models.monitoring import DeadlineRow, FactRow
from models.offences import OFFENCES, Offence
from models.tables import CaseRow, HistoryRow
from workflows.calendar import LONDON

Row = dict[str, Any]


@dataclass(frozen=True)
class Period:
    since: date
    until: date  # inclusive

    @property
    def start(self) -> datetime:
        return datetime.combine(self.since, time(0), tzinfo=LONDON).astimezone(UTC)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.until + timedelta(days=1), time(0),
                                tzinfo=LONDON).astimezone(UTC)


def _area(area: str):  # type: ignore[no-untyped-def]
    return or_(col(CaseRow.police_area) == area, col(CaseRow.cps_area) == area)


def _area_refs(area: str):  # type: ignore[no-untyped-def]
    return select(CaseRow.reference).where(_area(area))


def _actions(session: Session, area: str, p: Period, *actions: str) -> list[HistoryRow]:
    return list(session.exec(select(HistoryRow).where(
        col(HistoryRow.reference).in_(_area_refs(area)), col(HistoryRow.action).in_(actions),
        col(HistoryRow.at) >= p.start, col(HistoryRow.at) < p.end)))


def _facts(session: Session, area: str, p: Period, kind: str) -> list[FactRow]:
    return list(session.exec(select(FactRow).where(
        col(FactRow.reference).in_(_area_refs(area)), col(FactRow.kind) == kind,
        col(FactRow.at) >= p.start, col(FactRow.at) < p.end)))


def cases_by_state(session: Session, area: str, p: Period) -> list[Row]:
    """Each case opened by the end of the period, by the state it was in at the end."""
    last = select(HistoryRow.reference, func.max(HistoryRow.version).label("v")).where(
        col(HistoryRow.reference).in_(_area_refs(area)), col(HistoryRow.at) < p.end,
    ).group_by(col(HistoryRow.reference)).subquery()
    counts = Counter(session.exec(select(HistoryRow.state_after).join(
        last, (col(HistoryRow.reference) == last.c.reference) & (col(HistoryRow.version) == last.c.v))))
    return [{"state": s.value, "cases": counts.get(s.value, 0)} for s in CaseState]


def nearest_rank(values: list[float], percent: float) -> float:
    """The nearest-rank percentile: the smallest value with `percent`% of values at or below it."""
    ordered = sorted(values)
    return ordered[max(math.ceil(percent / 100 * len(ordered)), 1) - 1]


def time_in_state(session: Session, area: str, p: Period) -> list[Row]:
    """Median and 90th percentile of the completed stays in each state that ended in the period
    (from entering the state to leaving it, in days)."""
    rows = session.exec(select(HistoryRow).where(
        col(HistoryRow.reference).in_(_area_refs(area)), col(HistoryRow.at) < p.end,
        or_(col(HistoryRow.state_before) != col(HistoryRow.state_after),
            col(HistoryRow.action) == "open_case"),
    ).order_by(col(HistoryRow.reference), col(HistoryRow.version)))
    stays: dict[str, list[float]] = defaultdict(list)
    entered: dict[str, tuple[str, datetime]] = {}
    for row in rows:
        at = aware(row.at)
        assert at is not None
        if row.action != "open_case" and row.reference in entered:
            state, since = entered[row.reference]
            if p.start <= at < p.end:
                stays[state].append((at - since).total_seconds() / 86400)
        entered[row.reference] = (row.state_after, at)
    out = []
    for s in CaseState:
        if s is CaseState.CLOSED:
            continue  # nobody leaves it
        days = stays.get(s.value, [])
        out.append({"state": s.value, "stays": len(days),
                    "median_days": round(statistics.median(days), 2) if days else None,
                    "p90_days": round(nearest_rank(days, 90), 2) if days else None})
    return out


def referrals(session: Session, area: str, p: Period) -> list[Row]:
    """Pre-charge referrals to the CPS (§4.5) made in the period."""
    found = _actions(session, area, p, "refer_to_cps")
    return [{"referrals": len(found), "cases": len({r.reference for r in found})}]


def charges_by_offence(session: Session, area: str, p: Period) -> list[Row]:
    """Each offence charged in the period, and how many charges of it."""
    counts = Counter(f.detail for f in _facts(session, area, p, "charge"))
    return [{"offence": o.value, "title": OFFENCES[o].title, "group": _group([o]),
             "charges": counts[o.value]} for o in Offence if counts[o.value]]


def _group(offences: list[Offence]) -> str:
    infos = [OFFENCES[o] for o in offences]
    if any(i.stalking for i in infos):
        return "stalking"
    return "harassment" if any(i.harassment for i in infos) else "other"


def stalking_share(session: Session, area: str, p: Period) -> list[Row]:
    """Charging decisions that charged in the period: as stalking (s.2A/s.4A, any) against
    harassment only (s.2/s.4 without stalking), with each one's share of the two (§4.2)."""
    decisions: dict[tuple[str, str], list[Offence]] = defaultdict(list)
    for f in _facts(session, area, p, "charge"):
        decisions[(f.reference, f.fact_id.split(":")[1])].append(Offence(f.detail))
    groups = Counter(_group(offences) for offences in decisions.values())
    both = groups["stalking"] + groups["harassment"]
    return [{"charged_as": g, "decisions": groups[g],
             "share": round(groups[g] / both, 3) if both and g != "other" else None}
            for g in ("stalking", "harassment", "other")]


def lesser_pleas(session: Session, area: str, p: Period) -> list[Row]:
    """Pleas to a lesser offence accepted in the period (§7.2, §7.3)."""
    return [{"lesser_pleas_accepted": len(_actions(session, area, p, "accept_lesser_plea"))}]


def orders_made(session: Session, area: str, p: Period) -> list[Row]:
    """Restraining orders the court made in the period, new or replacing another (§9, G.4)."""
    counts = Counter(f.detail for f in _facts(session, area, p, "order_made"))
    return [{"kind": k, "orders": counts[k]} for k in ("new", "replacement")]


def sentences_by_kind(session: Session, area: str, p: Period) -> list[Row]:
    """Sentences passed in the period, one per charge, by kind, and the cases they were
    passed in (a case sentenced to custody for one charge and a fine for another counts in
    both)."""
    facts = _facts(session, area, p, "sentence")
    counts = Counter(f.detail for f in facts)
    cases: dict[str, set[str]] = defaultdict(set)
    for f in facts:
        cases[f.detail].add(f.reference)
    return [{"kind": k.value, "sentences": counts[k.value], "cases": len(cases[k.value])}
            for k in SentenceKind]


def custodial_terms(session: Session, area: str, p: Period) -> list[Row]:
    """The total custodial term of each case sentenced to custody in the period (consecutive
    terms added, concurrent ones overlapping), in months: how many, median, longest."""
    months = [float(f.detail) for f in _facts(session, area, p, "custodial_term")]
    return [{"cases": len(months),
             "median_months": round(statistics.median(months), 2) if months else None,
             "longest_months": max(months) if months else None,
             "total_months": round(sum(months), 2)}]


def stalking_protection_orders(session: Session, area: str, p: Period) -> list[Row]:
    """Stalking protection orders (Stalking Protection Act 2019), interim and full: applied
    for and made in the period, by the days applied for and made."""
    applied = Counter(f.detail for f in _facts(session, area, p, "spo_application"))
    made = Counter(f.detail for f in _facts(session, area, p, "spo_made"))
    return [{"order": k.value, "applications": applied[k.value], "orders_made": made[k.value]}
            for k in (SpoKind.INTERIM, SpoKind.FULL)]


def breaches(session: Session, area: str, p: Period) -> list[Row]:
    """Breaches reported in the period: of a restraining order (§9.5), of a stalking
    protection order (SPA 2019 s.8, treated as §9.5 is) or of bail (§4.13)."""
    counts = Counter(r.action for r in _actions(
        session, area, p, "report_order_breach", "report_stalking_protection_order_breach",
        "report_bail_breach"))
    return [{"kind": "restraining_order", "breaches": counts["report_order_breach"]},
            {"kind": "stalking_protection_order",
             "breaches": counts["report_stalking_protection_order_breach"]},
            {"kind": "bail", "breaches": counts["report_bail_breach"]}]


def witness_summonses(session: Session, area: str, p: Period) -> list[Row]:
    """Witness summonses applied for in the period (§5.7, a last resort)."""
    return [{"witness_summonses": len(_actions(session, area, p, "apply_witness_summons"))}]


def overdue_deadlines(session: Session, area: str, p: Period) -> list[Row]:
    """Deadlines that went overdue (were escalated) in the period, by kind; and how many of
    them are still open now."""
    found = session.exec(select(DeadlineRow).where(
        col(DeadlineRow.reference).in_(_area_refs(area)),
        col(DeadlineRow.escalated_at) >= p.start, col(DeadlineRow.escalated_at) < p.end))
    overdue: Counter[tuple[str, str]] = Counter()
    still_open: Counter[tuple[str, str]] = Counter()
    for d in found:
        overdue[(d.kind, d.rule)] += 1
        still_open[(d.kind, d.rule)] += d.met_at is None
    return [{"kind": k, "rule": r, "overdue": n, "still_open": still_open[(k, r)]}
            for (k, r), n in sorted(overdue.items())]


def spoc_monthly(session: Session, area: str, p: Period) -> list[Row]:
    """§4.1: the figures the police and CPS SPOCs discuss each month: reporting, referrals,
    charging and prosecutions in their area."""
    reported = list(session.exec(select(CaseRow).where(
        _area(area), col(CaseRow.opened_at) >= p.start, col(CaseRow.opened_at) < p.end)))
    decisions = Counter(f.detail for f in _facts(session, area, p, "charging_decision"))
    share = {r["charged_as"]: r["decisions"] for r in stalking_share(session, area, p)}
    outcomes = Counter(f.detail for f in _facts(session, area, p, "prosecution_outcome"))
    figures = [
        ("reporting", "cases reported", len(reported)),
        ("reporting", "of which stalking", sum(c.stalking for c in reported)),
        ("reporting", "of which harassment", sum(not c.stalking for c in reported)),
        ("referrals", "referrals to the CPS", referrals(session, area, p)[0]["referrals"]),
        ("charging", "charged", decisions["charge"]),
        ("charging", "charged as stalking", share["stalking"]),
        ("charging", "charged as harassment only", share["harassment"]),
        ("charging", "no further action", decisions["no_further_action"]),
        ("charging", "further investigation", decisions["further_investigation"]),
        ("prosecutions", "first appearances",
         len(_actions(session, area, p, "record_first_appearance"))),
        ("prosecutions", "convicted", outcomes["convicted"]),
        ("prosecutions", "acquitted", outcomes["acquitted"]),
        ("prosecutions", "discontinued", outcomes["discontinued"]),
    ]
    return [{"section": s, "measure": m, "value": v} for s, m, v in figures]


@dataclass(frozen=True)
class ReportSpec:
    title: str
    build: Callable[[Session, str, Period], list[Row]]


REPORTS: dict[str, ReportSpec] = {
    "cases-by-state": ReportSpec("Cases by state at the end of the period", cases_by_state),
    "time-in-state": ReportSpec("Time in each state (median, 90th percentile)", time_in_state),
    "referrals": ReportSpec("Referrals to the CPS", referrals),
    "charges-by-offence": ReportSpec("Charges by offence", charges_by_offence),
    "stalking-share": ReportSpec("Charged as stalking against harassment", stalking_share),
    "lesser-pleas": ReportSpec("Pleas to a lesser offence accepted", lesser_pleas),
    "orders": ReportSpec("Restraining orders made", orders_made),
    "sentences-by-kind": ReportSpec("Sentences by kind, per charge", sentences_by_kind),
    "custodial-terms": ReportSpec("Total custodial terms of the cases sentenced to custody",
                                  custodial_terms),
    "stalking-protection-orders": ReportSpec("Stalking protection orders applied for and made",
                                             stalking_protection_orders),
    "breaches": ReportSpec("Breaches reported", breaches),
    "witness-summonses": ReportSpec("Witness summonses", witness_summonses),
    "overdue-deadlines": ReportSpec("Overdue deadlines by kind", overdue_deadlines),
    "spoc-monthly": ReportSpec("Monthly SPOC figures (§4.1)", spoc_monthly),
}
