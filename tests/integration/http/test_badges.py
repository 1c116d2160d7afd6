"""Badges: SVG images of a public server's health, without a key; a private or unknown id is a 404."""

from __future__ import annotations

from datetime import timedelta
from xml.etree import ElementTree

import pytest

from healthmon.container import Container
from healthmon.entrypoints.http.badges import GREEN, GREY, RED, YELLOW_GREEN, uptime_colour, uptime_text
from tests.factories import failed, succeeded
from tests.fakes import FakeClock
from tests.integration.http.conftest import (
    Client,
    ClientFactory,
    assert_problem,
    new_webserver,
    record,
    webserver_id,
)

SVG = "{http://www.w3.org/2000/svg}"


def texts(svg: str) -> list[str]:
    return [element.text or "" for element in ElementTree.fromstring(svg).iter(f"{SVG}text")]


def test_a_public_servers_health_badge_is_a_cacheable_svg(client: Client) -> None:
    created = new_webserver(client, public=True)
    response = client.get(f"/badges/{created['id']}/health.svg")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert response.headers["cache-control"] == "public, max-age=60"
    assert "unknown" in texts(response.text)
    assert "health" in texts(response.text)


def test_the_health_badge_follows_the_health(client: Client, container: Container, clock: FakeClock) -> None:
    created = new_webserver(client, public=True)
    start = clock.now()
    record(container, [succeeded(webserver_id(created), start + timedelta(seconds=i)) for i in range(5)])
    svg = client.get(f"/badges/{created['id']}/health.svg").text
    assert "healthy" in texts(svg)
    assert "#4c1" in svg


def test_a_private_server_has_no_badge_and_looks_like_no_server(client: Client) -> None:
    private = new_webserver(client, 1)
    private_answer = client.get(f"/badges/{private['id']}/health.svg")
    missing_answer = client.get("/badges/999/health.svg")
    assert_problem(private_answer, 404, "webserver-not-found")
    assert_problem(missing_answer, 404, "webserver-not-found")
    assert private_answer.json()["detail"] == missing_answer.json()["detail"].replace(
        "999", str(private["id"])
    )


def test_badges_need_no_key_but_only_for_public_servers(make_client: ClientFactory) -> None:
    client = make_client(api_keys=("k",))
    headers = {"Authorization": "Bearer k"}
    public = client.post(
        "/webservers", json={"name": "a", "url": "http://a.test/", "public": True}, headers=headers
    )
    private = client.post("/webservers", json={"name": "b", "url": "http://b.test/"}, headers=headers)
    assert client.get(f"/badges/{public.json()['id']}/health.svg").status_code == 200
    assert client.get(f"/badges/{private.json()['id']}/health.svg").status_code == 404


@pytest.mark.parametrize(
    "path", ["/badges/0/health.svg", "/badges/99999999999/health.svg", "/badges/x/health.svg"]
)
def test_a_badge_of_an_impossible_id_is_a_404(client: Client, path: str) -> None:
    assert client.get(path).status_code == 404


def test_making_a_server_private_again_hides_its_badge(client: Client) -> None:
    created = new_webserver(client, public=True)
    client.patch(f"/webservers/{created['id']}", json={"public": False})
    assert client.get(f"/badges/{created['id']}/health.svg").status_code == 404


def test_the_uptime_badge_shows_each_window(client: Client, container: Container, clock: FakeClock) -> None:
    created = new_webserver(client, public=True)
    start = clock.now()
    results = [succeeded(webserver_id(created), start + timedelta(seconds=i)) for i in range(3)]
    results.append(failed(webserver_id(created), start + timedelta(seconds=3)))
    record(container, results)
    clock.advance(3 * 24 * 3600)  # three days on: outside the day, inside the week and the month

    day = client.get(f"/badges/{created['id']}/uptime.svg")
    week = client.get(f"/badges/{created['id']}/uptime.svg", params={"window": "7d"})
    month = client.get(f"/badges/{created['id']}/uptime.svg", params={"window": "30d"})

    assert day.status_code == week.status_code == month.status_code == 200
    assert day.headers["cache-control"] == "public, max-age=60"
    assert texts(day.text)[-1] == "no data"
    assert "uptime 24h" in texts(day.text)
    assert texts(week.text)[-1] == "75.00%"
    assert "uptime 7d" in texts(week.text)
    assert texts(month.text)[-1] == "75.00%"
    assert RED in week.text


@pytest.mark.parametrize("window", ["1y", "24", ""])
def test_an_unknown_window_is_a_400_problem(client: Client, window: str) -> None:
    created = new_webserver(client, public=True)
    response = client.get(f"/badges/{created['id']}/uptime.svg", params={"window": window})
    assert_problem(response, 400, "invalid-request")


def test_a_private_server_has_no_uptime_badge(client: Client) -> None:
    created = new_webserver(client)
    assert_problem(client.get(f"/badges/{created['id']}/uptime.svg"), 404, "webserver-not-found")


@pytest.mark.parametrize(
    ("uptime", "text", "colour"),
    [
        (None, "no data", GREY),
        (1.0, "100%", GREEN),
        (0.9995, "99.95%", GREEN),
        (0.995, "99.50%", YELLOW_GREEN),
        (0.5, "50.00%", RED),
    ],
)
def test_uptime_text_and_colour(uptime: float | None, text: str, colour: str) -> None:
    assert (uptime_text(uptime), uptime_colour(uptime)) == (text, colour)
