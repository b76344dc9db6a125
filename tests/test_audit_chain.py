"""The audit chain holds against an insider: keyed hashes, and signed checkpoints kept outside
the database.

Each test has an audit log of its own (a SQLite file) and a checkpoint file of its own, so an
edit or a deletion here never touches the suite's shared log. The insider can write the
database however they like and knows the code, but holds neither the audit key nor write
access to the checkpoint file.
"""

import asyncio
import base64
import hashlib
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, col, select
from temporalio.client import Client

from api.main import create_app
from core import admin
from core.audit import (
    AuditEntry,
    AuditTrail,
    Checkpoint,
    CheckpointFile,
    append,
    append_many,
    canonical,
    entry_hash,
    verify_chain,
)
from core.db import create_schema, make_engine
from core.settings import DEVELOPMENT_AUDIT_KEY, Settings, get_settings
from models.audit import AuditRow

KEY = b"k" * 40  # the deployment's CASES_AUDIT_KEY in these tests


@pytest.fixture
def audit_db(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'audit.db'}")
    create_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def checkpoints(tmp_path: Path) -> Path:
    return tmp_path / "checkpoints" / "audit.jsonl"


def keyed(path: Path | None, every: int = 5) -> AuditTrail:
    return AuditTrail(key=KEY, checkpoints=CheckpointFile(path) if path else None, every=every)


def entry(n: int) -> AuditEntry:
    return AuditEntry(at=datetime(2026, 11, 23, 10, 0, n % 60, tzinfo=UTC), user_id=f"pc-{n}",
                      role="officer_in_case", area="north", method="GET",
                      path=f"/cases/AUD-{n}", reference=f"AUD-{n}", action=None, status=200,
                      request_id=f"req-{n}")


def fill(engine: Engine, trail: AuditTrail, count: int) -> list[AuditRow]:
    return [append(engine, entry(n), trail) for n in range(count)]


def rows(engine: Engine) -> list[AuditRow]:
    with Session(engine) as session:
        return list(session.exec(select(AuditRow).order_by(col(AuditRow.id))).all())


def hashed_fields(row: AuditRow) -> dict[str, Any]:
    return {name: getattr(row, name) for name in AuditEntry.__dataclass_fields__}


def plain_sha256(prev_hash: str, fields: dict[str, Any]) -> str:
    """The chain's hash as the code wrote it before it was keyed: anyone can compute it."""
    return hashlib.sha256((prev_hash + canonical(fields)).encode("utf-8")).hexdigest()


def rechain_from(engine: Engine, first_id: int, link: Callable[[str, dict[str, Any]], str]) -> None:
    """The insider's cover-up: every hash from `first_id` on computed again with `link`."""
    chain = rows(engine)
    prev = next((r.hash for r in reversed(chain) if (r.id or 0) < first_id), "0" * 64)
    with engine.begin() as connection:
        for row in (r for r in chain if (r.id or 0) >= first_id):
            new = link(prev, hashed_fields(row))
            connection.execute(text("UPDATE audit_log SET prev_hash = :prev, hash = :hash "
                                    "WHERE id = :id"), {"prev": prev, "hash": new, "id": row.id})
            prev = new


def edit_path(engine: Engine, row_id: int, path: str) -> None:
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_log SET path = :path WHERE id = :id"),
                           {"path": path, "id": row_id})


def delete_from(engine: Engine, first_id: int) -> None:
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_log WHERE id >= :id"), {"id": first_id})


@pytest.fixture
def cli(audit_db: Engine, checkpoints: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[..., tuple[int, str]]]:
    """`cases-admin ...` against this test's log, key and checkpoint file: (exit code, output)."""
    monkeypatch.setenv("CASES_DATABASE_URL", audit_db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("CASES_AUDIT_KEY", KEY.decode())
    monkeypatch.setenv("CASES_AUDIT_CHECKPOINT_PATH", str(checkpoints))
    monkeypatch.setenv("CASES_AUDIT_CHECKPOINT_EVERY", "5")

    def run(*argv: str) -> tuple[int, str]:
        capsys.readouterr()
        get_settings.cache_clear()
        code = admin.main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    yield run
    get_settings.cache_clear()


def test_an_intact_chain_verifies_with_its_checkpoints(
        audit_db: Engine, checkpoints: Path, cli: Callable[..., tuple[int, str]]) -> None:
    trail = keyed(checkpoints)
    fill(audit_db, trail, 12)  # checkpoints at entries 5 and 10, written by the appends
    assert [json.loads(line)["sequence"] for line in checkpoints.read_text().splitlines()] == [5, 10]
    check = verify_chain(audit_db, trail)
    assert check.ok and (check.count, check.checkpoints_matched) == (12, 2), check

    assert cli("audit-checkpoint")[0] == 0  # and one of the head, entry 12
    code, out = cli("verify-audit")
    assert code == 0, out
    assert out.startswith(f"OK: 12 audit entries verified; head {rows(audit_db)[-1].hash}; "
                          "3 checkpoint(s) matched"), out


def test_an_insider_edit_with_plain_hashes_recomputed_is_detected(
        audit_db: Engine, cli: Callable[..., tuple[int, str]]) -> None:
    """Without the key, no recomputation passes: not the plain SHA-256 the chain once used,
    nor an HMAC under the public development key."""
    fill(audit_db, keyed(None), 6)
    victim = rows(audit_db)[2]
    edit_path(audit_db, victim.id or 0, "/cases/SOMEONE-ELSE")
    for link in (plain_sha256,
                 lambda prev, fields: entry_hash(DEVELOPMENT_AUDIT_KEY.encode(), prev, fields)):
        rechain_from(audit_db, victim.id or 0, link)
        check = verify_chain(audit_db, keyed(None))
        assert not check.ok and check.broken_id == victim.id, check
        assert check.count == 2
        code, out = cli("verify-audit")
        assert code == 1 and f"BROKEN at audit entry id {victim.id}:" in out, out


def test_plain_hashes_are_named_as_written_without_the_key(audit_db: Engine) -> None:
    fill(audit_db, keyed(None), 4)
    rechain_from(audit_db, 1, plain_sha256)
    check = verify_chain(audit_db, keyed(None))
    assert check.broken_id == 1 and "plain SHA-256, not keyed with the audit key" in check.reason


def test_a_deleted_tail_is_detected_against_the_checkpoint_file(
        audit_db: Engine, checkpoints: Path, cli: Callable[..., tuple[int, str]]) -> None:
    trail = keyed(checkpoints)
    fill(audit_db, trail, 12)
    assert cli("audit-checkpoint")[0] == 0  # checkpoints of entries 5, 10 and 12

    delete_from(audit_db, 9)  # the chain that is left still holds together on its own
    check = verify_chain(audit_db, trail)
    assert check.broken_id is None and check.count == 8
    assert not check.ok
    assert len([p for p in check.problems if "removed from its end" in p]) == 2, check.problems
    code, out = cli("verify-audit")
    assert code == 1, out
    assert out.startswith("CHECKPOINTS DO NOT MATCH: the 8 audit entries chain"), out
    assert "entry 12, id 12" in out and "entry 10, id 10" in out
    assert cli("audit-checkpoint")[0] == 1, "a head that does not verify is never signed"


def test_a_replaced_tail_does_not_match_its_checkpoint(
        audit_db: Engine, checkpoints: Path) -> None:
    """Entries removed and as many appended since (through the API): the count matches again,
    the head does not."""
    trail = keyed(checkpoints)
    fill(audit_db, trail, 10)
    delete_from(audit_db, 8)
    with audit_db.begin() as connection:  # SQLite then hands out ids 8, 9 and 10 again
        connection.execute(text("DELETE FROM sqlite_sequence"))
    fill(audit_db, keyed(None), 3)  # written without the checkpoint file: none is written
    check = verify_chain(audit_db, trail)
    assert check.broken_id is None and check.count == 10
    [problem] = check.problems
    assert "entry 10" in problem and "the chain was rewritten up to there" in problem


def test_checkpoints_with_a_bad_signature_or_cut_short_are_reported(
        audit_db: Engine, checkpoints: Path, cli: Callable[..., tuple[int, str]]) -> None:
    trail = keyed(checkpoints)
    fill(audit_db, trail, 10)
    first, second = checkpoints.read_text().splitlines()
    forged = json.loads(first) | {"sequence": 4}
    checkpoints.write_text(json.dumps(forged) + "\n" + second + "\n" + second[:30])
    check = verify_chain(audit_db, trail)
    assert check.broken_id is None and not check.ok
    assert any("line 1" in p and "bad signature" in p for p in check.problems), check.problems
    assert any("line 3" in p and "cut short" in p for p in check.problems), check.problems
    assert check.checkpoints_matched == 1
    code, out = cli("verify-audit")
    assert code == 1 and out.count("CHECKPOINT PROBLEM:") == 2, out


def test_a_lost_checkpoint_file_is_reported(audit_db: Engine, checkpoints: Path) -> None:
    trail = keyed(checkpoints)
    fill(audit_db, trail, 12)
    checkpoints.unlink()
    check = verify_chain(audit_db, trail)
    assert not check.ok and "holds no checkpoint" in check.problems[0], check.problems


def test_concurrent_appends_write_checkpoints_that_verify(
        audit_db: Engine, checkpoints: Path) -> None:
    trail = keyed(checkpoints, every=10)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda n: append(audit_db, entry(n), trail), range(60)))
    check = verify_chain(audit_db, trail)
    assert check.ok and (check.count, check.checkpoints_matched) == (60, 6), check


def test_unkeyed_entries_verify_once_adopted_and_cannot_be_rewritten(
        audit_db: Engine, checkpoints: Path, cli: Callable[..., tuple[int, str]]) -> None:
    """The upgrade: entries the earlier code wrote with plain hashes, then keyed ones."""
    fill(audit_db, keyed(None), 4)
    rechain_from(audit_db, 1, plain_sha256)  # as the code before the key wrote them
    fill(audit_db, keyed(checkpoints), 3)  # the keyed code appends after them
    code, out = cli("verify-audit")
    assert code == 1 and "BROKEN at audit entry id 1: its hash is a plain SHA-256" in out, out

    code, out = cli("audit-checkpoint", "--adopt-unkeyed")
    assert code == 0 and "adopted 4 unkeyed audit entries" in out, out
    assert cli("verify-audit")[0] == 0
    assert cli("audit-checkpoint", "--adopt-unkeyed")[0] == 1, "once only"

    edit_path(audit_db, 2, "/cases/SOMEONE-ELSE")
    rechain_from(audit_db, 2, plain_sha256)  # the unkeyed part, and the rest, recomputed
    check = verify_chain(audit_db, keyed(checkpoints))
    assert not check.ok and check.broken_id == 5, check  # the first keyed entry
    assert any("entry 4, id 4" in p and "rewritten" in p for p in check.problems), check.problems


def test_production_refuses_the_development_audit_key_and_needs_a_checkpoint_file() -> None:
    production: dict[str, Any] = {
        "environment": "production", "jwt_signing_key": "s" * 40,
        "payload_keys": {"2026-11": base64.b64encode(b"p" * 32).decode()},
        "payload_key_id": "2026-11", "areas": ["north"], "_env_file": None}
    with pytest.raises(ValueError, match="CASES_AUDIT_KEY must be set"):
        Settings(**production, audit_checkpoint_path="/var/lib/audit.jsonl")
    with pytest.raises(ValueError, match="CASES_AUDIT_CHECKPOINT_PATH"):
        Settings(**production, audit_key="a" * 40)
    with pytest.raises(ValueError, match="at least 32"):
        Settings(audit_key="short", _env_file=None)
    accepted = Settings(**production, audit_key="a" * 40,
                        audit_checkpoint_path="/var/lib/audit.jsonl")
    assert AuditTrail.from_settings(accepted).key == b"a" * 40


async def test_the_api_keys_its_entries_and_writes_checkpoints(
        client: Client, audit_db: Engine, checkpoints: Path) -> None:
    settings = Settings(_env_file=None, audit_key=KEY.decode(), audit_checkpoint_path=checkpoints,
                        audit_checkpoint_every=2)
    app = create_app(settings, client, audit_db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://audit.test") as http:
        for n in range(5):
            assert (await http.get(f"/cases/AUD-{n}")).status_code == 401  # audited all the same
    check = verify_chain(audit_db, keyed(checkpoints, every=2))
    assert check.ok and (check.count, check.checkpoints_matched) == (5, 2), check
    assert not verify_chain(audit_db, AuditTrail(key=DEVELOPMENT_AUDIT_KEY.encode())).ok


def test_a_batch_of_entries_chains_in_order_and_crosses_checkpoints(
        audit_db: Engine, checkpoints: Path) -> None:
    """append_many: one transaction, the chain in the entries' order, every checkpoint due."""
    trail = keyed(checkpoints, every=4)
    fill(audit_db, trail, 3)
    written = append_many(audit_db, [entry(n) for n in range(3, 13)], trail)
    assert [r.path for r in written] == [entry(n).path for n in range(3, 13)]
    check = verify_chain(audit_db, trail)
    assert check.ok and (check.count, check.checkpoints_matched) == (13, 3), check


async def test_requests_finishing_together_share_a_commit_and_the_chain_holds(
        client: Client, audit_db: Engine, checkpoints: Path) -> None:
    """A burst of requests is audited in fewer transactions than requests (a group commit),
    every request once, the chain verifying with its checkpoints."""
    settings = Settings(_env_file=None, audit_key=KEY.decode(), audit_checkpoint_path=checkpoints,
                        audit_checkpoint_every=10)
    app = create_app(settings, client, audit_db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://audit.test") as http:
        answers = await asyncio.gather(*(http.get(f"/cases/BURST-{n}") for n in range(60)))
    commits = app.state.audit_commits.transactions
    assert {a.status_code for a in answers} == {401}
    check = verify_chain(audit_db, keyed(checkpoints, every=10))
    assert check.ok and (check.count, check.checkpoints_matched) == (60, 6), check
    assert {r.path for r in rows(audit_db)} == {f"/cases/BURST-{n}" for n in range(60)}
    assert 1 <= commits < 60, commits


def test_the_newest_checkpoint_is_the_furthest_along_even_when_appended_out_of_order(
        tmp_path: Path) -> None:
    # Two API processes each append the checkpoint their own append made due: the later entry's
    # line can land first. The position counted from is the furthest, not the last line.
    checkpoints = CheckpointFile(tmp_path / "checkpoints.jsonl")
    at = datetime.now(UTC).isoformat(timespec="seconds")
    for sequence in (10, 20, 15):
        checkpoints.write(Checkpoint(sequence=sequence, id=sequence, head=f"{sequence:064x}",
                                     at=at).signed(KEY))
    newest = checkpoints.last(KEY)
    assert newest is not None and newest.sequence == 20
