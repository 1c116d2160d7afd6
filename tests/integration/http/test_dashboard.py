"""The dashboard's pages and its overview JSON, on the in-memory store: what they show, and their headers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from healthmon.container import Container
from healthmon.entrypoints.http.templating import CONTENT_SECURITY_POLICY
from tests.factories import failed, succeeded
from tests.fakes import FakeClock
from tests.integration.http.conftest import (
    Client,
    assert_problem,
    new_webserver,
    record,
    webserver_id,
)


def make_healthy(container: Container, created: dict[str, object], clock: FakeClock) -> None:
    start = clock.now()
    record(container, [succeeded(webserver_id(created), start + timedelta(seconds=i)) for i in range(5)])


def test_overview_page_is_html_with_a_strict_content_security_policy(client: Client) -> None:
    new_webserver(client, 1, name="shop <b>front</b>")
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "default-src 'self'" in CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    # Autoescaped: a name is text, never markup.
    assert "shop &lt;b&gt;front&lt;/b&gt;" in response.text
    assert "<b>front</b>" not in response.text


def test_overview_page_has_no_inline_script_or_style(client: Client) -> None:
    new_webserver(client)
    page = client.get("/").text
    assert "<script>" not in page
    assert "<style" not in page
    assert " style=" not in page
    assert "http://" not in page.replace("http://server-1.test/health", "")


def test_overview_counts_every_state_and_lists_unhealthy_first(
    client: Client, container: Container, clock: FakeClock
) -> None:
    healthy = new_webserver(client, 1, name="a healthy")
    broken = new_webserver(client, 2, name="z broken")
    new_webserver(client, 3, name="m new")
    make_healthy(container, healthy, clock)
    start = clock.now()
    record(container, [failed(webserver_id(broken), start + timedelta(seconds=i)) for i in range(3)])

    overview = client.get("/ui/data/overview").json()

    assert overview["counts"] == {"healthy": 1, "unhealthy": 1, "unknown": 1}
    assert (overview["total"], overview["matching"], overview["page"], overview["pages"]) == (3, 3, 1, 1)
    assert [item["name"] for item in overview["items"]] == ["z broken", "m new", "a healthy"]
    assert overview["items"][2]["recent"] == [True] * 5
    assert overview["items"][0]["recent"] == [False] * 3
    assert overview["items"][0]["url"] == "http://server-2.test/health"


def test_overview_filters_by_health_and_name_but_counts_the_whole_fleet(
    client: Client, container: Container, clock: FakeClock
) -> None:
    make_healthy(container, new_webserver(client, 1, name="Shop"), clock)
    make_healthy(container, new_webserver(client, 2, name="blog"), clock)
    new_webserver(client, 3, name="shop-eu")

    by_health = client.get("/ui/data/overview", params={"health": "healthy", "q": "SHOP"}).json()
    assert [item["name"] for item in by_health["items"]] == ["Shop"]
    assert by_health["counts"] == {"healthy": 2, "unhealthy": 0, "unknown": 1}
    assert by_health["matching"] == 1
    by_name = client.get("/ui/data/overview", params={"q": "shop"}).json()
    assert [item["name"] for item in by_name["items"]] == ["shop-eu", "Shop"]


def test_overview_pages_hold_fifty_servers(client: Client) -> None:
    for n in range(1, 53):
        new_webserver(client, n, name=f"server {n:03}")
    first = client.get("/ui/data/overview").json()
    second = client.get("/ui/data/overview", params={"page": 2}).json()
    beyond = client.get("/ui/data/overview", params={"page": 9}).json()
    assert (len(first["items"]), len(second["items"]), first["pages"]) == (50, 2, 2)
    assert [item["name"] for item in second["items"]] == ["server 051", "server 052"]
    assert beyond["items"] == []


def test_overview_masks_a_password_in_a_url(client: Client) -> None:
    new_webserver(client, 1, url="https://admin:hunter2@shop.test/health")
    assert "hunter2" not in client.get("/").text
    assert "hunter2" not in client.get("/ui/data/overview").text


@pytest.mark.parametrize(
    ("params", "status", "slug"),
    [
        ({"health": "sick"}, 400, "invalid-request"),
        ({"page": "two"}, 400, "invalid-request"),
        ({"page": "0"}, 422, "invalid-field"),
        ({"q": "x" * 201}, 400, "invalid-request"),
    ],
)
def test_overview_data_answers_bad_input_with_a_problem(
    client: Client, params: dict[str, str], status: int, slug: str
) -> None:
    assert_problem(client.get("/ui/data/overview", params=params), status, slug)


@pytest.mark.parametrize("params", [{"health": "sick"}, {"page": "0"}])
def test_overview_page_answers_bad_input_with_an_html_error_page(
    client: Client, params: dict[str, str]
) -> None:
    response = client.get("/", params=params)
    assert response.status_code in (400, 422)
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


def test_server_page_shows_settings_health_requests_errors_and_timeline(
    client: Client, container: Container, clock: FakeClock
) -> None:
    created = new_webserver(client, 1, name="shop")
    start = clock.now()
    results = [succeeded(webserver_id(created), start + timedelta(seconds=i)) for i in range(5)]
    results.append(failed(webserver_id(created), start + timedelta(seconds=10), status_code=503))
    record(container, results)

    response = client.get(f"/ui/webservers/{created['id']}")

    assert response.status_code == 200
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    page = response.text
    assert "<h1>shop" in page
    assert "healthy after 5" in page
    assert "1 of the last 6 failed." in page
    assert "http_status" in page or "503" in page
    assert 'id="timeline"' in page
    assert '<td><span class="health health-unknown">unknown</span></td>' in page
    assert 'id="latency-chart"' in page
    assert "No channel alerts on this server." in page


def test_server_page_lists_the_channels_that_alert_on_it(client: Client) -> None:
    created = new_webserver(client)
    response = client.post(
        "/channels", json={"kind": "webhook", "url": "https://hooks.test/in", "name": "ops hook"}
    )
    assert response.status_code == 201, response.text
    page = client.get(f"/ui/webservers/{created['id']}").text
    assert "ops hook (webhook)" in page
    assert "hooks.test" not in page


def test_server_page_of_an_unknown_server_is_an_html_404(client: Client) -> None:
    response = client.get("/ui/webservers/99")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Webserver not found" in response.text


def test_static_files_are_served_from_the_package(client: Client) -> None:
    for path in (
        "/ui/static/dashboard.css",
        "/ui/static/overview.js",
        "/ui/static/server.js",
        "/ui/static/vendor/uplot/uPlot.iife.min.js",
        "/ui/static/vendor/uplot/uPlot.min.css",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.content, path
    assert client.get("/ui/static/vendor/uplot/LICENSE").status_code == 200


def test_an_unknown_static_file_is_a_problem_404(client: Client) -> None:
    assert_problem(client.get("/ui/static/nothing.js"), 404, "not-found")


def test_overview_shows_uptime_over_a_day_and_a_month_and_the_days_p95(
    client: Client, container: Container, clock: FakeClock
) -> None:
    created = new_webserver(client)
    start = clock.now()
    results = [
        succeeded(webserver_id(created), start + timedelta(seconds=i), latency_ms=20.0) for i in range(4)
    ]
    results.append(failed(webserver_id(created), start + timedelta(seconds=4)))
    record(container, results)
    clock.advance(60)

    [item] = client.get("/ui/data/overview").json()["items"]

    assert item["uptime_24h"] == item["uptime_30d"] == 0.8
    assert item["p95_24h_ms"] == pytest.approx(20.0, rel=0.02)
    page = client.get("/").text
    assert "80.00 %" in page


def test_overview_figures_are_null_without_probes(client: Client) -> None:
    new_webserver(client)
    [item] = client.get("/ui/data/overview").json()["items"]
    assert (item["uptime_24h"], item["uptime_30d"], item["p95_24h_ms"]) == (None, None, None)


def test_pages_answer_head_with_the_headers_of_get(client: Client) -> None:
    created = new_webserver(client)
    for path in ("/", f"/ui/webservers/{created['id']}"):
        response = client.head(path)
        assert response.status_code == 200, path
        assert response.content == b""
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
