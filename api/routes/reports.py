"""GET /reports/...: managers' reports for your area and a period, as JSON or CSV."""

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from api.auth import CurrentUser
from api.deps import SessionDep
from api.responses import AUTHENTICATED, MALFORMED, responses
from core.reports import REPORTS, Period
from workflows.calendar import london_today

router = APIRouter(prefix="/reports", tags=["managers"], responses=AUTHENTICATED)
MAX_PERIOD = timedelta(days=3 * 366)
# A month the document promises to take: what strptime reads as %Y-%m and a report can end in
# (year 0 does not parse; the last day of 9999 has no day after it to end the report on).
MONTH_PATTERN = r"^(19|2[0-9])[0-9]{2}-(0[1-9]|1[0-2])$"
# A report ends before the day after `until`, so `until` leaves a day after it.
LAST_UNTIL = date.max - timedelta(days=1)


class ReportIndexEntry(BaseModel):
    name: str
    title: str
    url: str


class Report(BaseModel):
    report: str
    title: str
    area: str
    since: date
    until: date
    rows: list[dict[str, Any]]


def _bad(message: str) -> HTTPException:
    return HTTPException(422, detail={"rule": "INPUT", "message": message})


def period_of(since: date | None, until: date | None, month: str | None) -> Period:
    """The period asked for: a month (YYYY-MM), or since/until; by default this month to date."""
    today = london_today(datetime.now(UTC))
    if month is not None:
        if since is not None or until is not None:
            raise _bad("Give either month or since/until, not both.")
        try:
            first = datetime.strptime(month, "%Y-%m").date()
        except ValueError as err:
            raise _bad("month must be YYYY-MM, e.g. 2026-11.") from err
        following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
        return Period(first, following - timedelta(days=1))
    since = since or today.replace(day=1)
    until = until or today
    if since > until:
        raise _bad("since must be on or before until.")
    if until > LAST_UNTIL:
        raise _bad(f"until must be on or before {LAST_UNTIL}.")
    if until - since > MAX_PERIOD:
        raise _bad("A report covers at most three years.")
    return Period(since, until)


def build_report(session: SessionDep, area: str, name: str, period: Period) -> Report:
    spec = REPORTS.get(name)
    if spec is None:
        raise HTTPException(404, detail={"rule": "NOT_FOUND", "message": (
            f"No report {name!r}; reports: {', '.join(REPORTS)}.")})
    return Report(report=name, title=spec.title, area=area, since=period.since,
                  until=period.until, rows=spec.build(session, area, period))


def as_csv(report: Report) -> Response:
    out = io.StringIO()
    columns = list(report.rows[0]) if report.rows else []
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(report.rows)
    filename = f"{report.report}-{report.area}-{report.since}-{report.until}.csv"
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("", response_model=list[ReportIndexEntry])
def report_index(actor: CurrentUser) -> list[ReportIndexEntry]:
    """The reports there are."""
    return [ReportIndexEntry(name=n, title=s.title, url=f"/reports/{n}") for n, s in REPORTS.items()]


@router.get("/{name}", response_model=Report,
            responses={200: {"content": {"text/csv": {}}},
                       **responses(MALFORMED, s404="No such report.",
                                   s422="Malformed, field by field; or a period that is not "
                                        "one (detail.rule INPUT).")})
def read_report(
    name: str, actor: CurrentUser, session: SessionDep, request: Request,
    since: date | None = None, until: date | None = None,
    month: Annotated[str | None, Query(pattern=MONTH_PATTERN, description=(
        "YYYY-MM, e.g. 2026-11: a whole month instead (years 1900 to 2999)."))] = None,
    format: Annotated[str | None, Query(pattern="^(json|csv)$")] = None,
) -> Any:
    """One report for your area and a period (London days, both ends included).

    CSV with ?format=csv or Accept: text/csv.
    """
    report = build_report(session, actor.area, name, period_of(since, until, month))
    wants_csv = format == "csv" or (format is None
                                    and "text/csv" in request.headers.get("accept", ""))
    return as_csv(report) if wants_csv else report
