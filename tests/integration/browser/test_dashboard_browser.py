"""The dashboard in Debian's Chromium against a real `healthmon serve` probing real local targets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.integration.browser.pages import PageProblems, chart_points, drawn_pixels
from tests.integration.service import Service, TargetServer, service_runner

KEY = "browser-test-key-0123456789"
# Long enough for a few probes at one a second and the overview's refresh every five.
WAIT_MS = 30_000


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookies) and page."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def target() -> Iterator[TargetServer]:
    """A local web server to probe."""
    with TargetServer() as server:
        yield server


def register(service: Service, name: str, url: str, **headers: str) -> int:
    body = {"name": name, "url": url, "interval_seconds": 1, "healthy_threshold": 2, "unhealthy_threshold": 2}
    response = service.http.post("/webservers", json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: int = response.json()["id"]
    return created


def test_the_overview_shows_a_server_turn_healthy_without_a_reload_and_its_page_draws_the_chart(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_url: str, page: Page, target: TargetServer
) -> None:
    target.respond("/down-then-up", 500)
    with service_runner(request, tmp_path) as runner:
        service = runner.serve(sqlite_url)
        webserver_id = register(service, "shop", target.url("/down-then-up"))
        problems = PageProblems(page)

        page.goto(service.base_url + "/")
        health = page.locator(f'#servers tr[data-id="{webserver_id}"] .health')
        expect(health).to_have_text("unhealthy", timeout=WAIT_MS)
        page.evaluate("window.notReloaded = true")
        target.respond("/down-then-up", 200)

        expect(health).to_have_text("healthy", timeout=WAIT_MS)
        assert page.evaluate("window.notReloaded === true"), "the overview reloaded the page"
        expect(page.locator("#count-healthy")).to_have_text("1")
        assert page.locator(f'#servers tr[data-id="{webserver_id}"] .strip i.fail').count() >= 2
        page.screenshot(path=tmp_path / "overview.png", full_page=True)

        page.click(f'#servers tr[data-id="{webserver_id}"] a')
        expect(page.locator("h1")).to_contain_text("shop")
        assert chart_points(page) >= 4
        assert drawn_pixels(page) > 0
        page.screenshot(path=tmp_path / "server.png", full_page=True)
        # A week and a month come from the statistics, one point per UTC hour or day.
        page.click('.windows button[data-window="7d"]')
        assert chart_points(page, "7d") in (7 * 24, 7 * 24 + 1)
        page.click('.windows button[data-window="30d"]')
        assert chart_points(page, "30d") in (30, 31)
        assert drawn_pixels(page) > 0
        assert problems.messages == []


def test_the_overview_filters_by_name_without_a_reload(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_url: str, page: Page, target: TargetServer
) -> None:
    with service_runner(request, tmp_path) as runner:
        service = runner.serve(sqlite_url)
        register(service, "shop", target.url("/a"))
        register(service, "blog", target.url("/b"))
        page.goto(service.base_url + "/")
        expect(page.locator("#servers tr")).to_have_count(2)
        page.evaluate("window.notReloaded = true")

        page.fill("#q", "blo")

        expect(page.locator("#servers tr")).to_have_count(1, timeout=WAIT_MS)
        expect(page.locator("#servers tr a")).to_have_text("blog")
        assert page.evaluate("window.notReloaded === true")
        assert page.url.endswith("/?q=blo")


def test_signing_in_and_out_with_an_api_key(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_url: str, page: Page, target: TargetServer
) -> None:
    with service_runner(request, tmp_path) as runner:
        service = runner.serve(sqlite_url, api_keys=KEY)
        webserver_id = register(service, "shop", target.url("/ok"), Authorization=f"Bearer {KEY}")
        problems = PageProblems(page)

        page.goto(f"{service.base_url}/ui/webservers/{webserver_id}")
        expect(page.locator("h1")).to_have_text("Sign in")
        page.fill("#key", "not the key")
        page.click("#sign-in")
        expect(page.locator(".form-error")).to_be_visible()

        page.fill("#key", KEY)
        page.click("#sign-in")
        expect(page.locator("h1")).to_contain_text("shop")
        assert page.url == f"{service.base_url}/ui/webservers/{webserver_id}"
        cookies = page.context.cookies()
        assert [(cookie["httpOnly"], cookie["sameSite"]) for cookie in cookies] == [(True, "Strict")]
        chart_points(page)

        page.click("#sign-out")
        expect(page.locator("h1")).to_have_text("Sign in")
        assert page.context.cookies() == []
        page.goto(service.base_url + "/")
        expect(page.locator("h1")).to_have_text("Sign in")
        # The only errors: the refused key's 401 and the signed-out overview's redirect target.
        assert all("401" in message for message in problems.messages), problems.messages
