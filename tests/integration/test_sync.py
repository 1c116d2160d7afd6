"""POST /webservers/sync and GET /webservers/export through the real app on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy.engine import URL

from healthmon.container import Container, build_container
from healthmon.domain.ids import WebserverId
from healthmon.domain.probe import ProbeResult
from healthmon.entrypoints.http import create_app
from healthmon.settings import Settings

Client = TestClient[Litestar]
BASE_URL = "http://127.0.0.1:8000"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def container(request: pytest.FixtureRequest) -> Iterator[Container]:
    """A container on an empty, migrated database of either kind."""
    if request.param == "sqlite":
        url = request.getfixturevalue("sqlite_url")
    else:
        request.getfixturevalue("postgres_session_factory")  # empties the tables
        postgres_url: URL = request.getfixturevalue("postgres_url")
        url = postgres_url.render_as_string(hide_password=False)
    container = build_container(Settings(database_url=url, http_threads=4))
    yield container
    container.shutdown_resources()


@pytest.fixture
def client(container: Container) -> Iterator[Client]:
    """A started client on the container's app."""
    with TestClient(create_app(container), base_url=BASE_URL) as client:
        yield client


def sync(client: Client, entries: list[dict[str, Any]], *, status: int = 200, **switches: object) -> Any:
    response = client.post("/webservers/sync", json={"webservers": entries, **switches})
    assert response.status_code == status, response.text
    return response.json()


def apply(client: Client, entries: list[dict[str, Any]], *, prune: bool = False) -> Any:
    return sync(client, entries, dry_run=False, prune=prune)


def webservers(client: Client) -> list[dict[str, Any]]:
    response = client.get("/webservers", params={"limit": 1000})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


FILE: list[dict[str, Any]] = [
    {"key": "api", "name": "API", "url": "http://api.test/health", "interval_seconds": 30},
    {"name": "Docs", "url": "http://docs.test/"},
]


def test_apply_creates_managed_servers_and_a_second_apply_is_a_no_op(client: Client) -> None:
    first = apply(client, FILE)
    second = apply(client, FILE)

    assert [entry["url"] for entry in first["create"]] == ["http://api.test/health", "http://docs.test/"]
    assert first["applied"] is True
    assert second == {
        "create": [],
        "update": [],
        "delete": [],
        "unmanaged": [],
        "unchanged": 2,
        "applied": True,
    }
    listed = webservers(client)
    assert [(item["key"], item["name"], item["managed"]) for item in listed] == [
        ("api", "API", True),
        (None, "Docs", True),
    ]
    assert listed[0]["interval_seconds"] == 30


def test_a_dry_run_shows_the_plan_and_changes_nothing(client: Client) -> None:
    plan = sync(client, FILE)

    assert len(plan["create"]) == 2
    assert plan["applied"] is False
    assert webservers(client) == []


def test_an_update_lists_only_the_changed_fields_and_applies_them(client: Client) -> None:
    apply(client, FILE)
    changed = [{**FILE[0], "name": "API v2"}, {**FILE[1], "verify_tls": False}]

    plan = apply(client, changed)

    assert plan["update"] == [
        {"id": 1, "key": "api", "changes": {"name": ["API", "API v2"]}},
        {"id": 2, "url": "http://docs.test/", "changes": {"verify_tls": [True, False]}},
    ]
    assert [(item["name"], item["verify_tls"]) for item in webservers(client)] == [
        ("API v2", True),
        ("Docs", False),
    ]


def test_prune_deletes_managed_servers_only_and_lists_those_made_by_hand(client: Client) -> None:
    apply(client, FILE)
    by_hand = client.post("/webservers", json={"name": "hand", "url": "http://hand.test/"}).json()

    kept = apply(client, FILE[:1])
    pruned = apply(client, FILE[:1], prune=True)

    assert kept["delete"] == []
    assert pruned["delete"] == [{"id": 2, "key": None, "url": "http://docs.test/"}]
    unmanaged = [{"id": by_hand["id"], "key": None, "url": "http://hand.test/"}]
    assert kept["unmanaged"] == pruned["unmanaged"] == unmanaged
    assert [item["name"] for item in webservers(client)] == ["API", "hand"]


def test_a_change_by_hand_makes_a_server_unmanaged(client: Client) -> None:
    apply(client, FILE)

    assert client.patch("/webservers/2", json={"interval_seconds": 5}).status_code == 200

    assert [item["managed"] for item in webservers(client)] == [True, False]
    assert apply(client, FILE[:1], prune=True)["delete"] == []


@pytest.mark.parametrize("export_format", ["yaml", "json"])
def test_export_then_apply_is_a_no_op(client: Client, export_format: str) -> None:
    apply(client, [*FILE, {"key": "secret", "name": "S", "url": "http://user:pw@secret.test/"}])
    client.post("/webservers", json={"name": "hand", "url": "http://hand.test/", "timeout_seconds": 5})

    response = client.get("/webservers/export", params={"format": export_format})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith(f"application/{export_format}")
    document = yaml.safe_load(response.text)  # JSON is YAML too
    assert document["webservers"][0] == {
        "key": "api",
        "name": "API",
        "url": "http://api.test/health",
        "interval_seconds": 30,
    }
    assert "pw" not in response.text
    plan = apply(client, document["webservers"])
    assert (plan["create"], plan["update"], plan["delete"], plan["unchanged"]) == ([], [], [], 4)
    assert client.get("/webservers/3").json()["url"] == "http://user:***@secret.test/"


def test_one_invalid_entry_applies_nothing_and_every_bad_entry_is_reported(client: Client) -> None:
    entries = [
        *FILE,
        {"key": "Bad Key", "name": "x", "url": "http://x.test/"},
        {"key": "ok", "name": "y", "url": "http://y.test/", "interval_seconds": 0},
        {"key": "api", "name": "again", "url": "http://z.test/"},
    ]

    problem = sync(client, entries, status=422, dry_run=False)

    assert [(error["index"], error["key"], error["field"]) for error in problem["errors"]] == [
        (2, None, "webservers[2].key"),
        (3, "ok", "webservers[3].interval_seconds"),
        (4, "api", "webservers[4].key"),
    ]
    assert webservers(client) == []


def test_history_is_kept_across_a_rename_and_a_new_url(client: Client, container: Container) -> None:
    apply(client, FILE)
    started = datetime.now(UTC) - timedelta(minutes=1)
    container.record_probe_results().execute(
        [
            ProbeResult.response(
                WebserverId(1), started_at=started, latency_ms=5.0, status_code=200, timeout_seconds=60
            )
        ]
    )

    plan = apply(client, [{"key": "api", "name": "Renamed", "url": "http://new-api.test/"}, FILE[1]])

    assert plan["update"][0]["id"] == 1
    assert plan["update"][0]["changes"]["url"] == ["http://api.test/health", "http://new-api.test/"]
    details = client.get("/webservers/1").json()
    assert (details["name"], details["url"]) == ("Renamed", "http://new-api.test/")
    assert len(details["last_requests"]) == 1


def test_two_keyed_servers_can_swap_urls_in_one_sync(client: Client) -> None:
    apply(
        client,
        [
            {"key": "a", "name": "A", "url": "http://a.test/"},
            {"key": "b", "name": "B", "url": "http://b.test/"},
        ],
    )

    apply(
        client,
        [
            {"key": "a", "name": "A", "url": "http://b.test/"},
            {"key": "b", "name": "B", "url": "http://a.test/"},
        ],
    )

    assert [(item["key"], item["url"]) for item in webservers(client)] == [
        ("a", "http://b.test/"),
        ("b", "http://a.test/"),
    ]


def test_an_entry_wanting_the_url_of_a_server_made_by_hand_is_a_conflict(client: Client) -> None:
    client.post("/webservers", json={"name": "hand", "url": "http://hand.test/"})
    apply(client, [{"key": "a", "name": "A", "url": "http://a.test/"}])

    problem = sync(client, [{"key": "a", "name": "A", "url": "http://hand.test/"}], status=409, dry_run=False)

    assert problem["type"] == "/problems/conflict"
    assert [item["url"] for item in webservers(client)] == ["http://hand.test/", "http://a.test/"]


def test_two_syncs_at_once_create_each_server_once(client: Client) -> None:
    entries = [{"key": f"s{n}", "name": f"s{n}", "url": f"http://s{n}.test/"} for n in range(200)]
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def run() -> None:
        barrier.wait()
        response = client.post("/webservers/sync", json={"webservers": entries, "dry_run": False})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # The second either waited and found nothing to do (200), or met the first's rows (409).
    assert sorted(statuses)[0] == 200
    assert set(statuses) <= {200, 409}
    assert len(webservers(client)) == 200
