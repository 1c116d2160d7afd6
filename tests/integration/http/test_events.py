"""GET /events and last_event, on memory, SQLite and PostgreSQL: the feed a poller can follow forever."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from healthmon.adapters.event_json import event_data
from healthmon.container import Container
from tests.fakes import EPOCH
from tests.integration.conftest import UowFactory
from tests.integration.http.alerts import flip, flipping_webserver, on_backend
from tests.integration.http.conftest import Client, ClientFactory, assert_problem


@pytest.fixture
def container(make_container: Callable[..., Container], uow_factory: UowFactory) -> Container:
    return on_backend(make_container, uow_factory)


@pytest.fixture
def client(make_client: ClientFactory, container: Container) -> Client:
    return make_client(container)


def feed(client: Client, **params: Any) -> dict[str, Any]:
    response = client.get("/events", params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def test_an_empty_feed_gives_a_cursor_that_stays_put(client: Client) -> None:
    first = feed(client)
    assert first["items"] == []
    assert isinstance(first["next_cursor"], str)
    assert feed(client, after=first["next_cursor"]) == first


def test_a_health_change_is_an_event_with_its_probe(client: Client, container: Container) -> None:
    webserver = flipping_webserver(client)
    flip(container, webserver, 1, ok=True)
    [event] = feed(client)["items"]
    assert event["id"].startswith("evt_")
    assert event == {
        "id": event["id"],
        "type": "webserver.health_changed",
        "webserver_id": webserver["id"],
        "webserver": {"id": webserver["id"], "name": webserver["name"], "url": webserver["url"]},
        "from": "unknown",
        "to": "healthy",
        "occurred_at": "2026-01-01T00:00:01Z",
        "probe": {
            "started_at": "2026-01-01T00:00:01Z",
            "latency_ms": 12.5,
            "status_code": 200,
            "success": True,
            "error": None,
        },
    }
    assert client.get(f"/webservers/{webserver['id']}").json()["last_event"] == event
    [listed] = client.get("/webservers").json()["items"]
    assert listed["last_event"] == event


def test_a_webserver_that_never_changed_has_no_last_event(client: Client) -> None:
    webserver = flipping_webserver(client)
    assert client.get(f"/webservers/{webserver['id']}").json()["last_event"] is None
    assert client.get("/webservers").json()["items"][0]["last_event"] is None


def test_a_failed_probe_event_carries_its_error(client: Client, container: Container) -> None:
    webserver = flipping_webserver(client)
    flip(container, webserver, 1, ok=False)
    [event] = feed(client)["items"]
    assert (event["from"], event["to"]) == ("unknown", "unhealthy")
    assert event["probe"]["success"] is False
    assert event["probe"]["status_code"] == 500


def test_a_url_change_that_resets_health_is_an_event_without_a_probe(
    client: Client, container: Container
) -> None:
    webserver = flipping_webserver(client)
    flip(container, webserver, 1, ok=True)
    response = client.patch(f"/webservers/{webserver['id']}", json={"url": "http://elsewhere.test/"})
    assert response.status_code == 200, response.text
    reset = feed(client)["items"][-1]
    assert (reset["from"], reset["to"], reset["probe"]) == ("healthy", "unknown", None)
    assert reset["webserver"]["url"] == "http://elsewhere.test/"
    assert reset["occurred_at"] == EPOCH.isoformat().replace("+00:00", "Z")


def test_polling_with_next_cursor_never_misses_nor_repeats_an_event(
    client: Client, container: Container
) -> None:
    servers = [flipping_webserver(client, n) for n in (1, 2, 3)]
    seen: list[str] = []
    cursor = feed(client)["next_cursor"]
    for round_ in range(6):
        for n, server in enumerate(servers):
            flip(container, server, round_ * 10 + n, ok=round_ % 2 == 0)
        for _ in range(3):  # more polls than pages: the last ones find nothing new
            page = feed(client, after=cursor, limit=2)
            seen.extend(event["id"] for event in page["items"])
            cursor = page["next_cursor"]
    everything = [event["id"] for event in feed(client, limit=1000)["items"]]
    assert len(everything) == 18
    assert seen == everything


def test_the_feed_filters_by_webserver_and_keeps_a_removed_ones_events(
    client: Client, container: Container
) -> None:
    kept, removed = flipping_webserver(client, 1), flipping_webserver(client, 2)
    flip(container, kept, 1, ok=True)
    flip(container, removed, 2, ok=True)
    flip(container, removed, 3, ok=False)
    assert client.delete(f"/webservers/{removed['id']}").status_code == 204
    page = feed(client, webserver_id=removed["id"])
    assert [(event["webserver_id"], event["to"]) for event in page["items"]] == [
        (removed["id"], "healthy"),
        (removed["id"], "unhealthy"),
    ]
    assert page["items"][0]["webserver"]["name"] == removed["name"]
    assert [event["webserver_id"] for event in feed(client, webserver_id=kept["id"])["items"]] == [kept["id"]]
    assert len(feed(client)["items"]) == 3


def test_test_events_stay_out_of_the_feed(client: Client) -> None:
    channel = client.post("/channels", json={"kind": "webhook", "url": "https://receiver.test/"}).json()
    assert client.post(f"/channels/{channel['id']}/test").status_code == 202
    assert feed(client)["items"] == []


@pytest.mark.parametrize(
    ("params", "status", "slug", "field"),
    [
        ({"after": "not-a-cursor"}, 422, "invalid-cursor", "after"),
        ({"limit": 0}, 422, "invalid-field", "limit"),
        ({"limit": 1001}, 422, "invalid-field", "limit"),
        ({"webserver_id": 0}, 422, "invalid-field", "webserver_id"),
        ({"webserver_id": "one"}, 400, "invalid-request", "webserver_id"),
        ({"limit": "many"}, 400, "invalid-request", "limit"),
    ],
)
def test_bad_feed_parameters_are_problems(
    client: Client, params: dict[str, Any], status: int, slug: str, field: str
) -> None:
    assert_problem(client.get("/events", params=params), status, slug, fields={field})


def test_a_feed_item_is_the_data_a_webhook_receives(client: Client, container: Container) -> None:
    webserver = flipping_webserver(client)
    flip(container, webserver, 1, ok=False)
    [item] = feed(client)["items"]
    with container.uow() as uow:
        [event] = uow.events.feed(after=None, limit=1)
    assert item == msgspec.json.decode(msgspec.json.encode(event_data(event)))
