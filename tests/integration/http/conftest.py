"""HTTP tests: the real app on a container on the in-memory store, with a fake clock and notifier.

A Litestar TestClient runs the app on a thread of its own, which is why these tests are integration
tests. `make_client` builds a client for other settings (API keys) or other overrides.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Self

import httpx
import pytest
from dependency_injector import providers
from litestar import Litestar
from litestar.testing import TestClient

from healthmon.adapters.memory import InMemoryHistoryStorage, InMemoryStore, InMemoryUnitOfWork
from healthmon.application.errors import StorageRejected, StorageUnavailable
from healthmon.container import Container, build_container
from healthmon.domain.probe import ProbeResult
from healthmon.domain.webserver import WebserverId
from healthmon.entrypoints.http import create_app
from healthmon.settings import Settings
from tests.fakes import FakeClock, FakeNotifier

Client = TestClient[Litestar]
ClientFactory = Callable[..., Client]
PROBLEM_MEDIA_TYPE = "application/problem+json"
# Without API keys the app answers loopback Host names only; Litestar's default, testserver.local,
# is as foreign as any web page's name. Clients here call as a local user's tools do.
BASE_URL = "http://127.0.0.1:8000"
# Words of the driver's message that must never reach a client.
DRIVER_SECRET = "db-7.internal:5432"


class FakeFailingUnitOfWork(InMemoryUnitOfWork):
    """A unit of work whose transaction never starts, as when the database is down or refuses."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def __enter__(self) -> Self:
        raise self.error


def unavailable() -> FakeFailingUnitOfWork:
    """A unit of work on a database that cannot be reached."""
    return FakeFailingUnitOfWork(StorageUnavailable(f"could not connect to {DRIVER_SECRET}"))


def rejecting() -> FakeFailingUnitOfWork:
    """A unit of work on a database that refuses the statement (say, a missing table)."""
    return FakeFailingUnitOfWork(StorageRejected(f"no such table: webservers on {DRIVER_SECRET}"))


@pytest.fixture
def store() -> InMemoryStore:
    """The storage every unit of work of the test's container shares."""
    return InMemoryStore()


@pytest.fixture
def clock() -> FakeClock:
    """The container's clock: it moves only when the test says."""
    return FakeClock()


@pytest.fixture
def notifier() -> FakeNotifier:
    """What the channel use cases ask about URLs: it understands every one but those in bad_urls."""
    return FakeNotifier()


@pytest.fixture
def make_container(
    store: InMemoryStore, clock: FakeClock, notifier: FakeNotifier, tmp_path: Path
) -> Iterator[Callable[..., Container]]:
    """Containers on the in-memory store, the fake clock and the fake notifier, from Settings(**overrides)."""
    built: list[Container] = []

    def make(**overrides: Any) -> Container:
        # A database URL of the test's own, so nothing could ever touch a real database file.
        overrides.setdefault("database_url", f"sqlite:///{tmp_path / 'unused.db'}")
        container = build_container(Settings(**overrides))
        container.uow.override(providers.Factory(InMemoryUnitOfWork, store))
        container.history_storage.override(providers.Object(InMemoryHistoryStorage(store)))
        container.clock.override(providers.Object(clock))
        container.apprise_notifier.override(providers.Object(notifier))
        built.append(container)
        return container

    yield make
    for container in built:
        container.reset_override()


@pytest.fixture
def container(make_container: Callable[..., Container]) -> Container:
    """The default container: no API keys."""
    return make_container()


@pytest.fixture
def make_client(make_container: Callable[..., Container]) -> Iterator[ClientFactory]:
    """Started test clients; each call takes Settings overrides, or a ready container."""
    with ExitStack() as stack:

        def make(
            container: Container | None = None,
            *,
            worker_alive: Callable[[], bool] | None = None,
            **overrides: Any,
        ) -> Client:
            app = create_app(
                container if container is not None else make_container(**overrides),
                worker_alive=worker_alive,
                manage_resources=False,
            )
            return stack.enter_context(TestClient(app, base_url=BASE_URL))

        yield make


@pytest.fixture
def client(make_client: ClientFactory, container: Container) -> Client:
    """A started client on the default container."""
    return make_client(container)


def new_webserver(client: Client, n: int = 1, **fields: Any) -> dict[str, Any]:
    """Register webserver number n through the API and return its JSON."""
    body = {"name": f"server {n}", "url": f"http://server-{n}.test/health", **fields}
    response = client.post("/webservers", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def record(container: Container, results: list[ProbeResult]) -> None:
    """Store probe results as the worker would, on the same store the API reads."""
    container.record_probe_results().execute(results)


def webserver_id(created: dict[str, Any]) -> WebserverId:
    """The id of a webserver JSON, as the domain type."""
    return WebserverId(created["id"])


def assert_problem(
    response: httpx.Response, status: int, slug: str, *, fields: set[str] | None = None
) -> dict[str, Any]:
    """The response is an RFC 9457 problem of this status and type; with fields, it lists exactly those."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    problem: dict[str, Any] = response.json()
    assert problem["type"] == f"/problems/{slug}"
    assert problem["status"] == status
    assert isinstance(problem["title"], str)
    assert problem["title"]
    assert isinstance(problem["detail"], str)
    assert problem["detail"]
    if fields is not None:
        assert {error["field"] for error in problem["errors"]} == fields
        assert all(isinstance(error["message"], str) and error["message"] for error in problem["errors"])
    return problem
