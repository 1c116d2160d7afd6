"""The periodic job runner (jobs run in threads): one holder at a time, once a period, taken over."""

from __future__ import annotations

import asyncio
import functools
import threading
from datetime import timedelta

import pytest

from healthmon.adapters.memory import InMemoryJobLeases, InMemoryStore
from healthmon.application.errors import StorageUnavailable
from healthmon.application.jobs.runner import JobSettings, PeriodicJob, RunPeriodicJobs
from healthmon.application.ports import JobLeases
from tests.fakes import FakeClock
from tests.waiting import eventually

HOUR = timedelta(hours=1)
FAST = JobSettings(poll_seconds=0.01, lease_seconds=0.03)


class Counting:
    """A job body that counts its runs, optionally failing or waiting for a release."""

    def __init__(self, *, fail: bool = False) -> None:
        self.runs = 0
        self.fail = fail
        self.release: threading.Event | None = None

    def __call__(self) -> None:
        self.runs += 1
        if self.release is not None:
            assert self.release.wait(5), "the test never released the job"
        if self.fail:
            raise RuntimeError("job bug")


class UnavailableLeases(JobLeases):
    """A store that never answers."""

    def take(self, job: str, holder: str, *, period: timedelta, lease: timedelta) -> bool:
        raise StorageUnavailable("down")

    def renew(self, job: str, holder: str, lease: timedelta) -> bool:
        raise StorageUnavailable("down")

    def finish(self, job: str, holder: str) -> None:
        raise StorageUnavailable("down")


def runner(
    leases: JobLeases, worker: str, *jobs: PeriodicJob, settings: JobSettings = FAST
) -> RunPeriodicJobs:
    return RunPeriodicJobs(jobs, leases, worker, settings)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def leases(clock: FakeClock) -> InMemoryJobLeases:
    return InMemoryJobLeases(InMemoryStore(clock))


async def test_a_due_job_runs_once_per_period(leases: InMemoryJobLeases, clock: FakeClock) -> None:
    body = Counting()
    job = PeriodicJob("prune", HOUR, body)
    first = runner(leases, "a", job)
    assert await first.run_if_due(job)
    assert not await first.run_if_due(job)
    clock.advance(3599)
    assert not await first.run_if_due(job)
    clock.advance(1)
    assert await first.run_if_due(job)
    assert body.runs == 2


async def test_two_workers_never_run_a_job_at_once(leases: InMemoryJobLeases, clock: FakeClock) -> None:
    body = Counting()
    body.release = threading.Event()
    job = PeriodicJob("prune", HOUR, body)
    holder, other = runner(leases, "a", job), runner(leases, "b", job)
    running = asyncio.create_task(holder.run_if_due(job))
    await eventually(lambda: body.runs > 0, what="the job to start")
    assert not await other.run_if_due(job)
    body.release.set()
    assert await running
    clock.advance(3600)
    assert await other.run_if_due(job)
    assert body.runs == 2


class CountingLeases(InMemoryJobLeases):
    """In-memory leases that count renewals."""

    renewals = 0

    def renew(self, job: str, holder: str, lease: timedelta) -> bool:
        self.renewals += 1
        return super().renew(job, holder, lease)


def renewed_since(leases: CountingLeases, seen: int) -> bool:
    return leases.renewals > seen


async def test_the_lease_is_renewed_while_a_long_job_runs(clock: FakeClock) -> None:
    leases = CountingLeases(InMemoryStore(clock))
    body = Counting()
    body.release = threading.Event()
    job = PeriodicJob("prune", HOUR, body)
    holder = runner(leases, "a", job, settings=JobSettings(poll_seconds=0.01, lease_seconds=0.03))
    running = asyncio.create_task(holder.run_if_due(job))
    await eventually(lambda: body.runs > 0, what="the job to start")
    # The fake clock moves only when told: 20 ms a step, each followed by a renewal (30 ms from
    # then). Without renewals the lease would have expired by the second step.
    for step in range(3):
        seen = leases.renewals
        clock.advance(0.02)
        await eventually(functools.partial(renewed_since, leases, seen), what=f"a renewal after step {step}")
        assert not leases.take("prune", "b", period=HOUR, lease=HOUR)
    body.release.set()
    assert await running
    assert holder.stats.leases_lost == 0


async def test_a_dead_holders_job_is_taken_over_once_its_lease_expires(
    leases: InMemoryJobLeases, clock: FakeClock
) -> None:
    # The dead worker took the lease and never finished (nor renewed) it.
    assert leases.take("prune", "dead", period=HOUR, lease=timedelta(seconds=60))
    body = Counting()
    job = PeriodicJob("prune", HOUR, body)
    survivor = runner(leases, "b", job)
    assert not await survivor.run_if_due(job)
    clock.advance(60)
    assert await survivor.run_if_due(job)
    assert body.runs == 1


async def test_a_failing_job_is_logged_and_runs_again_only_a_period_later(
    leases: InMemoryJobLeases, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    body = Counting(fail=True)
    job = PeriodicJob("prune", HOUR, body)
    jobs = runner(leases, "a", job)
    assert await jobs.run_if_due(job)
    assert not await jobs.run_if_due(job)
    assert jobs.stats.failures == 1
    assert "job prune failed" in caplog.text
    clock.advance(3600)
    assert await jobs.run_if_due(job)


async def test_an_unavailable_store_skips_the_job_without_raising() -> None:
    body = Counting()
    job = PeriodicJob("prune", HOUR, body)
    assert not await runner(UnavailableLeases(), "a", job).run_if_due(job)
    assert body.runs == 0


async def test_run_goes_through_every_job_until_stopped(leases: InMemoryJobLeases) -> None:
    first, second = Counting(), Counting()
    jobs = runner(leases, "a", PeriodicJob("one", HOUR, first), PeriodicJob("two", HOUR, second))
    stop = asyncio.Event()
    task = asyncio.create_task(jobs.run(stop))
    await eventually(lambda: second.runs > 0, what="the second job to run")
    stop.set()
    stats = await asyncio.wait_for(task, 5)
    assert (first.runs, second.runs, stats.runs) == (1, 1, 2)


def test_job_names_must_be_unique_and_periods_positive(leases: InMemoryJobLeases) -> None:
    with pytest.raises(ValueError, match="share a name"):
        RunPeriodicJobs([PeriodicJob("a", HOUR, Counting()), PeriodicJob("a", HOUR, Counting())], leases, "w")
    with pytest.raises(ValueError, match="positive"):
        PeriodicJob("a", timedelta(0), Counting())
