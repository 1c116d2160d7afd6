"""Debian's Chromium driven by Playwright: the one browser the tests and the screenshots use.

Playwright's own browser download is not used (nor reachable): it drives /usr/bin/chromium, which
`make chromium` installs (`apt-get install chromium`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from playwright.sync_api import Browser, sync_playwright

CHROMIUM: Final = Path(os.environ.get("HEALTHMON_TEST_CHROMIUM", "/usr/bin/chromium"))
# No sandbox (tests run as root), and nothing that reaches out to the internet on its own.
FLAGS: Final = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def chromium_missing() -> str | None:
    """Why the browser cannot run here, or None when it can."""
    if not CHROMIUM.is_file():
        return f"no Chromium at {CHROMIUM} (make chromium installs Debian's)"
    return None


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium, closed when the block ends."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=list(FLAGS))
        try:
            yield browser
        finally:
            browser.close()
