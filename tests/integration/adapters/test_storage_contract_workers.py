"""The storage contract for workers and leases: every UnitOfWork adapter must pass these unchanged."""

from __future__ import annotations

import dataclasses
import threading
import time
from datetime import timedelta

import pytest

from healthmon.domain.webserver import WebserverChanges, WebserverId
from tests.factories import succeeded
from tests.fakes import EPOCH
from tests.integration.adapters.storage_steps import EXPIRED, FRESH, add, beat, claim, held, save, worker
from tests.integration.conftest import UowFactory
from tests.waiting import eventually_sync


def test_a_beat_registers_the_worker_and_the_next_one_updates_it(uow_factory: UowFactory) -> None:
    beat(uow_factory, worker("a"))
    beat(uow_factory, worker("a", servers=7, probes_per_second=3.5, lag_p99_ms=12.0))
    with uow_factory() as uow:
        (live,) = uow.workers.live(FRESH)
    assert dataclasses.replace(live, heartbeat_at=None) == worker(
        "a", servers=7, probes_per_second=3.5, lag_p99_ms=12.0
    )
    assert live.heartbeat_at is not None
    assert live.heartbeat_at.utcoffset() == timedelta(0)


def test_live_lists_only_workers_with_a_fresh_heartbeat(uow_factory: UowFactory) -> None:
    beat(uow_factory, worker("a"), worker("b", started_at=EPOCH + timedelta(seconds=1)))
    with uow_factory() as uow:
        assert [one.id for one in uow.workers.live(FRESH)] == ["a", "b"]
        assert uow.workers.live(EXPIRED) == []


def test_claims_take_unheld_servers_in_id_order_and_never_the_same_twice(uow_factory: UowFactory) -> None:
    servers = [add(uow_factory, n).id for n in range(1, 6)]
    beat(uow_factory, worker("a"), worker("b"))
    assert claim(uow_factory, "a", 3) == 3
    assert claim(uow_factory, "b", 10) == 2
    assert claim(uow_factory, "b", 10) == 0
    assert held(uow_factory, "a") == servers[:3]
    assert held(uow_factory, "b") == servers[3:]
    with uow_factory() as uow:
        assert uow.webservers.count() == 5
        assert uow.workers.claim("a", ttl=FRESH, limit=0) == 0


def test_servers_of_a_dead_or_forgotten_holder_can_be_claimed(uow_factory: UowFactory) -> None:
    servers = [add(uow_factory, n).id for n in range(1, 3)]
    beat(uow_factory, worker("dead"))
    assert claim(uow_factory, "dead", 10) == 2
    beat(uow_factory, worker("b"))
    # Its heartbeat is fresh: nothing to take.
    assert claim(uow_factory, "b", 10) == 0
    assert claim(uow_factory, "b", 1, ttl=EXPIRED) == 1
    with uow_factory() as uow:
        assert uow.workers.forget(FRESH) == 0
        assert uow.workers.forget(EXPIRED) == 2
        uow.commit()
    with uow_factory() as uow:
        assert uow.workers.live(FRESH) == []
    # b comes back and keeps what it held; dead's row is gone, so its last server is free again.
    beat(uow_factory, worker("b"))
    assert claim(uow_factory, "c", 10) == 1
    assert held(uow_factory, "b") == servers[:1]
    assert held(uow_factory, "c") == servers[1:]


def test_release_hands_back_only_own_servers_and_leave_hands_back_all(uow_factory: UowFactory) -> None:
    servers = [add(uow_factory, n).id for n in range(1, 5)]
    beat(uow_factory, worker("a"), worker("b"))
    claim(uow_factory, "a", 2)
    claim(uow_factory, "b", 2)
    with uow_factory() as uow:
        assert uow.workers.release("a", [servers[0], servers[2]]) == 1
        assert uow.workers.release("a", []) == 0
        uow.commit()
    assert held(uow_factory, "a") == servers[1:2]
    with uow_factory() as uow:
        uow.workers.leave("b")
        uow.commit()
    with uow_factory() as uow:
        assert [one.id for one in uow.workers.live(FRESH)] == ["a"]
    assert held(uow_factory, "b") == []
    assert claim(uow_factory, "c", 10) == 3


def test_uncommitted_claims_and_beats_are_rolled_back(uow_factory: UowFactory) -> None:
    add(uow_factory)
    with uow_factory() as uow:
        uow.workers.beat(worker("a"))
        uow.workers.claim("a", ttl=FRESH, limit=10)
    with uow_factory() as uow:
        assert uow.workers.live(FRESH) == []
    assert held(uow_factory, "a") == []


def test_held_revision_moves_when_a_held_server_changes_but_not_on_health(uow_factory: UowFactory) -> None:
    webserver = add(uow_factory)
    beat(uow_factory, worker("a"))

    def revision() -> object:
        with uow_factory() as uow:
            return uow.webservers.revision(owner="a")

    empty = revision()
    claim(uow_factory, "a", 1)
    claimed = revision()
    assert claimed != empty
    checked, _ = webserver.record(succeeded(webserver.id, EPOCH + timedelta(seconds=1)))
    save(uow_factory, checked)
    assert revision() == claimed
    save(uow_factory, checked.reconfigure(WebserverChanges(interval_seconds=5), EPOCH))
    assert revision() != claimed


# How far past the dead worker's heartbeat the claimers' cutoff stays.
DEAD_MARGIN = timedelta(seconds=0.25)


@pytest.mark.parametrize("first_held_by_a_dead_worker", [False, True])
def test_concurrent_claimers_take_disjoint_sets(
    uow_factory: UowFactory, first_held_by_a_dead_worker: bool
) -> None:
    servers = {add(uow_factory, n).id for n in range(1, 101)}
    # Heartbeats are dated by the store's clock, which on every adapter here is this machine's.
    # A ttl that grows with the time passed keeps the cutoff (now - ttl) fixed just after the
    # dead worker's heartbeat, so the claimers, who beat later, stay live however long a claim
    # waits for a lock on a busy machine.
    dead_at: float | None = None

    def ttl() -> timedelta:
        if dead_at is None:
            return FRESH
        return timedelta(seconds=time.monotonic() - dead_at) - DEAD_MARGIN

    if first_held_by_a_dead_worker:
        beat(uow_factory, worker("dead"))
        claim(uow_factory, "dead", len(servers))
        dead_at = time.monotonic()

        def dead_has_expired() -> bool:
            with uow_factory() as uow:
                return ttl() > DEAD_MARGIN and not uow.workers.live(ttl())

        eventually_sync(dead_has_expired, what="the dead worker's heartbeat to age past the ttl")
    names = [f"w{n}" for n in range(4)]
    taken = dict.fromkeys(names, 0)
    errors: list[BaseException] = []

    def claim_until_none_left(name: str) -> None:
        try:
            while True:
                beat(uow_factory, worker(name))
                count = claim(uow_factory, name, 3, ttl=ttl())
                taken[name] += count
                if not count:
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which fails the test
            errors.append(exc)

    threads = [threading.Thread(target=claim_until_none_left, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    holdings = [held(uow_factory, name) for name in names]
    # A server claimed twice would count in two claims but be held once.
    assert [len(ids) for ids in holdings] == [taken[name] for name in names]
    assert set().union(*holdings) == servers


def epochs_held(uow_factory: UowFactory, worker_id: str) -> dict[WebserverId, int]:
    with uow_factory() as uow:
        return uow.workers.held(worker_id)


def test_every_claim_moves_the_lease_epoch_on_and_nothing_else_does(uow_factory: UowFactory) -> None:
    first, second = (add(uow_factory, n).id for n in range(1, 3))
    with uow_factory() as uow:
        assert uow.workers.epochs([first, second]) == {first: 0, second: 0}
        assert uow.workers.epochs([]) == {}
    beat(uow_factory, worker("a"))
    claim(uow_factory, "a", 1)
    assert epochs_held(uow_factory, "a") == {first: 1}
    # Beats and releases keep the epoch; only a change of hands moves it.
    beat(uow_factory, worker("a"))
    with uow_factory() as uow:
        uow.workers.release("a", [first])
        uow.commit()
    with uow_factory() as uow:
        assert uow.workers.epochs([first, second]) == {first: 1, second: 0}
    beat(uow_factory, worker("b"))
    claim(uow_factory, "b", 2)
    assert epochs_held(uow_factory, "b") == {first: 2, second: 1}
    assert epochs_held(uow_factory, "a") == {}
    # Taken over from a worker whose heartbeat expired: the epoch moves on again.
    claim(uow_factory, "c", 1, ttl=EXPIRED)
    assert epochs_held(uow_factory, "c") == {first: 3}


def test_epochs_skip_unknown_servers_and_roll_back_with_the_claim(uow_factory: UowFactory) -> None:
    webserver = add(uow_factory)
    with uow_factory() as uow:
        uow.workers.beat(worker("a"))
        uow.workers.claim("a", ttl=FRESH, limit=1)
        assert uow.workers.held("a") == {webserver.id: 1}
    with uow_factory() as uow:
        assert uow.workers.epochs([webserver.id, WebserverId(webserver.id + 1000)]) == {webserver.id: 0}


def test_held_revision_moves_when_a_server_is_lost_and_claimed_back(uow_factory: UowFactory) -> None:
    add(uow_factory)
    beat(uow_factory, worker("a"))
    claim(uow_factory, "a", 1)
    with uow_factory() as uow:
        before = uow.webservers.revision(owner="a")
    # Another worker takes it from a lapsed "a", and "a" takes it back: same server, new epoch.
    claim(uow_factory, "b", 1, ttl=EXPIRED)
    claim(uow_factory, "a", 1, ttl=EXPIRED)
    with uow_factory() as uow:
        assert uow.webservers.revision(owner="a") != before
