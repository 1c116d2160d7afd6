"""The fleet at a glance: every webserver's last reading and the counts a scrape of the API shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from healthmon.application.ports import Clock, UnitOfWork, WebserverReading
from healthmon.domain.deliveries import DeliveryStatus
from healthmon.domain.events import EventType


@dataclass(frozen=True, slots=True)
class FleetSnapshot:
    """What the store held at `taken_at`: each webserver's reading, live workers, events and deliveries."""

    taken_at: datetime
    readings: list[WebserverReading]
    live_workers: int
    events_by_type: dict[EventType, int]
    deliveries_by_status: dict[DeliveryStatus, int]


class ReadFleet:
    """Read the whole fleet in one transaction, a fixed number of queries however many webservers there are.

    A worker is live while its heartbeat is younger than the lease (as ListWorkers counts them).
    """

    def __init__(self, uow: UnitOfWork, clock: Clock, lease_seconds: float) -> None:
        self._uow = uow
        self._clock = clock
        self._ttl = timedelta(seconds=lease_seconds)

    def execute(self) -> FleetSnapshot:
        """The snapshot, dated by the clock when the read began."""
        taken_at = self._clock.now()
        with self._uow as uow:
            return FleetSnapshot(
                taken_at=taken_at,
                readings=uow.webservers.readings(),
                live_workers=len(uow.workers.live(self._ttl)),
                events_by_type=uow.events.count_by_type(),
                deliveries_by_status=uow.deliveries.count_by_status(),
            )
