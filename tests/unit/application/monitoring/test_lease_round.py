"""The lease round as a use case: it changes only the store and returns what it did."""

from __future__ import annotations

from healthmon.adapters.memory import InMemoryStore, InMemoryUnitOfWork
from healthmon.application.monitoring.lease_round import LeaseRound, LeaveLeases, RunLeaseRound
from healthmon.application.ports import WorkerInfo
from healthmon.application.use_cases.webservers import RegisterWebserver
from healthmon.domain.webserver import WebserverId
from tests.factories import settings
from tests.fakes import EPOCH, FakeClock

ME = WorkerInfo(id="me", host="host-a", pid=1, started_at=EPOCH)


def registered(store: InMemoryStore, count: int) -> None:
    for n in range(1, count + 1):
        RegisterWebserver(InMemoryUnitOfWork(store), FakeClock()).execute(settings(n))


def test_a_heartbeat_claims_the_fair_share_and_loads_what_it_holds() -> None:
    store = InMemoryStore()
    registered(store, 3)
    outcome = RunLeaseRound(InMemoryUnitOfWork(store), ME.id, lease_seconds=6).execute(
        LeaseRound(revision=None, report=ME)
    )
    assert outcome.claimed == 3
    assert outcome.held is not None
    assert sorted(server.id for server in outcome.held) == [1, 2, 3]
    assert outcome.membership is not None
    assert outcome.membership.share == 3
    assert outcome.leasing_seconds is not None
    assert set(store.owners.values()) == {"me"}


def test_a_round_without_a_heartbeat_reloads_only_when_the_revision_moved() -> None:
    store = InMemoryStore()
    registered(store, 2)
    round_ = RunLeaseRound(InMemoryUnitOfWork(store), ME.id, lease_seconds=6)
    first = round_.execute(LeaseRound(revision=None, report=ME))
    same = round_.execute(LeaseRound(revision=first.revision))
    assert (same.held, same.membership, same.leasing_seconds) == (None, None, None)
    assert same.revision == first.revision
    store.owners.clear()
    moved = round_.execute(LeaseRound(revision=first.revision))
    assert moved.held == []


def test_handing_back_and_leaving_free_the_leases() -> None:
    store = InMemoryStore()
    registered(store, 2)
    round_ = RunLeaseRound(InMemoryUnitOfWork(store), ME.id, lease_seconds=6)
    held = round_.execute(LeaseRound(revision=None, report=ME)).held
    assert held is not None
    report = WorkerInfo(id=ME.id, host=ME.host, pid=ME.pid, started_at=EPOCH, servers=2)
    handed = round_.execute(LeaseRound(revision=None, report=report, ready=(held[0].id,)))
    assert (handed.released, handed.claimed, handed.handed_back) == (1, 0, (held[0].id,))
    assert list(store.owners) == [held[1].id]
    LeaveLeases(InMemoryUnitOfWork(store), ME.id).execute()
    assert store.owners == {}
    assert store.workers == {}


def test_the_held_servers_come_with_their_lease_epochs_and_a_new_epoch_reloads_them() -> None:
    store = InMemoryStore()
    registered(store, 2)
    round_ = RunLeaseRound(InMemoryUnitOfWork(store), ME.id, lease_seconds=6)
    first = round_.execute(LeaseRound(revision=None, report=ME))
    assert first.epochs == {1: 1, 2: 1}
    # Lost and claimed back while this worker was cut off: same servers, a new epoch for one.
    store.epochs[WebserverId(2)] += 2
    again = round_.execute(LeaseRound(revision=first.revision))
    assert again.held is not None
    assert again.epochs == {1: 1, 2: 3}


def test_a_heartbeat_told_not_to_claim_takes_nothing() -> None:
    store = InMemoryStore()
    registered(store, 2)
    outcome = RunLeaseRound(InMemoryUnitOfWork(store), ME.id, lease_seconds=6).execute(
        LeaseRound(revision=None, report=ME, claiming=False)
    )
    assert (outcome.claimed, outcome.held, outcome.epochs) == (0, [], {})
    assert store.owners == {}
    assert ME.id in store.workers
