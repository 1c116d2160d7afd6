"""The storage contract for what a sync needs: keys, the managed flag, writes of many webservers at once."""

from __future__ import annotations

import dataclasses

import pytest

from healthmon.domain.errors import WebserverAlreadyRegistered, WebserverKeyTaken
from healthmon.domain.ids import WebserverId
from tests.factories import settings, succeeded
from tests.fakes import EPOCH
from tests.integration.adapters.storage_steps import add
from tests.integration.conftest import UowFactory


def test_add_many_stores_each_in_order_with_its_key_and_managed_flag(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        added = uow.webservers.add_many([settings(1, key="a"), settings(2)], EPOCH, managed=True)
        uow.commit()

    assert [webserver.settings.key for webserver in added] == ["a", None]
    assert added[0].id < added[1].id
    with uow_factory() as uow:
        assert uow.webservers.list(limit=10) == added
    assert all(webserver.managed for webserver in added)


def test_add_many_refuses_a_taken_key_and_a_taken_url(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        uow.webservers.add_many([settings(1, key="a")], EPOCH, managed=True)
        uow.commit()

    with uow_factory() as uow, pytest.raises(WebserverKeyTaken):
        uow.webservers.add_many([settings(2), settings(3, key="a")], EPOCH, managed=True)
    with uow_factory() as uow, pytest.raises(WebserverAlreadyRegistered):
        uow.webservers.add_many([settings(1)], EPOCH, managed=True)
    with uow_factory() as uow:
        assert uow.webservers.count() == 1


def test_save_many_writes_every_change_and_refuses_a_key_held_by_another(uow_factory: UowFactory) -> None:
    first, second = add(uow_factory, 1), add(uow_factory, 2, key="b")
    changed = [
        dataclasses.replace(first, settings=settings(1, key="a", interval_seconds=5), managed=True),
        dataclasses.replace(second, settings=settings(20, key="b")),
    ]

    with uow_factory() as uow:
        uow.webservers.save_many(changed)
        uow.commit()
    with uow_factory() as uow:
        assert uow.webservers.list(limit=10) == changed
    taking = dataclasses.replace(changed[0], settings=settings(1, key="b"))
    with uow_factory() as uow, pytest.raises(WebserverKeyTaken):
        uow.webservers.save_many([taking])


def test_a_new_key_moves_the_revision(uow_factory: UowFactory) -> None:
    webserver = add(uow_factory, 1)
    with uow_factory() as uow:
        before = uow.webservers.revision()
        uow.webservers.save_many([dataclasses.replace(webserver, settings=settings(1, key="a"))])
        uow.commit()
    with uow_factory() as uow:
        assert uow.webservers.revision() != before


def test_remove_many_deletes_those_that_exist_with_their_history(uow_factory: UowFactory) -> None:
    kept, gone = add(uow_factory, 1), add(uow_factory, 2)
    with uow_factory() as uow:
        uow.probe_results.add_many([succeeded(gone.id, EPOCH)])
        uow.commit()

    with uow_factory() as uow:
        assert uow.webservers.remove_many([gone.id, WebserverId(424242)]) == 1
        uow.commit()

    with uow_factory() as uow:
        assert uow.webservers.list(limit=10) == [kept]
        assert uow.probe_results.history(gone.id, limit=10) == []


def test_a_locked_listing_reads_what_a_plain_one_does(uow_factory: UowFactory) -> None:
    added = [add(uow_factory, n) for n in range(1, 4)]
    with uow_factory() as uow:
        assert uow.webservers.list(limit=10, lock=True) == added
