"""The cursor codec: what it writes it reads back, and anything else is InvalidCursor naming `cursor`."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from healthmon.application.ports import HistoryCursor
from healthmon.domain.probe import ProbeId
from healthmon.domain.webserver import WebserverId
from healthmon.entrypoints.http.cursors import (
    MAX_PROBE_ID,
    MAX_WEBSERVER_ID,
    InvalidCursor,
    decode_history_cursor,
    decode_list_cursor,
    encode_history_cursor,
    encode_list_cursor,
)


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@given(st.integers(1, MAX_WEBSERVER_ID))
def test_list_cursors_round_trip(after: int) -> None:
    cursor = encode_list_cursor(WebserverId(after))
    assert cursor.isascii()
    assert "=" not in cursor
    assert decode_list_cursor(cursor) == after


@given(
    st.datetimes(timezones=st.just(UTC), min_value=datetime(1970, 1, 1), max_value=datetime(9999, 1, 1)),
    st.integers(1, MAX_PROBE_ID),
)
def test_history_cursors_round_trip(started_at: datetime, probe_id: int) -> None:
    position = HistoryCursor(started_at, ProbeId(probe_id))
    assert decode_history_cursor(encode_history_cursor(position)) == position


def test_a_history_cursor_keeps_the_instant_of_an_offset_time() -> None:
    moment = datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    decoded = decode_history_cursor(encode_history_cursor(HistoryCursor(moment, ProbeId(3))))
    assert decoded.started_at == moment


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not base64!",
        "é",
        "a",
        b64("not json"),
        b64("[1]"),
        b64('{"after": 0}'),
        b64('{"after": -3}'),
        b64(f'{{"after": {MAX_WEBSERVER_ID + 1}}}'),
        b64('{"after": "5"}'),
        b64('{"after": 5, "extra": 1}'),
        b64('{"started_at": "2026-01-01T00:00:00Z", "id": 1}'),
        "A" * 201,
    ],
)
def test_bad_list_cursors_are_invalid(cursor: str) -> None:
    with pytest.raises(InvalidCursor) as caught:
        decode_list_cursor(cursor)
    assert caught.value.field == "cursor"


@pytest.mark.parametrize(
    "cursor",
    [
        b64('{"after": 5}'),
        b64('{"started_at": "2026-01-01T00:00:00", "id": 1}'),
        b64('{"started_at": "2026-01-01T00:00:00Z", "id": 0}'),
        b64(f'{{"started_at": "2026-01-01T00:00:00Z", "id": {MAX_PROBE_ID + 1}}}'),
        b64('{"started_at": "yesterday", "id": 1}'),
        b64('{"started_at": "2026-01-01T00:00:00Z"}'),
    ],
)
def test_bad_history_cursors_are_invalid(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_history_cursor(cursor)
