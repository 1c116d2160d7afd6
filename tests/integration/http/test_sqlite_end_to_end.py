"""The app on the real container and the SQLite adapter: the wiring, lifespan and migrations fit together."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from litestar.testing import TestClient

from healthmon.adapters.sqlalchemy.migrations import upgrade_database
from healthmon.container import build_container
from healthmon.domain.webserver import WebserverId
from healthmon.entrypoints.http import create_app
from healthmon.settings import Settings
from tests.factories import failed, succeeded
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


def test_statistics_on_sqlite_before_and_after_the_rollup_job(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'healthmon.db'}"
    upgrade_database(url)
    container = build_container(Settings(database_url=url, http_threads=4))
    with TestClient(create_app(container), base_url=BASE_URL) as client:
        created = client.post("/webservers", json={"name": "shop", "url": "https://shop.test/"}).json()
        server = WebserverId(created["id"])
        now = datetime.now(UTC)
        # Three probes of two and three hours ago: hours the job can roll up.
        container.record_probe_results().execute(
            [
                succeeded(server, now - timedelta(hours=3), 10.0),
                succeeded(server, now - timedelta(hours=2, minutes=30), 20.0),
                failed(server, now - timedelta(hours=2)),
            ]
        )
        params = {"from": (now - timedelta(hours=4)).isoformat(), "to": now.isoformat(), "bucket": "hour"}
        before = client.get(f"/webservers/{server}/stats", params=params).json()
        assert (before["probes"], before["successes"]) == (3, 2)
        assert sum(bucket["probes"] for bucket in before["buckets"]) == 3
        assert container.roll_up_history().run(datetime.now(UTC)).hours >= 2
        assert client.get(f"/webservers/{server}/stats", params=params).json() == before
        assert client.get(f"/webservers/{server}").json()["uptime_24h"] == 2 / 3
        report = client.get("/stats", params={"format": "csv"})
        assert report.text.splitlines()[1].startswith(f"{server},shop,https://shop.test/,3,2,")
