"""AiohttpProber against real servers on loopback: every way a server can answer, or fail to."""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from pytest_aiohttp import AiohttpServer
from yarl import URL

from healthmon import __version__
from healthmon.adapters.aiohttp_prober import (
    MAX_HEADER_FIELD_BYTES,
    MAX_HEADER_FIELDS,
    MAX_REDIRECTS,
    MESSAGE_MAX_LENGTH,
    AiohttpProber,
    open_client_session,
)
from healthmon.domain.probe import ErrorKind, ProbeResult
from healthmon.domain.webserver import Webserver, WebserverId
from tests.factories import settings
from tests.fakes import EPOCH
from tests.integration.targets import (
    Behaviour,
    FakeResolver,
    TargetSite,
    TlsPair,
    close_without_answer,
    hang,
    hop_url,
    raw_target,
    refused_url,
    reply,
    reset,
    throwaway_tls,
    turn_url,
)

pytestmark = pytest.mark.timeout(15)

FAST_MS = 500  # a loopback answer takes a few ms; this leaves room for a loaded CI machine
TIMEOUT_MARGIN_MS = 500
# Host names that IDNA cannot encode: an empty label, a label over 63 characters, a character that
# normalises to a dot (⒈ is "1.").
UNENCODABLE_HOSTS = [
    pytest.param("http://./x", id="dot"),
    pytest.param("http://" + "a" * 64 + ".example/", id="long-label"),
    pytest.param("http://⒈.example/", id="normalises-to-a-dot"),
]


def webserver(url: str | URL, **overrides: object) -> Webserver:
    return Webserver(
        id=WebserverId(7),
        settings=settings(url=str(url), **overrides),
        created_at=EPOCH,
        updated_at=EPOCH,
    )


def assert_failed(result: ProbeResult, kind: ErrorKind) -> None:
    assert (result.success, result.status_code, result.error_kind) == (False, None, kind), result
    assert result.error_message
    assert len(result.error_message) <= MESSAGE_MAX_LENGTH
    assert result.error_message.isprintable(), "one line, no control characters"


def with_stored_url(webserver_: Webserver, url: str) -> Webserver:
    """The webserver with a URL that today's checks might refuse, as if stored before they existed."""
    object.__setattr__(webserver_.settings, "url", url)
    return webserver_


@pytest.fixture
def resolver() -> FakeResolver:
    """The only names these tests resolve; every other name fails like an unknown one, on the machine."""
    return FakeResolver({"localhost": "127.0.0.1", "shop.test": "127.0.0.1"})


@pytest.fixture
async def prober(resolver: FakeResolver) -> AsyncIterator[AiohttpProber]:
    async with open_client_session(resolver=resolver) as session:
        yield AiohttpProber(session)


@pytest.fixture(params=["fake", "system"])
async def any_prober(request: pytest.FixtureRequest, resolver: FakeResolver) -> AsyncIterator[AiohttpProber]:
    """A prober on the fake resolver, and one on the production resolver (aiohttp's default)."""
    async with open_client_session(resolver=resolver if request.param == "fake" else None) as session:
        yield AiohttpProber(session)


@pytest.fixture
async def site(aiohttp_server: AiohttpServer) -> tuple[TargetSite, URL]:
    target = TargetSite()
    server = await aiohttp_server(target.app)  # aiohttp_server closes it
    return target, server.make_url("/")


@pytest.fixture(scope="module")
def tls() -> TlsPair:
    return throwaway_tls()


async def test_a_fast_200_is_a_success_timed_from_a_utc_start(
    prober: AiohttpProber, site: tuple[TargetSite, URL]
) -> None:
    _, root = site
    before = datetime.now(UTC)

    result = await prober.probe(webserver(root / "ok"))

    assert (result.success, result.status_code, result.error_kind) == (True, 200, None)
    assert result.webserver_id == WebserverId(7)
    assert 0 < result.latency_ms < FAST_MS
    assert before <= result.started_at <= datetime.now(UTC)


async def test_a_500_is_a_failure_with_its_status(
    prober: AiohttpProber, site: tuple[TargetSite, URL]
) -> None:
    _, root = site

    result = await prober.probe(webserver(root / "status" / "500"))

    assert (result.success, result.status_code, result.error_kind) == (False, 500, None)
    assert result.latency_ms < FAST_MS


async def test_sends_the_healthmon_user_agent(prober: AiohttpProber, site: tuple[TargetSite, URL]) -> None:
    target, root = site

    await prober.probe(webserver(root / "ok"))

    assert target.seen[-1].headers["User-Agent"] == f"healthmon/{__version__}"


async def test_every_probe_opens_a_fresh_connection(
    prober: AiohttpProber, site: tuple[TargetSite, URL]
) -> None:
    target, root = site

    for _ in range(2):
        await prober.probe(webserver(root / "ok"))

    first, second = target.seen
    assert first.client_port != second.client_port, "a reused connection would skip connect and TLS"


async def test_a_301_is_followed_to_the_final_200(
    prober: AiohttpProber, site: tuple[TargetSite, URL]
) -> None:
    target, root = site

    result = await prober.probe(webserver(root / "moved"))

    assert (result.success, result.status_code) == (True, 200)
    assert [seen.path for seen in target.seen] == ["/moved", "/ok"]


async def test_a_301_is_just_a_non_2xx_response_when_redirects_are_off(
    prober: AiohttpProber, site: tuple[TargetSite, URL]
) -> None:
    target, root = site

    result = await prober.probe(webserver(root / "moved", follow_redirects=False))

    assert (result.success, result.status_code, result.error_kind) == (False, 301, None)
    assert [seen.path for seen in target.seen] == ["/moved"]


async def test_a_redirect_loop_is_too_many_redirects(
    prober: AiohttpProber, site: tuple[TargetSite, URL]
) -> None:
    target, root = site

    result = await prober.probe(webserver(root / "loop"))

    assert_failed(result, ErrorKind.TOO_MANY_REDIRECTS)
    assert len(target.seen) == MAX_REDIRECTS + 1, "the first request plus each redirect followed"


@pytest.mark.parametrize(
    ("redirects", "status_code", "kind"),
    [(MAX_REDIRECTS, 200, None), (MAX_REDIRECTS + 1, None, ErrorKind.TOO_MANY_REDIRECTS)],
)
async def test_follows_up_to_ten_redirects(
    prober: AiohttpProber,
    site: tuple[TargetSite, URL],
    redirects: int,
    status_code: int | None,
    kind: ErrorKind | None,
) -> None:
    _, root = site

    result = await prober.probe(webserver(root / "chain" / str(redirects)))

    assert (result.status_code, result.error_kind) == (status_code, kind)


async def test_an_answer_slower_than_the_timeout_is_a_timeout(
    prober: AiohttpProber, site: tuple[TargetSite, URL]
) -> None:
    _, root = site

    result = await prober.probe(webserver(root / "slow" / "3", timeout_seconds=1))

    assert_failed(result, ErrorKind.TIMEOUT)
    assert 1000 <= result.latency_ms < 1000 + TIMEOUT_MARGIN_MS


async def test_a_server_that_never_answers_is_a_timeout(prober: AiohttpProber) -> None:
    async with raw_target(hang) as target:
        result = await prober.probe(webserver(target.url, timeout_seconds=1))

    assert_failed(result, ErrorKind.TIMEOUT)
    assert 1000 <= result.latency_ms < 1000 + TIMEOUT_MARGIN_MS


async def test_an_endless_body_is_not_read(prober: AiohttpProber, site: tuple[TargetSite, URL]) -> None:
    target, root = site
    start = time.perf_counter()

    result = await prober.probe(webserver(root / "stream", timeout_seconds=2))

    assert (result.success, result.status_code) == (True, 200)
    assert result.latency_ms < FAST_MS
    assert time.perf_counter() - start < FAST_MS / 1000, "the probe returned without reading the body"
    async with asyncio.timeout(2):
        await target.stream_closed.wait()  # the probe hung up; it did not leave the body streaming


@pytest.mark.parametrize("behaviour", [reset, close_without_answer], ids=["rst", "fin"])
async def test_a_dropped_connection_is_a_reset_tried_once(
    prober: AiohttpProber, behaviour: Behaviour
) -> None:
    async with raw_target(behaviour) as target:
        result = await prober.probe(webserver(target.url))

    assert_failed(result, ErrorKind.CONNECTION_RESET)
    assert result.latency_ms < FAST_MS
    assert target.accepted == 1, "aiohttp's silent retry would hide a server that drops connections"


async def test_a_closed_port_is_connection_refused(prober: AiohttpProber) -> None:
    result = await prober.probe(webserver(refused_url()))

    assert_failed(result, ErrorKind.CONNECTION_REFUSED)
    assert result.latency_ms < FAST_MS


async def test_an_unresolvable_name_is_a_dns_failure(prober: AiohttpProber, resolver: FakeResolver) -> None:
    result = await prober.probe(webserver("http://does-not-exist.invalid/", timeout_seconds=5))

    assert_failed(result, ErrorKind.DNS)
    assert "does-not-exist.invalid" in (result.error_message or "")
    assert resolver.asked == ["does-not-exist.invalid"], "the injected resolver answered, not the system's"


async def test_names_are_resolved_by_the_injected_resolver(
    prober: AiohttpProber, resolver: FakeResolver, site: tuple[TargetSite, URL]
) -> None:
    target, root = site

    result = await prober.probe(webserver(root.with_host("shop.test") / "ok"))

    assert (result.success, result.status_code) == (True, 200)
    assert resolver.asked == ["shop.test"]
    assert target.seen[-1].headers["Host"] == f"shop.test:{root.port}"


@pytest.mark.parametrize("location", UNENCODABLE_HOSTS)
async def test_a_redirect_to_a_host_name_idna_cannot_encode_is_an_invalid_url(
    any_prober: AiohttpProber, site: tuple[TargetSite, URL], location: str
) -> None:
    _, root = site
    watched = webserver(turn_url(root, after=1, to=location))

    before = await any_prober.probe(watched)
    after = await any_prober.probe(watched)

    assert (before.success, before.status_code) == (True, 200)
    assert_failed(after, ErrorKind.INVALID_URL)
    assert "cannot be encoded" in (after.error_message or "")


@pytest.mark.parametrize("url", UNENCODABLE_HOSTS)
async def test_a_stored_host_name_idna_cannot_encode_is_an_invalid_url(
    any_prober: AiohttpProber, url: str
) -> None:
    result = await any_prober.probe(with_stored_url(webserver(refused_url()), url))

    assert_failed(result, ErrorKind.INVALID_URL)


@pytest.mark.parametrize(
    "surprise",
    [
        RuntimeError("resolver bug"),
        KeyError("family"),
        ValueError("two\nlines"),
        ZeroDivisionError(),
    ],
    ids=lambda surprise: type(surprise).__name__,
)
async def test_an_exception_nobody_foresaw_is_a_connection_error_not_a_lost_probe(
    site: tuple[TargetSite, URL], surprise: Exception
) -> None:
    _, root = site
    async with open_client_session(resolver=FakeResolver({"odd.test": surprise})) as session:
        result = await AiohttpProber(session).probe(webserver(root.with_host("odd.test") / "ok"))

    assert_failed(result, ErrorKind.CONNECTION_ERROR)
    assert type(surprise).__name__ in (result.error_message or "")


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(b"this is not HTTP at all\r\n\r\n", id="garbage"),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nX-Filler: " + b"a" * (4 * MAX_HEADER_FIELD_BYTES) + b"\r\n\r\n",
            id="header-too-long",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\n"
            + b"".join(b"X-Filler-%d: a\r\n" % n for n in range(MAX_HEADER_FIELDS + 10))
            + b"\r\n",
            id="too-many-headers",
        ),
    ],
)
async def test_a_response_that_is_not_valid_http_is_an_invalid_response(
    prober: AiohttpProber, answer: bytes
) -> None:
    async with raw_target(reply(answer)) as target:
        result = await prober.probe(webserver(target.url))

    assert_failed(result, ErrorKind.INVALID_RESPONSE)
    assert result.latency_ms < FAST_MS


async def test_a_certificate_from_an_untrusted_ca_is_a_tls_failure(
    prober: AiohttpProber, aiohttp_server: AiohttpServer, tls: TlsPair
) -> None:
    server = await aiohttp_server(TargetSite().app, ssl=tls.server)

    result = await prober.probe(webserver(server.make_url("/ok")))

    assert_failed(result, ErrorKind.TLS)


async def test_verify_tls_off_accepts_an_untrusted_certificate(
    prober: AiohttpProber, aiohttp_server: AiohttpServer, tls: TlsPair
) -> None:
    server = await aiohttp_server(TargetSite().app, ssl=tls.server)

    result = await prober.probe(webserver(server.make_url("/ok"), verify_tls=False))

    assert (result.success, result.status_code) == (True, 200)


async def test_a_certificate_from_a_trusted_ca_is_verified_and_accepted(
    aiohttp_server: AiohttpServer, tls: TlsPair
) -> None:
    server = await aiohttp_server(TargetSite().app, ssl=tls.server)

    async with open_client_session(ssl_context=tls.trusting_client) as session:
        result = await AiohttpProber(session).probe(webserver(server.make_url("/ok")))

    assert (result.success, result.status_code) == (True, 200)


async def test_https_to_a_plain_http_port_is_a_tls_failure(
    prober: AiohttpProber, site: tuple[TargetSite, URL]
) -> None:
    _, root = site

    result = await prober.probe(webserver(root.with_scheme("https") / "ok"))

    assert_failed(result, ErrorKind.TLS)


async def test_credentials_and_cookies_do_not_follow_a_redirect_to_another_host(
    prober: AiohttpProber, aiohttp_server: AiohttpServer
) -> None:
    first, other = TargetSite(), TargetSite()
    first_root = (await aiohttp_server(first.app)).make_url("/")
    other_root = (await aiohttp_server(other.app)).make_url("/").with_host("localhost")
    url = hop_url(first_root, other_root / "ok").with_user("user").with_password("pass")

    result = await prober.probe(webserver(url))

    assert (result.success, result.status_code) == (True, 200)
    [at_first] = first.seen
    assert at_first.headers["Authorization"] == "Basic " + base64.b64encode(b"user:pass").decode()
    [at_other] = other.seen
    assert at_other.headers.get("Host", "").startswith("localhost:")
    assert "Authorization" not in at_other.headers
    assert "Cookie" not in at_other.headers


async def test_a_failed_probe_logs_one_line_without_the_password(
    prober: AiohttpProber, site: tuple[TargetSite, URL], caplog: pytest.LogCaptureFixture
) -> None:
    _, root = site
    url = (root / "loop").with_user("user").with_password("s3cr3t")

    with caplog.at_level(logging.DEBUG, logger="healthmon"):
        result = await prober.probe(webserver(url))

    assert_failed(result, ErrorKind.TOO_MANY_REDIRECTS)
    [line] = [record.getMessage() for record in caplog.records if record.name.startswith("healthmon")]
    assert line == f"probe of webserver 7 failed: too_many_redirects: {result.error_message}"
    assert "s3cr3t" not in caplog.text
    assert base64.b64encode(b"user:s3cr3t").decode() not in caplog.text


async def test_keeps_no_cookies_even_for_the_same_host(
    prober: AiohttpProber, site: tuple[TargetSite, URL]
) -> None:
    target, root = site
    by_name = root.with_host("localhost")  # aiohttp's default jar would refuse a cookie from a bare IP

    result = await prober.probe(webserver(hop_url(by_name, by_name / "ok")))

    assert (result.success, result.status_code) == (True, 200)
    assert [seen.path for seen in target.seen] == ["/hop", "/ok"]
    assert "Cookie" not in target.seen[-1].headers


async def test_cancelling_a_probe_propagates(prober: AiohttpProber) -> None:
    async with raw_target(hang) as target:
        probe = asyncio.create_task(prober.probe(webserver(target.url)))
        async with asyncio.timeout(2):
            await target.connected.wait()
        probe.cancel()

        with pytest.raises(asyncio.CancelledError):
            await probe


async def test_the_session_is_closed_when_its_block_ends() -> None:
    async with open_client_session() as session:
        assert not session.closed

    assert session.closed


async def test_started_at_is_within_the_probe(prober: AiohttpProber) -> None:
    before = datetime.now(UTC)

    result = await prober.probe(webserver(refused_url()))

    assert before <= result.started_at <= before + timedelta(milliseconds=result.latency_ms + 50)
