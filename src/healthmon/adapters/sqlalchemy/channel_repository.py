"""Alert channels in the `channels` table; removing one removes its deliveries (ON DELETE CASCADE)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, Final

from sqlalchemy import CursorResult, delete, insert, select, update
from sqlalchemy.orm import Session

from healthmon.adapters.sqlalchemy.errors import translated_errors
from healthmon.adapters.sqlalchemy.tables import channels_table
from healthmon.adapters.sqlalchemy.transactions import start_writing
from healthmon.application.ports import ChannelRepository
from healthmon.domain.channels import Channel, ChannelId, ChannelKind, ChannelSettings
from healthmon.domain.webserver import WebserverId

_c = channels_table.c

_SETTINGS_FIELDS: Final = tuple(field.name for field in dataclasses.fields(ChannelSettings))
# Channel's own fields after the id and the settings.
_CHANNEL_FIELDS: Final = tuple(
    field.name for field in dataclasses.fields(Channel) if field.name not in ("id", "settings")
)
# The order to_channel reads.
CHANNEL_COLUMNS: Final = (_c.id, *(_c[name] for name in (*_SETTINGS_FIELDS, *_CHANNEL_FIELDS)))


def to_channel(row: Any) -> Channel:
    """The channel a row of CHANNEL_COLUMNS holds."""
    settings = dict(zip(_SETTINGS_FIELDS, row[1 : 1 + len(_SETTINGS_FIELDS)], strict=True))
    settings["kind"] = ChannelKind(settings["kind"])
    ids = settings["webserver_ids"]
    settings["webserver_ids"] = None if ids is None else frozenset(WebserverId(i) for i in ids)
    rest = dict(zip(_CHANNEL_FIELDS, row[1 + len(_SETTINGS_FIELDS) :], strict=True))
    return Channel(id=ChannelId(row[0]), settings=ChannelSettings(**settings), **rest)


def _channel_values(channel: Channel) -> dict[str, Any]:
    values = {name: getattr(channel.settings, name) for name in _SETTINGS_FIELDS}
    values["kind"] = channel.settings.kind.value
    ids = channel.settings.webserver_ids
    values["webserver_ids"] = None if ids is None else sorted(ids)
    values.update({name: getattr(channel, name) for name in _CHANNEL_FIELDS})
    return values


_ALL: Final = select(*CHANNEL_COLUMNS).order_by(_c.id)


class SqlAlchemyChannelRepository(ChannelRepository):
    """Channels in the `channels` table (few: every read takes them all, or one by key)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, settings: ChannelSettings, now: datetime) -> Channel:
        draft = Channel(id=ChannelId(0), settings=settings, created_at=now, updated_at=now)
        with translated_errors():
            start_writing(self._session)
            channel_id = self._session.execute(
                insert(channels_table).returning(_c.id), _channel_values(draft)
            ).scalar_one()
        return dataclasses.replace(draft, id=ChannelId(channel_id))

    def get(self, channel_id: ChannelId, *, lock: bool = False) -> Channel | None:
        statement = _ALL.where(_c.id == channel_id)
        if lock:
            start_writing(self._session)
            # FOR NO KEY UPDATE: a recorder inserting deliveries for this channel (whose foreign
            # key check takes FOR KEY SHARE) goes on, rather than wait or deadlock on us.
            statement = statement.with_for_update(key_share=True)
        with translated_errors():
            row = self._session.execute(statement).one_or_none()
        return None if row is None else to_channel(row)

    def all(self) -> list[Channel]:
        with translated_errors():
            return [to_channel(row) for row in self._session.execute(_ALL)]

    def covering(self, webserver_id: WebserverId) -> list[Channel]:
        with translated_errors():
            rows = self._session.execute(_ALL.where(_c.enabled.is_(True))).all()
        return [channel for channel in map(to_channel, rows) if channel.settings.covers(webserver_id)]

    def save(self, channel: Channel) -> None:
        values = _channel_values(channel)
        del values["created_at"]
        with translated_errors():
            start_writing(self._session)
            self._session.execute(update(channels_table).where(_c.id == channel.id).values(values))

    def remove(self, channel_id: ChannelId) -> bool:
        with translated_errors():
            start_writing(self._session)
            result: CursorResult[Any] = self._session.execute(  # type: ignore[assignment]
                delete(channels_table).where(_c.id == channel_id)
            )
        return result.rowcount == 1


__all__ = ["CHANNEL_COLUMNS", "SqlAlchemyChannelRepository", "to_channel"]
