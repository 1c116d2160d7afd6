"""The probe history as a whole: its size, its daily partitions (PostgreSQL) and pruning what expired.

PostgreSQL drops whole days: a partition goes once the day it holds has ended before the cutoff,
in a transaction of its own that waits at most LOCK_TIMEOUT for its lock (else the next run tries
again), with no row-by-row DELETE and nothing left for VACUUM. SQLite deletes expired rows one
webserver range at a time, at most BATCH_ROWS per transaction, and gives the freed pages back with
incremental vacuum, a few at a time, so a writer never waits behind it for long.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any, Final

from sqlalchemy import CursorResult, Integer, column, func, literal_column, select, table, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import ColumnClause

from healthmon.adapters.sqlalchemy.errors import translated_errors
from healthmon.adapters.sqlalchemy.migrations import SQLITE_INCREMENTAL_VACUUM
from healthmon.adapters.sqlalchemy.partitions import (
    DEFAULT_PARTITION,
    ONE_DAY,
    create_partition,
    drop_partition,
    partition_days,
    partition_name,
    start_of,
)
from healthmon.adapters.sqlalchemy.tables import UtcDateTime, requests_table, webservers_table
from healthmon.adapters.sqlalchemy.transactions import start_writing
from healthmon.application.ports import HistoryStorage, HistoryUsage, PruneOutcome

logger = logging.getLogger(__name__)

LOCK_TIMEOUT: Final = "2s"
BATCH_ROWS: Final = 2000
VACUUM_PAGES: Final = 500
# How far into a partition the oldest probe is looked for at first; then a hundred times further.
_FIRST_LOOK: Final = timedelta(minutes=1)

_r = requests_table.c
_w = webservers_table.c


def _started_at(partition: str) -> ColumnClause[datetime]:
    return table(partition, column("started_at", UtcDateTime())).c.started_at


def history_storage_for(session_factory: sessionmaker[Session]) -> HistoryStorage:
    """The HistoryStorage of the database the session factory is bound to."""
    if session_factory.kw["bind"].dialect.name == "postgresql":
        return PostgresHistoryStorage(session_factory)
    return SqliteHistoryStorage(session_factory)


class PostgresHistoryStorage(HistoryStorage):
    """Daily partitions: sizes from the catalog, counts from the statistics, whole days dropped."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._sessions = session_factory

    def usage(self) -> HistoryUsage:
        # n_live_tup is kept up to date on every write (unlike reltuples, set by ANALYZE).
        sizes = text(
            "SELECT coalesce(sum(coalesce(s.n_live_tup, 0)), 0), "
            "coalesce(sum(pg_total_relation_size(c.oid)), 0) "
            "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid "
            "WHERE i.inhparent = CAST('requests' AS regclass)"
        )
        with self._sessions() as session, translated_errors():
            rows, size = session.execute(sizes).one()
            oldest = self._oldest(session)
        return HistoryUsage(rows=int(rows), bytes=int(size), oldest_started_at=oldest, rows_estimated=True)

    def _oldest(self, session: Session) -> datetime | None:
        # Rows lie in a partition in the order they were written, so the BRIN index finds the first
        # ones by reading a few block ranges, not the whole day; the default partition is small.
        stray = session.execute(select(func.min(_started_at(DEFAULT_PARTITION)))).scalar_one()
        for day in partition_days(session):
            if stray is not None and stray < start_of(day):
                return stray
            look = _FIRST_LOOK
            while look < ONE_DAY * 100:
                started_at = _started_at(partition_name(day))
                found = session.execute(
                    select(func.min(started_at)).where(started_at < start_of(day) + look)
                ).scalar_one()
                if found is not None:
                    return found if stray is None else min(found, stray)
                look *= 100
        return stray

    def prepare(self, first: date, through: date) -> int:
        with self._sessions() as session, translated_errors():
            existing = set(partition_days(session))
            created = 0
            for day in (first + ONE_DAY * n for n in range((through - first).days + 1)):
                if day in existing:
                    continue
                start_writing(session)
                session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
                create_partition(session, day)
                session.commit()
                created += 1
        return created

    def prune(self, before: datetime) -> PruneOutcome:
        rows = partitions = 0
        with self._sessions() as session, translated_errors():
            for day in partition_days(session):
                if start_of(day) + ONE_DAY > before:
                    break
                start_writing(session)
                session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
                rows += drop_partition(session, day)
                session.commit()
                partitions += 1
        return PruneOutcome(rows=rows, partitions=partitions)


class SqliteHistoryStorage(HistoryStorage):
    """One table: exact counts, sizes from dbstat, expired rows deleted in small batches."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._sessions = session_factory

    def usage(self) -> HistoryUsage:
        # Each webserver's oldest probe is the first entry of its index range.
        first = select(func.min(_r.started_at)).where(_r.webserver_id == _w.id).scalar_subquery()
        with self._sessions() as session, translated_errors():
            rows = session.execute(select(func.count()).select_from(requests_table)).scalar_one()
            oldest = session.execute(select(func.min(first))).scalar_one()
            # The table's pages and its indexes' (dbstat is built into the SQLite Python ships with).
            size = session.execute(
                text(
                    "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name IN "
                    "(SELECT name FROM sqlite_schema WHERE tbl_name = 'requests')"
                )
            ).scalar_one()
        return HistoryUsage(rows=rows, bytes=size, oldest_started_at=oldest, rows_estimated=False)

    def prepare(self, first: date, through: date) -> int:
        return 0

    def prune(self, before: datetime) -> PruneOutcome:
        with self._sessions() as session, translated_errors():
            webserver_ids = list(session.execute(select(_w.id).order_by(_w.id)).scalars())
            incremental = (
                session.execute(text("PRAGMA auto_vacuum")).scalar_one() == SQLITE_INCREMENTAL_VACUUM
            )
        deleted = 0
        position = 0
        while position < len(webserver_ids):
            with self._sessions() as session, translated_errors():
                start_writing(session)
                budget = BATCH_ROWS
                while position < len(webserver_ids) and budget > 0:
                    removed = _delete_expired(session, webserver_ids[position], before, budget)
                    budget -= removed
                    deleted += removed
                    if budget > 0:
                        position += 1  # fewer than asked for: this webserver has none left
                session.commit()
            if incremental:
                self._vacuum_some()
        while incremental and deleted and self._vacuum_some():
            pass
        return PruneOutcome(rows=deleted)

    def _vacuum_some(self) -> bool:
        """Give up to VACUUM_PAGES free pages back to the file system; whether free pages are left."""
        with self._sessions() as session, translated_errors():
            start_writing(session)
            session.execute(text(f"PRAGMA incremental_vacuum({VACUUM_PAGES})"))
            session.commit()
            left: int = session.execute(text("PRAGMA freelist_count")).scalar_one()
        return left > 0


_ROWID: ColumnClause[int] = literal_column("rowid", Integer())


def _delete_expired(session: Session, webserver_id: int, before: datetime, limit: int) -> int:
    # The unique index on (webserver_id, started_at) finds the expired range of one webserver.
    expired = (
        select(_ROWID)
        .select_from(requests_table)
        .where(_r.webserver_id == webserver_id, _r.started_at < before)
    ).limit(limit)
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        requests_table.delete().where(_ROWID.in_(expired))
    )
    return result.rowcount


__all__ = [
    "BATCH_ROWS",
    "LOCK_TIMEOUT",
    "PostgresHistoryStorage",
    "SqliteHistoryStorage",
    "history_storage_for",
]
