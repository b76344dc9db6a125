"""AES-GCM encryption of every Temporal payload, with key ids so rotated keys still decrypt.

Workflow inputs, results, update arguments, activity arguments, memos and (with the encoded
failure attributes of core/temporal.py) failure messages pass through this codec. Search
attributes never do: they must not hold personal data (workflows/search.py).

Each encrypted payload is ``nonce (12 bytes) || AES-256-GCM(serialized original payload)``, with
metadata ``encoding: binary/encrypted`` and ``encryption-key-id: <id>``. The key id is also the
associated data, so a payload cannot be relabelled to another key without failing to decrypt.
"""

import base64
import binascii
import os
import re
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
KEY_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_NONCE_BYTES = 12


class PayloadDecryptionError(ValueError):
    """A payload names a key we do not hold, or failed authentication (tampered or wrong key)."""


def load_keys(encoded: Mapping[str, str]) -> dict[str, bytes]:
    """Key id -> base64 text, as in settings, to key id -> 32 raw bytes; ValueError if malformed."""
    keys: dict[str, bytes] = {}
    for key_id, text in encoded.items():
        if not KEY_ID_PATTERN.match(key_id):
            raise ValueError(f"payload key id {key_id!r} must match {KEY_ID_PATTERN.pattern}")
        try:
            key = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as err:
            raise ValueError(f"payload key {key_id!r} is not valid base64") from err
        if len(key) != 32:
            raise ValueError(f"payload key {key_id!r} must be 32 bytes (AES-256), not {len(key)}")
        keys[key_id] = key
    return keys


class EncryptionCodec(PayloadCodec):
    """Encrypts with the current key; decrypts with whichever key the payload names."""

    def __init__(self, keys: Mapping[str, bytes], current_key_id: str) -> None:
        if current_key_id not in keys:
            raise ValueError(f"the current payload key {current_key_id!r} is not among the keys")
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._current = current_key_id

    @property
    def current_key_id(self) -> str:
        return self._current

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        # Payloads written before encryption was switched on pass through as they are.
        return [self.decrypt(p) if p.metadata.get("encoding") == ENCODING else p for p in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        key_id = self._current.encode()
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._ciphers[self._current].encrypt(nonce, payload.SerializeToString(), key_id)
        return Payload(metadata={"encoding": ENCODING, KEY_ID_METADATA: key_id}, data=nonce + sealed)

    def decrypt(self, payload: Payload) -> Payload:
        key_id = payload.metadata.get(KEY_ID_METADATA, b"").decode("utf-8", errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise PayloadDecryptionError(f"no payload key with id {key_id!r}: was it removed "
                                         "from CASES_PAYLOAD_KEYS while history still uses it?")
        nonce, sealed = payload.data[:_NONCE_BYTES], payload.data[_NONCE_BYTES:]
        try:
            plain = cipher.decrypt(nonce, sealed, key_id.encode())
        except InvalidTag as err:
            raise PayloadDecryptionError(
                f"payload encrypted under key {key_id!r} failed authentication "
                "(tampered, truncated or encrypted with another key)") from err
        return Payload.FromString(plain)
