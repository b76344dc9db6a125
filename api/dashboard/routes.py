"""The managers' dashboard: server-rendered pages over the read model.

Every page is for the signed-in user's area only, and shows no complainant's name or contact
details: references, states, deadlines and history summaries (with any address or number
that slipped into one withheld).
"""

import json
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlmodel import Session, col, or_, select

from api.dashboard.session import clear_cookie, cookie_user, set_cookie, sign_in
from api.dashboard.svg import bar_chart_svg, lifecycle_svg
from api.deps import SessionDep, SettingsDep
from api.routes.reports import as_csv, build_report, period_of
from api.workspace.landing import home_for
from core.db import aware
from core.reports import REPORTS, time_in_state
from core.settings import Settings
from models.case import Actor, OrderInForce
from models.enums import CaseState, RiskLevel, Role
from models.monitoring import REASON_LABELS, DeadlineRow, Reason
from models.tables import CaseRow, HistoryRow
from readmodel.monitoring import scrub_failure
from readmodel.stuck import Sort, stuck_cases
from readmodel.stuck_page import stuck_page
from workflows.calendar import LONDON, london_today

HERE = Path(__file__).parent
E = TypeVar("E", bound=StrEnum)
DASHBOARD_PAGE = 100  # stuck cases per page: one page is built however many are stuck
STATIC = {"dashboard.css": "text/css", "dashboard.js": "text/javascript"}
# Pages load nothing from elsewhere and run no inline script.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; script-src 'self'; "
                               "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
}

router = APIRouter(prefix="/dashboard", include_in_schema=False)
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters["scrub"] = scrub_failure


def _when(value: datetime | None) -> str:
    moment = aware(value)
    return moment.astimezone(LONDON).strftime("%d %b %Y %H:%M") if moment else "—"


templates.env.filters["when"] = _when


def render_page(request: Request, name: str, actor: Actor | None, status: int = 200,
                **context: Any) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, {"actor": actor, **context},
                                          status_code=status)
    response.headers.update(SECURITY_HEADERS)
    return response


def to_login() -> RedirectResponse:
    return RedirectResponse("/dashboard/login", status_code=303)


@router.get("/static/{name}")
def static(name: str) -> Response:
    if name not in STATIC:
        raise HTTPException(404, detail={"rule": "NOT_FOUND", "message": f"No file {name}."})
    return FileResponse(HERE / "static" / name, media_type=STATIC[name])


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return render_page(request, "login.html", None)


@router.post("/login", response_class=HTMLResponse)
def login_submit(request: Request, session: SessionDep, settings: SettingsDep,
                 username: Annotated[str, Form(max_length=100)],
                 password: Annotated[str, Form(max_length=200)]) -> Response:
    try:
        token = sign_in(request, session, settings, username, password)
    except HTTPException as err:  # too many attempts: the login page says so
        detail: Any = err.detail
        page = render_page(request, "login.html", None, status=err.status_code,
                           error=detail["message"], username=username)
        page.headers.update(err.headers or {})
        return page
    if token is None:
        return render_page(request, "login.html", None, status=401,
                           error="Wrong username or password.", username=username)
    # Case handlers land on their work, managers on the dashboard.
    response = RedirectResponse(home_for(request.app.state.verifier.actor(token)), status_code=303)
    set_cookie(response, settings, token)
    return response


@router.post("/logout")
def logout() -> Response:
    response = to_login()
    clear_cookie(response)
    return response


@router.get("", response_class=HTMLResponse)
def stuck_list(
    request: Request, session: SessionDep, settings: SettingsDep,
    reason: Annotated[str, Query(max_length=40)] = "",
    state: Annotated[str, Query(max_length=40)] = "",
    owner: Annotated[str, Query(max_length=40)] = "",
    unassigned: Annotated[str, Query(max_length=5)] = "",
    sort: Annotated[Sort, Query()] = "age",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    """The stuck cases of the user's area, filtered and sorted, a page at a time. An empty
    filter (the form's "any") means no filter; `unassigned=1` (the form's checkbox) only the
    cases whose owner's role names nobody."""
    actor = cookie_user(request)
    if actor is None:
        return to_login()
    why, where, whose = (_choice(Reason, "reason", reason), _choice(CaseState, "state", state),
                         _choice(Role, "owner", owner))
    nobodys = _flag("unassigned", unassigned)
    chosen = {"reason": why, "state": where, "owner": whose, "unassigned": nobodys, "sort": sort}
    found = stuck_page(session, actor.area, settings.service_levels(actor.area),
                       datetime.now(UTC), reason=why, state=where, owner=whose, sort=sort,
                       limit=DASHBOARD_PAGE, offset=(page - 1) * DASHBOARD_PAGE,
                       unassigned=nobodys)
    filters = {k: v for k, v in (("reason", reason), ("state", state), ("owner", owner),
                                 ("unassigned", "1" if nobodys else ""), ("sort", sort)) if v}
    last = page if not found.total_is_exact else max(1, -(-found.total // DASHBOARD_PAGE))
    more = len(found.items) == DASHBOARD_PAGE and (page < last or not found.total_is_exact)
    return render_page(request, "stuck.html", actor, cases=found.items, total=found.total,
                       total_is_exact=found.total_is_exact, page=page,
                       first_shown=(page - 1) * DASHBOARD_PAGE + 1,
                       previous_page=urlencode({**filters, "page": page - 1}) if page > 1 else None,
                       next_page=urlencode({**filters, "page": page + 1}) if more else None,
                       labels=REASON_LABELS, reasons=list(Reason), states=list(CaseState),
                       owners=[r for r in Role if r not in (Role.SYSTEM, Role.ADMIN)],
                       chosen=chosen)


def _flag(name: str, value: str) -> bool:
    """A checkbox: absent or empty is off, 1 (what the form sends) or true is on."""
    if value.lower() in ("", "0", "false"):
        return False
    if value.lower() in ("1", "true", "on"):
        return True
    raise HTTPException(422, detail={"rule": "INPUT", "message": (
        f"{name} must be 1 or 0 (or true or false).")})


def _choice(kind: type[E], name: str, value: str) -> E | None:
    if not value:
        return None
    try:
        return kind(value)
    except ValueError as err:
        allowed = ", ".join(v.value for v in kind)
        raise HTTPException(422, detail={"rule": "INPUT", "message": (
            f"{name} must be one of: {allowed}.")}) from err


def _case_row(session: Session, reference: str, actor: Actor) -> CaseRow:
    row = session.exec(select(CaseRow).where(
        col(CaseRow.reference) == reference,
        or_(col(CaseRow.police_area) == actor.area, col(CaseRow.cps_area) == actor.area))).first()
    if row is None:  # another area's case answers as if unknown
        raise HTTPException(404, detail={"rule": "NOT_FOUND", "message": f"No case {reference}."})
    return row


def _time_in_states(history: list[HistoryRow], now: datetime) -> dict[str, float]:
    """Days this case has spent in each state so far (the current stay up to now)."""
    spent: dict[str, float] = {}
    entered: tuple[str, datetime] | None = None
    for h in history:
        at = aware(h.at) or now
        if h.action == "open_case" or h.state_before != h.state_after:
            if entered is not None:
                stay = (at - entered[1]).total_seconds() / 86400
                spent[entered[0]] = spent.get(entered[0], 0) + stay
            entered = (h.state_after, at)
    if entered is not None and entered[0] != CaseState.CLOSED.value:
        delta = now - entered[1]
        spent[entered[0]] = spent.get(entered[0], 0) + max(delta.total_seconds(), 0) / 86400
    return spent


@router.get("/cases/{reference}", response_class=HTMLResponse)
def case_page(request: Request, reference: str, session: SessionDep,
              settings: SettingsDep) -> Response:
    """One case: why it is stuck, where it stands, its open deadlines and its timeline."""
    actor = cookie_user(request)
    if actor is None:
        return to_login()
    now = datetime.now(UTC)
    row = _case_row(session, reference, actor)
    history = list(session.exec(select(HistoryRow).where(
        col(HistoryRow.reference) == reference).order_by(col(HistoryRow.version))))
    deadlines = list(session.exec(select(DeadlineRow).where(
        col(DeadlineRow.reference) == reference, col(DeadlineRow.met_at).is_(None))
        .order_by(col(DeadlineRow.due_at))))
    levels = settings.service_levels(actor.area)
    stuck = stuck_cases(session, actor.area, levels, now, only=reference)
    spent = _time_in_states(history, now)
    chart = bar_chart_svg("Days in each state (tick: service level)", [
        (s.value, spent.get(s.value), _days(levels.get(s)))
        for s in CaseState if s is not CaseState.CLOSED and (s.value in spent)])
    return render_page(request, "case.html", actor, case=row, history=history, deadlines=deadlines,
                       reasons=stuck[0].reasons if stuck else [], labels=REASON_LABELS,
                       diagram=lifecycle_svg(row.state), chart=chart, now=now,
                       temporal_url=_temporal_url(settings, reference),
                       orders=_orders_in_force(row, london_today(now)), risk=SimpleNamespace(
                           risk_level=RiskLevel(row.risk_level) if row.risk_level else None,
                           domestic_abuse=row.domestic_abuse, breach=row.breaches > 0,
                           repeat_perpetrator=row.repeat_perpetrator),
                       linked=_linked_cases(session, row, actor))


def _orders_in_force(row: CaseRow, today: date) -> list[OrderInForce]:
    """The case's orders in force today (the row keeps those not revoked or ended, with their
    end dates)."""
    orders = [OrderInForce.model_validate(o) for o in json.loads(row.orders_in_force or "[]")]
    return [o for o in orders if o.in_force_on(today)]


def _linked_cases(session: Session, row: CaseRow,
                  actor: Actor) -> list[tuple[str | None, str | None]]:
    """Each linked case: (its reference, None) when the user may open it (a case of their
    area); (None, its police area) for another area's, whose reference is withheld as the API
    withholds it (P3.8: only that it exists, and whom to contact)."""
    references = [r for r in row.linked_cases.split(",") if r]
    if not references:
        return []
    areas = dict(session.exec(select(CaseRow.reference, CaseRow.police_area).where(
        col(CaseRow.reference).in_(references))).all())
    ours = set(session.exec(select(CaseRow.reference).where(
        col(CaseRow.reference).in_(references),
        or_(col(CaseRow.police_area) == actor.area, col(CaseRow.cps_area) == actor.area))))
    return [(r, None) if r in ours else (None, areas.get(r) or "another area")
            for r in references]


def _days(level: timedelta | None) -> float | None:
    return None if level is None else level.total_seconds() / 86400


def _temporal_url(settings: Settings, reference: str) -> str:
    return (f"{settings.temporal_ui_url.rstrip('/')}/namespaces/{settings.temporal_namespace}"
            f"/workflows/case-{reference}")


@router.get("/reports", response_class=HTMLResponse)
def reports_page(request: Request, session: SessionDep,
                 since: Annotated[str, Query(max_length=20)] = "",
                 until: Annotated[str, Query(max_length=20)] = "") -> Response:
    """Every report for the user's area and a period, with a chart of time in state. A period
    that cannot be reported on is said on the page, beside the form to correct it."""
    actor = cookie_user(request)
    if actor is None:
        return to_login()
    try:
        period = period_of(_day(since, "From"), _day(until, "To"), None)
    except HTTPException as err:
        message = err.detail["message"] if isinstance(err.detail, dict) else str(err.detail)
        return render_page(request, "reports.html", actor, status=422, error=message, tables={},
                           period=SimpleNamespace(since=since, until=until), chart="")
    tables = {name: (spec.title, spec.build(session, actor.area, period))
              for name, spec in REPORTS.items()}
    stays = time_in_state(session, actor.area, period)
    chart = bar_chart_svg("Median days in each state (tick: 90th percentile)", [
        (r["state"], r["median_days"], r["p90_days"]) for r in stays if r["stays"]],
        marker_label="90th percentile")
    return render_page(request, "reports.html", actor, tables=tables, period=period, chart=chart)


def _day(value: str, label: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HTTPException(422, detail={"rule": "INVALID", "message": (
            f"{label} must be a date (YYYY-MM-DD); {value[:20]!r} is not one.")}) from None


@router.get("/reports/{name}.csv")
def report_csv(request: Request, name: str, session: SessionDep,
               since: date | None = None, until: date | None = None) -> Response:
    """One report as CSV, for the signed-in user's area."""
    actor = cookie_user(request)
    if actor is None:
        return to_login()
    return as_csv(build_report(session, actor.area, name, period_of(since, until, None)))
