"""How a healthmon process sets up Python's garbage collector once it has started."""

from __future__ import annotations

import gc

# A collection of the youngest generation walks every tracked object allocated since the last one
# and still alive: in a worker, mostly the probes in flight (hundreds of objects each, up to
# max_concurrent_probes at once). At the default threshold (700 net allocations) that walk ran every
# few probes and took 14 % of a core at 3,000 probes/s offered (benchmarks/worker_benchmark.py).
# A probe frees what it allocates by reference counting; only the rare reference cycle needs the
# collector, and once per 50,000 net allocations finds it soon enough (a few MB at most).
YOUNG_GENERATION_THRESHOLD = 50_000


def settle_collector() -> None:
    """Freeze what start-up loaded (it lives as long as the process) and collect the young rarely."""
    # Frozen objects are never scanned again: full collections otherwise walk every module,
    # setting and mapped table each time.
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, middle, oldest)
