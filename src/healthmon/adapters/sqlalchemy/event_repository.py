"""Events in the `events` table: the feed, in commit order, and each webserver's last event.

On PostgreSQL two transactions may draw sequences 7 and 8 and commit 8 first; a feed reader
that saw 8 and moved past it would never see 7. So every transaction that adds an event first
takes one transaction-scoped advisory lock, held until it commits or rolls back: events are
added one transaction at a time, and sequences commit in order. SQLite has one writer anyway.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, SessionTransaction

from healthmon.adapters.sqlalchemy.errors import translated_errors
from healthmon.adapters.sqlalchemy.tables import events_table
from healthmon.adapters.sqlalchemy.transactions import start_writing
from healthmon.application.ports import EventRepository
from healthmon.domain.events import (
    CertificateExpiring,
    EventId,
    EventType,
    HealthChanged,
    RecordedEvent,
    WebserverSnapshot,
    new_event_id,
)
from healthmon.domain.health import HealthState
from healthmon.domain.probe import TRANSIENT_PROBE_FIELDS, ErrorKind, ProbeResult
from healthmon.domain.rollups import Span
from healthmon.domain.statistics import StateChange
from healthmon.domain.webserver import WebserverId

# Webservers per statement of health_changes.
_ID_CHUNK: Final = 1000

# The key of the advisory lock that orders event inserts ("hmev" in ASCII); nothing else uses it.
EVENT_ORDER_LOCK: Final = 0x686D6576

_e = events_table.c

# The probe's fields, stored under a "probe_" prefix; its webserver is the event's.
_PROBE_FIELDS: Final = tuple(
    field.name
    for field in dataclasses.fields(ProbeResult)
    if field.name != "webserver_id" and field.name not in TRANSIENT_PROBE_FIELDS
)
_PROBE_COLUMNS: Final = tuple(_e[f"probe_{name}"] for name in _PROBE_FIELDS)
# The snapshot's fields, stored under a "webserver_" prefix.
_SNAPSHOT_COLUMNS: Final = tuple(
    _e[f"webserver_{field.name}"] for field in dataclasses.fields(WebserverSnapshot)
)
# The order to_event reads.
EVENT_COLUMNS: Final = (
    _e.sequence,
    _e.id,
    _e.type,
    _e.occurred_at,
    *_SNAPSHOT_COLUMNS,
    _e.from_state,
    _e.to_state,
    *_PROBE_COLUMNS,
    _e.certificate_expires_at,
    _e.certificate_threshold_days,
)
_SNAPSHOT_END: Final = 4 + len(_SNAPSHOT_COLUMNS)
_PROBE_END: Final = _SNAPSHOT_END + 2 + len(_PROBE_COLUMNS)


def to_event(row: Any) -> RecordedEvent:
    """The event a row of EVENT_COLUMNS holds."""
    sequence, event_id, event_type, occurred_at = row[:4]
    snapshot = row[4:_SNAPSHOT_END]
    from_state, to_state = row[_SNAPSHOT_END : _SNAPSHOT_END + 2]
    probe_values = dict(zip(_PROBE_FIELDS, row[_SNAPSHOT_END + 2 : _PROBE_END], strict=True))
    expires_at, threshold_days = row[_PROBE_END:]
    change = None
    certificate = None
    if expires_at is not None:
        certificate = CertificateExpiring(
            webserver=WebserverSnapshot(*snapshot),
            expires_at=expires_at,
            threshold_days=threshold_days,
            occurred_at=occurred_at,
        )
    if from_state is not None:
        webserver = WebserverSnapshot(*snapshot)
        probe = None
        if probe_values["started_at"] is not None:
            kind = probe_values["error_kind"]
            probe_values["error_kind"] = None if kind is None else ErrorKind(kind)
            probe = ProbeResult(webserver_id=webserver.id, **probe_values)
        change = HealthChanged(
            webserver=webserver,
            from_state=HealthState(from_state),
            to_state=HealthState(to_state),
            occurred_at=occurred_at,
            probe=probe,
        )
    return RecordedEvent(
        id=EventId(event_id),
        sequence=sequence,
        type=EventType(event_type),
        occurred_at=occurred_at,
        change=change,
        certificate=certificate,
    )


# Every column an insert writes, so that rows of a batch all have the same keys.
_INSERT_COLUMNS: Final = tuple(column.name for column in EVENT_COLUMNS if column is not _e.sequence)


# What one event to add holds: its type and time, and the health change or certificate warning it is.
_Draft = tuple[EventType, datetime, HealthChanged | None, CertificateExpiring | None]


def _event_values(
    event_id: EventId,
    type: EventType,
    occurred_at: datetime,
    change: HealthChanged | None,
    certificate: CertificateExpiring | None,
) -> dict[str, Any]:
    values: dict[str, Any] = dict.fromkeys(_INSERT_COLUMNS)
    values.update(id=event_id, type=type.value, occurred_at=occurred_at)
    if certificate is not None:
        for field in dataclasses.fields(WebserverSnapshot):
            values[f"webserver_{field.name}"] = getattr(certificate.webserver, field.name)
        values["certificate_expires_at"] = certificate.expires_at
        values["certificate_threshold_days"] = certificate.threshold_days
    if change is None:
        return values
    for field in dataclasses.fields(WebserverSnapshot):
        values[f"webserver_{field.name}"] = getattr(change.webserver, field.name)
    values["from_state"] = change.from_state.value
    values["to_state"] = change.to_state.value
    if change.probe is not None:
        for name in _PROBE_FIELDS:
            values[f"probe_{name}"] = getattr(change.probe, name)
        if change.probe.error_kind is not None:
            values["probe_error_kind"] = change.probe.error_kind.value
    return values


# One multi-row INSERT ... RETURNING for a batch (SQLAlchemy's "insertmanyvalues"), its sequences
# handed back in the order of the rows given.
_ADD: Final = insert(events_table).returning(_e.sequence, sort_by_parameter_order=True)
_HEALTH_EVENTS: Final = select(*EVENT_COLUMNS).where(_e.type == EventType.HEALTH_CHANGED.value)


class SqlAlchemyEventRepository(EventRepository):
    """Events in the `events` table; on PostgreSQL inserts are ordered by an advisory lock."""

    def __init__(self, session: Session) -> None:
        self._session = session
        # The transaction that already holds the advisory lock (taken once per transaction).
        self._ordered_in: SessionTransaction | None = None

    def _take_turn(self) -> None:
        start_writing(self._session)
        if self._session.get_bind().dialect.name != "postgresql":
            return
        transaction = self._session.get_transaction()
        if transaction is not None and transaction is self._ordered_in:
            return
        self._session.execute(select(func.pg_advisory_xact_lock(EVENT_ORDER_LOCK)))
        self._ordered_in = self._session.get_transaction()

    def add(self, type: EventType, occurred_at: datetime, change: HealthChanged | None) -> RecordedEvent:
        [event] = self._add_all([(type, occurred_at, change, None)])
        return event

    def add_changes(self, changes: Sequence[HealthChanged]) -> list[RecordedEvent]:
        return self._add_all(
            [(EventType.HEALTH_CHANGED, change.occurred_at, change, None) for change in changes]
        )

    def add_certificate_warnings(self, warnings: Sequence[CertificateExpiring]) -> list[RecordedEvent]:
        return self._add_all(
            [(EventType.CERTIFICATE_EXPIRING, warning.occurred_at, None, warning) for warning in warnings]
        )

    def _add_all(self, events: Sequence[_Draft]) -> list[RecordedEvent]:
        if not events:
            return []
        ids = [new_event_id() for _ in events]
        rows = [_event_values(event_id, *event) for event_id, event in zip(ids, events, strict=True)]
        with translated_errors():
            self._take_turn()
            sequences = self._session.execute(_ADD, rows).scalars().all()
        return [
            RecordedEvent(
                id=event_id,
                sequence=sequence,
                type=type,
                occurred_at=occurred_at,
                change=change,
                certificate=certificate,
            )
            for event_id, sequence, (type, occurred_at, change, certificate) in zip(
                ids, sequences, events, strict=True
            )
        ]

    def feed(
        self, *, after: int | None, webserver_id: WebserverId | None = None, limit: int
    ) -> list[RecordedEvent]:
        statement = _HEALTH_EVENTS.order_by(_e.sequence).limit(limit)
        if after is not None:
            statement = statement.where(_e.sequence > after)
        if webserver_id is not None:
            # Walks ix_events_webserver_id_sequence.
            statement = statement.where(_e.webserver_id == webserver_id)
        with translated_errors():
            return [to_event(row) for row in self._session.execute(statement)]

    def latest_sequence(self) -> int:
        with translated_errors():
            latest = self._session.execute(select(func.max(_e.sequence))).scalar_one()
        return 0 if latest is None else int(latest)

    def count_by_type(self) -> dict[EventType, int]:
        statement = select(_e.type, func.count()).group_by(_e.type)
        counts = dict.fromkeys(EventType, 0)
        with translated_errors():
            for type_name, count in self._session.execute(statement):
                counts[EventType(type_name)] = int(count)
        return counts

    def last_of(self, webserver_ids: Collection[WebserverId]) -> dict[WebserverId, RecordedEvent]:
        if not webserver_ids:
            return {}
        # Each webserver's highest sequence comes from the index alone; then one lookup by key each.
        newest = (
            select(func.max(_e.sequence))
            .where(_e.webserver_id.in_(list(webserver_ids)), _e.type == EventType.HEALTH_CHANGED.value)
            .group_by(_e.webserver_id)
        )
        statement = select(*EVENT_COLUMNS).where(_e.sequence.in_(newest))
        with translated_errors():
            events = [to_event(row) for row in self._session.execute(statement)]
        return {WebserverId(event.webserver_id): event for event in events if event.webserver_id is not None}

    def health_changes(
        self, webserver_ids: Collection[WebserverId], span: Span
    ) -> dict[WebserverId, list[StateChange]]:
        ids = sorted(set(webserver_ids))
        columns = (_e.webserver_id, _e.occurred_at, _e.sequence, _e.to_state)
        health = _e.type == EventType.HEALTH_CHANGED.value
        rows: list[Any] = []
        for first in range(0, len(ids), _ID_CHUNK):
            chunk = _e.webserver_id.in_(ids[first : first + _ID_CHUNK])
            inside = select(*columns).where(
                health, chunk, _e.occurred_at >= span.start, _e.occurred_at < span.end
            )
            # The state at the window's start: each webserver's last change before it.
            rank = (
                func.row_number()
                .over(partition_by=_e.webserver_id, order_by=(_e.occurred_at.desc(), _e.sequence.desc()))
                .label("rank")
            )
            ranked = select(*columns, rank).where(health, chunk, _e.occurred_at < span.start).subquery()
            before = select(*(ranked.c[column.name] for column in columns)).where(ranked.c.rank == 1)
            with translated_errors():
                rows.extend(self._session.execute(inside).all())
                rows.extend(self._session.execute(before).all())
        changes: dict[WebserverId, list[StateChange]] = {}
        for webserver_id, occurred_at, _sequence, to_state in sorted(rows, key=lambda row: tuple(row[:3])):
            changes.setdefault(WebserverId(webserver_id), []).append(
                StateChange(at=occurred_at, to_state=HealthState(to_state))
            )
        return changes


__all__ = ["EVENT_COLUMNS", "EVENT_ORDER_LOCK", "SqlAlchemyEventRepository", "to_event"]
