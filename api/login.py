"""Signing in a local user, throttled per account and per client address (OWASP ASVS 2.2.1).

Every attempt is counted before its password is checked, in the read-model database
(`login_throttle`), so all the API processes share one count and a burst of simultaneous
attempts is counted whole. A window starts at an account's (or an address's) first attempt
and lasts CASES_LOGIN_WINDOW_SECONDS. Past CASES_LOGIN_ATTEMPTS_PER_ACCOUNT attempts on one
account, or CASES_LOGIN_ATTEMPTS_PER_ADDRESS from one address, every attempt is answered 429
with Retry-After until the window ends, the right password included. A successful sign-in
clears its account's count and takes its own attempt off its address's, so the many users of
one address (a police station behind one NAT) only count their failures.

Whether an account exists changes neither the count, nor the answer, nor its time: an unknown
name is counted like a known one, and the password is hashed against a stand-in hash when
there is no (active) account to check it against.

Behind a reverse proxy the client address is the proxy's unless uvicorn is told to trust its
X-Forwarded-For (`--forwarded-allow-ips`); see docs/operations.md.
"""

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import HTTPException, Request
from pydantic import ValidationError
from sqlalchemy import case, delete, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from api import audit
from core.db import aware
from core.security import hash_password, verify_password
from core.settings import Settings
from models.case import Actor
from models.enums import Role
from models.tables import LoginThrottleRow, UserRow

THROTTLE = LoginThrottleRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Throttled:
    """Why an attempt is not even checked: which count is full, and for how long still."""

    what: str  # "account" or "address"
    retry_after: int  # whole seconds, at least 1


def throttle_key(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}\0{value}".encode("utf-8", "surrogatepass")).hexdigest()


def _insert(session: Session) -> postgresql.Insert | sqlite.Insert:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(THROTTLE)
    if dialect == "sqlite":
        return sqlite.insert(THROTTLE)
    raise RuntimeError(f"no sign-in throttle for the {dialect} dialect")


def _count(session: Session, key: str, now: datetime, window: timedelta) -> tuple[int, datetime]:
    """Add one attempt to the key's window (a new window if the last one is over); the
    attempts now in it and when it started. One statement: no attempt is lost to a race."""
    over = THROTTLE.c.window_start <= now - window
    statement = _insert(session).values(key=key, attempts=1, window_start=now).on_conflict_do_update(
        index_elements=[THROTTLE.c.key],
        set_={"attempts": case((over, 1), else_=THROTTLE.c.attempts + 1),
              "window_start": case((over, now), else_=THROTTLE.c.window_start)},
    ).returning(THROTTLE.c.attempts, THROTTLE.c.window_start)
    attempts, started = session.execute(statement).one()
    return int(attempts), aware(started) or now


def count_attempt(session: Session, settings: Settings, username: str, address: str,
                  now: datetime) -> Throttled | None:
    """Count an attempt on the account and from the address; a Throttled if either is full."""
    window = timedelta(seconds=settings.login_window_seconds)
    limits = (("account", username, settings.login_attempts_per_account),
              ("address", address, settings.login_attempts_per_address))
    full: list[Throttled] = []
    # One statement per transaction, here and below: a transaction that holds a row's lock
    # never waits for another's, so concurrent sign-ins cannot deadlock on PostgreSQL.
    for what, value, limit in limits:
        attempts, started = _count(session, throttle_key(what, value), now, window)
        session.commit()
        if attempts > limit:
            wait = (started + window - now).total_seconds()
            full.append(Throttled(what, max(1, math.ceil(wait))))
    # Windows long over, of anyone.
    session.execute(delete(THROTTLE).where(THROTTLE.c.window_start <= now - window))
    session.commit()
    return max(full, key=lambda t: t.retry_after) if full else None


def attempt_succeeded(session: Session, username: str, address: str) -> None:
    """The right password: the account starts afresh, and the address is not charged for it."""
    session.execute(delete(THROTTLE).where(THROTTLE.c.key == throttle_key("account", username)))
    session.commit()
    session.execute(update(THROTTLE).where(THROTTLE.c.key == throttle_key("address", address),
                                           THROTTLE.c.attempts > 0)
                    .values(attempts=THROTTLE.c.attempts - 1))
    session.commit()


# A hash no password matches, checked when there is no account: the same work, in time.
# Made once, at import, so that not even the first unknown name takes longer.
_STAND_IN_HASH = hash_password(secrets.token_urlsafe(32))


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _refused(request: Request, status: int, message: str, action: str = "login_refused",
             headers: dict[str, str] | None = None) -> HTTPException:
    audit.note(request, action=action)
    return HTTPException(status, detail={"rule": "THROTTLED" if status == 429 else "AUTH",
                                         "message": message}, headers=headers)


def authenticate(request: Request, session: Session, settings: Settings, username: str,
                 password: str) -> Actor:
    """The local user with this name and password, or the HTTPException that refuses them:
    401 wrong name or password, 403 an account no token may carry, 429 too many attempts.
    Every outcome is audited (action login, login_refused or login_throttled), with the
    account's name when the account exists."""
    address = client_address(request)
    throttled = count_attempt(session, settings, username, address, datetime.now(UTC))
    # No username holds a NUL, and PostgreSQL cannot even compare text that does (a 500).
    user = session.get(UserRow, username) if "\x00" not in username else None
    if user is not None:
        audit.note(request, user=user.username)
    if throttled is not None:
        whose = "for this account" if throttled.what == "account" else "from this address"
        raise _refused(request, 429, (
            f"Too many sign-in attempts {whose}; try again in {throttled.retry_after} seconds."),
            action="login_throttled", headers={"Retry-After": str(throttled.retry_after)})
    right = verify_password(password, user.password_hash if user is not None else _STAND_IN_HASH)
    if user is None or not user.active or not right:
        raise _refused(request, 401, "Wrong username or password.")
    attempt_succeeded(session, username, address)
    try:
        actor = Actor(user_id=user.username, role=user.role, area=user.area)
    except ValidationError as err:
        raise _refused(request, 403, "This account's role or area is not valid; ask an "
                                     "administrator to correct it.") from err
    if actor.role is Role.SYSTEM:  # the service's own role: a token carrying it is refused anyway
        raise _refused(request, 403, "This account has the service's own role, which no user may hold.")
    if not settings.serves_area(actor.area):  # its token would be refused
        raise _refused(request, 403, "This account's area is not one this service serves; ask "
                                     "an administrator.")
    audit.note(request, action="login")
    request.state.actor = actor  # the audit entry names who signed in, with role and area
    return actor
