"""Rendering the workspace's pages: its templates (on the dashboard's base), the same security
headers as the dashboard, the page that says what went wrong, and a submitted form's values."""

from datetime import date, datetime
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from api.dashboard.routes import SECURITY_HEADERS
from api.workspace.forms import humanise
from core.db import aware
from models.case import Actor
from models.offences import OFFENCES, Offence
from workflows.calendar import LONDON

HERE = Path(__file__).parent

templates = Jinja2Templates(directory=[HERE / "templates", HERE.parent / "dashboard" / "templates"])


def _when(value: datetime | str | None) -> str:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    moment = aware(value)
    return moment.astimezone(LONDON).strftime("%d %b %Y %H:%M") if moment else "—"


def _day(value: date | str | None) -> str:
    if not value:
        return "—"
    return (date.fromisoformat(value) if isinstance(value, str) else value).strftime("%d %b %Y")


def _offence(code: str) -> str:
    """An offence as handlers know it, with the code the API uses."""
    info = OFFENCES.get(Offence(code)) if code in Offence._value2member_map_ else None
    return f"{info.title} ({code})" if info else code


templates.env.filters.update(when=_when, day=_day, human=lambda v: humanise(str(v)),
                             offence=_offence)


def page(request: Request, name: str, actor: Actor | None, status: int = 200,
         **context: Any) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, {"actor": actor, **context},
                                          status_code=status)
    response.headers.update(SECURITY_HEADERS)
    return response


def problem(request: Request, actor: Actor, err: HTTPException) -> HTMLResponse:
    """An API refusal of a read (unknown case, another area's, unavailable) as a page, with the
    same status and words the API answers."""
    detail = err.detail if isinstance(err.detail, dict) else {"message": str(err.detail)}
    response = page(request, "workspace/problem.html", actor, status=err.status_code,
                    rule=detail.get("rule"), message=detail.get("message", ""))
    if err.headers and "Retry-After" in err.headers:
        response.headers["Retry-After"] = err.headers["Retry-After"]
    return response


def expired(request: Request, actor: Actor) -> HTMLResponse:
    """A form sent without this session's CSRF token (api/workspace/csrf.py): nothing done."""
    return page(request, "workspace/problem.html", actor, status=403, rule="CSRF",
                message="This form has expired or did not come from this service. Nothing "
                        "was changed. Go back, reload the page and send it again.")


async def form_values(request: Request) -> dict[str, list[str]]:
    """The submitted form: each name with every value sent under it (files are ignored)."""
    form = await request.form()
    values: dict[str, list[str]] = {}
    for name, value in form.multi_items():
        if isinstance(value, str):
            values.setdefault(name, []).append(value)
    return values
