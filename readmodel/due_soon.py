"""Deadlines due soon: every open deadline of an area falling due between now and the end of
the n-th England and Wales working day after today (London), soonest first, with the person
whose move it is. What is already past due is the stuck list's (readmodel/stuck.py).

One indexed query a page (ix_case_deadlines_open_due), joined to the case and to the case team
for the deadline's owner: no query per case.
"""

from datetime import datetime, time, timedelta

from pydantic import BaseModel, Field
from sqlalchemy import and_, func
from sqlalchemy import select as columns
from sqlmodel import Session, col

from core.db import aware
from models.case import TEAM_ROLES
from models.enums import CaseState, RiskLevel, Role
from models.monitoring import DeadlineRow
from models.tables import CaseRow, CaseTeamRow
from readmodel.monitoring import scrub_failure
from readmodel.stuck import in_area
from workflows.calendar import add_working_days, at_local, london_today

DUE_SOON_WORKING_DAYS = 5


class DueSoon(BaseModel):
    reference: str
    deadline_id: str
    kind: str
    rule: str
    description: str = Field(description="What is due (any address or number withheld).")
    due_at: datetime
    state: CaseState
    owner_role: Role | None
    owner_user: str | None = Field(description="The user the case names for the owner's role.")
    unassigned: bool = Field(description="The owner's role is a team role the case names "
                                         "nobody for.")
    risk_level: RiskLevel | None
    domestic_abuse: bool
    repeat_perpetrator: bool
    breach: bool = Field(description="An order or bail breach was reported.")


class DueSoonPage(BaseModel):
    until: datetime = Field(description="The end of the last working day counted.")
    total: int
    items: list[DueSoon]


def due_soon_until(now: datetime, working_days: int = DUE_SOON_WORKING_DAYS) -> datetime:
    """The end (midnight, London) of the n-th working day after today, as UTC."""
    last = add_working_days(london_today(now), working_days)
    return at_local(last + timedelta(days=1), time(0))


def due_soon(session: Session, area: str, now: datetime,
             working_days: int = DUE_SOON_WORKING_DAYS, limit: int = 50,
             offset: int = 0) -> DueSoonPage:
    """One page of the area's open deadlines due from now to the end of the n-th working day
    after today, soonest first, and how many there are in all."""
    until = due_soon_until(now, working_days)
    # The owner's person rides on the same row: the team row for the deadline's owner role.
    query = (columns(
        col(DeadlineRow.reference), col(DeadlineRow.deadline_id), col(DeadlineRow.kind),
        col(DeadlineRow.rule), col(DeadlineRow.description), col(DeadlineRow.due_at),
        col(DeadlineRow.owner_role), col(CaseRow.state), col(CaseRow.risk_level),
        col(CaseRow.domestic_abuse), col(CaseRow.repeat_perpetrator), col(CaseRow.breaches),
        col(CaseTeamRow.user_id), func.count().over().label("total"))
        .join(CaseRow, col(CaseRow.reference) == col(DeadlineRow.reference))
        .join(CaseTeamRow, and_(col(CaseTeamRow.reference) == col(DeadlineRow.reference),
                                col(CaseTeamRow.role) == col(DeadlineRow.owner_role)),
              isouter=True)
        .where(col(DeadlineRow.met_at).is_(None), col(DeadlineRow.due_at) > now,
               col(DeadlineRow.due_at) < until, in_area(area))
        .order_by(col(DeadlineRow.due_at), col(DeadlineRow.reference),
                  col(DeadlineRow.deadline_id)))
    rows = list(session.execute(query.limit(limit).offset(offset)))
    if rows:
        total = rows[0].total
    else:  # past the end: the total still answers
        total = session.execute(columns(func.count()).select_from(
            query.with_only_columns(col(DeadlineRow.deadline_id)).order_by(None)
            .subquery())).scalar_one()
    items = []
    for r in rows:
        owner = Role(r.owner_role) if r.owner_role else None
        due_at = aware(r.due_at)
        assert due_at is not None  # the query asks for a due date
        items.append(DueSoon(
            reference=r.reference, deadline_id=r.deadline_id, kind=r.kind, rule=r.rule,
            description=scrub_failure(r.description, 500) or "", due_at=due_at,
            state=CaseState(r.state), owner_role=owner, owner_user=r.user_id,
            unassigned=owner in TEAM_ROLES and r.user_id is None,
            risk_level=RiskLevel(r.risk_level) if r.risk_level else None,
            domestic_abuse=bool(r.domestic_abuse), repeat_perpetrator=bool(r.repeat_perpetrator),
            breach=r.breaches > 0))
    return DueSoonPage(until=until, total=total, items=items)
