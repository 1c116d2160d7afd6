"""Use cases that register, change, remove, read and test alert channels, and read and retry their deliveries.

A channel's URL may hold tokens (slack://T/B/C) and a webhook's secret signs every delivery: neither
is ever written to the log, only ids and kinds are.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import secrets

from healthmon.application.ports import Clock, Notifier, UnitOfWork
from healthmon.application.use_cases.outbound_urls import check_outbound
from healthmon.application.use_cases.paging import DEFAULT_PAGE_SIZE, Page, check_limit
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
from healthmon.domain.events import EventType, RecordedEvent
from healthmon.domain.outbound import OutboundPolicy

logger = logging.getLogger(__name__)


def new_secret() -> str:
    """A fresh Standard Webhooks signing secret: the prefix and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def require_channel(channel: Channel | None, channel_id: ChannelId) -> Channel:
    """The channel, or ChannelNotFound when it is gone."""
    if channel is None:
        raise ChannelNotFound(channel_id)
    return channel


def _check_url(notifier: Notifier, policy: OutboundPolicy, kind: ChannelKind, url: str) -> None:
    # The domain checks the URL's shape; only the notifier knows what it can send to (apprise's plugins).
    rule = notifier.url_problem(kind, url)
    if rule is not None:
        raise InvalidField.single("url", rule)
    check_outbound(policy, url)


class RegisterChannel:
    """Register a channel that alerts are sent to.

    - The settings are already validated by ChannelSettings; the notifier must also understand the
      URL (apprise must know a plugin for it), or InvalidField names the url.
    - A URL whose host is an IP address the outbound policy denies is refused the same way.
    - A webhook registered without a secret gets a new one (whsec_ and 32 random bytes); the
      channel returned holds it in full, which is the only time it is shown.
    - A channel starts enabled unless the settings say otherwise.
    """

    def __init__(
        self, uow: UnitOfWork, clock: Clock, notifier: Notifier, policy: OutboundPolicy | None = None
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._notifier = notifier
        self._policy = policy if policy is not None else OutboundPolicy()

    def execute(self, settings: ChannelSettings) -> Channel:
        """Store the channel and return it with its id and its secret."""
        _check_url(self._notifier, self._policy, settings.kind, settings.url)
        if settings.kind is ChannelKind.WEBHOOK and settings.secret is None:
            settings = dataclasses.replace(settings, secret=new_secret())
        with self._uow as uow:
            channel = uow.channels.add(settings, self._clock.now())
            uow.commit()
        logger.info("channel %s: registered (%s)", channel.id, settings.kind.value)
        return channel


class ListChannels:
    """List every channel, in id order (there are few)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def execute(self) -> list[Channel]:
        """Every channel."""
        with self._uow as uow:
            return uow.channels.all()


class GetChannel:
    """Read one channel; an unknown id raises ChannelNotFound."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def execute(self, channel_id: ChannelId) -> Channel:
        """The channel."""
        with self._uow as uow:
            return require_channel(uow.channels.get(channel_id), channel_id)


class UpdateChannel:
    """Change some of a channel's settings.

    - Fields left as None keep their value; the result is validated as a whole, and a new URL
      must be one the notifier understands. The kind never changes.
    - Enabling a channel clears the reason healthmon gave for disabling it (e.g. a 410); the
      deliveries that waited while it was disabled then go out.
    - A change that changes nothing writes nothing and keeps updated_at.
    - The row is locked while it changes, so a concurrent change (or a 410) is never lost.
    """

    def __init__(
        self, uow: UnitOfWork, clock: Clock, notifier: Notifier, policy: OutboundPolicy | None = None
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._notifier = notifier
        self._policy = policy if policy is not None else OutboundPolicy()

    def execute(self, channel_id: ChannelId, changes: ChannelChanges) -> Channel:
        """Apply the changes and return the updated channel."""
        with self._uow as uow:
            current = require_channel(uow.channels.get(channel_id, lock=True), channel_id)
            settings = changes.apply_to(current.settings)
            if settings.url != current.settings.url:
                _check_url(self._notifier, self._policy, settings.kind, settings.url)
            reason = current.disabled_reason if not settings.enabled else None
            if settings == current.settings and reason == current.disabled_reason:
                return current
            updated = dataclasses.replace(
                current, settings=settings, disabled_reason=reason, updated_at=self._clock.now()
            )
            uow.channels.save(updated)
            uow.commit()
        changed = [
            field.name
            for field in dataclasses.fields(settings)
            if getattr(settings, field.name) != getattr(current.settings, field.name)
        ]
        logger.info("channel %s: changed %s", channel_id, ", ".join(changed) or "disabled_reason")
        return updated


class RemoveChannel:
    """Remove a channel and its deliveries (pending ones are never sent).

    - Removing an unknown id raises ChannelNotFound.
    - The events stay: they are history and may have gone to other channels.
    """

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def execute(self, channel_id: ChannelId) -> None:
        """Delete the channel."""
        with self._uow as uow:
            if not uow.channels.remove(channel_id):
                raise ChannelNotFound(channel_id)
            uow.commit()
        logger.info("channel %s: removed", channel_id)


class SendTestEvent:
    """Send a test event to one channel, through the workers like any other event.

    - The event is a webhook.test event (about no webserver, never in the feed), dated now, with one
      delivery, to this channel only, due at once; both are stored in one transaction.
    - A disabled channel sends nothing: ChannelDisabled (a conflict) and nothing is stored.
    - An unknown channel raises ChannelNotFound.
    """

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def execute(self, channel_id: ChannelId) -> RecordedEvent:
        """Store the test event and its delivery; return the event."""
        with self._uow as uow:
            # Locked, so the channel cannot be disabled or removed between the check and the insert.
            channel = require_channel(uow.channels.get(channel_id, lock=True), channel_id)
            if not channel.settings.enabled:
                raise ChannelDisabled(channel_id)
            now = self._clock.now()
            event = uow.events.add(EventType.TEST, now, None)
            uow.deliveries.add_many(event, [channel.id], due=now)
            uow.commit()
        logger.info("channel %s: test event %s queued", channel_id, event.id)
        return event


class ListDeliveries:
    """List one channel's deliveries (one per event sent to it).

    - Stable order: ascending id, which is the order they were queued in.
    - Optional filter on one status.
    - Keyset pagination: pass the previous page's next_cursor to get the next page.
    - An unknown channel raises ChannelNotFound (a channel with no deliveries is an empty page).
    """

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def execute(
        self,
        channel_id: ChannelId,
        *,
        status: DeliveryStatus | None = None,
        after: DeliveryId | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
    ) -> Page[Delivery, DeliveryId]:
        """One page of the channel's deliveries with ids greater than `after`."""
        check_limit(limit)
        with self._uow as uow:
            require_channel(uow.channels.get(channel_id), channel_id)
            rows = uow.deliveries.list(channel_id, status=status, after=after, limit=limit + 1)
        items = rows[:limit]
        return Page(items, items[-1].id if len(rows) > limit else None)


class RetryDelivery:
    """Put a failed delivery back in the queue.

    - Only a delivery that has failed for good can be retried; any other raises DeliveryNotFailed
      (a conflict) and nothing changes.
    - It is due at once, with a fresh set of attempts, and keeps its event (so its webhook-id).
    - To a disabled channel it waits, like every delivery, until the channel is enabled again.
    - An unknown channel raises ChannelNotFound; a delivery of another channel, DeliveryNotFound.
    """

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def execute(self, channel_id: ChannelId, delivery_id: DeliveryId) -> Delivery:
        """Queue the delivery again and return it."""
        with self._uow as uow:
            require_channel(uow.channels.get(channel_id), channel_id)
            delivery = uow.deliveries.get(channel_id, delivery_id, lock=True)
            if delivery is None:
                raise DeliveryNotFound(channel_id, delivery_id)
            if delivery.status is not DeliveryStatus.FAILED:
                raise DeliveryNotFailed(delivery_id, delivery.status.value)
            retried = delivery.retried(self._clock.now())
            uow.deliveries.save(retried)
            uow.commit()
        logger.info("channel %s: delivery %s queued again", channel_id, delivery_id)
        return retried
