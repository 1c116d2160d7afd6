"""Keyset pagination over HTTP: following next_cursor tiles a listing: no gaps, no repeats, stable order."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from healthmon.container import Container
from tests.factories import failed, succeeded
from tests.fakes import EPOCH
from tests.integration.http.conftest import Client, new_webserver, record, webserver_id


def follow(
    client: Client, path: str, *, cursor: str | None = None, **params: Any
) -> tuple[list[dict[str, Any]], int]:
    """Every item of a listing from `cursor` on, page after page; and how many pages it took."""
    items: list[dict[str, Any]] = []
    pages = 0
    while True:
        query = {**params, **({"cursor": cursor} if cursor is not None else {})}
        response = client.get(path, params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        pages += 1
        assert len(page["items"]) <= params["limit"]
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items, pages
        assert len(page["items"]) == params["limit"], "only the last page may be short"


@pytest.mark.parametrize("limit", [1, 3, 7, 20, 21, 1000])
def test_webserver_pages_tile_the_list_in_id_order(client: Client, limit: int) -> None:
    created = [new_webserver(client, n) for n in range(21)]
    for gone in created[4:9]:
        assert client.delete(f"/webservers/{gone['id']}").status_code == 204
    expected = [item["id"] for item in created[:4] + created[9:]]
    items, pages = follow(client, "/webservers", limit=limit)
    assert [item["id"] for item in items] == expected
    assert pages == max(1, -(-len(expected) // limit))


def test_webserver_pages_tile_a_filtered_list(client: Client, container: Container) -> None:
    created = [new_webserver(client, n) for n in range(12)]
    unhealthy = created[1::3]
    for server in unhealthy:
        record(container, [failed(webserver_id(server), EPOCH + timedelta(seconds=i)) for i in range(3)])
    items, _ = follow(client, "/webservers", limit=2, health="unhealthy")
    assert [item["id"] for item in items] == [server["id"] for server in unhealthy]
    others, _ = follow(client, "/webservers", limit=5, health="unknown")
    assert len(others) == len(created) - len(unhealthy)


def test_a_webserver_added_between_pages_appears_once_at_the_end(client: Client) -> None:
    for n in range(4):
        new_webserver(client, n)
    first = client.get("/webservers", params={"limit": 2}).json()
    late = new_webserver(client, 99)
    rest, _ = follow(client, "/webservers", cursor=first["next_cursor"], limit=2)
    ids = [item["id"] for item in first["items"] + rest]
    assert ids == sorted(set(ids))
    assert ids[-1] == late["id"]


@pytest.mark.parametrize("limit", [1, 4, 9, 30, 31])
def test_history_pages_tile_the_history_newest_first(
    client: Client, container: Container, limit: int
) -> None:
    server = webserver_id(new_webserver(client))
    # Ten seconds with three probes each, a microsecond apart: ids (their starts) must order them.
    # Stored straight into the history: recording drops a result no later than the last check.
    results = [succeeded(server, EPOCH + timedelta(seconds=i // 3, microseconds=i % 3)) for i in range(30)]
    for batch in (results[:11], results[11:]):
        with container.uow() as uow:
            uow.probe_results.add_many(batch)
            uow.commit()
    everything = client.get(f"/webservers/{server}/requests", params={"limit": 1000}).json()["items"]
    assert len(everything) == 30
    ids = [item["id"] for item in everything]
    assert ids == sorted(ids, reverse=True)
    items, pages = follow(client, f"/webservers/{server}/requests", limit=limit)
    assert items == everything
    assert pages == max(1, -(-30 // limit))


def test_history_pages_tile_a_time_window(client: Client, container: Container) -> None:
    server = webserver_id(new_webserver(client))
    record(container, [succeeded(server, EPOCH + timedelta(seconds=i)) for i in range(20)])
    window = {"since": "2026-01-01T00:00:05Z", "until": "2026-01-01T00:00:15Z"}
    items, pages = follow(client, f"/webservers/{server}/requests", limit=3, **window)
    assert [item["started_at"][17:19] for item in items] == [f"{s:02d}" for s in range(14, 4, -1)]
    assert pages == 4


def test_next_cursor_is_null_exactly_when_nothing_follows(client: Client) -> None:
    for n in range(4):
        new_webserver(client, n)
    exact = client.get("/webservers", params={"limit": 4}).json()
    assert exact["next_cursor"] is None
    short = client.get("/webservers", params={"limit": 3}).json()
    assert isinstance(short["next_cursor"], str)
    last = client.get("/webservers", params={"limit": 3, "cursor": short["next_cursor"]}).json()
    assert len(last["items"]) == 1
    assert last["next_cursor"] is None
