"""Storage kept in process memory: thread-safe, transactional, gone when the process ends.

Useful for embedding healthmon in tests or for a throwaway monitor. One transaction runs at a
time (a `with` block holds the store's lock), and every change made inside it is undone on exit
unless it was committed.
"""

from __future__ import annotations

import bisect
import builtins
import dataclasses
import functools
import itertools
import threading
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import date, datetime, timedelta
from types import TracebackType
from typing import Any, Self

from healthmon.adapters.system_clock import SystemClock
from healthmon.application.ports import (
    ChannelRepository,
    ClaimedDelivery,
    Clock,
    DeliveryRepository,
    EventRepository,
    HistoryCursor,
    HistoryStorage,
    HistoryUsage,
    JobLeases,
    ProbeResultRepository,
    PruneOutcome,
    RollupPieces,
    RollupRepository,
    UnitOfWork,
    WebserverReading,
    WebserverRepository,
    WorkerInfo,
    WorkerRepository,
)
from healthmon.domain.channels import Channel, ChannelId, ChannelSettings
from healthmon.domain.deliveries import Delivery, DeliveryId, DeliveryStatus
from healthmon.domain.errors import WebserverAlreadyRegistered, WebserverKeyTaken
from healthmon.domain.events import (
    CertificateExpiring,
    EventId,
    EventType,
    HealthChanged,
    RecordedEvent,
    new_event_id,
)
from healthmon.domain.health import ATTENTION_ORDER, HealthState
from healthmon.domain.ids import WebserverId
from healthmon.domain.patterns import ascii_lower
from healthmon.domain.probe import ProbeResult, RecordedProbe, probe_id_of
from healthmon.domain.rollups import DAY, HOUR, WEEK, Coverage, ReadPlan, Rollup, Span, coverage_of, floor_to
from healthmon.domain.statistics import StateChange
from healthmon.domain.webserver import Webserver, WebserverSettings

Undo = Callable[[], object]


def _position(probe: RecordedProbe) -> tuple[datetime, int]:
    return (probe.result.started_at, probe.id)


def _started_at(probe: RecordedProbe) -> datetime:
    return probe.result.started_at


class InMemoryStore:
    """The data shared by every unit of work built on it; the clock dates worker heartbeats."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock if clock is not None else SystemClock()
        self.lock = threading.RLock()
        self.webservers: dict[WebserverId, Webserver] = {}
        self.ids_by_url: dict[str, WebserverId] = {}
        # Each history stays sorted oldest first by (started_at, id), so pages are bisections.
        self.histories: dict[WebserverId, list[RecordedProbe]] = {}
        self.webserver_ids = itertools.count(1)
        # Bumped by every add, remove or settings change; a rolled-back bump only costs a reload.
        self.revision = 0
        self.workers: dict[str, WorkerInfo] = {}
        self.owners: dict[WebserverId, str] = {}
        # The lease epoch of each webserver ever claimed (absent: 0), bumped by every claim.
        self.epochs: dict[WebserverId, int] = {}
        # Events in sequence order; like a database sequence, a rolled-back event leaves a gap.
        self.events: list[RecordedEvent] = []
        self.events_by_id: dict[EventId, RecordedEvent] = {}
        self.event_sequences = itertools.count(1)
        self.channels: dict[ChannelId, Channel] = {}
        self.channel_ids = itertools.count(1)
        self.deliveries: dict[DeliveryId, Delivery] = {}
        self.delivery_ids = itertools.count(1)
        self.claims: dict[DeliveryId, Claim] = {}
        # Rollups per webserver, by the start of their hour or day; the hours and days still to roll up.
        self.hourly: dict[WebserverId, dict[datetime, Rollup]] = {}
        self.daily: dict[WebserverId, dict[datetime, Rollup]] = {}
        self.weekly: dict[WebserverId, dict[datetime, Rollup]] = {}
        self.dirty_hours: set[datetime] = set()
        self.dirty_days: set[datetime] = set()
        self.dirty_weeks: set[datetime] = set()
        self.jobs: dict[str, JobState] = {}

    def rollup_levels(self) -> list[dict[WebserverId, dict[datetime, Rollup]]]:
        """The hourly, daily and weekly rollups, each by webserver."""
        return [self.hourly, self.daily, self.weekly]


@dataclasses.dataclass(slots=True)
class JobState:
    """One periodic job's lease and last run, on the store's clock."""

    holder: str | None = None
    lease_expires_at: datetime | None = None
    last_finished_at: datetime | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Claim:
    """Who holds a delivery, and until when (the store's clock)."""

    worker_id: str
    expires_at: datetime


_ATTENTION_RANK = {state: rank for rank, state in enumerate(ATTENTION_ORDER)}


class InMemoryWebserverRepository(WebserverRepository):
    """Webservers in a dict; changes log how to undo themselves."""

    def __init__(self, store: InMemoryStore, undo: list[Undo]) -> None:
        self._store = store
        self._undo = undo

    def add(self, settings: WebserverSettings, now: datetime) -> Webserver:
        if settings.url in self._store.ids_by_url:
            raise WebserverAlreadyRegistered(settings.url)
        self._check_key(settings.key, WebserverId(0))
        webserver = Webserver(
            id=WebserverId(next(self._store.webserver_ids)), settings=settings, created_at=now, updated_at=now
        )
        self._put(webserver)
        self._store.histories[webserver.id] = []
        self._undo.append(lambda: self._store.histories.pop(webserver.id))
        return webserver

    def add_many(
        self, settings: Sequence[WebserverSettings], now: datetime, *, managed: bool
    ) -> list[Webserver]:
        added = []
        for each in settings:
            webserver = dataclasses.replace(self.add(each, now), managed=managed)
            self._put(webserver)
            added.append(webserver)
        return added

    def get(self, webserver_id: WebserverId, *, lock: bool = False) -> Webserver | None:
        # Every unit of work already holds the store's lock for its whole block.
        return self._store.webservers.get(webserver_id)

    def get_many(
        self, webserver_ids: Collection[WebserverId], *, lock: bool = False
    ) -> dict[WebserverId, Webserver]:
        found = (self._store.webservers.get(webserver_id) for webserver_id in webserver_ids)
        return {webserver.id: webserver for webserver in found if webserver is not None}

    def save(self, webserver: Webserver) -> None:
        owner = self._store.ids_by_url.get(webserver.settings.url)
        if owner is not None and owner != webserver.id:
            raise WebserverAlreadyRegistered(webserver.settings.url)
        self._check_key(webserver.settings.key, webserver.id)
        if webserver.id in self._store.webservers:
            self._put(webserver)

    def remove(self, webserver_id: WebserverId) -> bool:
        webserver = self._store.webservers.pop(webserver_id, None)
        if webserver is None:
            return False
        del self._store.ids_by_url[webserver.settings.url]
        history = self._store.histories.pop(webserver_id)
        owner = self._store.owners.pop(webserver_id, None)
        rollups = [(level, level.pop(webserver_id, None)) for level in self._store.rollup_levels()]
        self._store.revision += 1

        def undo() -> None:
            self._store.webservers[webserver_id] = webserver
            self._store.ids_by_url[webserver.settings.url] = webserver_id
            self._store.histories[webserver_id] = history
            if owner is not None:
                self._store.owners[webserver_id] = owner
            for level, kept in rollups:
                if kept is not None:
                    level[webserver_id] = kept

        self._undo.append(undo)
        return True

    def save_many(self, webservers: Sequence[Webserver]) -> None:
        for webserver in webservers:
            self.save(webserver)

    def remove_many(self, webserver_ids: Collection[WebserverId]) -> int:
        return sum(self.remove(webserver_id) for webserver_id in set(webserver_ids))

    def list(
        self,
        *,
        health: HealthState | None = None,
        after: WebserverId | None = None,
        limit: int,
        owner: str | None = None,
        lock: bool = False,
    ) -> list[Webserver]:
        matching = (
            webserver
            for webserver_id, webserver in sorted(self._store.webservers.items())
            if (after is None or webserver_id > after)
            and (health is None or webserver.state is health)
            and (owner is None or self._store.owners.get(webserver_id) == owner)
        )
        return list(itertools.islice(matching, limit))

    def revision(self, owner: str | None = None) -> object:
        if owner is None:
            return self._store.revision
        held = frozenset(
            (key, self._store.epochs.get(key, 0))
            for key, holder in self._store.owners.items()
            if holder == owner
        )
        return (self._store.revision, held)

    def count(self) -> int:
        return len(self._store.webservers)

    def _check_key(self, key: str | None, webserver_id: WebserverId) -> None:
        # A scan: keys are rare outside syncs, and this store holds test-sized data.
        others = self._store.webservers.values()
        if key is not None and any(
            other.settings.key == key and other.id != webserver_id for other in others
        ):
            raise WebserverKeyTaken(key)

    def readings(self) -> builtins.list[WebserverReading]:
        found: builtins.list[WebserverReading] = []
        for webserver_id, webserver in sorted(self._store.webservers.items()):
            history = self._store.histories.get(webserver_id)
            newest = history[-1].result if history else None
            found.append(
                WebserverReading(webserver)
                if newest is None
                else WebserverReading(webserver, newest.success, newest.latency_ms)
            )
        return found

    def health_counts(self) -> dict[HealthState, int]:
        counts = Counter(webserver.state for webserver in self._store.webservers.values())
        return {state: counts.get(state, 0) for state in HealthState}

    def overview(
        self, *, health: HealthState | None, name_contains: str, offset: int, limit: int
    ) -> tuple[int, builtins.list[Webserver]]:
        needle = ascii_lower(name_contains)
        matching = [
            webserver
            for webserver in self._store.webservers.values()
            if (health is None or webserver.state is health)
            and needle in ascii_lower(webserver.settings.name)
        ]
        matching.sort(
            key=lambda w: (_ATTENTION_RANK[w.state], ascii_lower(w.settings.name), w.id),
        )
        return len(matching), matching[offset : offset + limit]

    def _put(self, webserver: Webserver) -> None:
        previous = self._store.webservers.get(webserver.id)
        if previous is None or previous.settings != webserver.settings:
            self._store.revision += 1
        if previous is not None:
            del self._store.ids_by_url[previous.settings.url]
        self._store.webservers[webserver.id] = webserver
        self._store.ids_by_url[webserver.settings.url] = webserver.id

        def undo() -> None:
            del self._store.ids_by_url[webserver.settings.url]
            if previous is None:
                del self._store.webservers[webserver.id]
            else:
                self._store.webservers[webserver.id] = previous
                self._store.ids_by_url[previous.settings.url] = previous.id

        self._undo.append(undo)


class InMemoryProbeResultRepository(ProbeResultRepository):
    """Each webserver's history as a sorted list."""

    def __init__(self, store: InMemoryStore, undo: list[Undo]) -> None:
        self._store = store
        self._undo = undo

    def add_many(self, results: Sequence[ProbeResult]) -> None:
        for result in results:
            history = self._store.histories.get(result.webserver_id)
            if history is None:
                continue
            if result.tls_expires_at is not None:
                # History keeps no certificate expiry (TRANSIENT_PROBE_FIELDS), as the SQL store keeps none.
                result = dataclasses.replace(result, tls_expires_at=None)  # noqa: PLW2901
            # Latency kept to the microsecond, as the SQL store keeps it.
            kept = dataclasses.replace(result, latency_ms=round(result.latency_ms, 3))
            probe = RecordedProbe(id=probe_id_of(result.started_at), result=kept)
            bisect.insort(history, probe, key=_position)
            self._undo.append(functools.partial(history.remove, probe))

    def history(
        self,
        webserver_id: WebserverId,
        *,
        before: HistoryCursor | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int,
    ) -> list[RecordedProbe]:
        history = self._store.histories.get(webserver_id, [])
        end = len(history)
        if before is not None:
            end = bisect.bisect_left(history, (before.started_at, int(before.probe_id)), key=_position)
        if until is not None:
            end = min(end, bisect.bisect_left(history, until, key=_started_at))
        start = 0
        if since is not None:
            start = bisect.bisect_left(history, since, key=_started_at)
        start = max(start, end - limit)
        return history[start:end][::-1]

    def recent_outcomes(
        self, webserver_ids: Collection[WebserverId], *, limit: int, since: datetime
    ) -> dict[WebserverId, list[bool]]:
        found: dict[WebserverId, list[bool]] = {}
        for webserver_id in webserver_ids:
            history = self._store.histories.get(webserver_id, [])
            start = max(bisect.bisect_left(history, since, key=_started_at), len(history) - limit)
            if start < len(history):
                found[webserver_id] = [probe.result.success for probe in history[start:][::-1]]
        return found


class InMemoryWorkerRepository(WorkerRepository):
    """Workers in a dict and ownership in another, dated by the store's clock."""

    def __init__(self, store: InMemoryStore, undo: list[Undo]) -> None:
        self._store = store
        self._undo = undo

    def beat(self, worker: WorkerInfo) -> None:
        self._set_worker(worker.id, dataclasses.replace(worker, heartbeat_at=self._store.clock.now()))

    def leave(self, worker_id: str) -> None:
        self.release(worker_id, list(self._store.owners))
        self._set_worker(worker_id, None)

    def live(self, ttl: timedelta) -> list[WorkerInfo]:
        fresh = [worker for worker in self._store.workers.values() if self._is_fresh(worker.id, ttl)]
        return sorted(fresh, key=lambda worker: (worker.started_at, worker.id))

    def claim(self, worker_id: str, *, ttl: timedelta, limit: int) -> int:
        claimable = (
            webserver_id
            for webserver_id in sorted(self._store.webservers)
            if not self._is_fresh(self._store.owners.get(webserver_id), ttl)
        )
        taken = list(itertools.islice(claimable, max(0, limit)))
        for webserver_id in taken:
            self._set_owner(webserver_id, worker_id)
            self._undo.append(
                functools.partial(
                    _restore, self._store.epochs, webserver_id, self._store.epochs.get(webserver_id)
                )
            )
            self._store.epochs[webserver_id] = self._store.epochs.get(webserver_id, 0) + 1
        return len(taken)

    def held(self, worker_id: str) -> dict[WebserverId, int]:
        return {
            webserver_id: self._store.epochs.get(webserver_id, 0)
            for webserver_id, holder in self._store.owners.items()
            if holder == worker_id
        }

    def epochs(self, webserver_ids: Collection[WebserverId]) -> dict[WebserverId, int]:
        return {
            webserver_id: self._store.epochs.get(webserver_id, 0)
            for webserver_id in webserver_ids
            if webserver_id in self._store.webservers
        }

    def release(self, worker_id: str, webserver_ids: Collection[WebserverId]) -> int:
        held = [
            webserver_id
            for webserver_id in webserver_ids
            if self._store.owners.get(webserver_id) == worker_id
        ]
        for webserver_id in held:
            self._set_owner(webserver_id, None)
        return len(held)

    def forget(self, ttl: timedelta) -> int:
        dead = [worker_id for worker_id in self._store.workers if not self._is_fresh(worker_id, ttl)]
        for worker_id in dead:
            self._set_worker(worker_id, None)
        return len(dead)

    def _is_fresh(self, worker_id: str | None, ttl: timedelta) -> bool:
        worker = None if worker_id is None else self._store.workers.get(worker_id)
        if worker is None or worker.heartbeat_at is None:
            return False
        return worker.heartbeat_at > self._store.clock.now() - ttl

    def _set_worker(self, worker_id: str, worker: WorkerInfo | None) -> None:
        self._undo.append(
            functools.partial(_restore, self._store.workers, worker_id, self._store.workers.get(worker_id))
        )
        _restore(self._store.workers, worker_id, worker)

    def _set_owner(self, webserver_id: WebserverId, owner: str | None) -> None:
        self._undo.append(
            functools.partial(
                _restore, self._store.owners, webserver_id, self._store.owners.get(webserver_id)
            )
        )
        _restore(self._store.owners, webserver_id, owner)


class InMemoryEventRepository(EventRepository):
    """Events in a list kept in sequence order; never removed."""

    def __init__(self, store: InMemoryStore, undo: list[Undo]) -> None:
        self._store = store
        self._undo = undo

    def add(self, type: EventType, occurred_at: datetime, change: HealthChanged | None) -> RecordedEvent:
        return self._add(type, occurred_at, change, None)

    def _add(
        self,
        type: EventType,
        occurred_at: datetime,
        change: HealthChanged | None,
        certificate: CertificateExpiring | None,
    ) -> RecordedEvent:
        event = RecordedEvent(
            id=new_event_id(),
            sequence=next(self._store.event_sequences),
            type=type,
            occurred_at=occurred_at,
            change=change,
            certificate=certificate,
        )
        self._store.events.append(event)
        self._store.events_by_id[event.id] = event

        def undo() -> None:
            self._store.events.remove(event)
            del self._store.events_by_id[event.id]

        self._undo.append(undo)
        return event

    def add_changes(self, changes: Sequence[HealthChanged]) -> list[RecordedEvent]:
        return [self.add(EventType.HEALTH_CHANGED, change.occurred_at, change) for change in changes]

    def add_certificate_warnings(self, warnings: Sequence[CertificateExpiring]) -> list[RecordedEvent]:
        return [
            self._add(EventType.CERTIFICATE_EXPIRING, warning.occurred_at, None, warning)
            for warning in warnings
        ]

    def feed(
        self, *, after: int | None, webserver_id: WebserverId | None = None, limit: int
    ) -> list[RecordedEvent]:
        start = 0 if after is None else bisect.bisect_right(self._store.events, after, key=_sequence)
        matching = (
            event
            for event in itertools.islice(self._store.events, start, None)
            if event.type is EventType.HEALTH_CHANGED
            and (webserver_id is None or event.webserver_id == webserver_id)
        )
        return list(itertools.islice(matching, limit))

    def latest_sequence(self) -> int:
        return self._store.events[-1].sequence if self._store.events else 0

    def last_of(self, webserver_ids: Collection[WebserverId]) -> dict[WebserverId, RecordedEvent]:
        wanted = set(webserver_ids)
        last: dict[WebserverId, RecordedEvent] = {}
        for event in reversed(self._store.events):
            if len(last) == len(wanted):
                break
            webserver_id = event.webserver_id
            if event.type is EventType.HEALTH_CHANGED and webserver_id in wanted and webserver_id not in last:
                last[webserver_id] = event
        return last

    def count_by_type(self) -> dict[EventType, int]:
        counts = dict.fromkeys(EventType, 0)
        for event in self._store.events:
            counts[event.type] += 1
        return counts

    def health_changes(
        self, webserver_ids: Collection[WebserverId], span: Span
    ) -> dict[WebserverId, list[StateChange]]:
        wanted = set(webserver_ids)
        events: dict[WebserverId, list[RecordedEvent]] = {}
        for event in self._store.events:
            webserver_id = event.webserver_id
            if webserver_id in wanted and event.type is EventType.HEALTH_CHANGED:
                events.setdefault(webserver_id, []).append(event)
        changes: dict[WebserverId, list[StateChange]] = {}
        for webserver_id, found in events.items():
            ordered = sorted(found, key=lambda event: (event.occurred_at, event.sequence))
            before = [event for event in ordered if event.occurred_at < span.start][-1:]
            inside = [event for event in ordered if span.start <= event.occurred_at < span.end]
            kept = [_state_change(event) for event in before + inside]
            if kept:
                changes[webserver_id] = kept
        return changes


def _state_change(event: RecordedEvent) -> StateChange:
    assert event.change is not None, "health events carry a change"
    return StateChange(at=event.occurred_at, to_state=event.change.to_state)


def _sequence(event: RecordedEvent) -> int:
    return event.sequence


class InMemoryChannelRepository(ChannelRepository):
    """Channels in a dict; removing one removes its deliveries."""

    def __init__(self, store: InMemoryStore, undo: list[Undo]) -> None:
        self._store = store
        self._undo = undo

    def add(self, settings: ChannelSettings, now: datetime) -> Channel:
        channel = Channel(
            id=ChannelId(next(self._store.channel_ids)), settings=settings, created_at=now, updated_at=now
        )
        self._set(channel.id, channel)
        return channel

    def get(self, channel_id: ChannelId, *, lock: bool = False) -> Channel | None:
        return self._store.channels.get(channel_id)

    def all(self) -> list[Channel]:
        return [channel for _, channel in sorted(self._store.channels.items())]

    def covering(self, webserver_id: WebserverId) -> list[Channel]:
        return [channel for channel in self.all() if channel.settings.covers(webserver_id)]

    def save(self, channel: Channel) -> None:
        if channel.id in self._store.channels:
            self._set(channel.id, channel)

    def remove(self, channel_id: ChannelId) -> bool:
        if channel_id not in self._store.channels:
            return False
        deliveries = InMemoryDeliveryRepository(self._store, self._undo)
        for delivery in list(self._store.deliveries.values()):
            if delivery.channel_id == channel_id:
                deliveries.put(delivery.id, None)
                deliveries.hold(delivery.id, None)
        self._set(channel_id, None)
        return True

    def _set(self, channel_id: ChannelId, channel: Channel | None) -> None:
        self._undo.append(
            functools.partial(
                _restore, self._store.channels, channel_id, self._store.channels.get(channel_id)
            )
        )
        _restore(self._store.channels, channel_id, channel)


class InMemoryDeliveryRepository(DeliveryRepository):
    """Deliveries in a dict and their claims in another, dated by the store's clock."""

    def __init__(self, store: InMemoryStore, undo: list[Undo]) -> None:
        self._store = store
        self._undo = undo

    def add_many(self, event: RecordedEvent, channel_ids: Collection[ChannelId], due: datetime) -> None:
        for channel_id in channel_ids:
            if channel_id not in self._store.channels:
                continue
            delivery = Delivery(
                id=DeliveryId(next(self._store.delivery_ids)),
                event_id=event.id,
                channel_id=channel_id,
                webserver_id=event.webserver_id,
                status=DeliveryStatus.PENDING,
                attempts=0,
                next_attempt_at=due,
            )
            self.put(delivery.id, delivery)

    def add_for_events(self, queued: Sequence[tuple[RecordedEvent, Collection[ChannelId]]]) -> None:
        for event, channel_ids in queued:
            self.add_many(event, channel_ids, event.occurred_at)

    def claim(self, worker_id: str, *, claim_for: timedelta, limit: int) -> list[ClaimedDelivery]:
        now = self._store.clock.now()
        pending = sorted(
            (d for d in self._store.deliveries.values() if d.status is DeliveryStatus.PENDING),
            key=lambda delivery: (self._store.events_by_id[delivery.event_id].sequence, delivery.id),
        )
        # The (channel, webserver) pairs whose oldest pending delivery has been seen: the rest wait.
        waiting: set[tuple[ChannelId, WebserverId]] = set()
        taken: list[ClaimedDelivery] = []
        for delivery in pending:
            if len(taken) >= limit:
                break
            if delivery.webserver_id is not None:
                pair = (delivery.channel_id, delivery.webserver_id)
                if pair in waiting:
                    continue
                waiting.add(pair)
            claim = self._store.claims.get(delivery.id)
            channel = self._store.channels[delivery.channel_id]
            if (
                not channel.settings.enabled
                or delivery.next_attempt_at is None
                or delivery.next_attempt_at > now
                or (claim is not None and claim.expires_at > now)
            ):
                continue
            self.hold(delivery.id, Claim(worker_id, now + claim_for))
            taken.append(
                ClaimedDelivery(
                    delivery=delivery,
                    event=self._store.events_by_id[delivery.event_id],
                    channel=channel,
                )
            )
        return taken

    def finish(self, worker_id: str, delivery: Delivery) -> bool:
        claim = self._store.claims.get(delivery.id)
        if claim is None or claim.worker_id != worker_id or delivery.id not in self._store.deliveries:
            return False
        self.put(delivery.id, self._written(delivery))
        self.hold(delivery.id, None)
        return True

    def get(self, channel_id: ChannelId, delivery_id: DeliveryId, *, lock: bool = False) -> Delivery | None:
        delivery = self._store.deliveries.get(delivery_id)
        return delivery if delivery is not None and delivery.channel_id == channel_id else None

    def save(self, delivery: Delivery) -> None:
        if delivery.id in self._store.deliveries:
            self.put(delivery.id, self._written(delivery))

    def list(
        self,
        channel_id: ChannelId,
        *,
        status: DeliveryStatus | None = None,
        after: DeliveryId | None = None,
        limit: int,
    ) -> list[Delivery]:
        matching = (
            delivery
            for delivery_id, delivery in sorted(self._store.deliveries.items())
            if delivery.channel_id == channel_id
            and (after is None or delivery_id > after)
            and (status is None or delivery.status is status)
        )
        return list(itertools.islice(matching, limit))

    def count_by_status(self) -> dict[DeliveryStatus, int]:
        counts = dict.fromkeys(DeliveryStatus, 0)
        for delivery in self._store.deliveries.values():
            counts[delivery.status] += 1
        return counts

    def put(self, delivery_id: DeliveryId, delivery: Delivery | None) -> None:
        """Set (or, with None, delete) a delivery, undoably."""
        self._undo.append(
            functools.partial(
                _restore, self._store.deliveries, delivery_id, self._store.deliveries.get(delivery_id)
            )
        )
        _restore(self._store.deliveries, delivery_id, delivery)

    def hold(self, delivery_id: DeliveryId, claim: Claim | None) -> None:
        """Set (or, with None, drop) a delivery's claim, undoably."""
        self._undo.append(
            functools.partial(_restore, self._store.claims, delivery_id, self._store.claims.get(delivery_id))
        )
        _restore(self._store.claims, delivery_id, claim)

    def _written(self, delivery: Delivery) -> Delivery:
        # What a caller may change is the attempt record; which event and channel it is stays put.
        stored = self._store.deliveries[delivery.id]
        return dataclasses.replace(
            delivery,
            event_id=stored.event_id,
            channel_id=stored.channel_id,
            webserver_id=stored.webserver_id,
        )


def _restore(mapping: dict[Any, Any], key: object, value: object) -> None:
    # Sets the key to value, or deletes it when value is None: both a change and its undo.
    if value is None:
        mapping.pop(key, None)
    else:
        mapping[key] = value


class InMemoryRollupRepository(RollupRepository):
    """Rollups in dicts of copies (a caller never changes what is stored); raw probes from the histories."""

    def __init__(self, store: InMemoryStore, undo: list[Undo]) -> None:
        self._store = store
        self._undo = undo

    def mark_hours(self, hours: Collection[datetime]) -> None:
        for hour in hours:
            self._mark(self._store.dirty_hours, hour)

    def dirty_hours(self, ended_by: datetime, limit: int) -> list[datetime]:
        return sorted(hour for hour in self._store.dirty_hours if hour + HOUR <= ended_by)[:limit]

    def unmark_hour(self, hour: datetime) -> bool:
        return self._unmark(self._store.dirty_hours, hour)

    def dirty_days(self, ended_by: datetime, limit: int) -> list[datetime]:
        return sorted(day for day in self._store.dirty_days if day + DAY <= ended_by)[:limit]

    def mark_day(self, day: datetime) -> None:
        self._mark(self._store.dirty_days, day)

    def unmark_day(self, day: datetime) -> bool:
        return self._unmark(self._store.dirty_days, day)

    def dirty_weeks(self, ended_by: datetime, limit: int) -> list[datetime]:
        return sorted(week for week in self._store.dirty_weeks if week + WEEK <= ended_by)[:limit]

    def mark_week(self, week: datetime) -> None:
        self._mark(self._store.dirty_weeks, week)

    def unmark_week(self, week: datetime) -> bool:
        return self._unmark(self._store.dirty_weeks, week)

    def coverage(self) -> Coverage:
        return coverage_of(
            min(self._store.dirty_hours, default=None),
            min(self._store.dirty_days, default=None),
            min(self._store.dirty_weeks, default=None),
        )

    def rolled_up_until(self) -> datetime | None:
        return min(self._store.dirty_hours) if self._store.dirty_hours else None

    def save_hourly(self, hour: datetime, rollups: Mapping[WebserverId, Rollup]) -> None:
        self._save(self._store.hourly, hour, rollups)

    def save_daily(self, day: datetime, rollups: Mapping[WebserverId, Rollup]) -> None:
        self._save(self._store.daily, day, rollups)

    def save_weekly(self, week: datetime, rollups: Mapping[WebserverId, Rollup]) -> None:
        self._save(self._store.weekly, week, rollups)

    def hourly(
        self, webserver_ids: Collection[WebserverId] | None, span: Span, *, latency: bool = True
    ) -> dict[WebserverId, RollupPieces]:
        return _stored_pieces(self._store.hourly, webserver_ids, span, latency=latency)

    def daily(
        self, webserver_ids: Collection[WebserverId] | None, span: Span, *, latency: bool = True
    ) -> dict[WebserverId, RollupPieces]:
        return _stored_pieces(self._store.daily, webserver_ids, span, latency=latency)

    def weekly(
        self, webserver_ids: Collection[WebserverId] | None, span: Span, *, latency: bool = True
    ) -> dict[WebserverId, RollupPieces]:
        return _stored_pieces(self._store.weekly, webserver_ids, span, latency=latency)

    def raw(
        self, webserver_ids: Collection[WebserverId] | None, span: Span, *, latency: bool = True
    ) -> dict[WebserverId, RollupPieces]:
        histories = self._store.histories
        ids = sorted(histories) if webserver_ids is None else webserver_ids
        found: dict[WebserverId, RollupPieces] = {}
        for webserver_id in ids:
            history = histories.get(webserver_id, [])
            start = bisect.bisect_left(history, span.start, key=_started_at)
            end = bisect.bisect_left(history, span.end, key=_started_at)
            per_hour: dict[datetime, Rollup] = {}
            for probe in history[start:end]:
                result = probe.result
                rollup = per_hour.setdefault(floor_to(result.started_at, HOUR), Rollup())
                responded = latency and result.status_code is not None
                rollup.record(success=result.success, latency_ms=result.latency_ms if responded else None)
            if per_hour:
                found[webserver_id] = sorted(per_hour.items())
        return found

    def totals(
        self, webserver_ids: Collection[WebserverId], plan: ReadPlan
    ) -> dict[WebserverId, tuple[int, int]]:
        sums: dict[WebserverId, tuple[int, int]] = {}
        reads = (
            (self.weekly, plan.weekly),
            (self.daily, plan.daily),
            (self.hourly, plan.hourly),
            (self.raw, plan.raw),
        )
        for read, spans in reads:
            for span in spans:
                for webserver_id, pieces in read(webserver_ids, span, latency=False).items():
                    probes, successes = sums.get(webserver_id, (0, 0))
                    for _, piece in pieces:
                        probes, successes = probes + piece.probes, successes + piece.successes
                    sums[webserver_id] = (probes, successes)
        return sums

    def prune_hourly(self, before: datetime) -> int:
        pruned = 0
        for rollups in self._store.hourly.values():
            for hour in [hour for hour in rollups if hour < before]:
                self._undo.append(functools.partial(rollups.__setitem__, hour, rollups.pop(hour)))
                pruned += 1
        return pruned

    def _mark(self, marks: set[datetime], moment: datetime) -> None:
        if moment not in marks:
            marks.add(moment)
            self._undo.append(functools.partial(marks.discard, moment))

    def _unmark(self, marks: set[datetime], moment: datetime) -> bool:
        if moment not in marks:
            return False
        marks.discard(moment)
        self._undo.append(functools.partial(marks.add, moment))
        return True

    def _save(
        self,
        stored: dict[WebserverId, dict[datetime, Rollup]],
        start: datetime,
        rollups: Mapping[WebserverId, Rollup],
    ) -> None:
        for webserver_id, rollup in rollups.items():
            if webserver_id not in self._store.webservers:
                continue
            per_start = stored.setdefault(webserver_id, {})
            self._undo.append(functools.partial(_restore, per_start, start, per_start.get(start)))
            per_start[start] = rollup.copy()


def _stored_pieces(
    stored: dict[WebserverId, dict[datetime, Rollup]],
    webserver_ids: Collection[WebserverId] | None,
    span: Span,
    *,
    latency: bool,
) -> dict[WebserverId, RollupPieces]:
    ids = sorted(stored) if webserver_ids is None else webserver_ids
    found: dict[WebserverId, RollupPieces] = {}
    for webserver_id in ids:
        pieces = [
            (start, rollup.copy() if latency else Rollup(rollup.probes, rollup.successes))
            for start, rollup in sorted(stored.get(webserver_id, {}).items())
            if span.start <= start < span.end
        ]
        if pieces:
            found[webserver_id] = pieces
    return found


class InMemoryUnitOfWork(UnitOfWork):
    """A transaction over an InMemoryStore; blocks of different threads run one at a time."""

    def __init__(self, store: InMemoryStore | None = None) -> None:
        self.store = store if store is not None else InMemoryStore()
        self._undo: list[Undo] = []

    def __enter__(self) -> Self:
        self.store.lock.acquire()
        self._undo = []
        self.webservers = InMemoryWebserverRepository(self.store, self._undo)
        self.probe_results = InMemoryProbeResultRepository(self.store, self._undo)
        self.workers = InMemoryWorkerRepository(self.store, self._undo)
        self.events = InMemoryEventRepository(self.store, self._undo)
        self.channels = InMemoryChannelRepository(self.store, self._undo)
        self.deliveries = InMemoryDeliveryRepository(self.store, self._undo)
        self.rollups = InMemoryRollupRepository(self.store, self._undo)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            for undo in reversed(self._undo):
                undo()
            self._undo.clear()
        finally:
            self.store.lock.release()

    def commit(self) -> None:
        self._undo.clear()


class InMemoryHistoryStorage(HistoryStorage):
    """The histories of an InMemoryStore as a whole: exact counts, no partitions, no bytes on disk."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    def usage(self) -> HistoryUsage:
        with self._store.lock:
            histories = [history for history in self._store.histories.values() if history]
            oldest = min((history[0].result.started_at for history in histories), default=None)
            rows = sum(len(history) for history in histories)
        return HistoryUsage(rows=rows, bytes=0, oldest_started_at=oldest, rows_estimated=False)

    def prepare(self, first: date, through: date) -> int:
        return 0

    def prune(self, before: datetime) -> PruneOutcome:
        removed = 0
        with self._store.lock:
            for history in self._store.histories.values():
                expired = bisect.bisect_left(history, before, key=_started_at)
                del history[:expired]
                removed += expired
        return PruneOutcome(rows=removed)


class InMemoryJobLeases(JobLeases):
    """Job leases in the store, dated by its clock."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    def take(self, job: str, holder: str, *, period: timedelta, lease: timedelta) -> bool:
        now = self._store.clock.now()
        with self._store.lock:
            state = self._store.jobs.setdefault(job, JobState())
            free = state.holder in (None, holder) or (
                state.lease_expires_at is not None and state.lease_expires_at <= now
            )
            due = state.last_finished_at is None or state.last_finished_at <= now - period
            if not (free and due):
                return False
            state.holder, state.lease_expires_at = holder, now + lease
            return True

    def renew(self, job: str, holder: str, lease: timedelta) -> bool:
        with self._store.lock:
            state = self._store.jobs.get(job)
            if state is None or state.holder != holder:
                return False
            state.lease_expires_at = self._store.clock.now() + lease
            return True

    def finish(self, job: str, holder: str) -> None:
        with self._store.lock:
            state = self._store.jobs.get(job)
            if state is not None and state.holder == holder:
                state.holder, state.lease_expires_at = None, None
                state.last_finished_at = self._store.clock.now()


__all__ = [
    "InMemoryChannelRepository",
    "InMemoryDeliveryRepository",
    "InMemoryEventRepository",
    "InMemoryHistoryStorage",
    "InMemoryJobLeases",
    "InMemoryProbeResultRepository",
    "InMemoryRollupRepository",
    "InMemoryStore",
    "InMemoryUnitOfWork",
    "InMemoryWebserverRepository",
    "InMemoryWorkerRepository",
]
