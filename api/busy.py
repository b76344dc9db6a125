"""Temporal's "not now" answers become 503 with Retry-After, never a 500.

When a worker is restarting or overloaded, Temporal refuses an update or a query for a moment
("Workflow Task in failed state" while a timed-out task is retried, a query buffer full, a call
cut short). The same request again (an action with the same Idempotency-Key, a case with the
same reference) takes effect once, so the client is told to try again. api/errors.py maps the
errors it knows; this handler catches what reaches the app unmapped. Anything else is a fault,
logged and answered 500.
"""

import logging

from fastapi import Request
from fastapi.responses import JSONResponse
from temporalio.service import RPCError

from core.temporal import is_transient

log = logging.getLogger("api.temporal")

RETRY_AFTER_SECONDS = 2


def unavailable_detail(message: str, **more: str) -> dict[str, str]:
    """The body of every 503: rule UNAVAILABLE and a sentence saying what to do."""
    return {"rule": "UNAVAILABLE", **more, "message": message}


def retry_after(**more: str) -> dict[str, str]:
    return {"Retry-After": str(RETRY_AFTER_SECONDS), **more}


async def temporal_error(request: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, RPCError)
    if is_transient(err):
        log.warning("workflow service busy: %s (%s)", err.status.name, type(err).__name__)
        return JSONResponse(status_code=503, headers=retry_after(), content={
            "detail": unavailable_detail("The case service is busy. Send the same request "
                                         "again shortly: it takes effect once.")})
    log.error("workflow service error %s", err.status.name, exc_info=err)
    return JSONResponse(status_code=500, content={"detail": {
        "rule": "INTERNAL", "message": "The case service failed; nothing was changed."}})
