"""Staff profiles in the read-model database: read, save, absences with their deputies, and
the profile an OIDC token's claims describe. Used by the admin command, the API and the
notifier alike, so the rules for a deputy are kept in one place (`deputy_problem`)."""

import logging
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import Session, col, select

from models.case import Actor
from models.enums import Role
from models.profiles import EMAIL_PATTERN, PHONE_PATTERN, Absence, ProfileFields, StaffProfile
from models.tables import StaffProfileRow

log = logging.getLogger("profiles")


class ProfileRefused(ValueError):
    """A change refused, naming the field that is wrong and why (never its value)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def as_profile(row: StaffProfileRow) -> StaffProfile:
    absence = None
    if row.absent_from and row.absent_to and row.deputy_user_id:
        absence = Absence.model_construct(absent_from=row.absent_from, absent_to=row.absent_to,
                                          deputy=row.deputy_user_id)
    # Constructed, not validated: what is stored is shown as it is.
    return StaffProfile.model_construct(
        user_id=row.user_id, display_name=row.display_name, email=row.email, phone=row.phone,
        role=Role(row.role), area=row.area, active=row.active, absence=absence)


def get_profile(session: Session, user_id: str) -> StaffProfile | None:
    if "\x00" in user_id:  # PostgreSQL cannot even compare such text; no user id holds one
        return None
    row = session.get(StaffProfileRow, user_id)
    return as_profile(row) if row is not None else None


_NAMES_BATCH = 500  # ids per query (SQLite's limit on bound parameters)


def display_names(session: Session, user_ids: Iterable[str]) -> dict[str, str]:
    """user id -> display name, for those who have a profile."""
    ids, names = sorted(set(user_ids)), {}
    for start in range(0, len(ids), _NAMES_BATCH):
        rows = session.exec(select(StaffProfileRow.user_id, StaffProfileRow.display_name)
                            .where(col(StaffProfileRow.user_id).in_(ids[start:start + _NAMES_BATCH])))
        names.update(dict(rows.all()))
    return names


def team_member_problem(session: Session, user_id: str, role: str,
                        areas: Iterable[str]) -> str | None:
    """Why this person cannot be named for `role` on a case of these areas, or None.

    Someone without a profile yet (an OIDC user who has never signed in) may be named: their
    reminders go to the role's mailbox until their profile says where they are."""
    profile = get_profile(session, user_id)
    if profile is None:
        return None
    if not profile.active:
        return f"{user_id} is no longer active: name someone else."
    if profile.role.value != role:
        return f"{user_id} is a {profile.role.value}, not a {role}."
    if profile.area not in set(areas):
        return f"{user_id} works in another area than this case's."
    return None


def list_profiles(session: Session, area: str, role: Role | None = None) -> list[StaffProfile]:
    query = select(StaffProfileRow).where(StaffProfileRow.area == area)
    if role is not None:
        query = query.where(StaffProfileRow.role == role.value)
    return [as_profile(r) for r in session.exec(query.order_by(col(StaffProfileRow.user_id)))]


def save_profile(session: Session, user_id: str, fields: ProfileFields) -> tuple[StaffProfile, bool]:
    """Create or update the profile (its absence is kept); True if it was created."""
    row = session.get(StaffProfileRow, user_id)
    created = row is None
    row = row or StaffProfileRow(user_id=user_id, display_name=fields.display_name,
                                 role=fields.role.value, area=fields.area,
                                 updated_at=datetime.now(UTC))
    row.display_name, row.email, row.phone = fields.display_name, fields.email, fields.phone
    row.role, row.area, row.active = fields.role.value, fields.area, fields.active
    row.updated_at = datetime.now(UTC)
    session.add(row)
    session.commit()
    session.refresh(row)
    return as_profile(row), created


def deputy_problem(user: StaffProfile, deputy: StaffProfile | None) -> str | None:
    """Why `deputy` cannot stand in for `user`, or None if they can: someone else, active, of
    the same role and area (so the messages they get are ones their own work could bring)."""
    if deputy is None or deputy.area != user.area:
        # Another area's person answers as an unknown one: it tells nothing about them.
        return f"there is no profile of that user in area {user.area}"
    if deputy.user_id == user.user_id:
        return "a user cannot be their own deputy"
    if not deputy.active:
        return "the deputy is not active"
    if deputy.role != user.role:
        return (f"the deputy must hold the same role ({user.role.value}); they are "
                f"{deputy.role.value}")
    return None


def set_absence(session: Session, user_id: str, absence: Absence) -> StaffProfile:
    """Record the absence with its deputy, or raise ProfileRefused saying which field is wrong."""
    row = session.get(StaffProfileRow, user_id)
    if row is None:
        raise ProfileRefused("user", "there is no profile of that user")
    if absence.absent_to < absence.absent_from:  # an Absence built without validation
        raise ProfileRefused("absent_to", "absent_to must be on or after absent_from")
    problem = deputy_problem(as_profile(row), get_profile(session, absence.deputy))
    if problem is not None:
        raise ProfileRefused("deputy", problem)
    row.absent_from, row.absent_to = absence.absent_from, absence.absent_to
    row.deputy_user_id, row.updated_at = absence.deputy, datetime.now(UTC)
    session.add(row)
    session.commit()
    session.refresh(row)
    return as_profile(row)


def clear_absence(session: Session, user_id: str) -> StaffProfile:
    row = session.get(StaffProfileRow, user_id)
    if row is None:
        raise ProfileRefused("user", "there is no profile of that user")
    row.absent_from = row.absent_to = row.deputy_user_id = None
    row.updated_at = datetime.now(UTC)
    session.add(row)
    session.commit()
    session.refresh(row)
    return as_profile(row)


@dataclass(frozen=True)
class ContactClaims:
    """The OIDC standard claims a profile takes: `name`, `email`, `phone_number`. A claim the
    token does not carry (or carries malformed) leaves the stored value as it is."""

    name: str | None = None
    email: str | None = None
    phone: str | None = None

    @classmethod
    def from_claims(cls, claims: dict[str, object]) -> "ContactClaims":
        def text(key: str, pattern: str | None, longest: int) -> str | None:
            value = claims.get(key)
            if not isinstance(value, str) or not value.strip() or len(value) > longest:
                return None
            return value if pattern is None or re.match(pattern, value) else None

        name = claims.get("name")
        display_name = name.strip()[:200] if isinstance(name, str) else ""
        return cls(name=display_name or None,
                   email=text("email", EMAIL_PATTERN, 254),
                   phone=text("phone_number", PHONE_PATTERN, 20))


class ProfileSync:
    """Keeps OIDC users' profiles in step with their tokens' claims.

    The first time this process sees a subject, and whenever its claims (or role or area)
    change, the profile is created or updated; what was last written is remembered per
    subject, so an ordinary request reads and writes nothing. Several API processes each keep
    their own memory: at worst each writes the same profile once.
    """

    def __init__(self) -> None:
        self._written: dict[str, tuple[object, ...]] = {}
        self._lock = threading.Lock()

    def sync(self, engine: Engine, actor: Actor, contact: ContactClaims) -> None:
        seen = (actor.role, actor.area, contact)
        with self._lock:
            if self._written.get(actor.user_id) == seen:
                return
        try:
            self._write(engine, actor, contact)
        except SQLAlchemyError as err:
            # The request goes on (its token is good); the next one tries again. No claims in
            # the log: they are personal data.
            log.warning("profile of an OIDC user not written (%s)", type(err).__name__)
            return
        with self._lock:
            self._written[actor.user_id] = seen

    @staticmethod
    def _write(engine: Engine, actor: Actor, contact: ContactClaims) -> None:
        with Session(engine) as session:
            row = session.get(StaffProfileRow, actor.user_id)
            new = row is None
            row = row or StaffProfileRow(user_id=actor.user_id, display_name=actor.user_id,
                                         role=actor.role.value, area=actor.area,
                                         updated_at=datetime.now(UTC))
            before = (row.display_name, row.email, row.phone, row.role, row.area)
            row.display_name = contact.name or row.display_name
            row.email = contact.email or row.email
            row.phone = contact.phone or row.phone
            row.role, row.area = actor.role.value, actor.area  # the provider says who they are
            if not new and before == (row.display_name, row.email, row.phone, row.role, row.area):
                return
            row.updated_at = datetime.now(UTC)
            session.add(row)
            try:
                session.commit()
            except IntegrityError:
                # Another process created it in the same instant, from the same token.
                session.rollback()
