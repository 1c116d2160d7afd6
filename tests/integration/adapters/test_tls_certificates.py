"""Probes read the expiry of the certificate a real local TLS server presents, only when it verified."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from pytest_aiohttp import AiohttpServer
from yarl import URL

from healthmon.adapters.aiohttp_prober import AiohttpProber, open_client_session
from healthmon.domain.probe import ErrorKind
from healthmon.domain.webserver import Webserver, WebserverId
from tests.factories import settings
from tests.fakes import EPOCH
from tests.integration.targets import FakeResolver, TargetSite, TlsPair, hop_url, throwaway_tls

pytestmark = pytest.mark.timeout(15)

# A certificate's times have whole seconds.
EXPIRES_AT = (datetime.now(UTC) + timedelta(days=10)).replace(microsecond=0)


def webserver(url: str | URL, **overrides: object) -> Webserver:
    return Webserver(
        id=WebserverId(7), settings=settings(url=str(url), **overrides), created_at=EPOCH, updated_at=EPOCH
    )


@pytest.fixture
def tls() -> TlsPair:
    return throwaway_tls(not_after=EXPIRES_AT)


@pytest.fixture
async def prober(tls: TlsPair) -> AsyncIterator[AiohttpProber]:
    resolver = FakeResolver({"localhost": "127.0.0.1"})
    async with open_client_session(ssl_context=tls.trusting_client, resolver=resolver) as session:
        yield AiohttpProber(session)


@pytest.fixture
async def https_url(aiohttp_server: AiohttpServer, tls: TlsPair) -> URL:
    server = await aiohttp_server(TargetSite().app, ssl=tls.server, host="127.0.0.1")
    return server.make_url("/ok")


async def test_a_verified_handshake_reports_when_the_certificate_expires(
    prober: AiohttpProber, https_url: URL
) -> None:
    result = await prober.probe(webserver(https_url))
    assert result.success
    assert result.tls_expires_at == EXPIRES_AT


async def test_a_failed_status_still_reports_the_certificate(prober: AiohttpProber, https_url: URL) -> None:
    result = await prober.probe(webserver(https_url.with_path("/status/503")))
    assert (result.success, result.status_code) == (False, 503)
    assert result.tls_expires_at == EXPIRES_AT


async def test_plain_http_has_no_certificate(prober: AiohttpProber, aiohttp_server: AiohttpServer) -> None:
    server = await aiohttp_server(TargetSite().app, host="127.0.0.1")
    result = await prober.probe(webserver(server.make_url("/ok")))
    assert result.success
    assert result.tls_expires_at is None


async def test_an_unverified_handshake_reports_no_expiry(prober: AiohttpProber, https_url: URL) -> None:
    result = await prober.probe(webserver(https_url, verify_tls=False))
    assert result.success
    assert result.tls_expires_at is None


async def test_an_expired_certificate_stays_a_tls_failure(aiohttp_server: AiohttpServer) -> None:
    now = datetime.now(UTC)
    expired = throwaway_tls(not_before=now - timedelta(days=30), not_after=now - timedelta(days=1))
    server = await aiohttp_server(TargetSite().app, ssl=expired.server, host="127.0.0.1")
    async with open_client_session(ssl_context=expired.trusting_client) as session:
        result = await AiohttpProber(session).probe(webserver(server.make_url("/ok")))
    assert result.error_kind is ErrorKind.TLS
    assert result.error_message is not None
    assert "expired" in result.error_message
    assert result.tls_expires_at is None


async def test_a_redirect_to_another_host_reports_no_certificate_of_this_one(
    prober: AiohttpProber, https_url: URL
) -> None:
    # The certificate names both; the final answer comes from `localhost`, which is not the URL's host.
    elsewhere = hop_url(https_url, https_url.with_host("localhost"))
    result = await prober.probe(webserver(elsewhere))
    assert result.success
    assert result.tls_expires_at is None


async def test_a_redirect_on_the_same_host_reports_its_certificate(
    prober: AiohttpProber, https_url: URL
) -> None:
    result = await prober.probe(webserver(https_url.with_path("/moved")))
    assert (result.success, result.tls_expires_at) == (True, EXPIRES_AT)
