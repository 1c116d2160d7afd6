"""On PostgreSQL the rollup job waits for a writer still marking the hour it rolls up: no probe is missed."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from healthmon.adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from healthmon.application.use_cases.recording import RecordProbeResults
from healthmon.application.use_cases.rollups import RollUpHistory, RollupOutcome
from healthmon.domain.rollups import DAY, HOUR, Rollup, Span
from tests.factories import settings, succeeded
from tests.fakes import EPOCH
from tests.waiting import eventually_sync

DEADLINE_SECONDS = 30
MINUTE = timedelta(minutes=1)


def waiting_for_locks(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(
            session.execute(
                select(func.count()).select_from(text("pg_locks")).where(text("NOT granted"))
            ).scalar_one()
        )


@pytest.mark.postgres
def test_the_job_waits_for_a_writer_still_marking_the_hour(
    postgres_session_factory: sessionmaker[Session],
) -> None:
    sessions = postgres_session_factory
    with SqlAlchemyUnitOfWork(sessions) as uow:
        webserver = uow.webservers.add(settings(1), EPOCH)
        uow.commit()
    RecordProbeResults(SqlAlchemyUnitOfWork(sessions)).execute([succeeded(webserver.id, EPOCH + 10 * MINUTE)])
    marked, release = threading.Event(), threading.Event()

    def late_writer() -> None:
        # A late probe of the same hour, marking it while the job is about to roll it up.
        with SqlAlchemyUnitOfWork(sessions) as uow:
            uow.probe_results.add_many([succeeded(webserver.id, EPOCH + 20 * MINUTE)])
            uow.rollups.mark_hours([EPOCH])
            marked.set()
            release.wait(DEADLINE_SECONDS)
            uow.commit()

    outcomes: list[RollupOutcome] = []
    writer = threading.Thread(target=late_writer, daemon=True)
    writer.start()
    assert marked.wait(DEADLINE_SECONDS)
    job = threading.Thread(
        target=lambda: outcomes.append(RollUpHistory(SqlAlchemyUnitOfWork(sessions)).run(EPOCH + DAY)),
        daemon=True,
    )
    job.start()
    eventually_sync(lambda: waiting_for_locks(sessions) > 0, what="the job waiting for the writer's mark")
    assert not outcomes
    release.set()
    writer.join(DEADLINE_SECONDS)
    job.join(DEADLINE_SECONDS)
    assert outcomes
    assert outcomes[0].hours == 1
    with SqlAlchemyUnitOfWork(sessions) as uow:
        [(_, hourly)] = uow.rollups.hourly(None, Span(EPOCH, EPOCH + HOUR))[webserver.id]
        assert uow.rollups.rolled_up_until() is None
    assert hourly.probes == 2


@pytest.mark.postgres
def test_the_job_writing_rollups_never_waits_for_a_writer_waiting_for_it(
    postgres_session_factory: sessionmaker[Session],
) -> None:
    sessions = postgres_session_factory
    with SqlAlchemyUnitOfWork(sessions) as uow:
        webserver = uow.webservers.add(settings(1), EPOCH)
        uow.rollups.mark_hours([EPOCH])
        uow.commit()
    job = SqlAlchemyUnitOfWork(sessions)
    with job:
        assert job.rollups.unmark_hour(EPOCH)
        writer_done = threading.Event()

        def late_writer() -> None:
            # Holds the webserver's row, as RecordProbeResults does, then waits for the job's mark.
            with SqlAlchemyUnitOfWork(sessions) as uow:
                uow.webservers.get_many([webserver.id], lock=True)
                uow.rollups.mark_hours([EPOCH])
                uow.commit()
            writer_done.set()

        writer = threading.Thread(target=late_writer, daemon=True)
        writer.start()
        eventually_sync(lambda: waiting_for_locks(sessions) > 0, what="the writer waiting for the job's mark")
        # The job's rollup references the row the writer holds; it must not wait for it.
        job.rollups.save_hourly(EPOCH, {webserver.id: Rollup(1, 1)})
        job.commit()
    writer.join(DEADLINE_SECONDS)
    assert writer_done.is_set()
    with SqlAlchemyUnitOfWork(sessions) as uow:
        assert uow.rollups.rolled_up_until() == EPOCH  # marked again by the writer
