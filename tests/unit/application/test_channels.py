"""Channel use cases: register (with a generated secret), read, change, remove, test; deliveries, retries."""

from __future__ import annotations

import base64
import dataclasses
import logging
from datetime import timedelta

import pytest

from healthmon.adapters.memory import InMemoryStore, InMemoryUnitOfWork
from healthmon.application.use_cases.channels import (
    GetChannel,
    ListChannels,
    ListDeliveries,
    RegisterChannel,
    RemoveChannel,
    RetryDelivery,
    SendTestEvent,
    UpdateChannel,
)
from healthmon.application.use_cases.events import ListEvents
from healthmon.application.use_cases.recording import RecordProbeResults
from healthmon.application.use_cases.webservers import RegisterWebserver
from healthmon.domain.channels import (
    SECRET_BYTES,
    SECRET_PREFIX,
    Channel,
    ChannelChanges,
    ChannelId,
    ChannelKind,
    ChannelSettings,
)
from healthmon.domain.deliveries import Delivery, DeliveryId, DeliveryStatus
from healthmon.domain.errors import (
    ChannelDisabled,
    ChannelNotFound,
    DeliveryNotFailed,
    DeliveryNotFound,
    InvalidField,
)
from healthmon.domain.events import EventType
from healthmon.domain.webserver import WebserverId
from tests.factories import settings, succeeded
from tests.fakes import EPOCH, FakeClock, FakeNotifier

HOOK = "https://receiver.test/hook"
SLACK = "slack://T000/B000/XXXX"
GIVEN_SECRET = SECRET_PREFIX + base64.b64encode(b"k" * 24).decode()


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def notifier() -> FakeNotifier:
    return FakeNotifier()


def uow(store: InMemoryStore) -> InMemoryUnitOfWork:
    return InMemoryUnitOfWork(store)


def register(store: InMemoryStore, clock: FakeClock, notifier: FakeNotifier, **fields: object) -> Channel:
    values: dict[str, object] = {"kind": ChannelKind.WEBHOOK, "url": HOOK, **fields}
    return RegisterChannel(uow(store), clock, notifier).execute(ChannelSettings(**values))  # type: ignore[arg-type]


def update(
    store: InMemoryStore, clock: FakeClock, notifier: FakeNotifier, channel: Channel, **changes: object
) -> Channel:
    return UpdateChannel(uow(store), clock, notifier).execute(channel.id, ChannelChanges(**changes))  # type: ignore[arg-type]


def failed_delivery(store: InMemoryStore, channel: Channel) -> Delivery:
    """A health change queued for the channel, then given up on."""
    webserver = RegisterWebserver(uow(store), FakeClock()).execute(settings(1, healthy_threshold=1))
    RecordProbeResults(uow(store)).execute([succeeded(webserver.id, EPOCH)])
    with uow(store) as work:
        [claimed] = work.deliveries.claim("worker-1", claim_for=timedelta(seconds=60), limit=10)
        failed = dataclasses.replace(
            claimed.delivery,
            status=DeliveryStatus.FAILED,
            attempts=8,
            next_attempt_at=None,
            last_error="boom",
        )
        assert work.deliveries.finish("worker-1", failed)
        work.commit()
    return failed


def test_a_webhook_without_a_secret_gets_a_fresh_one(
    store: InMemoryStore, clock: FakeClock, notifier: FakeNotifier
) -> None:
    first, second = register(store, clock, notifier), register(store, clock, notifier)
    assert first.settings.secret is not None
    assert first.settings.secret.startswith(SECRET_PREFIX)
    key = base64.b64decode(first.settings.secret.removeprefix(SECRET_PREFIX), validate=True)
    assert len(key) == SECRET_BYTES
    assert first.settings.secret != second.settings.secret
    assert GetChannel(uow(store)).execute(first.id).settings.secret == first.settings.secret


def test_a_given_secret_is_kept_and_apprise_channels_have_none(
    store: InMemoryStore, clock: FakeClock, notifier: FakeNotifier
) -> None:
    assert register(store, clock, notifier, secret=GIVEN_SECRET).settings.secret == GIVEN_SECRET
    assert register(store, clock, notifier, kind=ChannelKind.APPRISE, url=SLACK).settings.secret is None


def test_a_url_the_notifier_does_not_understand_is_refused(
    store: InMemoryStore, clock: FakeClock, notifier: FakeNotifier
) -> None:
    notifier.bad_urls.add("nosuch://x")
    with pytest.raises(InvalidField) as raised:
        register(store, clock, notifier, kind=ChannelKind.APPRISE, url="nosuch://x")
    assert raised.value.field == "url"
    assert ListChannels(uow(store)).execute() == []


def test_registering_logs_neither_the_url_nor_the_secret(
    store: InMemoryStore, clock: FakeClock, notifier: FakeNotifier, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    channel = register(store, clock, notifier, url="https://receiver.test/hook?token=hush")
    update(store, clock, notifier, channel, url="https://receiver.test/hook?token=hush2", secret=GIVEN_SECRET)
    assert channel.settings.secret is not None
    for secret in ("hush", channel.settings.secret, GIVEN_SECRET):
        assert secret not in caplog.text
    assert f"channel {channel.id}" in caplog.text


def test_channels_are_listed_in_id_order_and_read_one_by_one(
    store: InMemoryStore, clock: FakeClock, notifier: FakeNotifier
) -> None:
    first, second = register(store, clock, notifier), register(store, clock, notifier, name="second")
    assert [channel.id for channel in ListChannels(uow(store)).execute()] == [first.id, second.id]
    assert GetChannel(uow(store)).execute(second.id) == second
    with pytest.raises(ChannelNotFound):
        GetChannel(uow(store)).execute(ChannelId(99))


def test_an_update_changes_only_the_given_fields(
    store: InMemoryStore, clock: FakeClock, notifier: FakeNotifier
) -> None:
    channel = register(store, clock, notifier, name="ops")
    clock.advance(10)
    updated = update(store, clock, notifier, channel, webserver_ids=frozenset({WebserverId(3)}))
    assert updated.settings == dataclasses.replace(
        channel.settings, webserver_ids=frozenset({WebserverId(3)})
    )
    assert updated.updated_at == clock.now()
    assert updated.created_at == channel.created_at
    back_to_all = update(store, clock, notifier, updated, all_webservers=True)
    assert back_to_all.settings.webserver_ids is None


def test_an_update_that_changes_nothing_keeps_updated_at(
    store: InMemoryStore, clock: FakeClock, notifier: FakeNotifier
) -> None:
    channel = register(store, clock, notifier, name="ops")
    clock.advance(10)
    assert update(store, clock, notifier, channel, name="ops") == channel


def test_an_update_is_validated_and_checked_by_the_notifier(
    store: InMemoryStore, clock: FakeClock, notifier: FakeNotifier
) -> None:
    channel = register(store, clock, notifier, kind=ChannelKind.APPRISE, url=SLACK)
    notifier.bad_urls.add("nosuch://x")
    with pytest.raises(InvalidField) as raised:
        update(store, clock, notifier, channel, url="nosuch://x")
    assert raised.value.field == "url"
    with pytest.raises(InvalidField) as raised:
        update(store, clock, notifier, channel, secret=GIVEN_SECRET)
    assert raised.value.field == "secret"
    assert GetChannel(uow(store)).execute(channel.id) == channel
    with pytest.raises(ChannelNotFound):
        UpdateChannel(uow(store), clock, notifier).execute(ChannelId(99), ChannelChanges(name="x"))


def test_enabling_a_channel_clears_why_it_was_disabled(
    store: InMemoryStore, clock: FakeClock, notifier: FakeNotifier
) -> None:
    channel = register(store, clock, notifier)
    with uow(store) as work:
        gone = dataclasses.replace(
            channel,
            settings=dataclasses.replace(channel.settings, enabled=False),
            disabled_reason="the receiver answered 410 Gone",
        )
        work.channels.save(gone)
        work.commit()
    renamed = update(store, clock, notifier, gone, name="still off")
    assert renamed.disabled_reason == gone.disabled_reason
    enabled = update(store, clock, notifier, gone, enabled=True)
    assert enabled.settings.enabled
    assert enabled.disabled_reason is None


def test_removing_a_channel_removes_its_deliveries_and_keeps_the_events(
    store: InMemoryStore, clock: FakeClock, notifier: FakeNotifier
) -> None:
    channel = register(store, clock, notifier)
    failed_delivery(store, channel)
    RemoveChannel(uow(store)).execute(channel.id)
    assert ListChannels(uow(store)).execute() == []
    assert store.deliveries == {}
    assert len(ListEvents(uow(store)).execute().items) == 1
    with pytest.raises(ChannelNotFound):
        RemoveChannel(uow(store)).execute(channel.id)


def test_a_test_event_is_one_delivery_to_that_channel_only(
    store: InMemoryStore, clock: FakeClock, notifier: FakeNotifier
) -> None:
    channel, other = register(store, clock, notifier), register(store, clock, notifier)
    event = SendTestEvent(uow(store), clock).execute(channel.id)
    assert event.type is EventType.TEST
    assert event.change is None
    assert event.occurred_at == clock.now()
    [delivery] = ListDeliveries(uow(store)).execute(channel.id).items
    assert (delivery.event_id, delivery.status, delivery.next_attempt_at) == (
        event.id,
        DeliveryStatus.PENDING,
        clock.now(),
    )
    assert ListDeliveries(uow(store)).execute(other.id).items == []
    assert ListEvents(uow(store)).execute().items == []


def test_a_disabled_channel_gets_no_test_event(
    store: InMemoryStore, clock: FakeClock, notifier: FakeNotifier
) -> None:
    channel = register(store, clock, notifier, enabled=False)
    with pytest.raises(ChannelDisabled):
        SendTestEvent(uow(store), clock).execute(channel.id)
    assert store.events == []
    assert store.deliveries == {}
    with pytest.raises(ChannelNotFound):
        SendTestEvent(uow(store), clock).execute(ChannelId(99))


def test_deliveries_are_paged_in_id_order_and_filtered_by_status(
    store: InMemoryStore, clock: FakeClock, notifier: FakeNotifier
) -> None:
    channel = register(store, clock, notifier)
    failed = failed_delivery(store, channel)
    tests = [SendTestEvent(uow(store), clock).execute(channel.id) for _ in range(3)]
    listing = ListDeliveries(uow(store))
    first = listing.execute(channel.id, limit=2)
    assert [d.id for d in first.items] == [failed.id, failed.id + 1]
    assert first.next_cursor == failed.id + 1
    rest = listing.execute(channel.id, after=first.next_cursor, limit=2)
    assert [d.event_id for d in rest.items] == [event.id for event in tests[1:]]
    assert rest.next_cursor is None
    assert [d.id for d in listing.execute(channel.id, status=DeliveryStatus.FAILED).items] == [failed.id]
    with pytest.raises(ChannelNotFound):
        listing.execute(ChannelId(99))
    with pytest.raises(InvalidField):
        listing.execute(channel.id, limit=0)


def test_a_failed_delivery_is_queued_again_with_fresh_attempts(
    store: InMemoryStore, clock: FakeClock, notifier: FakeNotifier
) -> None:
    channel = register(store, clock, notifier)
    failed = failed_delivery(store, channel)
    clock.advance(3600)
    retried = RetryDelivery(uow(store), clock).execute(channel.id, failed.id)
    assert (retried.status, retried.attempts, retried.next_attempt_at) == (
        DeliveryStatus.PENDING,
        0,
        clock.now(),
    )
    assert retried.event_id == failed.event_id
    [stored] = ListDeliveries(uow(store)).execute(channel.id).items
    assert stored == retried


def test_only_a_failed_delivery_can_be_retried(
    store: InMemoryStore, clock: FakeClock, notifier: FakeNotifier
) -> None:
    channel, other = register(store, clock, notifier), register(store, clock, notifier)
    SendTestEvent(uow(store), clock).execute(channel.id)
    [pending] = ListDeliveries(uow(store)).execute(channel.id).items
    with pytest.raises(DeliveryNotFailed):
        RetryDelivery(uow(store), clock).execute(channel.id, pending.id)
    with pytest.raises(DeliveryNotFound):
        RetryDelivery(uow(store), clock).execute(other.id, pending.id)
    with pytest.raises(DeliveryNotFound):
        RetryDelivery(uow(store), clock).execute(channel.id, DeliveryId(99))
    with pytest.raises(ChannelNotFound):
        RetryDelivery(uow(store), clock).execute(ChannelId(99), pending.id)
    assert ListDeliveries(uow(store)).execute(channel.id).items == [pending]
