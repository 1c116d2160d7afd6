"""One worker per SQLite database: a file lock held for the worker's life, released when its process ends.

On SQLite a second worker on the same file refuses to start. On PostgreSQL workers share the
servers through leases (see the workers repository), so there is nothing to hold.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine

from healthmon.adapters.sqlalchemy.engine import database_url, masked_url
from healthmon.application.errors import AnotherWorkerRunning


def allows_one_worker(url: str) -> bool:
    """Whether the database at url lets only one worker run (SQLite), so none can take its servers."""
    return database_url(url).get_backend_name() == "sqlite"


@contextlib.contextmanager
def sqlite_worker_lock(engine: Engine) -> Iterator[None]:
    """On SQLite, hold the database's worker lock for the block (AnotherWorkerRunning when taken)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        # PostgreSQL: any number of workers; a private in-memory database: no other process can reach it.
        yield
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
