"""Structured JSON logs for the API and the worker: one JSON object a line on stderr.

Every line carries the service, and where known the request id (the API's X-Request-ID) and the
case reference. Nothing else about a case is ever logged: log lines leave the service's
protection (log shippers, support tickets), so they carry ids, never names, addresses or
free text about people. Two guards back that up here, because the code that logs is not all
ours: SQLAlchemy errors are formatted without their bound parameters (an INSERT into the outbox
binds a complainant's address), and uvicorn's access log, which prints query strings and
client addresses, is replaced by the API's own request line (api/metrics.py).
"""

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter
from sqlalchemy.exc import StatementError

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
case_reference: ContextVar[str | None] = ContextVar("case_reference", default=None)

_CASE_WORKFLOW_PREFIX = "case-"
_HANDLER_NAME = "cases-json"


@contextmanager
def log_context(*, request: str | None = None, reference: str | None = None) -> Iterator[None]:
    """Tag every line logged inside the block (in this task or thread) with these ids."""
    tokens = (request_id.set(request), case_reference.set(reference))
    try:
        yield
    finally:
        request_id.reset(tokens[0])
        case_reference.reset(tokens[1])


def _reference_from_temporal(record: logging.LogRecord) -> str | None:
    # The SDK's activity and workflow loggers attach their info; the workflow id names the case.
    for attribute in ("temporal_activity", "temporal_workflow"):
        info = getattr(record, attribute, None)
        if isinstance(info, dict):
            workflow_id = str(info.get("workflow_id") or "")
            if workflow_id.startswith(_CASE_WORKFLOW_PREFIX):
                return workflow_id[len(_CASE_WORKFLOW_PREFIX):]
    return None


def _hide_sql_parameters(error: BaseException | None) -> None:
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, StatementError):
            error.hide_parameters = True
        error = error.__cause__ or error.__context__


class ContextFilter(logging.Filter):
    """Adds request_id and case_reference; strips SQL parameters from logged exceptions."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id.get()
        if getattr(record, "case_reference", None) is None:
            record.case_reference = case_reference.get() or _reference_from_temporal(record)
        record.__dict__.pop("color_message", None)  # uvicorn's terminal copy of the message
        record.__dict__.pop("temporal_log", None)  # the SDK core's raw entry, already in message
        if record.exc_info and record.exc_info[1] is not None:
            _hide_sql_parameters(record.exc_info[1])
        return True


def json_handler(service: str) -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonFormatter(
        "%(levelname)s %(name)s %(message)s",
        rename_fields={"levelname": "level", "name": "logger"},
        static_fields={"service": service},
        timestamp="time",  # ISO 8601, UTC
    ))
    handler.addFilter(ContextFilter())
    return handler


def configure(service: str, level: str = "INFO") -> None:
    """Send every log line, the SDK's and uvicorn's included, through one JSON handler.

    Idempotent: configuring twice leaves one handler.
    """
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == _HANDLER_NAME:
            root.removeHandler(existing)
    root.addHandler(json_handler(service))
    root.setLevel(level.upper())
    # uvicorn installs its own handlers before the app loads; route its lines through ours.
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False
    access.disabled = True  # the API logs its own request line, without query strings

