"""Deliveries in the `deliveries` table: the queue the workers claim from, and each channel's record.

A claim is a row's claimed_by and claim_expires_at, dated by the database's clock on PostgreSQL
(workers on machines whose clocks disagree still agree on when a claim lapses) and by this
process's on SQLite (which runs on the one machine that runs its only worker). Claiming skips
rows another claimer holds (FOR UPDATE SKIP LOCKED), so concurrent claimers never wait for each
other nor take the same delivery.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import CursorResult, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from healthmon.adapters.sqlalchemy.channel_repository import CHANNEL_COLUMNS, to_channel
from healthmon.adapters.sqlalchemy.errors import translated_errors
from healthmon.adapters.sqlalchemy.event_repository import EVENT_COLUMNS, to_event
from healthmon.adapters.sqlalchemy.tables import (
    PENDING,
    channels_table,
    deliveries_table,
    events_table,
)
from healthmon.adapters.sqlalchemy.transactions import start_writing
from healthmon.application.ports import ClaimedDelivery, DeliveryRepository
from healthmon.domain.channels import ChannelId
from healthmon.domain.deliveries import Delivery, DeliveryId, DeliveryStatus
from healthmon.domain.events import EventId, RecordedEvent
from healthmon.domain.webserver import WebserverId

_d = deliveries_table.c
_e = events_table.c
_c = channels_table.c

# What an attempt (or a retry) changes; the rest of a delivery is fixed when it is queued.
_ATTEMPT_FIELDS: Final = tuple(
    field.name
    for field in dataclasses.fields(Delivery)
    if field.name not in ("id", "event_id", "channel_id", "webserver_id")
)
# The order to_delivery reads: the event's public id comes from the events table.
DELIVERY_COLUMNS: Final = (
    _d.id,
    _e.id,
    _d.channel_id,
    _d.webserver_id,
    *(_d[name] for name in _ATTEMPT_FIELDS),
)
_CLAIMED_COLUMNS: Final = (*DELIVERY_COLUMNS, *EVENT_COLUMNS, *CHANNEL_COLUMNS)
_EVENT_END: Final = len(DELIVERY_COLUMNS) + len(EVENT_COLUMNS)


def to_delivery(row: Any) -> Delivery:
    """The delivery a row of DELIVERY_COLUMNS holds."""
    delivery_id, event_id, channel_id, webserver_id = row[:4]
    attempt = dict(zip(_ATTEMPT_FIELDS, row[4 : len(DELIVERY_COLUMNS)], strict=True))
    attempt["status"] = DeliveryStatus(attempt["status"])
    return Delivery(
        id=DeliveryId(delivery_id),
        event_id=EventId(event_id),
        channel_id=ChannelId(channel_id),
        webserver_id=None if webserver_id is None else WebserverId(webserver_id),
        **attempt,
    )


def _attempt_values(delivery: Delivery) -> dict[str, Any]:
    values = {name: getattr(delivery, name) for name in _ATTEMPT_FIELDS}
    values["status"] = delivery.status.value
    return values


_WITH_EVENT: Final = select(*DELIVERY_COLUMNS).join_from(
    deliveries_table, events_table, _e.sequence == _d.event_sequence
)

# An older delivery of the same channel and webserver still pending: this one waits for it.
# Deliveries of no webserver (channel tests) wait for nobody, as NULL = NULL is never true.
_earlier = deliveries_table.alias("earlier")
_WAITS: Final = exists().where(
    _earlier.c.status == PENDING,
    _earlier.c.channel_id == _d.channel_id,
    _earlier.c.webserver_id == _d.webserver_id,
    _earlier.c.event_sequence < _d.event_sequence,
)

Moment = ColumnElement[datetime] | datetime


class SqlAlchemyDeliveryRepository(DeliveryRepository):
    """Deliveries in the `deliveries` table, claimed by workers with expiring claims."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._postgres = session.get_bind().dialect.name == "postgresql"

    def _now(self) -> Moment:
        return func.now() if self._postgres else datetime.now(UTC)

    def _later(self, span: timedelta) -> Moment:
        if self._postgres:
            return func.now() + func.make_interval(0, 0, 0, 0, 0, 0, span.total_seconds())
        return datetime.now(UTC) + span

    def add_many(self, event: RecordedEvent, channel_ids: Collection[ChannelId], due: datetime) -> None:
        self._queue([(event, channel_ids, due)])

    def add_for_events(self, queued: Sequence[tuple[RecordedEvent, Collection[ChannelId]]]) -> None:
        self._queue([(event, channel_ids, event.occurred_at) for event, channel_ids in queued])

    def _queue(self, queued: Sequence[tuple[RecordedEvent, Collection[ChannelId], datetime]]) -> None:
        wanted = sorted({channel_id for _, channel_ids, _ in queued for channel_id in channel_ids})
        if not wanted:
            return
        # Only channels that exist now. On PostgreSQL FOR KEY SHARE holds them until commit, so a
        # concurrent remove waits (and then takes these deliveries with it) instead of breaking
        # the foreign key; SQLite has one writer, so nothing can remove them meanwhile.
        existing = select(_c.id).where(_c.id.in_(wanted))
        if self._postgres:
            existing = existing.with_for_update(read=True, key_share=True)
        with translated_errors():
            start_writing(self._session)
            found = set(self._session.execute(existing).scalars())
            rows = [
                {
                    "event_sequence": event.sequence,
                    "channel_id": channel_id,
                    "webserver_id": event.webserver_id,
                    "status": DeliveryStatus.PENDING.value,
                    "attempts": 0,
                    "next_attempt_at": due,
                }
                for event, channel_ids, due in queued
                for channel_id in sorted(channel_ids)
                if channel_id in found
            ]
            if rows:
                # One executemany, sent as multi-row INSERTs ("insertmanyvalues").
                self._session.execute(insert(deliveries_table), rows)

    def claim(self, worker_id: str, *, claim_for: timedelta, limit: int) -> list[ClaimedDelivery]:
        if limit < 1:
            return []
        now = self._now()
        statement = (
            select(*_CLAIMED_COLUMNS)
            .join_from(deliveries_table, events_table, _e.sequence == _d.event_sequence)
            .join(channels_table, _c.id == _d.channel_id)
            .where(
                _d.status == PENDING,
                _d.next_attempt_at <= now,
                or_(_d.claim_expires_at.is_(None), _d.claim_expires_at <= now),
                _c.enabled.is_(True),
                ~_WAITS,
            )
            .order_by(_d.event_sequence, _d.id)
            .limit(limit)
        )
        if self._postgres:
            # Rows another claimer holds are left to it. PostgreSQL checks the claim condition
            # again on the newest version of each row it locks, so a row claimed and committed
            # meanwhile is skipped too.
            statement = statement.with_for_update(skip_locked=True, of=deliveries_table)
        with translated_errors():
            start_writing(self._session)
            rows = self._session.execute(statement).all()
            if not rows:
                return []
            self._session.execute(
                update(deliveries_table)
                .where(_d.id.in_([row[0] for row in rows]))
                .values(claimed_by=worker_id, claim_expires_at=self._later(claim_for))
            )
        return [
            ClaimedDelivery(
                delivery=to_delivery(row[: len(DELIVERY_COLUMNS)]),
                event=to_event(row[len(DELIVERY_COLUMNS) : _EVENT_END]),
                channel=to_channel(row[_EVENT_END:]),
            )
            for row in rows
        ]

    def finish(self, worker_id: str, delivery: Delivery) -> bool:
        # Only while the claim is still this worker's: once it lapsed and another worker took the
        # delivery, that worker's outcome is the one to keep.
        statement = (
            update(deliveries_table)
            .where(_d.id == delivery.id, _d.claimed_by == worker_id)
            .values(**_attempt_values(delivery), claimed_by=None, claim_expires_at=None)
        )
        with translated_errors():
            start_writing(self._session)
            result: CursorResult[Any] = self._session.execute(statement)  # type: ignore[assignment]
        return result.rowcount == 1

    def get(self, channel_id: ChannelId, delivery_id: DeliveryId, *, lock: bool = False) -> Delivery | None:
        statement = _WITH_EVENT.where(_d.id == delivery_id, _d.channel_id == channel_id)
        if lock:
            start_writing(self._session)
            statement = statement.with_for_update(of=deliveries_table)
        with translated_errors():
            row = self._session.execute(statement).one_or_none()
        return None if row is None else to_delivery(row)

    def save(self, delivery: Delivery) -> None:
        statement = update(deliveries_table).where(_d.id == delivery.id).values(**_attempt_values(delivery))
        with translated_errors():
            start_writing(self._session)
            self._session.execute(statement)

    def list(
        self,
        channel_id: ChannelId,
        *,
        status: DeliveryStatus | None = None,
        after: DeliveryId | None = None,
        limit: int,
    ) -> list[Delivery]:
        # Walks ix_deliveries_channel_id_id, or ix_deliveries_channel_id_status_id with a status.
        statement = _WITH_EVENT.where(_d.channel_id == channel_id).order_by(_d.id).limit(limit)
        if status is not None:
            statement = statement.where(_d.status == status.value)
        if after is not None:
            statement = statement.where(_d.id > after)
        with translated_errors():
            return [to_delivery(row) for row in self._session.execute(statement)]

    def count_by_status(self) -> dict[DeliveryStatus, int]:
        statement = select(_d.status, func.count()).group_by(_d.status)
        counts = dict.fromkeys(DeliveryStatus, 0)
        with translated_errors():
            for status, count in self._session.execute(statement):
                counts[DeliveryStatus(status)] = int(count)
        return counts


__all__ = ["DELIVERY_COLUMNS", "SqlAlchemyDeliveryRepository", "to_delivery"]
