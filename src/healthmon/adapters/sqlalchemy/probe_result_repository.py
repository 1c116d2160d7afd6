"""Probe results in the `requests` table: a worker's batch in one statement, history pages newest first.

A history page is read as a few time windows, newest first, each one query that stops at the
page's size. SQLite has one window, the whole range, read in order from its index on
(webserver_id, started_at). PostgreSQL's index holds webserver_id alone (see tables.py), so a
window reads that server's rows in the partitions it spans and sorts them: the first window is
the newest day, and each next one spans twice as many days, down to the oldest partition. A page
of the last probes reads one day of one server; a page deep in a sparse history a few windows.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Select, any_, bindparam, insert, select, true
from sqlalchemy.orm import Session

from healthmon.adapters.sqlalchemy.converters import (
    REQUEST_COLUMNS,
    REQUEST_INSERT_COLUMNS,
    AnyRow,
    request_values,
    to_recorded_probe,
)
from healthmon.adapters.sqlalchemy.errors import translated_errors
from healthmon.adapters.sqlalchemy.partitions import ONE_DAY, partition_days, start_of
from healthmon.adapters.sqlalchemy.postgres_arrays import ArrayLiteral, as_arrays, unnested
from healthmon.adapters.sqlalchemy.tables import requests_table, webservers_table
from healthmon.adapters.sqlalchemy.transactions import start_writing
from healthmon.application.ports import HistoryCursor, ProbeResultRepository
from healthmon.domain.ids import WebserverId
from healthmon.domain.probe import ProbeResult, RecordedProbe, probe_id_of

logger = logging.getLogger(__name__)

_w = webservers_table.c
_r = requests_table.c


# The smallest step of a timestamp: the last instant before `end` is end - _TICK.
_TICK = timedelta(microseconds=1)
_LATEST = datetime.max.replace(tzinfo=UTC)
# Below this the day before cannot be computed; a window ending there is read whole.
_EARLIEST_CUT = datetime.min.replace(tzinfo=UTC) + ONE_DAY

# A time window [start, end) of a history; None is unbounded on that side.
Window = tuple[datetime | None, datetime | None]


class ProbeResultStatements(Protocol):
    """What one dialect does its own way: insert a batch (only rows whose webserver exists), cut a range,
    read many."""

    def add_rows(self, session: Session, rows: Sequence[dict[str, Any]]) -> None:
        """Insert these rows of REQUEST_INSERT_COLUMNS, in order, but those of missing webservers."""
        ...

    def windows(self, session: Session, start: datetime | None, end: datetime | None) -> Iterator[Window]:
        """Windows that tile [start, end) with no gap or overlap, newest first."""
        ...

    def recent_rows(
        self, session: Session, webserver_ids: Collection[WebserverId], limit: int, since: datetime
    ) -> list[AnyRow]:
        """Rows of (webserver_id, success): each webserver's newest `limit` since `since`, newest first."""
        ...


def _newest(webserver_id: Any, limit: Any, since: Any) -> Select[Any]:
    # Bounded below, so PostgreSQL reads only the partitions since then (the index is on the id alone).
    return (
        select(_r.webserver_id, _r.success)
        .where(_r.webserver_id == webserver_id, _r.started_at >= since)
        .order_by(_r.started_at.desc())
        .limit(limit)
    )


class SqliteProbeResultStatements(ProbeResultStatements):
    """SQLite: look up which webservers exist, then one executemany."""

    def add_rows(self, session: Session, rows: Sequence[dict[str, Any]]) -> None:
        # SQLite has one writer at a time and never lets a transaction write on a stale
        # snapshot, so no webserver can go away between this check and the insert.
        webserver_ids = {row["webserver_id"] for row in rows}
        existing = set(session.execute(select(_w.id).where(_w.id.in_(webserver_ids))).scalars())
        kept = [row for row in rows if row["webserver_id"] in existing]
        if kept:
            # One executemany, which SQLAlchemy sends as multi-row INSERTs ("insertmanyvalues").
            session.execute(insert(requests_table), kept)

    def recent_rows(
        self, session: Session, webserver_ids: Collection[WebserverId], limit: int, since: datetime
    ) -> list[AnyRow]:
        # No LATERAL in SQLite; in process, one indexed statement per webserver costs no round trip.
        rows: list[AnyRow] = []
        for webserver_id in webserver_ids:
            rows += session.execute(_newest(webserver_id, limit, since)).all()
        return rows

    def windows(self, session: Session, start: datetime | None, end: datetime | None) -> Iterator[Window]:
        yield start, end


_incoming = unnested(REQUEST_INSERT_COLUMNS, "incoming")
_recent = _newest(_w.id, bindparam("limit"), bindparam("since")).lateral("recent")


class PostgresProbeResultStatements(ProbeResultStatements):
    """PostgreSQL: the batch as one array per column, in one INSERT ... SELECT."""

    # Keeps only the results whose webserver exists. FOR KEY SHARE holds each such webserver until
    # commit, so a concurrent delete waits instead of breaking the foreign key; ordinality keeps
    # ids in the order the results came.
    _ADD_MANY = insert(requests_table).from_select(
        [column.name for column in REQUEST_INSERT_COLUMNS],
        select(*(_incoming.c[column.name] for column in REQUEST_INSERT_COLUMNS))
        .join_from(_incoming, webservers_table, _w.id == _incoming.c.webserver_id)
        .order_by(_incoming.c.position)
        .with_for_update(of=webservers_table, read=True, key_share=True),
    )

    # Each webserver's newest rows in one statement: a LATERAL index scan per id of the array.
    _RECENT = (
        select(_recent.c.webserver_id, _recent.c.success)
        .select_from(webservers_table)
        .join(_recent, true())
        .where(_w.id == any_(bindparam("webserver_ids", type_=ArrayLiteral(_w.id.type))))
        .order_by(_w.id)
    )

    def add_rows(self, session: Session, rows: Sequence[dict[str, Any]]) -> None:
        session.execute(self._ADD_MANY, as_arrays(rows))

    def recent_rows(
        self, session: Session, webserver_ids: Collection[WebserverId], limit: int, since: datetime
    ) -> list[AnyRow]:
        parameters = {"webserver_ids": list(webserver_ids), "limit": limit, "since": since}
        return list(session.execute(self._RECENT, parameters).all())

    def windows(self, session: Session, start: datetime | None, end: datetime | None) -> Iterator[Window]:
        if end is not None and end <= _EARLIEST_CUT:
            yield start, end
            return
        # The newest day first: from the start of the day holding `end` (today when unbounded).
        cut = start_of((end - _TICK if end is not None else datetime.now(UTC)).date())
        if start is not None and cut <= start:
            yield start, end
            return
        yield cut, end
        # Only a page that is not full after the newest day asks which older days have partitions:
        # each next window spans twice as many of them (the days between hold no rows but the
        # default partition's), down to the oldest.
        lower_bounds = [start_of(day) for day in reversed(partition_days(session)) if start_of(day) < cut]
        if start is not None:
            lower_bounds = [bound for bound in lower_bounds if bound > start]
        taken, span = 0, 1
        while taken < len(lower_bounds):
            taken = min(taken + span, len(lower_bounds))
            lower = lower_bounds[taken - 1]
            yield lower, cut
            cut, span = lower, span * 2
        # What is left below the oldest partition: only the default partition's rows.
        if start is None or start < cut:
            yield start, cut


def _webserver_of(result: ProbeResult) -> WebserverId:
    return result.webserver_id


class SqlAlchemyProbeResultRepository(ProbeResultRepository):
    """Probe results in the `requests` table."""

    def __init__(self, session: Session, statements: ProbeResultStatements) -> None:
        self._session = session
        self._statements = statements

    def add_many(self, results: Sequence[ProbeResult]) -> None:
        if not results:
            return
        # Grouped by webserver, stably (each server's results keep their order, and so their
        # ids): PostgreSQL then takes the row locks in id order, as get_many does, so two
        # lockers never wait for each other in a cycle.
        rows = [request_values(result) for result in sorted(results, key=_webserver_of)]
        with translated_errors():
            start_writing(self._session)
            self._statements.add_rows(self._session, rows)

    def history(
        self,
        webserver_id: WebserverId,
        *,
        before: HistoryCursor | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int,
    ) -> list[RecordedProbe]:
        # Older than the cursor's probe. A cursor's id adds nothing to its start but for a cursor
        # made up by hand (ids derive from starts): an id above its start's includes that start.
        upper = until
        if before is not None:
            inclusive = before.probe_id > probe_id_of(before.started_at)
            if not inclusive:
                upper = before.started_at if upper is None else min(upper, before.started_at)
            elif before.started_at < _LATEST:
                bound = before.started_at + _TICK
                upper = bound if upper is None else min(upper, bound)
        if since is not None and upper is not None and since >= upper:
            return []
        probes: list[RecordedProbe] = []
        with translated_errors():
            for start, end in self._statements.windows(self._session, since, upper):
                statement = (
                    select(*REQUEST_COLUMNS)
                    .where(_r.webserver_id == webserver_id)
                    .order_by(_r.started_at.desc())
                    .limit(limit - len(probes))
                )
                if start is not None:
                    statement = statement.where(_r.started_at >= start)
                if end is not None:
                    statement = statement.where(_r.started_at < end)
                probes.extend(to_recorded_probe(row) for row in self._session.execute(statement))
                if len(probes) >= limit:
                    break
        return probes

    def recent_outcomes(
        self, webserver_ids: Collection[WebserverId], *, limit: int, since: datetime
    ) -> dict[WebserverId, list[bool]]:
        found: dict[WebserverId, list[bool]] = {}
        if not webserver_ids:
            return found
        with translated_errors():
            rows = self._statements.recent_rows(self._session, webserver_ids, limit, since)
        for webserver_id, success in rows:
            found.setdefault(webserver_id, []).append(success)
        return found


__all__ = [
    "PostgresProbeResultStatements",
    "ProbeResultStatements",
    "SqlAlchemyProbeResultRepository",
    "SqliteProbeResultStatements",
]
