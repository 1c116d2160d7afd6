"""Browser tests: a real `healthmon serve` and a real Chromium; without Chromium they skip, or fail in CI."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from tests.integration.browser.chromium import chromium, chromium_missing


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One Chromium for the session's browser tests."""
    reason = chromium_missing()
    if reason is not None:
        if os.environ.get("HEALTHMON_REQUIRE_POSTGRES") == "1" or os.environ.get("CI"):
            pytest.fail(f"{reason}; CI (HEALTHMON_REQUIRE_POSTGRES=1 or CI) needs the browser tests to run")
        pytest.skip(reason)
    with chromium() as launched:
        yield launched
