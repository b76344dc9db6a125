"""The one place where refusals and Temporal failures become HTTP answers."""

import logging

from fastapi import HTTPException
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.busy import retry_after, unavailable_detail
from core.ended_cases import ENDED_STATUSES
from core.temporal import is_transient, unapplied
from workflows.case import BUSY_ERROR_TYPE, REFUSAL_ERROR_TYPE, case_workflow_id

log = logging.getLogger("api.errors")

# A refusal's rule decides its status: another area's case is 404 (as if unknown), who may
# act is 403, a reference to something the case does not hold is 422, everything the protocol
# or the lifecycle forbids is 409.
_STATUS_BY_RULE = {"NOT_FOUND": 404, "ACCESS": 403, "INPUT": 422}


def not_found(reference: str) -> HTTPException:
    """The answer for an unknown case, and for another area's case: the two look the same."""
    return refusal_http("NOT_FOUND", f"No case {reference}.")

# How a case's workflow ended, when it did not end by closing the case: the words the stuck
# list uses too (core/ended_cases.py).
ENDED_ABNORMALLY = ENDED_STATUSES


def refusal_http(rule: str, message: str) -> HTTPException:
    return HTTPException(_STATUS_BY_RULE.get(rule, 409), detail={"rule": rule, "message": message})


def unavailable(message: str) -> HTTPException:
    """503 with Retry-After: a part of the service is out of reach for now."""
    return HTTPException(503, headers=retry_after(), detail=unavailable_detail(message))


def try_again(request_id: str, why: str) -> HTTPException:
    """503: nothing is known to have changed; the same request id applies it once."""
    return HTTPException(503, headers=retry_after(**{"Idempotency-Key": request_id}),
                         detail=unavailable_detail(
                             f"{why}. Send the same request again with the header "
                             f"Idempotency-Key: {request_id}: it takes effect once.",
                             request_id=request_id))


def from_update_failure(err: WorkflowUpdateFailedError, request_id: str) -> HTTPException:
    cause = err.cause
    if isinstance(cause, ApplicationError) and cause.type == REFUSAL_ERROR_TYPE and cause.details:
        details = cause.details[0]
        return refusal_http(details["rule"], details["message"])
    if isinstance(cause, ApplicationError) and cause.type == BUSY_ERROR_TYPE:
        return try_again(request_id, "The case's history is waiting for the read model")
    if unapplied(err):  # still, after execute_action sent it again
        return try_again(request_id, "The case service was handing the case between workers")
    # A fault, not a refusal: logged by its kind alone (its message can quote the action).
    log.error("action failed in the workflow: %s (%s)", type(cause).__name__,
              getattr(cause, "type", None) or "no type", extra={"request_id": request_id})
    return HTTPException(500, detail={"rule": "INTERNAL", "message": "The action failed."})


def from_rpc_error(err: RPCError, reference: str) -> HTTPException:
    if err.status == RPCStatusCode.NOT_FOUND:
        if "completed" in str(err).lower():
            return refusal_http("STATE", f"Case {reference} is closed; it takes no more actions.")
        return not_found(reference)
    if err.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
        return unavailable("The workflow service is unavailable; try again.")
    raise err


async def from_action_rpc_error(err: RPCError, client: Client, reference: str,
                                request_id: str) -> HTTPException:
    """An action's update failed in Temporal: busy (503 with the request id), the case gone, or
    its workflow ended. A workflow that ended without closing the case is named for what
    happened to it (the stuck list shows it too), never as a closed case."""
    if is_transient(err):
        return try_again(request_id, "The case service is busy")
    if err.status == RPCStatusCode.NOT_FOUND and "completed" in str(err).lower():
        ended = await ended_abnormally(client, reference)
        if ended is not None:
            return HTTPException(409, detail={"rule": "WORKFLOW_ENDED", "message": (
                f"Case {reference}'s workflow was {ended} without closing the case; it takes no "
                "actions until an administrator restores it. Nothing was changed.")})
    return from_rpc_error(err, reference)


async def ended_abnormally(client: Client, reference: str) -> str | None:
    try:
        described = await client.get_workflow_handle(case_workflow_id(reference)).describe()
    except RPCError:
        return None
    return ENDED_ABNORMALLY.get(described.status) if described.status else None
