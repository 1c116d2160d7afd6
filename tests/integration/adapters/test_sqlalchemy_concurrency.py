"""Recording, reconfiguring and removing one webserver at once from several threads, via the use cases."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from healthmon.adapters.sqlalchemy.engine import create_session_factory
from healthmon.adapters.sqlalchemy.tables import requests_table, webservers_table
from healthmon.adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from healthmon.application.use_cases.recording import RecordOutcome, RecordProbeResults
from healthmon.application.use_cases.webservers import (
    GetWebserver,
    RegisterWebserver,
    RemoveWebserver,
    UpdateWebserver,
)
from healthmon.domain.errors import WebserverNotFound
from healthmon.domain.health import HealthState
from healthmon.domain.probe import ProbeResult
from healthmon.domain.webserver import WebserverChanges, WebserverId
from tests.factories import failed, settings, succeeded
from tests.fakes import EPOCH, FakeClock

DEADLINE_SECONDS = 60
BATCHES = 60
PER_BATCH = 3
RENAMES = 40
# Batches of the second round recorded before the removal may start.
BEFORE_REMOVAL = 6


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def sessions(request: pytest.FixtureRequest) -> sessionmaker[Session]:
    """Sessions on an empty, migrated database of either kind."""
    if request.param == "sqlite":
        return create_session_factory(request.getfixturevalue("sqlite_engine"))
    factory: sessionmaker[Session] = request.getfixturevalue("postgres_session_factory")
    return factory


def run_together(*jobs: Callable[[], None]) -> None:
    """Start the jobs at the same moment on their own threads; fail on any error or on a hang."""
    start = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def run(job: Callable[[], None]) -> None:
        try:
            start.wait(DEADLINE_SECONDS)
            job()
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which fails the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(job,), daemon=True) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE_SECONDS)
    assert not any(thread.is_alive() for thread in threads), f"still running after {DEADLINE_SECONDS} s"
    assert errors == [], errors


def rows(engine: Engine, webserver_id: WebserverId | None = None) -> int:
    """Rows in `requests`, of one webserver or in all."""
    statement = select(func.count()).select_from(requests_table)
    if webserver_id is not None:
        statement = statement.where(requests_table.c.webserver_id == webserver_id)
    with engine.connect() as connection:
        return int(connection.execute(statement).scalar_one())


def orphans(engine: Engine) -> int:
    """Rows in `requests` whose webserver is gone."""
    statement = (
        select(func.count())
        .select_from(requests_table.outerjoin(webservers_table))
        .where(webservers_table.c.id.is_(None))
    )
    with engine.connect() as connection:
        return int(connection.execute(statement).scalar_one())


def test_recording_while_renaming_and_then_removing_loses_no_update_and_leaves_no_orphans(
    sessions: sessionmaker[Session],
) -> None:
    engine = sessions.kw["bind"]
    clock = FakeClock()
    target = RegisterWebserver(SqlAlchemyUnitOfWork(sessions), clock).execute(settings(1))
    bystander = RegisterWebserver(SqlAlchemyUnitOfWork(sessions), clock).execute(settings(2))
    outcomes: list[RecordOutcome] = []
    recorded_some = threading.Event()

    def batch(number: int) -> list[ProbeResult]:
        start = EPOCH + timedelta(minutes=number)
        return [succeeded(target.id, start + timedelta(seconds=n)) for n in range(PER_BATCH)] + [
            failed(bystander.id, start)
        ]

    def record(first: int, last: int) -> None:
        use_case = RecordProbeResults(SqlAlchemyUnitOfWork(sessions))
        for number in range(first, last):
            outcomes.append(use_case.execute(batch(number)))
            if number - first == BEFORE_REMOVAL - 1:
                recorded_some.set()

    def rename() -> None:
        use_case = UpdateWebserver(SqlAlchemyUnitOfWork(sessions), clock)
        for n in range(RENAMES):
            use_case.execute(target.id, WebserverChanges(name=f"renamed {n}"))

    run_together(lambda: record(0, BATCHES), rename)

    details = GetWebserver(SqlAlchemyUnitOfWork(sessions), FakeClock()).execute(target.id)
    assert details.webserver.settings.name == f"renamed {RENAMES - 1}"
    assert details.webserver.health.consecutive_successes == BATCHES * PER_BATCH
    assert details.webserver.state is HealthState.HEALTHY
    assert rows(engine, target.id) == BATCHES * PER_BATCH
    assert rows(engine, bystander.id) == BATCHES
    assert sum(outcome.stored for outcome in outcomes) == BATCHES * (PER_BATCH + 1)

    def remove() -> None:
        recorded_some.wait(DEADLINE_SECONDS)
        RemoveWebserver(SqlAlchemyUnitOfWork(sessions)).execute(target.id)

    outcomes.clear()
    recorded_some.clear()  # the removal waits for batches of this round, not of the first
    run_together(lambda: record(BATCHES, 2 * BATCHES), remove)
    late = RecordProbeResults(SqlAlchemyUnitOfWork(sessions)).execute(batch(2 * BATCHES))

    with pytest.raises(WebserverNotFound):
        GetWebserver(SqlAlchemyUnitOfWork(sessions), FakeClock()).execute(target.id)
    assert rows(engine, target.id) == 0
    assert orphans(engine) == 0
    assert rows(engine, bystander.id) == 2 * BATCHES + 1
    stored = sum(outcome.stored for outcome in outcomes)
    dropped = sum(outcome.dropped for outcome in outcomes)
    assert stored + dropped == BATCHES * (PER_BATCH + 1)
    # How many batches the recorder finishes before the removal commits is a race; what holds
    # whoever wins: each batch came wholly before the removal or wholly after it, in that order.
    whole, lost = (PER_BATCH + 1, 0), (1, PER_BATCH)
    counts = [(outcome.stored, outcome.dropped) for outcome in outcomes]
    before = counts.count(whole)
    assert counts == [whole] * before + [lost] * (BATCHES - before)
    assert before >= BEFORE_REMOVAL
    # And a batch that surely comes after the removal loses its target's results.
    assert (late.stored, late.dropped) == lost
    assert rows(engine) == 2 * BATCHES + 1
