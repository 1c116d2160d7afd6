"""Property: statistics merged from rollups and raw edges equal those computed exactly from the raw probes.

Counts, uptime and max are exact; percentiles are within the sketch's 1 %. Probes are written in two
batches with the rollup job run in between at a random time, so windows mix daily, hourly and raw
pieces, and the second batch lands late in hours already rolled up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from healthmon.adapters.memory import InMemoryStore, InMemoryUnitOfWork
from healthmon.application.use_cases.recording import RecordProbeResults
from healthmon.application.use_cases.rollups import RollUpHistory
from healthmon.application.use_cases.statistics import GetWebserverStats
from healthmon.domain.latency_sketch import RELATIVE_ACCURACY, nearest_rank
from healthmon.domain.probe import ErrorKind, ProbeResult
from healthmon.domain.rollups import Granularity, Span
from healthmon.domain.statistics import QUANTILES, WindowStats, bucket_spans
from healthmon.domain.webserver import WebserverId
from tests.factories import settings
from tests.fakes import FakeClock

MINUTE = timedelta(minutes=1)
# Sixteen days of probes from a Monday: windows hold whole weeks, days and hours.
START = datetime(2026, 1, 5, tzinfo=UTC)
SPAN_MINUTES = 16 * 24 * 60


@dataclass(frozen=True)
class Probe:
    minute: int
    success: bool
    responded: bool
    latency_us: int

    def result(self, webserver_id: WebserverId) -> ProbeResult:
        started_at = START + self.minute * MINUTE
        latency_ms = self.latency_us / 1000
        if not self.responded:
            return ProbeResult.failure(
                webserver_id,
                started_at=started_at,
                latency_ms=latency_ms,
                kind=ErrorKind.TIMEOUT,
                message="slow",
            )
        return ProbeResult(
            webserver_id=webserver_id,
            started_at=started_at,
            latency_ms=latency_ms,
            status_code=200 if self.success else 503,
            success=self.success,
        )


probe_lists = st.lists(
    st.builds(
        Probe,
        minute=st.integers(0, SPAN_MINUTES),
        success=st.booleans(),
        responded=st.booleans(),
        latency_us=st.one_of(st.just(0), st.integers(1, 60_000_000)),
    ),
    max_size=80,
    unique_by=lambda probe: probe.minute,
)
minutes = st.integers(-90, SPAN_MINUTES + 90)
# Often near the first week's ends, so that a week rolled up early meets late probes.
week_edges = st.one_of(st.integers(-90, 90), st.integers(7 * 24 * 60 - 90, 7 * 24 * 60 + 90), minutes)


def exact(probes: list[Probe], span: Span) -> tuple[int, int, list[float]]:
    inside = [p for p in probes if span.start <= START + p.minute * MINUTE < span.end]
    latencies = sorted(p.latency_us / 1000 for p in inside if p.responded)
    return len(inside), sum(p.success and p.responded for p in inside), latencies


def assert_matches(stats: WindowStats, probes: list[Probe], span: Span) -> None:
    count, successes, latencies = exact(probes, span)
    assert (stats.start, stats.end, stats.probes, stats.successes) == (span.start, span.end, count, successes)
    if not latencies:
        assert stats.latency is None
        return
    assert stats.latency is not None
    assert stats.latency.max == latencies[-1]
    for quantile, found in zip(
        QUANTILES, (stats.latency.p50, stats.latency.p95, stats.latency.p99), strict=True
    ):
        truth = latencies[nearest_rank(quantile, len(latencies)) - 1]
        assert found == pytest.approx(truth, rel=RELATIVE_ACCURACY * 1.001, abs=1e-9), quantile


@given(
    probes=probe_lists,
    split=st.integers(0, 80),
    job_minute=week_edges,
    start=week_edges,
    length=st.integers(1, SPAN_MINUTES),
    granularity=st.sampled_from(Granularity),
    per_run=st.sampled_from([1, 2, 500]),
)
def test_rolled_up_statistics_equal_the_exact_ones(
    *,
    probes: list[Probe],
    split: int,
    job_minute: int,
    start: int,
    length: int,
    granularity: Granularity,
    per_run: int,
) -> None:
    store = InMemoryStore()
    with InMemoryUnitOfWork(store) as uow:
        webserver = uow.webservers.add(settings(1), START - timedelta(days=1))
        uow.commit()
    ordered = sorted(probes, key=lambda probe: probe.minute)
    record = RecordProbeResults(InMemoryUnitOfWork(store))
    # A small share per run leaves hours rolled up whose days (or weeks) are not rebuilt yet.
    job = RollUpHistory(InMemoryUnitOfWork(store), max_per_run=per_run)
    record.execute([probe.result(webserver.id) for probe in ordered[:split]])
    job.run(START + job_minute * MINUTE)
    record.execute([probe.result(webserver.id) for probe in ordered[split:]])
    now = START + (SPAN_MINUTES + 120) * MINUTE
    window = Span(START + start * MINUTE, START + (start + length) * MINUTE)
    stats = GetWebserverStats(InMemoryUnitOfWork(store), FakeClock(now))
    # Once with the late probes not rolled up yet, once after the job has rolled them up too.
    for _ in range(2):
        found = stats.execute(webserver.id, start=window.start, end=window.end, granularity=granularity)
        assert_matches(found, ordered, window)
        if granularity is not Granularity.NONE:
            spans = bucket_spans(window, granularity)
            assert [(bucket.start, bucket.end) for bucket in found.buckets] == [
                (s.start, s.end) for s in spans
            ]
            for bucket, span in zip(found.buckets, spans, strict=True):
                assert_matches(bucket, ordered, span)
            assert sum(bucket.probes for bucket in found.buckets) == found.probes
        job.run(now)
