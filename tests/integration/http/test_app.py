"""How create_app assembles the app: providers as dependencies, its thread pool, OPTIONS and HEAD."""

from __future__ import annotations

import threading

import pytest
from dependency_injector import providers

from healthmon.adapters.memory import InMemoryUnitOfWork
from healthmon.application.use_cases.paging import DEFAULT_PAGE_SIZE
from healthmon.application.use_cases.webservers import ListWebservers, WebserverPage
from healthmon.container import Container
from healthmon.domain.health import HealthState
from healthmon.domain.webserver import WebserverId
from healthmon.entrypoints.http import HTTP_USE_CASES
from tests.fakes import FakeClock
from tests.integration.http.conftest import Client, ClientFactory, new_webserver


class ThreadRecordingListWebservers(ListWebservers):
    """The use case, noting the thread each call runs on."""

    threads: list[str]

    def execute(
        self,
        *,
        health: HealthState | None = None,
        after: WebserverId | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
    ) -> WebserverPage:
        self.threads.append(threading.current_thread().name)
        return super().execute(health=health, after=after, limit=limit)


def test_every_http_use_case_is_a_container_provider() -> None:
    assert all(isinstance(getattr(Container, name), providers.Factory) for name in HTTP_USE_CASES)


def test_handlers_get_a_fresh_use_case_from_the_container_each_request(
    make_client: ClientFactory, container: Container
) -> None:
    built: list[ListWebservers] = []

    def build() -> ListWebservers:
        built.append(ListWebservers(container.uow(), FakeClock()))
        return built[-1]

    container.list_webservers.override(providers.Factory(build))
    client = make_client(container)
    for _ in range(2):
        assert client.get("/webservers").status_code == 200
    assert len(built) == 2
    assert built[0] is not built[1]


def test_sync_handlers_run_on_the_apps_own_pool_of_http_threads(
    make_client: ClientFactory, container: Container
) -> None:
    use_case = ThreadRecordingListWebservers(InMemoryUnitOfWork(), FakeClock())
    use_case.threads = []
    container.list_webservers.override(providers.Object(use_case))
    client = make_client(container)
    assert client.get("/webservers").status_code == 200
    assert use_case.threads
    assert use_case.threads[0].startswith("healthmon-http")
    assert use_case.threads[0] != threading.current_thread().name


def test_options_lists_every_method_of_the_path(client: Client) -> None:
    expected = {
        "/webservers": {"GET", "HEAD", "POST", "OPTIONS"},
        "/webservers/1": {"GET", "HEAD", "PATCH", "PUT", "DELETE", "OPTIONS"},
        "/webservers/1/requests": {"GET", "HEAD", "OPTIONS"},
        "/healthz": {"GET", "HEAD", "OPTIONS"},
    }
    for path, methods in expected.items():
        response = client.options(path)
        assert response.status_code == 204
        assert {method.strip() for method in response.headers["allow"].split(",")} == methods, path


# Every path that answers GET, with one that answers it with an error.
GET_PATHS = [
    "/webservers",
    "/webservers?limit=1",
    "/webservers/{id}",
    "/webservers/{id}/requests",
    "/workers",
    "/healthz",
    "/readyz",
    "/schema",
    "/schema/openapi.json",
    "/webservers/999",
    "/webservers?limit=0",
    "/nope",
]


@pytest.mark.parametrize("path", GET_PATHS)
def test_head_answers_like_get_without_a_body(client: Client, path: str) -> None:
    identifier = new_webserver(client)["id"]
    target = path.format(id=identifier)
    got = client.get(target)
    head = client.head(target)
    assert head.status_code == got.status_code
    assert head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]
    assert head.headers["content-length"] == got.headers["content-length"] == str(len(got.content))


def test_head_changes_nothing_and_runs_no_write(client: Client) -> None:
    identifier = new_webserver(client)["id"]
    assert client.head(f"/webservers/{identifier}").status_code == 200
    assert [item["id"] for item in client.get("/webservers").json()["items"]] == [identifier]


def test_a_405_offers_head_where_get_is_taken(client: Client) -> None:
    response = client.post("/webservers/1/requests")
    assert response.status_code == 405
    assert {method.strip() for method in response.headers["allow"].split(",")} == {"GET", "HEAD", "OPTIONS"}
