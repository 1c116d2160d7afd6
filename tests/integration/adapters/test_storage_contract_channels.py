"""The channel storage contract, on every UnitOfWork adapter."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from healthmon.domain.channels import ChannelKind, ChannelSettings
from healthmon.domain.webserver import WebserverId
from tests.fakes import EPOCH
from tests.integration.adapters.alert_steps import (
    SECRET,
    add_channel,
    add_event,
    add_webserver,
    queue,
    unknown_channel,
)
from tests.integration.conftest import UowFactory


def test_an_added_channel_reads_back_equal(uow_factory: UowFactory) -> None:
    webhook = add_channel(
        uow_factory, name="ops", secret=SECRET, webserver_ids=frozenset({WebserverId(3), WebserverId(1)})
    )
    apprise = add_channel(uow_factory, kind=ChannelKind.APPRISE, url="slack://T000/B000/XXXX", enabled=False)
    with uow_factory() as uow:
        assert uow.channels.get(webhook.id) == webhook
        assert uow.channels.get(apprise.id, lock=True) == apprise
        assert uow.channels.get(unknown_channel()) is None
    assert webhook.id < apprise.id
    assert webhook.created_at == webhook.updated_at == EPOCH
    assert webhook.disabled_reason is None


def test_all_is_in_id_order_and_covering_keeps_enabled_channels_of_the_webserver(
    uow_factory: UowFactory,
) -> None:
    everything = add_channel(uow_factory)
    mine = add_channel(uow_factory, webserver_ids=frozenset({WebserverId(1)}))
    others = add_channel(uow_factory, webserver_ids=frozenset({WebserverId(2)}))
    disabled = add_channel(uow_factory, enabled=False)
    with uow_factory() as uow:
        assert uow.channels.all() == [everything, mine, others, disabled]
        assert uow.channels.covering(WebserverId(1)) == [everything, mine]
        assert uow.channels.covering(WebserverId(2)) == [everything, others]


def test_save_writes_the_changes_and_keeps_created_at(uow_factory: UowFactory) -> None:
    channel = add_channel(uow_factory, secret=SECRET)
    changed = dataclasses.replace(
        channel,
        settings=ChannelSettings(
            kind=ChannelKind.WEBHOOK,
            url="https://elsewhere.test/",
            name="renamed",
            webserver_ids=frozenset({WebserverId(7)}),
            enabled=False,
        ),
        updated_at=EPOCH + timedelta(minutes=1),
        disabled_reason="the receiver answered 410 Gone",
    )
    with uow_factory() as uow:
        uow.channels.save(changed)
        uow.commit()
    with uow_factory() as uow:
        assert uow.channels.get(channel.id) == changed


def test_an_uncommitted_channel_is_not_stored(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        uow.channels.add(ChannelSettings(kind=ChannelKind.WEBHOOK, url="https://receiver.test/"), EPOCH)
    with uow_factory() as uow:
        assert uow.channels.all() == []


def test_removing_a_channel_removes_its_deliveries_only(uow_factory: UowFactory) -> None:
    webserver = add_webserver(uow_factory)
    gone, kept = add_channel(uow_factory), add_channel(uow_factory)
    event = add_event(uow_factory, webserver)
    queue(uow_factory, event, gone, kept)
    with uow_factory() as uow:
        assert uow.channels.remove(gone.id) is True
        uow.commit()
    with uow_factory() as uow:
        assert uow.channels.get(gone.id) is None
        assert uow.deliveries.list(gone.id, limit=10) == []
        assert [delivery.event_id for delivery in uow.deliveries.list(kept.id, limit=10)] == [event.id]
        assert uow.channels.remove(gone.id) is False
        # The event itself stays: it is history, whoever it was sent to.
        assert uow.events.feed(after=None, limit=10) == [event]
