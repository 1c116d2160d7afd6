"""The storage contract for webservers and the unit of work: every UnitOfWork adapter passes these unchanged.

The probe results' and the workers' parts of the contract are in test_storage_contract_*.py.
"""

from __future__ import annotations

import dataclasses
import threading
from datetime import timedelta

import pytest

from healthmon.domain.errors import WebserverAlreadyRegistered
from healthmon.domain.health import HealthState, HealthStateMachine
from healthmon.domain.ids import WebserverId
from healthmon.domain.webserver import WebserverChanges
from tests.factories import settings, succeeded
from tests.fakes import EPOCH
from tests.integration.adapters.storage_steps import add, save
from tests.integration.conftest import UowFactory


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
        health=HealthStateMachine(state=HealthState.HEALTHY, consecutive_successes=7),
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
    healthy = dataclasses.replace(
        servers[1], health=HealthStateMachine(state=HealthState.HEALTHY, consecutive_successes=5)
    )
    with uow_factory() as uow:
        uow.webservers.save(healthy)
        uow.commit()
    with uow_factory() as uow:
        assert uow.webservers.list(health=HealthState.HEALTHY, limit=10) == [healthy]
        assert uow.webservers.list(health=HealthState.UNKNOWN, limit=10) == [servers[0], servers[2]]
        assert uow.webservers.list(health=HealthState.UNHEALTHY, limit=10) == []


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
