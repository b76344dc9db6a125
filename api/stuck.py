"""Stuck cases: which cases of an area are stuck, for every reason, and whose move it is.

Answered from indexed read-model tables (cases, case_deadlines, stuck_alerts), never by
asking the workflows one by one:
- over_service_level: longer in its state than the area's service level for it
  (core/service_levels.py); ix_cases_state_since.
- overdue_deadline: a deadline escalated and still open; ix_case_deadlines_open_escalated.
- failing_activity: a notification delivery failing on an open deadline (the workflow marks
  it), or an activity the sweeper saw failing attempt after attempt (stuck_alerts).
- failing_workflow_task: the sweeper saw the workflow's own task failing (stuck_alerts).
"""

from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import and_, func, or_, union
from sqlmodel import Session, col, select

from core.db import aware
from core.service_levels import STATE_OWNER
from models.enums import CaseState, Role
from models.monitoring import AlertRow, DeadlineRow
from models.tables import CaseRow


class Reason(StrEnum):
    OVER_SERVICE_LEVEL = "over_service_level"
    OVERDUE_DEADLINE = "overdue_deadline"
    FAILING_ACTIVITY = "failing_activity"
    FAILING_WORKFLOW_TASK = "failing_workflow_task"


REASON_LABELS = {
    Reason.OVER_SERVICE_LEVEL: "Over service level",
    Reason.OVERDUE_DEADLINE: "Overdue deadline",
    Reason.FAILING_ACTIVITY: "Failing activity",
    Reason.FAILING_WORKFLOW_TASK: "Failing workflow task",
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

    def add(self, row: CaseRow | None, reference: str, reason: StuckReason,
            alert: AlertRow | None = None) -> None:
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
            if overdue and overdue[0].owner_role is not None:
                case.owner_role = overdue[0].owner_role
            elif case.state is not None:
                case.owner_role = STATE_OWNER[case.state]
            case.reasons.sort(key=lambda r: (list(Reason).index(r.reason), r.detail))
        return list(self.cases.values())


Only = str | Collection[str] | None


def _only(query, column, only: Only):  # type: ignore[no-untyped-def]
    """Restrict a query to one case, or to the cases of one page."""
    if only is None:
        return query
    return query.where(column == only) if isinstance(only, str) else query.where(column.in_(only))


def _over_service_level(session: Session, area: str, levels: dict[CaseState, timedelta | None],
                        b: _Builder, only: Only) -> None:
    limits = [and_(col(CaseRow.state) == s.value, col(CaseRow.state_since) < b.now - sl)
              for s, sl in levels.items() if sl is not None]
    if not limits:
        return
    query = select(CaseRow).where(_in_area(area), or_(*limits))
    query = _only(query, col(CaseRow.reference), only)
    for row in session.exec(query):
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
    query = select(DeadlineRow, CaseRow).join(
        CaseRow, col(CaseRow.reference) == col(DeadlineRow.reference)).where(
        _in_area(area), open_, problem)
    query = _only(query, col(CaseRow.reference), only)
    for d, row in session.exec(query):
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
    query = select(AlertRow, CaseRow).join(
        CaseRow, col(CaseRow.reference) == col(AlertRow.reference), isouter=True).where(
        col(AlertRow.cleared_at).is_(None),
        or_(col(AlertRow.police_area) == area, _in_area(area)))
    query = _only(query, col(AlertRow.reference), only)
    for alert, row in session.exec(query):
        is_task = alert.kind == Reason.FAILING_WORKFLOW_TASK.value
        what = "workflow task" if is_task else f"activity {alert.subject}"
        b.add(row, alert.reference, StuckReason(
            reason=Reason.FAILING_WORKFLOW_TASK if is_task else Reason.FAILING_ACTIVITY,
            since=aware(alert.first_seen),
            detail=f"{what} failing after {alert.attempts} attempts: "
                   f"{alert.last_failure or 'no message'}"), alert)


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


def stuck_page(session: Session, area: str, levels: dict[CaseState, timedelta | None],
               now: datetime, reason: Reason | None = None, state: CaseState | None = None,
               owner: Role | None = None, sort: Sort = "age", limit: int = 100,
               offset: int = 0) -> tuple[int, list[StuckCase]]:
    """One page of stuck_cases() and the total, as stuck_cases() would give them, without
    building every stuck case of the area: SQL finds, counts, orders and pages the stuck
    references (on the same indexes), and only the page's cases are built with their reasons.
    Whose move it is (`owner`) is decided case by case, so that filter takes the full path."""
    if owner is not None:
        found = stuck_cases(session, area, levels, now, reason=reason, state=state, owner=owner,
                            sort=sort)
        return len(found), found[offset:offset + limit]
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
    problem = {None: or_(col(DeadlineRow.escalated_at).is_not(None),
                         col(DeadlineRow.failing).is_not(None)),
               Reason.OVERDUE_DEADLINE: col(DeadlineRow.escalated_at).is_not(None),
               Reason.FAILING_ACTIVITY: col(DeadlineRow.failing).is_not(None)}.get(reason)
    if problem is not None:
        branches.append(select(col(DeadlineRow.reference).label("reference"),
                               col(CaseRow.state_since).label("since"))
                        .join(CaseRow, col(CaseRow.reference) == col(DeadlineRow.reference))
                        .where(in_area, col(DeadlineRow.met_at).is_(None), problem))
    task = Reason.FAILING_WORKFLOW_TASK.value
    kinds = {None: None, Reason.FAILING_ACTIVITY: col(AlertRow.kind) != task,
             Reason.FAILING_WORKFLOW_TASK: col(AlertRow.kind) == task}
    if reason in kinds:
        alerts: Any = (select(col(AlertRow.reference).label("reference"),
                         func.coalesce(col(CaseRow.state_since), col(AlertRow.state_since))
                         .label("since"))
                  .join(CaseRow, col(CaseRow.reference) == col(AlertRow.reference), isouter=True)
                  .where(col(AlertRow.cleared_at).is_(None),
                         or_(col(AlertRow.police_area) == area, _in_area(area))))
        kind = kinds[reason]
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
    order = [stuck.c.since.asc().nulls_last(), stuck.c.reference]
    page = select(stuck.c.reference, func.count().over())  # the total rides on each row
    if sort == "due":
        due = (select(col(DeadlineRow.reference).label("reference"),
                      func.min(col(DeadlineRow.due_at)).label("due"))
               .where(col(DeadlineRow.met_at).is_(None), col(DeadlineRow.escalated_at).is_not(None))
               .group_by(col(DeadlineRow.reference)).subquery())
        page = page.join(due, due.c.reference == stuck.c.reference, isouter=True)
        order.insert(0, due.c.due.asc().nulls_last())
    rows = list(session.exec(page.order_by(*order).limit(limit).offset(offset)))
    if not rows:  # past the end: the total still answers
        return session.exec(select(func.count()).select_from(stuck)).one(), []
    total, refs = rows[0][1], [r[0] for r in rows]
    return total, stuck_cases(session, area, levels, now, reason=reason, state=state,
                              sort=sort, only=refs)
