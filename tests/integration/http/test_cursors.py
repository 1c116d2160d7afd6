"""The cursor codec: what it writes it reads back, any string of its pattern is a position, anything
else is InvalidCursor naming `cursor`; and extreme positions and times page on every backend."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from dependency_injector import providers
from hypothesis import given
from hypothesis import strategies as st

from healthmon.application.ports import HistoryCursor
from healthmon.container import Container
from healthmon.domain.probe import ProbeId
from healthmon.domain.webserver import WebserverId
from healthmon.entrypoints.http.cursors import (
    HISTORY_CURSOR_PATTERN,
    LIST_CURSOR_PATTERN,
    MAX_PROBE_ID,
    MAX_WEBSERVER_ID,
    InvalidCursor,
    decode_history_cursor,
    decode_list_cursor,
    encode_history_cursor,
    encode_list_cursor,
)
from tests.factories import settings, succeeded
from tests.integration.conftest import UowFactory
from tests.integration.http.conftest import ClientFactory, assert_problem


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@given(st.integers(1, MAX_WEBSERVER_ID))
def test_list_cursors_round_trip(after: int) -> None:
    cursor = encode_list_cursor(WebserverId(after))
    assert cursor.isascii()
    assert "=" not in cursor
    assert decode_list_cursor(cursor) == after


@given(
    st.datetimes(timezones=st.just(UTC), min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
    st.integers(1, MAX_PROBE_ID),
)
def test_history_cursors_round_trip(started_at: datetime, probe_id: int) -> None:
    position = HistoryCursor(started_at, ProbeId(probe_id))
    assert decode_history_cursor(encode_history_cursor(position)) == position


def test_a_history_cursor_keeps_the_instant_of_an_offset_time() -> None:
    moment = datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    decoded = decode_history_cursor(encode_history_cursor(HistoryCursor(moment, ProbeId(3))))
    assert decoded.started_at == moment


@given(st.from_regex(LIST_CURSOR_PATTERN, fullmatch=True))
def test_every_string_of_the_list_pattern_is_a_position(cursor: str) -> None:
    assert 0 <= decode_list_cursor(cursor) <= MAX_WEBSERVER_ID


@given(st.from_regex(HISTORY_CURSOR_PATTERN, fullmatch=True))
def test_every_string_of_the_history_pattern_is_a_position_in_utc(cursor: str) -> None:
    position = decode_history_cursor(cursor)
    assert position.started_at.utcoffset() == timedelta(0)
    assert 0 <= position.probe_id <= MAX_PROBE_ID


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not base64!",
        "é",
        "a",
        "-1",
        "1.5",
        "5\n",
        "٣",  # a digit, but not an ASCII one
        "12345678901",
        b64('{"after": 5}'),
        b64('{"started_at": "2026-01-01T00:00:00Z", "id": 1}'),
        "A" * 201,
    ],
)
def test_bad_list_cursors_are_invalid(cursor: str) -> None:
    assert re.fullmatch(LIST_CURSOR_PATTERN, cursor) is None
    with pytest.raises(InvalidCursor) as caught:
        decode_list_cursor(cursor)
    assert caught.value.field == "cursor"


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "5",
        "1.",
        ".1",
        "1.-1",
        "1.2.3",
        "+1.2",
        "1.2\n",
        "1234567890123456789.1",
        b64('{"after": 5}'),
        # The old form, which could hold an offset near year 1 (issue 10, item 3).
        b64('{"started_at": "0001-01-01T00:00:00+01:00", "id": 1}'),
    ],
)
def test_bad_history_cursors_are_invalid(cursor: str) -> None:
    assert re.fullmatch(HISTORY_CURSOR_PATTERN, cursor) is None
    with pytest.raises(InvalidCursor):
        decode_history_cursor(cursor)


# Positions at and beyond the ends of time and of the id ranges: a page, never a 500.
EXTREME_HISTORY_CURSORS = [
    "-62135596800000000.1",  # 0001-01-01T00:00:00Z
    "253402300799999999.9223372036854775807",  # 9999-12-31T23:59:59.999999Z, the largest probe id
    "-999999999999999999.1",
    "999999999999999999.9999999999999999999",
    "0.0",
]
EXTREME_TIMES = [
    {"since": "0001-01-01T00:00:00Z"},
    {"until": "9999-12-31T23:59:59.999999Z"},
    {"since": "0002-01-01T00:00:00+23:59", "until": "9998-12-31T23:59:59-23:59"},
]
# Times with no UTC equivalent (or too near one): 422 (issue 10, item 3).
UNREPRESENTABLE_TIMES = [
    {"since": "0001-01-01T00:00:00+01:00"},
    {"until": "9999-12-31T23:59:59-01:00"},
]


def test_extreme_positions_and_times_page_on_every_backend(
    make_client: ClientFactory, make_container: Callable[..., Container], uow_factory: UowFactory
) -> None:
    container = make_container()
    container.uow.override(providers.Factory(uow_factory))
    client = make_client(container)
    server = container.register_webserver().execute(settings(1))
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    container.record_probe_results().execute([succeeded(server.id, moment)])
    path = f"/webservers/{server.id}/requests"
    for cursor in EXTREME_HISTORY_CURSORS:
        response = client.get(path, params={"cursor": cursor})
        assert response.status_code == 200, (cursor, response.text)
    for params in EXTREME_TIMES:
        response = client.get(path, params=params)
        assert response.status_code == 200, (params, response.text)
        assert len(response.json()["items"]) == 1
    for params in UNREPRESENTABLE_TIMES:
        assert_problem(client.get(path, params=params), 422, "invalid-field", fields=set(params))
    for cursor in ("0", "9999999999"):
        assert client.get("/webservers", params={"cursor": cursor}).status_code == 200
