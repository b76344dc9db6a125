"""A case's Temporal payloads as the Temporal UI sends them to /codec/decode: still encrypted."""

import base64
from typing import Any

import httpx
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.client import Client

from workflows.case import case_workflow_id

JSON_PLAIN = base64.b64encode(b"json/plain").decode()


def wire(payload: Payload) -> dict[str, Any]:
    return {"metadata": {k: base64.b64encode(v).decode() for k, v in payload.metadata.items()},
            "data": base64.b64encode(payload.data).decode()}


def plain(data: bytes) -> dict[str, Any]:
    """A json/plain payload before encoding."""
    return {"metadata": {"encoding": JSON_PLAIN}, "data": base64.b64encode(data).decode()}


def payloads_in(message: Message) -> list[Payload]:
    """Every payload a protobuf message holds, however deep (inputs, results, failures), but
    search attributes: they are never encrypted, and the UI does not decode them."""
    found: list[Payload] = []
    for field, value in message.ListFields():
        if field.type != field.TYPE_MESSAGE or field.name == "search_attributes":
            continue
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            items = list(value.values())
        elif field.is_repeated:
            items = list(value)
        else:
            items = [value]
        for item in items:
            if isinstance(item, Payload):
                found.append(item)
            elif isinstance(item, Message):
                found.extend(payloads_in(item))
    return found


async def history_payloads(client: Client, reference: str) -> list[dict[str, Any]]:
    """Every payload of the case workflow's history, encrypted, in the codec's wire form."""
    raw = await Client.connect(client.service_client.config.target_host,
                               namespace=client.namespace)
    history = await raw.get_workflow_handle(case_workflow_id(reference)).fetch_history()
    return [wire(p) for event in history.events for p in payloads_in(event)]


def decoded_data(response: httpx.Response) -> list[bytes]:
    assert response.status_code == 200, response.text
    return [base64.b64decode(p["data"]) for p in response.json()["payloads"]]
