"""AppriseNotifier against a real local json:// receiver, and apprise's own URL parsing for url_problem."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpServer

from healthmon.adapters.apprise_notifier import NOT_SENT, AppriseNotifier
from healthmon.domain.channels import ChannelKind
from healthmon.domain.deliveries import AttemptOutcome
from healthmon.domain.events import EventId, EventType, RecordedEvent
from healthmon.domain.health import HealthState
from healthmon.domain.outbound import OutboundPolicy, parse_networks
from tests.alert_factories import apprise_channel, certificate_expiring, health_changed
from tests.fakes import EPOCH
from tests.integration.targets import refused_url

pytestmark = pytest.mark.timeout(20)


async def json_receiver(aiohttp_server: AiohttpServer, status: int = 200) -> tuple[str, list[dict[str, Any]]]:
    """A json:// URL of a local receiver, and the list its notifications land in."""
    received: list[dict[str, Any]] = []

    async def notify(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(status=status)

    app = web.Application()
    app.router.add_post("/notify", notify)
    server = await aiohttp_server(app)
    return f"json://127.0.0.1:{server.port}/notify", received


async def test_a_health_change_is_delivered_with_a_title_and_body(aiohttp_server: AiohttpServer) -> None:
    url, received = await json_receiver(aiohttp_server)
    outcome = await AppriseNotifier(timeout_seconds=5).send(apprise_channel(url), health_changed())
    assert outcome == AttemptOutcome(delivered=True)
    [notification] = received
    assert notification["title"] == "healthmon: server 7 is unhealthy"
    assert notification["type"] == "failure"
    assert "from healthy to unhealthy at 2026-01-01T00:00:00+00:00" in notification["message"]
    assert "HTTP 500" in notification["message"]
    assert "evt_00000001" in notification["message"]


async def test_a_recovery_is_a_success_notification(aiohttp_server: AiohttpServer) -> None:
    url, received = await json_receiver(aiohttp_server)
    event = health_changed(from_state=HealthState.UNHEALTHY, to_state=HealthState.HEALTHY)
    assert (await AppriseNotifier(timeout_seconds=5).send(apprise_channel(url), event)).delivered
    assert [(n["title"], n["type"]) for n in received] == [("healthmon: server 7 is healthy", "success")]


async def test_a_test_event_is_a_test_notification(aiohttp_server: AiohttpServer) -> None:
    url, received = await json_receiver(aiohttp_server)
    event = RecordedEvent(
        id=EventId("evt_test"), sequence=1, type=EventType.TEST, occurred_at=EPOCH, change=None
    )
    assert (await AppriseNotifier(timeout_seconds=5).send(apprise_channel(url), event)).delivered
    assert received[0]["title"] == "healthmon: test notification"


async def test_a_receiver_that_fails_is_a_failed_attempt(aiohttp_server: AiohttpServer) -> None:
    url, received = await json_receiver(aiohttp_server, status=500)
    outcome = await AppriseNotifier(timeout_seconds=5).send(apprise_channel(url), health_changed())
    assert outcome == AttemptOutcome(delivered=False, error=NOT_SENT)
    assert len(received) == 1


async def test_an_unreachable_receiver_is_a_failed_attempt() -> None:
    url = refused_url().replace("http://", "json://")
    outcome = await AppriseNotifier(timeout_seconds=5).send(apprise_channel(url), health_changed())
    assert outcome == AttemptOutcome(delivered=False, error=NOT_SENT)


async def test_a_slow_receiver_fails_within_the_timeout(aiohttp_server: AiohttpServer) -> None:
    release = asyncio.Event()

    async def stall(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response()

    app = web.Application()
    app.router.add_post("/", stall)
    server = await aiohttp_server(app)
    loop = asyncio.get_running_loop()
    started = loop.time()
    outcome = await AppriseNotifier(timeout_seconds=0.5).send(
        apprise_channel(f"json://127.0.0.1:{server.port}/"), health_changed()
    )
    elapsed = loop.time() - started
    release.set()
    assert not outcome.delivered
    assert elapsed < 3


@pytest.mark.parametrize(
    "url",
    [
        "json://127.0.0.1:8000/",
        "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7F",
        "mailto://user:pass@example.com",
    ],
)
def test_urls_an_apprise_plugin_understands_break_no_rule(url: str) -> None:
    assert AppriseNotifier(timeout_seconds=1).url_problem(ChannelKind.APPRISE, url) is None


@pytest.mark.parametrize("url", ["nosuchplugin://x/y", "slack://", "https//missing-colon"])
def test_urls_no_apprise_plugin_understands_break_a_rule(url: str) -> None:
    problem = AppriseNotifier(timeout_seconds=1).url_problem(ChannelKind.APPRISE, url)
    assert problem is not None
    assert "apprise" in problem


def test_webhook_urls_are_not_apprise_s_business() -> None:
    assert AppriseNotifier(timeout_seconds=1).url_problem(ChannelKind.WEBHOOK, "https://x.test/") is None


async def test_a_certificate_warning_is_a_warning_with_the_expiry(aiohttp_server: AiohttpServer) -> None:
    url, received = await json_receiver(aiohttp_server)
    outcome = await AppriseNotifier(timeout_seconds=5).send(apprise_channel(url), certificate_expiring())
    assert outcome == AttemptOutcome(delivered=True)
    [notification] = received
    assert notification["title"] == "healthmon: server 7's TLS certificate expires in 6 days"
    assert notification["type"] == "warning"
    assert "expires at 2026-01-07T12:00:00+00:00, within 7 days" in notification["message"]


async def test_a_channel_on_a_denied_address_is_not_sent_to(aiohttp_server: AiohttpServer) -> None:
    url, received = await json_receiver(aiohttp_server)
    policy = OutboundPolicy(deny=parse_networks("127.0.0.0/8"))
    outcome = await AppriseNotifier(timeout_seconds=5, policy=policy).send(
        apprise_channel(url), health_changed()
    )
    assert outcome == AttemptOutcome(
        delivered=False, error="blocked by the outbound network policy: 127.0.0.1"
    )
    assert received == []
