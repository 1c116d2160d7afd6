"""Errors that are not about one field: wrong method, body too large, database down, and bugs."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from dependency_injector import providers
from litestar.types import Message

from healthmon.adapters.memory import InMemoryUnitOfWork
from healthmon.application.use_cases.webservers import GetWebserver, WebserverDetails
from healthmon.container import Container
from healthmon.domain.webserver import WebserverId
from healthmon.entrypoints.http import create_app
from tests.fakes import FakeClock
from tests.integration.http.conftest import (
    DRIVER_SECRET,
    Client,
    ClientFactory,
    assert_problem,
    new_webserver,
    rejecting,
    unavailable,
)

LIMIT = 64 * 1024
Operation = tuple[str, str, object]
# Every operation, with a body that would be valid, so only the storage can fail it.
OPERATIONS: list[Operation] = [
    ("POST", "/webservers", {"name": "a", "url": "http://a.test/"}),
    ("GET", "/webservers", None),
    ("GET", "/webservers/1", None),
    ("PATCH", "/webservers/1", {"name": "b"}),
    ("PUT", "/webservers/1", {"name": "b", "url": "http://b.test/"}),
    ("DELETE", "/webservers/1", None),
    ("GET", "/webservers/1/requests", None),
]


def call(client: Client, operation: Operation) -> httpx.Response:
    method, path, body = operation
    return client.request(method, path, json=body) if body is not None else client.request(method, path)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/webservers", {"GET", "POST"}),
        ("PUT", "/webservers", {"GET", "POST"}),
        ("POST", "/webservers/1", {"GET", "PATCH", "PUT", "DELETE"}),
        ("POST", "/webservers/1/requests", {"GET"}),
        ("POST", "/healthz", {"GET"}),
    ],
)
def test_a_method_the_path_does_not_take_is_405_with_allow(
    client: Client, method: str, path: str, allowed: set[str]
) -> None:
    response = client.request(method, path)
    assert_problem(response, 405, "method-not-allowed")
    offered = {name.strip() for name in response.headers["allow"].split(",")}
    assert allowed <= offered
    assert method not in offered


JSON_BODY = {"Content-Type": "application/json"}


def body_of_size(size: int) -> bytes:
    """A JSON body of exactly `size` bytes whose only flaw is an over-long name."""
    start, end = b'{"name": "', b'", "url": "http://big.test/"}'
    return start + b"x" * (size - len(start) - len(end)) + end


@pytest.mark.parametrize(("method", "path"), [("POST", "/webservers"), ("PUT", "/webservers/1")])
def test_a_body_over_64_kib_is_413_and_changes_nothing(client: Client, method: str, path: str) -> None:
    new_webserver(client)
    response = client.request(method, path, content=body_of_size(LIMIT + 1), headers=JSON_BODY)
    assert_problem(response, 413, "request-too-large")
    assert [item["name"] for item in client.get("/webservers").json()["items"]] == ["server 1"]


def test_a_body_of_exactly_64_kib_is_read(client: Client) -> None:
    response = client.post("/webservers", content=body_of_size(LIMIT), headers=JSON_BODY)
    # Read and judged by the domain: the name is too long, not the body.
    assert_problem(response, 422, "invalid-field", fields={"name"})


@pytest.mark.parametrize("operation", OPERATIONS)
def test_an_unreachable_database_is_503_with_retry_after_and_no_driver_detail(
    make_client: ClientFactory, container: Container, operation: Operation
) -> None:
    container.uow.override(providers.Factory(unavailable))
    response = call(make_client(container), operation)
    problem = assert_problem(response, 503, "storage-unavailable")
    assert response.headers["retry-after"] == "5"
    assert DRIVER_SECRET not in response.text
    assert "errors" not in problem


def test_storage_comes_back_after_an_outage(make_client: ClientFactory, container: Container) -> None:
    client = make_client(container)
    created = new_webserver(client)
    with container.uow.override(providers.Factory(unavailable)):
        assert_problem(client.get(f"/webservers/{created['id']}"), 503, "storage-unavailable")
    assert client.get(f"/webservers/{created['id']}").json()["name"] == created["name"]


@pytest.mark.parametrize("operation", OPERATIONS[:2])
def test_a_database_that_rejects_the_statement_is_a_bare_500(
    make_client: ClientFactory, container: Container, caplog: pytest.LogCaptureFixture, operation: Operation
) -> None:
    container.uow.override(providers.Factory(rejecting))
    response = call(make_client(container), operation)
    assert_problem(response, 500, "internal-error")
    assert DRIVER_SECRET not in response.text
    assert "no such table" not in response.text
    assert any(DRIVER_SECRET in str(record.exc_info[1]) for record in caplog.records if record.exc_info)


class ExplodingGetWebserver(GetWebserver):
    """The use case with a bug in it."""

    def execute(self, webserver_id: WebserverId) -> WebserverDetails:
        raise KeyError(f"internal state for {webserver_id} at 0xdeadbeef")


def test_an_unexpected_exception_is_a_500_that_reveals_nothing(
    make_client: ClientFactory, container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    exploding = ExplodingGetWebserver(InMemoryUnitOfWork(), FakeClock())
    container.get_webserver.override(providers.Object(exploding))
    client = make_client(container)
    with caplog.at_level(logging.ERROR):
        response = client.get("/webservers/1")
    problem = assert_problem(response, 500, "internal-error")
    assert set(problem) == {"type", "title", "status", "detail"}
    assert "deadbeef" not in response.text
    assert "Traceback" not in response.text
    assert "KeyError" not in response.text
    logged = [record for record in caplog.records if record.exc_info]
    assert logged, "the bug must be logged with its traceback"
    assert isinstance(logged[0].exc_info[1] if logged[0].exc_info else None, KeyError)


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/webservers"), ("PUT", "/webservers/1"), ("PATCH", "/webservers/1")]
)
async def test_a_client_that_leaves_mid_body_is_a_quiet_debug_line(
    container: Container, caplog: pytest.LogCaptureFixture, method: str, path: str
) -> None:
    # Issue 10, item 5: this was an ERROR line with a traceback ("answering 500").
    app = create_app(container, manage_resources=False)
    events: list[dict[str, Any]] = [
        {"type": "http.request", "body": b'{"name": "half', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[Message] = []

    async def receive() -> dict[str, Any]:
        return events.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"localhost"),
            (b"content-type", b"application/json"),
            (b"content-length", b"99"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    with caplog.at_level(logging.DEBUG, logger="healthmon"):
        await app(scope, receive, send)  # type: ignore[arg-type]
    healthmon_records = [record for record in caplog.records if record.name.startswith("healthmon")]
    assert not [record for record in healthmon_records if record.levelno >= logging.WARNING]
    assert not [record for record in healthmon_records if record.exc_info]
    assert any("disconnected" in record.getMessage() for record in healthmon_records)
    assert not events, "the app read up to the disconnect"


def test_every_error_shape_is_a_problem_even_for_unknown_schema_pages(client: Client) -> None:
    assert_problem(client.get("/schema/nothing-here"), 404, "not-found")
    assert_problem(client.get("/schema/nothing.json"), 404, "not-found")
