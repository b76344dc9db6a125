"""Operator commands: `cases-admin create-user ...`, `cases-admin migrate`,
`cases-admin verify-audit`, `cases-admin rebuild-read-model`."""

import argparse
import asyncio
import getpass
import os
import sys

from pydantic import ValidationError
from sqlmodel import Session

from api.auth import hash_password
from core.audit import verify_chain
from core.db import create_schema, make_engine
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


def verify_audit() -> int:
    """Walk the audit chain: 0 if every entry holds, 1 naming the first that does not."""
    engine = make_engine(get_settings().database_url)
    try:
        check = verify_chain(engine)
    finally:
        engine.dispose()
    if check.ok:
        print(f"OK: {check.count} audit entries verified; head {check.head}")
        return 0
    print(f"BROKEN at audit entry id {check.broken_id}: {check.reason} "
          f"({check.count} entries before it verified)")
    return 1


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
    commands.add_parser("verify-audit", help="check the audit log's hash chain; exit 1 if broken")
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
