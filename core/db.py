"""The read-model database: engine and sessions. Never imported by workflow code."""

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, event, text
from sqlmodel import Session, SQLModel, create_engine

import models.audit  # registers audit_log on SQLModel.metadata
import models.monitoring  # registers case_deadlines, case_facts, stuck_alerts
import models.tables  # noqa: F401 - registers the tables on SQLModel.metadata


def make_engine(database_url: str) -> Engine:
    if database_url.startswith("sqlite"):
        path = database_url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(database_url, hide_parameters=True,
                               connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _wal(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            # WAL lets the API read while the worker writes.
            dbapi_connection.execute("PRAGMA journal_mode=WAL")

        return engine
    # hide_parameters: a failed statement must not carry a complainant's details into a log.
    return create_engine(database_url, pool_pre_ping=True, pool_size=10, max_overflow=20,
                         hide_parameters=True)


def lock_case(session: Session, reference: str) -> None:
    """Make this transaction the case's only writer until it ends.

    Several writers may project one case at once (the API from an action's answer, the
    workflow's backstop, a rebuild), and each reads the stored version before it writes: without
    the lock an older version could be written last. PostgreSQL: an advisory lock on the
    reference. SQLite: its single writer lock, taken before the reads (the driver would
    otherwise start the transaction only at the first write).
    """
    dialect = session.get_bind().dialect.name
    connection = session.connection()
    if dialect == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:reference))"),
                           {"reference": reference})
    elif dialect == "sqlite":
        if not connection.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
            connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        raise RuntimeError(f"no case lock for the {dialect} dialect")


def create_schema(engine: Engine) -> None:
    SQLModel.metadata.create_all(engine)


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back without their zone; every stored time is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
