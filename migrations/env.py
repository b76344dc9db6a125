"""Alembic's environment: SQLModel.metadata as core.db registers it, on the read-model database.

The database is, in order: a connection handed over by the caller (migrations.upgrade), the
url in config.attributes, `-x url=...` on the alembic command line, CASES_DATABASE_URL.
"""

from typing import Any, cast

from alembic import context
from sqlalchemy import Connection, String
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

import core.db  # noqa: F401 - registers every table on SQLModel.metadata
from core.db import make_engine
from core.settings import Settings

config = context.config


def database_url() -> str:
    return (config.attributes.get("url") or context.get_x_argument(as_dictionary=True).get("url")
            or Settings().database_url)


def render_item(kind: str, obj: Any, autogen: Any) -> str | bool:
    """Autogenerate writes plain SQLAlchemy types, so revisions never import sqlmodel."""
    if kind == "type" and isinstance(obj, AutoString):
        return f"sa.String(length={cast(String, obj.impl).length!r})"
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


OPTIONS: dict[str, Any] = {"target_metadata": SQLModel.metadata, "compare_type": True,
                           "render_item": render_item}


def run(connection: Connection) -> None:
    # SQLite alters a table by copying it: batch mode makes add/alter column work there.
    context.configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite",
                      **OPTIONS)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():  # `alembic upgrade head --sql`: the DDL to hand to a DBA
    context.configure(url=database_url(), literal_binds=True, **OPTIONS)
    with context.begin_transaction():
        context.run_migrations()
elif (given := config.attributes.get("connection")) is not None:
    run(given)
else:
    engine = make_engine(database_url())
    try:
        with engine.begin() as connection:
            run(connection)
    finally:
        engine.dispose()
