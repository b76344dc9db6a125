"""A case handler's work: their open deadlines and the cases awaiting their move.

A deadline is a person's when the case names them (the case team, table `case_team`) for the
role that owns it; a case awaits their move when it is open and names them for the role whose
move its state is (core.service_levels.STATE_OWNER). Only the user's area is read, as every
list is. Kept small on purpose: the workspace reads it through `my_work` alone, so a fuller
read model can take its place.
"""

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement
from sqlmodel import Session, col, or_, select

from core.db import aware
from core.service_levels import STATE_OWNER
from models.case import Actor
from models.enums import CaseState
from models.monitoring import DeadlineRow
from models.tables import CaseRow, CaseTeamRow


@dataclass(frozen=True)
class MyDeadline:
    reference: str
    kind: str
    rule: str
    description: str
    owner_role: str
    due_at: datetime | None
    overdue: bool
    escalated: bool


@dataclass(frozen=True)
class AwaitingCase:
    reference: str
    state: str
    state_since: datetime | None
    role: str


@dataclass(frozen=True)
class MyWork:
    deadlines: list[MyDeadline] = field(default_factory=list)
    awaiting: list[AwaitingCase] = field(default_factory=list)


def _in_area(actor: Actor) -> ColumnElement[bool]:
    return or_(col(CaseRow.police_area) == actor.area, col(CaseRow.cps_area) == actor.area)


def my_work(session: Session, actor: Actor, now: datetime, limit: int = 200) -> MyWork:
    """The user's open deadlines, overdue first and then soonest due, and their cases awaiting
    a move, longest waiting first."""
    mine = (col(CaseTeamRow.user_id) == actor.user_id)
    deadline_rows = session.exec(
        select(DeadlineRow).join(CaseTeamRow, (col(CaseTeamRow.reference) == DeadlineRow.reference)
                                 & (col(CaseTeamRow.role) == DeadlineRow.owner_role))
        .join(CaseRow, col(CaseRow.reference) == DeadlineRow.reference)
        .where(mine, col(DeadlineRow.met_at).is_(None), _in_area(actor))
        .order_by(col(DeadlineRow.due_at).is_(None), col(DeadlineRow.due_at),
                  col(DeadlineRow.reference))
        .limit(limit)).all()
    deadlines = [MyDeadline(
        reference=d.reference, kind=d.kind, rule=d.rule, description=d.description,
        owner_role=d.owner_role, due_at=aware(d.due_at),
        overdue=(due := aware(d.due_at)) is not None and due <= now,
        escalated=d.escalated_at is not None) for d in deadline_rows]
    case_rows = session.exec(
        select(CaseRow, CaseTeamRow.role)
        .join(CaseTeamRow, col(CaseTeamRow.reference) == CaseRow.reference)
        .where(mine, col(CaseRow.state) != CaseState.CLOSED.value, _in_area(actor))
        .order_by(col(CaseRow.state_since), col(CaseRow.reference))).all()
    awaiting = [AwaitingCase(reference=row.reference, state=row.state,
                             state_since=aware(row.state_since), role=role)
                for row, role in case_rows if STATE_OWNER[CaseState(row.state)].value == role]
    return MyWork(deadlines=deadlines, awaiting=awaiting[:limit])
