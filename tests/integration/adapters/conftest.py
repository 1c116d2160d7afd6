"""The adapters that do network I/O are tested on both event loops the service can run on."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import pytest
import uvloop

# The modules whose adapters talk to the network through the event loop (connect, TLS, resolve).
_ON_BOTH_LOOPS = {
    "test_aiohttp_prober.py",
    "test_outbound_guard.py",
    "test_tls_certificates.py",
    "test_webhook_notifier.py",
}


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    """asyncio's loop and uvloop (HEALTHMON_EVENT_LOOP's choices) for those modules; asyncio's elsewhere."""
    # pytest-asyncio wants a mapping for every item here: one factory adds no parameter to the id.
    if item.path.name not in _ON_BOTH_LOOPS:
        return {"asyncio": asyncio.new_event_loop}
    return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}
