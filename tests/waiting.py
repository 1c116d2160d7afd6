"""Waiting on conditions with a deadline, instead of sleeping and hoping."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def eventually(condition: Callable[[], bool], *, within: float = 5.0, what: str = "condition") -> None:
    """Return as soon as the condition holds; fail the test if it does not within the timeout."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.02)


def eventually_sync(condition: Callable[[], bool], *, within: float = 5.0, what: str = "condition") -> None:
    """The same, for tests that run no event loop."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        time.sleep(0.02)
