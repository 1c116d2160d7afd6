"""Opaque page cursors: urlsafe base64 of a small JSON object naming the last item of the previous page.

Clients must treat a cursor as an opaque string. Anything that does not decode to a position this
API could have produced raises InvalidCursor, a 422 naming the `cursor` field.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import TypeVar

import msgspec

from healthmon.application.ports import HistoryCursor
from healthmon.domain.deliveries import DeliveryId
from healthmon.domain.errors import FieldProblem, InvalidField
from healthmon.domain.probe import ProbeId
from healthmon.domain.webserver import WebserverId

# Webserver ids are 32-bit integers in the database; probe ids are 64-bit.
MAX_WEBSERVER_ID = 2**31 - 1
MAX_PROBE_ID = 2**63 - 1
# A cursor this API writes is well under 100 characters; refuse to decode anything much longer.
MAX_CURSOR_LENGTH = 200

PositionT = TypeVar("PositionT", bound=msgspec.Struct)


class InvalidCursor(InvalidField):
    """The cursor was not produced by this API (or was altered); nothing was read."""

    def __init__(self) -> None:
        super().__init__(FieldProblem("cursor", "is not a cursor this API returned"))


class _ListPosition(msgspec.Struct, forbid_unknown_fields=True):
    after: int


class _HistoryPosition(msgspec.Struct, forbid_unknown_fields=True):
    started_at: datetime
    id: int


def _encode(position: msgspec.Struct) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(position)).decode("ascii").rstrip("=")


def _decode(cursor: str, position_type: type[PositionT]) -> PositionT:
    if not cursor or len(cursor) > MAX_CURSOR_LENGTH or not cursor.isascii():
        raise InvalidCursor
    try:
        # validate=True: a character outside the alphabet is an error, not silently skipped.
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        return msgspec.json.decode(raw, type=position_type)
    except (binascii.Error, ValueError, msgspec.DecodeError) as exc:
        raise InvalidCursor from exc


def encode_list_cursor(after: WebserverId) -> str:
    """The cursor of the webserver list page that starts after this id."""
    return _encode(_ListPosition(after=after))


def decode_list_cursor(cursor: str) -> WebserverId:
    """The id a webserver list cursor points past; InvalidCursor when it is not one."""
    position = _decode(cursor, _ListPosition)
    if not 1 <= position.after <= MAX_WEBSERVER_ID:
        raise InvalidCursor
    return WebserverId(position.after)


def encode_history_cursor(position: HistoryCursor) -> str:
    """The cursor of the history page that starts just older than this probe."""
    return _encode(_HistoryPosition(started_at=position.started_at, id=position.probe_id))


def decode_history_cursor(cursor: str) -> HistoryCursor:
    """The probe a history cursor points past; InvalidCursor when it is not one."""
    position = _decode(cursor, _HistoryPosition)
    if position.started_at.tzinfo is None or not 1 <= position.id <= MAX_PROBE_ID:
        raise InvalidCursor
    return HistoryCursor(position.started_at, ProbeId(position.id))


# Event sequences and delivery ids are 64-bit integers in the database.
MAX_SEQUENCE = 2**63 - 1
MAX_DELIVERY_ID = 2**63 - 1


def encode_event_cursor(sequence: int) -> str:
    """The cursor of the feed page that starts after this sequence (0: the start of the feed)."""
    return _encode(_ListPosition(after=sequence))


def decode_event_cursor(cursor: str) -> int:
    """The sequence an events cursor points past; InvalidCursor when it is not one."""
    position = _decode(cursor, _ListPosition)
    if not 0 <= position.after <= MAX_SEQUENCE:
        raise InvalidCursor
    return position.after


def encode_delivery_cursor(after: DeliveryId) -> str:
    """The cursor of the deliveries page that starts after this delivery."""
    return _encode(_ListPosition(after=after))


def decode_delivery_cursor(cursor: str) -> DeliveryId:
    """The delivery id a deliveries cursor points past; InvalidCursor when it is not one."""
    position = _decode(cursor, _ListPosition)
    if not 1 <= position.after <= MAX_DELIVERY_ID:
        raise InvalidCursor
    return DeliveryId(position.after)
