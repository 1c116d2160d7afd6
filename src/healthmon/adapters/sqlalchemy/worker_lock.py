"""One worker per database: a lock held for the worker's whole life, released when its process ends.

On SQLite the lock is an OS file lock beside the database file, so a second worker on the same
file refuses to start. On PostgreSQL it is a session-level advisory lock; it keeps a second worker
from probing every server a second time until workers can share servers.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from sqlalchemy import Engine, func, select

from healthmon.adapters.sqlalchemy.engine import masked_url
from healthmon.adapters.sqlalchemy.errors import translated_errors
from healthmon.application.errors import AnotherWorkerRunning

# An arbitrary 64-bit key that names "the healthmon worker" among a database's advisory locks.
ADVISORY_LOCK_KEY: Final = 0x6865616C74686D6E


@contextlib.contextmanager
def single_worker_lock(engine: Engine) -> Iterator[None]:
    """Hold the database's worker lock for the block; raise AnotherWorkerRunning when it is taken."""
    if engine.dialect.name == "sqlite":
        with _file_lock(engine):
            yield
    else:
        with _advisory_lock(engine):
            yield


@contextlib.contextmanager
def _file_lock(engine: Engine) -> Iterator[None]:
    database = engine.url.database
    if not database or database == ":memory:":
        yield  # a private in-memory database: no other process can reach it
        return
    path = Path(f"{database}.worker-lock")
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AnotherWorkerRunning(
                masked_url(engine.url), f"{path} is locked; on SQLite only one worker may run"
            ) from None
        yield
    finally:
        os.close(descriptor)  # closing the descriptor releases the lock


@contextlib.contextmanager
def _advisory_lock(engine: Engine) -> Iterator[None]:
    # A connection of its own, held for the worker's life: the lock belongs to its session.
    with translated_errors(), engine.connect() as connection:
        if not connection.scalar(select(func.pg_try_advisory_lock(ADVISORY_LOCK_KEY))):
            raise AnotherWorkerRunning(masked_url(engine.url), "run one worker per database")
        connection.commit()
        try:
            yield
        finally:
            with contextlib.suppress(Exception):  # a lost connection has released the lock already
                connection.scalar(select(func.pg_advisory_unlock(ADVISORY_LOCK_KEY)))
                connection.commit()
