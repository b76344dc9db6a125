"""Alembic migrations (migrations/): an empty database upgraded to head has exactly the tables
the models declare, and an upgrade from the previous revision keeps the rows already there;
on SQLite and on PostgreSQL (a database of its own, created and dropped here).
"""

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

import core.db  # every table on SQLModel.metadata; create_schema below
from core.admin import main as admin
from migrations import alembic_config, upgrade

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _postgres_server() -> str:
    url = os.environ.get("CASES_TEST_DATABASE_URL", "")
    return url if url.startswith("postgresql") else POSTGRES


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or a PostgreSQL database made for this test alone."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrated.db'}"
        return
    server = sa.make_url(_postgres_server())
    admin_dsn = server.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"cases_migrations_{uuid.uuid4().hex[:8]}"
    try:
        maintenance = psycopg.connect(admin_dsn, autocommit=True)
    except psycopg.OperationalError as err:
        if os.environ.get("CASES_TEST_DATABASE_URL"):
            raise
        pytest.skip(f"PostgreSQL not reachable at {server.host}:{server.port}: {err}")
    with maintenance:
        maintenance.execute(f'CREATE DATABASE "{name}"')
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            maintenance.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def schema_differences(url: str) -> list[Any]:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return compare_metadata(context, SQLModel.metadata)
    finally:
        engine.dispose()


def previous_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    before = ScriptDirectory.from_config(alembic_config()).get_revision(head).down_revision
    assert isinstance(before, str), "the history is one line of revisions"
    return before


def current_revision(url: str) -> str | None:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def sample_value(column: sa.Column[Any]) -> Any:
    """A value of the column's type, whatever the revision made it."""
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return True
    if isinstance(kind, sa.Integer):
        return 7
    if isinstance(kind, sa.DateTime):
        return datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    if isinstance(kind, sa.Date):
        return date(2026, 11, 23)
    return "MIG-1"


def insert_sample_rows(url: str) -> dict[str, dict[str, Any]]:
    """One row in each table the database has now, through the schema as it is (reflected)."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    written: dict[str, dict[str, Any]] = {}
    try:
        metadata = sa.MetaData()
        metadata.reflect(engine)
        with engine.begin() as connection:
            for table in metadata.sorted_tables:
                if table.name == "alembic_version":
                    continue
                row = {c.name: sample_value(c) for c in table.columns
                       if c is not table.autoincrement_column}
                connection.execute(table.insert().values(row))
                written[table.name] = row
    finally:
        engine.dispose()
    return written


def read_rows(url: str, tables: list[str]) -> dict[str, list[dict[str, Any]]]:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        metadata = sa.MetaData()
        metadata.reflect(engine, only=tables)
        with engine.connect() as connection:
            return {name: [dict(r._mapping) for r in connection.execute(metadata.tables[name].select())]
                    for name in tables}
    finally:
        engine.dispose()


def same(stored: Any, written: Any) -> bool:
    if isinstance(written, datetime) and isinstance(stored, datetime):
        # SQLite gives the instant back without its offset.
        return stored.replace(tzinfo=stored.tzinfo or UTC) == written
    return bool(stored == written)


def test_empty_database_upgraded_to_head_matches_the_models(database_url: str) -> None:
    """Catches a table or column added to the models without a migration (docs/migrations.md)."""
    upgrade(database_url)
    differences = schema_differences(database_url)
    assert differences == [], (
        "the models differ from the migrations; add a revision with "
        "`alembic revision --autogenerate -m '...'` (docs/migrations.md):\n"
        + "\n".join(map(str, differences)))
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert current_revision(database_url) == head


def test_upgrade_from_the_previous_revision_keeps_the_rows(database_url: str) -> None:
    before = previous_revision()
    upgrade(database_url, before)
    written = insert_sample_rows(database_url)
    assert {"cases", "case_history", "users"} <= set(written)

    upgrade(database_url)

    stored = read_rows(database_url, list(written))
    for table, row in written.items():
        assert len(stored[table]) == 1, table
        assert all(same(stored[table][0][k], v) for k, v in row.items()), (table, stored[table])
    print(f"upgraded {before} -> head keeping {len(written)} rows: {', '.join(sorted(written))}")


def tables(url: str) -> set[str]:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_every_revision_downgrades_and_upgrades_again(database_url: str) -> None:
    upgrade(database_url)
    at_head = tables(database_url)
    command.downgrade(alembic_config(database_url), "base")
    assert tables(database_url) == set()
    upgrade(database_url)
    assert tables(database_url) == at_head


def test_migrate_command_adopts_tables_made_before_migrations(database_url: str) -> None:
    """A database created by create_schema before Alembic (no alembic_version) is stamped at
    the revision its tables match, upgraded, and keeps its rows."""
    upgrade(database_url, "0003")
    written = insert_sample_rows(database_url)
    engine = sa.create_engine(database_url, poolclass=sa.NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("DROP TABLE alembic_version"))
    finally:
        engine.dispose()

    assert admin(["migrate", "--url", database_url]) == 0

    assert current_revision(database_url) == \
        ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert {t: len(r) for t, r in read_rows(database_url, list(written)).items()} == \
        dict.fromkeys(written, 1)


def test_migrate_command_adopts_tables_made_before_the_login_throttle(database_url: str) -> None:
    """A database create_schema made before login_throttle existed (every other table, exactly)
    is adopted at 0005 and gets the table from 0006, rather than failing on 0005's indexes."""
    engine = sa.create_engine(database_url, poolclass=sa.NullPool)
    try:
        core.db.create_schema(engine)
        with engine.begin() as connection:
            connection.execute(sa.text("DROP TABLE login_throttle"))
    finally:
        engine.dispose()
    written = insert_sample_rows(database_url)

    assert admin(["migrate", "--url", database_url]) == 0

    assert "login_throttle" in tables(database_url)
    assert schema_differences(database_url) == []
    assert {t: len(r) for t, r in read_rows(database_url, list(written)).items()} == \
        dict.fromkeys(written, 1)
