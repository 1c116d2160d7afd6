"""The relational schema: declarative row classes on one MetaData, shared by SQLite and PostgreSQL.

The Alembic migrations in `migrations/versions` beside it build this schema; a test checks they agree.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar, Final

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    literal_column,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from healthmon.domain.deliveries import DeliveryStatus
from healthmon.domain.events import EventType
from healthmon.domain.health import THRESHOLD_RANGE, HealthState
from healthmon.domain.patterns import KEY_MAX_LENGTH
from healthmon.domain.webserver import NAME_MAX_LENGTH, SECONDS_RANGE, URL_MAX_LENGTH

# Constraint names must be deterministic so migrations can drop them by name; SQLite batch
# migrations (which rebuild tables) cannot work with unnamed constraints at all.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """A point in time: aware datetimes only, stored as UTC, always read back as aware UTC."""

    # SQLite has no timezone type, so there the value is stored as naive UTC text; PostgreSQL
    # stores a timestamptz. Either way the column sorts and compares as instants.
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r} cannot be stored; give it a timezone")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], datetime | None] | None:
        if dialect.name == "postgresql":
            # psycopg2 already returns aware datetimes in the session time zone, which the engine
            # pins to UTC; skipping a Python call per value keeps big listings fast.
            return None
        return super().result_processor(dialect, coltype)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """The one MetaData every table and migration uses."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime()}


def _between(column: str, allowed: range) -> CheckConstraint:
    # The domain's range, so the database refuses exactly what WebserverSettings does.
    return CheckConstraint(f"{column} BETWEEN {allowed[0]} AND {allowed[-1]}", name=f"{column}_range")


# The percentage of each webservers page that inserts fill (PostgreSQL); the rest is room for updates.
WEBSERVERS_FILLFACTOR: Final = 50
_HEALTH_STATES = ", ".join(f"'{state.value}'" for state in HealthState)
_EVENT_TYPES = ", ".join(f"'{event_type.value}'" for event_type in EventType)


class WebserverRow(Base):
    """One watched webserver: its settings and its current health."""

    __tablename__ = "webservers"
    __table_args__ = (
        UniqueConstraint("url"),
        # NULL (no key) is not a value: any number of servers may have none.
        UniqueConstraint("key"),
        _between("interval_seconds", SECONDS_RANGE),
        _between("timeout_seconds", SECONDS_RANGE),
        _between("healthy_threshold", THRESHOLD_RANGE),
        _between("unhealthy_threshold", THRESHOLD_RANGE),
        CheckConstraint(f"health IN ({_HEALTH_STATES})", name="health_state"),
        CheckConstraint(
            "consecutive_successes >= 0 AND consecutive_failures >= 0", name="streaks_not_negative"
        ),
        CheckConstraint("consecutive_successes = 0 OR consecutive_failures = 0", name="one_streak_at_a_time"),
        CheckConstraint("settings_version >= 1", name="settings_version_positive"),
        # "List by health in id order" walks this index and stops after `limit` rows.
        Index("ix_webservers_health_id", "health", "id"),
        {
            # Without AUTOINCREMENT, SQLite reuses the id of the newest row once it is deleted.
            "sqlite_autoincrement": True,
            # Half of each page free, so that saving a server's health after each probe writes the
            # new row version on its own page and touches no index (migration 0010 says why).
            "postgresql_with": {"fillfactor": WEBSERVERS_FILLFACTOR},
        },
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH))
    url: Mapped[str] = mapped_column(String(URL_MAX_LENGTH))
    interval_seconds: Mapped[int]
    timeout_seconds: Mapped[int]
    healthy_threshold: Mapped[int]
    unhealthy_threshold: Mapped[int]
    follow_redirects: Mapped[bool]
    verify_tls: Mapped[bool]
    key: Mapped[str | None] = mapped_column(String(KEY_MAX_LENGTH))
    public: Mapped[bool] = mapped_column(server_default=false())
    health: Mapped[str] = mapped_column(String(16), server_default="unknown")
    consecutive_successes: Mapped[int] = mapped_column(server_default="0")
    consecutive_failures: Mapped[int] = mapped_column(server_default="0")
    health_changed_at: Mapped[datetime | None]
    last_checked_at: Mapped[datetime | None]
    # The expiry of the certificate last seen, and the tightest warning (days) already sent for it.
    tls_expires_at: Mapped[datetime | None]
    tls_warned_days: Mapped[int | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # Bumped by every save that changes a setting (never by health), so a worker can tell from
    # count, max(id) and sum(settings_version) whether its list of servers is stale.
    settings_version: Mapped[int] = mapped_column(server_default="1")
    # The worker that holds the lease on this server, valid while that worker's heartbeat is fresh.
    # No foreign key: a dead worker's row is deleted without touching the servers it held.
    lease_owner: Mapped[str | None] = mapped_column(String(64), index=True)
    # The fencing token of the lease: bumped by every claim, so a result taken under an older epoch
    # (by a worker that lost the server meanwhile) is known to be stale when it reaches the database.
    lease_epoch: Mapped[int] = mapped_column(server_default="0")
    # Created or last changed by a sync (a file of servers); only such servers are ever pruned.
    managed: Mapped[bool] = mapped_column(server_default=false())


class WorkerRow(Base):
    """One worker process and what it last reported; heartbeat_at is the database's clock."""

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int]
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]
    servers: Mapped[int]
    probes_per_second: Mapped[float] = mapped_column(Float)
    lag_p99_ms: Mapped[float] = mapped_column(Float)


class JobRow(Base):
    """One periodic job: who holds its lease until when (the store's clock), and its last run."""

    __tablename__ = "jobs"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    # A worker id, as in webservers.lease_owner; no foreign key, a dead worker's lease just expires.
    holder: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None]
    last_started_at: Mapped[datetime | None]
    last_finished_at: Mapped[datetime | None]


# The history table (the issue calls probes requests): compact, with no surrogate key. A server's
# probes have strictly increasing start times (RecordProbeResults drops any result not later than
# the last), so (webserver_id, started_at) names a probe; the domain's probe id is derived from it.
# Columns are in the order that wastes no alignment padding: 8-byte time, two 4-byte integers,
# two 2-byte codes, a flag, then the message (NULL, so free, on a probe that got a response). A row
# is a 48-byte heap tuple plus its 4-byte item pointer.
#
# PostgreSQL: range-partitioned by day on started_at (partitions.py creates and drops them), so
# retention drops whole days. Its indexes, per partition: a B-tree on webserver_id alone, which
# deduplicates to ~10 bytes a row where one on (webserver_id, started_at) takes ~39 (measured at
# 5M rows); history pages walk the partitions newest first and sort one day of one server, see
# probe_result_repository.py. And a BRIN on started_at (a few kilobytes a day) for whatever reads
# a time range of every server: rollups, the oldest probe kept.
# SQLite: no partitions; a unique index on (webserver_id, started_at) serves history and pruning.
requests_table = Table(
    "requests",
    Base.metadata,
    Column("started_at", UtcDateTime(), nullable=False),
    Column("webserver_id", Integer, ForeignKey(WebserverRow.id, ondelete="CASCADE"), nullable=False),
    # Microseconds: an integer of 4 bytes holds 35 minutes, far above the 60 s any probe may take.
    Column("latency_us", Integer, nullable=False),
    # The HTTP status of a probe that got a response; NULL when error_kind says why there was none.
    Column("status_code", SmallInteger),
    # The ErrorKind as a small code (converters.ERROR_KIND_CODES); NULL on a response.
    Column("error_kind", SmallInteger),
    # Stored, not derived: a 2xx is a failure when it came after the timeout in force at the time.
    Column("success", Boolean, nullable=False),
    Column("error_message", Text),
    CheckConstraint("latency_us >= 0", name="latency_not_negative"),
    CheckConstraint("(status_code IS NULL) <> (error_kind IS NULL)", name="status_code_or_error_kind"),
    CheckConstraint("NOT success OR (status_code >= 200 AND status_code <= 299)", name="success_is_2xx"),
    postgresql_partition_by="RANGE (started_at)",
)


def only_on(dialect: str, index: Index) -> Index:
    """The index, created on this dialect only (info says so to the migrations' comparison)."""
    index.info["dialect"] = dialect
    return index.ddl_if(dialect=dialect)


_requests = requests_table.c
only_on("postgresql", Index("ix_requests_webserver_id", _requests.webserver_id))
only_on("postgresql", Index("ix_requests_started_at", _requests.started_at, postgresql_using="brin"))
only_on(
    "sqlite",
    Index("ix_requests_webserver_id_started_at", _requests.webserver_id, _requests.started_at, unique=True),
)


def _rollup_table_args() -> tuple[Any, ...]:
    # The key is (webserver, start): one server's rollups of a window are one index range. On
    # PostgreSQL it carries the counts too, so counting (uptime_24h of a page of servers) reads the
    # index alone, not a heap page per rollup.
    return (
        PrimaryKeyConstraint("webserver_id", "start", postgresql_include=["probes", "successes"]),
        CheckConstraint("successes <= probes", name="successes_within_probes"),
    )


class _RollupColumns:
    """What an hourly or daily rollup holds: counts, and the latency sketch of the probes answered."""

    webserver_id: Mapped[int] = mapped_column(ForeignKey(WebserverRow.id, ondelete="CASCADE"))
    # The start of the UTC hour, day or week.
    start: Mapped[datetime]
    probes: Mapped[int]
    successes: Mapped[int]
    # NULL when no probe got a response; then latency_buckets is empty.
    latency_max_ms: Mapped[float | None] = mapped_column(Float)
    # The sketch's packed counts from its lowest bucket on (rollup_repository.encode_buckets).
    latency_buckets: Mapped[bytes] = mapped_column(LargeBinary)


class HourlyRollupRow(_RollupColumns, Base):
    """One webserver's probes over one UTC hour; deleted with its webserver."""

    __tablename__ = "rollups_hourly"
    __table_args__ = _rollup_table_args()


class DailyRollupRow(_RollupColumns, Base):
    """One webserver's probes over one UTC day; deleted with its webserver."""

    __tablename__ = "rollups_daily"
    __table_args__ = _rollup_table_args()


class WeeklyRollupRow(_RollupColumns, Base):
    """One webserver's probes over one week (Monday to Monday, UTC); deleted with its webserver."""

    __tablename__ = "rollups_weekly"
    __table_args__ = _rollup_table_args()


class RollupMarkRow(Base):
    """An hour with probes not rolled up yet, or a day or week whose rollups must be rebuilt."""

    __tablename__ = "rollup_marks"
    __table_args__ = (CheckConstraint("level IN ('hour', 'day', 'week')", name="rollup_level"),)

    level: Mapped[str] = mapped_column(String(8), primary_key=True)
    start: Mapped[datetime] = mapped_column(primary_key=True)


class EventRow(Base):
    """One event: a health change (with the webserver and probe as they were) or a channel test.

    No foreign key to webservers: events are history and outlive their webserver.
    """

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("id"),
        CheckConstraint(f"type IN ({_EVENT_TYPES})", name="event_type"),
        CheckConstraint(
            "(type = 'webserver.health_changed') = (from_state IS NOT NULL AND to_state IS NOT NULL)",
            name="change_of_health",
        ),
        CheckConstraint(
            "(type = 'webserver.certificate_expiring') = "
            "(certificate_expires_at IS NOT NULL AND certificate_threshold_days IS NOT NULL)",
            name="certificate_expiry",
        ),
        # The feed of one webserver, and each webserver's last event, walk this index in order.
        Index("ix_events_webserver_id_sequence", "webserver_id", "sequence"),
        # Sequences are never reused, even after the newest event is rolled back or pruned.
        {"sqlite_autoincrement": True},
    )

    # The feed's order (commit order, see event_repository.py); internal, never shown as such.
    sequence: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    # The public id (evt_...), the same on every delivery of the event.
    id: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime]
    webserver_id: Mapped[int | None]
    webserver_name: Mapped[str | None] = mapped_column(String(200))
    webserver_url: Mapped[str | None] = mapped_column(String(2048))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str | None] = mapped_column(String(16))
    # The probe that changed the health, when one did (a URL change resets health without one).
    probe_started_at: Mapped[datetime | None]
    probe_latency_ms: Mapped[float | None] = mapped_column(Float)
    probe_status_code: Mapped[int | None]
    probe_error_kind: Mapped[str | None] = mapped_column(String(32))
    probe_error_message: Mapped[str | None] = mapped_column(Text)
    probe_success: Mapped[bool | None]
    # A certificate warning: when the certificate expires, and the threshold (days) it crossed.
    certificate_expires_at: Mapped[datetime | None]
    certificate_threshold_days: Mapped[int | None]


class ChannelRow(Base):
    """One alert channel: where events go, and for which webservers."""

    __tablename__ = "channels"
    __table_args__ = (
        CheckConstraint("kind IN ('webhook', 'apprise')", name="channel_kind"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(String(2048))
    name: Mapped[str | None] = mapped_column(String(200))
    secret: Mapped[str | None] = mapped_column(String(128))
    # A JSON list of webserver ids, or NULL for every webserver; no foreign keys, so a removed
    # webserver's id just matches nothing.
    webserver_ids: Mapped[list[int] | None] = mapped_column(JSON)
    enabled: Mapped[bool]
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class DeliveryRow(Base):
    """One event on its way to one channel, and the worker that holds it while sending.

    Deleted with its channel; kept when its webserver goes (webserver_id is a copy, not a key).
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("event_sequence", "channel_id"),
        CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="delivery_status"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    event_sequence: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey(EventRow.sequence, ondelete="CASCADE")
    )
    channel_id: Mapped[int] = mapped_column(ForeignKey(ChannelRow.id, ondelete="CASCADE"))
    webserver_id: Mapped[int | None]
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int]
    next_attempt_at: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
    # The worker that claimed it and when the claim lapses (the database's clock on PostgreSQL).
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claim_expires_at: Mapped[datetime | None]


# The queue: claim() reads pending deliveries oldest event first, and asks of each whether an
# older one of the same channel and webserver is still pending. Partial, so delivered and failed
# rows (nearly all of them, in time) cost these indexes nothing.
# A literal, not a bound parameter: SQLite uses a partial index only for a query that repeats
# its condition word for word, and a parameter never matches.
PENDING: Final = literal_column(f"'{DeliveryStatus.PENDING.value}'", String())
_PENDING = DeliveryRow.status == PENDING
Index(
    "ix_deliveries_pending_event_sequence",
    DeliveryRow.event_sequence,
    postgresql_where=_PENDING,
    sqlite_where=_PENDING,
)
Index(
    "ix_deliveries_pending_channel_id_webserver_id_event_sequence",
    DeliveryRow.channel_id,
    DeliveryRow.webserver_id,
    DeliveryRow.event_sequence,
    postgresql_where=_PENDING,
    sqlite_where=_PENDING,
)
# One channel's deliveries in id order (the listing, with or without a status), and the
# ON DELETE CASCADE lookup when a channel is removed.
Index("ix_deliveries_channel_id_status_id", DeliveryRow.channel_id, DeliveryRow.status, DeliveryRow.id)
Index("ix_deliveries_channel_id_id", DeliveryRow.channel_id, DeliveryRow.id)


def _table_of(row_class: type[Base]) -> Table:
    table = row_class.__table__
    if not isinstance(table, Table):  # pragma: no cover - every row class above maps one Table
        raise TypeError(f"{row_class.__name__} is not mapped to a single table")
    return table


# Core handles for the hot paths, which skip the ORM's per-row bookkeeping.
webservers_table = _table_of(WebserverRow)
workers_table = _table_of(WorkerRow)
events_table = _table_of(EventRow)
channels_table = _table_of(ChannelRow)
deliveries_table = _table_of(DeliveryRow)
hourly_rollups_table = _table_of(HourlyRollupRow)
daily_rollups_table = _table_of(DailyRollupRow)
weekly_rollups_table = _table_of(WeeklyRollupRow)
rollup_marks_table = _table_of(RollupMarkRow)
jobs_table = _table_of(JobRow)

__all__ = [
    "NAMING_CONVENTION",
    "PENDING",
    "WEBSERVERS_FILLFACTOR",
    "Base",
    "ChannelRow",
    "DailyRollupRow",
    "DeliveryRow",
    "EventRow",
    "HourlyRollupRow",
    "JobRow",
    "RollupMarkRow",
    "UtcDateTime",
    "WebserverRow",
    "WeeklyRollupRow",
    "WorkerRow",
    "channels_table",
    "daily_rollups_table",
    "deliveries_table",
    "events_table",
    "hourly_rollups_table",
    "jobs_table",
    "only_on",
    "requests_table",
    "rollup_marks_table",
    "webservers_table",
    "weekly_rollups_table",
    "workers_table",
]
