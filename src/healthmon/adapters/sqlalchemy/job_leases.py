"""Periodic jobs' leases in the `jobs` table, dated by the dialect's clock as the workers' leases are."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import CursorResult, Update, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from healthmon.adapters.sqlalchemy.dialects import statements_for
from healthmon.adapters.sqlalchemy.errors import translated_errors
from healthmon.adapters.sqlalchemy.tables import jobs_table
from healthmon.adapters.sqlalchemy.transactions import start_writing
from healthmon.application.ports import JobLeases

_j = jobs_table.c


class SqlAlchemyJobLeases(JobLeases):
    """One row per job; each call is one short writing transaction."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._sessions = session_factory
        bind = session_factory.kw["bind"]
        self._clock = statements_for(bind.dialect).workers
        self._insert = postgresql.insert if bind.dialect.name == "postgresql" else sqlite.insert

    def take(self, job: str, holder: str, *, period: timedelta, lease: timedelta) -> bool:
        now = self._clock.now()
        free = or_(_j.holder.is_(None), _j.holder == holder, _j.lease_expires_at <= now)
        due = or_(_j.last_finished_at.is_(None), _j.last_finished_at <= self._clock.cutoff(period))
        # A conditional UPDATE: PostgreSQL checks the condition again on the newest row version,
        # so of two concurrent takers only the first one's update matches.
        statement = (
            update(jobs_table)
            .where(_j.name == job, free, due)
            .values(holder=holder, lease_expires_at=self._later(lease), last_started_at=now)
        )
        with self._sessions() as session, translated_errors():
            start_writing(session)
            session.execute(self._insert(jobs_table).values(name=job).on_conflict_do_nothing())
            taken = _rowcount(session, statement)
            session.commit()
        return taken == 1

    def renew(self, job: str, holder: str, lease: timedelta) -> bool:
        statement = (
            update(jobs_table)
            .where(_j.name == job, _j.holder == holder)
            .values(lease_expires_at=self._later(lease))
        )
        with self._sessions() as session, translated_errors():
            start_writing(session)
            renewed = _rowcount(session, statement)
            session.commit()
        return renewed == 1

    def finish(self, job: str, holder: str) -> None:
        statement = (
            update(jobs_table)
            .where(_j.name == job, _j.holder == holder)
            .values(holder=None, lease_expires_at=None, last_finished_at=self._clock.now())
        )
        with self._sessions() as session, translated_errors():
            start_writing(session)
            _rowcount(session, statement)
            session.commit()

    def _later(self, lease: timedelta) -> Any:
        # The cutoff of a negative age is that long after now, on the same clock.
        return self._clock.cutoff(-lease)


def _rowcount(session: Session, statement: Update) -> int:
    result: CursorResult[Any] = session.execute(statement)  # type: ignore[assignment]
    return result.rowcount


__all__ = ["SqlAlchemyJobLeases"]
