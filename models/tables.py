"""The read model: SQLModel tables projected from the workflows. Indexed for lists."""

from datetime import date, datetime

from sqlalchemy import Column, DateTime, Index, Text, false, text
from sqlmodel import Field, SQLModel

OTHER_POLICE_AREA = "police_area <> cps_area"


class CaseRow(SQLModel, table=True):
    """One row per case: what lists, filters and managers' views need. No personal data."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_area_state", "police_area", "state"),
        Index("ix_cases_state_since", "state", "state_since"),
        # The stuck list walks an area's cases longest-in-state first (readmodel/stuck_page.py), testing
        # each from the index alone: state is in it for the service levels.
        Index("ix_cases_police_area_since", "police_area", "state_since", "reference", "state"),
        # The CPS area's cases from other police areas (the rest are found by police area).
        Index("ix_cases_cps_area_other", "cps_area", "state_since", "reference", "state",
              postgresql_where=text(OTHER_POLICE_AREA), sqlite_where=text(OTHER_POLICE_AREA)),
    )

    reference: str = Field(primary_key=True, max_length=40)
    police_area: str = Field(max_length=40)
    cps_area: str = Field(max_length=40, index=True)
    state: str = Field(max_length=32)
    outcome: str | None = Field(default=None, max_length=32)
    stalking: bool
    domestic_abuse: bool
    version: int
    opened_at: datetime
    state_since: datetime
    updated_at: datetime
    complainants: int = 0
    charges: str = Field(default="", max_length=500)
    linked_cases: str = Field(default="", max_length=2000)
    next_deadline: datetime | None = Field(default=None, index=True)
    overdue: bool = Field(default=False, index=True)
    orders_made: int = 0
    breaches: int = 0
    # Migration 0010: the risk the managers' lists show, and the orders the case page lists.
    risk_level: str | None = Field(default=None, max_length=16)
    repeat_perpetrator: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    orders_in_force: str | None = Field(
        default=None, sa_column=Column(Text, nullable=True),
        description="JSON: models.case.OrderInForce for each order not revoked or ended.")


class HistoryRow(SQLModel, table=True):
    """Each accepted action, keyed by case and version: the case's log, written once.

    The workflow keeps only the entries not yet confirmed here, so this table is where a
    case's whole history lives (reasons and what each action recorded included).
    """

    __tablename__ = "case_history"
    __table_args__ = (
        # A retried request is found by its id in any run of the case (api/routes/cases.py).
        Index("ix_case_history_request", "reference", "request_id", unique=True),
    )

    reference: str = Field(primary_key=True, max_length=40)
    version: int = Field(primary_key=True)
    at: datetime = Field(index=True)
    action: str = Field(max_length=64)
    actor_id: str = Field(max_length=100)
    actor_role: str = Field(max_length=32)
    actor_area: str = Field(default="", max_length=40)
    state_before: str = Field(max_length=32)
    state_after: str = Field(max_length=32)
    summary: str = Field(sa_column=Column(Text, nullable=False))
    reasons: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    detail: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    request_id: str | None = Field(default=None, max_length=100)
    rules: str = Field(default="", max_length=200)


class CaseTeamRow(SQLModel, table=True):
    """Who each case names for each team role (models.case.TEAM_ROLES): the work queues and
    the stuck list find a person's cases here. Projected with the case's row."""

    __tablename__ = "case_team"

    reference: str = Field(primary_key=True, max_length=40)
    role: str = Field(primary_key=True, max_length=32)
    user_id: str = Field(max_length=100, index=True)


class UserRow(SQLModel, table=True):
    """A local user of the embedded default (production users come from the OIDC provider)."""

    __tablename__ = "users"

    username: str = Field(primary_key=True, max_length=100)
    password_hash: str = Field(max_length=300)
    role: str = Field(max_length=32)
    area: str = Field(max_length=40)
    active: bool = True


class StaffProfileRow(SQLModel, table=True):
    """A member of staff: contact details, and an absence with the deputy who stands in
    (models.profiles). Every local user has one; an OIDC user's is written from their token's
    claims. Holds contact details: the API shows it only to staff of the same area."""

    __tablename__ = "staff_profiles"

    user_id: str = Field(primary_key=True, max_length=100)
    display_name: str = Field(max_length=200)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=20)
    role: str = Field(max_length=32)
    area: str = Field(max_length=40, index=True)
    active: bool = True
    absent_from: date | None = None
    absent_to: date | None = None
    deputy_user_id: str | None = Field(default=None, max_length=100)
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class LoginThrottleRow(SQLModel, table=True):
    """Sign-in attempts in the current window of one account or one client address
    (api/login.py). Shared by every API process. The key is a SHA-256 of the account name or
    the address, so a name typed at the login (sometimes a password) is never stored."""

    __tablename__ = "login_throttle"

    key: str = Field(primary_key=True, max_length=64)
    attempts: int
    window_start: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False,
                                                    index=True))


class OutboxRow(SQLModel, table=True):
    """Every message the service sends, once per idempotency key (the embedded notifier)."""

    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=300, unique=True)
    created_at: datetime
    reference: str = Field(max_length=40, index=True)
    area: str = Field(max_length=40)
    audience: str = Field(max_length=40)
    channel: str = Field(max_length=20)
    recipient: str = Field(max_length=300)
    subject: str = Field(max_length=300)
    body: str = Field(sa_column=Column(Text, nullable=False))
    deadline_id: str | None = Field(default=None, max_length=200)
    status: str = Field(default="sent", max_length=20)
    # Whom a staff message went to (activities/notify.py): the person the case names
    # ("owner"), their deputy while they are away ("deputy"), or the role's mailbox
    # ("role_mailbox", recipient_user None). None on messages to complainants, and on rows
    # written before migration 0009.
    recipient_user: str | None = Field(default=None, max_length=100)
    routed_as: str | None = Field(default=None, max_length=20)


class SuspectRow(SQLModel, table=True):
    """P3.8: each case's suspects, normalised for matching across cases and areas."""

    __tablename__ = "suspect_index"

    reference: str = Field(primary_key=True, max_length=40)
    suspect_id: str = Field(primary_key=True, max_length=64)
    police_area: str = Field(max_length=40)
    norm_name: str = Field(max_length=200, index=True)
    surname: str = Field(max_length=100, index=True)
    date_of_birth: str | None = Field(default=None, max_length=10)
    identifiers: str = Field(default="||", sa_column=Column(Text, nullable=False))
