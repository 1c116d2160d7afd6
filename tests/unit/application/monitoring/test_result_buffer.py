"""The result buffer keeps order, survives failed writes and drops the oldest past its bound."""

from __future__ import annotations

from datetime import timedelta

import pytest

from healthmon.application.monitoring.result_buffer import ResultBuffer
from healthmon.domain.probe import ProbeResult
from healthmon.domain.webserver import WebserverId
from tests.factories import succeeded
from tests.fakes import EPOCH


def result(n: int) -> ProbeResult:
    return succeeded(WebserverId(1), EPOCH + timedelta(seconds=n))


def test_peek_does_not_remove_until_discarded() -> None:
    buffer = ResultBuffer(limit=10)
    for n in range(3):
        buffer.put(result(n), epoch=1)
    head = buffer.peek(2)
    assert [entry.result for entry in head] == [result(0), result(1)]
    assert len(buffer) == 3
    buffer.discard_through(head[-1].mark)
    assert [entry.result for entry in buffer.peek(10)] == [result(2)]


def test_past_the_limit_the_oldest_are_dropped_and_counted() -> None:
    buffer = ResultBuffer(limit=3)
    for n in range(5):
        buffer.put(result(n), epoch=1)
    assert [entry.result for entry in buffer.peek(10)] == [result(2), result(3), result(4)]
    assert buffer.dropped == 2


def test_discarding_a_batch_whose_head_was_dropped_keeps_newer_results() -> None:
    buffer = ResultBuffer(limit=2)
    buffer.put(result(0), epoch=1)
    buffer.put(result(1), epoch=1)
    in_flight = buffer.peek(2)
    buffer.put(result(2), epoch=1)  # drops result 0 while the batch is being written
    buffer.discard_through(in_flight[-1].mark)
    assert [entry.result for entry in buffer.peek(10)] == [result(2)]


def test_a_buffer_must_hold_something() -> None:
    with pytest.raises(ValueError, match="at least one"):
        ResultBuffer(limit=0)


def test_each_result_keeps_the_lease_epoch_it_was_taken_under() -> None:
    buffer = ResultBuffer(limit=10)
    buffer.put(result(0), epoch=3)
    buffer.put(result(1), epoch=4)
    assert [(entry.result, entry.epoch) for entry in buffer.peek(10)] == [(result(0), 3), (result(1), 4)]
