"""Probe results in the `requests` table: a worker's batch in one statement, history pages by index range."""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Select, any_, bindparam, insert, or_, select, true
from sqlalchemy.orm import Session

from healthmon.adapters.sqlalchemy.converters import (
    REQUEST_COLUMNS,
    REQUEST_INSERT_COLUMNS,
    AnyRow,
    request_values,
    to_recorded_probe,
)
from healthmon.adapters.sqlalchemy.errors import translated_errors
from healthmon.adapters.sqlalchemy.postgres_arrays import ArrayLiteral, as_arrays, unnested
from healthmon.adapters.sqlalchemy.tables import requests_table, webservers_table
from healthmon.adapters.sqlalchemy.transactions import start_writing
from healthmon.application.ports import HistoryCursor, ProbeResultRepository
from healthmon.domain.ids import WebserverId
from healthmon.domain.probe import ProbeResult, RecordedProbe

logger = logging.getLogger(__name__)

_w = webservers_table.c
_r = requests_table.c


class ProbeResultStatements(Protocol):
    """What one dialect does its own way: insert a batch (only rows whose webserver exists), read many."""

    def add_rows(self, session: Session, rows: Sequence[dict[str, Any]]) -> None:
        """Insert these rows of REQUEST_INSERT_COLUMNS, in order, but those of missing webservers."""
        ...

    def recent_rows(
        self, session: Session, webserver_ids: Collection[WebserverId], limit: int
    ) -> list[AnyRow]:
        """Rows of (webserver_id, success): each webserver's newest `limit`, newest first within each."""
        ...


def _newest(webserver_id: Any, limit: Any) -> Select[Any]:
    # Matches ix_requests_webserver_id_started_at_id exactly, so it reads `limit` index entries.
    return (
        select(_r.webserver_id, _r.success)
        .where(_r.webserver_id == webserver_id)
        .order_by(_r.started_at.desc(), _r.id.desc())
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
        self, session: Session, webserver_ids: Collection[WebserverId], limit: int
    ) -> list[AnyRow]:
        # No LATERAL in SQLite; in process, one indexed statement per webserver costs no round trip.
        rows: list[AnyRow] = []
        for webserver_id in webserver_ids:
            rows += session.execute(_newest(webserver_id, limit)).all()
        return rows


_incoming = unnested(REQUEST_INSERT_COLUMNS, "incoming")
_recent = _newest(_w.id, bindparam("limit")).lateral("recent")


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
        self, session: Session, webserver_ids: Collection[WebserverId], limit: int
    ) -> list[AnyRow]:
        parameters = {"webserver_ids": list(webserver_ids), "limit": limit}
        return list(session.execute(self._RECENT, parameters).all())


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
        # Matches ix_requests_webserver_id_started_at_id exactly, so a page reads `limit` index entries.
        statement = (
            select(*REQUEST_COLUMNS)
            .where(_r.webserver_id == webserver_id)
            .order_by(_r.started_at.desc(), _r.id.desc())
            .limit(limit)
        )
        if before is not None:
            # (started_at, id) < cursor, spelled so both databases use the index range.
            statement = statement.where(
                _r.started_at <= before.started_at,
                or_(_r.started_at < before.started_at, _r.id < before.probe_id),
            )
        if since is not None:
            statement = statement.where(_r.started_at >= since)
        if until is not None:
            statement = statement.where(_r.started_at < until)
        with translated_errors():
            rows = self._session.execute(statement).all()
        return [to_recorded_probe(row) for row in rows]

    def recent_outcomes(
        self, webserver_ids: Collection[WebserverId], *, limit: int
    ) -> dict[WebserverId, list[bool]]:
        found: dict[WebserverId, list[bool]] = {}
        if not webserver_ids:
            return found
        with translated_errors():
            rows = self._statements.recent_rows(self._session, webserver_ids, limit)
        for webserver_id, success in rows:
            found.setdefault(webserver_id, []).append(success)
        return found


__all__ = [
    "PostgresProbeResultStatements",
    "ProbeResultStatements",
    "SqlAlchemyProbeResultRepository",
    "SqliteProbeResultStatements",
]
