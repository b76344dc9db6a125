"""What /codec/decode shows a user of each decrypted payload: never more than the API would
show the same user of the same case.

The Temporal UI sends payloads without saying whose workflow they come from, so each payload
is attributed by what it holds (README, "Protecting complainants' data"):

* a case: it names its reference (a case file, a new case, the workflow's input, an action
  request or result, a projection, a link search, a notification). The case is read from its
  workflow as the API reads it. Another area's case, or one that cannot be read, is withheld;
  the user's own is shown as `visible_document` shows it to their role.
* case data that names no case (an action request sent before requests named their case, a
  list of history entries): withheld from everyone.
* an area (the monthly SPOC figures): shown to that area only.
* nothing (null, true, a count, a list of versions): shown.
* anything else (a failure's message and stack trace, another workflow's input): the admin's
  only, who runs the service.

A list of payload-like items (the matches of a link search) is attributed item by item. A
withheld payload comes back as the JSON string "[withheld]", the same whatever the reason, so
it says nothing of whether the case exists.
"""

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from temporalio.api.common.v1 import Payload

from api.case_access import in_area
from api.redaction import WITHHELD, visible_document
from models.case import REFERENCE_PATTERN, Actor, CaseFile
from models.enums import Role

JSON_PLAIN = b"json/plain"
BINARY_NULL = b"binary/null"
# One decode reads at most this many cases; payloads of any further case are withheld.
MAX_CASES_PER_DECODE = 100
_CONCURRENT_READS = 8

_REFERENCE = re.compile(REFERENCE_PATTERN)
# Where a payload names its case: at the top, or in the case file or new case it carries.
_HOLDERS = ("new_case", "carried_over", "case", "facts")
# Keys that only case data has: a document holding one (not null) is about some case.
_CASE_KEYS = frozenset({
    "police_area", "cps_area", "complainants", "complainant", "complainant_id", "suspects",
    "contact", "former_contact", "phone", "email", "address", "safe_contact", "actor",
    "action", "request_id", "entries", "new_case", "carried_over",
})

CaseReader = Callable[[str], Awaitable[CaseFile | None]]


class Kind(StrEnum):
    NOTHING = "nothing"
    AREA = "area"
    CASE = "case"
    UNKNOWN_CASE = "unknown case"
    OTHER = "other"


@dataclass(frozen=True)
class Subject:
    """What a payload is about."""

    kind: Kind
    references: tuple[str, ...] = ()
    area: str | None = None


@dataclass
class Shown:
    """The payloads as the user may see them, and what the audit records of the decode."""

    payloads: list[Payload]
    references: list[str] = field(default_factory=list)
    withheld: int = 0


def withheld_payload() -> Payload:
    return Payload(metadata={"encoding": JSON_PLAIN}, data=json.dumps(WITHHELD).encode())


def _holds_nothing(doc: Any) -> bool:
    if doc is None or isinstance(doc, bool | int | float):
        return True
    return isinstance(doc, list) and all(_holds_nothing(item) for item in doc)


def _references(doc: dict[str, Any]) -> tuple[str, ...]:
    named = [doc.get("reference"), *(doc[k].get("reference") for k in _HOLDERS
                                     if isinstance(doc.get(k), dict))]
    return tuple(sorted({r for r in named if isinstance(r, str) and _REFERENCE.match(r)}))


def _mentions_a_case(doc: Any) -> bool:
    if isinstance(doc, dict):
        return any((key in _CASE_KEYS and value is not None)
                   or (key == "reference" and isinstance(value, str) and _REFERENCE.match(value))
                   or _mentions_a_case(value) for key, value in doc.items())
    if isinstance(doc, list):
        return any(_mentions_a_case(item) for item in doc)
    return False


def subject_of(doc: Any) -> Subject:
    """What one JSON document (a payload, or an item of a list payload) is about."""
    if _holds_nothing(doc):
        return Subject(Kind.NOTHING)
    if isinstance(doc, dict):
        if references := _references(doc):
            return Subject(Kind.CASE, references)
        if _mentions_a_case(doc):
            return Subject(Kind.UNKNOWN_CASE)
        if isinstance(doc.get("area"), str):
            return Subject(Kind.AREA, area=doc["area"])
    return Subject(Kind.OTHER)


def _parsed(payload: Payload) -> tuple[bool, Any]:
    """(True, the document) for a JSON payload, (True, None) for a null one, else (False, None)."""
    encoding = payload.metadata.get("encoding")
    if encoding == BINARY_NULL:
        return True, None
    if encoding != JSON_PLAIN:
        return False, None
    try:
        return True, json.loads(payload.data)
    except (UnicodeDecodeError, ValueError):
        return False, None


def _items(doc: Any) -> list[Any]:
    """The documents a payload is attributed by: each item of a list, or itself."""
    if isinstance(doc, list) and not _holds_nothing(doc):
        return list(doc)
    return [doc]


_HIDDEN = object()  # a document the user may see nothing of


class _Decision:
    def __init__(self, actor: Actor, cases: dict[str, CaseFile | None]) -> None:
        self.actor, self.cases = actor, cases
        self.withheld = 0

    def document(self, doc: Any) -> Any:
        """The document as the user may see it, or _HIDDEN."""
        actor, subject = self.actor, subject_of(doc)
        if subject.kind is Kind.NOTHING:
            return doc
        if subject.kind is Kind.AREA:
            return doc if subject.area == actor.area else _HIDDEN
        if subject.kind is Kind.OTHER:
            return doc if actor.role is Role.ADMIN else _HIDDEN
        if subject.kind is Kind.UNKNOWN_CASE:
            return _HIDDEN
        files = [self.cases.get(reference) for reference in subject.references]
        readable = [case for case in files if case is not None and in_area(case, actor)]
        if len(readable) < len(files):
            return _HIDDEN
        return visible_document(doc, readable, actor)

    def payload(self, payload: Payload) -> Payload:
        is_json, doc = _parsed(payload)
        if not is_json:
            shown: Any = payload if self.actor.role is Role.ADMIN else _HIDDEN
        elif isinstance(doc, list) and not _holds_nothing(doc):
            items = [self.document(item) for item in doc]
            if any(item is _HIDDEN for item in items):
                self.withheld += 1
            shown = [WITHHELD if item is _HIDDEN else item for item in items]
        else:
            shown = self.document(doc)
        if shown is _HIDDEN:
            self.withheld += 1
            return withheld_payload()
        if not is_json or shown == doc:
            return payload
        data = json.dumps(shown, ensure_ascii=False, separators=(",", ":")).encode()
        return Payload(metadata=dict(payload.metadata), data=data)


async def visible_payloads(payloads: Sequence[Payload], actor: Actor,
                           read_case: CaseReader) -> Shown:
    """The decrypted payloads as this user may see them, with the cases they were about."""
    subjects = [subject_of(item) for payload in payloads
                for item in _items(_parsed(payload)[1])]
    references = sorted({r for s in subjects for r in s.references})
    cases = await _read_cases(references[:MAX_CASES_PER_DECODE], read_case)
    decision = _Decision(actor, cases)
    shown = [decision.payload(payload) for payload in payloads]
    return Shown(payloads=shown, references=references, withheld=decision.withheld)


async def _read_cases(references: Iterable[str],
                      read_case: CaseReader) -> dict[str, CaseFile | None]:
    limit = asyncio.Semaphore(_CONCURRENT_READS)

    async def read(reference: str) -> CaseFile | None:
        async with limit:
            return await read_case(reference)

    wanted = list(references)
    found = await asyncio.gather(*(read(reference) for reference in wanted))
    return dict(zip(wanted, found, strict=True))
