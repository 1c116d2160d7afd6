"""One worker per SQLite database; any number on PostgreSQL, where workers share servers through leases."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import URL

from healthmon.adapters.sqlalchemy.engine import create_database_engine
from healthmon.adapters.sqlalchemy.worker_lock import sqlite_worker_lock
from healthmon.application.errors import AnotherWorkerRunning


@contextmanager
def two_engines(url: str | URL) -> Iterator[tuple[Engine, Engine]]:
    """Two engines on one database, as two worker processes would have."""
    first, second = create_database_engine(url, pool_size=2), create_database_engine(url, pool_size=2)
    try:
        yield first, second
    finally:
        first.dispose()
        second.dispose()


def test_a_second_worker_on_sqlite_is_refused_while_the_first_runs(sqlite_url: str) -> None:
    with two_engines(sqlite_url) as (first, second):
        with sqlite_worker_lock(first):
            with pytest.raises(AnotherWorkerRunning) as refused, sqlite_worker_lock(second):
                pass
            assert "on SQLite only one worker may run" in str(refused.value)
        # Released: a new worker may start.
        with sqlite_worker_lock(second):
            pass


@pytest.mark.postgres
def test_workers_on_postgres_start_side_by_side(postgres_url: URL) -> None:
    with two_engines(postgres_url) as (first, second), sqlite_worker_lock(first), sqlite_worker_lock(second):
        pass
