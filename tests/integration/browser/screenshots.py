"""Screenshots of the dashboard's pages for the README: `make screenshots` writes docs/screenshots/*.png.

It runs the real service on a scratch SQLite database behind an API key, probing local targets
(some up, one down, one that flaps), signs in through the form, and photographs each page.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Final

from playwright.sync_api import Page, expect

from tests.integration.browser.chromium import chromium, chromium_missing
from tests.integration.browser.pages import chart_points
from tests.integration.service import Service, ServiceRunner, TargetServer

OUTPUT: Final = Path("docs/screenshots")
KEY: Final = "screenshot-key-0123456789"
# Long enough for the down server to turn unhealthy and the flapping one to show both colours.
WARM_UP_SECONDS: Final = 20
FLAP_FROM: Final = 3
FLAP_UNTIL: Final = 8
SERVERS: Final = (
    ("shop", "/shop", 200),
    ("shop-eu", "/shop-eu", 200),
    ("blog", "/blog", 200),
    ("api", "/api", 200),
    ("payments", "/payments", 503),
    ("docs", "/docs", 200),
    ("search", "/search", 200),
    ("status page", "/status", 200),
)


def register(service: Service, target: TargetServer) -> int:
    """Register the servers; the id of the first, whose page is photographed."""
    ids = []
    for name, path, status in SERVERS:
        target.respond(path, status)
        body = {"name": name, "url": target.url(path), "interval_seconds": 1, "public": name == "shop"}
        response = service.http.post("/webservers", json=body, headers={"Authorization": f"Bearer {KEY}"})
        response.raise_for_status()
        ids.append(response.json()["id"])
    return int(ids[0])


def photograph(page: Page, base_url: str, first_id: int, target: TargetServer) -> None:
    """Sign in, then take each page."""
    page.goto(base_url + "/")
    expect(page.locator("h1")).to_have_text("Sign in")
    page.screenshot(path=OUTPUT / "sign-in.png")
    page.fill("#key", KEY)
    page.click("#sign-in")
    expect(page.locator("#servers tr")).to_have_count(len(SERVERS))
    start = time.monotonic()
    flapping = False
    while (elapsed := time.monotonic() - start) < WARM_UP_SECONDS:
        # The search server fails for a few seconds early on, so its strip shows both colours and
        # it is healthy again by the end.
        should_flap = FLAP_FROM < elapsed < FLAP_UNTIL
        if should_flap != flapping:
            target.respond("/search", 500 if should_flap else 200)
            flapping = should_flap
        page.wait_for_timeout(250)
    page.reload()
    expect(page.locator("#count-unhealthy")).to_have_text("1")
    page.screenshot(path=OUTPUT / "overview.png", full_page=True)
    page.goto(f"{base_url}/ui/webservers/{first_id}")
    chart_points(page)
    page.screenshot(path=OUTPUT / "server.png", full_page=True)


def main() -> int:
    """Take the screenshots; 1 (with the reason) when there is no browser."""
    reason = chromium_missing()
    if reason is not None:
        sys.stderr.write(f"{reason}\n")
        return 1
    OUTPUT.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory() as directory,
        ServiceRunner(Path(directory)) as runner,
        TargetServer() as target,
        chromium() as browser,
    ):
        service = runner.serve(f"sqlite:///{directory}/healthmon.db", api_keys=KEY)
        first_id = register(service, target)
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        photograph(context.new_page(), service.base_url, first_id, target)
        context.close()
    for path in sorted(OUTPUT.glob("*.png")):
        sys.stdout.write(f"wrote {path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
