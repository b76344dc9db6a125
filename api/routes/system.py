"""Liveness, readiness and the login that issues local tokens."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel
from sqlalchemy import text
from sqlmodel import Session

from api.deps import SessionDep, SettingsDep
from api.login import authenticate
from api.responses import MALFORMED, WITH_BODY, responses
from core.security import issue_token

router = APIRouter(tags=["system"])


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"


@router.get("/health", response_model=dict[str, str])
def health() -> dict[str, str]:
    """Alive: the process answers."""
    return {"status": "ok"}


@router.get("/ready", response_model=dict[str, Any], responses=responses(
    s503="Temporal or the database is unreachable: detail.checks names which."))
async def ready(request: Request) -> Any:
    """Ready: Temporal and the read-model database are both reachable."""
    checks: dict[str, str] = {}
    try:
        await request.app.state.temporal.service_client.check_health()
        checks["temporal"] = "ok"
    except Exception as err:
        checks["temporal"] = f"unreachable: {type(err).__name__}"
    try:
        with Session(request.app.state.engine) as session:
            session.exec(text("SELECT 1"))  # type: ignore[call-overload]
        checks["database"] = "ok"
    except Exception as err:
        checks["database"] = f"unreachable: {type(err).__name__}"
    if any(v != "ok" for v in checks.values()):
        raise HTTPException(503, detail={"rule": "UNAVAILABLE", "checks": checks})
    return {"status": "ready", "checks": checks}


@router.post("/auth/token", response_model=Token, responses=responses(
    WITH_BODY, MALFORMED,
    s401="Wrong username or password.",
    s403="An account no token may carry (its role or area).",
    s429="Too many sign-in attempts for the account or from the address; Retry-After says "
         "when to try again.",
    s503="The database is unreachable."))
def login(form: Annotated[OAuth2PasswordRequestForm, Depends()], session: SessionDep,
          settings: SettingsDep, request: Request) -> Token:
    """Exchange a local user's name and password for a bearer token (throttled: api/login.py)."""
    actor = authenticate(request, session, settings, form.username, form.password)
    return Token(access_token=issue_token(settings, actor))
