"""Deliveries: one per (event, channel), retried on a schedule until delivered or given up."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NewType

from healthmon.domain.channels import ChannelId
from healthmon.domain.events import EventId
from healthmon.domain.webserver import WebserverId

DeliveryId = NewType("DeliveryId", int)

# Seconds between attempts: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (eight attempts in all).
DEFAULT_RETRY_SECONDS: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000)
# Each wait is stretched or shrunk by up to this fraction, so receivers that come back are not hit
# by every sender at once.
JITTER_FRACTION = 0.1
# The longest error message kept for a failed attempt.
ERROR_MAX_LENGTH = 500


class DeliveryStatus(StrEnum):
    """Where a delivery stands."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    """What one attempt to send got: delivered (2xx), or why not."""

    delivered: bool
    status_code: int | None = None
    error: str | None = None
    # The receiver's Retry-After (on a 429 or 503), in seconds.
    retry_after_seconds: float | None = None
    # The receiver said 410 Gone: the channel is turned off.
    gone: bool = False


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    """When a failed delivery is tried again; after the last step it has failed for good."""

    steps: tuple[float, ...] = DEFAULT_RETRY_SECONDS

    def __post_init__(self) -> None:
        if not self.steps or any(step <= 0 for step in self.steps):
            raise ValueError("retry steps must be positive seconds, at least one")

    @property
    def attempts(self) -> int:
        """How many attempts a delivery gets: the first, then one per step."""
        return len(self.steps) + 1

    def wait_after(self, attempts: int, *, retry_after: float | None, jitter: float) -> float | None:
        """Seconds to wait after `attempts` failed attempts, or None when none is left.

        - jitter in [-1, 1] scales the step by up to JITTER_FRACTION either way.
        - A receiver's Retry-After is honoured, but never beyond the scheduled step.
        """
        if attempts >= self.attempts:
            return None
        step = self.steps[attempts - 1]
        if retry_after is not None and retry_after >= 0:
            return min(retry_after, step)
        return step * (1 + JITTER_FRACTION * max(-1.0, min(1.0, jitter)))


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event on its way to one channel."""

    id: DeliveryId
    event_id: EventId
    channel_id: ChannelId
    webserver_id: WebserverId | None
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None

    def after_attempt(
        self, outcome: AttemptOutcome, *, at: datetime, schedule: RetrySchedule, jitter: float
    ) -> Delivery:
        """The delivery once this attempt is counted: delivered, waiting for a retry, or failed."""
        attempted = dataclasses.replace(
            self,
            attempts=self.attempts + 1,
            last_attempt_at=at,
            last_status_code=outcome.status_code,
            last_error=None if outcome.error is None else outcome.error[:ERROR_MAX_LENGTH],
        )
        if outcome.delivered:
            return dataclasses.replace(
                attempted, status=DeliveryStatus.DELIVERED, next_attempt_at=None, delivered_at=at
            )
        wait = (
            None
            if outcome.gone
            else schedule.wait_after(
                attempted.attempts, retry_after=outcome.retry_after_seconds, jitter=jitter
            )
        )
        if wait is None:
            return dataclasses.replace(attempted, status=DeliveryStatus.FAILED, next_attempt_at=None)
        return dataclasses.replace(attempted, next_attempt_at=at + timedelta(seconds=wait))

    def retried(self, now: datetime) -> Delivery:
        """A failed delivery put back in the queue: due now, with a fresh set of attempts."""
        if self.status is not DeliveryStatus.FAILED:
            raise ValueError("only a failed delivery can be retried")
        return dataclasses.replace(self, status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=now)
