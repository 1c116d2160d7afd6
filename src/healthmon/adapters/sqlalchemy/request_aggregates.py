"""Every statement that aggregates the raw `requests` table for statistics and rollups, in one place.

Columns read: `webserver_id`, `started_at`, `success`, `status_code` (NULL: the probe got no
response, so its latency is not a response time) and `latency_us`. Rows are selected by
webserver id and a started_at range (on PostgreSQL the range picks the day partitions, the
webserver index the rows in each); webservers are asked for in chunks, so no statement carries
thousands of parameters.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from healthmon.adapters.sqlalchemy.converters import MICROSECONDS_PER_MS
from healthmon.adapters.sqlalchemy.errors import translated_errors
from healthmon.adapters.sqlalchemy.tables import requests_table, webservers_table
from healthmon.application.ports import RollupPieces
from healthmon.domain.rollups import HOUR, Rollup, Span, floor_to
from healthmon.domain.webserver import WebserverId

_r = requests_table.c
# Webservers per statement: PostgreSQL turns the list into one index scan per id.
ID_CHUNK: Final = 1000
_MICROSECOND: Final = HOUR / 3_600_000_000


def id_chunks(session: Session, webserver_ids: Sequence[WebserverId] | None) -> Iterator[list[int]]:
    """The ids in chunks of ID_CHUNK; every stored webserver's when ids is None."""
    if webserver_ids is None:
        with translated_errors():
            ids = list(
                session.execute(select(webservers_table.c.id).order_by(webservers_table.c.id)).scalars()
            )
    else:
        ids = sorted(set(webserver_ids))
    for first in range(0, len(ids), ID_CHUNK):
        yield ids[first : first + ID_CHUNK]


def _hour_of_start(dialect: str) -> ColumnElement[Any]:
    # The start of each probe's UTC hour: the PostgreSQL session's time zone is UTC (engine.py);
    # SQLite stores naive UTC text, whose first 13 characters are the date and the hour.
    if dialect == "postgresql":
        return func.date_trunc("hour", _r.started_at)
    return func.strftime("%Y-%m-%d %H:00:00", _r.started_at)


def _as_hour(value: datetime | str) -> datetime:
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _in_span(statement: Select[Any], ids: list[int], span: Span) -> Select[Any]:
    return statement.where(_r.webserver_id.in_(ids), _r.started_at >= span.start, _r.started_at < span.end)


def raw_rollups(
    session: Session, webserver_ids: Sequence[WebserverId] | None, span: Span, *, latency: bool
) -> dict[WebserverId, RollupPieces]:
    """The probes of these webservers in the span, aggregated per UTC hour (see RollupRepository.raw)."""
    found: dict[WebserverId, RollupPieces] = {}
    for ids in id_chunks(session, webserver_ids):
        per_hour = _with_latency(session, ids, span) if latency else _counts(session, ids, span)
        for (webserver_id, hour), rollup in sorted(per_hour.items()):
            found.setdefault(WebserverId(webserver_id), []).append((hour, rollup))
    return found


def raw_totals(session: Session, ids: list[int], span: Span) -> list[tuple[int, int, int]]:
    """(webserver id, probes, successes) of these webservers' probes in the span, one row each."""
    statement = _in_span(
        select(_r.webserver_id, func.count(), func.count().filter(_r.success)), ids, span
    ).group_by(_r.webserver_id)
    with translated_errors():
        return [(row[0], row[1], row[2]) for row in session.execute(statement)]


def _counts(session: Session, ids: list[int], span: Span) -> dict[tuple[int, datetime], Rollup]:
    hour = _hour_of_start(session.get_bind().dialect.name).label("hour")
    statement = _in_span(
        select(_r.webserver_id, hour, func.count(), func.count().filter(_r.success)), ids, span
    ).group_by(_r.webserver_id, hour)
    with translated_errors():
        rows = session.execute(statement).all()
    return {
        (webserver_id, _as_hour(start)): Rollup(probes=probes, successes=successes)
        for webserver_id, start, probes, successes in rows
    }


def _with_latency(session: Session, ids: list[int], span: Span) -> dict[tuple[int, datetime], Rollup]:
    statement = _in_span(
        select(_r.webserver_id, _r.started_at, _r.success, _r.status_code, _r.latency_us), ids, span
    )
    # A span inside one hour (the usual case: an edge of a window, or the hour the job rolls up)
    # needs no hour computed per row.
    only_hour = floor_to(span.start, HOUR)
    single = floor_to(span.end - _MICROSECOND, HOUR) == only_hour
    per_hour: dict[tuple[int, datetime], Rollup] = {}
    with translated_errors():
        rows = session.execute(statement)
        for webserver_id, started_at, success, status_code, latency_us in rows:
            key = (webserver_id, only_hour if single else floor_to(started_at, HOUR))
            rollup = per_hour.get(key)
            if rollup is None:
                rollup = per_hour[key] = Rollup()
            latency_ms = None if status_code is None else latency_us / MICROSECONDS_PER_MS
            rollup.record(success=success, latency_ms=latency_ms)
    return per_hour


__all__ = ["ID_CHUNK", "id_chunks", "raw_rollups", "raw_totals"]
