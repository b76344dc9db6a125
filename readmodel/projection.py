"""Writing the read model: each history entry once, by case and version; the case's facts by
version, never going backwards.

Three writers share these functions: the API (from each action's answer, after answering),
the projection activity (the workflow's durable backstop), and the rebuild command. So a row
is the same whoever wrote it, and a second writer of the same version changes nothing.
"""

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from core.db import lock_case
from models.actions import ActionResult
from models.case import CaseFacts, CaseFile, HistoryEntry, case_facts
from models.tables import CaseRow, CaseTeamRow, HistoryRow
from readmodel.monitoring import project_entry_facts, project_monitoring
from readmodel.suspects import index_suspects, suspects_changed

log = logging.getLogger("readmodel.projection")


def case_row(facts: CaseFacts) -> CaseRow:
    return CaseRow(
        **facts.model_dump(exclude={"state", "outcome", "charges", "linked_cases", "team",
                                    "risk_level", "orders_in_force"}),
        state=facts.state.value, outcome=facts.outcome.value if facts.outcome else None,
        risk_level=facts.risk_level.value if facts.risk_level else None,
        orders_in_force=json.dumps([o.model_dump(mode="json") for o in facts.orders_in_force])
        if facts.orders_in_force else None,
        updated_at=datetime.now(UTC), charges=",".join(o.value for o in facts.charges),
        # The column holds 2,000 characters; the case file keeps every link.
        linked_cases=",".join(facts.linked_cases)[:2000])


def history_row(reference: str, entry: HistoryEntry) -> HistoryRow:
    return HistoryRow(
        reference=reference, version=entry.version, at=entry.at, action=entry.action,
        actor_id=entry.actor.user_id, actor_role=entry.actor.role.value,
        actor_area=entry.actor.area, state_before=entry.state_before.value,
        state_after=entry.state_after.value, summary=entry.summary, reasons=entry.reasons,
        detail=entry.detail, request_id=entry.request_id, rules=",".join(entry.rules)[:200])


def write_entries(session: Session, reference: str, entries: list[HistoryEntry]) -> int:
    """Insert the entries not stored yet (an entry, once written, never changes); returns how
    many were new. The report facts an entry makes are written with it."""
    if not entries:
        return 0
    lock_case(session, reference)  # the API and the workflow may both be writing it
    versions = [e.version for e in entries]
    stored = set(session.exec(select(HistoryRow.version).where(
        col(HistoryRow.reference) == reference, col(HistoryRow.version).in_(versions))))
    new = [e for e in entries if e.version not in stored]
    ids = [e.request_id for e in new if e.request_id]
    taken = set(session.exec(select(HistoryRow.request_id).where(
        col(HistoryRow.reference) == reference, col(HistoryRow.request_id).in_(ids)))) \
        if ids else set()
    for entry in new:
        row = history_row(reference, entry)
        if row.request_id in taken:
            # A retry the service could not recognise (an id older than the workflow's memory,
            # while this database was unreachable) was applied again: both entries are kept.
            log.warning("request applied twice", extra={"reference": reference,
                                                        "version": entry.version})
            row.request_id = None
        session.add(row)
    project_entry_facts(session, reference, new)
    return len(new)


def missing_versions(session: Session, reference: str, versions: list[int]) -> list[int]:
    """Which of these versions of the case's history the read model does not hold."""
    stored = set(session.exec(select(HistoryRow.version).where(
        col(HistoryRow.reference) == reference, col(HistoryRow.version).in_(versions))))
    return [v for v in versions if v not in stored]


def write_case(session: Session, case: CaseFile, entries: Sequence[HistoryEntry] = ()) -> None:
    """Write this version of the case's facts unless a newer one is stored, with its entries,
    its deadlines and its report facts.

    A retried or out-of-order projection never goes backwards and never duplicates. The API
    may have stored a newer version's state from an answer (record_answer); the facts of an
    older snapshot then wait for the next projection, which the workflow always makes.
    """
    lock_case(session, case.reference)  # the API and the workflow may both be writing it
    write_entries(session, case.reference, list(entries))
    existing = session.get(CaseRow, case.reference)
    if existing is not None and existing.version > case.version:
        return  # an older snapshot
    if existing is None or suspects_changed(session, case.reference, case.suspects):
        index_suspects(session, case.reference, case.police_area, case.suspects)
    write_row(session, existing, case_facts(case))
    project_monitoring(session, case)  # deadlines and report facts for managers' views


def write_row(session: Session, existing: CaseRow | None, facts: CaseFacts) -> None:
    if existing is None:
        session.add(case_row(facts))
    else:
        for key, value in case_row(facts).model_dump().items():
            setattr(existing, key, value)
    write_team(session, facts)


def write_team(session: Session, facts: CaseFacts) -> None:
    """The case team's rows as this version names them (a reassignment replaces a row)."""
    stored = {row.role: row for row in session.exec(
        select(CaseTeamRow).where(col(CaseTeamRow.reference) == facts.reference))}
    for role, row in stored.items():
        if role not in facts.team:
            session.delete(row)
    for role, user_id in facts.team.items():
        held = stored.get(role)
        if held is None:
            session.add(CaseTeamRow(reference=facts.reference, role=role, user_id=user_id))
        elif held.user_id != user_id:
            held.user_id = user_id
            session.add(held)


def record_answer(session: Session, reference: str, entry: HistoryEntry,
                  result: ActionResult) -> None:
    """The API's write from an action's answer: the entry, and the case's row if newer (its
    deadlines follow with the workflow's projection)."""
    write_entries(session, reference, [entry])
    row = session.get(CaseRow, reference)
    if row is None or row.version < result.facts.version:
        write_row(session, row, result.facts)


def project_answer(engine: Engine, reference: str, entry: HistoryEntry,
                   result: ActionResult) -> None:
    """record_answer in its own transaction, after the caller has its answer. A failure is
    logged and left to the workflow's backstop, which writes whatever the read model lacks."""
    try:
        with Session(engine) as session:
            record_answer(session, reference, entry, result)
            session.commit()
    except SQLAlchemyError as err:
        # The reference and version only: the driver's message can quote personal data.
        log.warning("read model not written from the answer (%s); the workflow's backstop "
                    "writes it", type(err).__name__,
                    extra={"reference": reference, "version": entry.version})


def project_answers(engine: Engine,
                    answers: Sequence[tuple[str, HistoryEntry, ActionResult]]) -> None:
    """record_answer for many answers in one transaction (the API's group commit), the cases
    in reference order so that two writers never wait on each other's locks in a cycle. If the
    batch fails, each answer is written on its own, so one that cannot be written costs no
    other its write (and what is still not written is left to the workflow's backstop)."""
    if not answers:
        return
    try:
        with Session(engine) as session:
            for reference, entry, result in sorted(answers, key=lambda a: (a[0], a[1].version)):
                record_answer(session, reference, entry, result)
            session.commit()
    except SQLAlchemyError:
        for reference, entry, result in answers:
            project_answer(engine, reference, entry, result)
