"""Rollups in the `rollups_hourly` and `rollups_daily` tables, and the marks of what is still to roll up.

Marks and the job: a writer marks its hours with INSERT ... ON CONFLICT DO UPDATE, which on
PostgreSQL locks the mark's row until the writer commits; the job takes a mark off with DELETE,
which waits for that lock, and only then reads the hour's raw probes, in a later statement that
sees every writer that marked it. A writer that marks the hour after the DELETE waits for the job
to commit and then inserts the mark again, so its probes are rolled up on the next run. SQLite
has one writer at a time, so there the order is given.

The raw probes are read by request_aggregates.py, the one module that aggregates the requests table.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Table, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from healthmon.adapters.sqlalchemy.errors import translated_errors
from healthmon.adapters.sqlalchemy.request_aggregates import ID_CHUNK, id_chunks, raw_rollups, raw_totals
from healthmon.adapters.sqlalchemy.tables import (
    daily_rollups_table,
    hourly_rollups_table,
    rollup_marks_table,
    webservers_table,
    weekly_rollups_table,
)
from healthmon.adapters.sqlalchemy.transactions import start_writing
from healthmon.application.ports import RollupPieces, RollupRepository
from healthmon.domain.latency_sketch import COUNT_BITS, LatencySketch
from healthmon.domain.rollups import DAY, HOUR, WEEK, Coverage, ReadPlan, Rollup, Span, coverage_of
from healthmon.domain.webserver import WebserverId

_m = rollup_marks_table.c
_HOUR: Final = "hour"
_DAY: Final = "day"
_WEEK: Final = "week"


def encode_buckets(sketch: LatencySketch) -> bytes:
    """A sketch's counts from its lowest nonzero bucket on: that bucket as 4 bytes, then the packed
    counts (COUNT_BITS bits each) shifted down to it, little-endian; empty when there is none."""
    packed = sketch.packed
    if packed <= 0:
        return b""
    first = ((packed & -packed).bit_length() - 1) // COUNT_BITS
    rest = packed >> (first * COUNT_BITS)
    return first.to_bytes(4, "little") + rest.to_bytes((rest.bit_length() + 7) // 8, "little")


def decode_buckets(data: bytes) -> int:
    """The packed counts encode_buckets wrote: two conversions in C, whatever the number of buckets."""
    if not data:
        return 0
    return int.from_bytes(data[4:], "little") << (int.from_bytes(data[:4], "little") * COUNT_BITS)


def _upsert(session: Session, table: Table, rows: list[dict[str, Any]], keys: list[str]) -> Any:
    # The two dialects spell ON CONFLICT alike, but each has its own insert construct.
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table).values(rows)
    # A row of keys only sets a key to itself: still an update, so the row is locked.
    updated = {name: statement.excluded[name] for name in rows[0] if name not in keys} or {
        keys[-1]: statement.excluded[keys[-1]]
    }
    return statement.on_conflict_do_update(index_elements=keys, set_=updated)


class SqlAlchemyRollupRepository(RollupRepository):
    """Rollups and marks in their tables; raw probes through request_aggregates."""

    def __init__(self, session: Session) -> None:
        self._session = session

    # --- marks -----------------------------------------------------------------------------

    def mark_hours(self, hours: Collection[datetime]) -> None:
        if hours:
            # In order, so two writers marking the same hours lock them in the same order.
            self._mark(_HOUR, sorted(hours))

    def mark_day(self, day: datetime) -> None:
        self._mark(_DAY, [day])

    def _mark(self, level: str, starts: list[datetime]) -> None:
        rows = [{"level": level, "start": start} for start in starts]
        # DO UPDATE (not DO NOTHING) so the mark's row stays locked until this transaction ends.
        statement = _upsert(self._session, rollup_marks_table, rows, ["level", "start"])
        with translated_errors():
            start_writing(self._session)
            self._session.execute(statement)

    def dirty_hours(self, ended_by: datetime, limit: int) -> list[datetime]:
        return self._marked(_HOUR, ended_by - HOUR, limit)

    def dirty_days(self, ended_by: datetime, limit: int) -> list[datetime]:
        return self._marked(_DAY, ended_by - DAY, limit)

    def dirty_weeks(self, ended_by: datetime, limit: int) -> list[datetime]:
        return self._marked(_WEEK, ended_by - WEEK, limit)

    def mark_week(self, week: datetime) -> None:
        self._mark(_WEEK, [week])

    def unmark_week(self, week: datetime) -> bool:
        return self._unmark(_WEEK, week)

    def _marked(self, level: str, latest_start: datetime, limit: int) -> list[datetime]:
        statement = (
            select(_m.start)
            .where(_m.level == level, _m.start <= latest_start)
            .order_by(_m.start)
            .limit(limit)
        )
        with translated_errors():
            return list(self._session.execute(statement).scalars())

    def unmark_hour(self, hour: datetime) -> bool:
        return self._unmark(_HOUR, hour)

    def unmark_day(self, day: datetime) -> bool:
        return self._unmark(_DAY, day)

    def _unmark(self, level: str, start: datetime) -> bool:
        statement = delete(rollup_marks_table).where(_m.level == level, _m.start == start)
        with translated_errors():
            start_writing(self._session)
            return bool(self._session.execute(statement).rowcount)  # type: ignore[attr-defined]

    def coverage(self) -> Coverage:
        earliest = self._earliest_marks()
        return coverage_of(earliest.get(_HOUR), earliest.get(_DAY), earliest.get(_WEEK))

    def rolled_up_until(self) -> datetime | None:
        return self._earliest_marks().get(_HOUR)

    def _earliest_marks(self) -> dict[str, datetime]:
        statement = select(_m.level, func.min(_m.start)).group_by(_m.level)
        with translated_errors():
            return {row[0]: row[1] for row in self._session.execute(statement)}

    # --- rollups ---------------------------------------------------------------------------

    def save_hourly(self, hour: datetime, rollups: Mapping[WebserverId, Rollup]) -> None:
        self._save(hourly_rollups_table, hour, rollups)

    def save_daily(self, day: datetime, rollups: Mapping[WebserverId, Rollup]) -> None:
        self._save(daily_rollups_table, day, rollups)

    def save_weekly(self, week: datetime, rollups: Mapping[WebserverId, Rollup]) -> None:
        self._save(weekly_rollups_table, week, rollups)

    def _save(self, table: Table, start: datetime, rollups: Mapping[WebserverId, Rollup]) -> None:
        if not rollups:
            return
        w = webservers_table.c
        with translated_errors():
            start_writing(self._session)
            for ids in id_chunks(self._session, list(rollups)):
                # Webservers removed meanwhile have no rollups to keep.
                existing = self._session.execute(select(w.id).where(w.id.in_(ids))).scalars()
                rows = [
                    _row(webserver_id, start, rollups[WebserverId(webserver_id)]) for webserver_id in existing
                ]
                if rows:
                    self._session.execute(_upsert(self._session, table, rows, ["webserver_id", "start"]))

    def hourly(
        self, webserver_ids: Collection[WebserverId] | None, span: Span, *, latency: bool = True
    ) -> dict[WebserverId, RollupPieces]:
        return self._read(hourly_rollups_table, webserver_ids, span, latency=latency)

    def daily(
        self, webserver_ids: Collection[WebserverId] | None, span: Span, *, latency: bool = True
    ) -> dict[WebserverId, RollupPieces]:
        return self._read(daily_rollups_table, webserver_ids, span, latency=latency)

    def weekly(
        self, webserver_ids: Collection[WebserverId] | None, span: Span, *, latency: bool = True
    ) -> dict[WebserverId, RollupPieces]:
        return self._read(weekly_rollups_table, webserver_ids, span, latency=latency)

    def _read(
        self, table: Table, webserver_ids: Collection[WebserverId] | None, span: Span, *, latency: bool
    ) -> dict[WebserverId, RollupPieces]:
        c = table.c
        columns = [c.webserver_id, c.start, c.probes, c.successes]
        if latency:
            columns += [c.latency_max_ms, c.latency_buckets]
        found: dict[WebserverId, RollupPieces] = {}
        ids_given = None if webserver_ids is None else list(webserver_ids)
        for ids in id_chunks(self._session, ids_given):
            # Walks the primary key (webserver_id, start): one range per webserver.
            statement = (
                select(*columns)
                .where(c.webserver_id.in_(ids), c.start >= span.start, c.start < span.end)
                .order_by(c.webserver_id, c.start)
            )
            with translated_errors():
                rows = self._session.execute(statement).all()
            for row in rows:
                sketch = LatencySketch(decode_buckets(row[5]), row[4]) if latency else LatencySketch()
                found.setdefault(WebserverId(row[0]), []).append((row[1], Rollup(row[2], row[3], sketch)))
        return found

    def raw(
        self, webserver_ids: Collection[WebserverId] | None, span: Span, *, latency: bool = True
    ) -> dict[WebserverId, RollupPieces]:
        ids = None if webserver_ids is None else list(webserver_ids)
        return raw_rollups(self._session, ids, span, latency=latency)

    def totals(
        self, webserver_ids: Collection[WebserverId], plan: ReadPlan
    ) -> dict[WebserverId, tuple[int, int]]:
        sums: dict[WebserverId, tuple[int, int]] = {}

        def add(found: Iterable[tuple[int, int, int]]) -> None:
            for webserver_id, probes, successes in found:
                before = sums.get(WebserverId(webserver_id), (0, 0))
                sums[WebserverId(webserver_id)] = (before[0] + probes, before[1] + successes)

        for ids in id_chunks(self._session, list(webserver_ids)):
            for table, spans in (
                (weekly_rollups_table, plan.weekly),
                (daily_rollups_table, plan.daily),
                (hourly_rollups_table, plan.hourly),
            ):
                c = table.c
                for span in spans:
                    statement = (
                        select(c.webserver_id, func.sum(c.probes), func.sum(c.successes))
                        .where(c.webserver_id.in_(ids), c.start >= span.start, c.start < span.end)
                        .group_by(c.webserver_id)
                    )
                    with translated_errors():
                        add((row[0], row[1], row[2]) for row in self._session.execute(statement))
            for span in plan.raw:
                add(raw_totals(self._session, ids, span))
        return sums

    def prune_hourly(self, before: datetime) -> int:
        statement = delete(hourly_rollups_table).where(hourly_rollups_table.c.start < before)
        with translated_errors():
            start_writing(self._session)
            return int(self._session.execute(statement).rowcount)  # type: ignore[attr-defined]


def _row(webserver_id: int, start: datetime, rollup: Rollup) -> dict[str, Any]:
    return {
        "webserver_id": webserver_id,
        "start": start,
        "probes": rollup.probes,
        "successes": rollup.successes,
        "latency_max_ms": rollup.latency.max_ms,
        "latency_buckets": encode_buckets(rollup.latency),
    }


__all__ = ["ID_CHUNK", "SqlAlchemyRollupRepository", "decode_buckets", "encode_buckets"]
