"""What a stored history must look like after workers came and went: one probe per slot, health its replay."""

from __future__ import annotations

import itertools

from healthmon.application.ports import UnitOfWork
from healthmon.domain.webserver import Webserver


def shortest_gap(interval_seconds: float) -> float:
    """The closest two probes of one server may be: half its interval.

    Probes keep to a fixed grid, so one that starts late (lag on a busy machine) is followed by
    one less than an interval after it; a second probe within a slot, whenever it comes, splits
    an interval in two, one part no longer than half of it. Half an interval therefore catches
    every duplicate and forgives lag up to half an interval.
    """
    return interval_seconds / 2


def trailing_streaks(outcomes: list[bool]) -> tuple[int, int]:
    """(successes, failures) in a row at the end of the outcomes, as the health counters must be."""
    last, run = outcomes[-1], 0
    for ok in reversed(outcomes):
        if ok != last:
            break
        run += 1
    return (run, 0) if last else (0, run)


def assert_history_is_the_truth(uow: UnitOfWork, servers: list[Webserver]) -> int:
    """Each server's history: one probe per interval, none over a newer one, health its replay.

    Returns how many probes are stored in all.
    """
    total = 0
    with uow:
        for server in servers:
            stored = uow.webservers.get(server.id)
            assert stored is not None
            history = [probe.result for probe in uow.probe_results.history(server.id, limit=10_000)][::-1]
            assert history, server.id
            total += len(history)
            starts = [result.started_at for result in history]
            gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(starts)]
            # Strictly increasing, one probe per slot: no stale probe over a newer one, no slot twice.
            assert min(gaps, default=99.0) >= shortest_gap(server.settings.interval_seconds), (
                server.id,
                gaps,
            )
            health = stored.health
            expected = trailing_streaks([result.success for result in history])
            assert (health.consecutive_successes, health.consecutive_failures) == expected, server.id
            assert stored.last_checked_at == starts[-1]
    return total
