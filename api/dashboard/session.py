"""Browser sign-in for the dashboard: the local login exchanges a username and password for
the same JWT the API issues, kept in an HttpOnly, SameSite=Strict cookie.

HttpOnly keeps the token from page scripts; SameSite=Strict means another site can neither
send it along nor submit a form with it, which is what makes the cookie safe without a CSRF
token. Outside development the cookie is Secure (HTTPS only).
"""

import jwt
from fastapi import HTTPException, Request, Response
from pydantic import ValidationError
from sqlmodel import Session

from api.auth import TokenVerifier
from api.login import authenticate
from core.security import issue_token
from core.settings import Settings
from models.case import Actor

COOKIE = "cases_session"
COOKIE_PATH = "/dashboard"


def sign_in(request: Request, session: Session, settings: Settings, username: str,
            password: str) -> str | None:
    """A token for a local user, or None when the name or password is wrong. Throttled as
    POST /auth/token is (api/login.py): too many attempts raise its 429."""
    try:
        return issue_token(settings, authenticate(request, session, settings, username, password))
    except HTTPException as err:
        if err.status_code == 429:
            raise
        return None


def set_cookie(response: Response, settings: Settings, token: str) -> None:
    response.set_cookie(COOKIE, token, max_age=settings.token_minutes * 60, path=COOKIE_PATH,
                        httponly=True, samesite="strict",
                        secure=settings.environment != "development")


def clear_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict")


def cookie_user(request: Request) -> Actor | None:
    """The signed-in user from the cookie, or None (expired, forged or absent)."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    verifier: TokenVerifier = request.app.state.verifier
    try:
        actor = verifier.actor(token)
    except (jwt.PyJWTError, ValidationError):
        return None
    request.state.actor = actor  # the audit log records who looked
    return actor
