"""The case handler's workspace: my work, a case as its handlers see it, and a form for each
action they may take, on the dashboard's sign-in, headers and base template.

Every read and every action goes through the API's own route functions (api/routes/cases.py)
with the signed-in user, so the workspace shows exactly what the API would show them and an
action is checked, applied, retried and refused exactly as POST /cases/{reference}/actions is.
"""

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, HTTPException, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from api.dashboard.session import cookie_user
from api.deps import SessionDep, SettingsDep, TemporalDep
from api.redaction import sees_contact_details
from api.routes import cases
from api.workspace import actions as forms_of
from api.workspace.csrf import FIELD as CSRF_FIELD
from api.workspace.csrf import csrf_ok, csrf_token
from api.workspace.landing import HANDLER_ROLES, HOME
from api.workspace.orders import orders_in_force
from api.workspace.pages import HERE, expired, form_values, page, problem
from core.settings import Settings
from models.actions import ACTION_KINDS
from models.case import Actor
from models.enums import POLICE_ROLES, CaseState
from readmodel.work import my_work
from workflows.calendar import london_today

router = APIRouter(prefix=HOME, include_in_schema=False)
HISTORY_PAGE = 50
STATIC = {"workspace.css": "text/css", "workspace.js": "text/javascript"}
_KEY_LIMIT = 100  # an Idempotency-Key's longest, as the API takes it


def _handler(request: Request) -> Actor | Response:
    """The signed-in case handler, or where to send anyone else (the login, the dashboard)."""
    actor = cookie_user(request)
    if actor is None:
        return RedirectResponse("/dashboard/login", status_code=303)
    if actor.role not in HANDLER_ROLES:
        return RedirectResponse("/dashboard", status_code=303)
    return actor


@router.get("/static/{name}")
def static(name: str) -> Response:
    if name not in STATIC:
        raise HTTPException(404, detail={"rule": "NOT_FOUND", "message": f"No file {name}."})
    return FileResponse(HERE / "static" / name, media_type=STATIC[name])


@router.get("")
def work_page(request: Request, session: SessionDep) -> Response:
    """My work: my open deadlines (overdue first, then soonest due) and my cases awaiting my
    move."""
    actor = _handler(request)
    if not isinstance(actor, Actor):
        return actor
    now = datetime.now(UTC)
    # A deadline's description can be free text (an action-plan item as typed); a role the
    # API withholds contact details from sees its kind instead, as the read model holds no
    # case file to blank the text against (api/redaction.py).
    return page(request, "workspace/work.html", actor, work=my_work(session, actor, now),
                may_report=actor.role in POLICE_ROLES,
                free_text=sees_contact_details(actor))


@router.get("/find")
def find_case(request: Request, reference: Annotated[str, Query(max_length=60)] = "") -> Response:
    """Go to a case by its reference (a referral or a hearing names it)."""
    actor = _handler(request)
    if not isinstance(actor, Actor):
        return actor
    wanted = reference.strip().upper()
    if not forms_of.REFERENCE.fullmatch(wanted):
        return page(request, "workspace/problem.html", actor, status=422, rule="INPUT",
                    message="A case reference is 3 to 40 capital letters, digits and hyphens, "
                            "like NORTH-2026-0012.")
    return RedirectResponse(f"{HOME}/cases/{wanted}", status_code=303)


@router.get("/cases/{reference}")
async def case_page(request: Request, reference: str, client: TemporalDep,
                    after: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
                    done: Annotated[str, Query(max_length=64)] = "") -> Response:
    """A case as its handlers see it: facts, people, team, orders, links, deadlines, timeline,
    and the actions this user may take now."""
    actor = _handler(request)
    if not isinstance(actor, Actor):
        return actor
    paging = Response()
    try:  # the same reads as GET /cases/{reference} and GET /cases/{reference}/history
        case = await cases.read_case(reference, actor, client)
        history = await cases.read_history(reference, actor, client, request, paging, after,
                                           HISTORY_PAGE)
    except HTTPException as err:
        return problem(request, actor, err)
    state, now = CaseState(case["state"]), datetime.now(UTC)
    overdue = {d["deadline_id"] for d in case["deadlines"]
               if datetime.fromisoformat(d["due_at"]) <= now}
    return page(request, "workspace/case.html", actor, case=case, history=history,
                orders_in_force=orders_in_force(case, london_today(now)), overdue=overdue,
                next_after=paging.headers.get("X-Next-After"), after=after,
                moves=forms_of.available(actor, state, moves=True),
                records=forms_of.available(actor, state, moves=False),
                done=done if done in ACTION_KINDS or done == "open_case" else "")


@router.get("/cases/{reference}/act/{kind}")
async def action_form(request: Request, reference: str, kind: str, client: TemporalDep,
                      settings: SettingsDep) -> Response:
    """The form for one action on the case, generated from the action's schema."""
    actor = _handler(request)
    if not isinstance(actor, Actor):
        return actor
    case = await _case_to_act_on(request, actor, reference, kind, client)
    if isinstance(case, Response):
        return case
    # A key per form shown: a double submit of this form applies once (the API's own rule).
    return _action_page(request, actor, settings, case, kind, {}, key=str(uuid.uuid4()))


async def _case_to_act_on(request: Request, actor: Actor, reference: str, kind: str,
                          client: Any) -> dict[str, Any] | Response:
    """The case as the API shows it to the user, or the page saying why they cannot take this
    action on it (another area's case, another role's action)."""
    try:
        case = await cases.read_case(reference, actor, client)
    except HTTPException as err:
        return problem(request, actor, err)
    if (refused := forms_of.not_for(actor, kind)) is not None:
        return problem(request, actor, refused)
    return case


def _action_page(request: Request, actor: Actor, settings: Settings, case: dict[str, Any],
                 kind: str, values: dict[str, list[str]], key: str, status: int = 200,
                 errors: dict[str, str] | None = None, general: list[str] | None = None,
                 refusal: dict[str, str] | None = None) -> Response:
    fields = forms_of.action_fields(kind, values, case)
    return page(request, "workspace/action.html", actor, status=status, case=case, kind=kind,
                spec=forms_of.spec_of(kind), fields=fields, values=values, key=key,
                errors=errors or {}, general=general or [], refusal=refusal,
                reasons_field=forms_of.REASONS_FIELD if forms_of.asks_reasons(kind) else None,
                csrf=csrf_token(request, settings),
                csrf_field=CSRF_FIELD, first_render=not values,
                action_url=f"{HOME}/cases/{case['reference']}/act/{kind}",
                description=forms_of.description(kind))


@router.post("/cases/{reference}/act/{kind}")
async def submit_action(request: Request, reference: str, kind: str, client: TemporalDep,
                        settings: SettingsDep) -> Response:
    """Send the action as POST /cases/{reference}/actions does; on a refusal, the form again
    with what was typed, the rule and its sentence."""
    sent = await _sent_form(request, settings)
    if isinstance(sent, Response):
        return sent
    actor, values = sent
    case = await _case_to_act_on(request, actor, reference, kind, client)
    if isinstance(case, Response):
        return case
    # The key the form was shown with, kept through every showing of it after an error: an
    # answer that never came (a 503) is then retried under it and still applies once.
    key = forms_of.first(values, "idempotency_key")[:_KEY_LIMIT] or str(uuid.uuid4())
    body, errors, general = forms_of.action_body(kind, forms_of.action_fields(kind, values, case),
                                                 values)
    if body is None:
        return _action_page(request, actor, settings, case, kind, values, key, 422, errors,
                            general)
    background = BackgroundTasks()
    try:
        answer = await cases.act(reference, actor, client, settings, body, request, background,
                                 Response(), key)
    except HTTPException as err:
        if err.status_code == 404:
            return problem(request, actor, err)
        return _action_page(request, actor, settings, case, kind, values, key, err.status_code,
                            refusal=_refusal(err))
    done = RedirectResponse(f"{HOME}/cases/{reference}?done={kind}", status_code=303,
                            background=background)  # the read model is written after it
    done.headers["Idempotency-Key"] = answer.request_id
    return done


def _refusal(err: HTTPException) -> dict[str, str]:
    """The API's refusal, its rule and sentence, to show beside the form."""
    detail = err.detail if isinstance(err.detail, dict) else {"message": str(err.detail)}
    if err.status_code == 503:  # the API's words name a header; a person sends the form again
        return {"rule": "UNAVAILABLE", "message": (
            "The case service did not answer in time, so it is not known whether this was "
            "recorded. Send the form again: it is recorded once, however often it is sent.")}
    return {"rule": str(detail.get("rule", "")), "message": str(detail.get("message", ""))}


async def _sent_form(request: Request,
                     settings: Settings) -> tuple[Actor, dict[str, list[str]]] | Response:
    """The signed-in case handler and the form they sent; or where to send anyone else, or
    the page saying the form has expired when its CSRF token is not this session's."""
    actor = _handler(request)
    if not isinstance(actor, Actor):
        return actor
    values = await form_values(request)
    if not csrf_ok(request, settings, forms_of.first(values, CSRF_FIELD)):
        return expired(request, actor)
    return actor, values


# --- reporting a case ----------------------------------------------------------------------


@router.get("/report")
def report_form(request: Request, settings: SettingsDep) -> Response:
    """The police open a case: its reference, the people and the offences."""
    actor = _handler(request)
    if not isinstance(actor, Actor):
        return actor
    return _report_page(request, actor, settings, {})


def _report_page(request: Request, actor: Actor, settings: Settings,
                 values: dict[str, list[str]], status: int = 200, errors: dict[str, str] | None = None,
                 general: list[str] | None = None,
                 refusal: dict[str, str] | None = None) -> Response:
    return page(request, "workspace/report.html", actor, status=status,
                fields=forms_of.new_case_fields(values, actor), values=values,
                errors=errors or {}, general=general or [], refusal=refusal,
                csrf=csrf_token(request, settings), csrf_field=CSRF_FIELD,
                first_render=not values, action_url=f"{HOME}/report")


@router.post("/report")
async def submit_report(request: Request, client: TemporalDep, settings: SettingsDep) -> Response:
    """Open the case as POST /cases does; a refusal shows the form again with what was typed."""
    sent = await _sent_form(request, settings)
    if isinstance(sent, Response):
        return sent
    actor, values = sent
    fields = forms_of.new_case_fields(values, actor)
    new_case, errors, general = forms_of.new_case(fields, values, actor)
    if new_case is None:
        return _report_page(request, actor, settings, values, 422, errors, general)
    try:
        await cases.open_case(new_case, actor, client, settings, Response(), request)
    except HTTPException as err:
        return _report_page(request, actor, settings, values, err.status_code,
                            refusal=_refusal(err))
    return RedirectResponse(f"{HOME}/cases/{new_case.reference}?done=open_case", status_code=303)

