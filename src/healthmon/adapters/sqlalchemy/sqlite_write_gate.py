"""The write gate of one SQLite engine: one writer at a time, a few waiting, the rest refused at once.

SQLite has one write lock per database file. Without a gate every request thread that wants to
write waits inside the driver's busy handler, so a lock held elsewhere (another process, a long
batch) ties up every thread and even reads queue behind the writers. With it, one writer of this
process waits for the lock, a few wait their turn for a bounded time, and any more are told at once
that the database is busy (a 503 with Retry-After for the API, a retry for the worker), which
keeps threads free for readers.
"""

from __future__ import annotations

import threading
from collections.abc import MutableMapping
from typing import Any, Final

from healthmon.application.errors import StorageUnavailable

# Writers that may wait for their turn at once; those beyond are refused without waiting.
WAITING_WRITERS: Final = 4
# How long a writer waits for its turn before it is refused.
TURN_WAIT_SECONDS: Final = 2.0

# The key, in a pooled connection's info, that marks the connection holding the gate.
_HOLDS_GATE: Final = "healthmon_holds_write_gate"


class SqliteWriteGate:
    """Admits one writing transaction at a time; a bounded number may wait, for a bounded time."""

    def __init__(self, waiting: int = WAITING_WRITERS, wait_seconds: float = TURN_WAIT_SECONDS) -> None:
        self._turn = threading.Lock()
        self._state = threading.Lock()
        self._waiting = 0
        self._limit = waiting
        self._wait_seconds = wait_seconds

    def enter(self, info: MutableMapping[Any, Any]) -> None:
        """Take the turn for the connection whose info this is, or raise StorageUnavailable."""
        with self._state:
            if self._waiting >= self._limit:
                raise StorageUnavailable("the database is busy with other writes")
            self._waiting += 1
        try:
            admitted = self._turn.acquire(timeout=self._wait_seconds)
        finally:
            with self._state:
                self._waiting -= 1
        if not admitted:
            raise StorageUnavailable("the database is busy with other writes")
        info[_HOLDS_GATE] = True

    def leave(self, info: MutableMapping[Any, Any]) -> None:
        """Give the turn back if this connection holds it; harmless otherwise."""
        if info.pop(_HOLDS_GATE, False):
            self._turn.release()


__all__ = ["SqliteWriteGate"]
