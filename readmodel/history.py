"""Reading a case's history from the read model: pages of entries, and one entry by the
request that applied it (so a retried request is answered the same in any run)."""

from sqlmodel import Session, col, func, select

from core.db import aware
from models.case import Actor, HistoryEntry
from models.enums import CaseState, Role
from models.tables import HistoryRow


def entry_of(row: HistoryRow) -> HistoryEntry:
    at = aware(row.at)
    assert at is not None
    return HistoryEntry(
        version=row.version, at=at, action=row.action, summary=row.summary,
        actor=Actor(user_id=row.actor_id, role=Role(row.actor_role),
                    area=row.actor_area or "unknown"),
        reasons=row.reasons, detail=row.detail, request_id=row.request_id,
        state_before=CaseState(row.state_before), state_after=CaseState(row.state_after),
        rules=[r for r in row.rules.split(",") if r])


def history_page(session: Session, reference: str, after_version: int,
                 limit: int) -> list[HistoryEntry]:
    """The entries after a version, oldest first."""
    rows = session.exec(select(HistoryRow).where(
        col(HistoryRow.reference) == reference, col(HistoryRow.version) > after_version)
        .order_by(col(HistoryRow.version)).limit(limit)).all()
    return [entry_of(row) for row in rows]


def history_count(session: Session, reference: str) -> int:
    return session.exec(select(func.count()).select_from(HistoryRow).where(
        col(HistoryRow.reference) == reference)).one()


def entry_by_request(session: Session, reference: str, request_id: str) -> HistoryEntry | None:
    row = session.exec(select(HistoryRow).where(
        col(HistoryRow.reference) == reference, col(HistoryRow.request_id) == request_id)).first()
    return entry_of(row) if row else None


def entry_by_version(session: Session, reference: str, version: int) -> HistoryEntry | None:
    row = session.get(HistoryRow, (reference, version))
    return entry_of(row) if row else None


def with_pending(stored: list[HistoryEntry], pending: list[HistoryEntry], after: int,
                 limit: int) -> tuple[list[HistoryEntry], bool]:
    """A page of the history: the stored entries after `after`, with those the workflow holds
    that the read model does not have yet; and whether there are more."""
    by_version = {e.version: e for e in stored}
    for entry in pending:
        if entry.version > after:
            by_version.setdefault(entry.version, entry)
    page = [by_version[v] for v in sorted(by_version)]
    return page[:limit], len(page) > limit
