"""Webservers in the `webservers` table, on SQLAlchemy Core statements.

Reads select columns and convert each row with converters.to_webserver: Core rather than ORM
entities, because listing 10,000 webservers must not pay for identity-map bookkeeping. The
statements that differ between SQLite and PostgreSQL are one WebserverStatements object per
dialect, chosen once per engine (see dialects.py).
"""

from __future__ import annotations

import builtins
import dataclasses
import logging
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from sqlalchemy import (
    CursorResult,
    Select,
    any_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from healthmon.adapters.sqlalchemy.converters import (
    HEALTH_SAVE_COLUMNS,
    MICROSECONDS_PER_MS,
    SAVED_COLUMN_NAMES,
    SETTINGS_FIELDS,
    WEBSERVER_COLUMNS,
    health_save_values,
    to_webserver,
    webserver_row,
    webserver_values,
)
from healthmon.adapters.sqlalchemy.errors import translated_errors
from healthmon.adapters.sqlalchemy.postgres_arrays import ArrayLiteral, as_arrays, unnested
from healthmon.adapters.sqlalchemy.tables import UtcDateTime, requests_table, webservers_table
from healthmon.adapters.sqlalchemy.transactions import locked, start_writing
from healthmon.application.ports import WebserverReading, WebserverRepository
from healthmon.domain.health import ATTENTION_ORDER, HealthState
from healthmon.domain.ids import WebserverId
from healthmon.domain.patterns import ascii_lower
from healthmon.domain.webserver import Webserver, WebserverSettings

logger = logging.getLogger(__name__)

_w = webservers_table.c
# Rows taken from the driver per call when reading many: enough to make the per-call cost vanish,
# few enough that they die young (measured: 50 to 1,000 all do, by a few ms per 10,000 rows).
_FETCH_CHUNK: Final = 100
# Every column a save writes: all that are read but the key.
_SAVED_COLUMNS: Final = WEBSERVER_COLUMNS[1:]


def _settings_version(new: Any) -> Any:
    # The database compares the settings, so a save never needs to read the row first.
    return case(
        # IS DISTINCT FROM, because the key may be NULL and NULL != 'x' is not true.
        (
            or_(*(_w[field].is_distinct_from(new[field]) for field in SETTINGS_FIELDS)),
            _w.settings_version + 1,
        ),
        else_=_w.settings_version,
    )


# Save parameters are the column values under a "new_" prefix (SQLAlchemy reserves the plain
# column names for its own SET parameters) plus the id.
_NEW = {column.name: bindparam(f"new_{column.name}", type_=column.type) for column in _SAVED_COLUMNS}
_SAVE = (
    update(webservers_table)
    .where(_w.id == bindparam("webserver_id"))
    .values({**_NEW, "settings_version": _settings_version(_NEW)})
)
_ADD = insert(webservers_table).returning(_w.id)
# Many rows at once: SQLAlchemy sends them as multi-row INSERTs ("insertmanyvalues"), and the
# ids come back in the order the rows were given.
_ADD_MANY = insert(webservers_table).returning(_w.id, sort_by_parameter_order=True)
# Ids per DELETE: well under SQLite's limit on bound parameters.
_REMOVE_CHUNK: Final = 1_000

# Every webserver with what its newest request measured: each value is a scalar subquery that
# reads only requests started at or after the webserver's last_checked_at (the newest stored
# one's start: RecordProbeResults stores only later results, and moves it to each), newest first,
# and stops at one. On SQLite the unique (webserver_id, started_at) index goes straight to it; on
# PostgreSQL the bound prunes every older partition at run time, and the partition's BRIN on
# started_at ANDed with its webserver_id index reads a page or two. A webserver never checked
# reads its whole history. (Joining requests instead lets PostgreSQL hash all of it: 2 s at 1M rows.)
_newer = requests_table.alias("newer")
_EVER = literal(datetime.min.replace(tzinfo=UTC), UtcDateTime())


def _newest(column: Any) -> Any:
    return (
        select(column)
        .where(
            _newer.c.webserver_id == _w.id, _newer.c.started_at >= func.coalesce(_w.last_checked_at, _EVER)
        )
        .order_by(_newer.c.started_at.desc())
        .limit(1)
        .correlate(webservers_table)
        .scalar_subquery()
    )


_READINGS = select(*WEBSERVER_COLUMNS, _newest(_newer.c.success), _newest(_newer.c.latency_us)).order_by(
    _w.id
)
_READING_AT = len(WEBSERVER_COLUMNS)


_NEW_NAMES = tuple(f"new_{name}" for name in SAVED_COLUMN_NAMES)


def _save_parameters(webserver: Webserver) -> dict[str, Any]:
    parameters = dict(zip(_NEW_NAMES, webserver_row(webserver), strict=True))
    parameters["webserver_id"] = webserver.id
    return parameters


class WebserverStatements(Protocol):
    """What one dialect does its own way: look up many ids, send many saves, compare names by bytes."""

    # The collation under which names compare byte by byte (code point order), with only ASCII
    # letters case-folded by lower().
    name_collation: str

    def select_by_ids(self, webserver_ids: Collection[WebserverId]) -> tuple[Select[Any], dict[str, Any]]:
        """The statement, and its parameters, that reads these webservers in id order."""
        ...

    def save_many(self, session: Session, webservers: Sequence[Webserver], *, only_health: bool) -> None:
        """Write these saves; only_health says none of them changed more than health and check times."""
        ...


class SqliteWebserverStatements(WebserverStatements):
    """SQLite runs in process, so an executemany of one statement per row is as cheap as anything."""

    name_collation = "BINARY"

    def select_by_ids(self, webserver_ids: Collection[WebserverId]) -> tuple[Select[Any], dict[str, Any]]:
        return select(*WEBSERVER_COLUMNS).where(_w.id.in_(webserver_ids)).order_by(_w.id), {}

    def save_many(self, session: Session, webservers: Sequence[Webserver], *, only_health: bool) -> None:
        session.execute(_SAVE, [_save_parameters(webserver) for webserver in webservers])


_saved = unnested(WEBSERVER_COLUMNS, "saved")
_checked = unnested(HEALTH_SAVE_COLUMNS, "checked")


class PostgresWebserverStatements(WebserverStatements):
    """PostgreSQL: each batch as one array per column, one statement and one round trip."""

    name_collation = "C"

    # Every waiting save in one UPDATE ... FROM unnest(...).
    _SAVE_MANY = (
        update(webservers_table)
        .where(_w.id == _saved.c.id)
        .values(
            {
                **{column.name: _saved.c[column.name] for column in _SAVED_COLUMNS},
                "settings_version": _settings_version(_saved.c),
            }
        )
    )
    # The same for saves that changed only health (every save after recording results): a third
    # of the columns, so a third of the bytes to send and parse.
    _SAVE_HEALTH_MANY = (
        update(webservers_table)
        .where(_w.id == _checked.c.id)
        .values({column.name: _checked.c[column.name] for column in HEALTH_SAVE_COLUMNS[1:]})
    )
    # id = ANY(one array) rather than IN with a parameter per id, for the same reason.
    _GET_MANY = (
        select(*WEBSERVER_COLUMNS)
        .where(_w.id == any_(bindparam("webserver_ids", type_=ArrayLiteral(_w.id.type))))
        .order_by(_w.id)
    )

    def select_by_ids(self, webserver_ids: Collection[WebserverId]) -> tuple[Select[Any], dict[str, Any]]:
        return self._GET_MANY, {"webserver_ids": list(webserver_ids)}

    def save_many(self, session: Session, webservers: Sequence[Webserver], *, only_health: bool) -> None:
        if only_health:
            session.execute(self._SAVE_HEALTH_MANY, as_arrays([health_save_values(w) for w in webservers]))
        else:
            rows = [{"id": webserver.id, **webserver_values(webserver)} for webserver in webservers]
            session.execute(self._SAVE_MANY, as_arrays(rows))


def _only_health_changed(before: Webserver, after: Webserver) -> bool:
    return (
        after.settings == before.settings
        and after.created_at == before.created_at
        and after.updated_at == before.updated_at
        and after.managed == before.managed
    )


class SqlAlchemyWebserverRepository(WebserverRepository):
    """Webservers in the `webservers` table.

    A save of a row this transaction holds locked, with its URL unchanged, cannot break the URL's
    uniqueness, so it waits and goes out with the others in one statement: recording a batch for
    1,000 servers costs one UPDATE, not 1,000. flush() sends what waits; every other method, and
    the unit of work's commit, call it first, so reads in the transaction see its own saves.
    """

    def __init__(self, session: Session, statements: WebserverStatements) -> None:
        self._session = session
        self._statements = statements
        # Each row this transaction holds locked, as last read or written.
        self._locked: dict[WebserverId, Webserver] = {}
        self._waiting: dict[WebserverId, Webserver] = {}

    def flush(self) -> None:
        """Send every waiting save, in one statement."""
        if not self._waiting:
            return
        waiting = list(self._waiting.values())
        self._waiting.clear()
        only_health = all(
            _only_health_changed(self._locked[webserver.id], webserver) for webserver in waiting
        )
        with translated_errors():
            self._statements.save_many(self._session, waiting, only_health=only_health)
        self._locked.update((webserver.id, webserver) for webserver in waiting)

    def holds_locks(self, webserver_ids: Collection[WebserverId]) -> bool:
        """Whether this transaction holds every one of these webservers locked (so none can go away)."""
        return all(webserver_id in self._locked for webserver_id in webserver_ids)

    def forget_locks(self) -> None:
        """Note that the transaction ended (its locks are gone); only the unit of work calls this."""
        self._locked.clear()
        self._waiting.clear()

    def add(self, settings: WebserverSettings, now: datetime) -> Webserver:
        self.flush()
        webserver = Webserver(id=WebserverId(0), settings=settings, created_at=now, updated_at=now)
        with translated_errors(url=settings.url):
            start_writing(self._session)
            result = self._session.execute(_ADD, webserver_values(webserver))
            webserver_id = result.scalar_one()
        return Webserver(id=WebserverId(webserver_id), settings=settings, created_at=now, updated_at=now)

    def add_many(
        self, settings: Sequence[WebserverSettings], now: datetime, *, managed: bool
    ) -> list[Webserver]:
        if not settings:
            return []
        self.flush()
        new = [
            Webserver(id=WebserverId(0), settings=each, created_at=now, updated_at=now, managed=managed)
            for each in settings
        ]
        with translated_errors(webservers=True):
            start_writing(self._session)
            rows = [webserver_values(webserver) for webserver in new]
            ids = self._session.execute(_ADD_MANY, rows).scalars()
            return [
                dataclasses.replace(webserver, id=WebserverId(webserver_id))
                for webserver, webserver_id in zip(new, ids, strict=True)
            ]

    def get(self, webserver_id: WebserverId, *, lock: bool = False) -> Webserver | None:
        found = self.get_many([webserver_id], lock=lock)
        return found.get(webserver_id)

    def get_many(
        self, webserver_ids: Collection[WebserverId], *, lock: bool = False
    ) -> dict[WebserverId, Webserver]:
        if not webserver_ids:
            return {}
        self.flush()
        # Id order: two transactions locking overlapping sets take the locks in the same order,
        # so neither can hold one the other is waiting for.
        statement, parameters = self._statements.select_by_ids(webserver_ids)
        with translated_errors():
            if lock:
                statement = locked(self._session, statement)
            rows = self._session.execute(statement, parameters).all()
        found = {webserver.id: webserver for webserver in map(to_webserver, rows)}
        if lock:
            self._locked.update(found)
        return found

    def save(self, webserver: Webserver) -> None:
        locked_before = self._locked.get(webserver.id)
        if locked_before is not None and locked_before.settings.url == webserver.settings.url:
            self._waiting[webserver.id] = webserver
            return
        self.flush()
        with translated_errors(url=webserver.settings.url):
            start_writing(self._session)
            self._session.execute(_SAVE, _save_parameters(webserver))
        if locked_before is not None:
            self._locked[webserver.id] = webserver

    def save_many(self, webservers: Sequence[Webserver]) -> None:
        if not webservers:
            return
        self.flush()
        with translated_errors(webservers=True):
            start_writing(self._session)
            self._statements.save_many(self._session, webservers, only_health=False)
        for webserver in webservers:
            if webserver.id in self._locked:
                self._locked[webserver.id] = webserver

    def remove(self, webserver_id: WebserverId) -> bool:
        self.flush()
        # The requests rows go with it: ON DELETE CASCADE.
        statement = delete(webservers_table).where(_w.id == webserver_id)
        with translated_errors():
            start_writing(self._session)
            result: CursorResult[Any] = self._session.execute(statement)  # type: ignore[assignment]
        self._locked.pop(webserver_id, None)
        return result.rowcount == 1

    def remove_many(self, webserver_ids: Collection[WebserverId]) -> int:
        self.flush()
        ids = sorted(webserver_ids)
        removed = 0
        with translated_errors():
            start_writing(self._session)
            for start in range(0, len(ids), _REMOVE_CHUNK):
                chunk = ids[start : start + _REMOVE_CHUNK]
                result: CursorResult[Any] = self._session.execute(  # type: ignore[assignment]
                    delete(webservers_table).where(_w.id.in_(chunk))
                )
                removed += result.rowcount
        for webserver_id in ids:
            self._locked.pop(webserver_id, None)
        return removed

    def list(
        self,
        *,
        health: HealthState | None = None,
        after: WebserverId | None = None,
        limit: int,
        owner: str | None = None,
        lock: bool = False,
    ) -> list[Webserver]:
        self.flush()
        statement = select(*WEBSERVER_COLUMNS).order_by(_w.id).limit(limit)
        if health is not None:
            statement = statement.where(_w.health == health.value)
        if after is not None:
            statement = statement.where(_w.id > after)
        if owner is not None:
            statement = statement.where(_w.lease_owner == owner)
        found: list[Webserver] = []
        with translated_errors():
            if lock:
                statement = locked(self._session, statement)
            # Fetched a chunk at a time, which costs a fraction of row-by-row iteration (one
            # driver call per chunk), and converted chunk by chunk so that the rows die young:
            # fewer objects survive into the collector's oldest generation.
            for rows in self._session.execute(statement).partitions(_FETCH_CHUNK):
                found += map(to_webserver, rows)
        if lock:
            self._locked.update((webserver.id, webserver) for webserver in found)
        return found

    def revision(self, owner: str | None = None) -> object:
        self.flush()
        # Adding raises max(id) (ids are never reused), removing lowers the count, and a settings
        # change raises the sum of settings_version; health saves touch none of them. The sum of
        # ids also moves when one held server is swapped for another, and the sum of lease epochs
        # when a server was lost and claimed back (its results need the new epoch).
        statement = select(
            func.count(),
            func.max(_w.id),
            func.sum(_w.settings_version),
            func.sum(_w.id),
            func.sum(_w.lease_epoch),
        )
        if owner is not None:
            statement = statement.where(_w.lease_owner == owner)
        with translated_errors():
            return tuple(self._session.execute(statement).one())

    def count(self) -> int:
        self.flush()
        with translated_errors():
            return int(self._session.execute(select(func.count()).select_from(webservers_table)).scalar_one())

    def readings(self) -> builtins.list[WebserverReading]:
        self.flush()
        found: builtins.list[WebserverReading] = []
        with translated_errors():
            for rows in self._session.execute(_READINGS).partitions(_FETCH_CHUNK):
                found += (
                    WebserverReading(
                        to_webserver(row),
                        row[_READING_AT],
                        None if row[_READING_AT + 1] is None else row[_READING_AT + 1] / MICROSECONDS_PER_MS,
                    )
                    for row in rows
                )
        return found

    def health_counts(self) -> dict[HealthState, int]:
        self.flush()
        statement = select(_w.health, func.count()).group_by(_w.health)
        with translated_errors():
            found: dict[str, int] = {row[0]: row[1] for row in self._session.execute(statement)}
        return {state: int(found.get(state.value, 0)) for state in HealthState}

    def overview(
        self, *, health: HealthState | None, name_contains: str, offset: int, limit: int
    ) -> tuple[int, builtins.list[Webserver]]:
        self.flush()
        folded_name = func.lower(_w.name.collate(self._statements.name_collation))
        matches = []
        if health is not None:
            matches.append(_w.health == health.value)
        if name_contains:
            matches.append(folded_name.contains(ascii_lower(name_contains), autoescape=True))
        attention = case({state.value: rank for rank, state in enumerate(ATTENTION_ORDER)}, value=_w.health)
        page = (
            select(*WEBSERVER_COLUMNS)
            .where(*matches)
            .order_by(attention, folded_name, _w.id)
            .offset(offset)
            .limit(limit)
        )
        with translated_errors():
            total = self._session.execute(select(func.count()).select_from(webservers_table).where(*matches))
            matching = int(total.scalar_one())
            rows = self._session.execute(page).all() if matching > offset else []
        return matching, [to_webserver(row) for row in rows]


__all__ = [
    "PostgresWebserverStatements",
    "SqlAlchemyWebserverRepository",
    "SqliteWebserverStatements",
    "WebserverStatements",
]
