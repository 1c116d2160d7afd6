"""WebhookNotifier against real receivers on loopback: signed per Standard Webhooks, failures are outcomes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import aiohttp
import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpServer
from standardwebhooks import Webhook

from healthmon import __version__
from healthmon.adapters.webhook_notifier import (
    WebhookNotifier,
    open_delivery_session,
    retry_after_seconds,
)
from healthmon.domain.channels import ChannelKind
from healthmon.domain.deliveries import AttemptOutcome
from healthmon.domain.outbound import OutboundPolicy, parse_networks
from tests.alert_factories import SECRET, certificate_expiring, health_changed, webhook_channel
from tests.fakes import EPOCH
from tests.integration.targets import FakeResolver, hang, raw_target, refused_url

pytestmark = pytest.mark.timeout(15)

TIMEOUT_SECONDS = 0.5


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with open_delivery_session(limit=4) as session:
        yield session


@pytest.fixture
def notifier(session: aiohttp.ClientSession) -> WebhookNotifier:
    return WebhookNotifier(session, timeout_seconds=TIMEOUT_SECONDS)


class Receiver:
    """A webhook receiver that records each request and answers with the statuses it is given, in turn."""

    def __init__(self, *statuses: int, headers: dict[str, str] | None = None) -> None:
        self.statuses = list(statuses)
        self.headers = headers or {}
        self.requests: list[tuple[bytes, dict[str, str]]] = []
        self.app = web.Application()
        self.app.router.add_post("/hook", self._hook)
        self.app.router.add_post("/elsewhere", self._hook)

    async def _hook(self, request: web.Request) -> web.Response:
        self.requests.append((await request.read(), dict(request.headers)))
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return web.Response(status=status, headers=self.headers)


async def serve(aiohttp_server: AiohttpServer, receiver: Receiver) -> str:
    server = await aiohttp_server(receiver.app)
    return str(server.make_url("/hook"))


async def test_a_2xx_is_delivered_and_the_signature_verifies_with_standardwebhooks(
    aiohttp_server: AiohttpServer, notifier: WebhookNotifier
) -> None:
    receiver = Receiver(204)
    event = health_changed()
    outcome = await notifier.send(webhook_channel(await serve(aiohttp_server, receiver)), event)
    assert outcome == AttemptOutcome(delivered=True, status_code=204)
    [(body, headers)] = receiver.requests
    verified = Webhook(SECRET).verify(body, headers)
    assert verified["type"] == "webserver.health_changed"
    assert headers["webhook-id"] == event.id
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == f"healthmon/{__version__}"
    assert abs(int(headers["webhook-timestamp"]) - datetime.now(UTC).timestamp()) < 5


async def test_the_body_is_compact_json_with_the_event_as_data(
    aiohttp_server: AiohttpServer, notifier: WebhookNotifier
) -> None:
    receiver = Receiver(200)
    await notifier.send(webhook_channel(await serve(aiohttp_server, receiver)), health_changed())
    [(body, headers)] = receiver.requests
    assert b": " not in body
    assert b", " not in body
    payload = json.loads(body)
    assert datetime.fromisoformat(payload["timestamp"]).timestamp() == pytest.approx(
        int(headers["webhook-timestamp"]), abs=1
    )
    assert payload["type"] == "webserver.health_changed"
    assert payload["data"] == {
        "id": "evt_00000001",
        "type": "webserver.health_changed",
        "webserver_id": 7,
        "webserver": {"id": 7, "name": "server 7", "url": "http://server.test/health"},
        "from": "healthy",
        "to": "unhealthy",
        "occurred_at": "2026-01-01T00:00:00Z",
        "probe": {
            "started_at": "2026-01-01T00:00:00Z",
            "latency_ms": 3.0,
            "status_code": 500,
            "success": False,
            "error": None,
        },
    }


async def test_a_certificate_event_carries_the_expiry_and_no_change(
    aiohttp_server: AiohttpServer, notifier: WebhookNotifier
) -> None:
    receiver = Receiver(200)
    event = certificate_expiring()
    await notifier.send(webhook_channel(await serve(aiohttp_server, receiver)), event)
    [(body, headers)] = receiver.requests
    payload = Webhook(SECRET).verify(body, headers)
    assert payload["type"] == "webserver.certificate_expiring"
    assert payload["data"] == {
        "id": event.id,
        "type": "webserver.certificate_expiring",
        "webserver_id": 7,
        "webserver": {"id": 7, "name": "server 7", "url": "https://server.test/"},
        "from": None,
        "to": None,
        "occurred_at": "2026-01-01T00:00:00Z",
        "probe": None,
        "certificate": {"expires_at": "2026-01-07T12:00:00Z", "threshold_days": 7, "days_left": 6},
    }


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_a_receiver_the_outbound_policy_denies_is_a_failed_attempt_naming_the_address(
    aiohttp_server: AiohttpServer, host: str
) -> None:
    receiver = Receiver(200)
    server = await aiohttp_server(receiver.app)
    url = str(server.make_url("/hook").with_host(host))
    resolver = FakeResolver({"localhost": "127.0.0.1"})
    policy = OutboundPolicy(deny=parse_networks("127.0.0.0/8"))
    async with open_delivery_session(limit=4, policy=policy, resolver=resolver) as session:
        outcome = await WebhookNotifier(session, timeout_seconds=TIMEOUT_SECONDS).send(
            webhook_channel(url), health_changed()
        )
    assert outcome == AttemptOutcome(
        delivered=False, error="blocked by the outbound network policy: 127.0.0.1"
    )
    assert receiver.requests == []


async def test_a_tampered_body_fails_verification(
    aiohttp_server: AiohttpServer, notifier: WebhookNotifier
) -> None:
    # The check can fail: a receiver with the library rejects a body that is not the one signed.
    receiver = Receiver(200)
    await notifier.send(webhook_channel(await serve(aiohttp_server, receiver)), health_changed())
    [(body, headers)] = receiver.requests
    with pytest.raises(Exception, match="signature"):
        Webhook(SECRET).verify(body.replace(b"unhealthy", b"healthy!!"), headers)


async def test_a_500_is_a_failed_attempt_with_its_status_code(
    aiohttp_server: AiohttpServer, notifier: WebhookNotifier
) -> None:
    url = await serve(aiohttp_server, Receiver(500))
    outcome = await notifier.send(webhook_channel(url), health_changed())
    assert outcome == AttemptOutcome(delivered=False, status_code=500, error="the receiver answered 500")


async def test_a_410_says_the_receiver_is_gone(
    aiohttp_server: AiohttpServer, notifier: WebhookNotifier
) -> None:
    url = await serve(aiohttp_server, Receiver(410))
    outcome = await notifier.send(webhook_channel(url), health_changed())
    assert (outcome.delivered, outcome.status_code, outcome.gone) == (False, 410, True)


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_in_seconds_is_reported(
    aiohttp_server: AiohttpServer, notifier: WebhookNotifier, status: int
) -> None:
    url = await serve(aiohttp_server, Receiver(status, headers={"Retry-After": "120"}))
    outcome = await notifier.send(webhook_channel(url), health_changed())
    assert (outcome.delivered, outcome.status_code, outcome.retry_after_seconds) == (False, status, 120.0)


async def test_retry_after_as_an_http_date_is_reported_in_seconds(
    aiohttp_server: AiohttpServer, notifier: WebhookNotifier
) -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    url = await serve(aiohttp_server, Receiver(429, headers={"Retry-After": later}))
    outcome = await notifier.send(webhook_channel(url), health_changed())
    assert outcome.retry_after_seconds == pytest.approx(90, abs=3)


async def test_retry_after_is_ignored_on_other_statuses(
    aiohttp_server: AiohttpServer, notifier: WebhookNotifier
) -> None:
    url = await serve(aiohttp_server, Receiver(500, headers={"Retry-After": "120"}))
    outcome = await notifier.send(webhook_channel(url), health_changed())
    assert outcome.retry_after_seconds is None


def test_retry_after_values_that_say_nothing_are_none() -> None:
    assert retry_after_seconds(None, EPOCH) is None
    assert retry_after_seconds("soon", EPOCH) is None
    assert retry_after_seconds("-5", EPOCH) is None
    assert retry_after_seconds("Thu, 01 Jan 2026 00:00:30 GMT", EPOCH) == 30
    assert retry_after_seconds("Wed, 31 Dec 2025 23:00:00 GMT", EPOCH) == 0


async def test_a_redirect_is_not_followed(aiohttp_server: AiohttpServer, notifier: WebhookNotifier) -> None:
    receiver = Receiver(200)

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect("/elsewhere")

    receiver.app.router.add_post("/moved", moved)
    server = await aiohttp_server(receiver.app)
    outcome = await notifier.send(webhook_channel(str(server.make_url("/moved"))), health_changed())
    assert (outcome.delivered, outcome.status_code) == (False, 307)
    assert outcome.error is not None
    assert "redirect" in outcome.error
    assert receiver.requests == []


async def test_a_receiver_that_never_answers_times_out(notifier: WebhookNotifier) -> None:
    async with raw_target(hang) as target:
        started = asyncio.get_running_loop().time()
        outcome = await notifier.send(webhook_channel(target.url), health_changed())
        elapsed = asyncio.get_running_loop().time() - started
    assert outcome == AttemptOutcome(delivered=False, error=f"no response within {TIMEOUT_SECONDS:g} s")
    assert TIMEOUT_SECONDS <= elapsed < TIMEOUT_SECONDS + 1


async def test_a_refused_connection_is_a_failed_attempt(notifier: WebhookNotifier) -> None:
    outcome = await notifier.send(webhook_channel(refused_url()), health_changed())
    assert (outcome.delivered, outcome.status_code) == (False, None)
    assert outcome.error is not None
    assert outcome.error.startswith("connection refused")


async def test_every_attempt_is_signed_afresh_with_the_same_webhook_id(
    aiohttp_server: AiohttpServer, notifier: WebhookNotifier
) -> None:
    receiver = Receiver(500, 200)
    channel = webhook_channel(await serve(aiohttp_server, receiver))
    event = health_changed()
    assert not (await notifier.send(channel, event)).delivered
    assert (await notifier.send(channel, event)).delivered
    ids = [headers["webhook-id"] for _, headers in receiver.requests]
    assert ids == [event.id, event.id]
    for body, headers in receiver.requests:
        Webhook(SECRET).verify(body, headers)


def test_webhook_urls_are_left_to_the_domain_rules(session: aiohttp.ClientSession) -> None:
    assert (
        WebhookNotifier(session, timeout_seconds=1).url_problem(ChannelKind.WEBHOOK, "https://x.test/")
        is None
    )
