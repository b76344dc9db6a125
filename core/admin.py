"""Operator commands: `cases-admin create-user ...`, `cases-admin migrate`,
`cases-admin verify-audit`."""

import argparse
import getpass
import os
import sys

from sqlmodel import Session

from api.auth import hash_password
from core.audit import verify_chain
from core.db import create_schema, make_engine
from core.settings import get_settings
from models.enums import Role
from models.tables import UserRow


def create_user(username: str, role: str, area: str, password: str | None) -> None:
    password = password or os.environ.get("CASES_NEW_USER_PASSWORD") or getpass.getpass()
    engine = make_engine(get_settings().database_url)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cases-admin")
    commands = parser.add_subparsers(dest="command", required=True)
    user = commands.add_parser("create-user", help="create or update a local user")
    user.add_argument("--username", required=True)
    user.add_argument("--role", required=True, choices=[r.value for r in Role])
    user.add_argument("--area", required=True)
    user.add_argument("--password", help="omit to be prompted (or set CASES_NEW_USER_PASSWORD)")
    commands.add_parser("migrate", help="bring the read-model schema up to date")
    commands.add_parser("verify-audit", help="check the audit log's hash chain; exit 1 if broken")
    args = parser.parse_args(argv)
    if args.command == "create-user":
        create_user(args.username, args.role, args.area, args.password)
    elif args.command == "migrate":
        create_schema(make_engine(get_settings().database_url))
        print("schema up to date")
    elif args.command == "verify-audit":
        return verify_audit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
