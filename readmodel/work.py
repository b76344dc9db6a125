"""A person's work: the deadlines they own and the cases awaiting their move.

A deadline is owned by a role (models.deadlines.Deadline.owner_role); the case team names a
person for each role (case_team), so a deadline is someone's when their case names them for
its owner role. Nothing is copied per person: handing a role to a colleague (one case_team
row) moves every open deadline of it at once.
"""

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import and_, func, or_
from sqlmodel import Session, col, select

from core.db import aware
from core.service_levels import STATE_OWNER
from models.case import Actor
from models.enums import CaseState
from models.monitoring import DeadlineRow
from models.tables import CaseRow, CaseTeamRow


class MyDeadline(BaseModel):
    reference: str
    deadline_id: str
    kind: str
    rule: str
    description: str
    owner_role: str
    due_at: datetime | None
    overdue: bool = Field(description="Due before now and not met.")
    escalated_at: datetime | None = None

    @property
    def escalated(self) -> bool:
        return self.escalated_at is not None


class MyCase(BaseModel):
    reference: str
    state: CaseState
    state_since: datetime
    roles: list[str] = Field(description="The roles the case names you for.")
    awaiting_my_move: bool = Field(description="Its state's next step is for one of your roles.")
    next_deadline: datetime | None = None
    overdue: bool = False


@dataclass(frozen=True)
class WorkFilter:
    """What part of a person's work to show."""

    overdue_only: bool = False
    due_before: datetime | None = None
    kind: str | None = None
    reference: str | None = None


def _open_in_area(area: str):  # type: ignore[no-untyped-def]
    return and_(col(CaseRow.state) != CaseState.CLOSED.value,
                or_(col(CaseRow.police_area) == area, col(CaseRow.cps_area) == area))


def _awaiting_move():  # type: ignore[no-untyped-def]
    """The case's state's next step is for the role the team row names the person for."""
    return or_(*(and_(col(CaseRow.state) == state.value, col(CaseTeamRow.role) == role.value)
                 for state, role in STATE_OWNER.items() if state is not CaseState.CLOSED))


def my_deadlines(session: Session, user_id: str, area: str, now: datetime,
                 only: WorkFilter = WorkFilter(), limit: int = 50,
                 offset: int = 0) -> tuple[int, list[MyDeadline]]:
    """The open deadlines the person owns, soonest due first, so overdue ones come first; the
    total before paging. Deadlines of closed cases still count (a notification still owed)."""
    query = (select(DeadlineRow)
             .join(CaseTeamRow, and_(col(CaseTeamRow.reference) == col(DeadlineRow.reference),
                                     col(CaseTeamRow.role) == col(DeadlineRow.owner_role)))
             .join(CaseRow, col(CaseRow.reference) == col(DeadlineRow.reference))
             .where(col(CaseTeamRow.user_id) == user_id, col(DeadlineRow.met_at).is_(None),
                    or_(col(CaseRow.police_area) == area, col(CaseRow.cps_area) == area)))
    if only.overdue_only:
        query = query.where(col(DeadlineRow.due_at) < now)
    if only.due_before is not None:
        query = query.where(col(DeadlineRow.due_at) < only.due_before)
    if only.kind is not None:
        query = query.where(col(DeadlineRow.kind) == only.kind)
    if only.reference is not None:
        query = query.where(col(DeadlineRow.reference) == only.reference)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(col(DeadlineRow.due_at).is_(None),
                                       col(DeadlineRow.due_at), col(DeadlineRow.reference),
                                       col(DeadlineRow.deadline_id))
                        .limit(limit).offset(offset)).all()
    return total, [MyDeadline(
        reference=d.reference, deadline_id=d.deadline_id, kind=d.kind, rule=d.rule,
        description=d.description, owner_role=d.owner_role, due_at=aware(d.due_at),
        overdue=d.due_at is not None and aware(d.due_at) < now,  # type: ignore[operator]
        escalated_at=aware(d.escalated_at)) for d in rows]


def my_cases(session: Session, user_id: str, area: str, *, awaiting_only: bool = False,
             include_closed: bool = False, limit: int = 50,
             offset: int = 0) -> tuple[int, list[MyCase]]:
    """The cases that name the person in their team, longest in their state first; the total
    before paging. `awaiting_only`: only those whose next step is theirs."""
    in_area = or_(col(CaseRow.police_area) == area, col(CaseRow.cps_area) == area)
    where = [col(CaseTeamRow.user_id) == user_id, in_area]
    if not include_closed:
        where.append(col(CaseRow.state) != CaseState.CLOSED.value)
    mine = (select(CaseTeamRow.reference)
            .join(CaseRow, col(CaseRow.reference) == col(CaseTeamRow.reference)).where(*where))
    if awaiting_only:
        mine = mine.where(_awaiting_move())
    references = mine.distinct()
    total = session.exec(select(func.count()).select_from(references.subquery())).one()
    rows = session.exec(select(CaseRow).where(col(CaseRow.reference).in_(references))
                        .order_by(col(CaseRow.state_since), col(CaseRow.reference))
                        .limit(limit).offset(offset)).all()
    roles: dict[str, list[str]] = {}
    for team in session.exec(select(CaseTeamRow).where(
            col(CaseTeamRow.user_id) == user_id,
            col(CaseTeamRow.reference).in_([r.reference for r in rows]))):
        roles.setdefault(team.reference, []).append(team.role)
    cases = []
    for row in rows:
        state = CaseState(row.state)
        held = sorted(roles.get(row.reference, []))
        owner = STATE_OWNER.get(state)
        cases.append(MyCase(
            reference=row.reference, state=state, state_since=aware(row.state_since),
            roles=held, awaiting_my_move=state is not CaseState.CLOSED and owner is not None
            and owner.value in held, next_deadline=aware(row.next_deadline),
            overdue=row.overdue))
    return total, cases


def open_cases_naming(session: Session, user_id: str, area: str) -> list[tuple[str, str]]:
    """(reference, role) for every open case of the area that names the person: what handing
    all their work to a colleague moves."""
    rows = session.exec(select(CaseTeamRow.reference, CaseTeamRow.role)
                        .join(CaseRow, col(CaseRow.reference) == col(CaseTeamRow.reference))
                        .where(col(CaseTeamRow.user_id) == user_id, _open_in_area(area))
                        .order_by(col(CaseTeamRow.reference), col(CaseTeamRow.role))).all()
    return [(reference, role) for reference, role in rows]


def open_cases_by_person(session: Session, area: str) -> dict[str, int]:
    """user id -> how many open cases of the area name them (for any role): whose work a
    handover would move, profile or not (an OIDC user who never signed in has none)."""
    rows = session.exec(select(CaseTeamRow.user_id, func.count(func.distinct(CaseTeamRow.reference)))
                        .join(CaseRow, col(CaseRow.reference) == col(CaseTeamRow.reference))
                        .where(_open_in_area(area)).group_by(col(CaseTeamRow.user_id))).all()
    return {user_id: count for user_id, count in rows}


@dataclass(frozen=True)
class AwaitingCase:
    """An open case whose next step is the person's, and the role they take it as."""

    reference: str
    state: str
    state_since: datetime | None
    role: str


@dataclass(frozen=True)
class WorkPage:
    """The workspace's My work page: the same queries as GET /me/work."""

    deadlines: list[MyDeadline]
    awaiting: list[AwaitingCase]


def my_work(session: Session, actor: Actor, now: datetime, limit: int = 200) -> WorkPage:
    """The person's open deadlines, overdue first and then soonest due, and their cases
    awaiting a move, longest waiting first."""
    _, deadlines = my_deadlines(session, actor.user_id, actor.area, now, limit=limit)
    _, cases = my_cases(session, actor.user_id, actor.area, awaiting_only=True, limit=limit)
    return WorkPage(deadlines=deadlines, awaiting=[
        AwaitingCase(reference=c.reference, state=c.state.value, state_since=c.state_since,
                     role=STATE_OWNER[c.state].value) for c in cases])
