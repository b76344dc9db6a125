"""Operator commands: `cases-admin create-user ...`, `cases-admin migrate`."""

import argparse
import getpass
import os
import sys

from sqlmodel import Session

from api.auth import hash_password
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cases-admin")
    commands = parser.add_subparsers(dest="command", required=True)
    user = commands.add_parser("create-user", help="create or update a local user")
    user.add_argument("--username", required=True)
    user.add_argument("--role", required=True, choices=[r.value for r in Role])
    user.add_argument("--area", required=True)
    user.add_argument("--password", help="omit to be prompted (or set CASES_NEW_USER_PASSWORD)")
    commands.add_parser("migrate", help="bring the read-model schema up to date")
    args = parser.parse_args(argv)
    if args.command == "create-user":
        create_user(args.username, args.role, args.area, args.password)
    elif args.command == "migrate":
        create_schema(make_engine(get_settings().database_url))
        print("schema up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
