"""Webhook delivery (Standard Webhooks): one signed POST per attempt; every failure is an outcome."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus

import aiohttp
import msgspec
from aiohttp.abc import AbstractResolver

from healthmon import __version__
from healthmon.adapters.aiohttp_prober import describe_failure
from healthmon.adapters.event_json import event_data
from healthmon.adapters.outbound_guard import PolicyResolver, guarded_socket_factory
from healthmon.application.ports import Notifier
from healthmon.domain.channels import SECRET_PREFIX, Channel, ChannelKind
from healthmon.domain.deliveries import AttemptOutcome
from healthmon.domain.events import RecordedEvent
from healthmon.domain.outbound import OutboundPolicy

logger = logging.getLogger(__name__)

USER_AGENT = f"healthmon/{__version__}"
SIGNATURE_VERSION = "v1"
# The statuses whose Retry-After says when to come back.
RETRY_AFTER_STATUSES = frozenset({HTTPStatus.TOO_MANY_REQUESTS, HTTPStatus.SERVICE_UNAVAILABLE})
# aiohttp's total timeout normally ends an attempt; this outer guard catches a step it fails to bound.
GUARD_GRACE_SECONDS = 1.0


@asynccontextmanager
async def open_delivery_session(
    *,
    limit: int,
    limit_per_host: int | None = None,
    policy: OutboundPolicy | None = None,
    resolver: AbstractResolver | None = None,
) -> AsyncIterator[aiohttp.ClientSession]:
    """The ClientSession deliveries go through, apart from the prober's; closed when the block ends.

    - At most `limit` connections at once (and `limit_per_host` to one receiver), so a flood of
      deliveries can neither starve the probes nor swamp one receiver.
    - Keep-alive is on: one receiver getting many events reuses its connections.
    - The outbound policy (None: the default one) is checked on each connection's resolved address,
      as for probes (outbound_guard.py); resolver None is the system's.
    """
    policy = policy if policy is not None else OutboundPolicy()
    # Built here, inside the event loop, because aiohttp's threaded resolver binds to the running loop.
    looked_up = resolver if resolver is not None else aiohttp.DefaultResolver()
    connector = aiohttp.TCPConnector(
        resolver=PolicyResolver(looked_up, policy),
        socket_factory=guarded_socket_factory(policy),
        limit=limit,
        limit_per_host=limit if limit_per_host is None else limit_per_host,
        # The timeout given is the deadline meant, not one rounded up to a whole second.
        timeout_ceil_threshold=math.inf,
    )
    session = aiohttp.ClientSession(
        connector=connector,
        headers={"User-Agent": USER_AGENT},
        cookie_jar=aiohttp.DummyCookieJar(),
        # No proxy or netrc settings from the environment: what is sent where is the channel's URL alone.
        trust_env=False,
    )
    try:
        yield session
    finally:
        await session.close()
        # A connector closes only the resolver it built itself; this one is ours.
        await looked_up.close()


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The webhook-signature value: v1 and the base64 HMAC-SHA256 of "{id}.{timestamp}.{body}"."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def webhook_body(event: RecordedEvent, at: datetime) -> bytes:
    """The compact JSON body of one attempt: the event type, the attempt's time and the event."""
    return msgspec.json.encode({"type": event.type.value, "timestamp": at, "data": event_data(event)})


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Seconds from a Retry-After header (delay-seconds or an HTTP date); None when it says nothing usable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # an HTTP date is always GMT; a sender that leaves it out still means it
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


class WebhookNotifier(Notifier):
    """POSTs each event, signed with the channel's secret; 2xx is delivered, anything else a failed attempt.

    - Redirects are not followed (a 3xx is a failed attempt): the signature is for this URL only.
    - A 410 says the receiver is gone for good; a 429 or 503 may say when to come back.
    """

    def __init__(self, session: aiohttp.ClientSession, *, timeout_seconds: float) -> None:
        self._session = session
        self._timeout_seconds = timeout_seconds

    def url_problem(self, kind: ChannelKind, url: str) -> str | None:
        # The domain already checks that a webhook URL is absolute http(s) with a host.
        return None

    async def send(self, channel: Channel, event: RecordedEvent) -> AttemptOutcome:
        secret = channel.settings.secret
        if secret is None:
            return AttemptOutcome(delivered=False, error="the webhook channel has no signing secret")
        at = datetime.now(UTC)
        timestamp = int(at.timestamp())
        body = webhook_body(event, at)
        headers = {
            "Content-Type": "application/json",
            "webhook-id": event.id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(secret, event.id, timestamp, body),
        }
        try:
            async with (
                asyncio.timeout(self._timeout_seconds + GUARD_GRACE_SECONDS),
                self._session.post(
                    channel.settings.url,
                    data=body,
                    headers=headers,
                    allow_redirects=False,
                    timeout=aiohttp.ClientTimeout(total=self._timeout_seconds, ceil_threshold=math.inf),
                ) as response,
            ):
                status = response.status
                retry_after = response.headers.get("Retry-After")
        except (aiohttp.ClientError, OSError) as exc:  # TimeoutError is an OSError
            _, message = describe_failure(exc, self._timeout_seconds)
            logger.debug("webhook of channel %s failed: %r", channel.id, exc)
            return AttemptOutcome(delivered=False, error=message)
        return _outcome(status, retry_after)


def _outcome(status: int, retry_after: str | None) -> AttemptOutcome:
    if HTTPStatus.OK <= status < HTTPStatus.MULTIPLE_CHOICES:
        return AttemptOutcome(delivered=True, status_code=status)
    if status == HTTPStatus.GONE:
        return AttemptOutcome(
            delivered=False, status_code=status, error="the receiver answered 410 Gone", gone=True
        )
    if HTTPStatus.MULTIPLE_CHOICES <= status < HTTPStatus.BAD_REQUEST:
        error = f"the receiver answered {status}, a redirect, which deliveries do not follow"
        return AttemptOutcome(delivered=False, status_code=status, error=error)
    return AttemptOutcome(
        delivered=False,
        status_code=status,
        error=f"the receiver answered {status}",
        retry_after_seconds=retry_after_seconds(retry_after, datetime.now(UTC))
        if status in RETRY_AFTER_STATUSES
        else None,
    )
