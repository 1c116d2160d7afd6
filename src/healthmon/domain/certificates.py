"""TLS certificate expiry warnings: at which days before expiry a webserver's certificate is announced."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

# Two weeks, one week and one day before a certificate expires.
DEFAULT_WARN_DAYS: tuple[int, ...] = (14, 7, 1)


@dataclass(frozen=True, slots=True)
class ExpiryWarnings:
    """The thresholds (whole days before expiry) at which a certificate is warned about, once each.

    - Days are distinct positive integers, kept from the widest to the tightest.
    - A certificate first seen already within several thresholds gets one warning, for the tightest.
    """

    days: tuple[int, ...] = DEFAULT_WARN_DAYS

    def __post_init__(self) -> None:
        if not self.days or any(type(day) is not int or day < 1 for day in self.days):
            raise ValueError("warning days must be positive whole numbers, at least one")
        if len(set(self.days)) != len(self.days):
            raise ValueError("warning days must be distinct")
        object.__setattr__(self, "days", tuple(sorted(self.days, reverse=True)))

    def due(self, expires_at: datetime, now: datetime, warned: int | None) -> int | None:
        """The threshold to warn about now: the tightest crossed, if tighter than `warned` (or none yet)."""
        left = expires_at - now
        crossed = [day for day in self.days if left <= timedelta(days=day)]
        if not crossed:
            return None
        tightest = crossed[-1]
        if warned is not None and warned <= tightest:
            return None
        return tightest


def days_left(expires_at: datetime, now: datetime) -> int:
    """Whole days from now until expiry, rounded down (negative once expired)."""
    return (expires_at - now) // timedelta(days=1)
