"""Operator commands: `cases-admin create-user ...`, `cases-admin migrate`,
`cases-admin verify-audit`, `cases-admin audit-checkpoint`, `cases-admin rebuild-read-model`."""

import argparse
import asyncio
import getpass
import os
import sys

from pydantic import ValidationError
from sqlmodel import Session

from core.audit import AuditTrail, ChainCheck, adopt_unkeyed, verify_chain, write_checkpoint
from core.db import create_schema, make_engine
from core.security import hash_password
from core.settings import get_settings
from core.temporal import connect
from models.case import Actor
from models.enums import Role
from models.tables import UserRow
from readmodel.rebuild import CASE_WORKFLOWS, rebuild_read_model


def create_user(username: str, role: str, area: str, password: str | None) -> None:
    # The same checks a token's claims get: a user who could not sign in is never created.
    Actor(user_id=username, role=Role(role), area=area)
    if Role(role) is Role.SYSTEM:
        raise SystemExit("the system role belongs to the service itself, not to a user")
    settings = get_settings()
    if not settings.serves_area(area):
        raise SystemExit(f"area {area!r} is not one this service serves (CASES_AREAS)")
    password = password or os.environ.get("CASES_NEW_USER_PASSWORD") or getpass.getpass()
    engine = make_engine(settings.database_url)
    create_schema(engine)
    with Session(engine) as session:
        session.merge(UserRow(username=username, password_hash=hash_password(password),
                              role=Role(role).value, area=area))
        session.commit()
    print(f"user {username} ({role}, {area}) saved")


def _report(check: ChainCheck) -> None:
    if check.ok:
        print(f"OK: {check.count} audit entries verified; head {check.head}; "
              f"{check.checkpoints_matched} checkpoint(s) matched")
    elif check.broken_id is None:
        print(f"CHECKPOINTS DO NOT MATCH: the {check.count} audit entries chain with the key "
              f"(head {check.head}), but the checkpoints say otherwise")
    else:
        print(f"BROKEN at audit entry id {check.broken_id}: {check.reason} "
              f"({check.count} entries before it verified)")
    for problem in check.problems:
        print(f"CHECKPOINT PROBLEM: {problem}")
    for note in check.notes:
        print(f"note: {note}")


def verify_audit() -> int:
    """Walk the audit chain with the key and against the checkpoints: 0 if every entry and
    every checkpoint holds, 1 naming each thing that does not."""
    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        check = verify_chain(engine, AuditTrail.from_settings(settings))
    finally:
        engine.dispose()
    _report(check)
    return 0 if check.ok else 1


def audit_checkpoint(adopt: bool) -> int:
    """Sign the verified head of the chain into the checkpoint file; with `adopt`, first the
    head of the entries written before the chain was keyed (once, at the upgrade)."""
    settings = get_settings()
    trail = AuditTrail.from_settings(settings)
    if trail.checkpoints is None:
        print("refused: set CASES_AUDIT_CHECKPOINT_PATH, the file checkpoints are written to",
              file=sys.stderr)
        return 2
    engine = make_engine(settings.database_url)
    try:
        if adopt:
            try:
                adopted = adopt_unkeyed(engine, trail)
            except ValueError as err:
                print(f"refused: {err}", file=sys.stderr)
                return 1
            print(f"adopted {adopted.sequence} unkeyed audit entries: {adopted}")
        check, checkpoint = write_checkpoint(engine, trail)
    finally:
        engine.dispose()
    if checkpoint is None:
        _report(check)
        if check.ok:
            print("nothing to checkpoint: the audit log is empty")
            return 0
        print("refused: no checkpoint is signed over a chain that does not verify")
        return 1
    print(f"written to {trail.checkpoints.path}: {checkpoint}")
    return 0


def migrate(url: str | None) -> None:
    """Alembic's `upgrade head` (migrations/), adopting a database made before migrations."""
    from migrations import upgrade  # alembic is only loaded for this command

    adopted = upgrade(url or get_settings().database_url)
    if adopted:
        print(f"existing tables adopted at revision {adopted}")
    print("schema up to date")


def rebuild(extra_filter: str | None) -> int:
    """Rewrite the read model from the workflows; 1 if any case could not be read."""
    settings = get_settings()
    engine = make_engine(settings.database_url)
    query = f"{CASE_WORKFLOWS} AND ({extra_filter})" if extra_filter else CASE_WORKFLOWS

    async def run() -> tuple[int, int, dict[str, str]]:
        report = await rebuild_read_model(await connect(settings), engine, query)
        return len(report.rebuilt), len(report.ahead), report.failed

    try:
        rebuilt, ahead, failed = asyncio.run(run())
    finally:
        engine.dispose()
    print(f"rebuilt {rebuilt} cases from their workflows; {ahead} kept (the read model was "
          f"already newer); {len(failed)} failed")
    for workflow_id, reason in sorted(failed.items()):
        print(f"FAILED {workflow_id}: {reason}")
    return 1 if failed else 0


def move_cases(extra_filter: str | None) -> int:
    from core.move_cases import continue_cases_as_new

    async def run() -> int:
        return await continue_cases_as_new(await connect(get_settings()), extra_filter)

    print(f"asked {asyncio.run(run())} running case(s) to continue as new")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cases-admin")
    commands = parser.add_subparsers(dest="command", required=True)
    user = commands.add_parser("create-user", help="create or update a local user")
    user.add_argument("--username", required=True)
    user.add_argument("--role", required=True,
                      choices=[r.value for r in Role if r is not Role.SYSTEM])
    user.add_argument("--area", required=True)
    user.add_argument("--password", help="omit to be prompted (or set CASES_NEW_USER_PASSWORD)")
    schema = commands.add_parser("migrate", help="bring the read-model schema up to date "
                                                 "(alembic upgrade head)")
    schema.add_argument("--url", help="database URL (default: CASES_DATABASE_URL)")
    read_model = commands.add_parser(
        "rebuild-read-model", help="rewrite the read model from the case workflows (a worker "
                                   "must be running to answer their queries)")
    read_model.add_argument("--filter", help="a visibility query narrowing the cases, e.g. "
                                             "\"CaseArea='north'\"")
    commands.add_parser("verify-audit", help="check the audit log's keyed hash chain and its "
                                             "checkpoints; exit 1 if anything does not hold")
    checkpoint = commands.add_parser(
        "audit-checkpoint", help="verify the audit chain and sign its head into the checkpoint "
                                 "file (CASES_AUDIT_CHECKPOINT_PATH)")
    checkpoint.add_argument("--adopt-unkeyed", action="store_true",
                            help="once, when upgrading: sign the head of the entries written "
                                 "before the chain was keyed, so that they verify")
    move = commands.add_parser(
        "continue-cases-as-new", help="move running cases onto bounded runs (docs/versioning.md)")
    move.add_argument("--filter", help="a visibility query narrowing the cases")
    args = parser.parse_args(argv)
    if args.command == "create-user":
        try:
            create_user(args.username, args.role, args.area, args.password)
        except ValidationError as err:
            print("refused: " + "; ".join(f"{e['loc'][-1]}: {e['msg']}" for e in err.errors()),
                  file=sys.stderr)
            return 2
    elif args.command == "migrate":
        migrate(args.url)
    elif args.command == "rebuild-read-model":
        return rebuild(args.filter)
    elif args.command == "verify-audit":
        return verify_audit()
    elif args.command == "continue-cases-as-new":
        return move_cases(args.filter)
    elif args.command == "audit-checkpoint":
        return audit_checkpoint(args.adopt_unkeyed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
