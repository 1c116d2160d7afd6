"""Test doubles for ports whose real adapter cannot be controlled by a test (the clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from healthmon.application.ports import Clock

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


class FakeClock(Clock):
    """A clock that moves only when told to."""

    def __init__(self, now: datetime = EPOCH) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> datetime:
        self.current += timedelta(seconds=seconds)
        return self.current
