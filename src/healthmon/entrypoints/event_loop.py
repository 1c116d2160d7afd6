"""Running the service's outermost coroutine on the event loop the settings name."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from healthmon.domain.errors import FieldProblem, InvalidField

T = TypeVar("T")


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """What builds the event loop called `name` (uvloop or asyncio); InvalidField when it is not installed."""
    if name == "asyncio":
        return asyncio.new_event_loop
    try:
        import uvloop  # noqa: PLC0415  (a dependency everywhere but Windows: only asked for when chosen)
    except ImportError:
        raise InvalidField(
            FieldProblem("HEALTHMON_EVENT_LOOP", "is uvloop, which is not installed here: set it to asyncio")
        ) from None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T], loop: str) -> T:
    """Run `main` to its end on a new event loop of the kind named, as asyncio.run does."""
    with asyncio.Runner(loop_factory=loop_factory(loop)) as runner:
        return runner.run(main)
