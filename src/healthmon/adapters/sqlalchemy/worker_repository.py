"""Workers in the `workers` table, and the leases they hold in `webservers.lease_owner` and `lease_epoch`."""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import CursorResult, Select, any_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from healthmon.adapters.sqlalchemy.converters import WORKER_COLUMNS, to_worker, worker_values
from healthmon.adapters.sqlalchemy.errors import translated_errors
from healthmon.adapters.sqlalchemy.postgres_arrays import ArrayLiteral
from healthmon.adapters.sqlalchemy.tables import webservers_table, workers_table
from healthmon.adapters.sqlalchemy.transactions import start_writing
from healthmon.application.ports import WorkerInfo, WorkerRepository
from healthmon.domain.ids import WebserverId

logger = logging.getLogger(__name__)

_w = webservers_table.c
_k = workers_table.c

# A moment in a statement: the database's clock, or a value this process sends.
Moment = ColumnElement[datetime] | datetime


class WorkerStatements(Protocol):
    """Whose clock dates heartbeats and judges leases, and how many webservers' epochs are read."""

    def now(self) -> Moment:
        """The time now."""
        ...

    def cutoff(self, ttl: timedelta) -> Moment:
        """The oldest heartbeat that is still fresh, given its time to live."""
        ...

    def select_epochs(self, webserver_ids: Collection[WebserverId]) -> tuple[Select[Any], dict[str, Any]]:
        """The statement, and its parameters, that reads (id, lease_epoch) of these webservers."""
        ...


class SqliteWorkerStatements(WorkerStatements):
    """SQLite runs on the one machine that runs its only worker, so this process's clock is the database's."""

    def now(self) -> Moment:
        return datetime.now(UTC)

    def cutoff(self, ttl: timedelta) -> Moment:
        return datetime.now(UTC) - ttl

    def select_epochs(self, webserver_ids: Collection[WebserverId]) -> tuple[Select[Any], dict[str, Any]]:
        return select(_w.id, _w.lease_epoch).where(_w.id.in_(list(webserver_ids))), {}


class PostgresWorkerStatements(WorkerStatements):
    """PostgreSQL's now(): workers on machines whose clocks disagree still agree on who holds what."""

    def now(self) -> Moment:
        return func.now()

    def cutoff(self, ttl: timedelta) -> Moment:
        return func.now() - func.make_interval(0, 0, 0, 0, 0, 0, ttl.total_seconds())

    # id = ANY(one array literal), not IN with a parameter per id: the writer reads a batch's epochs
    # (1,000 servers) before each commit, and 1,000 parameters cost it about 2 ms more (measured).
    _EPOCHS = select(_w.id, _w.lease_epoch).where(
        _w.id == any_(bindparam("webserver_ids", type_=ArrayLiteral(_w.id.type)))
    )

    def select_epochs(self, webserver_ids: Collection[WebserverId]) -> tuple[Select[Any], dict[str, Any]]:
        return self._EPOCHS, {"webserver_ids": list(webserver_ids)}


class SqlAlchemyWorkerRepository(WorkerRepository):
    """Workers in the `workers` table and leases in `webservers.lease_owner`, dated by the dialect's clock."""

    def __init__(self, session: Session, statements: WorkerStatements) -> None:
        self._session = session
        self._statements = statements

    def beat(self, worker: WorkerInfo) -> None:
        values = {**worker_values(worker), "heartbeat_at": self._statements.now()}
        with translated_errors():
            start_writing(self._session)
            # The worker's own row: no one else writes it, so update-then-insert cannot race.
            updated: CursorResult[Any] = self._session.execute(  # type: ignore[assignment]
                update(workers_table).where(_k.id == worker.id).values(values)
            )
            if updated.rowcount == 0:
                self._session.execute(insert(workers_table).values(id=worker.id, **values))

    def leave(self, worker_id: str) -> None:
        with translated_errors():
            start_writing(self._session)
            self._session.execute(
                update(webservers_table).where(_w.lease_owner == worker_id).values(lease_owner=None)
            )
            self._session.execute(delete(workers_table).where(_k.id == worker_id))

    def live(self, ttl: timedelta) -> list[WorkerInfo]:
        statement = (
            select(*WORKER_COLUMNS)
            .where(_k.heartbeat_at > self._statements.cutoff(ttl))
            .order_by(_k.started_at, _k.id)
        )
        with translated_errors():
            return [to_worker(row) for row in self._session.execute(statement)]

    def claim(self, worker_id: str, *, ttl: timedelta, limit: int) -> int:
        if limit < 1:
            return 0
        live = select(_k.id).where(_k.heartbeat_at > self._statements.cutoff(ttl))
        # SKIP LOCKED: rows another claimer (or a writer of results) holds are left for the next round,
        # so concurrent claimers never wait for each other (SQLite ignores it). NOT IN rather than NOT
        # EXISTS: PostgreSQL turns NOT EXISTS into an anti-join, which it does not check again on a row
        # another claimer took meanwhile, so both would take it; NOT IN stays a filter on the row,
        # checked again on its newest version.
        claimable = (
            select(_w.id)
            .where(or_(_w.lease_owner.is_(None), _w.lease_owner.not_in(live)))
            .order_by(_w.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=webservers_table)
        )
        # The epoch moves on with every change of hands: results taken under the old one are fenced off.
        statement = (
            update(webservers_table)
            .where(_w.id.in_(claimable))
            .values(lease_owner=worker_id, lease_epoch=_w.lease_epoch + 1)
        )
        with translated_errors():
            start_writing(self._session)
            result: CursorResult[Any] = self._session.execute(statement)  # type: ignore[assignment]
        return result.rowcount

    def held(self, worker_id: str) -> dict[WebserverId, int]:
        statement = select(_w.id, _w.lease_epoch).where(_w.lease_owner == worker_id)
        with translated_errors():
            return {WebserverId(row.id): row.lease_epoch for row in self._session.execute(statement)}

    def epochs(self, webserver_ids: Collection[WebserverId]) -> dict[WebserverId, int]:
        if not webserver_ids:
            return {}
        statement, parameters = self._statements.select_epochs(webserver_ids)
        with translated_errors():
            rows = self._session.execute(statement, parameters)
            return {WebserverId(row.id): row.lease_epoch for row in rows}

    def release(self, worker_id: str, webserver_ids: Collection[WebserverId]) -> int:
        if not webserver_ids:
            return 0
        statement = (
            update(webservers_table)
            .where(_w.lease_owner == worker_id, _w.id.in_(list(webserver_ids)))
            .values(lease_owner=None)
        )
        with translated_errors():
            start_writing(self._session)
            result: CursorResult[Any] = self._session.execute(statement)  # type: ignore[assignment]
        return result.rowcount

    def forget(self, ttl: timedelta) -> int:
        statement = delete(workers_table).where(_k.heartbeat_at <= self._statements.cutoff(ttl))
        with translated_errors():
            start_writing(self._session)
            result: CursorResult[Any] = self._session.execute(statement)  # type: ignore[assignment]
        return result.rowcount


__all__ = [
    "PostgresWorkerStatements",
    "SqlAlchemyWorkerRepository",
    "SqliteWorkerStatements",
    "WorkerStatements",
]
