"""GET /webservers/{id}/stats, GET /stats (JSON and CSV) and uptime_24h, over the in-memory store."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest

from healthmon.container import Container
from healthmon.domain.probe import ErrorKind, ProbeResult
from healthmon.domain.webserver import WebserverId
from tests.factories import succeeded
from tests.fakes import EPOCH, FakeClock
from tests.integration.http.conftest import Client, assert_problem, new_webserver, record, webserver_id

MINUTE = timedelta(minutes=1)


def stamp(minutes: float) -> str:
    return (EPOCH + minutes * MINUTE).isoformat().replace("+00:00", "Z")


def flapping(client: Client, container: Container, clock: FakeClock) -> WebserverId:
    """A server registered at EPOCH whose every probe flips its health; the clock ends at 03:00.

    00:10 ok 100 ms (-> healthy), 00:20 ok 200 ms, 01:10 a 500 in 3 ms (-> unhealthy), 02:30 refused.
    """
    server = webserver_id(new_webserver(client, healthy_threshold=1, unhealthy_threshold=1))
    refused = ProbeResult.failure(
        server,
        started_at=EPOCH + 150 * MINUTE,
        latency_ms=0.4,
        kind=ErrorKind.CONNECTION_REFUSED,
        message="no",
    )
    failed = ProbeResult.response(
        server, started_at=EPOCH + 70 * MINUTE, latency_ms=3.0, status_code=500, timeout_seconds=60
    )
    record(
        container,
        [succeeded(server, EPOCH + 10 * MINUTE, 100.0), succeeded(server, EPOCH + 20 * MINUTE, 200.0)],
    )
    record(container, [failed])
    record(container, [refused])
    clock.current = EPOCH + 180 * MINUTE
    return server


def stats(client: Client, server: WebserverId, **params: str) -> dict[str, Any]:
    response = client.get(f"/webservers/{server}/stats", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


EXPECTED_TOTALS = {
    "from": stamp(0),
    "to": stamp(180),
    "probes": 4,
    "successes": 2,
    "uptime": 0.5,
    "health_seconds": {"healthy": 3600.0, "unhealthy": 6600.0, "unknown": 600.0},
    "incidents": 1,
}


def assert_latency(latency: dict[str, float], p50: float, p95: float, p99: float, maximum: float) -> None:
    for name, exact in (("p50", p50), ("p95", p95), ("p99", p99)):
        assert latency[name] == pytest.approx(exact, rel=0.01), name
    assert latency["max"] == maximum


def test_stats_answer_counts_latency_health_and_incidents_of_the_window(
    client: Client, container: Container, clock: FakeClock
) -> None:
    server = flapping(client, container, clock)
    body = stats(client, server, **{"from": stamp(0), "to": stamp(180)})
    assert {key: body[key] for key in EXPECTED_TOTALS} == EXPECTED_TOTALS
    # The three probes that got a response: 3, 100 and 200 ms; the refused one has no latency.
    assert_latency(body["latency_ms"], 100.0, 200.0, 200.0, 200.0)
    assert body["buckets"] == []


def test_stats_are_the_same_once_rolled_up(client: Client, container: Container, clock: FakeClock) -> None:
    server = flapping(client, container, clock)
    before = stats(client, server, **{"from": stamp(0), "to": stamp(180), "bucket": "hour"})
    outcome = container.roll_up_history().run(clock.now())
    assert outcome.hours == 2  # 00:00 and 01:00; 02:00 ended less than the settling time ago
    assert stats(client, server, **{"from": stamp(0), "to": stamp(180), "bucket": "hour"}) == before


def test_hour_buckets_tile_the_window_and_add_up(
    client: Client, container: Container, clock: FakeClock
) -> None:
    server = flapping(client, container, clock)
    body = stats(client, server, **{"from": stamp(5), "to": stamp(180), "bucket": "hour"})
    buckets = body["buckets"]
    assert [(bucket["from"], bucket["to"]) for bucket in buckets] == [
        (stamp(5), stamp(60)),
        (stamp(60), stamp(120)),
        (stamp(120), stamp(180)),
    ]
    assert [bucket["probes"] for bucket in buckets] == [2, 1, 1]
    assert sum(bucket["probes"] for bucket in buckets) == body["probes"]
    assert [bucket["incidents"] for bucket in buckets] == [0, 1, 0]
    assert buckets[0]["health_seconds"] == {"healthy": 3000.0, "unhealthy": 0.0, "unknown": 300.0}
    assert buckets[2]["uptime"] == 0.0
    assert buckets[2]["latency_ms"] is None
    assert_latency(buckets[0]["latency_ms"], 100.0, 200.0, 200.0, 200.0)


def test_day_buckets_are_utc_days_clipped_to_the_window(
    client: Client, container: Container, clock: FakeClock
) -> None:
    server = flapping(client, container, clock)
    clock.current = EPOCH + timedelta(days=3)
    body = stats(client, server, **{"from": stamp(-60), "to": stamp(36 * 60), "bucket": "day"})
    assert [(bucket["from"], bucket["to"]) for bucket in body["buckets"]] == [
        (stamp(-60), stamp(0)),
        (stamp(0), stamp(24 * 60)),
        (stamp(24 * 60), stamp(36 * 60)),
    ]
    assert [bucket["probes"] for bucket in body["buckets"]] == [0, 4, 0]
    # Before the server existed nothing is counted; after its last change it stayed unhealthy.
    assert body["buckets"][0]["health_seconds"] == {"healthy": 0.0, "unhealthy": 0.0, "unknown": 0.0}
    assert body["buckets"][2]["health_seconds"]["unhealthy"] == 12 * 3600.0


def test_the_window_defaults_to_the_24_hours_before_now(
    client: Client, container: Container, clock: FakeClock
) -> None:
    server = flapping(client, container, clock)
    body = stats(client, server)
    assert (body["from"], body["to"]) == (stamp(180 - 24 * 60), stamp(180))
    assert body["probes"] == 4
    only_to = stats(client, server, to=stamp(60))
    assert (only_to["from"], only_to["probes"]) == (stamp(60 - 24 * 60), 2)


def test_future_time_has_no_health_yet(client: Client, container: Container, clock: FakeClock) -> None:
    server = flapping(client, container, clock)
    body = stats(client, server, **{"from": stamp(120), "to": stamp(300)})
    assert body["health_seconds"] == {"healthy": 0.0, "unhealthy": 3600.0, "unknown": 0.0}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": stamp(60), "to": stamp(60)}, "from"),
        ({"from": stamp(120), "to": stamp(60)}, "from"),
        ({"from": stamp(0), "to": stamp(401 * 24 * 60)}, "from"),
        ({"from": "2026-01-01T00:00:00"}, "from"),
        ({"to": "2026-01-01T00:00:00"}, "to"),
    ],
)
def test_a_window_that_breaks_a_rule_is_a_422_naming_the_field(
    client: Client, params: dict[str, str], field: str
) -> None:
    server = webserver_id(new_webserver(client))
    assert_problem(
        client.get(f"/webservers/{server}/stats", params=params), 422, "invalid-field", fields={field}
    )
    assert_problem(client.get("/stats", params=params), 422, "invalid-field", fields={field})


@pytest.mark.parametrize("params", [{"from": "yesterday"}, {"bucket": "week"}, {"format": "xml"}])
def test_unreadable_parameters_are_a_400(client: Client, params: dict[str, str]) -> None:
    server = webserver_id(new_webserver(client))
    path = "/stats" if "format" in params else f"/webservers/{server}/stats"
    assert_problem(client.get(path, params=params), 400, "invalid-request")


def test_a_window_of_400_days_is_allowed(client: Client) -> None:
    server = webserver_id(new_webserver(client))
    body = stats(client, server, **{"from": stamp(0), "to": stamp(400 * 24 * 60), "bucket": "day"})
    assert len(body["buckets"]) == 400
    assert body["probes"] == 0
    assert body["uptime"] is None
    assert body["latency_ms"] is None


def test_stats_of_an_unknown_webserver_are_a_404(client: Client) -> None:
    assert_problem(client.get("/webservers/99/stats"), 404, "webserver-not-found")


def test_all_stats_page_through_every_webserver(
    client: Client, container: Container, clock: FakeClock
) -> None:
    server = flapping(client, container, clock)
    quiet = webserver_id(new_webserver(client, 2))
    first = client.get("/stats", params={"from": stamp(0), "to": stamp(180), "limit": "1"}).json()
    assert (first["from"], first["to"]) == (stamp(0), stamp(180))
    [row] = first["items"]
    assert row["id"] == server
    assert {key: row[key] for key in ("probes", "successes", "uptime", "incidents", "health_seconds")} == {
        key: EXPECTED_TOTALS[key] for key in ("probes", "successes", "uptime", "incidents", "health_seconds")
    }
    assert row["p50"] == pytest.approx(100.0, rel=0.01)
    second = client.get("/stats", params={"from": stamp(0), "to": stamp(180), "cursor": first["next_cursor"]})
    [other] = second.json()["items"]
    assert (other["id"], other["probes"], other["uptime"], other["p99"]) == (quiet, 0, None, None)
    assert second.json()["next_cursor"] is None


def test_all_stats_as_csv_hold_every_webserver_with_a_header(
    client: Client, container: Container, clock: FakeClock
) -> None:
    server = flapping(client, container, clock)
    new_webserver(client, 2, name="=HYPERLINK(1)")
    response = client.get(
        "/stats", params={"from": stamp(0), "to": stamp(180), "format": "csv", "limit": "1"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["id"] for row in rows] == [str(server), str(server + 1)]
    assert rows[0]["uptime"] == "0.5"
    assert rows[0]["unhealthy_seconds"] == "6600.0"
    assert rows[1]["p50"] == ""
    # A name a spreadsheet would run as a formula is written as text.
    assert rows[1]["name"] == "'=HYPERLINK(1)"


def test_listing_and_details_show_the_uptime_of_the_last_24_hours(
    client: Client, container: Container, clock: FakeClock
) -> None:
    server = flapping(client, container, clock)
    quiet = webserver_id(new_webserver(client, 2))
    listing = {item["id"]: item["uptime_24h"] for item in client.get("/webservers").json()["items"]}
    assert listing == {server: 0.5, quiet: None}
    assert client.get(f"/webservers/{server}").json()["uptime_24h"] == 0.5
    clock.current = EPOCH + timedelta(hours=24, minutes=15)
    # The 00:10 probe has left the window.
    assert client.get(f"/webservers/{server}").json()["uptime_24h"] == pytest.approx(1 / 3)
