"""Free text holds no control characters: one check on every JSON request body.

A NUL cannot even be stored in PostgreSQL text, and the other control characters (escape
sequences, backspaces, form feeds) have no place in a case file: they are how a value rewrites
a terminal, a log line or a CSV export. Tab, line feed and carriage return are text and pass.
The check runs on the body as parsed JSON, before any model sees it, so every string of every
body (actions, new cases, whatever comes next) is covered, and a refusal is the usual 422
naming the field by its place in the body: ["body", "action", "description"].
"""

import re
from collections.abc import Iterator
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError

# C0 controls but tab, line feed and carriage return; DEL; the C1 controls.
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
MESSAGE = "Control characters are not allowed (tab, line feed and carriage return are)."
_MOST_REPORTED = 20


def control_character_errors(body: Any) -> list[dict[str, Any]]:
    """One error per string in the body that holds a control character, by its location."""
    return [{"loc": loc, "msg": MESSAGE, "type": "control_character", "input": None}
            for loc, _ in zip(_bad_strings(body), range(_MOST_REPORTED), strict=False)]


def _bad_strings(body: Any) -> Iterator[tuple[str | int, ...]]:
    # Iterative: a body nested as deeply as the JSON parser allows must not exhaust the stack.
    stack: list[tuple[tuple[str | int, ...], Any]] = [(("body",), body)]
    while stack:
        loc, value = stack.pop()
        if isinstance(value, str):
            if CONTROL_CHARACTERS.search(value):
                yield loc
        elif isinstance(value, dict):
            for key, item in reversed(value.items()):
                if CONTROL_CHARACTERS.search(key):  # a key is named escaped, never as sent
                    yield (*loc, key.encode("unicode_escape").decode("ascii"))
                else:
                    stack.append(((*loc, key), item))
        elif isinstance(value, list):
            stack.extend(((*loc, i), item) for i, item in reversed(list(enumerate(value))))


async def refuse_control_characters(request: Request) -> None:
    """App-wide dependency: 422 for a JSON body with a control character in any string."""
    if "json" not in request.headers.get("content-type", "").lower() or not await request.body():
        return
    try:
        body = await request.json()  # already parsed by the route, which keeps the result
    except Exception:  # not JSON after all: the route says what is wrong
        return
    if errors := control_character_errors(body):
        raise RequestValidationError(errors)
