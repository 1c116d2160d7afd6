"""The storage contract: every UnitOfWork adapter must pass these tests unchanged."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest

from healthmon.application.ports import HistoryCursor, WorkerInfo
from healthmon.domain.errors import WebserverAlreadyRegistered
from healthmon.domain.health import HealthState, HealthStateMachine
from healthmon.domain.probe import ErrorKind, ProbeResult
from healthmon.domain.webserver import Webserver, WebserverChanges, WebserverId
from tests.factories import failed, settings, succeeded
from tests.fakes import EPOCH
from tests.integration.conftest import UowFactory
from tests.waiting import eventually_sync


def add(uow_factory: UowFactory, n: int = 1, **overrides: object) -> Webserver:
    with uow_factory() as uow:
        webserver = uow.webservers.add(settings(n, **overrides), EPOCH)
        uow.commit()
    return webserver


def save(uow_factory: UowFactory, webserver: Webserver) -> None:
    with uow_factory() as uow:
        uow.webservers.save(webserver)
        uow.commit()


def test_added_webserver_reads_back_equal(uow_factory: UowFactory) -> None:
    webserver = add(
        uow_factory,
        interval_seconds=5,
        timeout_seconds=7,
        healthy_threshold=2,
        unhealthy_threshold=9,
        follow_redirects=False,
        verify_tls=False,
    )
    with uow_factory() as uow:
        assert uow.webservers.get(webserver.id) == webserver
    assert webserver.state is HealthState.UNKNOWN
    assert webserver.created_at == webserver.updated_at == EPOCH


def test_ids_are_distinct_and_increasing(uow_factory: UowFactory) -> None:
    ids = [add(uow_factory, n).id for n in range(1, 4)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 3


def test_get_unknown_id_returns_none(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        assert uow.webservers.get(WebserverId(424242)) is None


def test_uncommitted_changes_are_rolled_back(uow_factory: UowFactory) -> None:
    kept = add(uow_factory, 1)
    with uow_factory() as uow:
        uow.webservers.add(settings(2), EPOCH)
        uow.webservers.remove(kept.id)
    with uow_factory() as uow:
        assert uow.webservers.list(limit=10) == [kept]


def test_an_error_inside_the_block_rolls_back(uow_factory: UowFactory) -> None:
    class Boom(Exception):
        pass

    def fail_half_way() -> None:
        with uow_factory() as uow:
            uow.webservers.add(settings(1), EPOCH)
            raise Boom

    with pytest.raises(Boom):
        fail_half_way()
    with uow_factory() as uow:
        assert uow.webservers.list(limit=10) == []


def test_registering_a_watched_url_is_rejected(uow_factory: UowFactory) -> None:
    first = add(uow_factory, 1)
    with pytest.raises(WebserverAlreadyRegistered) as raised, uow_factory() as uow:
        uow.webservers.add(settings(2, url=first.settings.url), EPOCH)
    assert raised.value.url == first.settings.url
    with uow_factory() as uow:
        assert uow.webservers.list(limit=10) == [first]


def test_save_writes_settings_and_health(uow_factory: UowFactory) -> None:
    webserver = add(uow_factory)
    later = EPOCH + timedelta(minutes=5)
    changed = dataclasses.replace(
        webserver.reconfigure(WebserverChanges(name="renamed", interval_seconds=10), later),
        health=HealthStateMachine(HealthState.HEALTHY, consecutive_successes=7),
        health_changed_at=later,
        last_checked_at=later,
    )
    with uow_factory() as uow:
        uow.webservers.save(changed)
        uow.commit()
    with uow_factory() as uow:
        assert uow.webservers.get(webserver.id) == changed


def test_save_rejects_a_url_watched_by_another(uow_factory: UowFactory) -> None:
    first, second = add(uow_factory, 1), add(uow_factory, 2)
    moved = second.reconfigure(WebserverChanges(url=first.settings.url), EPOCH)
    with pytest.raises(WebserverAlreadyRegistered), uow_factory() as uow:
        uow.webservers.save(moved)
    with uow_factory() as uow:
        assert uow.webservers.get(second.id) == second


def test_get_many_returns_only_existing(uow_factory: UowFactory) -> None:
    first, second = add(uow_factory, 1), add(uow_factory, 2)
    with uow_factory() as uow:
        found = uow.webservers.get_many([first.id, second.id, WebserverId(999_999)], lock=True)
    assert found == {first.id: first, second.id: second}


def test_remove_deletes_the_webserver_and_its_history(uow_factory: UowFactory) -> None:
    gone, kept = add(uow_factory, 1), add(uow_factory, 2)
    with uow_factory() as uow:
        uow.probe_results.add_many([succeeded(gone.id, EPOCH), succeeded(kept.id, EPOCH)])
        uow.commit()
    with uow_factory() as uow:
        assert uow.webservers.remove(gone.id) is True
        uow.commit()
    with uow_factory() as uow:
        assert uow.webservers.get(gone.id) is None
        assert uow.probe_results.history(gone.id, limit=10) == []
        assert len(uow.probe_results.history(kept.id, limit=10)) == 1
        assert uow.webservers.remove(gone.id) is False


def test_a_removed_url_can_be_registered_again(uow_factory: UowFactory) -> None:
    gone = add(uow_factory, 1)
    with uow_factory() as uow:
        uow.webservers.remove(gone.id)
        uow.commit()
    again = add(uow_factory, 1)
    assert again.id != gone.id


def test_list_is_in_id_order_and_pages_with_after(uow_factory: UowFactory) -> None:
    servers = [add(uow_factory, n) for n in range(1, 6)]
    with uow_factory() as uow:
        first = uow.webservers.list(limit=2)
        rest = uow.webservers.list(after=first[-1].id, limit=10)
    assert first + rest == servers


def test_list_filters_on_health(uow_factory: UowFactory) -> None:
    servers = [add(uow_factory, n) for n in range(1, 4)]
    healthy = dataclasses.replace(servers[1], health=HealthStateMachine(HealthState.HEALTHY, 5, 0))
    with uow_factory() as uow:
        uow.webservers.save(healthy)
        uow.commit()
    with uow_factory() as uow:
        assert uow.webservers.list(health=HealthState.HEALTHY, limit=10) == [healthy]
        assert uow.webservers.list(health=HealthState.UNKNOWN, limit=10) == [servers[0], servers[2]]
        assert uow.webservers.list(health=HealthState.UNHEALTHY, limit=10) == []


def test_history_is_newest_first_and_round_trips_every_field(uow_factory: UowFactory) -> None:
    webserver = add(uow_factory)
    results = [
        succeeded(webserver.id, EPOCH, latency_ms=1.25),
        failed(webserver.id, EPOCH + timedelta(seconds=1), status_code=503),
        failed(webserver.id, EPOCH + timedelta(seconds=2), status_code=None),
        ProbeResult.failure(
            webserver.id,
            started_at=EPOCH + timedelta(seconds=3),
            latency_ms=60_000.0,
            kind=ErrorKind.TIMEOUT,
            message="No response within 60 s",
        ),
    ]
    with uow_factory() as uow:
        uow.probe_results.add_many(results)
        uow.commit()
    with uow_factory() as uow:
        history = uow.probe_results.history(webserver.id, limit=10)
    assert [probe.result for probe in history] == results[::-1]
    assert len({probe.id for probe in history}) == 4
    assert all(probe.result.started_at.utcoffset() == timedelta(0) for probe in history)


def test_history_pages_tile_without_gaps_or_repeats(uow_factory: UowFactory) -> None:
    webserver = add(uow_factory)
    # Pairs of probes share a start time, so the cursor must break ties by id.
    results = [succeeded(webserver.id, EPOCH + timedelta(seconds=n // 2)) for n in range(25)]
    with uow_factory() as uow:
        uow.probe_results.add_many(results)
        uow.commit()
    seen = []
    cursor: HistoryCursor | None = None
    with uow_factory() as uow:
        everything = uow.probe_results.history(webserver.id, limit=100)
        while True:
            page = uow.probe_results.history(webserver.id, before=cursor, limit=4)
            seen.extend(page)
            if len(page) < 4:
                break
            cursor = HistoryCursor(page[-1].result.started_at, page[-1].id)
    assert seen == everything
    assert len(seen) == 25
    keys = [(probe.result.started_at, probe.id) for probe in seen]
    assert keys == sorted(keys, reverse=True)


def test_history_time_range_includes_since_and_excludes_until(uow_factory: UowFactory) -> None:
    webserver = add(uow_factory)
    with uow_factory() as uow:
        uow.probe_results.add_many([succeeded(webserver.id, EPOCH + timedelta(minutes=m)) for m in range(10)])
        uow.commit()
    with uow_factory() as uow:
        window = uow.probe_results.history(
            webserver.id, since=EPOCH + timedelta(minutes=3), until=EPOCH + timedelta(minutes=6), limit=100
        )
    assert [probe.result.started_at for probe in window] == [EPOCH + timedelta(minutes=m) for m in (5, 4, 3)]


def test_history_is_kept_per_webserver(uow_factory: UowFactory) -> None:
    first, second = add(uow_factory, 1), add(uow_factory, 2)
    with uow_factory() as uow:
        uow.probe_results.add_many([succeeded(first.id, EPOCH), failed(second.id, EPOCH)])
        uow.commit()
    with uow_factory() as uow:
        assert [p.result.webserver_id for p in uow.probe_results.history(first.id, limit=10)] == [first.id]
        assert [p.result.success for p in uow.probe_results.history(second.id, limit=10)] == [False]


def test_uncommitted_history_is_rolled_back(uow_factory: UowFactory) -> None:
    webserver = add(uow_factory)
    with uow_factory() as uow:
        uow.probe_results.add_many([succeeded(webserver.id, EPOCH)])
    with uow_factory() as uow:
        assert uow.probe_results.history(webserver.id, limit=10) == []


def test_revision_moves_on_add_reconfigure_and_remove_but_not_on_health(uow_factory: UowFactory) -> None:
    def revision() -> object:
        with uow_factory() as uow:
            return uow.webservers.revision()

    empty = revision()
    webserver = add(uow_factory)
    added = revision()
    assert added != empty

    checked, _ = webserver.record(succeeded(webserver.id, EPOCH + timedelta(seconds=1)))
    save(uow_factory, checked)
    assert revision() == added

    renamed = checked.reconfigure(WebserverChanges(name="renamed"), EPOCH + timedelta(seconds=2))
    with uow_factory() as uow:
        uow.webservers.save(renamed)
        uow.commit()
    reconfigured = revision()
    assert reconfigured != added

    with uow_factory() as uow:
        uow.webservers.remove(webserver.id)
        uow.commit()
    assert revision() not in (reconfigured, added)


def test_timestamps_in_any_zone_read_back_as_the_same_instants(uow_factory: UowFactory) -> None:
    plus_two = timezone(timedelta(hours=2))
    created = datetime(2026, 3, 1, 14, 30, 15, 123456, tzinfo=plus_two)
    with uow_factory() as uow:
        webserver = uow.webservers.add(settings(1), created)
        uow.commit()
    checked = dataclasses.replace(
        webserver,
        last_checked_at=datetime(2026, 3, 1, 7, 0, 0, 1, tzinfo=timezone(timedelta(hours=-5))),
        health_changed_at=created + timedelta(microseconds=1),
    )
    with uow_factory() as uow:
        uow.webservers.save(checked)
        uow.probe_results.add_many(
            [succeeded(webserver.id, created + timedelta(minutes=m)) for m in range(3)]
        )
        uow.commit()
    with uow_factory() as uow:
        stored = uow.webservers.get(webserver.id)
        window = uow.probe_results.history(
            webserver.id,
            since=datetime(2026, 3, 1, 12, 31, tzinfo=UTC),
            until=created + timedelta(minutes=2),
            limit=10,
        )
    assert stored == checked
    assert stored is not None
    assert stored.created_at == created
    assert stored.created_at.utcoffset() is not None
    assert [probe.result.started_at for probe in window] == [created + timedelta(minutes=1)]


def test_add_many_drops_results_of_webservers_that_do_not_exist(uow_factory: UowFactory) -> None:
    webserver = add(uow_factory)
    with uow_factory() as uow:
        uow.probe_results.add_many([succeeded(WebserverId(999_999), EPOCH), succeeded(webserver.id, EPOCH)])
        uow.commit()
    with uow_factory() as uow:
        assert [probe.result for probe in uow.probe_results.history(webserver.id, limit=10)] == [
            succeeded(webserver.id, EPOCH)
        ]
        assert uow.probe_results.history(WebserverId(999_999), limit=10) == []


def test_saving_a_webserver_that_does_not_exist_stores_nothing(uow_factory: UowFactory) -> None:
    kept = add(uow_factory, 1)
    ghost = dataclasses.replace(kept, id=WebserverId(999_999), settings=settings(2))
    with uow_factory() as uow:
        uow.webservers.save(ghost)
        uow.commit()
    with uow_factory() as uow:
        assert uow.webservers.get(ghost.id) is None
        assert uow.webservers.list(limit=10) == [kept]


def test_locked_read_modify_write_from_two_threads_loses_no_update(uow_factory: UowFactory) -> None:
    webserver = add(uow_factory)
    rounds = 20
    errors: list[BaseException] = []

    def count_successes() -> None:
        try:
            for n in range(rounds):
                with uow_factory() as uow:
                    current = uow.webservers.get(webserver.id, lock=True)
                    assert current is not None
                    after, _ = current.record(succeeded(webserver.id, EPOCH + timedelta(seconds=n)))
                    uow.webservers.save(after)
                    uow.commit()
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which fails the test
            errors.append(exc)

    threads = [threading.Thread(target=count_successes) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a locker never finished (deadlock?)"
    assert errors == []
    with uow_factory() as uow:
        final = uow.webservers.get(webserver.id)
    assert final is not None
    assert final.health.consecutive_successes == 2 * rounds


AWKWARD_TEXTS = [
    'quote " and backslash \\ here',
    "braces {a,b} and commas, NULL",
    "NULL",
    "",
    "unicode: façade ✓ 健康",
    "trailing space ",
]


@pytest.mark.parametrize("text", AWKWARD_TEXTS)
def test_awkward_text_round_trips_in_names_and_error_messages(uow_factory: UowFactory, text: str) -> None:
    name = f"n {text}".strip() or "n"
    webserver = add(uow_factory, name="plain", url="http://awkward.test/?q=%22{a,b}%5C")
    with uow_factory() as uow:
        locked = uow.webservers.get(webserver.id, lock=True)
        assert locked is not None
        # A locked row saved with an unchanged URL takes the batched path on PostgreSQL.
        uow.webservers.save(locked.reconfigure(WebserverChanges(name=name), EPOCH))
        uow.commit()
    failure = ProbeResult.failure(
        webserver.id,
        started_at=EPOCH,
        latency_ms=float("1e-300"),
        kind=ErrorKind.INVALID_RESPONSE,
        message=text,
    )
    with uow_factory() as uow:
        uow.probe_results.add_many([failure, succeeded(webserver.id, EPOCH + timedelta(seconds=1))])
        uow.commit()
    with uow_factory() as uow:
        stored = uow.webservers.get_many([webserver.id], lock=True)[webserver.id]
        history = uow.probe_results.history(webserver.id, limit=10)
    assert stored.settings.name == name
    assert stored.settings.url == webserver.settings.url
    assert history[-1].result == failure


# Workers and leases.

FRESH = timedelta(hours=1)
# No heartbeat is younger than zero: every holder counts as dead.
EXPIRED = timedelta(0)


def worker(worker_id: str, **overrides: object) -> WorkerInfo:
    values: dict[str, object] = {"host": "host-a", "pid": 4242, "started_at": EPOCH}
    values.update(overrides)
    return WorkerInfo(worker_id, **values)  # type: ignore[arg-type]


def beat(uow_factory: UowFactory, *workers: WorkerInfo) -> None:
    with uow_factory() as uow:
        for one in workers:
            uow.workers.beat(one)
        uow.commit()


def claim(uow_factory: UowFactory, worker_id: str, limit: int, ttl: timedelta = FRESH) -> int:
    with uow_factory() as uow:
        taken = uow.workers.claim(worker_id, ttl=ttl, limit=limit)
        uow.commit()
    return taken


def held(uow_factory: UowFactory, worker_id: str) -> list[WebserverId]:
    with uow_factory() as uow:
        return [webserver.id for webserver in uow.webservers.list(limit=1000, owner=worker_id)]


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


@pytest.mark.parametrize("first_held_by_a_dead_worker", [False, True])
def test_concurrent_claimers_take_disjoint_sets(
    uow_factory: UowFactory, first_held_by_a_dead_worker: bool
) -> None:
    servers = {add(uow_factory, n).id for n in range(1, 101)}
    ttl = timedelta(seconds=0.5)
    if first_held_by_a_dead_worker:
        beat(uow_factory, worker("dead"))
        claim(uow_factory, "dead", len(servers))

        def dead_has_expired() -> bool:
            with uow_factory() as uow:
                return not uow.workers.live(ttl)

        eventually_sync(dead_has_expired, what="the dead worker's heartbeat to age past the ttl")
    names = [f"w{n}" for n in range(4)]
    taken = dict.fromkeys(names, 0)
    errors: list[BaseException] = []

    def claim_until_none_left(name: str) -> None:
        try:
            while True:
                beat(uow_factory, worker(name))
                count = claim(uow_factory, name, 3, ttl=ttl)
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
