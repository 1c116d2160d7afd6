"""Page cursors: short strings naming the last item of the previous page.

Clients should pass back the `next_cursor` they were given and not build their own. A cursor is a
position, not a secret: every string matching the pattern is one (so the OpenAPI schema states the
whole rule), and a made-up position just starts a page there. A position beyond every item pages
from the end (an empty page, or for history the newest requests), never an error. Anything that
does not match the pattern raises InvalidCursor, a 422 naming the `cursor` field.

- List cursor: the id of the last webserver of the previous page, in decimal.
- History cursor: `<start>.<id>`, the start of the previous page's last request in microseconds
  since 1970-01-01T00:00:00Z (negative before), then its id. A request's id is its start in the same
  unit (unique within its webserver's history), so the id adds nothing to a cursor this API wrote;
  in one made by hand an id above its start's also takes in the request started then.
- Events cursor: the sequence of the last event read, in decimal (0: the start of the feed).
- Deliveries cursor: the id of the last delivery of the previous page, in decimal.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Final

from healthmon.application.ports import HistoryCursor
from healthmon.domain.deliveries import DeliveryId
from healthmon.domain.errors import FieldProblem, InvalidField
from healthmon.domain.probe import ProbeId
from healthmon.domain.webserver import WebserverId

# Webserver ids are 32-bit integers in the database; probe ids are 64-bit.
MAX_WEBSERVER_ID: Final = 2**31 - 1
MAX_PROBE_ID: Final = 2**63 - 1
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_EARLIEST: Final = (datetime.min.replace(tzinfo=UTC) - _EPOCH) // _MICROSECOND
_LATEST: Final = (datetime.max.replace(tzinfo=UTC) - _EPOCH) // _MICROSECOND

# Wide enough for every position (ids of 10 and 19 digits, 18 digits of microseconds); larger
# numbers are clamped to the last position.
LIST_CURSOR_PATTERN: Final = f"^[0-9]{{1,{len(str(MAX_WEBSERVER_ID))}}}$"
HISTORY_CURSOR_PATTERN: Final = f"^-?[0-9]{{1,{len(str(_LATEST))}}}\\.[0-9]{{1,{len(str(MAX_PROBE_ID))}}}$"
# Event sequences and delivery ids: 64-bit integers in the database, written in decimal.
MAX_SEQUENCE: Final = 2**63 - 1
MAX_DELIVERY_ID: Final = 2**63 - 1
SEQUENCE_CURSOR_PATTERN: Final = f"^[0-9]{{1,{len(str(MAX_SEQUENCE))}}}$"
_LIST_CURSOR: Final = re.compile(LIST_CURSOR_PATTERN)
_HISTORY_CURSOR: Final = re.compile(HISTORY_CURSOR_PATTERN)
_SEQUENCE_CURSOR: Final = re.compile(SEQUENCE_CURSOR_PATTERN)


class InvalidCursor(InvalidField):
    """The cursor is not one this API writes; nothing was read."""

    def __init__(self, field: str = "cursor") -> None:
        super().__init__(FieldProblem(field, "is not a cursor this API returned"))


def encode_list_cursor(after: WebserverId) -> str:
    """The cursor of the webserver list page that starts after this id."""
    return str(after)


def decode_list_cursor(cursor: str) -> WebserverId:
    """The id a webserver list cursor points past; InvalidCursor when it is not one."""
    if _LIST_CURSOR.fullmatch(cursor) is None:
        raise InvalidCursor
    return WebserverId(min(int(cursor), MAX_WEBSERVER_ID))


def encode_history_cursor(position: HistoryCursor) -> str:
    """The cursor of the history page that starts just older than this probe."""
    return f"{(position.started_at - _EPOCH) // _MICROSECOND}.{position.probe_id}"


def decode_history_cursor(cursor: str) -> HistoryCursor:
    """The probe a history cursor points past (in UTC); InvalidCursor when it is not one."""
    if _HISTORY_CURSOR.fullmatch(cursor) is None:
        raise InvalidCursor
    start, _, probe_id = cursor.partition(".")
    micros = min(max(int(start), _EARLIEST), _LATEST)
    return HistoryCursor(_EPOCH + micros * _MICROSECOND, ProbeId(min(int(probe_id), MAX_PROBE_ID)))


def encode_event_cursor(sequence: int) -> str:
    """The cursor of the feed page that starts after this sequence (0: the start of the feed)."""
    return str(sequence)


def decode_event_cursor(cursor: str) -> int:
    """The sequence an events cursor points past; InvalidCursor (naming `after`) when it is not one."""
    if _SEQUENCE_CURSOR.fullmatch(cursor) is None:
        raise InvalidCursor("after")
    return min(int(cursor), MAX_SEQUENCE)


def encode_delivery_cursor(after: DeliveryId) -> str:
    """The cursor of the deliveries page that starts after this delivery."""
    return str(after)


def decode_delivery_cursor(cursor: str) -> DeliveryId:
    """The delivery id a deliveries cursor points past; InvalidCursor when it is not one."""
    if _SEQUENCE_CURSOR.fullmatch(cursor) is None:
        raise InvalidCursor
    return DeliveryId(min(int(cursor), MAX_DELIVERY_ID))
