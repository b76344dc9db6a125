"""The FastAPI application: `uvicorn --factory api.main:create_app`."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.service import RPCError

from api import busy
from api.audit import AuditMiddleware
from api.auth import TokenVerifier
from api.dashboard import due_soon as dashboard_due_soon
from api.dashboard import handover as dashboard_handover
from api.dashboard import routes as dashboard
from api.methods import AllowedMethods
from api.metrics import MetricsMiddleware, process_stopped
from api.metrics import router as metrics_router
from api.query import refuse_repeated_query_parameters
from api.routes import (
    cases,
    codec,
    deadlines,
    due_soon,
    lifecycle,
    people,
    reports,
    stuck,
    system,
    work,
)
from api.text import refuse_control_characters
from api.workspace import routes as workspace
from core import telemetry
from core.audit import AuditTrail
from core.db import create_schema, make_engine
from core.logging import configure as configure_logging
from core.settings import Settings, get_settings
from core.temporal import connect, payload_codec


def create_app(settings: Settings | None = None, client: Client | None = None,
               engine: Engine | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not hasattr(app.state, "temporal"):  # a server of its own (uvicorn), not embedded
            configure_logging("api", settings.log_level)
            telemetry.install()  # the client's core logs as JSON too
            app.state.engine = engine or make_engine(settings.database_url)
            create_schema(app.state.engine)
            app.state.temporal = client or await connect(settings)
        yield
        process_stopped()

    app = FastAPI(
        title="Stalking and harassment cases",
        version="0.1.0",
        description="Cases run end to end under the joint NPCC/CPS protocol on stalking or "
                    "harassment offences. A refused action answers 409 with the rule id.",
        lifespan=lifespan,
        # Every JSON body (api/text.py) and every query string (api/query.py).
        dependencies=[Depends(refuse_control_characters),
                      Depends(refuse_repeated_query_parameters)],
    )
    app.state.settings = settings
    if client is not None and engine is not None:  # tests and embedders hand both in
        app.state.temporal, app.state.engine = client, engine
    app.state.verifier = TokenVerifier(settings)
    app.state.codec = payload_codec(settings)
    app.state.audit = AuditTrail.from_settings(settings)
    app.include_router(system.router)
    app.include_router(lifecycle.router)
    app.include_router(stuck.router)  # before cases: /cases/stuck is not a reference
    app.include_router(due_soon.router)  # nor is /cases/due-soon
    app.include_router(cases.router)
    app.include_router(deadlines.router)
    app.include_router(work.router)
    app.include_router(codec.router)
    app.include_router(reports.router)
    app.include_router(people.router)
    app.include_router(dashboard.router)
    app.include_router(dashboard_due_soon.router)
    app.include_router(dashboard_handover.router)
    app.include_router(workspace.router)
    app.include_router(metrics_router)
    app.add_middleware(AllowedMethods)  # innermost: the codec's CORS preflights come first
    app.add_middleware(codec.CodecCORS, ui_url=settings.temporal_ui_url)
    app.add_middleware(AuditMiddleware)
    app.add_middleware(MetricsMiddleware)  # outermost: it fixes the request id Audit records

    app.add_exception_handler(RPCError, busy.temporal_error)

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Say what is wrong, field by field, without echoing the submitted values back.
        errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        return JSONResponse(status_code=422, content={"detail": errors})

    return app

