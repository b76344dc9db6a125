"""What each role may see of a case: contact details and addresses only where needed.

A role that does not contact the complainant sees "[withheld]" in place of each contact detail,
and the same details are blanked wherever free text repeats them (reasons in the history,
incident descriptions, notes), so neither the case nor its history can leak them. The details
a complainant had before (an old address, a replaced phone: `Complainant.former_contact`) are
blanked as the current ones are.
"""

import copy
import re
from collections.abc import Iterable, Sequence
from typing import Any

from models.case import Actor, CaseFile, HistoryEntry
from models.enums import Role
from models.people import CONTACT_VALUES

# Those who contact the complainant or draft the order's addresses (P6.4, P9.2).
SEES_CONTACT_DETAILS = frozenset({
    Role.OFFICER_IN_CASE, Role.POLICE_SPOC, Role.WITNESS_CARE, Role.PROSECUTOR,
})
WITHHELD = "[withheld]"
CONTACT_FIELDS = CONTACT_VALUES
FORMER = "former_contact"
# Shorter values ("text", "home") are ordinary words: blanking them everywhere would mangle the
# case without protecting anything.
_MIN_SCRUBBED_LENGTH = 6


def sees_contact_details(actor: Actor) -> bool:
    return actor.role in SEES_CONTACT_DETAILS


def visible_case(case: CaseFile, actor: Actor) -> dict[str, Any]:
    data = case.model_dump(mode="json")
    if not sees_contact_details(actor):
        for person in data["complainants"]:
            contact = person["contact"]
            for name in CONTACT_FIELDS:
                if contact.get(name):
                    contact[name] = WITHHELD
            person["former_contact"] = [WITHHELD for _ in person.get("former_contact", [])]
        data = scrub(data, contact_pattern(case))
    hide_other_area_links(data, actor)
    return data


def visible_history(entries: list[HistoryEntry], case: CaseFile,
                    actor: Actor) -> list[HistoryEntry]:
    """History entries as this role may read them: free text that repeats a contact detail,
    blanked."""
    if sees_contact_details(actor):
        return entries
    pattern = contact_pattern(case)
    return [HistoryEntry.model_validate(scrub(entry.model_dump(mode="json"), pattern))
            for entry in entries]


def contact_pattern(case: CaseFile) -> re.Pattern[str] | None:
    """Every contact detail a complainant of the case has had (current and former), as typed
    or spaced differently."""
    return pattern_of(contact_values(case))


def contact_values(case: CaseFile) -> set[str]:
    return {value for person in case.complainants
            for value in (*(getattr(person.contact, name) for name in CONTACT_FIELDS),
                          *person.former_contact) if value}


def pattern_of(values: Iterable[str]) -> re.Pattern[str] | None:
    """A pattern matching each value long enough to blank, or None if there is none."""
    kept = {value for value in values if len(value.strip()) >= _MIN_SCRUBBED_LENGTH}
    return _pattern(kept) if kept else None


def _pattern(values: Iterable[str]) -> re.Pattern[str]:
    alternatives = []
    for value in sorted(values, key=len, reverse=True):  # longest first: "12 A St, L1" before "12 A St"
        digits = re.sub(r"\D", "", value)
        if re.fullmatch(r"[\d\s()+.-]+", value) and len(digits) >= _MIN_SCRUBBED_LENGTH:
            # A phone number: "07700 900123", "07700900123" and "07700-900-123" are the same.
            alternatives.append(r"[\s().-]*".join(digits))
        else:
            alternatives.append(r"\s+".join(re.escape(word) for word in value.split()))
    return re.compile("|".join(alternatives), re.IGNORECASE)


def scrub(data: Any, pattern: re.Pattern[str] | None) -> Any:
    """Return data (JSON-like) with every match of pattern in its strings replaced by WITHHELD."""
    if pattern is None:
        return data
    if isinstance(data, str):
        return pattern.sub(WITHHELD, data)
    if isinstance(data, dict):
        return {key: scrub(value, pattern) for key, value in data.items()}
    if isinstance(data, list):
        return [scrub(value, pattern) for value in data]
    return data


def hide_other_area_links(data: dict[str, Any], actor: Actor) -> None:
    """A match in another area shows only that it exists and whom to contact (P3.8)."""
    for link in data.get("linked_cases", []):
        if _hidden_link(link, actor):
            link.update(reference=WITHHELD, history=None,
                        contact=f"Police SPOC for {link['area']}")


def _hidden_link(link: Any, actor: Actor) -> bool:
    return isinstance(link, dict) and bool(link.get("area")) and link["area"] != actor.area \
        and link.get("confidence") is not None


# Any document about a case (a Temporal payload, for the codec endpoint)


def visible_document(data: Any, cases: Sequence[CaseFile], actor: Actor) -> Any:
    """A JSON document about these cases (a workflow input, an action request, a projection)
    as the role may read the cases themselves: wherever it holds a contact detail (a field
    named phone, email, address or safe_contact, or former_contact), "[withheld]"; free text
    that repeats any contact detail these cases' complainants have had, or one the document
    itself holds, blanked; and another area's linked cases hidden, their references blanked
    wherever they appear. Stricter than visible_case where the two differ (a suspect's
    identifier named "phone" is withheld too), never looser."""
    hidden = {link.reference for case in cases for link in case.linked_cases
              if _hidden_link(link.model_dump(), actor)} | _hidden_references(data, actor)
    if not sees_contact_details(actor):
        values = set().union(*(contact_values(case) for case in cases), _details_in(data))
        data = scrub(_withhold_details(data), pattern_of(values))
    else:
        data = copy.deepcopy(data)
    _hide_links_everywhere(data, actor)
    return scrub(data, _references_pattern(hidden))


def _withhold_details(data: Any) -> Any:
    if isinstance(data, dict):
        return {key: WITHHELD if key in CONTACT_FIELDS and isinstance(value, str) and value
                else [WITHHELD for _ in value] if key == FORMER and isinstance(value, list)
                else _withhold_details(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_withhold_details(value) for value in data]
    return data


def _details_in(data: Any) -> set[str]:
    """The contact details a document holds in fields of their own."""
    found: set[str] = set()
    if isinstance(data, dict):
        for key, value in data.items():
            if key in CONTACT_FIELDS and isinstance(value, str) and value:
                found.add(value)
            elif key == FORMER and isinstance(value, list):
                found.update(v for v in value if isinstance(v, str) and v)
            else:
                found |= _details_in(value)
    elif isinstance(data, list):
        for value in data:
            found |= _details_in(value)
    return found


def _hidden_references(data: Any, actor: Actor) -> set[str]:
    found: set[str] = set()
    if isinstance(data, dict):
        links = data.get("linked_cases")
        if isinstance(links, list):
            found.update(link["reference"] for link in links
                         if _hidden_link(link, actor) and isinstance(link.get("reference"), str))
        for value in data.values():
            found |= _hidden_references(value, actor)
    elif isinstance(data, list):
        for value in data:
            found |= _hidden_references(value, actor)
    return found


def _hide_links_everywhere(data: Any, actor: Actor) -> None:
    if isinstance(data, dict):
        if isinstance(data.get("linked_cases"), list):
            hide_other_area_links(data, actor)
        values: Iterable[Any] = data.values()
    elif isinstance(data, list):
        values = data
    else:
        return
    for value in values:
        _hide_links_everywhere(value, actor)


def _references_pattern(references: Iterable[str]) -> re.Pattern[str] | None:
    """Case references, as whole words only: "AB-1" is not blanked inside "AB-12"."""
    kept = sorted({r for r in references if r and r != WITHHELD}, key=len, reverse=True)
    if not kept:
        return None
    return re.compile(r"(?<![A-Za-z0-9-])(?:" + "|".join(map(re.escape, kept)) +
                      r")(?![A-Za-z0-9-])")
