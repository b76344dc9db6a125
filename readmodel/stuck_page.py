"""One page of the stuck list from SQL: the stuck rule (readmodel/stuck.py) finds and pages the
stuck references, and only the page's cases are built with their reasons and people."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import and_, func, or_, union
from sqlmodel import Session, col, select

from models.enums import CaseState, Role
from models.monitoring import AlertRow, DeadlineRow, Reason
from models.tables import CaseRow
from readmodel.stuck import (
    Levels,
    Sort,
    StuckCase,
    in_area,
    open_alert,
    over_service_level,
    problem_deadline,
    stuck_cases,
)

STUCK_COUNT_CAP = 200  # the page's total is exact up to this; beyond it, "200+"


class StuckPage(BaseModel):
    total: int
    total_is_exact: bool
    items: list[StuckCase]


def stuck_page(session: Session, area: str, levels: Levels, now: datetime,
               reason: Reason | None = None, state: CaseState | None = None,
               owner: Role | None = None, sort: Sort = "age", limit: int = 100,
               offset: int = 0, count_cap: int = STUCK_COUNT_CAP,
               unassigned: bool = False) -> StuckPage:
    """One page of stuck_cases() and its total, as stuck_cases() would give them, without
    building every stuck case of the area: SQL finds and pages the stuck references, and only
    the page's cases are built with their reasons (and their case team, in one query).

    Longest in its state first (the default): the area's cases are walked in state_since
    order on an index, each tested for being stuck, until the page is full; so a page costs
    about the same at any caseload. The total is counted the same way up to `count_cap`.
    Whose move it is (`owner`, and so `unassigned`) is decided case by case, so those filters
    take the full path; the most overdue first (`due`) orders on the deadlines, see
    _page_by_due."""
    if owner is not None or unassigned:
        found = stuck_cases(session, area, levels, now, reason=reason, state=state, owner=owner,
                            sort=sort, unassigned=unassigned)
        return StuckPage(total=len(found), total_is_exact=True,
                         items=found[offset:offset + limit])
    if sort == "due":
        total, refs = _page_by_due(session, area, levels, now, reason, state, limit, offset)
        exact = True
    else:
        total, exact, refs = _page_by_age(session, area, levels, now, reason, state, limit,
                                          offset, count_cap)
    items = stuck_cases(session, area, levels, now, reason=reason, state=state, sort=sort,
                        only=refs) if refs else []
    return StuckPage(total=total, total_is_exact=exact, items=items)


def _open_alerts(reason: Reason | None) -> Any:
    return select(AlertRow.reference).where(open_alert(reason))


def _is_stuck(levels: Levels, now: datetime, reason: Reason | None) -> Any:
    """SQL on `cases`: this case row is stuck (for `reason`), by the rule's three predicates."""
    conditions: list[Any] = []
    late = over_service_level(levels, now) if reason in (None, Reason.OVER_SERVICE_LEVEL) \
        else None
    if late is not None:
        conditions.append(late)
    problem = problem_deadline(reason)
    if problem is not None:
        conditions.append(col(CaseRow.reference).in_(
            select(DeadlineRow.reference).where(problem)))
    if open_alert(reason) is not None:
        conditions.append(col(CaseRow.reference).in_(_open_alerts(reason)))
    return or_(*conditions) if conditions else None


def _cps_area_only(area: str) -> Any:
    """Cases of the area's CPS from another police area: a few, on a partial index of their own
    (its condition is repeated here so that the planner can use it)."""
    return and_(col(CaseRow.cps_area) == area, col(CaseRow.police_area) != col(CaseRow.cps_area))


def _page_by_age(session: Session, area: str, levels: Levels, now: datetime,
                 reason: Reason | None, state: CaseState | None, limit: int,
                 offset: int, count_cap: int) -> tuple[int, bool, list[str]]:
    stuck = _is_stuck(levels, now, reason)
    walks: list[Any] = []
    if open_alert(reason) is not None:
        # Alerts for a case the read model does not hold yet: few, found by the alert's area.
        orphans: Any = (select(col(AlertRow.reference).label("reference"),
                               func.min(col(AlertRow.state_since)).label("since"))
                        .where(col(AlertRow.reference).in_(_open_alerts(reason)),
                               col(AlertRow.police_area) == area,
                               ~select(CaseRow.reference)
                               .where(col(CaseRow.reference) == col(AlertRow.reference))
                               .exists())
                        .group_by(col(AlertRow.reference)))
        if state is not None:
            orphans = orphans.where(col(AlertRow.state) == state.value)
        walks.append(orphans)
    if stuck is not None:
        # One walk per way a case belongs to the area (its police area; its CPS area only),
        # each in the order of an index (area, state since, reference, state), stopping once
        # it has the page and enough to count up to the cap: a page costs the same at any
        # caseload.
        enough = max(offset + limit, count_cap + 1)
        for belongs in (col(CaseRow.police_area) == area, _cps_area_only(area)):
            walk: Any = select(col(CaseRow.reference).label("reference"),
                               col(CaseRow.state_since).label("since")).where(belongs, stuck)
            if state is not None:
                walk = walk.where(col(CaseRow.state) == state.value)
            walks.append(walk.order_by(col(CaseRow.state_since), col(CaseRow.reference))
                         .limit(enough))
    if not walks:
        return 0, True, []
    found = union(*(select(w.subquery()) for w in walks)).subquery()
    rows = list(session.exec(
        select(found.c.reference, func.count().over())  # the total rides on each row
        .order_by(found.c.since.asc().nulls_last(), found.c.reference)
        .limit(limit).offset(offset)))
    if rows:
        total, refs = rows[0][1], [str(r[0]) for r in rows]
    else:  # past the end: the total still answers
        total, refs = session.exec(select(func.count()).select_from(found)).one(), []
    return min(total, count_cap), total <= count_cap, refs


def _page_by_due(session: Session, area: str, levels: Levels, now: datetime,
                 reason: Reason | None, state: CaseState | None, limit: int,
                 offset: int) -> tuple[int, list[str]]:
    """Most overdue deadline first: a union of the three ways to be stuck, ordered by each
    case's earliest overdue deadline, counted exactly."""
    of_area = in_area(area)
    if state is not None:
        of_area = and_(of_area, col(CaseRow.state) == state.value)
    branches: list[Any] = []
    late = over_service_level(levels, now) if reason in (None, Reason.OVER_SERVICE_LEVEL) \
        else None
    if late is not None:
        branches.append(select(col(CaseRow.reference).label("reference"),
                               col(CaseRow.state_since).label("since")).where(of_area, late))
    problem = problem_deadline(reason)
    if problem is not None:
        branches.append(select(col(DeadlineRow.reference).label("reference"),
                               col(CaseRow.state_since).label("since"))
                        .join(CaseRow, col(CaseRow.reference) == col(DeadlineRow.reference))
                        .where(of_area, problem))
    alerted = open_alert(reason)
    if alerted is not None:
        alerts: Any = (select(col(AlertRow.reference).label("reference"),
                              func.coalesce(col(CaseRow.state_since), col(AlertRow.state_since))
                              .label("since"))
                       .join(CaseRow, col(CaseRow.reference) == col(AlertRow.reference),
                             isouter=True)
                       .where(alerted, or_(col(AlertRow.police_area) == area, in_area(area))))
        if state is not None:
            alerts = alerts.where(func.coalesce(col(CaseRow.state), col(AlertRow.state))
                                  == state.value)
        branches.append(alerts)
    if not branches:
        return 0, []
    candidates = union(*branches).subquery()
    stuck = (select(candidates.c.reference, func.min(candidates.c.since).label("since"))
             .group_by(candidates.c.reference).subquery())
    due = (select(col(DeadlineRow.reference).label("reference"),
                  func.min(col(DeadlineRow.due_at)).label("due"))
           .where(problem_deadline(Reason.OVERDUE_DEADLINE))
           .group_by(col(DeadlineRow.reference)).subquery())
    page = (select(stuck.c.reference, func.count().over())  # the total rides on each row
            .join(due, due.c.reference == stuck.c.reference, isouter=True)
            .order_by(due.c.due.asc().nulls_last(), stuck.c.since.asc().nulls_last(),
                      stuck.c.reference))
    rows = list(session.exec(page.limit(limit).offset(offset)))
    if not rows:  # past the end: the total still answers
        return session.exec(select(func.count()).select_from(stuck)).one(), []
    return rows[0][1], [r[0] for r in rows]
