"""The one place where refusals and Temporal failures become HTTP answers."""

from fastapi import HTTPException
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from workflows.case import REFUSAL_ERROR_TYPE

# A refusal's rule decides its status: another area's case is 404 (as if unknown), who may
# act is 403, a reference to something the case does not hold is 422, everything the protocol
# or the lifecycle forbids is 409.
_STATUS_BY_RULE = {"NOT_FOUND": 404, "ACCESS": 403, "INPUT": 422}


def not_found(reference: str) -> HTTPException:
    """The answer for an unknown case, and for another area's case: the two look the same."""
    return refusal_http("NOT_FOUND", f"No case {reference}.")


def refusal_http(rule: str, message: str) -> HTTPException:
    return HTTPException(_STATUS_BY_RULE.get(rule, 409), detail={"rule": rule, "message": message})


def from_update_failure(err: WorkflowUpdateFailedError) -> HTTPException:
    cause = err.cause
    if isinstance(cause, ApplicationError) and cause.type == REFUSAL_ERROR_TYPE and cause.details:
        details = cause.details[0]
        return refusal_http(details["rule"], details["message"])
    return HTTPException(500, detail={"rule": "INTERNAL", "message": "The action failed."})


def from_rpc_error(err: RPCError, reference: str) -> HTTPException:
    if err.status == RPCStatusCode.NOT_FOUND:
        if "completed" in str(err).lower():
            return refusal_http("STATE", f"Case {reference} is closed; it takes no more actions.")
        return not_found(reference)
    if err.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
        return HTTPException(503, detail={"rule": "UNAVAILABLE",
                                          "message": "The workflow service is unavailable; try again."})
    raise err
