"""The workspace's forms, generated from the action schemas: every action can be filled in and
sent as the API would take it, and what cannot be read is said beside its field."""

import json
from datetime import datetime
from typing import Any

import pytest

from api.examples import ACTION_EXAMPLES
from api.workspace.actions import action_body, action_fields
from api.workspace.forms import FormField
from models.actions import ACTION_KINDS
from workflows.calendar import LONDON

CASE = {"reference": "FORM-1", "state": "investigation",
        "complainants": [{"complainant_id": "C1", "name": "Complainant One"},
                         {"complainant_id": "C2", "name": "Complainant Two"}]}


def as_form(fields: list[FormField], data: dict[str, Any]) -> dict[str, list[str]]:
    """What a person fills in on the form to send `data`."""
    values: dict[str, list[str]] = {}
    for f in fields:
        if f.name in data:
            _put(f, data[f.name], values)
    return values


def _put(f: FormField, value: Any, values: dict[str, list[str]]) -> None:
    if f.widget == "group":
        values.update(as_form(f.children, value))
    elif f.widget == "repeat":
        for group, item in zip(f.children, value, strict=False):
            values.update(as_form(group.children, item))
    elif f.widget == "checkboxes":
        values[f.path] = [str(v) for v in value]
    elif f.widget == "lines":
        values[f.path] = ["\n".join(value)]
    elif f.widget == "json":
        values[f.path] = [json.dumps(value)]
    elif f.widget == "yesno":
        values[f.path] = ["yes" if value else "no"]
    elif f.widget == "checkbox":
        values[f.path] = ["true"] if value else []
    elif f.widget == "datetime":  # a datetime-local input holds London time, to the minute
        moment = datetime.fromisoformat(value).astimezone(LONDON)
        values[f.path] = [moment.strftime("%Y-%m-%dT%H:%M")]
    else:
        values[f.path] = [str(value)]


@pytest.mark.parametrize("kind", sorted(ACTION_EXAMPLES))
def test_every_action_can_be_sent_through_its_generated_form(kind):
    example = ACTION_EXAMPLES[kind]
    values = as_form(action_fields(kind, {}, CASE), example)
    fields = action_fields(kind, values, CASE)  # as shown again with what was typed
    values = as_form(fields, example)
    body, errors, general = action_body(kind, action_fields(kind, values, CASE), values)
    assert (errors, general) == ({}, [])
    assert body is not None
    assert body.action == ACTION_KINDS[kind].model_validate({"kind": kind, **example})


def test_a_required_field_left_blank_is_named_in_words():
    fields = action_fields("record_risk_assessment", {}, CASE)
    body, errors, _ = action_body("record_risk_assessment", fields, {
        "action.complainant_id": ["C1"], "action.assessment.tool": ["DASH"],
        "action.assessment.assessed_on": ["2026-11-31"]})
    assert body is None
    assert errors == {"action.assessment.level": "Select assessment level",
                      "action.assessment.assessed_on": "Assessment assessed on must be a real date",
                      "action.assessment.assessor": "Enter assessment assessor"}


def test_a_control_character_is_refused_as_the_api_refuses_it():
    fields = action_fields("record_new_incident", {}, CASE)
    body, errors, _ = action_body("record_new_incident", fields,
                                  {"action.description": ["calls\x1b[2J overnight"]})
    assert body is None
    assert errors["action.description"].startswith("Control characters are not allowed")


def test_a_case_complainant_is_chosen_not_typed():
    [who, *_] = action_fields("record_vps", {}, CASE)
    assert who.widget == "radios"
    assert who.options == [("C1", "C1 — Complainant One"), ("C2", "C2 — Complainant Two")]


def test_a_required_yes_or_no_is_asked_never_assumed():
    [guilty] = action_fields("enter_pleas", {}, CASE)
    assert guilty.widget == "yesno"
    body, errors, _ = action_body("enter_pleas", [guilty], {})
    assert body is None and errors == {"action.guilty": "Select guilty"}
