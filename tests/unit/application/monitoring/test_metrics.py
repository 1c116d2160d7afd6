"""A finished probe is counted by its result, by why it failed, and by how long it took."""

from __future__ import annotations

from healthmon.adapters.memory_metrics import InMemoryMetrics
from healthmon.application.monitoring.metrics import (
    PROBE_DURATION,
    PROBE_FAILURES,
    PROBES_FINISHED,
    count_probe,
    failure_reason,
)
from healthmon.domain.ids import WebserverId
from healthmon.domain.probe import ErrorKind, ProbeResult
from tests.factories import failed, succeeded
from tests.fakes import EPOCH

SERVER = WebserverId(1)


def test_failures_are_counted_by_reason_and_add_up_to_the_failed_probes() -> None:
    metrics = InMemoryMetrics()
    slow = ProbeResult.response(SERVER, started_at=EPOCH, latency_ms=2500, status_code=200, timeout_seconds=2)
    for result in (succeeded(SERVER, EPOCH, 40), failed(SERVER, EPOCH), failed(SERVER, EPOCH, None), slow):
        count_probe(metrics, result)
    assert metrics.value(PROBES_FINISHED, "success") == 1
    assert metrics.value(PROBES_FINISHED, "failure") == 3
    assert metrics.value(PROBE_FAILURES) == 3
    assert metrics.value(PROBE_FAILURES, "bad_status") == 1
    assert metrics.value(PROBE_FAILURES, "connection_refused") == 1
    assert metrics.value(PROBE_FAILURES, "too_slow") == 1
    figures = metrics.histogram(PROBE_DURATION)
    assert figures.count == 4
    assert figures.maximum == 2.5


def test_every_error_kind_is_a_reason_the_counter_takes() -> None:
    for kind in ErrorKind:
        result = ProbeResult.failure(SERVER, started_at=EPOCH, latency_ms=1, kind=kind, message="m")
        assert failure_reason(result) in PROBE_FAILURES.values
