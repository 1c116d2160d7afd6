"""/healthz answers while the process runs; /readyz only while the database and any in-process worker work."""

from __future__ import annotations

from dependency_injector import providers

from healthmon.container import Container
from tests.integration.http.conftest import (
    DRIVER_SECRET,
    Client,
    ClientFactory,
    assert_problem,
    rejecting,
    unavailable,
)


def test_healthz_is_ok(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_healthz_answers_head_for_load_balancers(client: Client) -> None:
    response = client.head("/healthz")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-type"] == "application/json"


def test_readyz_answers_head_with_503_when_not_ready(
    make_client: ClientFactory, container: Container
) -> None:
    container.uow.override(providers.Factory(unavailable))
    response = make_client(container).head("/readyz")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.content == b""


def test_healthz_stays_ok_while_the_database_is_down(
    make_client: ClientFactory, container: Container
) -> None:
    container.uow.override(providers.Factory(unavailable))
    assert make_client(container).get("/healthz").status_code == 200


def test_readyz_is_ok_when_the_database_answers_and_no_worker_runs_here(client: Client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_follows_the_worker(make_client: ClientFactory, container: Container) -> None:
    alive = [True]
    client = make_client(container, worker_alive=lambda: alive[0])
    assert client.get("/readyz").status_code == 200
    alive[0] = False
    problem = assert_problem(client.get("/readyz"), 503, "not-ready")
    assert "worker" in problem["detail"]
    alive[0] = True
    assert client.get("/readyz").status_code == 200


def test_readyz_is_503_with_retry_after_while_the_database_is_unreachable(
    make_client: ClientFactory, container: Container
) -> None:
    container.uow.override(providers.Factory(unavailable))
    response = make_client(container, worker_alive=lambda: True).get("/readyz")
    assert_problem(response, 503, "storage-unavailable")
    assert response.headers["retry-after"] == "5"
    assert DRIVER_SECRET not in response.text


def test_readyz_is_503_when_the_database_refuses_reads(
    make_client: ClientFactory, container: Container
) -> None:
    container.uow.override(providers.Factory(rejecting))
    response = make_client(container).get("/readyz")
    problem = assert_problem(response, 503, "not-ready")
    assert "schema" in problem["detail"]
    assert DRIVER_SECRET not in response.text
