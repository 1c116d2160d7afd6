"""Engines for the two supported databases: SQLite (sqlite3 driver) and PostgreSQL (psycopg2).

SQLite connections run in WAL mode (readers never wait for the writer) with foreign keys on and a
short busy timeout, behind a write gate (see sqlite_write_gate.py), so a held write lock costs a
request a few seconds and a 503, never a queue of threads that starves the readers.
SQLAlchemy, not the sqlite3 driver, emits BEGIN (the "Transactions with SQLite and
the sqlite3 driver" recipe of the SQLAlchemy docs), so a unit of work that is going to write can
start with BEGIN IMMEDIATE: it waits for the write lock up front instead of failing half-way with
"database is locked".
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, Engine, create_engine, event, literal, select
from sqlalchemy.engine import URL, ExceptionContext, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from healthmon.adapters.sqlalchemy.errors import translated_errors
from healthmon.adapters.sqlalchemy.sqlite_write_gate import SqliteWriteGate
from healthmon.application.errors import DatabaseConfigurationError, StorageUnavailable

logger = logging.getLogger(__name__)

# Room for the HTTP API's 40 sync-handler threads plus the worker's writer and its schedule
# reader, should one process run both; each process may pass its own size.
DEFAULT_POOL_SIZE: Final = 40 + 2
# How long a writer waits for SQLite's write lock once it is this process's turn; with the gate's
# own wait, a write is answered (or refused as unavailable) within a few seconds.
SQLITE_BUSY_TIMEOUT_SECONDS: Final = 3.0
# sqlite3 error names after which a connection is not to be trusted again: one opened while the
# file was read-only stays read-only for ever, and one that met an I/O error may be half-broken.
_SQLITE_POISONED: Final = ("SQLITE_READONLY", "SQLITE_IOERR", "SQLITE_CANTOPEN")
POSTGRES_CONNECT_TIMEOUT_SECONDS: Final = 10
# healthmon never waits between the statements of a transaction (no session is held across an
# await), so a transaction idle this long belongs to a paused or hung process: PostgreSQL ends it,
# and the row locks it held (a batch of results being recorded) no longer keep the other workers
# from taking over its servers.
POSTGRES_IDLE_IN_TRANSACTION_SECONDS: Final = 4

# An execution option the unit of work sets on the connection of a transaction that will write.
WRITE_INTENT: Final = "healthmon_write_intent"

_SUPPORTED: Final = {("sqlite", "pysqlite"), ("postgresql", "psycopg2")}
_PASSWORD_IN_TEXT: Final = re.compile(r"(?P<user>//[^/:@]*:)[^/@]*@")


def masked_url(url: str | URL) -> str:
    """The URL with its password replaced by ***, safe for logs and messages."""
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        # Not parseable, so mask what looks like user:password@ without understanding the rest.
        return _PASSWORD_IN_TEXT.sub(r"\g<user>***@", url)


def database_url(url: str | URL) -> URL:
    """The parsed URL; anything but sqlite or postgresql(+psycopg2) raises DatabaseConfigurationError."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseConfigurationError(
            masked_url(url), "it is not a database URL (expected sqlite:///PATH or postgresql+psycopg2://...)"
        ) from exc
    if parsed.drivername == "postgresql":
        # SQLAlchemy 2.1 reads a bare postgresql:// as psycopg 3; healthmon ships psycopg2.
        parsed = parsed.set(drivername="postgresql+psycopg2")
    try:
        dialect = parsed.get_dialect()
    except NoSuchModuleError as exc:
        raise DatabaseConfigurationError(
            masked_url(parsed), f"{parsed.drivername!r} is not a supported database"
        ) from exc
    if (parsed.get_backend_name(), dialect.driver) not in _SUPPORTED:
        raise DatabaseConfigurationError(
            masked_url(parsed),
            f"{parsed.drivername!r} is not supported; use sqlite or postgresql+psycopg2",
        )
    return parsed


def create_database_engine(
    url: str | URL,
    *,
    pool_size: int = DEFAULT_POOL_SIZE,
    sqlite_foreign_keys: bool = True,
) -> Engine:
    """An engine for a supported URL; connects lazily, so nothing touches the database here."""
    parsed = database_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, pool_size=pool_size, foreign_keys=sqlite_foreign_keys)
    return _postgres_engine(parsed, pool_size=pool_size)


def _postgres_engine(url: URL, *, pool_size: int) -> Engine:
    engine = create_engine(
        url,
        pool_size=pool_size,
        # Never open more connections than planned: PostgreSQL's own limit is shared by every process.
        max_overflow=0,
        pool_pre_ping=True,
        connect_args={
            "connect_timeout": POSTGRES_CONNECT_TIMEOUT_SECONDS,
            "application_name": "healthmon",
            # Timestamps then come back as UTC datetimes with no conversion (see UtcDateTime), and
            # in the ISO form the fast reader below expects.
            "options": "-c timezone=UTC -c datestyle=ISO"
            f" -c idle_in_transaction_session_timeout={POSTGRES_IDLE_IN_TRANSACTION_SECONDS * 1000}",
        },
    )
    extensions = engine.dialect.loaded_dbapi.extensions  # psycopg2.extensions, which has no type stubs
    standard = extensions.PYDATETIMETZ

    def timestamptz(text: str | None, cursor: Any) -> datetime | None:
        if text is None:
            return None
        try:
            return datetime.fromisoformat(text)
        except ValueError:  # "infinity", BC dates: psycopg2 decides, as it would have anyway
            return standard(text, cursor)  # type: ignore[no-any-return]

    # psycopg2's own reader calls back into Python for a new tzinfo per value; fromisoformat
    # parses "2025-01-01 12:00:00.000001+00" in C and returns the shared UTC. Listing 10,000
    # webservers reads 40,000 timestamps: about 16 ms that way, 10 ms this way (on 2 cores).
    # Epoch numbers measured slower still (date_part + fromtimestamp() 18 ms, microseconds as
    # int8 22 ms): the server formats them no faster, and Python builds the datetime instead of C.
    fast_timestamptz = extensions.new_type(standard.values, "HEALTHMON_TIMESTAMPTZ", timestamptz)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Per connection, not psycopg2-wide: other code in the process keeps the standard reader.
        extensions.register_type(fast_timestamptz, dbapi_connection)

    return engine


def _sqlite_engine(url: URL, *, pool_size: int, foreign_keys: bool) -> Engine:
    in_memory = url.database in (None, "", ":memory:")
    options: dict[str, Any] = {
        "connect_args": {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
    }
    if in_memory:
        # Every connection to :memory: is a new, empty database; share one.
        options["poolclass"] = StaticPool
    else:
        options.update(pool_size=pool_size, max_overflow=0)
    engine = create_engine(url, **options)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN away from the sqlite3 driver; the "begin" listener below emits it.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # On a new, empty database only: freed pages are then returned by PRAGMA
            # incremental_vacuum, which retention runs (upgrade_database converts an older one).
            # Setting it on a database that has pages would wait for the write lock.
            cursor.execute("PRAGMA page_count")
            if cursor.fetchone() == (0,):
                cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
            cursor.execute("PRAGMA journal_mode=WAL")
            # Off only while migrations rebuild tables: dropping a parent would cascade.
            cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        finally:
            cursor.close()

    gate = SqliteWriteGate()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        if not connection.get_execution_options().get(WRITE_INTENT, False):
            connection.exec_driver_sql("BEGIN")
            return
        gate.enter(connection.info)
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            gate.leave(connection.info)
            raise

    def _end(connection: Connection) -> None:
        # An invalidated connection has no info to read; the pool's invalidate event lets go.
        if not connection.invalidated:
            gate.leave(connection.info)

    event.listen(engine, "commit", _end)
    event.listen(engine, "rollback", _end)
    # A connection given back or thrown away without a rollback event still lets the next writer in.
    event.listen(engine.pool, "reset", lambda _dbapi, record, _state: gate.leave(record.info))
    event.listen(engine.pool, "invalidate", lambda _dbapi, record, _exc: gate.leave(record.info))

    @event.listens_for(engine, "handle_error")
    def _discard_poisoned(context: ExceptionContext) -> None:
        # Marked as a disconnect, the connection is discarded and the pool renews every connection
        # opened before it, so writes recover by themselves once the file is writable again.
        name = getattr(context.original_exception, "sqlite_errorname", "")
        if name.startswith(_SQLITE_POISONED):
            context.is_disconnect = True

    return engine


def create_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for units of work: no autoflush, no expiry on commit (rows are copied into domain objects)."""
    return sessionmaker(bind=engine, autoflush=False, expire_on_commit=False)


def check_database(engine: Engine) -> None:
    """Answer only when the database does; otherwise raise StorageUnavailable naming the masked URL."""
    try:
        with translated_errors(), engine.connect() as connection:
            connection.execute(select(literal(1)))
    except StorageUnavailable as exc:
        raise StorageUnavailable(f"{masked_url(engine.url)}: {exc.detail}") from exc


__all__ = [
    "DEFAULT_POOL_SIZE",
    "WRITE_INTENT",
    "check_database",
    "create_database_engine",
    "create_session_factory",
    "database_url",
    "masked_url",
]
