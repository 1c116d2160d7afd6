"""SQLite stays available: writes recover after a read-only spell; a held lock costs seconds, not threads."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from healthmon.adapters.sqlalchemy.engine import create_session_factory
from healthmon.adapters.sqlalchemy.sqlite_write_gate import WAITING_WRITERS
from healthmon.adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from healthmon.adapters.system_clock import SystemClock
from healthmon.application.errors import StorageUnavailable
from healthmon.application.use_cases.webservers import ListWebservers, RegisterWebserver
from healthmon.domain.webserver import WebserverSettings
from tests.fakes import FakeClock
from tests.waiting import eventually_sync

WRITERS = 30


def _register(engine: Engine, path: str) -> str:
    """Register one webserver; 'ok', or the error's class name."""
    use_case = RegisterWebserver(SqlAlchemyUnitOfWork(create_session_factory(engine)), SystemClock())
    try:
        use_case.execute(WebserverSettings(name="site", url=f"http://127.0.0.1:9/{path}"))
    except StorageUnavailable:
        return "unavailable"
    return "ok"


@pytest.fixture
def immutable(sqlite_url: str) -> Iterator[Path]:
    """The database file, which the test may make unwritable (even for root) with chattr +i."""
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(path)], check=False).returncode != 0:
        pytest.skip("chattr +i is not available here, so the file cannot be made read-only")
    subprocess.run([chattr, "-i", str(path)], check=True)
    yield path
    subprocess.run([chattr, "-i", str(path)], check=False)


def test_writes_recover_by_themselves_once_a_read_only_file_is_writable_again(
    sqlite_engine: Engine, immutable: Path
) -> None:
    assert _register(sqlite_engine, "before") == "ok"
    # Connections opened while the file cannot be written are opened read-only by SQLite.
    sqlite_engine.dispose()
    subprocess.run(["chattr", "+i", str(immutable)], check=True)
    assert [_register(sqlite_engine, f"read-only-{n}") for n in range(3)] == ["unavailable"] * 3
    subprocess.run(["chattr", "-i", str(immutable)], check=True)

    assert [_register(sqlite_engine, f"after-{n}") for n in range(5)] == ["ok"] * 5


@contextlib.contextmanager
def writers_behind_a_held_lock(engine: Engine, sqlite_url: str) -> Iterator[list[str]]:
    """WRITERS threads registering while another connection holds the write lock; their outcomes.

    The lock is released, and every writer joined, when the block ends.
    """
    holder = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    outcomes: list[str] = []
    writers = [
        threading.Thread(target=lambda n=n: outcomes.append(_register(engine, f"w{n}")))
        for n in range(WRITERS)
    ]
    try:
        for writer in writers:
            writer.start()
        yield outcomes
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        for writer in writers:
            writer.join()


def test_a_held_write_lock_refuses_writes_within_seconds_while_reads_go_on(
    sqlite_engine: Engine, sqlite_url: str
) -> None:
    with writers_behind_a_held_lock(sqlite_engine, sqlite_url) as outcomes:
        listing = ListWebservers(SqlAlchemyUnitOfWork(create_session_factory(sqlite_engine)), FakeClock())
        assert listing.execute().items == []
        # Every writer is answered while the lock is still held: none waits for it to be released.
        eventually_sync(lambda: len(outcomes) == WRITERS, within=15, what="every writer to be answered")
        assert outcomes == ["unavailable"] * WRITERS
    assert _register(sqlite_engine, "after") == "ok"


def test_writers_beyond_the_waiting_room_are_refused_without_waiting(
    sqlite_engine: Engine, sqlite_url: str
) -> None:
    with writers_behind_a_held_lock(sqlite_engine, sqlite_url) as outcomes:
        # One writer holds the turn and at most WAITING_WRITERS wait: the others are refused at once,
        # long before the first one's busy timeout ends.
        refused_at_once = WRITERS - 1 - WAITING_WRITERS
        eventually_sync(
            lambda: len(outcomes) >= refused_at_once, within=1.5, what="the writers past the room refused"
        )
