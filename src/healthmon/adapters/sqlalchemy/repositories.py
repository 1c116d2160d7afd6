"""The repositories on SQLAlchemy Core statements; they share the unit of work's session and never commit.

Reads select columns from the tables and convert each row with one small function. Core rather
than ORM entities, because listing 10,000 webservers must not pay for identity-map bookkeeping.

Batches (the probe results of a worker flush, and the saves of their webservers) are one
statement each: on PostgreSQL the values travel as one array per column and the statement
unnests them, so 1,000 rows cost one round trip and one plan; on SQLite, which runs in process,
an executemany is just as cheap. Each array travels as one array literal ('{1,2,NULL}'), not as
a list for psycopg2 to adapt: psycopg2 quotes a list element by element into
ARRAY['...'::timestamptz, ...], 0.5 to 1.5 ms of Python per 1,000 values, and leaves the server
1,000 expressions to parse; the literal is one join here and one array_in there. (Inserting
1,000 results took 16 ms that way, 8 ms this way.)
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    CursorResult,
    Dialect,
    Row,
    Select,
    Text,
    TypeDecorator,
    any_,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.types import TypeEngine

from healthmon.adapters.sqlalchemy.engine import WRITE_INTENT
from healthmon.adapters.sqlalchemy.errors import translated_errors
from healthmon.adapters.sqlalchemy.tables import requests_table, webservers_table, workers_table
from healthmon.application.ports import (
    HistoryCursor,
    ProbeResultRepository,
    WebserverRepository,
    WorkerInfo,
    WorkerRepository,
)
from healthmon.domain.health import HealthState, HealthStateMachine
from healthmon.domain.probe import ErrorKind, ProbeId, ProbeResult, RecordedProbe
from healthmon.domain.webserver import Webserver, WebserverId, WebserverSettings

logger = logging.getLogger(__name__)

# A result row of any shape; the column tuples below fix the shapes these converters unpack.
AnyRow = Row[*tuple[Any, ...]]

_w = webservers_table.c
_r = requests_table.c
_k = workers_table.c

# The order _to_webserver and _to_recorded_probe unpack.
_WEBSERVER_COLUMNS = (
    _w.id,
    _w.name,
    _w.url,
    _w.interval_seconds,
    _w.timeout_seconds,
    _w.healthy_threshold,
    _w.unhealthy_threshold,
    _w.follow_redirects,
    _w.verify_tls,
    _w.health,
    _w.consecutive_successes,
    _w.consecutive_failures,
    _w.health_changed_at,
    _w.last_checked_at,
    _w.created_at,
    _w.updated_at,
)
_REQUEST_COLUMNS = (
    _r.id,
    _r.webserver_id,
    _r.started_at,
    _r.latency_ms,
    _r.status_code,
    _r.error_kind,
    _r.error_message,
    _r.success,
)
_SETTINGS_FIELDS = (
    "name",
    "url",
    "interval_seconds",
    "timeout_seconds",
    "healthy_threshold",
    "unhealthy_threshold",
    "follow_redirects",
    "verify_tls",
)
# Distinct settings and health values cached; well above the number of servers one process watches.
_CACHE_SIZE = 65_536
# Rows taken from the driver per call when reading many: enough to make the per-call cost vanish,
# few enough that they die young (measured: 50 to 1,000 all do, by a few ms per 10,000 rows).
_FETCH_CHUNK = 100


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _settings(*values: Any) -> WebserverSettings:
    # Validating a URL costs more than reading its row. Settings are immutable and change rarely,
    # so each distinct set is validated once per process instead of once per read.
    return WebserverSettings(*values)


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _health(state: str, successes: int, failures: int) -> HealthStateMachine:
    return HealthStateMachine(HealthState(state), successes, failures)


def _to_webserver(row: AnyRow) -> Webserver:
    (
        webserver_id,
        name,
        url,
        interval_seconds,
        timeout_seconds,
        healthy_threshold,
        unhealthy_threshold,
        follow_redirects,
        verify_tls,
        health,
        successes,
        failures,
        health_changed_at,
        last_checked_at,
        created_at,
        updated_at,
    ) = row
    settings = _settings(
        name,
        url,
        interval_seconds,
        timeout_seconds,
        healthy_threshold,
        unhealthy_threshold,
        follow_redirects,
        verify_tls,
    )
    # The row was a valid Webserver when it was written; restore() rebuilds it in half the
    # constructor's time, which matters at 10,000 rows per listing.
    return Webserver.restore(
        webserver_id,
        settings,
        created_at,
        updated_at,
        _health(health, successes, failures),
        health_changed_at,
        last_checked_at,
    )


def _webserver_values(webserver: Webserver) -> dict[str, Any]:
    settings, health = webserver.settings, webserver.health
    return {
        "name": settings.name,
        "url": settings.url,
        "interval_seconds": settings.interval_seconds,
        "timeout_seconds": settings.timeout_seconds,
        "healthy_threshold": settings.healthy_threshold,
        "unhealthy_threshold": settings.unhealthy_threshold,
        "follow_redirects": settings.follow_redirects,
        "verify_tls": settings.verify_tls,
        "health": health.state.value,
        "consecutive_successes": health.consecutive_successes,
        "consecutive_failures": health.consecutive_failures,
        "health_changed_at": webserver.health_changed_at,
        "last_checked_at": webserver.last_checked_at,
        "created_at": webserver.created_at,
        "updated_at": webserver.updated_at,
    }


# Save parameters are the column values under a "new_" prefix (SQLAlchemy reserves the plain
# column names for its own SET parameters) plus the id.
_NEW = {column.name: bindparam(f"new_{column.name}", type_=column.type) for column in _WEBSERVER_COLUMNS[1:]}
_SAVE = (
    update(webservers_table)
    .where(_w.id == bindparam("webserver_id"))
    .values(
        {
            **_NEW,
            # The database compares the settings, so a save never needs to read the row first.
            "settings_version": case(
                (or_(*(_w[field] != _NEW[field] for field in _SETTINGS_FIELDS)), _w.settings_version + 1),
                else_=_w.settings_version,
            ),
        }
    )
)
_ADD = insert(webservers_table).returning(_w.id)


def _quoted(text: str) -> str:
    # Inside double quotes an array element may hold anything (commas, braces, spaces, "NULL");
    # only a backslash and a double quote need a backslash before them.
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _instant(moment: datetime) -> str:
    offset = moment.utcoffset()
    if offset is None:
        raise ValueError(f"naive datetime {moment!r} cannot be stored; give it a timezone")
    # isoformat() keeps every microsecond and the offset ("+00:00"); the server reads both.
    return (moment.astimezone(UTC) if offset else moment).isoformat()


def _flag(value: bool) -> str:
    return "t" if value else "f"


# How one non-NULL element is written in an array literal, by the column's Python type.
_ELEMENT_TEXT: dict[type, Callable[[Any], str]] = {
    bool: _flag,
    int: str,
    float: str,  # the shortest text that reads back as the same float; "nan" and "inf" too
    str: _quoted,
    datetime: _instant,
}


class _ArrayLiteral(TypeDecorator[Sequence[Any]]):
    """A list of column values, bound as one PostgreSQL array literal and cast to the column's array type."""

    impl = Text
    cache_ok = True

    def __init__(self, item_type: TypeEngine[Any]) -> None:
        super().__init__()
        self.item_type = item_type
        stored_as = item_type.impl_instance if isinstance(item_type, TypeDecorator) else item_type
        self._element_text = _ELEMENT_TEXT[stored_as.python_type]

    def bind_expression(self, bindvalue: BindParameter[Sequence[Any]]) -> ColumnElement[Any]:
        return cast(bindvalue, ARRAY(self.item_type))

    def process_bind_param(self, value: Sequence[Any] | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        text = self._element_text
        return "{" + ",".join(["NULL" if element is None else text(element) for element in value]) + "}"


def _unnested(columns: Sequence[Column[Any]], name: str) -> Any:
    # unnest(CAST(:a_array AS A[]), CAST(:b_array AS B[]), ...) WITH ORDINALITY AS name(a, b, ..., position)
    arrays = (bindparam(f"{column.name}_array", type_=_ArrayLiteral(column.type)) for column in columns)
    return (
        func.unnest(*arrays)
        .table_valued(*(column.name for column in columns), with_ordinality="position")
        .render_derived(name=name)
    )


def _arrays(rows: Sequence[dict[str, Any]]) -> dict[str, list[Any]]:
    return {f"{key}_array": [row[key] for row in rows] for key in rows[0]}


_saved = _unnested(_WEBSERVER_COLUMNS, "saved")
# PostgreSQL: every waiting save in one UPDATE ... FROM unnest(...).
_SAVE_MANY_POSTGRES = (
    update(webservers_table)
    .where(_w.id == _saved.c.id)
    .values(
        {
            **{column.name: _saved.c[column.name] for column in _WEBSERVER_COLUMNS[1:]},
            "settings_version": case(
                (or_(*(_w[field] != _saved.c[field] for field in _SETTINGS_FIELDS)), _w.settings_version + 1),
                else_=_w.settings_version,
            ),
        }
    )
)
_HEALTH_COLUMNS = (
    _w.id,
    _w.health,
    _w.consecutive_successes,
    _w.consecutive_failures,
    _w.health_changed_at,
    _w.last_checked_at,
)
_checked = _unnested(_HEALTH_COLUMNS, "checked")
# PostgreSQL: the same for saves that changed only health (every save after recording results):
# a third of the columns, so a third of the bytes to send and parse.
_SAVE_HEALTH_MANY_POSTGRES = (
    update(webservers_table)
    .where(_w.id == _checked.c.id)
    .values({column.name: _checked.c[column.name] for column in _HEALTH_COLUMNS[1:]})
)
_REQUEST_INSERT_COLUMNS = _REQUEST_COLUMNS[1:]
_incoming = _unnested(_REQUEST_INSERT_COLUMNS, "incoming")
# PostgreSQL: a batch of results in one INSERT ... SELECT, keeping only those whose webserver
# exists. FOR KEY SHARE holds each such webserver until commit, so a concurrent delete waits
# instead of breaking the foreign key; ordinality keeps ids in the order the results came.
_ADD_MANY_POSTGRES = insert(requests_table).from_select(
    [column.name for column in _REQUEST_INSERT_COLUMNS],
    select(*(_incoming.c[column.name] for column in _REQUEST_INSERT_COLUMNS))
    .join_from(_incoming, webservers_table, _w.id == _incoming.c.webserver_id)
    .order_by(_incoming.c.position)
    .with_for_update(of=webservers_table, read=True, key_share=True),
)
# PostgreSQL: id = ANY(one array) rather than IN with a parameter per id, for the same reason.
_GET_MANY_POSTGRES = (
    select(*_WEBSERVER_COLUMNS)
    .where(_w.id == any_(bindparam("webserver_ids", type_=_ArrayLiteral(_w.id.type))))
    .order_by(_w.id)
)


def _save_parameters(webserver: Webserver) -> dict[str, Any]:
    parameters = {f"new_{column}": value for column, value in _webserver_values(webserver).items()}
    parameters["webserver_id"] = webserver.id
    return parameters


def _health_values(webserver: Webserver) -> dict[str, Any]:
    health = webserver.health
    return {
        "id": webserver.id,
        "health": health.state.value,
        "consecutive_successes": health.consecutive_successes,
        "consecutive_failures": health.consecutive_failures,
        "health_changed_at": webserver.health_changed_at,
        "last_checked_at": webserver.last_checked_at,
    }


def _only_health_changed(before: Webserver, after: Webserver) -> bool:
    return (
        after.settings == before.settings
        and after.created_at == before.created_at
        and after.updated_at == before.updated_at
    )


def _on_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _to_recorded_probe(row: AnyRow) -> RecordedProbe:
    probe_id, webserver_id, started_at, latency_ms, status_code, error_kind, error_message, success = row
    result = ProbeResult(
        webserver_id=WebserverId(webserver_id),
        started_at=started_at,
        latency_ms=latency_ms,
        status_code=status_code,
        success=success,
        error_kind=None if error_kind is None else ErrorKind(error_kind),
        error_message=error_message,
    )
    return RecordedProbe(ProbeId(probe_id), result)


def _request_values(result: ProbeResult) -> dict[str, Any]:
    return {
        "webserver_id": result.webserver_id,
        "started_at": result.started_at,
        "latency_ms": result.latency_ms,
        "status_code": result.status_code,
        "error_kind": None if result.error_kind is None else result.error_kind.value,
        "error_message": result.error_message,
        "success": result.success,
    }


def _webserver_of(result: ProbeResult) -> int:
    return result.webserver_id


def _start_writing(session: Session) -> None:
    # A transaction that has not run anything yet starts as a writer: BEGIN IMMEDIATE on SQLite,
    # so it queues for the write lock now rather than failing with "database is locked" half-way.
    # Once it has started as a reader it stays one (every use case locks or writes first).
    if not session.in_transaction():
        session.connection(execution_options={WRITE_INTENT: True})


def _locked(session: Session, statement: Select[Any]) -> Select[Any]:
    _start_writing(session)
    # FOR UPDATE on PostgreSQL (SQLite has none, and BEGIN IMMEDIATE already made this the only writer).
    return statement.with_for_update()


class SqlAlchemyWebserverRepository(WebserverRepository):
    """Webservers in the `webservers` table.

    A save of a row this transaction holds locked, with its URL unchanged, cannot break the URL's
    uniqueness, so it waits and goes out with the others in one statement: recording a batch for
    1,000 servers costs one UPDATE, not 1,000. flush() sends what waits; every other method, and
    the unit of work's commit, call it first, so reads in the transaction see its own saves.
    """

    def __init__(self, session: Session) -> None:
        self._session = session
        # Each row this transaction holds locked, as last read or written.
        self._locked: dict[WebserverId, Webserver] = {}
        self._waiting: dict[WebserverId, Webserver] = {}

    def flush(self) -> None:
        """Send every waiting save, in one statement."""
        if not self._waiting:
            return
        waiting = list(self._waiting.values())
        self._waiting.clear()
        with translated_errors():
            if not _on_postgres(self._session):
                self._session.execute(_SAVE, [_save_parameters(webserver) for webserver in waiting])
            elif all(_only_health_changed(self._locked[webserver.id], webserver) for webserver in waiting):
                rows = [_health_values(webserver) for webserver in waiting]
                self._session.execute(_SAVE_HEALTH_MANY_POSTGRES, _arrays(rows))
            else:
                rows = [{"id": webserver.id, **_webserver_values(webserver)} for webserver in waiting]
                self._session.execute(_SAVE_MANY_POSTGRES, _arrays(rows))
        self._locked.update((webserver.id, webserver) for webserver in waiting)

    def forget_locks(self) -> None:
        """Note that the transaction ended (its locks are gone); only the unit of work calls this."""
        self._locked.clear()
        self._waiting.clear()

    def add(self, settings: WebserverSettings, now: datetime) -> Webserver:
        self.flush()
        webserver = Webserver(WebserverId(0), settings, created_at=now, updated_at=now)
        with translated_errors(url=settings.url):
            _start_writing(self._session)
            result = self._session.execute(_ADD, _webserver_values(webserver))
            webserver_id = result.scalar_one()
        return Webserver(WebserverId(webserver_id), settings, created_at=now, updated_at=now)

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
        if _on_postgres(self._session):
            statement = _GET_MANY_POSTGRES
            parameters: dict[str, Any] = {"webserver_ids": list(webserver_ids)}
        else:
            statement = select(*_WEBSERVER_COLUMNS).where(_w.id.in_(webserver_ids)).order_by(_w.id)
            parameters = {}
        with translated_errors():
            if lock:
                statement = _locked(self._session, statement)
            rows = self._session.execute(statement, parameters).all()
        found = {webserver.id: webserver for webserver in map(_to_webserver, rows)}
        if lock:
            self._locked.update(found)
        return found

    def save(self, webserver: Webserver) -> None:
        locked = self._locked.get(webserver.id)
        if locked is not None and locked.settings.url == webserver.settings.url:
            self._waiting[webserver.id] = webserver
            return
        self.flush()
        with translated_errors(url=webserver.settings.url):
            _start_writing(self._session)
            self._session.execute(_SAVE, _save_parameters(webserver))
        if locked is not None:
            self._locked[webserver.id] = webserver

    def remove(self, webserver_id: WebserverId) -> bool:
        self.flush()
        # The requests rows go with it: ON DELETE CASCADE.
        statement = delete(webservers_table).where(_w.id == webserver_id)
        with translated_errors():
            _start_writing(self._session)
            result: CursorResult[Any] = self._session.execute(statement)  # type: ignore[assignment]
        self._locked.pop(webserver_id, None)
        return result.rowcount == 1

    def list(
        self,
        *,
        health: HealthState | None = None,
        after: WebserverId | None = None,
        limit: int,
        owner: str | None = None,
    ) -> list[Webserver]:
        self.flush()
        statement = select(*_WEBSERVER_COLUMNS).order_by(_w.id).limit(limit)
        if health is not None:
            statement = statement.where(_w.health == health.value)
        if after is not None:
            statement = statement.where(_w.id > after)
        if owner is not None:
            statement = statement.where(_w.lease_owner == owner)
        found: list[Webserver] = []
        with translated_errors():
            # Fetched a chunk at a time, which costs a fraction of row-by-row iteration (one
            # driver call per chunk), and converted chunk by chunk so that the rows die young:
            # fewer objects survive into the collector's oldest generation.
            for rows in self._session.execute(statement).partitions(_FETCH_CHUNK):
                found += map(_to_webserver, rows)
        return found

    def revision(self, owner: str | None = None) -> object:
        self.flush()
        # Adding raises max(id) (ids are never reused), removing lowers the count, and a settings
        # change raises the sum of settings_version; health saves touch none of them. The sum of
        # ids also moves when one held server is swapped for another.
        statement = select(func.count(), func.max(_w.id), func.sum(_w.settings_version), func.sum(_w.id))
        if owner is not None:
            statement = statement.where(_w.lease_owner == owner)
        with translated_errors():
            return tuple(self._session.execute(statement).one())

    def count(self) -> int:
        self.flush()
        with translated_errors():
            return int(self._session.execute(select(func.count()).select_from(webservers_table)).scalar_one())


class SqlAlchemyProbeResultRepository(ProbeResultRepository):
    """Probe results in the `requests` table."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add_many(self, results: Sequence[ProbeResult]) -> None:
        if not results:
            return
        # Grouped by webserver, stably (each server's results keep their order, and so their
        # ids): PostgreSQL then takes the row locks in id order, as get_many does, so two
        # lockers never wait for each other in a cycle.
        rows = [_request_values(result) for result in sorted(results, key=_webserver_of)]
        with translated_errors():
            _start_writing(self._session)
            if _on_postgres(self._session):
                self._session.execute(_ADD_MANY_POSTGRES, _arrays(rows))
                return
            # SQLite has one writer at a time and never lets a transaction write on a stale
            # snapshot, so no webserver can go away between this check and the insert.
            webserver_ids = {row["webserver_id"] for row in rows}
            existing = set(self._session.execute(select(_w.id).where(_w.id.in_(webserver_ids))).scalars())
            kept = [row for row in rows if row["webserver_id"] in existing]
            if kept:
                # One executemany, which SQLAlchemy sends as multi-row INSERTs ("insertmanyvalues").
                self._session.execute(insert(requests_table), kept)

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
            select(*_REQUEST_COLUMNS)
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
        return [_to_recorded_probe(row) for row in rows]


_WORKER_COLUMNS = (
    _k.id,
    _k.host,
    _k.pid,
    _k.started_at,
    _k.servers,
    _k.probes_per_second,
    _k.lag_p99_ms,
    _k.heartbeat_at,
)


def _to_worker(row: AnyRow) -> WorkerInfo:
    return WorkerInfo(*row)


def _worker_values(worker: WorkerInfo) -> dict[str, Any]:
    # Every column but the key and the heartbeat, which the database dates itself.
    values = dataclasses.asdict(worker)
    del values["id"], values["heartbeat_at"]
    return values


class SqlAlchemyWorkerRepository(WorkerRepository):
    """Workers in the `workers` table and leases in `webservers.lease_owner`.

    On PostgreSQL every lease time is the server's now(), so workers on machines whose clocks
    disagree still agree on who holds what. SQLite runs on the one machine that runs its only
    worker, so there this process's clock is the database's.
    """

    def __init__(self, session: Session) -> None:
        self._session = session

    def _now(self) -> ColumnElement[datetime] | datetime:
        if _on_postgres(self._session):
            return func.now()
        return datetime.now(UTC)

    def _cutoff(self, ttl: timedelta) -> ColumnElement[datetime] | datetime:
        if _on_postgres(self._session):
            return func.now() - func.make_interval(0, 0, 0, 0, 0, 0, ttl.total_seconds())
        return datetime.now(UTC) - ttl

    def beat(self, worker: WorkerInfo) -> None:
        values = {**_worker_values(worker), "heartbeat_at": self._now()}
        with translated_errors():
            _start_writing(self._session)
            # The worker's own row: no one else writes it, so update-then-insert cannot race.
            updated: CursorResult[Any] = self._session.execute(  # type: ignore[assignment]
                update(workers_table).where(_k.id == worker.id).values(values)
            )
            if updated.rowcount == 0:
                self._session.execute(insert(workers_table).values(id=worker.id, **values))

    def leave(self, worker_id: str) -> None:
        with translated_errors():
            _start_writing(self._session)
            self._session.execute(
                update(webservers_table).where(_w.lease_owner == worker_id).values(lease_owner=None)
            )
            self._session.execute(delete(workers_table).where(_k.id == worker_id))

    def live(self, ttl: timedelta) -> list[WorkerInfo]:
        statement = (
            select(*_WORKER_COLUMNS).where(_k.heartbeat_at > self._cutoff(ttl)).order_by(_k.started_at, _k.id)
        )
        with translated_errors():
            return [_to_worker(row) for row in self._session.execute(statement)]

    def claim(self, worker_id: str, *, ttl: timedelta, limit: int) -> int:
        if limit < 1:
            return 0
        live = select(_k.id).where(_k.heartbeat_at > self._cutoff(ttl))
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
        statement = update(webservers_table).where(_w.id.in_(claimable)).values(lease_owner=worker_id)
        with translated_errors():
            _start_writing(self._session)
            result: CursorResult[Any] = self._session.execute(statement)  # type: ignore[assignment]
        return result.rowcount

    def release(self, worker_id: str, webserver_ids: Collection[WebserverId]) -> int:
        if not webserver_ids:
            return 0
        statement = (
            update(webservers_table)
            .where(_w.lease_owner == worker_id, _w.id.in_(list(webserver_ids)))
            .values(lease_owner=None)
        )
        with translated_errors():
            _start_writing(self._session)
            result: CursorResult[Any] = self._session.execute(statement)  # type: ignore[assignment]
        return result.rowcount

    def forget(self, ttl: timedelta) -> int:
        statement = delete(workers_table).where(_k.heartbeat_at <= self._cutoff(ttl))
        with translated_errors():
            _start_writing(self._session)
            result: CursorResult[Any] = self._session.execute(statement)  # type: ignore[assignment]
        return result.rowcount


__all__ = ["SqlAlchemyProbeResultRepository", "SqlAlchemyWebserverRepository", "SqlAlchemyWorkerRepository"]
