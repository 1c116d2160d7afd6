"""A mergeable latency histogram with log-scale buckets (DDSketch-style): percentiles within 1 %.

Latencies are counted in buckets whose edges grow by GAMMA = (1 + a) / (1 - a) with a = 0.01, so
any value in a bucket is within 1 % of the bucket's representative. Two sketches merge by adding
their counts, so the percentiles of any window come from the sketches of its hours and days with
the same error bound as from the raw probes. The maximum is kept exactly.

Latencies are counted in whole microseconds, as stored: a latency under 1 µs counts as 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

# The largest relative error of any percentile read from a sketch.
RELATIVE_ACCURACY: Final = 0.01
GAMMA: Final = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
_LOG_GAMMA: Final = math.log(GAMMA)
# Bucket 0 holds latencies under one microsecond (zero); bucket k >= 1 holds microseconds in
# (GAMMA**(k-2), GAMMA**(k-1)].
ZERO_BUCKET: Final = 0
_MICROSECONDS_PER_MS: Final = 1000.0


def bucket_of(latency_ms: float) -> int:
    """The bucket a latency falls in."""
    micros = latency_ms * _MICROSECONDS_PER_MS
    if micros < 1:
        return ZERO_BUCKET
    return math.ceil(math.log(micros) / _LOG_GAMMA) + 1


def representative_ms(bucket: int) -> float:
    """The value that stands for every latency of a bucket: within RELATIVE_ACCURACY of each."""
    if bucket <= ZERO_BUCKET:
        return 0.0
    return 2 * GAMMA ** (bucket - 1) / (GAMMA + 1) / _MICROSECONDS_PER_MS


def nearest_rank(quantile: float, count: int) -> int:
    """The 1-based rank of a quantile among `count` sorted values (the nearest-rank method)."""
    return max(1, math.ceil(quantile * count - 1e-9))


@dataclass(slots=True)
class LatencySketch:
    """Counts of latencies per bucket and their exact maximum; a running total, changed in place."""

    counts: dict[int, int] = field(default_factory=dict)
    max_ms: float | None = None

    @classmethod
    def of(cls, latencies_ms: Iterable[float]) -> LatencySketch:
        """The sketch of these latencies."""
        sketch = cls()
        for latency in latencies_ms:
            sketch.add(latency)
        return sketch

    @property
    def count(self) -> int:
        """How many latencies were counted."""
        return sum(self.counts.values())

    def add(self, latency_ms: float, times: int = 1) -> None:
        """Count one latency (or `times` equal ones)."""
        bucket = bucket_of(latency_ms)
        self.counts[bucket] = self.counts.get(bucket, 0) + times
        if self.max_ms is None or latency_ms > self.max_ms:
            self.max_ms = latency_ms

    def absorb(self, other: LatencySketch) -> None:
        """Add another sketch's counts to this one (merging is adding)."""
        self.absorb_counts(other.counts, other.max_ms)

    def absorb_counts(self, counts: Mapping[int, int], max_ms: float | None) -> None:
        """Add counts per bucket and a maximum, as read from storage."""
        mine = self.counts
        for bucket, times in counts.items():
            mine[bucket] = mine.get(bucket, 0) + times
        if max_ms is not None and (self.max_ms is None or max_ms > self.max_ms):
            self.max_ms = max_ms

    def quantiles(self, *quantiles: float) -> tuple[float, ...] | None:
        """The latencies at these quantiles (nearest rank, within 1 %, at most the max); None if empty."""
        total = self.count
        if total == 0 or self.max_ms is None:
            return None
        ranks = [nearest_rank(quantile, total) for quantile in quantiles]
        found: dict[int, float] = {}
        seen = 0
        pending = sorted(set(ranks))
        for bucket in sorted(self.counts):
            seen += self.counts[bucket]
            while pending and pending[0] <= seen:
                found[pending.pop(0)] = min(representative_ms(bucket), self.max_ms)
            if not pending:
                break
        return tuple(found[rank] for rank in ranks)

    def copy(self) -> LatencySketch:
        """An independent copy."""
        return LatencySketch(dict(self.counts), self.max_ms)


__all__ = [
    "GAMMA",
    "RELATIVE_ACCURACY",
    "ZERO_BUCKET",
    "LatencySketch",
    "bucket_of",
    "nearest_rank",
    "representative_ms",
]
