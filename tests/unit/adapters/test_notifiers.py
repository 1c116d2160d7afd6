"""NotifierByKind: each channel goes to the notifier of its kind."""

from __future__ import annotations

import pytest

from healthmon.adapters.notifiers import NotifierByKind
from healthmon.domain.channels import ChannelId, ChannelKind
from healthmon.domain.deliveries import AttemptOutcome
from tests.alert_factories import apprise_channel, health_changed, webhook_channel
from tests.fakes import FakeNotifier


async def test_sends_each_channel_through_the_notifier_of_its_kind() -> None:
    webhooks, apprise = FakeNotifier(), FakeNotifier()
    apprise.answer(ChannelId(2), AttemptOutcome(delivered=False, error="no"))
    notifier = NotifierByKind({ChannelKind.WEBHOOK: webhooks, ChannelKind.APPRISE: apprise})
    event = health_changed()
    assert (await notifier.send(webhook_channel("https://hook.test/"), event)).delivered
    assert not (await notifier.send(apprise_channel("json://hook.test/"), event)).delivered
    assert webhooks.sent == [(ChannelId(1), event.id)]
    assert apprise.sent == [(ChannelId(2), event.id)]


def test_asks_the_notifier_of_the_kind_about_a_url() -> None:
    webhooks, apprise = FakeNotifier(), FakeNotifier()
    apprise.bad_urls.add("nope://x")
    notifier = NotifierByKind({ChannelKind.WEBHOOK: webhooks, ChannelKind.APPRISE: apprise})
    assert notifier.url_problem(ChannelKind.APPRISE, "nope://x") == "is not understood"
    assert notifier.url_problem(ChannelKind.WEBHOOK, "nope://x") is None


def test_every_kind_needs_a_notifier() -> None:
    with pytest.raises(ValueError, match="apprise"):
        NotifierByKind({ChannelKind.WEBHOOK: FakeNotifier()})
