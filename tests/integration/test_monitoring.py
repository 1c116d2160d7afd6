"""The monitoring loop with the in-memory store and a scripted prober, on a real event loop."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

import pytest

from healthmon.adapters.memory import InMemoryStore, InMemoryUnitOfWork
from healthmon.adapters.memory_metrics import InMemoryMetrics
from healthmon.application.errors import StorageUnavailable
from healthmon.application.monitoring.monitor import MonitorWebservers
from healthmon.application.monitoring.settings import MonitorSettings
from healthmon.application.ports import Prober, UnitOfWork
from healthmon.application.use_cases.history import ListProbeHistory
from healthmon.application.use_cases.recording import RecordProbeResults
from healthmon.application.use_cases.webservers import (
    GetWebserver,
    RegisterWebserver,
    RemoveWebserver,
    UpdateWebserver,
)
from healthmon.domain.health import HealthState
from healthmon.domain.probe import ErrorKind, ProbeResult, RecordedProbe
from healthmon.domain.webserver import Webserver, WebserverChanges, WebserverId
from tests.factories import settings, succeeded
from tests.fakes import FakeClock, FakeProber
from tests.integration.history_checks import shortest_gap
from tests.monitor_counts import MonitorCounts
from tests.waiting import eventually

FAST = MonitorSettings(
    refresh_seconds=0.1,
    flush_seconds=0.05,
    summary_seconds=3600,
    shutdown_grace_seconds=0.5,
    retry_initial_seconds=0.05,
    retry_max_seconds=0.1,
)


class SwitchableUnitOfWork(InMemoryUnitOfWork):
    """The in-memory store behind a switch that makes it unreachable, as a database outage would.

    `is_stalled`: while true, entering waits (a database that hangs rather than refuses).
    """

    def __init__(
        self,
        store: InMemoryStore,
        is_down: Callable[[], bool],
        is_stalled: Callable[[], bool] = lambda: False,
    ) -> None:
        super().__init__(store)
        self._is_down = is_down
        self._is_stalled = is_stalled

    def __enter__(self) -> Self:
        while self._is_stalled():
            time.sleep(0.01)
        if self._is_down():
            raise StorageUnavailable("connection refused (test outage)")
        return super().__enter__()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        super().__exit__(exc_type, exc, traceback)


class GatedProber(Prober):
    """Holds every probe until the gate opens, and notes each URL probed after it was given up."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.calls: Counter[str] = Counter()
        self.held = 0
        self.given_up: set[str] = set()
        self.late: list[str] = []

    async def probe(self, webserver: Webserver) -> ProbeResult:
        url = webserver.settings.url
        self.calls[url] += 1
        if url in self.given_up:
            self.late.append(url)
        started_at = datetime.now(UTC)
        self.held += 1
        try:
            await self.gate.wait()
        finally:
            self.held -= 1
        return succeeded(webserver.id, started_at)


class Harness:
    def __init__(self) -> None:
        self.store = InMemoryStore()
        self.down = False
        self.prober = FakeProber()

        self.stalled = False
        self.worker_ids: list[str] = []

    def uow(self, is_down: Callable[[], bool] | None = None) -> UnitOfWork:
        return SwitchableUnitOfWork(self.store, is_down or (lambda: self.down), lambda: self.stalled)

    def register(self, n: int, **overrides: object) -> Webserver:
        return RegisterWebserver(InMemoryUnitOfWork(self.store), FakeClock()).execute(
            settings(n, **overrides)
        )

    def remove(self, webserver_id: WebserverId) -> None:
        RemoveWebserver(InMemoryUnitOfWork(self.store)).execute(webserver_id)

    def history(self, webserver_id: WebserverId) -> list[RecordedProbe]:
        return ListProbeHistory(InMemoryUnitOfWork(self.store)).execute(webserver_id, limit=1000).items

    def state(self, webserver_id: WebserverId) -> HealthState:
        return GetWebserver(InMemoryUnitOfWork(self.store), FakeClock()).execute(webserver_id).webserver.state

    @asynccontextmanager
    async def running(
        self,
        monitor_settings: MonitorSettings = FAST,
        prober: Prober | None = None,
        *,
        is_down: Callable[[], bool] | None = None,
    ) -> AsyncIterator[MonitorCounts]:
        """Run one worker; `is_down` (default: the harness's switch) says when its store is out of reach."""
        metrics = InMemoryMetrics()
        monitor = MonitorWebservers(
            self.uow(is_down),
            self.prober if prober is None else prober,
            RecordProbeResults(self.uow(is_down)),
            monitor_settings,
            metrics=metrics,
        )
        self.worker_ids.append(monitor.worker.id)
        stop = asyncio.Event()
        task = asyncio.create_task(monitor.run(stop))
        try:
            yield MonitorCounts(metrics)
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=10)


@pytest.fixture
def harness() -> Harness:
    return Harness()


async def test_becomes_healthy_after_its_fifth_success_seen_in_the_history(harness: Harness) -> None:
    good = harness.register(1, interval_seconds=1)
    bad = harness.register(2, interval_seconds=1)
    harness.prober.behaviour[bad.settings.url] = "fail"
    async with harness.running():
        await eventually(lambda: len(harness.history(good.id)) >= 5, within=8, what="five probes")
        await eventually(lambda: len(harness.history(bad.id)) >= 3, within=8, what="three probes")
    good_history = harness.history(good.id)[::-1]
    assert all(probe.result.success for probe in good_history)
    assert harness.state(good.id) is HealthState.HEALTHY
    assert harness.state(bad.id) is HealthState.UNHEALTHY
    # Probes of one server are an interval apart: the grid holds.
    starts = [probe.result.started_at for probe in good_history]
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(starts)]
    assert all(0.8 <= gap <= 1.3 for gap in gaps), gaps


async def test_a_hung_target_does_not_delay_its_neighbours(harness: Harness) -> None:
    hung = harness.register(1, interval_seconds=1, timeout_seconds=60)
    neighbour = harness.register(2, interval_seconds=1)
    harness.prober.behaviour[hung.settings.url] = "hang"
    async with harness.running() as stats:
        await eventually(lambda: len(harness.history(neighbour.id)) >= 4, within=8, what="neighbour probes")
        assert harness.prober.calls[hung.settings.url] == 1
    assert harness.history(hung.id) == []
    assert stats.probes_abandoned == 1


async def test_a_removed_server_stops_being_probed(harness: Harness) -> None:
    doomed = harness.register(1, interval_seconds=1)
    other = harness.register(2, interval_seconds=1)
    async with harness.running() as stats:
        await eventually(lambda: harness.prober.calls[doomed.settings.url] >= 1, what="a first probe")
        RemoveWebserver(InMemoryUnitOfWork(harness.store)).execute(doomed.id)
        # Once the schedule has forgotten it (one refresh), its count must stay put.
        await eventually(lambda: stats.servers == 1, what="the removal to be picked up")
        frozen = harness.prober.calls[doomed.settings.url]
        baseline = harness.prober.calls[other.settings.url]
        await eventually(
            lambda: harness.prober.calls[other.settings.url] >= baseline + 2,
            within=5,
            what="two more probes",
        )
        assert harness.prober.calls[doomed.settings.url] == frozen


async def test_a_new_server_is_picked_up_while_running(harness: Harness) -> None:
    async with harness.running():
        late = harness.register(1, interval_seconds=1)
        await eventually(lambda: len(harness.history(late.id)) >= 1, within=3, what="the first probe")


async def test_a_database_outage_loses_no_result(harness: Harness) -> None:
    servers = [harness.register(n, interval_seconds=1) for n in range(1, 4)]
    async with harness.running() as stats:
        await eventually(lambda: stats.results_stored >= 3, what="first results stored")
        harness.down = True
        await eventually(lambda: not stats.storage_available, what="the outage to be noticed")
        taken = stats.probes_finished
        await eventually(
            lambda: stats.probes_finished >= taken + 6, within=8, what="probes during the outage"
        )
        harness.down = False
        await eventually(lambda: stats.storage_available, what="recovery")
    stored = sum(len(harness.history(server.id)) for server in servers)
    assert stored == stats.probes_finished == stats.results_stored
    for server in servers:
        starts = [probe.result.started_at for probe in harness.history(server.id)]
        assert starts == sorted(starts, reverse=True)
        assert harness.state(server.id) is not HealthState.UNHEALTHY


async def test_past_the_buffer_bound_the_oldest_results_are_dropped_and_logged(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    harness.register(1, interval_seconds=1)
    harness.register(2, interval_seconds=1)
    small = dataclasses.replace(FAST, shutdown_grace_seconds=0.2, buffer_limit=2)
    with caplog.at_level(logging.WARNING, logger="healthmon"):
        async with harness.running(small) as stats:
            await eventually(lambda: stats.servers == 2, what="the servers to be loaded")
            harness.down = True
            await eventually(lambda: stats.probes_finished >= 5, within=8, what="five probes")
    assert stats.results_dropped >= 1
    assert any("dropped the" in message for message in caplog.messages)


async def test_a_prober_that_raises_still_ends_each_probe_as_a_stored_failure(harness: Harness) -> None:
    broken = harness.register(1, interval_seconds=1)
    fine = harness.register(2, interval_seconds=1)
    harness.prober.behaviour[broken.settings.url] = "boom"
    async with harness.running():
        await eventually(lambda: len(harness.history(broken.id)) >= 2, within=5, what="broken probes stored")
        await eventually(lambda: len(harness.history(fine.id)) >= 2, within=5, what="fine probes")
    failures = harness.history(broken.id)
    assert all(not probe.result.success for probe in failures)
    assert {probe.result.error_kind for probe in failures} == {ErrorKind.CONNECTION_ERROR}


async def test_stopping_flushes_every_result_that_was_measured(harness: Harness) -> None:
    servers = [harness.register(n, interval_seconds=1) for n in range(1, 6)]
    slow_flush = dataclasses.replace(FAST, flush_seconds=30)
    async with harness.running(slow_flush) as stats:
        await eventually(lambda: stats.probes_finished >= 5, within=5, what="five probes")
    assert stats.results_stored == stats.probes_finished
    assert sum(len(harness.history(server.id)) for server in servers) == stats.probes_finished


SHORT_LEASE = dataclasses.replace(FAST, lease_seconds=0.6)


async def test_two_workers_share_the_servers_and_never_probe_one_twice(harness: Harness) -> None:
    servers = [harness.register(n, interval_seconds=1) for n in range(1, 11)]
    async with harness.running(SHORT_LEASE) as first, harness.running(SHORT_LEASE) as second:
        await eventually(
            lambda: first.servers == second.servers == 5, within=5, what="an even split of ten servers"
        )
        await eventually(
            lambda: all(len(harness.history(server.id)) >= 3 for server in servers),
            within=8,
            what="three probes of every server",
        )
        assert sorted(Counter(harness.store.owners.values()).values()) == [5, 5]
    for server in servers:
        starts = [probe.result.started_at for probe in harness.history(server.id)[::-1]]
        gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(starts)]
        assert all(gap >= 0.8 for gap in gaps), (server.id, gaps)


async def test_a_worker_cut_off_from_the_store_keeps_probing_past_its_lease_and_loses_nothing(
    harness: Harness,
) -> None:
    servers = [harness.register(n, interval_seconds=1) for n in range(1, 3)]
    async with harness.running(SHORT_LEASE) as stats:
        await eventually(lambda: stats.results_stored >= 2, what="first results stored")
        harness.down = True
        # Well past the 0.6 s lease: nobody took the servers (nobody reached the store), so probing goes on.
        taken = stats.probes_finished
        await eventually(
            lambda: stats.probes_finished >= taken + 6, within=8, what="probes during the outage"
        )
        harness.down = False
        await eventually(lambda: stats.storage_available, what="recovery")
    assert stats.results_stored == stats.probes_finished
    assert stats.results_fenced == 0
    for server in servers:
        starts = [probe.result.started_at for probe in harness.history(server.id)[::-1]]
        gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(starts)]
        assert all(0.8 <= gap <= 1.5 for gap in gaps), (server.id, gaps)


async def test_two_workers_through_an_outage_keep_their_servers_and_lose_nothing(harness: Harness) -> None:
    servers = [harness.register(n, interval_seconds=1) for n in range(1, 11)]
    async with harness.running(SHORT_LEASE) as first, harness.running(SHORT_LEASE) as second:
        await eventually(lambda: first.servers == second.servers == 5, within=5, what="an even split")
        harness.down = True
        taken = first.probes_finished + second.probes_finished
        # Many leases long: both go on probing, and each finds the other's heartbeat expired when
        # the store is back; neither takes the other's servers before the other could beat again.
        await eventually(
            lambda: first.probes_finished + second.probes_finished >= taken + 20,
            within=8,
            what="probes during the outage",
        )
        harness.down = False
        await eventually(
            lambda: first.storage_available and second.storage_available, within=5, what="recovery"
        )
    assert first.results_fenced == second.results_fenced == 0
    stored = sum(len(harness.history(server.id)) for server in servers)
    assert stored == first.probes_finished + second.probes_finished


async def test_a_store_that_hangs_past_the_lease_counts_as_out_and_probing_goes_on(harness: Harness) -> None:
    harness.register(1, interval_seconds=1)
    harness.register(2, interval_seconds=1)
    async with harness.running(SHORT_LEASE) as stats:
        await eventually(lambda: stats.results_stored >= 2, what="first results stored")
        harness.stalled = True
        taken = stats.probes_finished
        try:
            # Every round and every write now waits, far past the 0.6 s lease.
            await eventually(
                lambda: stats.probes_finished >= taken + 6, within=8, what="probes while it hangs"
            )
        finally:
            harness.stalled = False  # else the stalled threads would never let the monitor stop
        await eventually(lambda: stats.results_stored == stats.probes_finished, within=5, what="all stored")
    assert stats.results_fenced == 0


class NotingProber(Prober):
    """A FakeProber that notes every result it returns."""

    def __init__(self) -> None:
        self._inner = FakeProber()
        self.results: list[ProbeResult] = []

    async def probe(self, webserver: Webserver) -> ProbeResult:
        result = await self._inner.probe(webserver)
        self.results.append(result)
        return result


async def test_a_partitioned_worker_s_results_after_the_takeover_are_never_recorded(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    servers = [harness.register(n, interval_seconds=1) for n in range(1, 5)]
    cut_off = NotingProber()
    with caplog.at_level(logging.WARNING, logger="healthmon"):
        async with harness.running(SHORT_LEASE, cut_off, is_down=lambda: harness.down) as a_stats:
            await eventually(lambda: a_stats.servers == 4, what="the first worker to hold every server")
            harness.down = True
            async with harness.running(SHORT_LEASE, is_down=lambda: False):
                # Once the first worker's lease expires the second one takes every server over.
                await eventually(
                    lambda: set(harness.store.owners.values()) == {harness.worker_ids[-1]},
                    within=5,
                    what="the takeover",
                )
                taken_over = datetime.now(UTC)
                probed = len(cut_off.results)
                await eventually(
                    lambda: len(cut_off.results) >= probed + 8,
                    within=8,
                    what="the cut-off worker to go on probing",
                )
                restored = datetime.now(UTC)
                harness.down = False
                await eventually(lambda: a_stats.results_fenced >= 8, within=5, what="its results fenced off")
                await eventually(lambda: a_stats.servers >= 1, within=5, what="the first worker to rejoin")
    recorded = {
        (probe.result.webserver_id, probe.result.started_at)
        for s in servers
        for probe in harness.history(s.id)
    }
    late = [
        r
        for r in cut_off.results
        # Once back, it takes some servers over again (under new epochs): those results count.
        if taken_over < r.started_at < restored and (r.webserver_id, r.started_at) in recorded
    ]
    assert late == []
    for server in servers:
        history = harness.history(server.id)[::-1]
        starts = [probe.result.started_at for probe in history]
        gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(starts)]
        assert all(gap >= shortest_gap(1) for gap in gaps), (server.id, gaps)
        health = harness.store.webservers[server.id].health
        assert (health.consecutive_successes, health.consecutive_failures) == (len(history), 0)
    assert sum("another worker has taken over" in message for message in caplog.messages) >= 1


async def test_stopping_hands_every_lease_back(harness: Harness) -> None:
    harness.register(1, interval_seconds=1)
    async with harness.running() as stats:
        await eventually(lambda: stats.servers == 1, what="the server to be claimed")
        assert len(harness.store.owners) == 1
        assert len(harness.store.workers) == 1
    assert harness.store.owners == {}
    assert harness.store.workers == {}


async def test_the_only_worker_the_store_allows_keeps_probing_through_an_outage(harness: Harness) -> None:
    harness.register(1, interval_seconds=1)
    harness.register(2, interval_seconds=1)
    alone = dataclasses.replace(SHORT_LEASE, exclusive=True)
    async with harness.running(alone) as stats:
        await eventually(lambda: stats.results_stored >= 2, what="first results stored")
        harness.down = True
        taken = stats.probes_finished
        # Well past the 0.6 s lease: no other worker can exist, so probing goes on.
        await eventually(
            lambda: stats.probes_finished >= taken + 6, within=8, what="probes during the outage"
        )
        harness.down = False
        await eventually(lambda: stats.storage_available, what="recovery")
    assert stats.results_stored == stats.probes_finished


async def probes_held_behind_a_limit_are_not_started_once_their_servers_are_removed(
    harness: Harness, limits: MonitorSettings, urls: Callable[[int], str], *, skipped: int
) -> None:
    prober = GatedProber()
    servers = [harness.register(n, url=urls(n), interval_seconds=1) for n in range(1, 13)]
    async with harness.running(limits, prober) as counts:
        # Two probes run (held by the gate), the ten others are due and wait for their turn.
        await eventually(lambda: prober.held == 2 and counts.probes_waiting == 10, what="ten waiting probes")
        waiting = [server for server in servers if prober.calls[server.settings.url] == 0]
        assert len(waiting) == 10
        for server in waiting:
            harness.remove(server.id)
        await eventually(lambda: counts.servers == 2, what="the removals to be picked up")
        prober.given_up = {server.settings.url for server in waiting}
        prober.gate.set()
        running = [server for server in servers if server not in waiting]
        await eventually(
            lambda: all(prober.calls[server.settings.url] >= 3 for server in running),
            within=8,
            what="two more probes of the servers kept",
        )
    assert prober.late == []
    assert counts.probes_skipped == skipped


async def test_servers_removed_while_their_probes_wait_for_a_per_host_slot_are_not_probed(
    harness: Harness,
) -> None:
    limits = dataclasses.replace(FAST, max_probes_per_host=2)
    await probes_held_behind_a_limit_are_not_started_once_their_servers_are_removed(
        harness, limits, lambda n: f"http://one-host.test:8080/server/{n}", skipped=10
    )


async def test_servers_removed_while_their_probes_wait_for_a_global_slot_are_not_probed(
    harness: Harness,
) -> None:
    limits = dataclasses.replace(FAST, max_concurrent_probes=2)
    # Due servers beyond the free slots stay in the schedule: removed there, nothing is left to skip.
    await probes_held_behind_a_limit_are_not_started_once_their_servers_are_removed(
        harness, limits, lambda n: f"http://server-{n}.test/health", skipped=0
    )


async def test_a_server_reconfigured_while_its_probe_waits_is_probed_with_its_new_settings(
    harness: Harness,
) -> None:
    prober = GatedProber()
    one_host = "http://one-host.test/server"
    servers = [harness.register(n, url=f"{one_host}/{n}", interval_seconds=1) for n in range(1, 5)]
    async with harness.running(dataclasses.replace(FAST, max_probes_per_host=1), prober) as counts:
        await eventually(lambda: prober.held == 1 and counts.probes_waiting == 3, what="three waiting probes")
        first, changed, removed = (
            next(server for server in servers if prober.calls[server.settings.url] == 1),
            *[server for server in servers if prober.calls[server.settings.url] == 0][:2],
        )
        UpdateWebserver(InMemoryUnitOfWork(harness.store), FakeClock()).execute(
            changed.id, WebserverChanges(url=f"{one_host}/moved")
        )
        harness.remove(removed.id)
        # One round reads both changes: once the removal shows, the move is known too.
        await eventually(lambda: counts.servers == 3, what="the changes to be picked up")
        prober.given_up = {changed.settings.url, removed.settings.url}
        prober.gate.set()
        await eventually(
            lambda: prober.calls[f"{one_host}/moved"] >= 1, within=5, what="the moved server probed"
        )
        await eventually(lambda: prober.calls[first.settings.url] >= 2, within=5, what="the next probe")
    assert prober.late == []
    assert harness.history(changed.id)
