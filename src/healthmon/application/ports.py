"""The ports: what the use cases need from storage, the network, the clock and whoever counts."""

from __future__ import annotations

import builtins
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from types import TracebackType
from typing import Protocol, Self

from healthmon.domain.channels import Channel, ChannelId, ChannelKind, ChannelSettings
from healthmon.domain.deliveries import AttemptOutcome, Delivery, DeliveryId, DeliveryStatus
from healthmon.domain.events import CertificateExpiring, EventType, HealthChanged, RecordedEvent
from healthmon.domain.health import HealthState
from healthmon.domain.probe import ProbeId, ProbeResult, RecordedProbe
from healthmon.domain.rollups import Coverage, ReadPlan, Rollup, Span
from healthmon.domain.statistics import StateChange
from healthmon.domain.webserver import Webserver, WebserverId, WebserverSettings


@dataclass(frozen=True, slots=True, order=True)
class HistoryCursor:
    """A position in a history, newest first: the last probe of the previous page."""

    started_at: datetime
    probe_id: ProbeId


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """One worker process as it reports itself on each heartbeat; heartbeat_at is set by the store."""

    id: str
    host: str
    pid: int
    started_at: datetime
    servers: int = 0
    probes_per_second: float = 0.0
    lag_p99_ms: float = 0.0
    heartbeat_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class WebserverReading:
    """A webserver as a scrape shows it: the webserver and what its newest stored probe measured."""

    webserver: Webserver
    # None until the webserver's first probe is stored (and again once its history is gone).
    last_success: bool | None = None
    last_latency_ms: float | None = None


class WebserverRepository(Protocol):
    """The stored webservers; never commits (the unit of work does)."""

    def add(self, settings: WebserverSettings, now: datetime) -> Webserver:
        """Store a new webserver under a fresh id; a URL already watched raises WebserverAlreadyRegistered."""
        ...

    def add_many(
        self, settings: Sequence[WebserverSettings], now: datetime, *, managed: bool
    ) -> builtins.list[Webserver]:
        """Store new webservers, in this order, in few statements; a URL or key already taken raises.

        A URL taken raises WebserverAlreadyRegistered, a key taken WebserverKeyTaken (both name the
        first value the store reports, when it does).
        """
        ...

    def get(self, webserver_id: WebserverId, *, lock: bool = False) -> Webserver | None:
        """The webserver, or None; with lock, no other transaction may change it until this one ends."""
        ...

    def get_many(
        self, webserver_ids: Collection[WebserverId], *, lock: bool = False
    ) -> dict[WebserverId, Webserver]:
        """The webservers among these ids that exist; lock as in get."""
        ...

    def save(self, webserver: Webserver) -> None:
        """Write back a changed webserver; a URL watched by another raises WebserverAlreadyRegistered."""
        ...

    def save_many(self, webservers: Sequence[Webserver]) -> None:
        """Write back changed webservers in few statements, in order; a URL or key taken raises.

        The store checks uniqueness row by row, as if each were saved alone in this order (a URL
        taken raises WebserverAlreadyRegistered(None), a key WebserverKeyTaken(None)).
        """
        ...

    def remove(self, webserver_id: WebserverId) -> bool:
        """Delete the webserver and its history; False when it did not exist."""
        ...

    def remove_many(self, webserver_ids: Collection[WebserverId]) -> int:
        """Delete these webservers and their histories in few statements; how many existed."""
        ...

    def list(
        self,
        *,
        health: HealthState | None = None,
        after: WebserverId | None = None,
        limit: int,
        owner: str | None = None,
        lock: bool = False,
    ) -> list[Webserver]:
        """Up to limit webservers in id order, past `after`; optionally only one state, or one holder's.

        With lock, the transaction starts as a writer and no other may change the rows read until it ends.
        """
        ...

    def revision(self, owner: str | None = None) -> object:
        """A value that moves when a webserver (held by `owner`, if given) is added, removed or reconfigured.

        Health changes never move it; a move of ownership may go unnoticed, so a worker that claims,
        releases or loses servers reloads them regardless.
        """
        ...

    def count(self) -> int:
        """How many webservers there are."""
        ...

    def readings(self) -> builtins.list[WebserverReading]:
        """Every webserver in id order, each with its newest probe's success and latency, in one query."""

    def health_counts(self) -> dict[HealthState, int]:
        """How many webservers are in each state; every state is a key (0 when none is in it)."""
        ...

    def overview(
        self, *, health: HealthState | None, name_contains: str, offset: int, limit: int
    ) -> tuple[int, builtins.list[Webserver]]:
        """How many webservers match, and up to `limit` of them after skipping `offset`.

        They match when in `health` (any, if None) and their name contains `name_contains`, ignoring
        the case of ASCII letters. Ordered by health in ATTENTION_ORDER, then by name with ASCII
        letters lower-cased, then by id.
        """
        ...


class ProbeResultRepository(Protocol):
    """Every probe result ever taken (the requests history); never commits."""

    def add_many(self, results: Sequence[ProbeResult]) -> None:
        """Store results whose webservers exist, in one statement where the store allows."""
        ...

    def history(
        self,
        webserver_id: WebserverId,
        *,
        before: HistoryCursor | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int,
    ) -> list[RecordedProbe]:
        """Newest first: up to limit probes older than `before`, with since <= started_at < until."""
        ...

    def recent_outcomes(
        self, webserver_ids: Collection[WebserverId], *, limit: int, since: datetime
    ) -> dict[WebserverId, list[bool]]:
        """Whether each webserver's newest `limit` probes since `since` succeeded, newest first.

        Bounded below because the history is indexed by webserver alone: a store reads only the
        days since then.
        """
        ...


class WorkerRepository(Protocol):
    """The live workers and the webservers each holds; lease times are the store's clock, not the caller's."""

    def beat(self, worker: WorkerInfo) -> None:
        """Upsert the worker's row with heartbeat_at = now: one write renews every lease it holds."""
        ...

    def leave(self, worker_id: str) -> None:
        """Delete the worker's row and hand back every webserver it holds."""
        ...

    def live(self, ttl: timedelta) -> list[WorkerInfo]:
        """The workers whose heartbeat is younger than ttl, oldest first."""
        ...

    def claim(self, worker_id: str, *, ttl: timedelta, limit: int) -> int:
        """Take up to limit webservers nobody holds, or whose holder's heartbeat is older than ttl or gone.

        Concurrent claimers never take the same webserver; each claim moves the webserver's lease
        epoch on by one; returns how many were taken.
        """
        ...

    def held(self, worker_id: str) -> dict[WebserverId, int]:
        """The lease epoch of every webserver the worker holds."""
        ...

    def epochs(self, webserver_ids: Collection[WebserverId]) -> dict[WebserverId, int]:
        """The current lease epoch of each of these webservers that exists."""
        ...

    def release(self, worker_id: str, webserver_ids: Collection[WebserverId]) -> int:
        """Hand back those of these webservers the worker holds; returns how many."""
        ...

    def forget(self, ttl: timedelta) -> int:
        """Delete the rows of workers whose heartbeat is older than ttl; returns how many."""
        ...


class EventRepository(Protocol):
    """The stored events (never deleted with their webserver); never commits.

    Sequences are handed out in commit order (PostgreSQL: under a transaction-scoped advisory lock
    taken before the sequence is drawn), so a feed reader that asks for what came after the last
    sequence it saw never misses an event committed later with a smaller one.
    """

    def add(self, type: EventType, occurred_at: datetime, change: HealthChanged | None) -> RecordedEvent:
        """Store an event under a new public id (evt_ and random characters) and the next sequence."""
        ...

    def add_changes(self, changes: Sequence[HealthChanged]) -> list[RecordedEvent]:
        """Store one health event per change, in this order (so with increasing sequences).

        The same as add() for each, in one statement where the store allows: a batch in which
        1,000 servers flip costs one round trip, not 1,000.
        """
        ...

    def add_certificate_warnings(self, warnings: Sequence[CertificateExpiring]) -> list[RecordedEvent]:
        """Store one webserver.certificate_expiring event per warning, in this order, as add_changes does."""
        ...

    def feed(
        self, *, after: int | None, webserver_id: WebserverId | None = None, limit: int
    ) -> list[RecordedEvent]:
        """Health events (never test events), oldest first, with sequence greater than `after`."""
        ...

    def latest_sequence(self) -> int:
        """The highest sequence stored, 0 when there is none."""
        ...

    def last_of(self, webserver_ids: Collection[WebserverId]) -> dict[WebserverId, RecordedEvent]:
        """The newest health event of each of these webservers that has one."""
        ...

    def count_by_type(self) -> dict[EventType, int]:
        """How many events are stored, per type (every type present, 0 when it has none)."""

    def health_changes(
        self, webserver_ids: Collection[WebserverId], span: Span
    ) -> dict[WebserverId, builtins.list[StateChange]]:
        """Each webserver's last health change before span.start, then its changes inside the span.

        In time order (occurred_at, then sequence); webservers without any are left out.
        """
        ...


# One webserver's rollup pieces: (start of the hour or day, its rollup), in time order.
RollupPieces = list[tuple[datetime, Rollup]]


class RollupRepository(Protocol):
    """Hourly and daily rollups of each webserver, the hours and days still to roll up, and the raw
    probes aggregated the same way; never commits.

    Every hour that received probes is marked (mark_hours, by the writer, in its transaction)
    until the rollup job has rolled it up; a late probe marks its hour again, so it is rolled up
    again. Marking waits for a job that is rolling that hour up, and the job waits for writers
    still marking it, so no probe is ever left out of the rollups.
    """

    def mark_hours(self, hours: Collection[datetime]) -> None:
        """Mark these UTC hours (their starts) as holding probes not yet rolled up."""
        ...

    def dirty_hours(self, ended_by: datetime, limit: int) -> builtins.list[datetime]:
        """Up to limit marked hours that end by `ended_by` (start + 1 h <= ended_by), oldest first."""
        ...

    def unmark_hour(self, hour: datetime) -> bool:
        """Take the mark off an hour before rolling it up; False when it was not marked."""
        ...

    def dirty_days(self, ended_by: datetime, limit: int) -> builtins.list[datetime]:
        """Up to limit marked days (their UTC midnights) that end by `ended_by`, oldest first."""
        ...

    def mark_day(self, day: datetime) -> None:
        """Mark a day whose hourly rollups changed, so its daily rollup is built again."""
        ...

    def dirty_weeks(self, ended_by: datetime, limit: int) -> builtins.list[datetime]:
        """Up to limit marked weeks (their Monday midnights, UTC) that end by `ended_by`, oldest first."""
        ...

    def mark_week(self, week: datetime) -> None:
        """Mark a week whose daily rollups changed, so its weekly rollup is built again."""
        ...

    def unmark_week(self, week: datetime) -> bool:
        """Take the mark off a week before rebuilding it; False when it was not marked."""
        ...

    def unmark_day(self, day: datetime) -> bool:
        """Take the mark off a day before rebuilding it; False when it was not marked."""
        ...

    def coverage(self) -> Coverage:
        """How far the hourly, daily and weekly rollups are complete."""
        ...

    def rolled_up_until(self) -> datetime | None:
        """Every stored probe that started before this is counted in the hourly rollups; None: every one is.

        Retention asks this before dropping raw probes: never drop what the rollups do not hold.
        """
        ...

    def save_hourly(self, hour: datetime, rollups: Mapping[WebserverId, Rollup]) -> None:
        """Store (or replace) these webservers' rollups of one hour."""
        ...

    def save_daily(self, day: datetime, rollups: Mapping[WebserverId, Rollup]) -> None:
        """Store (or replace) these webservers' rollups of one day."""
        ...

    def save_weekly(self, week: datetime, rollups: Mapping[WebserverId, Rollup]) -> None:
        """Store (or replace) these webservers' rollups of one week."""
        ...

    def hourly(
        self, webserver_ids: Collection[WebserverId] | None, span: Span, *, latency: bool = True
    ) -> dict[WebserverId, RollupPieces]:
        """The hourly rollups that start in the span (of every webserver when ids is None).

        Without latency, only the counts are read (the sketches are left empty).
        """
        ...

    def daily(
        self, webserver_ids: Collection[WebserverId] | None, span: Span, *, latency: bool = True
    ) -> dict[WebserverId, RollupPieces]:
        """The daily rollups that start in the span, as hourly() does."""
        ...

    def weekly(
        self, webserver_ids: Collection[WebserverId] | None, span: Span, *, latency: bool = True
    ) -> dict[WebserverId, RollupPieces]:
        """The weekly rollups that start in the span, as hourly() does."""
        ...

    def raw(
        self, webserver_ids: Collection[WebserverId] | None, span: Span, *, latency: bool = True
    ) -> dict[WebserverId, RollupPieces]:
        """The probes with span.start <= started_at < span.end, aggregated per UTC hour (keyed by its start).

        Without latency, only the counts are read, as in hourly().
        """
        ...

    def totals(
        self, webserver_ids: Collection[WebserverId], plan: ReadPlan
    ) -> dict[WebserverId, tuple[int, int]]:
        """Each webserver's (probes, successes) over every span of the plan, summed by the store.

        The same counts as the pieces of hourly(), daily(), weekly() and raw() would add up to, in a
        few statements whatever the number of pieces; webservers without any probe are left out.
        """
        ...

    def prune_hourly(self, before: datetime) -> int:
        """Delete the hourly rollups that start before `before`; returns how many."""
        ...


class ChannelRepository(Protocol):
    """The alert channels; never commits."""

    def add(self, settings: ChannelSettings, now: datetime) -> Channel:
        """Store a new channel under a fresh id."""
        ...

    def get(self, channel_id: ChannelId, *, lock: bool = False) -> Channel | None:
        """The channel, or None; with lock, no other transaction may change it until this one ends."""
        ...

    def all(self) -> builtins.list[Channel]:
        """Every channel, in id order."""
        ...

    def covering(self, webserver_id: WebserverId) -> builtins.list[Channel]:
        """The enabled channels that take events about this webserver, in id order."""
        ...

    def save(self, channel: Channel) -> None:
        """Write back a changed channel."""
        ...

    def remove(self, channel_id: ChannelId) -> bool:
        """Delete the channel and its deliveries; False when it did not exist."""
        ...


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A delivery a worker has claimed, with what it needs to send it."""

    delivery: Delivery
    event: RecordedEvent
    channel: Channel


class DeliveryRepository(Protocol):
    """Each event's way to each channel; claims and their expiry use the store's clock; never commits."""

    def add_many(self, event: RecordedEvent, channel_ids: Collection[ChannelId], due: datetime) -> None:
        """Queue the event for each of these channels, due at once."""
        ...

    def add_for_events(self, queued: Sequence[tuple[RecordedEvent, Collection[ChannelId]]]) -> None:
        """Queue each event for its channels, due from the moment it happened; few statements for many.

        Channels that no longer exist are left out, as in add_many.
        """
        ...

    def claim(self, worker_id: str, *, claim_for: timedelta, limit: int) -> list[ClaimedDelivery]:
        """Take up to `limit` due pending deliveries that nobody holds, or whose claim has expired.

        - Oldest event first; a delivery waits while an earlier one of the same channel and
          webserver is still pending, so each receiver sees one server's events in order.
        - Deliveries to a disabled channel wait, and go out if it is enabled again.
        - Concurrent claimers never take the same delivery (FOR UPDATE SKIP LOCKED).
        - The claim lasts `claim_for`; a worker that dies mid-send loses nothing: the delivery is
          claimed again once the claim expires.
        """
        ...

    def finish(self, worker_id: str, delivery: Delivery) -> bool:
        """Write back an attempted delivery and drop the claim, if this worker still holds it."""
        ...

    def get(self, channel_id: ChannelId, delivery_id: DeliveryId, *, lock: bool = False) -> Delivery | None:
        """The delivery of this channel, or None."""
        ...

    def save(self, delivery: Delivery) -> None:
        """Write back a changed delivery (e.g. one put back in the queue)."""
        ...

    def list(
        self,
        channel_id: ChannelId,
        *,
        status: DeliveryStatus | None = None,
        after: DeliveryId | None = None,
        limit: int,
    ) -> list[Delivery]:
        """Up to limit deliveries of the channel in id order, past `after`; optionally of one status."""
        ...

    def count_by_status(self) -> dict[DeliveryStatus, int]:
        """How many deliveries are stored, per status (every status present, 0 when it has none)."""
        ...


class UnitOfWork(Protocol):
    """One transaction: repositories live for one `with` block; only commit() keeps changes."""

    webservers: WebserverRepository
    probe_results: ProbeResultRepository
    workers: WorkerRepository
    events: EventRepository
    channels: ChannelRepository
    deliveries: DeliveryRepository
    rollups: RollupRepository

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed and release the transaction."""
        ...

    def commit(self) -> None:
        """Make every change of this block durable, all or nothing."""
        ...


class Prober(Protocol):
    """Measures one webserver; a down server is a failed result, never an exception."""

    async def probe(self, webserver: Webserver) -> ProbeResult: ...


class Notifier(Protocol):
    """Sends one event to one channel; a receiver that fails is an outcome, never an exception."""

    def url_problem(self, kind: ChannelKind, url: str) -> str | None:
        """The rule this channel URL breaks (e.g. an apprise URL no plugin understands), or None."""
        ...

    async def send(self, channel: Channel, event: RecordedEvent) -> AttemptOutcome: ...


class Clock(Protocol):
    """Tells the time; the only source of `now` for the use cases."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


# --- the history as a whole, and periodic jobs ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class HistoryUsage:
    """How much history is stored: probe rows, bytes with their indexes, and the oldest probe kept."""

    rows: int
    bytes: int
    oldest_started_at: datetime | None
    # True where the store counts from its statistics (PostgreSQL) rather than row by row.
    rows_estimated: bool


@dataclass(frozen=True, slots=True)
class PruneOutcome:
    """What one pruning removed: probe rows (estimated where whole partitions went) and partitions."""

    rows: int
    partitions: int = 0


class HistoryStorage(Protocol):
    """The probe history as a whole: its size, its partitions, and removing what has expired.

    Each method runs its own short transactions; none is called inside a unit of work.
    """

    def usage(self) -> HistoryUsage:
        """The size of the history now."""
        ...

    def prepare(self, first: date, through: date) -> int:
        """Where the store partitions by day, create the missing partitions of first..through; how many."""
        ...

    def prune(self, before: datetime) -> PruneOutcome:
        """Remove probes that started before `before`, never one at or after it.

        Partitioned stores drop only whole days that end by `before` (so some older probes may
        stay until their day has expired); others delete in small batches, so no writer waits long.
        """
        ...


class Rollups(Protocol):
    """The summaries of the raw history (hourly and daily rollups), as retention sees them."""

    def rolled_up_until(self) -> datetime | None:
        """Every probe that started before this instant is in the rollups; None when none is proven to be."""
        ...

    def prune_hourly(self, before: datetime) -> int:
        """Delete the hourly rollups of hours that started before `before`; returns how many."""
        ...


class JobLeases(Protocol):
    """Who runs each periodic job: one holder at a time, with times on the store's clock.

    Each method is one short transaction of its own.
    """

    def take(self, job: str, holder: str, *, period: timedelta, lease: timedelta) -> bool:
        """Take the job's lease for `lease` if it is due (its last run ended `period` ago, or it never ran).

        Refused while another holder's lease is unexpired; concurrent takers never both succeed.
        """
        ...

    def renew(self, job: str, holder: str, lease: timedelta) -> bool:
        """Extend the holder's lease to `lease` from now; False when the holder no longer has it."""
        ...

    def finish(self, job: str, holder: str) -> None:
        """Note that the run ended now and let the lease go (a no-op if the holder lost it)."""
        ...


class MetricKind(StrEnum):
    """How a metric moves: a counter only goes up, a gauge is set, a histogram collects observations."""

    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"


@dataclass(frozen=True, slots=True)
class Metric:
    """One measurement the application reports: a fixed name and meaning, at most one label, closed values.

    A label's values are listed here, so no metric grows a series per server, URL or message.
    Histogram buckets (upper bounds) are a hint for adapters that keep buckets.
    """

    name: str
    kind: MetricKind
    description: str
    label: str | None = None
    values: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if (self.label is None) != (not self.values):
            raise ValueError(f"metric {self.name}: a label needs its values, and values need a label")
        if self.label is not None and self.kind is not MetricKind.COUNTER:
            raise ValueError(f"metric {self.name}: only counters carry a label")
        if self.buckets and self.kind is not MetricKind.HISTOGRAM:
            raise ValueError(f"metric {self.name}: only histograms have buckets")


class Metrics(Protocol):
    """Where the application counts what it does; it never reads the figures back."""

    def add(self, metric: Metric, amount: float = 1, label: str | None = None) -> None:
        """Raise a counter by a non-negative amount; `label` is one of the metric's values when it has one."""
        ...

    def set(self, metric: Metric, value: float) -> None:
        """Set a gauge to its current value."""
        ...

    def observe(self, metric: Metric, value: float) -> None:
        """Add one observation to a histogram."""
        ...
