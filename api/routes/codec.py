"""The remote codec for the Temporal UI: it decrypts payloads for signed-in users only.

Temporal's remote codec protocol: POST {endpoint}/encode and {endpoint}/decode with
``{"payloads": [{"metadata": {name: base64}, "data": base64}]}``, answered in the same shape.
Point the UI at it with TEMPORAL_CODEC_ENDPOINT=<api>/codec and let it pass the user's access
token (TEMPORAL_CODEC_PASS_ACCESS_TOKEN=true). Every call is audited (api/audit.py); a decode
records the cases its payloads belonged to and how many it decoded and withheld, never what
they held. What a decode shows is decided in api/codec_access.py.
"""

import base64
import binascii
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field, field_validator
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.api.common.v1 import Payload

from api import audit
from api.auth import CurrentUser, current_user
from api.case_access import case_file_or_none
from api.codec_access import visible_payloads
from api.errors import refusal_http
from api.responses import AUTHENTICATED, FORBIDDEN, MALFORMED, WITH_BODY, responses
from core.codec import EncryptionCodec, PayloadDecryptionError
from models.enums import Role

PREFIX = "/codec"
router = APIRouter(prefix=PREFIX, tags=["codec"], dependencies=[Depends(current_user)],
                   responses=responses(AUTHENTICATED, WITH_BODY, MALFORMED))


def _base64(value: str) -> str:
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as err:
        raise ValueError("must be base64") from err
    return value


class WirePayload(BaseModel):
    """One payload as the protocol carries it: metadata values and data in base64."""

    metadata: dict[str, str] = Field(default_factory=dict)
    data: str = ""

    @field_validator("metadata")
    @classmethod
    def metadata_is_base64(cls, value: dict[str, str]) -> dict[str, str]:
        return {name: _base64(text) for name, text in value.items()}

    @field_validator("data")
    @classmethod
    def data_is_base64(cls, value: str) -> str:
        return _base64(value)

    def to_proto(self) -> Payload:
        return Payload(metadata={k: base64.b64decode(v) for k, v in self.metadata.items()},
                       data=base64.b64decode(self.data))

    @classmethod
    def of(cls, payload: Payload) -> "WirePayload":
        return cls(metadata={k: base64.b64encode(v).decode() for k, v in payload.metadata.items()},
                   data=base64.b64encode(payload.data).decode())


class WirePayloads(BaseModel):
    payloads: list[WirePayload] = Field(max_length=1000)


def _codec(request: Request) -> EncryptionCodec:
    return request.app.state.codec


CodecDep = Annotated[EncryptionCodec, Depends(_codec)]

# Decoding is for those who run the service through the Temporal UI, and shows them only what
# the API would (api/codec_access.py). Encoding reveals nothing, so any signed-in user may.
DECODERS = frozenset({Role.ADMIN, Role.MANAGER})


def may_decode(actor: CurrentUser) -> None:
    if actor.role not in DECODERS:
        raise refusal_http("ACCESS", "Decoding payloads is for the admin and manager roles.")


@router.post("/encode", response_model=WirePayloads)
async def encode(body: WirePayloads, codec: CodecDep) -> WirePayloads:
    """Encrypt payloads with the current key."""
    encoded = await codec.encode([p.to_proto() for p in body.payloads])
    return WirePayloads(payloads=[WirePayload.of(p) for p in encoded])


@router.post("/decode", response_model=WirePayloads, dependencies=[Depends(may_decode)],
             responses=responses(WITH_BODY, FORBIDDEN,
                                 s400="The body could not be parsed, or a payload failed to "
                                      "decrypt (detail.rule CODEC).",
                                 s403="Only admin and manager may decode."))
async def decode(body: WirePayloads, codec: CodecDep, actor: CurrentUser,
                 http: Request) -> WirePayloads:
    """Decrypt payloads with whichever key each names; others pass through unchanged.

    For the admin and manager roles only, and never showing more than the API shows them: a
    payload of another area's case, or one that cannot be attributed, comes back as the JSON
    string "[withheld]"; a case of their area as the API shows it to their role (contact
    details withheld). Each decode is audited: who, the cases, how many payloads.
    """
    audit.note(http, action=f"decode: {len(body.payloads)} payloads")
    try:
        decoded = await codec.decode([p.to_proto() for p in body.payloads])
    except PayloadDecryptionError as err:
        raise HTTPException(400, detail={"rule": "CODEC", "message": str(err)}) from err
    except ValueError as err:
        # AES-GCM refuses a nonce shorter than it needs: a truncated payload, not our failure.
        raise HTTPException(400, detail={"rule": "CODEC",
                                         "message": "A payload is truncated: too short to decrypt."}) from err
    client = http.app.state.temporal
    shown = await visible_payloads(decoded, actor,
                                   lambda reference: case_file_or_none(client, reference))
    audit.note(http, references=shown.references,
               action=f"decode: {len(decoded)} payloads, {shown.withheld} withheld")
    return WirePayloads(payloads=[WirePayload.of(p) for p in shown.payloads])


class CodecCORS:
    """CORS for the Temporal UI's origin on the codec routes only; the rest of the API has none."""

    def __init__(self, app: ASGIApp, ui_url: str) -> None:
        self.app = app
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(ui_url))
        self.cors = CORSMiddleware(
            app, allow_origins=[origin], allow_methods=["POST"],
            allow_headers=["Authorization", "Content-Type", "X-Namespace"],
            allow_credentials=True, max_age=600)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PREFIX + "/"):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
