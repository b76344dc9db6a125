"""The audit chain: appends one entry at a time under a lock, and verifies that none was altered.

Each entry's hash is HMAC-SHA256, under the audit key (CASES_AUDIT_KEY, never stored in the
database), of the previous entry's hash and the canonical JSON of its fields; the first entry
follows GENESIS. Changing, removing, inserting or reordering an entry breaks the chain at that
entry, and whoever can write the database but does not hold the key cannot compute the hashes
again to hide it.

Removing the newest entries leaves a chain that still holds together, so the chain's head is
also written outside the database: signed checkpoints, one JSON line each (sequence, id, head,
at, signature), appended to CASES_AUDIT_CHECKPOINT_PATH every CASES_AUDIT_CHECKPOINT_EVERY
entries by the API and by `cases-admin audit-checkpoint`. Verification holds the chain to every
checkpoint: a head that differs, or a checkpoint counting more entries than the chain holds,
is reported, and so is a checkpoint whose signature does not verify.

Entries written before the chain was keyed carry plain SHA-256 hashes. They verify only up to
the one checkpoint `cases-admin audit-checkpoint --adopt-unkeyed` signs over their head, so
they cannot be rewritten afterwards either (docs/operations.md, "The audit log").
"""

import hashlib
import hmac
import json
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, func, text
from sqlmodel import Session, col, select

from models.audit import AuditRow

if TYPE_CHECKING:
    from core.settings import Settings

log = logging.getLogger("audit")

GENESIS = "0" * 64
# Names the PostgreSQL advisory lock that serialises appends across every API process.
AUDIT_LOCK_KEY = 0x6175_6469_7400  # "audit" in ASCII, shifted
# What each HMAC is of, so an entry's hash can never pass for a checkpoint's signature.
_ENTRY_CONTEXT = b"cases-audit-entry\n"
_CHECKPOINT_CONTEXT = b"cases-audit-checkpoint\n"


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


def _utc_text(at: datetime) -> str:
    # SQLite hands back naive datetimes and PostgreSQL aware ones: hash the same text for both.
    aware = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return aware.isoformat(timespec="microseconds")


def canonical(fields: dict[str, Any]) -> str:
    """The hashed form of an entry: sorted keys, no spaces, time in UTC to the microsecond."""
    return json.dumps({**fields, "at": _utc_text(fields["at"])}, sort_keys=True,
                      separators=(",", ":"), ensure_ascii=True)


def entry_hash(key: bytes, prev_hash: str, fields: dict[str, Any]) -> str:
    """An entry's link in the keyed chain: HMAC-SHA256 under the audit key."""
    message = _ENTRY_CONTEXT + (prev_hash + canonical(fields)).encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def unkeyed_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    """An entry's link as written before the chain was keyed: anyone can compute it."""
    return hashlib.sha256((prev_hash + canonical(fields)).encode("utf-8")).hexdigest()


_HASHED = tuple(AuditEntry.__dataclass_fields__)


def _hashed_fields(row: AuditRow) -> dict[str, Any]:
    return {name: getattr(row, name) for name in _HASHED}


# Checkpoints: the chain's head, signed, outside the database


@dataclass(frozen=True)
class Checkpoint:
    """The chain as it stood: `sequence` entries, the newest of them row `id` with hash `head`.

    `unkeyed` marks the one checkpoint that adopts the entries written before the chain was
    keyed: entries up to its sequence verify by their plain SHA-256 hashes, and its head.
    """

    sequence: int
    id: int
    head: str
    at: str
    unkeyed: bool = False
    signature: str = ""

    def _signed_text(self) -> bytes:
        fields: dict[str, Any] = {"sequence": self.sequence, "id": self.id, "head": self.head,
                                  "at": self.at}
        if self.unkeyed:
            fields["unkeyed"] = True
        return _CHECKPOINT_CONTEXT + json.dumps(fields, sort_keys=True,
                                                separators=(",", ":")).encode("ascii")

    def signed(self, key: bytes) -> "Checkpoint":
        return replace(self, signature=hmac.new(key, self._signed_text(),
                                                hashlib.sha256).hexdigest())

    def verifies(self, key: bytes) -> bool:
        expected = hmac.new(key, self._signed_text(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, self.signature)

    def line(self) -> str:
        fields: dict[str, Any] = {"sequence": self.sequence, "id": self.id, "head": self.head,
                                  "at": self.at}
        if self.unkeyed:
            fields["unkeyed"] = True
        fields["signature"] = self.signature
        return json.dumps(fields, separators=(",", ":"), ensure_ascii=True) + "\n"

    @classmethod
    def parse(cls, line: str) -> "Checkpoint":
        """One line of the file; ValueError unless it is a whole checkpoint."""
        try:
            data = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError("not JSON") from err
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        kinds = {"sequence": int, "id": int, "head": str, "at": str, "signature": str}
        for name, kind in kinds.items():
            if not isinstance(data.get(name), kind) or isinstance(data.get(name), bool):
                raise ValueError(f"no {name}")
        unkeyed = data.get("unkeyed", False)
        if not isinstance(unkeyed, bool) or set(data) - {*kinds, "unkeyed"}:
            raise ValueError("unexpected fields")
        return cls(sequence=data["sequence"], id=data["id"], head=data["head"], at=data["at"],
                   unkeyed=unkeyed, signature=data["signature"])

    def __str__(self) -> str:
        return f"checkpoint of {self.at} (entry {self.sequence}, id {self.id}, head {self.head})"


@dataclass(frozen=True)
class CheckpointRead:
    """A checkpoint file as read: the checkpoints whose signatures verify, and what was wrong."""

    valid: tuple[Checkpoint, ...] = ()
    problems: tuple[str, ...] = ()
    exists: bool = False


_TAIL_BYTES = 64 * 1024


class CheckpointFile:
    """An append-only file of checkpoints, one JSON line each. Keep it where the database's
    administrators cannot write: another host, a write-once bucket, a log shipper."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, checkpoint: Checkpoint) -> None:
        """Append one signed checkpoint, in one write, flushed to disk before returning."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, checkpoint.line().encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)

    def read(self, key: bytes) -> CheckpointRead:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return CheckpointRead()
        valid, problems = [], []
        lines = raw.split(b"\n")
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"{self.path}, line {number}"
            try:
                checkpoint = Checkpoint.parse(line.decode("ascii"))
            except (ValueError, UnicodeDecodeError) as err:
                cut = " (the file's last line is cut short)" if number == len(lines) else ""
                problems.append(f"{where} is not a checkpoint ({err}){cut}: the file was edited "
                                "or truncated")
                continue
            if not checkpoint.verifies(key):
                problems.append(f"{where}: the {checkpoint} has a bad signature: it was edited, "
                                "or signed with another key")
                continue
            valid.append(checkpoint)
        return CheckpointRead(tuple(valid), tuple(problems), exists=True)

    def last(self, key: bytes) -> Checkpoint | None:
        """The newest checkpoint whose signature verifies, from the file's end only. Newest by
        its place in the chain: several API processes append, so two may land out of order."""
        try:
            with self.path.open("rb") as file:
                file.seek(0, os.SEEK_END)
                file.seek(max(0, file.tell() - _TAIL_BYTES))
                tail = file.read()
        except FileNotFoundError:
            return None
        newest: Checkpoint | None = None
        for line in tail.split(b"\n"):
            try:
                checkpoint = Checkpoint.parse(line.decode("ascii"))
            except (ValueError, UnicodeDecodeError):
                continue
            if checkpoint.verifies(key) and (newest is None or checkpoint.sequence > newest.sequence):
                newest = checkpoint
        return newest


@dataclass(frozen=True)
class AuditTrail:
    """How the chain is kept: its key, its checkpoint file (if any), and how often the API
    writes a checkpoint (every `every` entries; 0: only `cases-admin audit-checkpoint`)."""

    key: bytes
    checkpoints: CheckpointFile | None = None
    every: int = 0

    @classmethod
    def from_settings(cls, settings: "Settings") -> "AuditTrail":
        path = settings.audit_checkpoint_path
        return cls(key=settings.audit_key.encode("utf-8"),
                   checkpoints=CheckpointFile(Path(path)) if path else None,
                   every=settings.audit_checkpoint_every)


def _now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# Appending


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


def _position(session: Session, trail: AuditTrail, row_id: int) -> int:
    """How many entries the chain holds up to row `row_id`: counted from the newest checkpoint
    when it is of this chain (a few rows), else from the start."""
    assert trail.checkpoints is not None
    base = trail.checkpoints.last(trail.key)
    if base is not None and base.id <= row_id:
        at_base = session.exec(select(AuditRow.hash).where(AuditRow.id == base.id)).first()
        if at_base == base.head:
            since = session.exec(select(func.count()).select_from(AuditRow).where(
                col(AuditRow.id) > base.id, col(AuditRow.id) <= row_id)).one()
            return base.sequence + since
    return session.exec(select(func.count()).select_from(AuditRow)
                        .where(col(AuditRow.id) <= row_id)).one()


def append(engine: Engine, entry: AuditEntry, trail: AuditTrail) -> AuditRow:
    """Chain one entry after the current head and write it (append_many of one)."""
    return append_many(engine, [entry], trail)[0]


def append_many(engine: Engine, entries: Sequence[AuditEntry], trail: AuditTrail) -> list[AuditRow]:
    """Chain the entries, in order, after the current head and write them in one transaction;
    write a checkpoint each time the chain passes a multiple of `trail.every` entries.
    Blocking: call from a thread. Many requests' entries share one lock and one commit."""
    due: list[Checkpoint] = []
    rows: list[AuditRow] = []
    with Session(engine, expire_on_commit=False) as session:
        _serialise_appends(session)
        head = session.exec(select(AuditRow.id, AuditRow.hash)
                            .order_by(col(AuditRow.id).desc()).limit(1)).first()
        prev_id, prev_hash = (head[0] or 0, head[1]) if head else (0, GENESIS)
        for entry in entries:
            fields = asdict(entry)
            row = AuditRow(**fields, prev_hash=prev_hash,
                           hash=entry_hash(trail.key, prev_hash, fields))
            session.add(row)
            session.flush()
            assert row.id is not None
            # By row id, so an id skipped (PostgreSQL's sequences skip on rollback) is no matter.
            if trail.checkpoints is not None and trail.every and \
                    row.id // trail.every > prev_id // trail.every:
                due.append(Checkpoint(sequence=_position(session, trail, row.id), id=row.id,
                                      head=row.hash, at=_now_text()))
            prev_id, prev_hash = row.id, row.hash
            rows.append(row)
        session.commit()
    for checkpoint in due:
        assert trail.checkpoints is not None
        try:
            trail.checkpoints.write(checkpoint.signed(trail.key))
        except OSError as err:
            log.error("audit checkpoint NOT written to %s (%s): entry %d, id %d, head %s",
                      trail.checkpoints.path, type(err).__name__, checkpoint.sequence,
                      checkpoint.id, checkpoint.head)
    return rows


# Verifying


@dataclass(frozen=True)
class ChainCheck:
    """The outcome of walking the chain: how many entries held, the first that did not, and
    what the checkpoints say of the rest."""

    count: int
    head: str = GENESIS
    head_id: int = 0
    broken_id: int | None = None
    reason: str = ""
    problems: tuple[str, ...] = ()
    checkpoints_matched: int = 0
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.broken_id is None and not self.problems


def _walk(engine: Engine, batch: int) -> Iterable[AuditRow]:
    last_id = 0
    with Session(engine) as session:
        while True:
            rows = session.exec(select(AuditRow).where(col(AuditRow.id) > last_id)
                                .order_by(col(AuditRow.id)).limit(batch)).all()
            if not rows:
                return
            yield from rows
            last_id = rows[-1].id or last_id
            session.expunge_all()


def verify_chain(engine: Engine, trail: AuditTrail, batch: int = 1000) -> ChainCheck:
    """Walk the chain from the first entry, with the key and against every checkpoint; stop
    at the first entry that does not hold."""
    read = trail.checkpoints.read(trail.key) if trail.checkpoints else CheckpointRead()
    problems, notes = list(read.problems), []
    adopted = sorted({c for c in read.valid if c.unkeyed}, key=lambda c: c.sequence)
    if len({(c.sequence, c.id, c.head) for c in adopted}) > 1:
        problems.append("more than one checkpoint adopts the unkeyed entries, and they differ: "
                        + "; ".join(map(str, adopted)))
    unkeyed_until = adopted[0].sequence if adopted else 0
    at_sequence: dict[int, list[Checkpoint]] = {}
    for checkpoint in read.valid:
        at_sequence.setdefault(checkpoint.sequence, []).append(checkpoint)

    expected_prev, count, head_id, matched = GENESIS, 0, 0, 0
    broken_id, reason = None, ""
    for row in _walk(engine, batch):
        position = count + 1
        if row.prev_hash != expected_prev:
            broken_id, reason = row.id, ("it does not follow the entry before it: an entry was "
                                         "removed, inserted or reordered here")
            break
        fields = _hashed_fields(row)
        if position <= unkeyed_until:
            holds = unkeyed_hash(row.prev_hash, fields) == row.hash
        else:
            holds = hmac.compare_digest(entry_hash(trail.key, row.prev_hash, fields), row.hash)
        if not holds:
            broken_id, reason = row.id, "its fields do not match its hash: it was altered"
            if position > unkeyed_until and unkeyed_hash(row.prev_hash, fields) == row.hash:
                reason = ("its hash is a plain SHA-256, not keyed with the audit key: it was "
                          "rewritten by someone who does not hold the key (or written before "
                          "the chain was keyed and never adopted: `cases-admin "
                          "audit-checkpoint --adopt-unkeyed`)")
            break
        for checkpoint in at_sequence.get(position, ()):
            if (checkpoint.id, checkpoint.head) == (row.id, row.hash):
                matched += 1
            else:
                problems.append(f"the {checkpoint} does not match the chain, whose entry "
                                f"{position} is id {row.id} with hash {row.hash}: the chain was "
                                "rewritten up to there")
        expected_prev, count, head_id = row.hash, position, row.id or head_id

    beyond = sorted((c for c in read.valid if c.sequence > count), key=lambda c: c.sequence)
    if broken_id is not None:
        if beyond:
            notes.append(f"{len(beyond)} checkpoint(s) past the broken entry were not checked")
    else:
        problems.extend(f"the {c} counts more entries than the chain holds ({count}): entries "
                        "were removed from its end" for c in beyond)
        if trail.checkpoints is not None and trail.every:
            newest = max((c.sequence for c in read.valid), default=0)
            if count - newest > trail.every:
                where = (f"{trail.checkpoints.path} holds no checkpoint" if not read.valid
                         else f"the newest checkpoint in {trail.checkpoints.path} is of entry "
                              f"{newest}")
                problems.append(f"{where}, yet the chain holds {count} entries and one is "
                                f"written every {trail.every}: the checkpoint file lost its end "
                                "(or was replaced), or the API could not write it (see its "
                                "error log)")
    if trail.checkpoints is None:
        notes.append("no checkpoint file (CASES_AUDIT_CHECKPOINT_PATH): removing the newest "
                     "entries cannot be detected")
    return ChainCheck(count=count, head=expected_prev, head_id=head_id, broken_id=broken_id,
                      reason=reason, problems=tuple(problems), checkpoints_matched=matched,
                      notes=tuple(notes))


def write_checkpoint(engine: Engine, trail: AuditTrail) -> tuple[ChainCheck, Checkpoint | None]:
    """Verify the whole chain and, only if it holds, sign its head into the checkpoint file."""
    if trail.checkpoints is None:
        raise ValueError("no checkpoint file: set CASES_AUDIT_CHECKPOINT_PATH")
    check = verify_chain(engine, trail)
    if not check.ok or check.count == 0:
        return check, None
    checkpoint = Checkpoint(sequence=check.count, id=check.head_id, head=check.head,
                            at=_now_text()).signed(trail.key)
    trail.checkpoints.write(checkpoint)
    return check, checkpoint


def adopt_unkeyed(engine: Engine, trail: AuditTrail, batch: int = 1000) -> Checkpoint:
    """Sign the head of the entries written before the chain was keyed (the unbroken run of
    plain SHA-256 links from the first entry), so they verify from now on and cannot be
    rewritten. Once only: ValueError if they were adopted already, or there are none."""
    if trail.checkpoints is None:
        raise ValueError("no checkpoint file: set CASES_AUDIT_CHECKPOINT_PATH")
    earlier = [c for c in trail.checkpoints.read(trail.key).valid if c.unkeyed]
    if earlier:
        raise ValueError(f"the unkeyed entries were adopted already: {earlier[0]}")
    expected_prev, count, head_id = GENESIS, 0, 0
    for row in _walk(engine, batch):
        if row.prev_hash != expected_prev or \
                unkeyed_hash(row.prev_hash, _hashed_fields(row)) != row.hash:
            break
        expected_prev, count, head_id = row.hash, count + 1, row.id or head_id
    if count == 0:
        raise ValueError("no entry of the audit log has an unkeyed hash: nothing to adopt")
    checkpoint = Checkpoint(sequence=count, id=head_id, head=expected_prev, at=_now_text(),
                            unkeyed=True).signed(trail.key)
    trail.checkpoints.write(checkpoint)
    return checkpoint
