"""The outbound policy where probes connect: literal addresses, resolved names, redirects, mapped IPv6."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pytest_aiohttp import AiohttpServer
from yarl import URL

from healthmon.adapters.aiohttp_prober import AiohttpProber, open_client_session
from healthmon.domain.outbound import OutboundPolicy, parse_networks
from healthmon.domain.probe import ErrorKind, ProbeResult
from healthmon.domain.webserver import Webserver, WebserverId
from tests.factories import settings
from tests.fakes import EPOCH
from tests.integration.targets import FakeResolver, TargetSite, hop_url

pytestmark = pytest.mark.timeout(15)

# Loopback is 127.0.0.0/8; these tests deny the part of it the target sites do not listen on.
DENIED = "127.0.0.2"
POLICY = OutboundPolicy(deny=parse_networks("127.0.0.2/32, 169.254.169.254/32"))


def webserver(url: str | URL) -> Webserver:
    return Webserver(id=WebserverId(7), settings=settings(url=str(url)), created_at=EPOCH, updated_at=EPOCH)


def assert_blocked(result: ProbeResult, address: str) -> None:
    assert (result.success, result.status_code, result.error_kind) == (False, None, ErrorKind.BLOCKED)
    assert result.error_message == f"blocked by the outbound network policy: {address}"


@pytest.fixture
def resolver() -> FakeResolver:
    return FakeResolver(
        {"allowed.test": "127.0.0.1", "denied.test": DENIED, "mapped.test": "::ffff:127.0.0.2"}
    )


@pytest.fixture
async def prober(resolver: FakeResolver) -> AsyncIterator[AiohttpProber]:
    # No DNS cache: each probe asks the resolver again, as a rebinding attacker wants.
    async with open_client_session(resolver=resolver, policy=POLICY, dns_cache_seconds=0) as session:
        yield AiohttpProber(session)


@pytest.fixture
async def site(aiohttp_server: AiohttpServer) -> tuple[TargetSite, URL]:
    target = TargetSite()
    server = await aiohttp_server(target.app, host="127.0.0.1")
    return target, server.make_url("/ok")


async def test_an_allowed_address_is_probed_as_usual(
    prober: AiohttpProber, site: tuple[TargetSite, URL]
) -> None:
    _, url = site
    result = await prober.probe(webserver(url.with_host("allowed.test")))
    assert (result.success, result.status_code) == (True, 200)


@pytest.mark.parametrize(
    "url",
    [
        pytest.param(f"http://{DENIED}:8080/", id="literal"),
        pytest.param("http://denied.test:8080/", id="resolved-name"),
        pytest.param("http://[::ffff:127.0.0.2]:8080/", id="ipv4-mapped-literal"),
        pytest.param("http://mapped.test:8080/", id="name-resolving-to-ipv4-mapped"),
    ],
)
async def test_a_denied_address_is_a_blocked_failure_naming_it(prober: AiohttpProber, url: str) -> None:
    result = await prober.probe(webserver(url))
    address = "::ffff:127.0.0.2" if "mapped" in url or "::ffff" in url else DENIED
    assert_blocked(result, address)


async def test_the_metadata_address_is_denied_by_default_without_a_packet_sent() -> None:
    # The socket factory refuses before a socket exists, so this test sends nothing anywhere.
    async with open_client_session() as session:
        result = await AiohttpProber(session).probe(webserver("http://169.254.169.254/latest/meta-data/"))
    assert_blocked(result, "169.254.169.254")


async def test_a_redirect_to_a_denied_address_is_blocked_at_that_hop(
    prober: AiohttpProber, site: tuple[TargetSite, URL]
) -> None:
    target, url = site
    result = await prober.probe(webserver(hop_url(url, URL(f"http://{DENIED}:{url.port}/ok"))))
    assert_blocked(result, DENIED)
    assert [seen.path for seen in target.seen] == ["/hop"]


async def test_a_name_that_rebinds_to_a_denied_address_is_blocked_at_connect_time(
    prober: AiohttpProber, resolver: FakeResolver, site: tuple[TargetSite, URL]
) -> None:
    target, url = site
    rebinding = webserver(url.with_host("rebind.test"))
    resolver.table["rebind.test"] = "127.0.0.1"
    first = await prober.probe(rebinding)
    resolver.table["rebind.test"] = DENIED
    second = await prober.probe(rebinding)
    assert first.success
    assert_blocked(second, DENIED)
    assert len(target.seen) == 1
