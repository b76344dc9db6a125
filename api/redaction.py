"""What each role may see of a case: contact details and addresses only where needed.

A role that does not contact the complainant sees "[withheld]" in place of each contact detail,
and the same details are blanked wherever free text repeats them (reasons in the history,
incident descriptions, notes), so neither the case nor its history can leak them. The details
a complainant had before (an old address, a replaced phone: `Complainant.former_contact`) are
blanked as the current ones are.
"""

import re
from collections.abc import Iterable
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
        if link.get("area") and link["area"] != actor.area and link.get("confidence") is not None:
            link.update(reference=WITHHELD, history=None,
                        contact=f"Police SPOC for {link['area']}")
