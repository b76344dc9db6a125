"""The one place that builds the Temporal client and its data converter."""

import dataclasses
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
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
UPDATE_ATTEMPTS = 3


async def execute_action(handle: WorkflowHandle[Any, Any], request: ActionRequest) -> ActionResult:
    """The case workflow's `act` update, sent again if a continue-as-new dropped it."""
    for attempt in range(1, UPDATE_ATTEMPTS + 1):
        try:
            return await handle.execute_update("act", request, id=request.request_id,
                                               result_type=ActionResult)
        except RPCError as err:
            dropped = err.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.NOT_FOUND) and \
                any(text in str(err) for text in _DROPPED_AT_CONTINUE_AS_NEW) and \
                "update" in str(err)
            if not dropped or attempt == UPDATE_ATTEMPTS:
                raise
    raise AssertionError("unreachable")
