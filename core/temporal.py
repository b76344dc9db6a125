"""The one place that builds the Temporal client and its data converter."""

import asyncio
import dataclasses
from datetime import timedelta
from typing import Any

from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from core.codec import EncryptionCodec, load_keys
from core.settings import Settings
from models.actions import ActionRequest, ActionResult


def payload_codec(settings: Settings) -> EncryptionCodec:
    return EncryptionCodec(load_keys(settings.payload_keys), settings.payload_key_id)


def data_converter(settings: Settings) -> DataConverter:
    """Pydantic payloads encrypted by the AES-GCM codec.

    Failure messages and stack traces go into the encrypted attributes too: an exception's
    text can quote what it failed on.
    """
    return dataclasses.replace(pydantic_data_converter, payload_codec=payload_codec(settings),
                               failure_converter_class=DefaultFailureConverterWithEncodedAttributes)


async def connect(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
    )


# An update in flight when its run continues as new is dropped by the server ("aborted" on
# the dev server and a cluster, "not found" on the time-skipping test server). Sent again with
# the same id it reaches the new run, which applies it once or answers its first answer.
_DROPPED_AT_CONTINUE_AS_NEW = ("update was aborted", "not found")
_TASK_FAILED = "unexpected workflow task failure"
UPDATE_ATTEMPTS = 4

# Temporal's "not now": the same request again, a moment later, can succeed.
TRANSIENT = frozenset({RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED,
                       RPCStatusCode.CANCELLED, RPCStatusCode.RESOURCE_EXHAUSTED,
                       RPCStatusCode.ABORTED})
# Refused for a moment: a workflow task being retried, or a run at Temporal's limit of updates
# just before it continues as new.
_TRANSIENT_PRECONDITIONS = ("Workflow Task in failed state", "limit on the total number of",
                            _TASK_FAILED)


# An update the server refused without applying it: its workflow task failed while the update
# was in it (a task that moved to another worker, replaying there), so no worker took it in.
# Nothing changed; the same request id applies it once.
UNAPPLIED_UPDATE_FAILURES = frozenset({"UnprocessedUpdate"})


def is_transient(err: RPCError) -> bool:
    return err.status in TRANSIENT or (err.status == RPCStatusCode.FAILED_PRECONDITION and any(
        text in str(err) for text in _TRANSIENT_PRECONDITIONS))


async def execute_action(handle: WorkflowHandle[Any, Any], request: ActionRequest,
                         timeout: timedelta | None = None) -> ActionResult:
    """The case workflow's `act` update, sent again if a continue-as-new dropped it or the
    server refused it unapplied (its workflow task failed while the update was in it).

    With a `timeout`, gives up after that long in all (nothing polling the task queue, a worker
    too busy to take the task) with WorkflowUpdateRPCTimeoutOrCancelledError; the same request
    id sent again applies it once. The timeout is each call's rpc_timeout and also bounds the
    whole: the server answers a waiting update every 20 s or so ("admitted, not yet accepted")
    and the SDK asks again, so a longer rpc_timeout alone would never expire."""
    try:
        async with asyncio.timeout(timeout.total_seconds() if timeout else None):
            return await _execute_action(handle, request, timeout)
    except TimeoutError as err:  # expired between two calls
        raise WorkflowUpdateRPCTimeoutOrCancelledError() from err


async def _execute_action(handle: WorkflowHandle[Any, Any], request: ActionRequest,
                          timeout: timedelta | None) -> ActionResult:
    for attempt in range(1, UPDATE_ATTEMPTS + 1):
        try:
            return await handle.execute_update("act", request, id=request.request_id,
                                               result_type=ActionResult, rpc_timeout=timeout)
        except RPCError as err:
            dropped = err.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.NOT_FOUND) and \
                any(text in str(err) for text in _DROPPED_AT_CONTINUE_AS_NEW) and \
                "update" in str(err)
            # The run's last workflow task failed (timed out on a busy worker) and is being
            # retried: the update was not admitted, and will be once the task is done again.
            task_retried = err.status == RPCStatusCode.FAILED_PRECONDITION and \
                _TASK_FAILED in str(err)
            if not (dropped or task_retried) or attempt == UPDATE_ATTEMPTS:
                raise
        except WorkflowUpdateFailedError as err:
            if not unapplied(err) or attempt == UPDATE_ATTEMPTS:
                raise
        await asyncio.sleep(0.5 * attempt)
    raise AssertionError("unreachable")


def unapplied(err: WorkflowUpdateFailedError) -> bool:
    """The update failed before any worker applied it (UNAPPLIED_UPDATE_FAILURES)."""
    cause = err.cause
    return isinstance(cause, ApplicationError) and cause.type in UNAPPLIED_UPDATE_FAILURES
