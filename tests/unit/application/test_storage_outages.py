"""An outage of the store, as the API meets it, is logged in two lines: when it starts and when it ends."""

from __future__ import annotations

import logging

import pytest

from healthmon.application.errors import StorageUnavailable
from healthmon.application.storage_outages import OutageLog


def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outages = OutageLog()
    with caplog.at_level(logging.INFO, logger="healthmon"):
        outages.answered()
        for _ in range(5):
            outages.refuse(StorageUnavailable("connection refused"))
        assert outages.refused == 5
        outages.answered()
        outages.answered()
    assert len(caplog.messages) == 2
    started, ended = caplog.messages
    assert "The database is unavailable: connection refused" in started
    assert "5 requests were refused" in ended
    assert outages.refused == 0


def test_a_second_outage_is_logged_again(caplog: pytest.LogCaptureFixture) -> None:
    outages = OutageLog()
    with caplog.at_level(logging.INFO, logger="healthmon"):
        for _ in range(2):
            outages.refuse(StorageUnavailable("connection refused"))
            outages.answered()
    assert len(caplog.messages) == 4
    assert sum("1 requests were refused" in message for message in caplog.messages) == 2
