"""Browser tests: a real `healthmon serve` and a real Chromium; without Chromium they skip, or fail in CI."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from tests.integration.browser.chromium import chromium, chromium_missing


# Package scope, not session: Playwright's sync API keeps an event loop running in this thread
# until it stops, and every asyncio test collected after this package would fail to start its own.
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One Chromium for this package's browser tests, stopped when they are done."""
    reason = chromium_missing()
    if reason is not None:
        if os.environ.get("HEALTHMON_REQUIRE_POSTGRES") == "1" or os.environ.get("CI"):
            pytest.fail(f"{reason}; CI (HEALTHMON_REQUIRE_POSTGRES=1 or CI) needs the browser tests to run")
        pytest.skip(reason)
    with chromium() as launched:
        yield launched
