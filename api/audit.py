"""Records who read or changed what, and when: every request under /cases, every
authenticated request and every sign-in attempt (api/login.py), appended to the keyed
hash chain of the audit log (core/audit.py), with the app's AuditTrail (app.state.audit: the
key and the checkpoint file).

The entry is written once the response has been sent, in a worker thread, so a caller waits for
nothing and the event loop never blocks. Requests that finish while entries are being written
share the next transaction (a group commit: one chain lock and one commit for all of them, the
chain in the order they finished), so under load the audit costs a fraction of a commit per
request; one request alone is written at once, as before. If the database cannot take the
entries, the requests still succeed (as reads and actions do while the read model is down) and
the entries go to the error log instead, whole, so an operator can see the gap.
"""

import logging
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

import anyio
from fastapi import Request
from sqlalchemy.exc import SQLAlchemyError
from starlette.datastructures import MutableHeaders
from starlette.types import Message, Receive, Scope, Send

from api.asgi import HttpMiddleware
from api.group_commit import GroupCommit
from core.audit import AuditEntry, AuditTrail, append_many
from models.case import Actor

log = logging.getLogger("audit")

REQUEST_ID_HEADER = "X-Request-ID"
# A proxy's request id is kept if it is plainly an id; anything else is replaced by our own.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
_CASES = "/cases"


def note(request: Request, *, reference: str | None = None, action: str | None = None,
         user: str | None = None, references: Sequence[str] | None = None) -> None:
    """Let a route name what it acted on when that is in the body, which is never recorded.
    A request outside /cases that names an action is recorded too (a sign-in, with the
    account it named as `user`, as no token does yet). A request about several cases (a
    decode) names them all in `references`: it is recorded once for each."""
    if reference is not None:
        request.state.audit_reference = reference
    if references is not None:
        request.state.audit_references = list(references)
    if action is not None:
        request.state.audit_action = action
    if user is not None:
        request.state.audit_user = user


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            if _REQUEST_ID.match(text):
                return text
    return uuid.uuid4().hex


def _entries(scope: Scope, at: datetime, status: int, request_id: str) -> list[AuditEntry]:
    path: str = scope["path"]
    state = scope.get("state") or {}
    actor = state.get("actor")
    if not isinstance(actor, Actor):
        actor = None
    action = state.get("audit_action")
    if actor is None and action is None and not (path == _CASES or path.startswith(_CASES + "/")):
        return []
    reference = (scope.get("path_params") or {}).get("reference") or state.get("audit_reference")
    references = state.get("audit_references") or [reference]
    user = state.get("audit_user")
    return [AuditEntry(
        at=at,
        user_id=actor.user_id if actor else str(user)[:100] if user else None,
        role=actor.role.value if actor else None,
        area=actor.area if actor else None,
        method=scope["method"][:10], path=path[:300],
        reference=str(reference)[:40] if reference else None,
        action=str(action)[:64] if action else None,
        status=status, request_id=request_id,
    ) for reference in references]


class AuditMiddleware(HttpMiddleware):
    """ASGI middleware: tags each response with its request id and audits it after sending."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        at, request_id = datetime.now(UTC), _request_id(scope)
        status = 500  # what the server answers if the app raises before responding

        async def send_tagged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_tagged)
        finally:
            # Shielded: a client that disconnects must not cancel the record of its request.
            with anyio.CancelScope(shield=True):
                entries = _entries(scope, at, status, request_id)
                if entries:
                    await _record(scope, entries)


async def _record(scope: Scope, entries: list[AuditEntry]) -> None:
    state = scope["app"].state
    if not hasattr(state, "audit_commits"):
        engine, trail = state.engine, state.audit
        state.audit_commits = GroupCommit(partial(_append_or_log, engine, trail))
    await state.audit_commits.write(entries)


def _append_or_log(engine: Any, trail: AuditTrail, entries: list[AuditEntry]) -> None:
    try:
        append_many(engine, entries, trail)
    except SQLAlchemyError as err:
        for entry in entries:
            log.error("audit entry NOT written (%s): %s", type(err).__name__, entry)
