"""Passwords and local tokens: the security helpers the API and the admin command share.

They live in core so that core never imports api (the admin command hashes the passwords the
API's sign-in checks, and the tests and the benchmark issue the tokens the API verifies).
"""

import hashlib
import hmac
import os
from datetime import UTC, datetime, timedelta

import jwt

from core.settings import Settings
from models.case import Actor

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        _, salt_hex, digest_hex = stored.split("$")
    except ValueError:
        return False
    digest = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt_hex), **_SCRYPT)
    return hmac.compare_digest(digest.hex(), digest_hex)


def issue_token(settings: Settings, actor: Actor, minutes: int | None = None) -> str:
    """A local HS256 token for the actor, signed with CASES_JWT_SIGNING_KEY."""
    now = datetime.now(UTC)
    claims = {
        "sub": actor.user_id, "role": actor.role.value, "area": actor.area,
        "iss": settings.jwt_issuer, "aud": settings.jwt_audience,
        "iat": now, "nbf": now, "exp": now + timedelta(minutes=minutes or settings.token_minutes),
    }
    return jwt.encode(claims, settings.jwt_signing_key, algorithm="HS256")
