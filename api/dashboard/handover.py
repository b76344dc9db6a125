"""The managers' handover page: one person's open cases handed to a colleague in one step,
through the same function as POST /people/{user_id}/reassign (api/handover.py), and what
moved and what was refused shown case by case.

The form is the workspace's (GOV.UK fields, error summary, CSRF token): a key made when the
form is shown travels with it, so a form sent twice (a double click, a reload of the answer)
moves each case once.
"""

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response
from sqlalchemy import Engine
from sqlmodel import Session

from api.dashboard.handover_form import Person, area_people, handover_fields, read_handover
from api.dashboard.routes import to_login
from api.dashboard.session import cookie_user
from api.deps import SettingsDep, TemporalDep
from api.handover import hand_over, not_a_manager
from api.workspace.actions import first
from api.workspace.csrf import FIELD as CSRF_FIELD
from api.workspace.csrf import csrf_ok, csrf_token
from api.workspace.forms import Values
from api.workspace.pages import expired, form_values, page, problem
from core.settings import Settings
from models.case import Actor
from workflows.calendar import london_today

router = APIRouter(prefix="/dashboard", include_in_schema=False)
PATH = "/dashboard/handover"
KEY_FIELD = "idempotency_key"
_KEY_LIMIT = 100  # as long as a workspace form's key may be


def _manager(request: Request) -> Actor | Response:
    """The signed-in manager, or the login (signed out) or a 403 page (anyone else)."""
    actor = cookie_user(request)
    if actor is None:
        return to_login()
    if (refused := not_a_manager(actor)) is not None:
        return problem(request, actor, refused)
    return actor


def _people(engine: Engine, area: str) -> list[Person]:
    with Session(engine) as session:
        return area_people(session, area, london_today(datetime.now(UTC)))


@router.get("/handover")
def handover_form(request: Request, settings: SettingsDep,
                  person: Annotated[str, Query(max_length=100)] = "",
                  to: Annotated[str, Query(max_length=100)] = "") -> Response:
    """The form, `person` (and `to`, say their deputy) already chosen when the page is
    reached from a person's row."""
    actor = _manager(request)
    if not isinstance(actor, Actor):
        return actor
    people = _people(request.app.state.engine, actor.area)
    return _form_page(request, actor, settings, people, {}, str(uuid.uuid4()),
                      defaults={"from_user": person, "to_user": to})


def _form_page(request: Request, actor: Actor, settings: Settings, people: list[Person],
               values: Values, key: str, status: int = 200,
               errors: dict[str, str] | None = None, general: list[str] | None = None,
               defaults: dict[str, str] | None = None) -> Response:
    by_id = {p.user_id: p for p in people}
    return page(request, "handover.html", actor, status=status, people=people, by_id=by_id,
                fields=handover_fields(people, defaults or {}), values=values, key=key,
                key_field=KEY_FIELD, errors=errors or {}, general=general or [],
                refusal=None, csrf=csrf_token(request, settings), csrf_field=CSRF_FIELD,
                first_render=not values, action_url=PATH)


@router.post("/handover")
async def submit_handover(request: Request, client: TemporalDep,
                          settings: SettingsDep) -> Response:
    """Hand the cases over; the form again with its errors beside the fields (nothing moved),
    or each case and role that moved or was refused, with the refusal's rule and sentence."""
    actor = _manager(request)
    if not isinstance(actor, Actor):
        return actor
    values = await form_values(request)
    if not csrf_ok(request, settings, first(values, CSRF_FIELD)):
        return expired(request, actor)
    engine = request.app.state.engine
    people = await asyncio.to_thread(_people, engine, actor.area)
    key = first(values, KEY_FIELD)[:_KEY_LIMIT] or str(uuid.uuid4())
    fields = handover_fields(people, {})
    wanted, errors, general = read_handover(fields, values, people)
    if wanted is None:
        return _form_page(request, actor, settings, people, values, key, 422, errors, general)
    try:
        handed = await hand_over(request, client, settings, actor, wanted.from_user, wanted.body,
                                 key)
    except HTTPException as err:
        return problem(request, actor, err)
    by_id = {p.user_id: p for p in people}
    return page(request, "handover_done.html", actor, handed=handed,
                moved=[h for h in handed if h.moved],
                refused=[h for h in handed if h.refused],
                not_known=[h for h in handed if h.not_known],
                resend={"values": values, "key": key, "key_field": KEY_FIELD,
                        "csrf": csrf_token(request, settings), "csrf_field": CSRF_FIELD},
                from_person=by_id[wanted.from_user], to_person=by_id[wanted.body.to_user],
                roles=wanted.body.roles)
