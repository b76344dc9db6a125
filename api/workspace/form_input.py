"""A submitted workspace form read back into the JSON body the API takes, and the model's
errors put beside the fields they concern, in words a person can act on (GOV.UK's "Enter
...", "Select ...", "... must be a real date")."""

import json
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from api.text import control_character_errors
from api.workspace.forms import FormField, Values
from workflows.calendar import LONDON


def read_form(fields: list[FormField], values: Values) -> tuple[dict[str, Any], dict[str, str]]:
    """The JSON the form stands for, and an error for each field it could not read. A blank
    field is left out, so the model's default applies or its "required" is reported."""
    data: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f in fields:
        present, value = _read(f, values, errors)
        if present:
            data[f.name] = value
    return data, errors


def _first(values: Values, path: str) -> str:
    sent = values.get(path) or [""]
    return sent[0]


def _read(f: FormField, values: Values, errors: dict[str, str]) -> tuple[bool, Any]:
    raw = _first(values, f.path)
    if f.widget == "checkbox":
        return True, bool(raw)  # an unticked box is "no", never the default
    if f.widget == "checkboxes":
        chosen = [v for v in values.get(f.path, []) if v]
        return bool(chosen), chosen
    if f.widget == "lines":
        lines = [line.strip() for line in raw.splitlines() if line.strip()]
        return bool(lines), lines
    if f.widget == "group":
        inner, inner_errors = read_form(f.children, values)
        errors.update(inner_errors)
        blank = not any(key.startswith(f.path + ".") and any(v.strip() for v in sent)
                        for key, sent in values.items())
        return f.required or not blank, inner
    if f.widget == "repeat":
        items = []
        for group in f.children:
            present, item = _read(group, values, errors)
            if present:
                items.append(item)
        return bool(items), items
    if not raw.strip():
        return False, None
    if f.widget == "yesno":
        return True, raw == "yes"
    if f.widget == "datetime":
        try:  # a date input's local time is London time, whichever side of a clock change
            return True, datetime.fromisoformat(raw).replace(tzinfo=LONDON).isoformat()
        except ValueError:
            errors[f.path] = f"{f.label} must be a real date and time"
            return False, None
    if f.widget == "json":
        try:
            return True, json.loads(raw)
        except ValueError:
            errors[f.path] = f"{f.label} must be JSON, for example {{\"question\": \"answer\"}}"
            return False, None
    return True, raw if f.widget == "textarea" else raw.strip()


def control_errors(body: dict[str, Any]) -> dict[str, str]:
    """A control character's error beside each field that holds one (by its dotted path): the
    API refuses these before any model sees the body (api/text.py), and so does a form."""
    return {".".join(str(p) for p in e["loc"][1:]): e["msg"]
            for e in control_character_errors(body)}


def field_errors(err: ValidationError, fields: list[FormField],
                 prefix: str = "") -> tuple[dict[str, str], list[str]]:
    """The model's errors put beside the fields they concern, in words; those that concern
    the whole form (a model's own validator) apart."""
    by_path = {f.path: f for f in _walk(fields)}
    placed: dict[str, str] = {}
    general: list[str] = []
    for e in err.errors():
        loc = [str(part) for part in e["loc"]]
        target = None
        while loc and target is None:  # the nearest field the error falls within
            target = by_path.get(prefix + ".".join(loc))
            loc = loc[:-1]
        message = _in_words(e, target)
        if target is None:
            general.append(message)
        else:
            placed.setdefault(target.path, message)
    return placed, general


def _walk(fields: list[FormField]) -> list[FormField]:
    found = []
    for f in fields:
        found.append(f)
        found += _walk(f.children)
    return found


def _in_words(e: Any, f: FormField | None) -> str:
    kind, label = e["type"], f.label if f else "This"
    choosing = f is not None and f.widget in ("select", "radios", "yesno", "checkboxes")
    message = str(e["msg"]).removeprefix("Value error, ")
    if kind == "missing" or (kind in ("string_too_short", "too_short") and not choosing):
        return f"{'Select' if choosing else 'Enter'} {label[:1].lower() + label[1:]}"
    if kind == "too_short":
        return f"Select at least one: {label.lower()}"
    if kind in ("int_parsing", "int_from_float"):
        return f"{label} must be a whole number, like 3"
    if kind in ("float_parsing",):
        return f"{label} must be a number, like 2.5"
    if kind.startswith("date") or kind.startswith("datetime"):
        return f"{label} must be a real date"
    if kind == "string_too_long":
        return f"{label} must be {e.get('ctx', {}).get('max_length')} characters or fewer"
    if kind == "string_pattern_mismatch":
        return f"{label} is not in the form asked for{': ' + f.hint if f and f.hint else ''}"
    if kind in ("enum", "literal_error"):
        return f"Select {label.lower()} from the list"
    return f"{label}: {message}" if f else message
