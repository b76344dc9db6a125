"""Dependencies shared by the routes: settings, the Temporal client and database sessions."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.exc import OperationalError
from sqlmodel import Session
from temporalio.client import Client

from api.busy import retry_after, unavailable_detail
from core.settings import Settings


def app_settings(request: Request) -> Settings:
    return request.app.state.settings


def temporal_client(request: Request) -> Client:
    return request.app.state.temporal


def db_session(request: Request) -> Iterator[Session]:
    try:
        with Session(request.app.state.engine) as session:
            yield session
    except OperationalError as err:
        raise HTTPException(503, headers=retry_after(), detail=unavailable_detail(
            "The case database is unreachable; lists are unavailable for now. Actions and "
            "single-case reads still work.")) from err


SettingsDep = Annotated[Settings, Depends(app_settings)]
TemporalDep = Annotated[Client, Depends(temporal_client)]
SessionDep = Annotated[Session, Depends(db_session)]
