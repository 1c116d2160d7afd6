"""The app on the real container and the SQLite adapter: the wiring, lifespan and migrations fit together."""

from __future__ import annotations

from pathlib import Path

from litestar.testing import TestClient

from healthmon.adapters.sqlalchemy.migrations import upgrade_database
from healthmon.container import build_container
from healthmon.entrypoints.http import create_app
from healthmon.settings import Settings
from tests.integration.http.conftest import BASE_URL, assert_problem


def test_create_read_list_and_delete_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'healthmon.db'}"
    upgrade_database(url)
    container = build_container(Settings(database_url=url, http_threads=4))
    with TestClient(create_app(container), base_url=BASE_URL) as client:
        assert container.engine.initialized, "the app's lifespan starts the container's resources"
        response = client.post("/webservers", json={"name": " shop ", "url": "https://shop.test/"})
        assert response.status_code == 201, response.text
        created = response.json()
        assert created["name"] == "shop"
        assert created["created_at"].endswith(("Z", "+00:00"))

        details = client.get(response.headers["location"]).json()
        assert details == {**created, "last_requests": [], "last_event": None, "uptime_24h": None}
        assert client.get("/webservers").json() == {
            "items": [{**created, "last_event": None, "uptime_24h": None}],
            "next_cursor": None,
        }
        assert client.get(f"/webservers/{created['id']}/requests").json() == {
            "items": [],
            "next_cursor": None,
        }
        duplicate = client.post("/webservers", json={"name": "again", "url": "https://shop.test/"})
        assert_problem(duplicate, 409, "webserver-already-registered")
        assert client.get("/readyz").status_code == 200

        assert client.delete(f"/webservers/{created['id']}").status_code == 204
        assert_problem(client.get(f"/webservers/{created['id']}"), 404, "webserver-not-found")
        assert client.get("/webservers").json() == {"items": [], "next_cursor": None}
    assert not container.engine.initialized, "and shuts them down with the app"


def test_readyz_is_503_on_a_database_without_the_schema(tmp_path: Path) -> None:
    container = build_container(Settings(database_url=f"sqlite:///{tmp_path / 'empty.db'}"))
    with TestClient(create_app(container), base_url=BASE_URL) as client:
        assert_problem(client.get("/readyz"), 503, "not-ready")
        assert_problem(client.get("/webservers"), 500, "internal-error")
