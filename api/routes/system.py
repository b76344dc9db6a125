"""Liveness, readiness and the login that issues local tokens."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, ValidationError
from sqlalchemy import text
from sqlmodel import Session

from api.auth import issue_token, verify_password
from api.deps import SessionDep, SettingsDep
from models.case import Actor
from models.enums import Role
from models.tables import UserRow

router = APIRouter(tags=["system"])


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"


@router.get("/health", response_model=dict[str, str])
def health() -> dict[str, str]:
    """Alive: the process answers."""
    return {"status": "ok"}


@router.get("/ready", response_model=dict[str, Any])
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


@router.post("/auth/token", response_model=Token)
def login(form: Annotated[OAuth2PasswordRequestForm, Depends()], session: SessionDep,
          settings: SettingsDep) -> Token:
    """Exchange a local user's name and password for a bearer token."""
    wrong = HTTPException(401, detail={"rule": "AUTH", "message": "Wrong username or password."})
    # No username holds a NUL, and PostgreSQL cannot even compare text that does (a 500).
    if "\x00" in form.username:
        raise wrong
    user = session.get(UserRow, form.username)
    if user is None or not user.active or not verify_password(form.password, user.password_hash):
        raise wrong
    try:
        actor = Actor(user_id=user.username, role=user.role, area=user.area)
    except ValidationError as err:
        raise HTTPException(403, detail={"rule": "AUTH", "message": (
            "This account's role or area is not valid; ask an administrator to correct it.")}) from err
    if actor.role is Role.SYSTEM:  # the service's own role: a token carrying it is refused anyway
        raise HTTPException(403, detail={"rule": "AUTH", "message": (
            "This account has the service's own role, which no user may hold.")})
    if not settings.serves_area(actor.area):  # its token would be refused
        raise HTTPException(403, detail={"rule": "AUTH", "message": (
            "This account's area is not one this service serves; ask an administrator.")})
    return Token(access_token=issue_token(settings, actor))
