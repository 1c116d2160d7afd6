"""One worker per database: the second one to ask for the lock is refused until the first lets go."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from healthmon.adapters.sqlalchemy.engine import create_database_engine
from healthmon.adapters.sqlalchemy.worker_lock import single_worker_lock
from healthmon.application.errors import AnotherWorkerRunning


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engines(request: pytest.FixtureRequest) -> Iterator[tuple[Engine, Engine]]:
    """Two engines on one database, as two worker processes would have."""
    if request.param == "sqlite":
        url = request.getfixturevalue("sqlite_url")
    else:
        url = request.getfixturevalue("postgres_url")
    first, second = create_database_engine(url, pool_size=2), create_database_engine(url, pool_size=2)
    yield first, second
    first.dispose()
    second.dispose()


def test_a_second_worker_is_refused_while_the_first_runs(engines: tuple[Engine, Engine]) -> None:
    first, second = engines
    with single_worker_lock(first):
        with pytest.raises(AnotherWorkerRunning) as refused, single_worker_lock(second):
            pass
        assert "already runs on" in str(refused.value)
    # Released: a new worker may start.
    with single_worker_lock(second):
        pass
