"""Stuck cases: the rule that says a case is stuck, written once, and the cases it finds.

A case of an area is stuck for each of these reasons (models.monitoring.Reason) that applies:
- over_service_level: longer in its state than the area's service level for it
  (core/service_levels.py); ix_cases_state_since.
- overdue_deadline: a deadline escalated and still open; ix_case_deadlines_open_escalated.
- failing_activity: a notification delivery failing on an open deadline (the workflow marks
  it), or an activity the sweeper saw failing attempt after attempt (stuck_alerts).
- failing_workflow_task: the sweeper saw the workflow's own task failing (stuck_alerts).
- workflow_ended: the case's workflow was terminated, failed, timed out or was cancelled
  without closing the case (stuck_alerts, core/ended_cases.py). Nobody can act on it until an
  administrator restores it: the administrator's move.

The rule is three SQL predicates (over_service_level, problem_deadline, open_alert) that both
paths use: building given cases with their reasons (stuck_cases, here) and finding one page of
stuck references (readmodel/stuck_page.py). Answered from indexed read-model tables, never by
asking the workflows one by one.
"""

from collections.abc import Collection, Iterable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import ARRAY, String, and_, any_, bindparam, or_
from sqlalchemy import select as columns  # any number of columns, read as plain rows
from sqlmodel import Session, col

from core.db import aware
from core.service_levels import STATE_OWNER
from models.case import TEAM_ROLES
from models.enums import CaseState, RiskLevel, Role
from models.monitoring import AlertRow, DeadlineRow, Reason
from models.tables import CaseRow, CaseTeamRow, StaffProfileRow

Levels = dict[CaseState, timedelta | None]
Sort = Literal["age", "due"]

# --- the rule ---------------------------------------------------------------------------------
# The sweeper's alert kinds are Reason values; any other kind is an activity failing.
_ALERT_REASONS = (Reason.FAILING_ACTIVITY, Reason.FAILING_WORKFLOW_TASK, Reason.WORKFLOW_ENDED)
_OWN_KIND_ALERTS = (Reason.FAILING_WORKFLOW_TASK.value, Reason.WORKFLOW_ENDED.value)


def over_service_level(levels: Levels, now: datetime) -> Any:  # a SQL condition, or None
    """SQL on `cases`: longer in its state than the state's service level (None: no state of
    the area has one)."""
    limits = [and_(col(CaseRow.state) == s.value, col(CaseRow.state_since) < now - sl)
              for s, sl in levels.items() if sl is not None]
    return or_(*limits) if limits else None


def problem_deadline(reason: Reason | None = None) -> Any:  # a SQL condition, or None
    """SQL on `case_deadlines`: an open deadline that makes its case stuck (for `reason`):
    escalated (overdue_deadline) or its notification failing (failing_activity). None: the
    reason is never a deadline's."""
    escalated = col(DeadlineRow.escalated_at).is_not(None)
    failing = col(DeadlineRow.failing).is_not(None)
    problem = {None: or_(escalated, failing), Reason.OVERDUE_DEADLINE: escalated,
               Reason.FAILING_ACTIVITY: failing}.get(reason)
    return None if problem is None else and_(col(DeadlineRow.met_at).is_(None), problem)


def open_alert(reason: Reason | None = None) -> Any:  # a SQL condition, or None
    """SQL on `stuck_alerts`: an alert not cleared, of the reason's kind. None: the reason is
    never an alert's."""
    is_open = col(AlertRow.cleared_at).is_(None)
    if reason is None:
        return is_open
    if reason not in _ALERT_REASONS:
        return None
    if reason is Reason.FAILING_ACTIVITY:
        return and_(is_open, col(AlertRow.kind).not_in(_OWN_KIND_ALERTS))
    return and_(is_open, col(AlertRow.kind) == reason.value)


def alert_reason(kind: str) -> Reason:
    """The reason an open alert of this kind gives (the Python side of open_alert)."""
    return Reason(kind) if kind in _OWN_KIND_ALERTS else Reason.FAILING_ACTIVITY


def in_area(area: str) -> Any:
    """SQL on `cases`: a case of the area, by its police area or its CPS area."""
    return or_(col(CaseRow.police_area) == area, col(CaseRow.cps_area) == area)


# --- what a stuck case shows ------------------------------------------------------------------
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
    owner_user: str | None = Field(
        default=None, description="The user the case names for the owner's role.")
    owner_name: str | None = Field(default=None, description="Their display name, if known.")
    unassigned: bool = Field(
        default=False, description="The owner's role is a team role the case names nobody for.")
    earliest_due: datetime | None
    # What the case's row says of the risk (no case row yet: unknown, shown as none).
    risk_level: RiskLevel | None = Field(
        default=None, description="The highest latest risk level of the case's complainants.")
    domestic_abuse: bool = False
    repeat_perpetrator: bool = False
    breach: bool = Field(default=False, description="An order or bail breach was reported.")
    reasons: list[StuckReason]


def days(delta: timedelta) -> float:
    return round(delta.total_seconds() / 86400, 1)


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
                in_state_days=max(days(self.now - since), 0.0) if since else None,
                owner_role=Role.OFFICER_IN_CASE, earliest_due=None, reasons=[])
            if row is not None:
                case.risk_level = RiskLevel(row.risk_level) if row.risk_level else None
                case.domestic_abuse, case.breach = bool(row.domestic_abuse), row.breaches > 0
                case.repeat_perpetrator = bool(row.repeat_perpetrator)
            self.cases[reference] = case
        case.reasons.append(reason)

    def finish(self, team: dict[tuple[str, str], tuple[str, str | None]]) -> list[StuckCase]:
        """`team`: (reference, role) -> the user the case names for that role, and their
        display name."""
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
            case.owner_user, case.owner_name = team.get((case.reference, case.owner_role.value),
                                                        (None, None))
            # An administrator's move is nobody's on the case team: never "unassigned".
            case.unassigned = case.owner_role in TEAM_ROLES and case.owner_user is None
            case.reasons.sort(key=lambda r: (list(Reason).index(r.reason), r.detail))
        return list(self.cases.values())


Only = str | Collection[str] | None


def only_these(query: Any, column: Any, only: Only, dialect: str = "") -> Any:
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


def dialect_of(session: Session) -> str:
    return session.get_bind().dialect.name


# What a stuck case shows of its case row. Only these columns are read: building ORM objects
# for every row was most of a page's time (docs/benchmarks.md).
_CASE_COLUMNS = (col(CaseRow.police_area), col(CaseRow.cps_area), col(CaseRow.state),
                 col(CaseRow.state_since), col(CaseRow.opened_at), col(CaseRow.risk_level),
                 col(CaseRow.domestic_abuse), col(CaseRow.repeat_perpetrator),
                 col(CaseRow.breaches))


def _over_service_level(session: Session, area: str, levels: Levels, b: _Builder,
                        only: Only) -> None:
    late = over_service_level(levels, b.now)
    if late is None:
        return
    query = columns(col(CaseRow.reference), *_CASE_COLUMNS).where(in_area(area), late)
    query = only_these(query, col(CaseRow.reference), only, dialect_of(session))
    for row in session.execute(query):
        level = levels[CaseState(row.state)]
        assert level is not None
        since = aware(row.state_since)
        assert since is not None
        b.add(row, row.reference, StuckReason(
            reason=Reason.OVER_SERVICE_LEVEL, since=since + level,
            detail=f"{days(b.now - since)} days in {row.state.replace('_', ' ')}; "
                   f"service level {level.days} days"))


def _deadlines(session: Session, area: str, b: _Builder, only: Only) -> None:
    # Which reasons a problem deadline gives, asked of the same predicates as the page's.
    overdue, failing = problem_deadline(Reason.OVERDUE_DEADLINE), problem_deadline(
        Reason.FAILING_ACTIVITY)
    query = columns(
        col(DeadlineRow.reference), col(DeadlineRow.deadline_id), col(DeadlineRow.kind),
        col(DeadlineRow.rule), col(DeadlineRow.description), col(DeadlineRow.owner_role),
        col(DeadlineRow.due_at), col(DeadlineRow.remind_at), col(DeadlineRow.failing),
        overdue.label("is_overdue"), failing.label("is_failing"), *_CASE_COLUMNS).join(
        CaseRow, col(CaseRow.reference) == col(DeadlineRow.reference)).where(
        in_area(area), problem_deadline())
    # On the deadline's own key: a lookup per case.
    query = only_these(query, col(DeadlineRow.reference), only, dialect_of(session))
    for d in session.execute(query):
        owner = Role(d.owner_role) if d.owner_role else None
        kind = d.kind.replace("_", " ")
        if d.is_overdue:
            b.add(d, d.reference, StuckReason(
                reason=Reason.OVERDUE_DEADLINE, since=aware(d.due_at), rule=d.rule,
                deadline_id=d.deadline_id, owner_role=owner,
                detail=f"{kind} ({d.rule}) overdue: {d.description}"))
        if d.is_failing:
            b.add(d, d.reference, StuckReason(
                reason=Reason.FAILING_ACTIVITY, since=aware(d.remind_at), rule=d.rule,
                deadline_id=d.deadline_id, owner_role=owner,
                detail=f"notification for {kind} failing: {d.failing}"))


def _alerts(session: Session, area: str, b: _Builder, only: Only) -> None:
    query: Any = columns(
        col(AlertRow.reference), col(AlertRow.kind), col(AlertRow.subject),
        col(AlertRow.attempts), col(AlertRow.last_failure), col(AlertRow.first_seen),
        col(AlertRow.police_area).label("alert_police_area"),
        col(AlertRow.state).label("alert_state"),
        col(AlertRow.state_since).label("alert_state_since"),
        col(CaseRow.reference).label("case_reference"), *_CASE_COLUMNS).join(
        CaseRow, col(CaseRow.reference) == col(AlertRow.reference), isouter=True).where(
        open_alert(), or_(col(AlertRow.police_area) == area, in_area(area)))
    query = only_these(query, col(AlertRow.reference), only, dialect_of(session))
    for alert in session.execute(query):
        row = alert if alert.case_reference is not None else None
        own = SimpleNamespace(police_area=alert.alert_police_area, state=alert.alert_state,
                              state_since=alert.alert_state_since)
        reason = alert_reason(alert.kind)
        if reason is Reason.WORKFLOW_ENDED:
            detail = f"workflow {alert.subject or 'ended'}" + (
                f": {alert.last_failure}" if alert.last_failure else "")
        else:
            what = ("workflow task" if reason is Reason.FAILING_WORKFLOW_TASK
                    else f"activity {alert.subject}")
            detail = (f"{what} failing after {alert.attempts} attempts: "
                      f"{alert.last_failure or 'no message'}")
        b.add(row, alert.reference, StuckReason(reason=reason, since=aware(alert.first_seen),
                                                detail=detail), own)


_TEAM_BATCH = 500  # references per query when a whole area's list is built (SQLite's limits)


def team_of(session: Session,
            references: Iterable[str]) -> dict[tuple[str, str], tuple[str, str | None]]:
    """(reference, role) -> (user id, display name if they have a profile) for these cases:
    one query for a page of them."""
    refs, team = list(references), {}
    step = len(refs) if dialect_of(session) == "postgresql" else _TEAM_BATCH
    for start in range(0, len(refs), max(step, 1)):
        query = only_these(
            columns(col(CaseTeamRow.reference), col(CaseTeamRow.role), col(CaseTeamRow.user_id),
                    col(StaffProfileRow.display_name))
            .outerjoin(StaffProfileRow,
                       col(StaffProfileRow.user_id) == col(CaseTeamRow.user_id)),
            col(CaseTeamRow.reference), refs[start:start + step], dialect_of(session))
        team.update({(r.reference, r.role): (r.user_id, r.display_name)
                     for r in session.execute(query)})
    return team


def stuck_cases(session: Session, area: str, levels: Levels, now: datetime | None = None,
                reason: Reason | None = None, state: CaseState | None = None,
                owner: Role | None = None, sort: Sort = "age", only: Only = None,
                unassigned: bool = False) -> list[StuckCase]:
    """Every stuck case of the area (or only the one named) with all its reasons, whose move
    it is (role and person), filtered and sorted."""
    b = _Builder(now or datetime.now(UTC))
    _over_service_level(session, area, levels, b, only)
    _deadlines(session, area, b, only)
    _alerts(session, area, b, only)
    found = [c for c in b.finish(team_of(session, b.cases))
             if (reason is None or any(r.reason is reason for r in c.reasons))
             and (state is None or c.state is state)
             and (owner is None or c.owner_role is owner)
             and (not unassigned or c.unassigned)]
    far = datetime.max.replace(tzinfo=UTC)
    if sort == "due":
        found.sort(key=lambda c: (c.earliest_due or far, c.state_since or far, c.reference))
    else:  # longest in its state first
        found.sort(key=lambda c: (c.state_since or far, c.reference))
    return found
