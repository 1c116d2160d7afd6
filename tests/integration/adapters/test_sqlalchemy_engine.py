"""Engines: which URLs are accepted, how passwords are hidden, and how SQLite connections are set up."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from healthmon.adapters.sqlalchemy.engine import (
    check_database,
    create_database_engine,
    create_session_factory,
    database_url,
    masked_url,
)
from healthmon.adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from healthmon.application.errors import DatabaseConfigurationError, StorageRejected, StorageUnavailable
from healthmon.domain.webserver import WebserverId
from tests.factories import settings
from tests.fakes import EPOCH


def test_masked_url_hides_the_password_of_a_database_url() -> None:
    masked = masked_url("postgresql+psycopg2://healthmon:s3cret@db.example:5432/healthmon")
    assert masked == "postgresql+psycopg2://healthmon:***@db.example:5432/healthmon"


def test_masked_url_hides_the_password_even_in_text_that_is_not_a_url() -> None:
    masked = masked_url("postgres ql://healthmon:s3cret@db.example/healthmon")
    assert "s3cret" not in masked
    assert "healthmon:***@db.example" in masked


@pytest.mark.parametrize(
    ("url", "backend_and_driver"),
    [
        ("sqlite:///healthmon.db", ("sqlite", "pysqlite")),
        ("sqlite+pysqlite:///healthmon.db", ("sqlite", "pysqlite")),
        ("postgresql+psycopg2://u@h/db", ("postgresql", "psycopg2")),
        ("postgresql://u@h/db", ("postgresql", "psycopg2")),
    ],
)
def test_sqlite_and_psycopg2_urls_are_accepted(url: str, backend_and_driver: tuple[str, str]) -> None:
    parsed = database_url(url)
    assert (parsed.get_backend_name(), parsed.get_driver_name()) == backend_and_driver


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://x", "'ftp' is not a supported database"),
        ("mysql://healthmon:s3cret@h/db", "'mysql' is not supported"),
        ("postgresql+asyncpg://healthmon:s3cret@h/db", "'postgresql+asyncpg' is not supported"),
        ("not a url", "it is not a database URL"),
        ("", "it is not a database URL"),
    ],
)
def test_other_urls_are_rejected_with_the_password_masked(url: str, reason: str) -> None:
    with pytest.raises(DatabaseConfigurationError) as raised:
        create_database_engine(url)
    assert reason in str(raised.value)
    assert "s3cret" not in str(raised.value)


@pytest.fixture
def sqlite_file_engine(tmp_path: Path) -> Iterator[Engine]:
    """An engine on an empty SQLite file with no schema."""
    engine = create_database_engine(f"sqlite:///{tmp_path / 'bare.db'}", pool_size=2)
    yield engine
    engine.dispose()


def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(sqlite_file_engine: Engine) -> None:
    with sqlite_file_engine.connect() as connection:
        pragmas = {
            name: connection.exec_driver_sql(f"PRAGMA {name}").scalar_one()
            for name in ("journal_mode", "foreign_keys", "busy_timeout")
        }
    assert pragmas == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 3_000}


def test_sqlite_readers_are_not_blocked_by_a_writer_in_progress(sqlite_engine: Engine) -> None:
    sessions = create_session_factory(sqlite_engine)
    with SqlAlchemyUnitOfWork(sessions) as uow:
        first = uow.webservers.add(settings(1), EPOCH)
        uow.commit()
    with SqlAlchemyUnitOfWork(sessions) as writer:
        # The writer holds SQLite's write lock (BEGIN IMMEDIATE) until its block ends ...
        writer.webservers.add(settings(2), EPOCH)
        # ... and a reader still answers at once, from the last committed state.
        with SqlAlchemyUnitOfWork(sessions) as reader:
            assert reader.webservers.list(limit=10) == [first]
        writer.commit()


def test_a_database_without_the_schema_is_rejected_not_unavailable(sqlite_file_engine: Engine) -> None:
    with (
        pytest.raises(StorageRejected, match="no such table"),
        SqlAlchemyUnitOfWork(create_session_factory(sqlite_file_engine)) as uow,
    ):
        uow.webservers.get(WebserverId(1))


def test_check_database_names_the_masked_url_and_the_cause(tmp_path: Path) -> None:
    engine = create_database_engine(f"sqlite:///{tmp_path / 'missing-directory' / 'x.db'}")
    try:
        with pytest.raises(StorageUnavailable) as raised:
            check_database(engine)
    finally:
        engine.dispose()
    assert str(raised.value) == (
        f"The database is unavailable: sqlite:///{tmp_path / 'missing-directory' / 'x.db'}: "
        "unable to open database file"
    )
