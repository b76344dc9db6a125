"""Stuck cases: which cases of an area are stuck, for every reason, and whose move it is.

Answered from indexed read-model tables (cases, case_deadlines, stuck_alerts), never by
asking the workflows one by one:
- over_service_level: longer in its state than the area's service level for it
  (core/service_levels.py); ix_cases_state_since.
- overdue_deadline: a deadline escalated and still open; ix_case_deadlines_open_escalated.
- failing_activity: a notification delivery failing on an open deadline (the workflow marks
  it), or an activity the sweeper saw failing attempt after attempt (stuck_alerts).
- failing_workflow_task: the sweeper saw the workflow's own task failing (stuck_alerts).
- workflow_ended: the case's workflow was terminated, failed, timed out or was cancelled
  without closing the case (stuck_alerts, core/ended_cases.py; GET /cases/stuck records the
  area's before it answers). Nobody can act on it until an administrator restores it: the
  administrator's move.
"""

from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from types import SimpleNamespace
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import ARRAY, String, and_, any_, bindparam, func, or_, union
from sqlalchemy import select as columns  # any number of columns, read as plain rows
from sqlmodel import Session, col, select

from core.db import aware
from core.ended_cases import ENDED_KIND
from core.service_levels import STATE_OWNER
from models.enums import CaseState, Role
from models.monitoring import AlertRow, DeadlineRow
from models.tables import CaseRow


class Reason(StrEnum):
    OVER_SERVICE_LEVEL = "over_service_level"
    OVERDUE_DEADLINE = "overdue_deadline"
    FAILING_ACTIVITY = "failing_activity"
    FAILING_WORKFLOW_TASK = "failing_workflow_task"
    WORKFLOW_ENDED = "workflow_ended"


REASON_LABELS = {
    Reason.OVER_SERVICE_LEVEL: "Over service level",
    Reason.OVERDUE_DEADLINE: "Overdue deadline",
    Reason.FAILING_ACTIVITY: "Failing activity",
    Reason.FAILING_WORKFLOW_TASK: "Failing workflow task",
    Reason.WORKFLOW_ENDED: "Workflow ended",
}

Sort = Literal["age", "due"]


class StuckReason(BaseModel):
    reason: Reason
    detail: str
    since: datetime | None = None
    rule: str | None = None
    deadline_id: str | None = None
    owner_role: Role | None = None


class StuckCase(BaseModel):
    reference: str
    police_area: str
    cps_area: str
    state: CaseState | None
    state_since: datetime | None
    opened_at: datetime | None
    in_state_days: float | None
    owner_role: Role
    earliest_due: datetime | None
    reasons: list[StuckReason]


def _days(delta: timedelta) -> float:
    return round(delta.total_seconds() / 86400, 1)


def _in_area(area: str):  # type: ignore[no-untyped-def]
    return or_(col(CaseRow.police_area) == area, col(CaseRow.cps_area) == area)


class _Builder:
    """Collects reasons per case, then decides each case's owner and age."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.cases: dict[str, StuckCase] = {}

    def add(self, row: Any, reference: str, reason: StuckReason, alert: Any = None) -> None:
        """`row` has the case's _CASE_COLUMNS (None when the read model lacks the case);
        `alert` the alert's own area, state and state since, for that case."""
        case = self.cases.get(reference)
        if case is None:
            state = row.state if row else (alert.state if alert else None)
            since = aware(row.state_since if row else (alert.state_since if alert else None))
            case = StuckCase(
                reference=reference, police_area=row.police_area if row else
                (alert.police_area if alert else ""), cps_area=row.cps_area if row else "",
                state=CaseState(state) if state else None, state_since=since,
                opened_at=aware(row.opened_at) if row else None,
                in_state_days=max(_days(self.now - since), 0.0) if since else None,
                owner_role=Role.OFFICER_IN_CASE, earliest_due=None, reasons=[])
            self.cases[reference] = case
        case.reasons.append(reason)

    def finish(self) -> list[StuckCase]:
        for case in self.cases.values():
            overdue = sorted((r for r in case.reasons if r.reason is Reason.OVERDUE_DEADLINE),
                             key=lambda r: r.since or self.now)
            case.earliest_due = overdue[0].since if overdue else None
            if any(r.reason is Reason.WORKFLOW_ENDED for r in case.reasons):
                case.owner_role = Role.ADMIN  # nobody else can act until it is restored
            elif overdue and overdue[0].owner_role is not None:
                case.owner_role = overdue[0].owner_role
            elif case.state is not None:
                case.owner_role = STATE_OWNER[case.state]
            case.reasons.sort(key=lambda r: (list(Reason).index(r.reason), r.detail))
        return list(self.cases.values())


Only = str | Collection[str] | None


def _only(query, column, only: Only, dialect: str = ""):  # type: ignore[no-untyped-def]
    """Restrict a query to one case, or to the cases of one page. On PostgreSQL a page's
    references go as one array parameter: a hundred expanded IN parameters cost more to
    render and convert, on every request, than the query takes to run."""
    if only is None:
        return query
    if isinstance(only, str):
        return query.where(column == only)
    if dialect == "postgresql":
        return query.where(column == any_(bindparam("only", list(only), type_=ARRAY(String))))
    return query.where(column.in_(only))


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


# What a stuck case shows of its case row. Only these columns are read: building ORM objects
# for every row was most of a page's time (docs/benchmarks.md).
_CASE_COLUMNS = (col(CaseRow.police_area), col(CaseRow.cps_area), col(CaseRow.state),
                 col(CaseRow.state_since), col(CaseRow.opened_at))


def _over_service_level(session: Session, area: str, levels: dict[CaseState, timedelta | None],
                        b: _Builder, only: Only) -> None:
    limits = [and_(col(CaseRow.state) == s.value, col(CaseRow.state_since) < b.now - sl)
              for s, sl in levels.items() if sl is not None]
    if not limits:
        return
    query = columns(col(CaseRow.reference), *_CASE_COLUMNS).where(_in_area(area), or_(*limits))
    query = _only(query, col(CaseRow.reference), only, _dialect(session))
    for row in session.execute(query):
        level = levels[CaseState(row.state)]
        assert level is not None
        since = aware(row.state_since)
        assert since is not None
        b.add(row, row.reference, StuckReason(
            reason=Reason.OVER_SERVICE_LEVEL, since=since + level,
            detail=f"{_days(b.now - since)} days in {row.state.replace('_', ' ')}; "
                   f"service level {level.days} days"))


def _deadlines(session: Session, area: str, b: _Builder, only: Only) -> None:
    open_ = col(DeadlineRow.met_at).is_(None)
    problem = or_(col(DeadlineRow.escalated_at).is_not(None), col(DeadlineRow.failing).is_not(None))
    query = columns(
        col(DeadlineRow.reference), col(DeadlineRow.deadline_id), col(DeadlineRow.kind),
        col(DeadlineRow.rule), col(DeadlineRow.description), col(DeadlineRow.owner_role),
        col(DeadlineRow.due_at), col(DeadlineRow.remind_at), col(DeadlineRow.escalated_at),
        col(DeadlineRow.failing), *_CASE_COLUMNS).join(
        CaseRow, col(CaseRow.reference) == col(DeadlineRow.reference)).where(
        _in_area(area), open_, problem)
    # On the deadline's own key: a lookup per case.
    query = _only(query, col(DeadlineRow.reference), only, _dialect(session))
    for d in session.execute(query):
        row = d
        owner = Role(d.owner_role) if d.owner_role else None
        if d.escalated_at is not None:
            b.add(row, d.reference, StuckReason(
                reason=Reason.OVERDUE_DEADLINE, since=aware(d.due_at), rule=d.rule,
                deadline_id=d.deadline_id, owner_role=owner,
                detail=f"{d.kind.replace('_', ' ')} ({d.rule}) overdue: {d.description}"))
        if d.failing is not None:
            b.add(row, d.reference, StuckReason(
                reason=Reason.FAILING_ACTIVITY, since=aware(d.remind_at), rule=d.rule,
                deadline_id=d.deadline_id, owner_role=owner,
                detail=f"notification for {d.kind.replace('_', ' ')} failing: {d.failing}"))


def _alerts(session: Session, area: str, b: _Builder, only: Only) -> None:
    query: Any = columns(
        col(AlertRow.reference), col(AlertRow.kind), col(AlertRow.subject),
        col(AlertRow.attempts), col(AlertRow.last_failure), col(AlertRow.first_seen),
        col(AlertRow.police_area).label("alert_police_area"),
        col(AlertRow.state).label("alert_state"),
        col(AlertRow.state_since).label("alert_state_since"),
        col(CaseRow.reference).label("case_reference"), *_CASE_COLUMNS).join(
        CaseRow, col(CaseRow.reference) == col(AlertRow.reference), isouter=True).where(
        col(AlertRow.cleared_at).is_(None),
        or_(col(AlertRow.police_area) == area, _in_area(area)))
    query = _only(query, col(AlertRow.reference), only, _dialect(session))
    for alert in session.execute(query):
        row = alert if alert.case_reference is not None else None
        own = SimpleNamespace(police_area=alert.alert_police_area, state=alert.alert_state,
                              state_since=alert.alert_state_since)
        if alert.kind == ENDED_KIND:
            b.add(row, alert.reference, StuckReason(
                reason=Reason.WORKFLOW_ENDED, since=aware(alert.first_seen),
                detail=f"workflow {alert.subject or 'ended'}"
                       + (f": {alert.last_failure}" if alert.last_failure else "")), own)
            continue
        is_task = alert.kind == Reason.FAILING_WORKFLOW_TASK.value
        what = "workflow task" if is_task else f"activity {alert.subject}"
        b.add(row, alert.reference, StuckReason(
            reason=Reason.FAILING_WORKFLOW_TASK if is_task else Reason.FAILING_ACTIVITY,
            since=aware(alert.first_seen),
            detail=f"{what} failing after {alert.attempts} attempts: "
                   f"{alert.last_failure or 'no message'}"), own)


def stuck_cases(session: Session, area: str, levels: dict[CaseState, timedelta | None],
                now: datetime | None = None, reason: Reason | None = None,
                state: CaseState | None = None, owner: Role | None = None,
                sort: Sort = "age", only: Only = None) -> list[StuckCase]:
    """Every stuck case of the area (or only the one named) with all its reasons, filtered
    and sorted."""
    b = _Builder(now or datetime.now(UTC))
    _over_service_level(session, area, levels, b, only)
    _deadlines(session, area, b, only)
    _alerts(session, area, b, only)
    found = [c for c in b.finish()
             if (reason is None or any(r.reason is reason for r in c.reasons))
             and (state is None or c.state is state)
             and (owner is None or c.owner_role is owner)]
    far = datetime.max.replace(tzinfo=UTC)
    if sort == "due":
        found.sort(key=lambda c: (c.earliest_due or far, c.state_since or far, c.reference))
    else:  # longest in its state first
        found.sort(key=lambda c: (c.state_since or far, c.reference))
    return found


STUCK_COUNT_CAP = 200  # the page's total is exact up to this; beyond it, "200+"


class StuckPage(BaseModel):
    total: int
    total_is_exact: bool
    items: list[StuckCase]


def stuck_page(session: Session, area: str, levels: dict[CaseState, timedelta | None],
               now: datetime, reason: Reason | None = None, state: CaseState | None = None,
               owner: Role | None = None, sort: Sort = "age", limit: int = 100,
               offset: int = 0, count_cap: int = STUCK_COUNT_CAP) -> StuckPage:
    """One page of stuck_cases() and its total, as stuck_cases() would give them, without
    building every stuck case of the area: SQL finds and pages the stuck references, and only
    the page's cases are built with their reasons.

    Longest in its state first (the default): the area's cases are walked in state_since
    order on an index, each tested for being stuck, until the page is full; so a page costs
    about the same at any caseload. The total is counted the same way up to `count_cap`.
    Whose move it is (`owner`) is decided case by case, so that filter takes the full path;
    the most overdue first (`due`) orders on the deadlines, see _page_by_due."""
    if owner is not None:
        found = stuck_cases(session, area, levels, now, reason=reason, state=state, owner=owner,
                            sort=sort)
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


_WORKFLOW_TASK = Reason.FAILING_WORKFLOW_TASK.value
_DEADLINE_PROBLEM = {
    None: or_(col(DeadlineRow.escalated_at).is_not(None), col(DeadlineRow.failing).is_not(None)),
    Reason.OVERDUE_DEADLINE: col(DeadlineRow.escalated_at).is_not(None),
    Reason.FAILING_ACTIVITY: col(DeadlineRow.failing).is_not(None)}
_ALERT_KINDS: dict[Reason | None, Any] = {
    None: None, Reason.FAILING_ACTIVITY: col(AlertRow.kind).not_in([_WORKFLOW_TASK, ENDED_KIND]),
    Reason.FAILING_WORKFLOW_TASK: col(AlertRow.kind) == _WORKFLOW_TASK,
    Reason.WORKFLOW_ENDED: col(AlertRow.kind) == ENDED_KIND}


def _open_alerts(reason: Reason | None) -> Any:
    query = select(AlertRow.reference).where(col(AlertRow.cleared_at).is_(None))
    kind = _ALERT_KINDS[reason]
    return query if kind is None else query.where(kind)


def _is_stuck(levels: dict[CaseState, timedelta | None], now: datetime,
              reason: Reason | None) -> Any:
    """SQL: this case row is stuck (for `reason`), exactly as stuck_cases() decides it."""
    conditions: list[Any] = []
    if reason in (None, Reason.OVER_SERVICE_LEVEL):
        conditions += [and_(col(CaseRow.state) == s.value, col(CaseRow.state_since) < now - sl)
                       for s, sl in levels.items() if sl is not None]
    problem = _DEADLINE_PROBLEM.get(reason)
    if problem is not None:
        conditions.append(col(CaseRow.reference).in_(
            select(DeadlineRow.reference).where(col(DeadlineRow.met_at).is_(None), problem)))
    if reason in _ALERT_KINDS:
        conditions.append(col(CaseRow.reference).in_(_open_alerts(reason)))
    return or_(*conditions) if conditions else None


def _cps_area_only(area: str) -> Any:
    """Cases of the area's CPS from another police area: a few, on a partial index of their own
    (its condition is repeated here so that the planner can use it)."""
    return and_(col(CaseRow.cps_area) == area, col(CaseRow.police_area) != col(CaseRow.cps_area))


def _page_by_age(session: Session, area: str, levels: dict[CaseState, timedelta | None],
                 now: datetime, reason: Reason | None, state: CaseState | None, limit: int,
                 offset: int, count_cap: int) -> tuple[int, bool, list[str]]:
    stuck = _is_stuck(levels, now, reason)
    walks: list[Any] = []
    if reason in _ALERT_KINDS:
        # Alerts for a case the read model does not hold yet: few, found by the alert's area.
        orphans: Any = (select(col(AlertRow.reference).label("reference"),
                          func.min(col(AlertRow.state_since)).label("since"))
                   .where(col(AlertRow.reference).in_(_open_alerts(reason)),
                          col(AlertRow.police_area) == area,
                          ~select(CaseRow.reference)
                          .where(col(CaseRow.reference) == col(AlertRow.reference)).exists())
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


def _page_by_due(session: Session, area: str, levels: dict[CaseState, timedelta | None],
                 now: datetime, reason: Reason | None, state: CaseState | None, limit: int,
                 offset: int) -> tuple[int, list[str]]:
    """Most overdue deadline first: a union of the three ways to be stuck, ordered by each
    case's earliest overdue deadline, counted exactly."""
    in_area = _in_area(area)
    if state is not None:
        in_area = and_(in_area, col(CaseRow.state) == state.value)
    branches: list[Any] = []
    if reason in (None, Reason.OVER_SERVICE_LEVEL):
        limits = [and_(col(CaseRow.state) == s.value, col(CaseRow.state_since) < now - sl)
                  for s, sl in levels.items() if sl is not None]
        if limits:
            branches.append(select(col(CaseRow.reference).label("reference"),
                                   col(CaseRow.state_since).label("since"))
                            .where(in_area, or_(*limits)))
    problem = _DEADLINE_PROBLEM.get(reason)
    if problem is not None:
        branches.append(select(col(DeadlineRow.reference).label("reference"),
                               col(CaseRow.state_since).label("since"))
                        .join(CaseRow, col(CaseRow.reference) == col(DeadlineRow.reference))
                        .where(in_area, col(DeadlineRow.met_at).is_(None), problem))
    if reason in _ALERT_KINDS:
        alerts: Any = (select(col(AlertRow.reference).label("reference"),
                              func.coalesce(col(CaseRow.state_since), col(AlertRow.state_since))
                              .label("since"))
                       .join(CaseRow, col(CaseRow.reference) == col(AlertRow.reference),
                             isouter=True)
                       .where(col(AlertRow.cleared_at).is_(None),
                              or_(col(AlertRow.police_area) == area, _in_area(area))))
        kind = _ALERT_KINDS[reason]
        if kind is not None:
            alerts = alerts.where(kind)
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
           .where(col(DeadlineRow.met_at).is_(None), col(DeadlineRow.escalated_at).is_not(None))
           .group_by(col(DeadlineRow.reference)).subquery())
    page = (select(stuck.c.reference, func.count().over())  # the total rides on each row
            .join(due, due.c.reference == stuck.c.reference, isouter=True)
            .order_by(due.c.due.asc().nulls_last(), stuck.c.since.asc().nulls_last(),
                      stuck.c.reference))
    rows = list(session.exec(page.limit(limit).offset(offset)))
    if not rows:  # past the end: the total still answers
        return session.exec(select(func.count()).select_from(stuck)).one(), []
    return rows[0][1], [r[0] for r in rows]
