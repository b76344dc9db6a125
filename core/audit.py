"""The audit chain: appends one entry at a time under a lock, and verifies that none was altered.

Each entry's hash is sha256(previous entry's hash + canonical JSON of its fields), the first
entry following GENESIS. Changing, removing, inserting or reordering an entry breaks the chain
at that entry. Removing the newest entries cannot be seen from the chain alone: keep the head
hash that `cases-admin verify-audit` prints somewhere the database's administrators cannot write.
"""

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, text
from sqlmodel import Session, col, select

from models.audit import AuditRow

GENESIS = "0" * 64
# Names the PostgreSQL advisory lock that serialises appends across every API process.
AUDIT_LOCK_KEY = 0x6175_6469_7400  # "audit" in ASCII, shifted


@dataclass(frozen=True)
class AuditEntry:
    """What one request records, before it is chained."""

    at: datetime
    user_id: str | None
    role: str | None
    area: str | None
    method: str
    path: str
    reference: str | None
    action: str | None
    status: int
    request_id: str


@dataclass(frozen=True)
class ChainCheck:
    """The outcome of walking the chain: how many entries held, and the first that did not."""

    count: int
    head: str = GENESIS
    broken_id: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_id is None


def _utc_text(at: datetime) -> str:
    # SQLite hands back naive datetimes and PostgreSQL aware ones: hash the same text for both.
    aware = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return aware.isoformat(timespec="microseconds")


def canonical(fields: dict[str, Any]) -> str:
    """The hashed form of an entry: sorted keys, no spaces, time in UTC to the microsecond."""
    return json.dumps({**fields, "at": _utc_text(fields["at"])}, sort_keys=True,
                      separators=(",", ":"), ensure_ascii=True)


def chain_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(fields)).encode("utf-8")).hexdigest()


_HASHED = tuple(AuditEntry.__dataclass_fields__)


def _hashed_fields(row: AuditRow) -> dict[str, Any]:
    return {name: getattr(row, name) for name in _HASHED}


def _serialise_appends(session: Session) -> None:
    """Take the lock that makes appends one at a time, until the transaction ends."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.connection().execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                     {"key": AUDIT_LOCK_KEY})
    elif dialect == "sqlite":
        # SQLite's single writer lock, taken before reading the head rather than on first write.
        session.connection().exec_driver_sql("BEGIN IMMEDIATE")
    else:
        raise RuntimeError(f"no audit append lock for the {dialect} dialect")


def append(engine: Engine, entry: AuditEntry) -> AuditRow:
    """Chain the entry after the current head and write it. Blocking: call from a thread."""
    fields = asdict(entry)
    with Session(engine, expire_on_commit=False) as session:
        _serialise_appends(session)
        head = session.exec(select(AuditRow.hash).order_by(col(AuditRow.id).desc()).limit(1)).first()
        prev_hash = head or GENESIS
        row = AuditRow(**fields, prev_hash=prev_hash, hash=chain_hash(prev_hash, fields))
        session.add(row)
        session.commit()
    return row


def verify_chain(engine: Engine, batch: int = 1000) -> ChainCheck:
    """Walk the chain from the first entry; stop at the first entry that does not hold."""
    expected_prev, count, last_id = GENESIS, 0, 0
    with Session(engine) as session:
        while True:
            rows = session.exec(select(AuditRow).where(col(AuditRow.id) > last_id)
                                .order_by(col(AuditRow.id)).limit(batch)).all()
            if not rows:
                return ChainCheck(count=count, head=expected_prev)
            for row in rows:
                if row.prev_hash != expected_prev:
                    return ChainCheck(count, expected_prev, row.id,
                                      "it does not follow the entry before it: an entry was "
                                      "removed, inserted or reordered here")
                if chain_hash(row.prev_hash, _hashed_fields(row)) != row.hash:
                    return ChainCheck(count, expected_prev, row.id,
                                      "its fields do not match its hash: it was altered")
                expected_prev, count = row.hash, count + 1
            last_id = rows[-1].id or last_id
            session.expunge_all()
