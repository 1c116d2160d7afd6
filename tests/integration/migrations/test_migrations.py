"""The migrations: every revision goes up, down and up again, and head matches tables.py exactly."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text
from sqlalchemy.engine import URL
from sqlalchemy.schema import CreateTable

from healthmon.adapters.sqlalchemy.engine import WRITE_INTENT
from healthmon.adapters.sqlalchemy.migrations import alembic_config, compared_with, migration_engine
from healthmon.adapters.sqlalchemy.tables import WEBSERVERS_FILLFACTOR, Base, webservers_table
from tests.integration.conftest import scratch_database

TABLES = {
    "webservers",
    "requests",
    "workers",
    "events",
    "channels",
    "deliveries",
    "jobs",
    "rollups_hourly",
    "rollups_daily",
    "rollups_weekly",
    "rollup_marks",
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def connection(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Connection]:
    """A connection to an empty database of its own (a scratch one on PostgreSQL)."""
    url: str | URL
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('migrations') / 'healthmon.db'}"
        yield from _connect(url)
    else:
        admin_url: URL = request.getfixturevalue("postgres_admin_url")
        with scratch_database(admin_url, "healthmon_migrations") as url:
            yield from _connect(url)


def _connect(url: str | URL) -> Iterator[Connection]:
    engine = migration_engine(url)
    try:
        with engine.execution_options(**{WRITE_INTENT: True}).connect() as connection:
            yield connection
    finally:
        engine.dispose()


def _revisions() -> list[tuple[str, str]]:
    """(revision, the one below it or "base"), oldest first; the history is linear."""
    steps = []
    for script in reversed(list(ScriptDirectory.from_config(alembic_config()).walk_revisions())):
        down = script.down_revision
        assert down is None or isinstance(down, str), f"{script.revision} merges {down}"
        steps.append((script.revision, down or "base"))
    return steps


def _compare_options(connection: Connection) -> dict[str, object]:
    return {"compare_type": True, "include_object": compared_with(connection.dialect.name)}


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) & TABLES


def test_there_is_a_single_head_and_a_first_revision() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1
    assert _revisions()[0] == ("0001", "base")


def test_each_revision_upgrades_downgrades_and_upgrades_again(connection: Connection) -> None:
    config = alembic_config(connection)
    for revision, down_revision in _revisions():
        command.upgrade(config, revision)
        command.downgrade(config, down_revision)
        command.upgrade(config, revision)
        assert MigrationContext.configure(connection).get_current_revision() == revision
    assert _tables(connection) == TABLES
    command.downgrade(config, "base")
    assert _tables(connection) == set()


def test_head_matches_the_models_exactly(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "head")
    context = MigrationContext.configure(connection, opts=_compare_options(connection))
    assert compare_metadata(context, Base.metadata) == []


def test_the_comparison_would_see_a_missing_table(connection: Connection) -> None:
    # Guards the test above against passing because it compares nothing.
    command.upgrade(alembic_config(connection), "head")
    command.downgrade(alembic_config(connection), "base")
    context = MigrationContext.configure(connection, opts=_compare_options(connection))
    added = {diff[1].name for diff in compare_metadata(context, Base.metadata) if diff[0] == "add_table"}
    assert added == TABLES


def _webserver_options(connection: Connection) -> list[str] | None:
    options = connection.execute(text("SELECT reloptions FROM pg_class WHERE relname = 'webservers'"))
    found: list[str] | None = options.scalar_one()
    return found


# fillfactor is a PostgreSQL storage parameter: the test runs there only (SQLite has none).
@pytest.mark.parametrize("connection", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_webservers_pages_keep_room_for_health_saves_on_postgresql(connection: Connection) -> None:
    config = alembic_config(connection)
    command.upgrade(config, "head")
    # The comparison above does not look at storage parameters: the migration and tables.py
    # (whose CREATE TABLE says the same) are checked here.
    assert _webserver_options(connection) == [f"fillfactor={WEBSERVERS_FILLFACTOR}"]
    created = str(CreateTable(webservers_table).compile(dialect=connection.dialect))
    assert f"WITH (fillfactor = {WEBSERVERS_FILLFACTOR})" in created
    below = ScriptDirectory.from_config(config).get_revision("0010").down_revision
    assert isinstance(below, str)
    command.downgrade(config, below)
    assert _webserver_options(connection) is None
