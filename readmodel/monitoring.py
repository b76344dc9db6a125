"""Projects a case's deadlines and report facts into the read model, alongside the case row.

Called from the projection activity in the same session (one transaction): the stuck list
and the reports then answer from indexed tables. Idempotent: keyed by case and deadline (or
fact) id, and a row is never overwritten by an older version of the case.
"""

import re
from datetime import UTC, datetime, time

from sqlmodel import Session, select

from models.case import CaseFile, HistoryEntry
from models.deadlines import deadline_kind
from models.enums import ChargingDecisionKind
from models.monitoring import DeadlineRow, FactRow
from workflows.calendar import at_local

# Failure texts come from SMTP relays, Notify and databases, and may quote what they failed on:
# an address or a number must never reach the dashboard or the logs.
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
# Ten or more digits: a phone number; a date (8 digits) or a sentence length is kept.
_NUMBER = re.compile(r"\+?\(?(?:\d[\s()-]{0,2}){9,}\d(?![:\d])")


def scrub_failure(text: str | None, limit: int = 300) -> str | None:
    """A failure message fit to show a manager: addresses and phone numbers withheld."""
    if text is None:
        return None
    return _NUMBER.sub("[number]", _EMAIL.sub("[address]", text))[:limit]


def utc(value: datetime) -> datetime:
    """Stored as UTC: SQLite keeps no zone, so every stored time must share one."""
    return value.astimezone(UTC) if value.tzinfo else value


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)


def project_deadlines(session: Session, case: CaseFile) -> None:
    """Upsert every deadline the case file knows: open ones in full, met ones by their marks."""
    existing = {row.deadline_id: row for row in session.exec(
        select(DeadlineRow).where(DeadlineRow.reference == case.reference))}
    details = {d.deadline_id: d for d in case.deadlines}
    for deadline_id, mark in case.deadline_marks.items():
        row = existing.get(deadline_id)
        if row is not None and row.version > case.version:
            continue  # a newer version was projected already
        if row is None:
            row = DeadlineRow(reference=case.reference, deadline_id=deadline_id[:200],
                              version=case.version, kind=deadline_kind(deadline_id)[:64],
                              opened_at=utc(mark.opened_at))
            existing[deadline_id] = row
        d = details.get(deadline_id)
        if d is not None:
            row.kind, row.rule = d.kind[:64], d.rule[:40]
            row.description, row.owner_role = d.description[:500], d.owner_role.value
            row.due_at, row.remind_at = utc(d.due_at), utc(d.remind_at)
        row.version, row.opened_at = case.version, utc(mark.opened_at)
        row.reminded_at, row.escalated_at = _utc(mark.reminded_at), _utc(mark.escalated_at)
        row.met_at = _utc(mark.met_at)
        row.failing = scrub_failure(mark.failing)
        session.add(row)


def report_facts(case: CaseFile) -> list[FactRow]:
    """The dated facts the reports count beyond the history rows: charging decisions and each
    offence charged, sentences per charge and the total custodial term, orders made, and how
    each prosecution ended."""
    ref = case.reference
    facts: list[FactRow] = []
    # Numbered over the case's whole life: the file keeps only the latest decisions.
    first = max(case.recorded.get("make_charging_decision", 0) - len(case.decisions), 0)
    for i, decision in enumerate(case.decisions, start=first):
        facts.append(FactRow(reference=ref, fact_id=f"decision:{i}", kind="charging_decision",
                             at=utc(decision.at), detail=decision.kind.value))
        if decision.kind is ChargingDecisionKind.CHARGE:
            facts += [FactRow(reference=ref, fact_id=f"charge:{i}:{o.value}", kind="charge",
                              at=utc(decision.at), detail=o.value) for o in decision.charges]
    sentencing = case.sentencing
    if sentencing is not None and sentencing.charges:
        # Numbered by the sentences the case has recorded (a later one may replace it); counted
        # by the day the court sentenced, when it is given.
        n = case.recorded.get("record_sentence", 1)
        at = (at_local(sentencing.sentenced_on, time(12)).astimezone(UTC)
              if sentencing.sentenced_on else utc(sentencing.recorded_at))
        facts += [FactRow(reference=ref, fact_id=f"sentence:{n}:{c.offence.value}",
                          kind="sentence", at=at, detail=c.kind.value)
                  for c in sentencing.charges]
        if sentencing.total_custodial_months is not None:
            facts.append(FactRow(reference=ref, fact_id=f"custody:{n}", kind="custodial_term",
                                 at=at, detail=f"{sentencing.total_custodial_months:g}"))
    # Stalking protection orders count by the day applied for and the day made.
    for app in case.spo_applications:
        facts.append(FactRow(reference=ref, fact_id=f"spo_application:{app.application_id}",
                             kind="spo_application",
                             at=at_local(app.applied_on, time(12)).astimezone(UTC),
                             detail=app.order_type.value))
    for spo in case.stalking_protection_orders:
        facts.append(FactRow(reference=ref, fact_id=f"spo:{spo.order_id}", kind="spo_made",
                             at=at_local(spo.made_on, time(12)).astimezone(UTC),
                             detail=spo.order_type.value))
    for order in case.orders:
        # Orders count by the day the court made them, not the day they were recorded.
        facts.append(FactRow(reference=ref, fact_id=f"order:{order.order_id}", kind="order_made",
                             at=at_local(order.made_on, time(12)).astimezone(UTC),
                             detail="replacement" if order.replaces else "new"))
    return facts


def _prosecution_outcome(entry: HistoryEntry) -> str | None:
    """How a prosecution ended, from the action that ended it (§4.1 'prosecutions')."""
    if entry.action == "enter_pleas" and entry.summary.startswith("guilty"):
        return "convicted"
    if entry.action == "accept_lesser_plea":
        return "convicted"
    if entry.action == "record_verdict":
        return entry.summary.removeprefix("verdict: ")
    if entry.action == "discontinue":
        return "discontinued"
    return None


def project_entry_facts(session: Session, reference: str, entries: list[HistoryEntry]) -> None:
    """The report facts new history entries make (each written with its entry, once)."""
    for entry in entries:
        outcome = _prosecution_outcome(entry)
        if outcome is not None:
            session.merge(FactRow(reference=reference, fact_id=f"outcome:{entry.version}",
                                  kind="prosecution_outcome", at=utc(entry.at), detail=outcome))


def project_facts(session: Session, case: CaseFile) -> None:
    """Insert the facts not yet recorded; facts are immutable once dated."""
    known = set(session.exec(select(FactRow.fact_id).where(FactRow.reference == case.reference)))
    for fact in report_facts(case):
        if fact.fact_id not in known:
            session.add(fact)


def project_monitoring(session: Session, case: CaseFile) -> None:
    """Everything managers' views need from one case version; the caller commits."""
    project_deadlines(session, case)
    project_facts(session, case)

