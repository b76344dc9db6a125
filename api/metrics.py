"""Prometheus metrics and the request log line of the API.

`GET /metrics` serves the process's registry to a scraper that sends the bearer token set in
CASES_METRICS_TOKEN (in development, with no token set, to anyone; outside development, with
none set, to no one: 404). The middleware counts every request by route
template (never the raw path: a reference in a label would make one series per case), times
it, and counts refusals by the rule id that the 403/409/422 body names (api/errors.py builds
those bodies). It also fixes the request id before the audit middleware reads it, so the audit
log, the response's X-Request-ID and every log line of the request carry the same id.

Counts are per process, and summed over the API's processes when it runs several
(`python -m api.serve`, prometheus_client's multiprocess mode); Prometheus sums replicas.
"""

import hmac
import json
import logging
import os
import re
import time
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.types import Message, Receive, Scope, Send

from api.asgi import HttpMiddleware
from api.audit import _request_id
from core.logging import log_context

log = logging.getLogger("api.request")

REQUESTS = Counter("cases_api_requests", "HTTP requests answered, by route template and status.",
                   ["method", "route", "status"])
LATENCY = Histogram("cases_api_request_duration_seconds",
                    "Time to answer a request, by route template.", ["method", "route"],
                    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
IN_PROGRESS = Gauge("cases_api_requests_in_progress", "Requests being answered now.",
                    multiprocess_mode="livesum")
REFUSALS = Counter("cases_api_refusals", "Actions refused, by the rule id in the answer.",
                   ["rule"])

# The statuses whose JSON body names a rule: a refusal (api/errors.py), never a fault.
REFUSAL_STATUSES = frozenset({403, 409, 422})
_MAX_BODY = 64 * 1024
_REFERENCE_IN_PATH = re.compile(r"^/cases/([^/]+)")
UNMATCHED = "<unmatched>"  # one label for every unknown path, however many are probed

router = APIRouter(tags=["system"])
_bearer = HTTPBearer(auto_error=False)


def metrics_credential(request: Request, credentials: Annotated[
        HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
    """Let through only the scraper's bearer token (CASES_METRICS_TOKEN)."""
    settings = request.app.state.settings
    expected: str | None = settings.metrics_token
    if not expected:
        if settings.environment == "development":
            return
        raise HTTPException(404, detail={"rule": "NOT_FOUND", "message": (
            "Metrics are not served: CASES_METRICS_TOKEN is not set.")})
    given = credentials.credentials if credentials is not None else ""
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(401, headers={"WWW-Authenticate": "Bearer"}, detail={
            "rule": "AUTH", "message": "The metrics need the scraper's bearer token "
                                       "(CASES_METRICS_TOKEN)."})


@router.get("/metrics", include_in_schema=False, dependencies=[Depends(metrics_credential)])
def metrics() -> Response:
    """Prometheus exposition of the counters: this process's, or every API process's summed
    when the API runs several (api/serve.py)."""
    registry = REGISTRY
    if directory := os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        forget_dead_processes(Path(directory))
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def forget_dead_processes(directory: Path) -> None:
    """A process killed without stopping (its supervisor's kill, the OOM killer) leaves its
    live gauges' files behind, summed for ever: drop those of processes that are gone."""
    for path in directory.glob("gauge_live*_*.db"):
        pid = path.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            multiprocess.mark_process_dead(int(pid), str(directory))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_stopped() -> None:
    """A stopping process's live gauges leave the sum (multiprocess mode only)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(os.getpid())


def refusal_rule(body: bytes) -> str | None:
    try:
        detail = json.loads(body).get("detail")
    except (ValueError, AttributeError):
        return None
    rule = detail.get("rule") if isinstance(detail, dict) else None
    return str(rule)[:40] if rule else None


class MetricsMiddleware(HttpMiddleware):
    """Outermost ASGI middleware: request id, log context, metrics and the request line."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = _request_id(scope)
        # The audit middleware, inside this one, takes the id from the header: make it ours.
        scope["headers"] = [(k, v) for k, v in scope.get("headers", []) if k != b"x-request-id"]
        scope["headers"].append((b"x-request-id", request.encode("latin-1")))
        match = _REFERENCE_IN_PATH.match(scope["path"])
        started, status, body = time.perf_counter(), 500, bytearray()

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and status in REFUSAL_STATUSES \
                    and len(body) < _MAX_BODY:
                body.extend(message.get("body", b""))
            await send(message)

        IN_PROGRESS.inc()
        with log_context(request=request, reference=match.group(1) if match else None):
            try:
                await self.app(scope, receive, send_observed)
            finally:
                IN_PROGRESS.dec()
                self._observe(scope, status, time.perf_counter() - started, bytes(body))

    @staticmethod
    def _observe(scope: Scope, status: int, seconds: float, body: bytes) -> None:
        route = getattr(scope.get("route"), "path", None) or UNMATCHED
        method = scope["method"]
        REQUESTS.labels(method, route, str(status)).inc()
        LATENCY.labels(method, route).observe(seconds)
        rule = refusal_rule(body) if body else None
        if rule is not None:
            REFUSALS.labels(rule).inc()
        state = scope.get("state") or {}
        reference = state.get("audit_reference")  # POST /cases names it in the body
        log.info("request", extra={
            "method": method, "route": route, "status": status,
            "duration_ms": round(seconds * 1000, 1), "rule": rule,
            **({"case_reference": str(reference)[:40]} if reference else {})})
