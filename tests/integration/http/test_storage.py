"""GET /storage: the size of the probe history, its oldest probe, and the retention."""

from __future__ import annotations

from datetime import timedelta

from healthmon.container import Container
from tests.factories import succeeded
from tests.fakes import EPOCH
from tests.integration.http.conftest import Client, ClientFactory, new_webserver, record, webserver_id


def test_an_empty_history_has_no_rows_and_no_oldest_probe(client: Client) -> None:
    response = client.get("/storage")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "rows": 0,
        "rows_estimated": False,
        "bytes": 0,
        "oldest_started_at": None,
        "retention_days": 90,
    }


def test_counts_every_probe_and_names_the_oldest(client: Client, container: Container) -> None:
    first, second = webserver_id(new_webserver(client, 1)), webserver_id(new_webserver(client, 2))
    record(container, [succeeded(first, EPOCH + timedelta(minutes=m)) for m in range(1, 4)])
    record(container, [succeeded(second, EPOCH + timedelta(seconds=30))])
    body = client.get("/storage").json()
    assert body["rows"] == 4
    assert body["oldest_started_at"] == "2026-01-01T00:00:30Z"


def test_reports_the_configured_retention(make_client: ClientFactory) -> None:
    assert make_client(retention_days=7).get("/storage").json()["retention_days"] == 7
