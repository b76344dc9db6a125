"""A per-session token in every workspace form, checked on each POST.

The session cookie is already SameSite=Strict (api/dashboard/session.py), so another site's
form does not carry it; the token is the second lock, for browsers or proxies that do not
keep SameSite. It is derived from the session's own token under the service's signing key:
nothing is stored, so any API replica checks it, and signing out (a new session) changes it.
"""

import hashlib
import hmac

from fastapi import Request

from api.dashboard.session import COOKIE
from core.settings import Settings

FIELD = "csrf_token"
_PURPOSE = b"workspace-form:"


def csrf_token(request: Request, settings: Settings) -> str:
    session = request.cookies.get(COOKIE, "")
    return hmac.new(settings.jwt_signing_key.encode(), _PURPOSE + session.encode(),
                    hashlib.sha256).hexdigest()


def csrf_ok(request: Request, settings: Settings, sent: str) -> bool:
    return bool(request.cookies.get(COOKIE)) and hmac.compare_digest(
        csrf_token(request, settings), sent)
