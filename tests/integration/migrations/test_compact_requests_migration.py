"""Migration 0006 on a populated database: every probe is carried into the compact table and back."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Connection, text
from sqlalchemy.engine import URL

from healthmon.adapters.sqlalchemy.engine import WRITE_INTENT, create_database_engine, create_session_factory
from healthmon.adapters.sqlalchemy.migrations import (
    SQLITE_INCREMENTAL_VACUUM,
    alembic_config,
    migration_engine,
    upgrade_database,
)
from healthmon.adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from healthmon.domain.ids import WebserverId
from healthmon.domain.probe import ErrorKind, ProbeResult
from tests.integration.conftest import scratch_database

BEFORE = "0003"
COMPACT = "0006"
START = datetime(2026, 11, 20, 23, 59, 58, 123456, tzinfo=UTC)
# Rows of the old layout: (webserver_id, started_at, latency_ms, status_code, error_kind, message, success).
OLD_ROWS = [
    (1, START, 12.5, 200, None, None, True),
    (1, START + timedelta(seconds=3), 10_500.25, 200, None, None, False),
    (1, START + timedelta(days=1), 0.0, 503, None, None, False),
    (2, START, 60_000.0, None, "timeout", "No response within 60 s", False),
    (2, START + timedelta(microseconds=1), 3.001, None, "connection_refused", "Connection refused", False),
    *[(2, START + timedelta(hours=h), 1.0, 200, None, None, True) for h in range(1, 60)],
]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str | URL]:
    """An empty database of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('compact') / 'healthmon.db'}"
    else:
        admin_url: URL = request.getfixturevalue("postgres_admin_url")
        with scratch_database(admin_url, "healthmon_compact") as database:
            yield database


def _migrate(url: str | URL, revision: str, *, down: bool = False) -> None:
    engine = migration_engine(url)
    try:
        with engine.execution_options(**{WRITE_INTENT: True}).begin() as connection:
            (command.downgrade if down else command.upgrade)(alembic_config(connection), revision)
    finally:
        engine.dispose()


def _populate(connection: Connection) -> None:
    for number in (1, 2):
        connection.execute(
            text(
                "INSERT INTO webservers (id, name, url, interval_seconds, timeout_seconds, "
                "healthy_threshold, unhealthy_threshold, follow_redirects, verify_tls, created_at, "
                "updated_at) VALUES "
                "(:id, :name, :url, 60, 10, 5, 3, true, true, :at, :at)"
            ),
            {"id": number, "name": f"s{number}", "url": f"http://s{number}.test/", "at": START},
        )
    connection.execute(
        text(
            "INSERT INTO requests (webserver_id, started_at, latency_ms, status_code, error_kind, "
            "error_message, success) VALUES (:w, :t, :l, :s, :k, :m, :ok)"
        ),
        [dict(zip(("w", "t", "l", "s", "k", "m", "ok"), row, strict=True)) for row in OLD_ROWS],
    )


def _old_rows(connection: Connection) -> list[tuple[object, ...]]:
    rows = connection.execute(
        text(
            "SELECT webserver_id, started_at, latency_ms, status_code, error_kind, error_message, success "
            "FROM requests ORDER BY webserver_id, started_at"
        )
    ).all()
    return [(row[0], _utc(row[1]), *row[2:]) for row in rows]


def _utc(moment: datetime | str) -> datetime:
    if isinstance(moment, str):  # SQLite through a plain text() query
        moment = datetime.fromisoformat(moment)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _expected(webserver_id: int) -> list[ProbeResult]:
    return [
        ProbeResult(
            webserver_id=WebserverId(row[0]),
            started_at=row[1],
            latency_ms=row[2],
            status_code=row[3],
            success=row[6],
            error_kind=None if row[4] is None else ErrorKind(row[4]),
            error_message=row[5],
        )
        for row in sorted(OLD_ROWS, key=lambda row: row[1], reverse=True)
        if row[0] == webserver_id
    ]


def test_every_probe_is_carried_into_the_compact_table_and_back(url: str | URL) -> None:
    _migrate(url, BEFORE)
    engine = create_database_engine(url)
    try:
        with engine.execution_options(**{WRITE_INTENT: True}).begin() as connection:
            _populate(connection)
        with engine.connect() as connection:
            before = _old_rows(connection)
        assert len(before) == len(OLD_ROWS)
    finally:
        engine.dispose()

    _migrate(url, COMPACT)
    engine = create_database_engine(url)
    try:
        with SqlAlchemyUnitOfWork(create_session_factory(engine)) as uow:
            histories = {n: uow.probe_results.history(WebserverId(n), limit=1000) for n in (1, 2)}
    finally:
        engine.dispose()
    for number, history in histories.items():
        assert [probe.result for probe in history] == _expected(number)

    _migrate(url, BEFORE, down=True)
    engine = create_database_engine(url)
    try:
        with engine.connect() as connection:
            assert _old_rows(connection) == before
    finally:
        engine.dispose()


def test_an_older_sqlite_database_is_turned_to_incremental_vacuum(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with contextlib.closing(sqlite3.connect(path)) as old:
        old.execute("CREATE TABLE before_healthmon (x INTEGER)")
        assert old.execute("PRAGMA auto_vacuum").fetchone()[0] == 0
    upgrade_database(f"sqlite:///{path}")
    with contextlib.closing(sqlite3.connect(path)) as upgraded:
        assert upgraded.execute("PRAGMA auto_vacuum").fetchone()[0] == SQLITE_INCREMENTAL_VACUUM
