"""Storage backends for the contract suite: each yields a factory of units of work on an empty store.

PostgreSQL: HEALTHMON_TEST_POSTGRES_URL names a server and an admin database (default: the local
server as `postgres`). The suite creates one database of its own per run, migrates it once, empties
it before each test and drops it at the end. When no server answers, the PostgreSQL cases are
skipped with the reason, or fail when HEALTHMON_REQUIRE_POSTGRES=1 (as in CI).

Schemas are always built by the Alembic migrations, never by `metadata.create_all`.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

from healthmon.adapters.memory import InMemoryStore, InMemoryUnitOfWork
from healthmon.adapters.sqlalchemy.engine import (
    check_database,
    create_database_engine,
    create_session_factory,
    database_url,
)
from healthmon.adapters.sqlalchemy.migrations import upgrade_database
from healthmon.adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from healthmon.application.errors import StorageUnavailable
from healthmon.application.ports import UnitOfWork

UowFactory = Callable[[], UnitOfWork]

DEFAULT_TEST_POSTGRES_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
# Connections per test engine: enough for the concurrency tests' threads.
TEST_POOL_SIZE = 8


def postgres_unavailable(reason: str) -> NoReturn:
    """Skip a PostgreSQL test with the reason, or fail it when HEALTHMON_REQUIRE_POSTGRES=1."""
    if os.environ.get("HEALTHMON_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"{reason} (HEALTHMON_REQUIRE_POSTGRES=1 turns this skip into a failure)")
    pytest.skip(reason)


@contextmanager
def scratch_database(admin_url: URL, prefix: str) -> Iterator[URL]:
    """A new, empty PostgreSQL database named prefix_PID_RANDOM, dropped on exit."""
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    # CREATE/DROP DATABASE cannot run in a transaction, and SQLAlchemy has no construct for them.
    engine = create_database_engine(admin_url, pool_size=1)
    admin = engine.execution_options(isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield admin_url.set(database=name)
        finally:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_admin_url() -> URL:
    """The PostgreSQL admin URL, once a server has answered on it."""
    url = database_url(os.environ.get("HEALTHMON_TEST_POSTGRES_URL", DEFAULT_TEST_POSTGRES_URL))
    engine = create_database_engine(url, pool_size=1)
    try:
        check_database(engine)
    except StorageUnavailable as exc:
        postgres_unavailable(f"no PostgreSQL for the tests: {exc}")
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="session")
def postgres_url(postgres_admin_url: URL) -> Iterator[URL]:
    """This run's own PostgreSQL database, migrated to the newest schema."""
    with scratch_database(postgres_admin_url, "healthmon_test") as url:
        upgrade_database(url)
        yield url


@pytest.fixture(scope="session")
def postgres_engine(postgres_url: URL) -> Iterator[Engine]:
    """One engine on this run's PostgreSQL database, disposed at the end."""
    engine = create_database_engine(postgres_url, pool_size=TEST_POOL_SIZE)
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_session_factory(postgres_engine: Engine) -> sessionmaker[Session]:
    """Sessions on the PostgreSQL database, emptied for this test (ids start again at 1)."""
    with postgres_engine.begin() as connection:
        # Far faster than dropping and migrating again; SQLAlchemy has no TRUNCATE construct.
        connection.exec_driver_sql(
            "TRUNCATE webservers, requests, workers, events, channels, deliveries, jobs, "
            "rollups_hourly, rollups_daily, rollups_weekly, rollup_marks RESTART IDENTITY CASCADE"
        )
    return create_session_factory(postgres_engine)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty SQLite database file that each test copies."""
    path = tmp_path_factory.mktemp("sqlite-template") / "healthmon.db"
    upgrade_database(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """The URL of a migrated SQLite database file of this test's own."""
    path = tmp_path / "healthmon.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    """An engine on this test's SQLite database, disposed at the end."""
    engine = create_database_engine(sqlite_url, pool_size=TEST_POOL_SIZE)
    yield engine
    engine.dispose()


@pytest.fixture(name="database_url", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest) -> str:
    """The URL of an empty, migrated database on each backend (for code that opens its own engine)."""
    if request.param == "sqlite":
        url: str = request.getfixturevalue("sqlite_url")
        return url
    request.getfixturevalue("postgres_session_factory")  # empties this run's database
    postgres: URL = request.getfixturevalue("postgres_url")
    return postgres.render_as_string(hide_password=False)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def uow_factory(request: pytest.FixtureRequest) -> UowFactory:
    """A fresh, empty store on every backend; each call gives a new unit of work on it."""
    backend = request.param
    if backend == "memory":
        store = InMemoryStore()
        return lambda: InMemoryUnitOfWork(store)
    if backend == "sqlite":
        sqlite_sessions = create_session_factory(request.getfixturevalue("sqlite_engine"))
        return lambda: SqlAlchemyUnitOfWork(sqlite_sessions)
    if backend == "postgres":
        postgres_sessions: sessionmaker[Session] = request.getfixturevalue("postgres_session_factory")
        return lambda: SqlAlchemyUnitOfWork(postgres_sessions)
    raise AssertionError(f"unknown backend {backend}")  # pragma: no cover - guards a typo
