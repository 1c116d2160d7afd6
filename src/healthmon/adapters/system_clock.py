"""The wall clock, in UTC."""

from datetime import UTC, datetime

from healthmon.application.ports import Clock


class SystemClock(Clock):
    """Reads the operating system's clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)
