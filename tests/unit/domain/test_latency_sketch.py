"""The latency sketch: every percentile within 1 % of the exact one, merging is adding, max exact."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from healthmon.domain.latency_sketch import (
    RELATIVE_ACCURACY,
    ZERO_BUCKET,
    LatencySketch,
    bucket_of,
    nearest_rank,
    representative_ms,
)

latencies = st.lists(st.integers(0, 60_000_000).map(lambda micros: micros / 1000), min_size=1, max_size=200)


@given(latency=st.integers(1, 600_000_000).map(lambda micros: micros / 1000))
def test_a_bucket_stands_for_its_latencies_within_one_percent(latency: float) -> None:
    assert representative_ms(bucket_of(latency)) == pytest.approx(latency, rel=RELATIVE_ACCURACY * 1.0001)


def test_latencies_under_a_microsecond_count_as_zero() -> None:
    assert bucket_of(0.0) == bucket_of(0.0004) == ZERO_BUCKET
    assert representative_ms(ZERO_BUCKET) == 0.0
    assert bucket_of(0.001) > ZERO_BUCKET


@given(values=latencies, quantile=st.sampled_from([0.0, 0.01, 0.5, 0.95, 0.99, 1.0]))
def test_quantiles_are_within_one_percent_of_the_nearest_rank(values: list[float], quantile: float) -> None:
    ordered = sorted(values)
    truth = ordered[nearest_rank(quantile, len(ordered)) - 1]
    quantiles = LatencySketch.of(values).quantiles(quantile)
    assert quantiles is not None
    assert quantiles[0] == pytest.approx(truth, rel=RELATIVE_ACCURACY * 1.0001)
    assert quantiles[0] <= ordered[-1]


@given(first=latencies, second=latencies)
def test_merging_two_sketches_is_the_sketch_of_both(first: list[float], second: list[float]) -> None:
    merged = LatencySketch.of(first)
    merged.absorb(LatencySketch.of(second))
    both = LatencySketch.of(first + second)
    assert (merged.counts, merged.max_ms, merged.count) == (
        both.counts,
        both.max_ms,
        len(first) + len(second),
    )


def test_an_empty_sketch_has_no_quantiles() -> None:
    assert LatencySketch().quantiles(0.5) is None


def test_the_maximum_is_exact() -> None:
    sketch = LatencySketch.of([1.0, 2.0, 123.456])
    assert sketch.max_ms == 123.456
    assert sketch.quantiles(1.0) == (123.456,)


def test_nearest_rank_of_exact_products_does_not_round_up() -> None:
    assert [nearest_rank(q, 100) for q in (0.5, 0.95, 0.99)] == [50, 95, 99]
    assert nearest_rank(0.0, 10) == 1
