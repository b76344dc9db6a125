"""Forms generated from the JSON schemas of the action models, and the submitted form read back
into the JSON body the API takes.

The schema is the one the API validates against (models/actions.py), so a form can never ask
for a field the action does not have, nor leave out one it needs; what the form cannot check,
the model does, and its errors are put back beside the fields they concern. Widgets follow the
GOV.UK Design System: text inputs and text areas with labels and hints, radios for short
choices and selects for long ones, Yes/No radios for a required yes-or-no (so leaving it out
is an error, not a silent "no"), checkboxes for lists of choices, dates as date inputs.
Shapes too irregular to generate (a free-form map, a list of lists) are a JSON text area.
"""

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from workflows.calendar import LONDON

Values = Mapping[str, list[str]]  # the submitted form: name -> every value sent under it

# Fields naming one of the case's complainants are chosen from them, not typed.
PERSON_FIELDS = frozenset({"complainant_id", "protected_person_id"})
PEOPLE_FIELDS = frozenset({"protected_person_ids"})
RADIOS_UP_TO = 4  # more choices than this are a select
MAX_REPEATS = 10  # items of a list of objects offered at most
_LONG_TEXT = 2000  # a string allowed this long is a text area
_CHOICE_PATTERN = re.compile(r"\^\(([\w|]+)\)\$")  # "^(before|during|after)$"
_WORDS = {"cps": "CPS", "vps": "VPS", "pin": "PIN", "mg2": "MG2", "mg3": "MG3", "mg5": "MG5",
          "mg6": "MG6", "spo": "SPO", "id": "ID", "ids": "IDs", "marac": "MARAC",
          "mappa": "MAPPA", "spoc": "SPOC", "dash": "DASH"}


def humanise(name: str) -> str:
    """"refer_to_cps" -> "Refer to CPS"; "mg5_served" -> "MG5 served"."""
    words = [_WORDS.get(w.lower(), w) for w in name.replace("_", " ").replace("-", " ").split()]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


@dataclass
class FormField:
    """One field, or a group of them, at `path` (dotted; list items by index)."""

    path: str
    label: str
    widget: str  # text textarea integer number date datetime select radios yesno checkbox
    #              checkboxes lines json group repeat
    required: bool = False
    hint: str = ""
    options: list[tuple[str, str]] = field(default_factory=list)
    default: Any = None
    children: list["FormField"] = field(default_factory=list)

    @property
    def id(self) -> str:
        return "f-" + self.path.replace(".", "-")

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[-1]


class _Builder:
    def __init__(self, defs: dict[str, Any], values: Values,
                 people: list[tuple[str, str]], keep: Callable[[str], bool]) -> None:
        self.defs, self.values, self.people, self.keep = defs, values, people, keep

    def resolve(self, prop: dict[str, Any]) -> dict[str, Any]:
        if "$ref" not in prop:
            return prop
        target = self.defs[prop["$ref"].rsplit("/", 1)[-1]]
        return {**target, **{k: v for k, v in prop.items() if k != "$ref"}}

    def fields(self, schema: dict[str, Any], prefix: str, shape: str, depth: int,
               label: str = "") -> list[FormField]:
        required = set(schema.get("required", []))
        found = []
        for name, prop in schema.get("properties", {}).items():
            if "const" in prop or not self.keep(f"{shape}{name}"):
                continue  # the discriminator `kind` is the form's own, never asked for
            found.append(self.field(name, prop, f"{prefix}{name}", f"{shape}{name}",
                                    name in required, depth, label))
        return found

    def field(self, name: str, prop: dict[str, Any], path: str, shape: str, required: bool,
              depth: int, parent: str) -> FormField:
        label = f"{parent} {humanise(name).lower()}" if parent else humanise(name)
        prop = self.resolve(prop)
        made = FormField(path=path, label=label, widget="json", required=required,
                         hint=prop.get("description", ""), default=prop.get("default"))
        choices = [s for s in prop.get("anyOf", []) if s.get("type") != "null"]
        if "anyOf" in prop:
            if len(choices) != 1:
                made.hint = (made.hint + " Give it as JSON.").strip()
                return made
            prop = {**self.resolve(choices[0]), **{k: v for k, v in prop.items()
                                                  if k not in ("anyOf", "description")}}
        if name in PERSON_FIELDS and self.people:
            made.widget, made.options = "radios" if len(self.people) <= RADIOS_UP_TO \
                else "select", list(self.people)
            return made
        if name in PEOPLE_FIELDS and self.people:
            made.widget, made.options = "checkboxes", list(self.people)
            return made
        options = _options(prop)
        kind = prop.get("type")
        if options:
            made.widget = "radios" if len(options) <= RADIOS_UP_TO else "select"
            made.options = options
        elif kind == "string":
            made.widget = {"date": "date", "date-time": "datetime"}.get(prop.get("format", ""), "text")
            if made.widget == "text" and prop.get("maxLength", 0) >= _LONG_TEXT \
                    and not name.endswith(("_id", "_ids")):
                made.widget = "textarea"
        elif kind in ("integer", "number"):
            made.widget = kind
        elif kind == "boolean":
            made.widget = "yesno" if required else "checkbox"
        elif kind == "array":
            self.array(made, prop, shape, depth)
        elif kind == "object" and prop.get("properties") and depth < 2:
            made.widget = "group"
            made.children = self.fields(prop, f"{path}.", f"{shape}.", depth + 1, label)
        if made.widget == "json":
            made.hint = (made.hint + " Give it as JSON, for example {\"question\": \"answer\"}.").strip()
        return made

    def array(self, made: FormField, prop: dict[str, Any], shape: str, depth: int) -> None:
        items = self.resolve(prop.get("items", {}))
        options = _options(items)
        if options:
            made.widget, made.options = "checkboxes", options
        elif items.get("type") == "string":
            made.widget = "lines"
            made.hint = (made.hint + " One on each line.").strip()
        elif items.get("type") == "object" and items.get("properties") and depth < 2:
            made.widget = "repeat"
            least = prop.get("minItems", 0)
            filled = _filled_items(self.values, made.path)
            count = min(max(least, filled) + 1, prop.get("maxItems", MAX_REPEATS), MAX_REPEATS)
            for i in range(count):
                label = f"{made.label} {i + 1}"
                made.children.append(FormField(
                    path=f"{made.path}.{i}", label=label, widget="group", required=i < least,
                    children=self.fields(items, f"{made.path}.{i}.", f"{shape}.", depth + 1,
                                         label)))
            made.hint = (made.hint + " Leave a group blank to leave it out.").strip()


def _options(prop: dict[str, Any]) -> list[tuple[str, str]]:
    if "enum" in prop:
        return [(str(v), humanise(str(v))) for v in prop["enum"]]
    matched = _CHOICE_PATTERN.fullmatch(prop.get("pattern", ""))
    return [(v, humanise(v)) for v in matched.group(1).split("|")] if matched else []


def _filled_items(values: Values, path: str) -> int:
    """How many items of a list the submitted form filled in (its highest filled index + 1)."""
    found = -1
    for key, sent in values.items():
        if key.startswith(path + ".") and any(v.strip() for v in sent):
            index = key[len(path) + 1:].split(".", 1)[0]
            if index.isdigit():
                found = max(found, int(index))
    return found + 1


def schema_form(schema: dict[str, Any], values: Values, prefix: str = "",
                people: list[tuple[str, str]] | None = None,
                keep: Callable[[str], bool] = lambda shape: True) -> list[FormField]:
    """The fields of a model's JSON schema. `keep` is asked of each field's shape (its dotted
    path without list indices) and leaves out what it refuses."""
    builder = _Builder(schema.get("$defs", {}), values, people or [], keep)
    return builder.fields(schema, prefix, "", 0)


# --- reading the submitted form back -------------------------------------------------------


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
