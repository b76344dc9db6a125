"""Which actions a handler may take now, their forms, and a submitted form as the body the API
takes (POST /cases/{reference}/actions and POST /cases): checked the way the API checks a JSON
body, control characters first and then the action's own model, changing nothing when it fails.
"""

import re
from functools import cache
from typing import Any

from fastapi import HTTPException
from pydantic import ValidationError

from api.routes.cases import ActionBody
from api.workspace.form_input import control_errors, field_errors, read_form
from api.workspace.forms import FormField, Values, schema_form
from models.actions import ACTION_KINDS, NewCase
from models.case import REFERENCE_PATTERN, Actor
from models.enums import CaseState
from workflows.lifecycle import LIFECYCLE, ActionSpec

REFERENCE = re.compile(REFERENCE_PATTERN)
REASONS_FIELD = FormField(path="reasons", label="Reasons", widget="textarea",
                          hint="Why, in a sentence or two, for the case's history.")
# What the police give to open a case: the file's other parts are recorded by actions later.
_NEW_CASE_SHAPES = frozenset({
    "reference", "cps_area", "stalking", "domestic_abuse", "complex", "offences",
    "complainants", "complainants.complainant_id", "complainants.name", "complainants.contact",
    "suspects", "suspects.suspect_id", "suspects.name", "suspects.date_of_birth"})


def first(values: Values, name: str) -> str:
    sent = values.get(name) or [""]
    return sent[0]


def available(actor: Actor, state: CaseState, moves: bool) -> list[tuple[str, ActionSpec]]:
    """The actions this user's role may take in the case's state (workflows/lifecycle.py):
    those that move the case on (`moves`), or those that record something where it stands.
    The workflow still checks each one's guards when it is sent."""
    return [(kind, spec) for kind, spec in LIFECYCLE.items()
            if actor.role in spec.roles and state in spec.states
            and bool(set(spec.leads_to) - {state}) == moves]


def spec_of(kind: str) -> ActionSpec:
    return LIFECYCLE[kind]


def not_for(actor: Actor, kind: str) -> HTTPException | None:
    """The API's answer to this user taking this kind of action at all, or None when they may
    (an unknown kind is 404; another role's action 403, rule ACCESS, as the workflow says)."""
    if kind not in ACTION_KINDS:
        return HTTPException(404, detail={"rule": "NOT_FOUND", "message": f"No action {kind}."})
    spec = LIFECYCLE[kind]
    if actor.role not in spec.roles:
        allowed = ", ".join(sorted(r.value for r in spec.roles))
        return HTTPException(403, detail={"rule": "ACCESS", "message": (
            f"'{kind}' is for {allowed}; a {actor.role.value} cannot take it.")})
    return None


@cache
def _schema(kind: str) -> dict[str, Any]:
    return ACTION_KINDS[kind].model_json_schema()


def description(kind: str) -> str:
    return str(_schema(kind).get("description", "")).split("\n\n")[0]


def people_of(case: dict[str, Any]) -> list[tuple[str, str]]:
    """The case's complainants to choose from, by id and name (as the case shows them)."""
    return [(c["complainant_id"], f"{c['complainant_id']} — {c['name']}")
            for c in case.get("complainants", [])]


def action_fields(kind: str, values: Values, case: dict[str, Any]) -> list[FormField]:
    return schema_form(_schema(kind), values, prefix="action.", people=people_of(case))


def asks_reasons(kind: str) -> bool:
    """Whether the form asks for the history's reasons apart: an action with reasons of its
    own records those (lifecycle.recorded_text), so a second box would only confuse."""
    return "reasons" not in _schema(kind).get("properties", {})


def action_body(kind: str, fields: list[FormField],
                values: Values) -> tuple[ActionBody | None, dict[str, str], list[str]]:
    """The body POST /cases/{reference}/actions takes, or the errors to show beside the form."""
    data, errors = read_form(fields, values)
    reasons = first(values, REASONS_FIELD.path).strip() or None
    errors |= control_errors({"action": data, "reasons": reasons})
    if errors:
        return None, errors, []
    try:
        action = ACTION_KINDS[kind].model_validate({"kind": kind, **data})
    except ValidationError as err:
        placed, general = field_errors(err, fields, prefix="action.")
        return None, placed, general
    try:
        return ActionBody(action=action, reasons=reasons), {}, []
    except ValidationError as err:
        placed, general = field_errors(err, [REASONS_FIELD])
        return None, placed, general


def new_case_fields(values: Values, actor: Actor) -> list[FormField]:
    fields = schema_form(NewCase.model_json_schema(), values,
                         keep=lambda shape: shape in _NEW_CASE_SHAPES
                         or shape.startswith("complainants.contact."))
    for f in fields:
        if f.path == "cps_area":
            f.default = actor.area  # most cases are charged by the CPS area of the same name
        if f.path == "reference":
            f.hint = "3 to 40 capital letters, digits and hyphens, like NORTH-2026-0012."
    return fields


def new_case(fields: list[FormField], values: Values,
             actor: Actor) -> tuple[NewCase | None, dict[str, str], list[str]]:
    """The body POST /cases takes, opened in the user's own police area, or the errors."""
    data, errors = read_form(fields, values)
    errors |= control_errors(data)
    if errors:
        return None, errors, []
    try:
        return NewCase.model_validate({**data, "police_area": actor.area}), {}, []
    except ValidationError as err:
        placed, general = field_errors(err, fields)
        return None, placed, general

