"""Waiting for an asyncio event, but no longer than a deadline: how the monitor's tasks sleep."""

from __future__ import annotations

import asyncio
import contextlib


async def wait_for(event: asyncio.Event, seconds: float) -> None:
    """Return when the event is set or after `seconds`, whichever comes first; never raise a timeout."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
