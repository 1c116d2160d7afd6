"""A mergeable latency histogram with log-scale buckets (DDSketch-style): percentiles within 1 %.

Latencies are counted in buckets whose edges grow by GAMMA = (1 + a) / (1 - a) with a = 0.01, so
any value in a bucket is within 1 % of the bucket's representative. Two sketches merge by adding
their counts, so the percentiles of any window come from the sketches of its hours and days with
the same error bound as from the raw probes. The maximum is kept exactly.

Latencies are counted in whole microseconds, as stored: a latency under 1 µs counts as 0.

The counts live in one integer, COUNT_BITS bits per bucket (bucket k at bit k * COUNT_BITS): merging
a year of rollups is one integer addition per rollup, done in C, not a loop over buckets. No count
ever reaches 2**COUNT_BITS (a trillion probes), so no field carries into the next.
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
# Bits of the packed integer per bucket.
COUNT_BITS: Final = 40
_FIELD: Final = (1 << COUNT_BITS) - 1


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


def pack(counts: Mapping[int, int]) -> int:
    """Counts per bucket as one integer, COUNT_BITS bits per bucket."""
    return sum(times << (bucket * COUNT_BITS) for bucket, times in counts.items())


def unpack(packed: int) -> dict[int, int]:
    """The nonzero counts per bucket of a packed integer, in bucket order."""
    counts: dict[int, int] = {}
    if packed <= 0:
        return counts
    first = ((packed & -packed).bit_length() - 1) // COUNT_BITS
    rest = packed >> (first * COUNT_BITS)
    bucket = first
    while rest:
        times = rest & _FIELD
        if times:
            counts[bucket] = times
        rest >>= COUNT_BITS
        bucket += 1
    return counts


@dataclass(slots=True)
class LatencySketch:
    """Counts of latencies per bucket (packed) and their exact maximum; a running total, changed in place.

    Single latencies are counted in a dict first and packed when the sketch is read or merged.
    """

    packed_counts: int = 0
    max_ms: float | None = None
    # None until a single latency is added: most sketches are read from storage and only merged.
    _added: dict[int, int] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, latencies_ms: Iterable[float]) -> LatencySketch:
        """The sketch of these latencies."""
        sketch = cls()
        for latency in latencies_ms:
            sketch.add(latency)
        return sketch

    @classmethod
    def from_counts(cls, counts: Mapping[int, int], max_ms: float | None) -> LatencySketch:
        """The sketch with these counts per bucket and this maximum."""
        return cls(pack(counts), max_ms)

    @property
    def packed(self) -> int:
        """Every count, packed (see the module's docstring)."""
        if self._added:
            self.packed_counts += pack(self._added)
            self._added = None
        return self.packed_counts

    @property
    def counts(self) -> dict[int, int]:
        """The nonzero counts per bucket, in bucket order."""
        return unpack(self.packed)

    @property
    def count(self) -> int:
        """How many latencies were counted."""
        return sum(self.counts.values())

    def add(self, latency_ms: float, times: int = 1) -> None:
        """Count one latency (or `times` equal ones)."""
        bucket = bucket_of(latency_ms)
        if self._added is None:
            self._added = {}
        self._added[bucket] = self._added.get(bucket, 0) + times
        if self.max_ms is None or latency_ms > self.max_ms:
            self.max_ms = latency_ms

    def absorb(self, other: LatencySketch) -> None:
        """Add another sketch's counts to this one (merging is adding)."""
        self.packed_counts += other.packed
        if other.max_ms is not None and (self.max_ms is None or other.max_ms > self.max_ms):
            self.max_ms = other.max_ms

    def quantiles(self, *quantiles: float) -> tuple[float, ...] | None:
        """The latencies at these quantiles (nearest rank, within 1 %, at most the max); None if empty."""
        counts = self.counts
        total = sum(counts.values())
        if total == 0 or self.max_ms is None:
            return None
        ranks = [nearest_rank(quantile, total) for quantile in quantiles]
        found: dict[int, float] = {}
        seen = 0
        pending = sorted(set(ranks))
        for bucket, times in counts.items():
            seen += times
            while pending and pending[0] <= seen:
                found[pending.pop(0)] = min(representative_ms(bucket), self.max_ms)
            if not pending:
                break
        return tuple(found[rank] for rank in ranks)

    def copy(self) -> LatencySketch:
        """An independent copy."""
        return LatencySketch(self.packed, self.max_ms)


__all__ = [
    "COUNT_BITS",
    "GAMMA",
    "RELATIVE_ACCURACY",
    "ZERO_BUCKET",
    "LatencySketch",
    "bucket_of",
    "nearest_rank",
    "pack",
    "representative_ms",
    "unpack",
]
