"""The API with timers around each stage of a request, for "where the time of an action goes".

`uvicorn --factory bench.instrumented:create_app` serves the real application (api.main) with:
an outermost ASGI timer (the whole request inside the server), and wrappers around token
verification, FastAPI's dependency solving (auth + body validation), the Temporal Update call, the
payload conversion and encryption inside it, building the response, FastAPI's response
serialisation, and the audit append that runs after the response has gone. GET /bench/timings
returns and clears what was recorded; with BENCH_PYINSTRUMENT=1 the process is sampled by
pyinstrument and GET /bench/profile returns the profile as text. Only the bench uses this.
"""

from __future__ import annotations

import contextvars
import functools
import os
import time
from collections import defaultdict
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

_current: contextvars.ContextVar[dict[str, float] | None] = contextvars.ContextVar(
    "bench_request", default=None)
_records: list[dict[str, float]] = []
_after: dict[str, list[float]] = defaultdict(list)  # stages that run after the response


def _add(stage: str, ms: float) -> None:
    record = _current.get()
    if record is None:
        _after[stage].append(ms)
    else:
        record[stage] = record.get(stage, 0.0) + ms


def _timed_async(stage: str, func: Any) -> Any:
    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return await func(*args, **kwargs)
        finally:
            _add(stage, (time.perf_counter() - start) * 1000)
    return wrapper


def _timed_sync(stage: str, func: Any, after: bool = False) -> Any:
    """after: the work runs in a worker thread after the response (the audit, the read-model
    write), where the request's record may still be current: always record it apart."""
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            ms = (time.perf_counter() - start) * 1000
            if after:
                _after[stage].append(ms)
            else:
                _add(stage, ms)
    return wrapper


def _patch(owner: Any, name: str, stage: str) -> bool:
    func = getattr(owner, name, None)
    if func is None:
        return False
    import inspect
    wrap = _timed_async if inspect.iscoroutinefunction(func) else _timed_sync
    setattr(owner, name, wrap(stage, func))
    return True


def install() -> list[str]:
    """Wrap the stages; returns the ones found (a renamed function is skipped, not fatal)."""
    import fastapi.routing
    import temporalio.client
    import temporalio.converter

    import api.audit
    import api.auth
    import api.routes.cases

    found = []
    for owner, name, stage in [
        (api.auth.TokenVerifier, "actor", "auth"),
        (fastapi.routing, "solve_dependencies", "dependencies"),
        (fastapi.routing, "serialize_response", "response serialisation"),
        (temporalio.client.WorkflowHandle, "execute_update", "temporal update"),
        (temporalio.converter.DataConverter, "encode", "payload encode"),
        (temporalio.converter.DataConverter, "decode", "payload decode"),
        (temporalio.converter.DataConverter, "decode_failure", "payload decode"),
        (api.routes.cases, "_action_response", "response build"),
    ]:
        if _patch(owner, name, stage):
            found.append(stage)
    if hasattr(api.audit, "append"):
        api.audit.append = _timed_sync("audit append (after the response)", api.audit.append,
                                       after=True)
        found.append("audit")
    if hasattr(api.routes.cases, "project_answer"):
        # Looked up by name when the background task is added: the wrapper is what runs.
        api.routes.cases.project_answer = _timed_sync(
            "read model written from the answer (after the response)",
            api.routes.cases.project_answer, after=True)
        found.append("projection")
    return found


class Timer:
    """Outermost: the whole request as the server sees it, from the first byte handed to the app
    to the last byte of the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/bench/"):
            await self.app(scope, receive, send)
            return
        record: dict[str, float] = {}
        token = _current.set(record)
        start = time.perf_counter()

        async def timed_send(message: Any) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                record["server"] = (time.perf_counter() - start) * 1000
                record["path_is_action"] = float(scope["path"].endswith("/actions"))
                _records.append(record)
                _current.set(None)  # what follows (the audit) is after the response

        try:
            await self.app(scope, receive, timed_send)
        finally:
            _current.reset(token)


def create_app() -> Any:
    from api.main import create_app as real

    stages = install()
    app: FastAPI = real()
    profiler = None
    if os.environ.get("BENCH_PYINSTRUMENT"):
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005, async_mode="disabled")
        profiler.start()

    @app.get("/bench/timings", include_in_schema=False)
    async def timings() -> JSONResponse:
        body = {"stages": stages, "requests": list(_records), "after": dict(_after)}
        _records.clear()
        _after.clear()
        return JSONResponse(body)

    @app.get("/bench/profile", include_in_schema=False)
    async def profile() -> PlainTextResponse:
        if profiler is None:
            return PlainTextResponse("not profiling", status_code=404)
        profiler.stop()
        text = profiler.output_text(unicode=False, color=False, show_all=False)
        profiler.reset()
        profiler.start()
        return PlainTextResponse(text)

    return Timer(app)
