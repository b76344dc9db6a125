"""Operator commands: `cases-admin create-user ...`, `cases-admin set-profile ...`,
`cases-admin set-absence ...`, `cases-admin migrate`, `cases-admin verify-audit`,
`cases-admin audit-checkpoint`, `cases-admin rebuild-read-model`."""

import argparse
import asyncio
import getpass
import os
import sys
from datetime import date

from pydantic import ValidationError
from sqlmodel import Session

from core.audit import AuditTrail, ChainCheck, adopt_unkeyed, verify_chain, write_checkpoint
from core.db import create_schema, make_engine
from core.profiles import ProfileRefused, clear_absence, get_profile, save_profile, set_absence
from core.security import hash_password
from core.settings import get_settings
from core.temporal import connect
from models.case import Actor
from models.enums import Role
from models.profiles import Absence, ProfileFields, StaffProfile
from models.tables import UserRow
from readmodel.rebuild import CASE_WORKFLOWS, rebuild_read_model


def _profile_fields(existing: StaffProfile | None, **given: object) -> ProfileFields:
    """The profile's fields: those given, the rest as stored. Raises ValidationError."""
    stored = existing.model_dump(exclude={"user_id", "absence"}) if existing else {}
    return ProfileFields.model_validate(
        stored | {k: v for k, v in given.items() if v is not None})


def create_user(username: str, role: str, area: str, password: str | None,
                display_name: str | None = None, email: str | None = None,
                phone: str | None = None) -> None:
    # The same checks a token's claims get: a user who could not sign in is never created.
    Actor(user_id=username, role=Role(role), area=area)
    if Role(role) is Role.SYSTEM:
        raise SystemExit("the system role belongs to the service itself, not to a user")
    settings = get_settings()
    if not settings.serves_area(area):
        raise SystemExit(f"area {area!r} is not one this service serves (CASES_AREAS)")
    engine = make_engine(settings.database_url)
    create_schema(engine)
    with Session(engine) as session:
        # Checked before the password is asked for: a bad e-mail is refused at once.
        existing = get_profile(session, username)
        fields = _profile_fields(existing, role=role, area=area, email=email, phone=phone,
                                 display_name=display_name or (None if existing else username))
        password = password or os.environ.get("CASES_NEW_USER_PASSWORD") or getpass.getpass()
        session.merge(UserRow(username=username, password_hash=hash_password(password),
                              role=Role(role).value, area=area))
        session.commit()
        save_profile(session, username, fields)  # every local user has a profile
    print(f"user {username} ({role}, {area}) saved")


def set_profile(user: str, **given: object) -> int:
    """Create or change a staff profile (an OIDC user's too, before they first sign in)."""
    settings = get_settings()
    engine = make_engine(settings.database_url)
    create_schema(engine)
    with Session(engine) as session:
        existing = get_profile(session, user)
        if existing is None:
            # A new profile: a local user's role and area are known; anyone else's are needed.
            local = session.get(UserRow, user)
            known = {"role": local.role, "area": local.area} if local else {}
            given = {"display_name": user} | known | {k: v for k, v in given.items()
                                                      if v is not None}
            if "role" not in given or "area" not in given:
                print(f"refused: {user} has no profile yet: give --role and --area",
                      file=sys.stderr)
                return 2
        fields = _profile_fields(existing, **given)
        if not settings.serves_area(fields.area):
            print(f"refused: area {fields.area!r} is not one this service serves (CASES_AREAS)",
                  file=sys.stderr)
            return 2
        profile, created = save_profile(session, user, fields)
    print(f"profile of {user} ({profile.role.value}, {profile.area}) "
          f"{'created' if created else 'updated'}")
    return 0


def absence(user: str, starts: date | None, ends: date | None, deputy: str | None,
            clear: bool) -> int:
    """Record an absence with its deputy, or clear it; refusals name the option at fault."""
    options = {"user": "--user", "absent_from": "--from", "absent_to": "--to",
               "deputy": "--deputy"}
    engine = make_engine(get_settings().database_url)
    create_schema(engine)
    try:
        with Session(engine) as session:
            if clear:
                clear_absence(session, user)
                print(f"absence of {user} cleared")
                return 0
            if starts is None or ends is None or deputy is None:
                print("refused: give --from, --to and --deputy (or --clear)", file=sys.stderr)
                return 2
            away = Absence(absent_from=starts, absent_to=ends, deputy=deputy)
            set_absence(session, user, away)
    except ValidationError as err:
        print("refused: " + "; ".join(f"{options.get(str(e['loc'][-1]), e['loc'][-1])}: "
                                      f"{e['msg']}" for e in err.errors()), file=sys.stderr)
        return 2
    except ProfileRefused as err:
        print(f"refused: {options.get(err.field, err.field)}: {err.message}", file=sys.stderr)
        return 2
    print(f"{user} is away from {starts} to {ends}; {deputy} is their deputy")
    return 0


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


def _contact_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--display-name", help="the name colleagues see (default: the user id)")
    parser.add_argument("--email", help="where the user's own reminders go")
    parser.add_argument("--phone")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cases-admin")
    commands = parser.add_subparsers(dest="command", required=True)
    user = commands.add_parser("create-user", help="create or update a local user")
    user.add_argument("--username", required=True)
    user.add_argument("--role", required=True,
                      choices=[r.value for r in Role if r is not Role.SYSTEM])
    user.add_argument("--area", required=True)
    user.add_argument("--password", help="omit to be prompted (or set CASES_NEW_USER_PASSWORD)")
    _contact_options(user)
    profile = commands.add_parser("set-profile", help="create or change a staff profile")
    profile.add_argument("--user", required=True)
    _contact_options(profile)
    profile.add_argument("--role", choices=[r.value for r in Role if r is not Role.SYSTEM])
    profile.add_argument("--area")
    profile.add_argument("--active", action=argparse.BooleanOptionalAction, default=None,
                         help="--no-active: the person has left; messages go to the mailbox")
    away = commands.add_parser("set-absence", help="record when a user is away and who "
                                                   "stands in for them, or --clear it")
    away.add_argument("--user", required=True)
    away.add_argument("--from", dest="starts", type=date.fromisoformat, help="YYYY-MM-DD")
    away.add_argument("--to", dest="ends", type=date.fromisoformat,
                      help="YYYY-MM-DD, the last day away (included)")
    away.add_argument("--deputy", help="a colleague of the same role and area")
    away.add_argument("--clear", action="store_true", help="the user is back: no absence")
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
    try:
        if args.command == "create-user":
            create_user(args.username, args.role, args.area, args.password,
                        args.display_name, args.email, args.phone)
        elif args.command == "set-profile":
            return set_profile(args.user, display_name=args.display_name, email=args.email,
                               phone=args.phone, role=args.role, area=args.area,
                               active=args.active)
    except ValidationError as err:
        print("refused: " + "; ".join(f"{e['loc'][-1]}: {e['msg']}" for e in err.errors()),
              file=sys.stderr)
        return 2
    if args.command == "set-absence":
        return absence(args.user, args.starts, args.ends, args.deputy, args.clear)
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
