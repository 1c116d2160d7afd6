"""The fleet read costs the same few statements with 1 webserver or 50: no query per webserver."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event

from healthmon.adapters.sqlalchemy.engine import create_session_factory
from healthmon.adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from healthmon.application.use_cases.fleet import ReadFleet
from tests.factories import settings, succeeded
from tests.fakes import EPOCH, FakeClock


def statements_of_a_read(engine: Engine) -> tuple[int, int]:
    """How many statements one ReadFleet issued, and how many webservers it read."""
    issued: list[str] = []

    def count(*args: Any) -> None:
        issued.append(args[2])

    read = ReadFleet(SqlAlchemyUnitOfWork(create_session_factory(engine)), FakeClock(), lease_seconds=6)
    event.listen(engine, "before_cursor_execute", count)
    try:
        snapshot = read.execute()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(issued), len(snapshot.readings)


def add_probed(engine: Engine, first: int, last: int) -> None:
    uow = SqlAlchemyUnitOfWork(create_session_factory(engine))
    with uow:
        added = [uow.webservers.add(settings(n), EPOCH) for n in range(first, last + 1)]
        uow.probe_results.add_many([succeeded(webserver.id, EPOCH) for webserver in added])
        uow.commit()


def test_the_statements_do_not_grow_with_the_webservers(sqlite_engine: Engine) -> None:
    add_probed(sqlite_engine, 1, 1)
    one, read = statements_of_a_read(sqlite_engine)
    assert read == 1
    add_probed(sqlite_engine, 2, 50)
    fifty, read = statements_of_a_read(sqlite_engine)
    assert read == 50
    assert fifty == one
    # BEGIN; the webservers with their newest requests; the workers; the events; the deliveries.
    assert one == 5
