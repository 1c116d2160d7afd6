"""The notifier the delivery loop uses: each channel goes to the adapter of its kind."""

from __future__ import annotations

from collections.abc import Mapping

from healthmon.application.ports import Notifier
from healthmon.domain.channels import Channel, ChannelKind
from healthmon.domain.deliveries import AttemptOutcome
from healthmon.domain.events import RecordedEvent


class NotifierByKind(Notifier):
    """Dispatches on the channel's kind: webhooks to one notifier, apprise URLs to another."""

    def __init__(self, notifiers: Mapping[ChannelKind, Notifier]) -> None:
        missing = set(ChannelKind) - set(notifiers)
        if missing:
            raise ValueError(f"no notifier for {', '.join(sorted(missing))} channels")
        self._notifiers = dict(notifiers)

    def url_problem(self, kind: ChannelKind, url: str) -> str | None:
        return self._notifiers[kind].url_problem(kind, url)

    async def send(self, channel: Channel, event: RecordedEvent) -> AttemptOutcome:
        return await self._notifiers[channel.settings.kind].send(channel, event)
