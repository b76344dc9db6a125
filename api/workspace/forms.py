"""Forms generated from the JSON schemas of the action models, and the submitted form read back
into the JSON body the API takes.

The schema is the one the API validates against (models/actions.py), so a form can never ask
for a field the action does not have, nor leave out one it needs; what the form cannot check,
the model does, and its errors are put back beside the fields they concern. Widgets follow the
GOV.UK Design System: text inputs and text areas with labels and hints, radios for short
choices and selects for long ones, Yes/No radios for a required yes-or-no (so leaving it out
is an error, not a silent "no"), checkboxes for lists of choices, dates as date inputs.
Shapes too irregular to generate (a free-form map, a list of lists) are a JSON text area.
Reading a submitted form back is api/workspace/form_input.py.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from models.offences import OFFENCES

_OFFENCE_BY_CODE = {offence.value: info for offence, info in OFFENCES.items()}
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
        words = humanise(name)
        label = f"{parent} {words[:1].lower()}{words[1:]}" if parent else words
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


def _choice_label(value: str) -> str:
    """An offence by its name and statute; any other choice in words."""
    offence = _OFFENCE_BY_CODE.get(value)
    return f"{offence.title} ({offence.statute})" if offence else humanise(value)


def _options(prop: dict[str, Any]) -> list[tuple[str, str]]:
    if "enum" in prop:
        return [(str(v), _choice_label(str(v))) for v in prop["enum"]]
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
