"""Schema migrations of the read-model and audit tables (Alembic; docs/migrations.md).

`upgrade(url)` is what `cases-admin migrate` runs. It works without alembic.ini, so the
installed image (which has no repository root) finds its revisions through this package.
"""

from collections.abc import Collection
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Connection, MetaData, inspect
from sqlmodel import SQLModel

from core.db import make_engine

SCRIPTS = Path(__file__).parent

# Before migrations existed, core.db.create_schema made the tables directly. Such a database is
# adopted at head if it matches the models exactly, else at the newest of these revisions whose
# tables it holds (newest first), then upgraded from there.
ADOPT_AT: list[tuple[str, set[str]]] = [
    ("0004", {"cases", "case_history", "users", "audit_log", "outbox", "suspect_index",
              "case_deadlines", "case_facts", "stuck_alerts"}),
    ("0003", {"cases", "case_history", "users", "audit_log", "outbox", "suspect_index"}),
    ("0002", {"cases", "case_history", "users", "audit_log", "outbox"}),
    ("0001", {"cases", "case_history", "users"}),
]
# Revisions followed only by new tables: a database that matches the models but for exactly
# those tables (created before they existed) is adopted at that revision, newest first.
ADOPT_BEFORE_TABLES: list[tuple[str, set[str]]] = [
    ("0005", {"login_throttle"}),
]


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    if url is not None:
        # Not a main option: ConfigParser would read the % of an encoded password as its own.
        config.attributes["url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> str | None:
    """Bring the database at `url` to `revision`; return the revision it was adopted at, if any."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            config = alembic_config(url)
            config.attributes["connection"] = connection
            tables = set(inspect(connection).get_table_names())
            adopted = None
            if "alembic_version" not in tables and tables & set(SQLModel.metadata.tables):
                adopted = _adopt_at(connection, tables)
                command.stamp(config, adopted)
            command.upgrade(config, revision)
        return adopted
    finally:
        engine.dispose()


def _matches(connection: Connection, without: Collection[str] = ()) -> bool:
    """Whether the database holds exactly the models' tables, those named `without` aside."""
    metadata = MetaData()
    for table in SQLModel.metadata.tables.values():
        if table.name not in without:
            table.to_metadata(metadata)
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return not compare_metadata(context, metadata)


def _adopt_at(connection: Connection, tables: set[str]) -> str:
    if _matches(connection):
        return "head"
    for revision, newer in ADOPT_BEFORE_TABLES:
        if not tables & newer and _matches(connection, without=newer):
            return revision
    adopt = next((rev for rev, needed in ADOPT_AT if needed <= tables), None)
    if adopt is None:
        raise RuntimeError(f"cannot tell which revision holds the tables {sorted(tables)}: "
                           "stamp it by hand (docs/migrations.md)")
    return adopt
