"""The use cases that move deliveries along: claim the due ones, and record what each attempt got."""

from __future__ import annotations

import dataclasses
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from healthmon.application.ports import ClaimedDelivery, UnitOfWork
from healthmon.domain.deliveries import AttemptOutcome, Delivery, RetrySchedule

logger = logging.getLogger(__name__)


def random_jitter() -> float:
    """A jitter in [-1, 1] for the retry schedule (spreading retries needs no cryptographic randomness)."""
    return random.uniform(-1, 1)  # noqa: S311


class ClaimDueDeliveries:
    """Take the deliveries that are due, for one worker, in one transaction.

    - Oldest event first; a delivery waits while an earlier one of its channel and webserver is pending.
    - A claim lasts claim_seconds; a worker that dies mid-send loses nothing (the claim expires and
      another worker sends the delivery again, with the same webhook-id).
    """

    def __init__(self, uow: UnitOfWork, *, claim_seconds: float) -> None:
        self._uow = uow
        self._claim_for = timedelta(seconds=claim_seconds)

    def execute(self, worker_id: str, limit: int) -> list[ClaimedDelivery]:
        """Up to limit due deliveries, now held by worker_id."""
        with self._uow as uow:
            claimed = uow.deliveries.claim(worker_id, claim_for=self._claim_for, limit=limit)
            uow.commit()
        return claimed


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """What one attempt of a claimed delivery got, and when (the time the outcome was known)."""

    worker_id: str
    claimed: ClaimedDelivery
    outcome: AttemptOutcome
    at: datetime


class RecordDeliveryAttempt:
    """Count an attempt: the delivery is delivered, waits for its next retry, or has failed for good.

    - Retries follow the schedule, each wait jittered; a receiver's Retry-After is honoured up to the
      scheduled step.
    - Written only while the worker still holds the claim; otherwise nothing is written (the claim
      expired and the delivery is another worker's now) and None is returned.
    - A receiver that said 410 Gone turns its channel off, with the reason.
    """

    def __init__(
        self, uow: UnitOfWork, *, schedule: RetrySchedule, jitter: Callable[[], float] = random_jitter
    ) -> None:
        self._uow = uow
        self._schedule = schedule
        self._jitter = jitter

    def execute(self, attempt: DeliveryAttempt) -> Delivery | None:
        """The delivery as written, or None when the claim was lost."""
        claimed = attempt.claimed
        delivery = claimed.delivery.after_attempt(
            attempt.outcome, at=attempt.at, schedule=self._schedule, jitter=self._jitter()
        )
        with self._uow as uow:
            if not uow.deliveries.finish(attempt.worker_id, delivery):
                logger.warning(
                    "delivery %s of event %s: the claim expired before the attempt was recorded; "
                    "it will be sent again",
                    delivery.id,
                    delivery.event_id,
                )
                return None
            if attempt.outcome.gone:
                self._disable(uow, claimed, attempt)
            uow.commit()
        return delivery

    @staticmethod
    def _disable(uow: UnitOfWork, claimed: ClaimedDelivery, attempt: DeliveryAttempt) -> None:
        channel = uow.channels.get(claimed.channel.id, lock=True)
        if channel is None or not channel.settings.enabled:
            return
        reason = f"{attempt.outcome.error or 'the receiver is gone'} ({attempt.at.isoformat()})"
        uow.channels.save(
            dataclasses.replace(
                channel,
                settings=dataclasses.replace(channel.settings, enabled=False),
                disabled_reason=reason,
                updated_at=attempt.at,
            )
        )
        logger.warning("channel %s turned off: %s", channel.id, reason)
