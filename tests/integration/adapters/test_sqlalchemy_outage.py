"""A PostgreSQL outage, made by cutting a TCP proxy (the shared server keeps running)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

from healthmon.adapters.sqlalchemy.engine import (
    check_database,
    create_database_engine,
    create_session_factory,
)
from healthmon.adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from healthmon.application.errors import StorageUnavailable
from healthmon.application.use_cases.webservers import GetWebserver, ListWebservers, RegisterWebserver
from tests.factories import settings
from tests.fakes import FakeClock
from tests.integration.tcp_proxy import TcpProxy

pytestmark = pytest.mark.postgres


@pytest.fixture
def proxy(postgres_url: URL) -> Iterator[TcpProxy]:
    """A proxy in front of the test database's server."""
    with TcpProxy(postgres_url.host or "127.0.0.1", postgres_url.port or 5432) as running:
        yield running


@pytest.fixture
def proxied_engine(
    postgres_url: URL, proxy: TcpProxy, postgres_session_factory: sessionmaker[Session]
) -> Iterator[Engine]:
    """An engine on the (emptied) test database, through the proxy."""
    engine = create_database_engine(
        postgres_url.set(host="127.0.0.1", port=proxy.port, password=postgres_url.password or "s3cret"),
        pool_size=2,
    )
    yield engine
    engine.dispose()


def test_an_outage_raises_storage_unavailable_and_service_resumes_when_it_ends(
    proxy: TcpProxy, proxied_engine: Engine
) -> None:
    sessions = create_session_factory(proxied_engine)
    registered = RegisterWebserver(SqlAlchemyUnitOfWork(sessions), FakeClock()).execute(settings(1))

    proxy.cut()
    with pytest.raises(StorageUnavailable):
        GetWebserver(SqlAlchemyUnitOfWork(sessions), FakeClock()).execute(registered.id)
    with pytest.raises(StorageUnavailable):
        RegisterWebserver(SqlAlchemyUnitOfWork(sessions), FakeClock()).execute(settings(2))
    with pytest.raises(StorageUnavailable) as raised:
        check_database(proxied_engine)
    assert f"127.0.0.1:{proxy.port}" in str(raised.value)
    assert "s3cret" not in str(raised.value)

    proxy.restore()
    # The pool dropped the dead connections, so the first request after the outage already works.
    assert (
        GetWebserver(SqlAlchemyUnitOfWork(sessions), FakeClock()).execute(registered.id).webserver
        == registered
    )
    assert ListWebservers(SqlAlchemyUnitOfWork(sessions), FakeClock()).execute().items == [registered]


def test_a_connection_lost_inside_a_unit_of_work_fails_it_cleanly_and_keeps_nothing(
    proxy: TcpProxy, proxied_engine: Engine
) -> None:
    sessions = create_session_factory(proxied_engine)
    with SqlAlchemyUnitOfWork(sessions) as uow:
        uow.webservers.add(settings(1), FakeClock().now())
        proxy.cut()
        with pytest.raises(StorageUnavailable):
            uow.commit()

    proxy.restore()
    with SqlAlchemyUnitOfWork(sessions) as uow:
        assert uow.webservers.list(limit=10) == []
