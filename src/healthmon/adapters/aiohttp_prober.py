"""The aiohttp prober: one GET per probe over the process's one session; transport failures are results."""

from __future__ import annotations

import asyncio
import errno
import functools
import logging
import math
import socket
import ssl
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from healthmon import __version__
from healthmon.adapters.outbound_guard import BlockedAddress, PolicyResolver, guarded_socket_factory
from healthmon.adapters.tls_certificates import CertificateReadingResponse
from healthmon.application.ports import Prober
from healthmon.domain.outbound import OutboundPolicy, blocked_message
from healthmon.domain.probe import ErrorKind, ProbeResult
from healthmon.domain.webserver import MAX_TIMEOUT_SECONDS, Webserver

logger = logging.getLogger(__name__)

USER_AGENT = f"healthmon/{__version__}"
MAX_REDIRECTS = 10
# Response header caps, pinned rather than left to aiohttp's defaults: a line (status or header) and a field
# of at most 8190 bytes, and at most 100 fields (CPython's http.client allows 100 too). So a hostile server
# can make us buffer at most ~800 KiB of headers before the probe fails as INVALID_RESPONSE.
MAX_HEADER_LINE_BYTES = 8190
MAX_HEADER_FIELD_BYTES = 8190
MAX_HEADER_FIELDS = 100
MESSAGE_MAX_LENGTH = 200
# aiohttp's own total timeout normally ends a probe; this outer guard only catches a step it fails to bound.
GUARD_GRACE_SECONDS = 1.0


@asynccontextmanager
async def open_client_session(
    *,
    limit: int = 100,
    limit_per_host: int = 10,
    dns_cache_seconds: int = 10,
    ssl_context: ssl.SSLContext | None = None,
    resolver: AbstractResolver | None = None,
    policy: OutboundPolicy | None = None,
) -> AsyncIterator[aiohttp.ClientSession]:
    """The one ClientSession of a process, configured for probing; closed when the block ends.

    resolver turns host names into addresses (IP addresses never reach it); None is aiohttp's default,
    the system's resolver. Whichever it is, a host name IDNA cannot encode fails before it is asked.
    policy (None: the default one) decides which addresses may be connected to, checked on each
    connection's resolved address (outbound_guard.py).
    """
    policy = policy if policy is not None else OutboundPolicy()
    # Built here, inside the event loop, because aiohttp's threaded resolver binds to the running loop.
    looked_up = resolver if resolver is not None else aiohttp.DefaultResolver()
    connector = aiohttp.TCPConnector(
        resolver=_EncodableHostResolver(PolicyResolver(looked_up, policy)),
        socket_factory=guarded_socket_factory(policy),
        # A probe that waits for a free slot is charged the wait (it counts toward its timeout and latency),
        # so the worker should not run more probes at once than `limit`. One slow or hung host can hold at
        # most `limit_per_host` of the slots.
        limit=limit,
        limit_per_host=limit_per_host,
        ttl_dns_cache=dns_cache_seconds,
        # A fresh connection per probe: a reused keep-alive connection would skip the TCP connect and TLS
        # handshake, so a server that stopped accepting connections or whose certificate expired would
        # still look healthy for as long as an old connection lived.
        force_close=True,
        # aiohttp rounds timeouts of 5 s or more up to a whole second of the loop clock; a monitor wants
        # the deadline it was given.
        timeout_ceil_threshold=math.inf,
        # Certificates are verified against the system's CAs, or against ssl_context's when one is given
        # (a private CA); servers with verify_tls=False skip verification per request.
        ssl=ssl_context if ssl_context is not None else True,
    )
    session = aiohttp.ClientSession(
        connector=connector,
        headers={"User-Agent": USER_AGENT},
        # A monitor keeps no cookies, so none can be replayed to any host, let alone another one.
        cookie_jar=aiohttp.DummyCookieJar(),
        # No proxy or netrc credentials from the environment: we measure the server, directly.
        trust_env=False,
        # Each response notes the expiry of the certificate its connection presented, while it is open.
        response_class=CertificateReadingResponse,
    )
    # aiohttp silently retries an idempotent request once when the connection drops. With a fresh
    # connection per probe that retry would hide a server that resets every other connection, so a probe
    # is exactly one attempt. (aiohttp's own TestClient turns it off the same way; the reset test pins it.)
    session._retry_connection = False
    try:
        yield session
    finally:
        await session.close()
        # A connector closes only the resolver it built itself; this one is ours.
        await looked_up.close()


class _EncodableHostResolver(AbstractResolver):
    """Refuses a host name IDNA cannot encode before any lookup, then asks the resolver it wraps.

    The system resolver refuses such a name too (as a UnicodeError); checking here makes the failure
    the same INVALID_URL for every resolver, for the configured URL and for any redirect's.
    """

    def __init__(self, resolver: AbstractResolver) -> None:
        self._resolver = resolver

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """The wrapped resolver's answer for an encodable host name; UnicodeError for any other."""
        # The same codec as socket.getaddrinfo: `.`, `a..b`, a label over 63 characters, `⒈.example` fail.
        host.encode("idna")
        return await self._resolver.resolve(host, port, family)

    async def close(self) -> None:
        """Closing is left to whoever built the wrapped resolver."""


class AiohttpProber(Prober):
    """GETs a webserver's URL and times it to the response headers; a down server is a failed result."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def probe(self, webserver: Webserver) -> ProbeResult:
        """Probe once; every exception but cancellation ends as a failed result, never escapes."""
        settings = webserver.settings
        timeout_seconds = min(settings.timeout_seconds, MAX_TIMEOUT_SECONDS)
        started_at = datetime.now(UTC)
        start = time.perf_counter()
        try:
            async with (
                asyncio.timeout(timeout_seconds + GUARD_GRACE_SECONDS),
                self._session.get(
                    settings.url,
                    allow_redirects=settings.follow_redirects,
                    # aiohttp fails on the max_redirects-th redirect; we follow up to MAX_REDIRECTS of them.
                    max_redirects=MAX_REDIRECTS + 1,
                    # True uses the session's verifying context; False turns verification off for this server.
                    ssl=settings.verify_tls,
                    # total covers DNS, connect, TLS, every redirect and the headers (and waiting for a slot).
                    timeout=_client_timeout(timeout_seconds),
                    max_line_size=MAX_HEADER_LINE_BYTES,
                    max_field_size=MAX_HEADER_FIELD_BYTES,
                    max_headers=MAX_HEADER_FIELDS,
                ) as response,
            ):
                latency_ms = _elapsed_ms(start)
                status_code = response.status
                tls_expires_at = _certificate_expiry(response, settings.url)
                # Closing drops the connection without reading the body, so a huge or endless body costs
                # nothing; only what already sits in the socket buffer is discarded.
                response.close()
        # Exception, not BaseException: cancellation (a worker stopping) must go on propagating.
        except Exception as exc:  # TimeoutError is an OSError
            latency_ms = _elapsed_ms(start)
            kind, message = describe_failure(exc, timeout_seconds)
            # A target decides what goes wrong here, every interval: a traceback at a higher level
            # would let it flood the log. The kind and message reach the history instead. The message,
            # never the exception's repr, which holds the request headers, the Authorization made from
            # the URL's password among them, and the server's headers, over many lines.
            logger.debug(
                "probe of webserver %s failed: %s: %s",
                webserver.id,
                kind,
                message,
                exc_info=not _is_foreseen(exc),
            )
            return ProbeResult.failure(
                webserver.id,
                started_at=started_at,
                latency_ms=latency_ms,
                kind=kind,
                message=message,
            )
        return ProbeResult.response(
            webserver.id,
            started_at=started_at,
            latency_ms=latency_ms,
            status_code=status_code,
            timeout_seconds=timeout_seconds,
            tls_expires_at=tls_expires_at,
        )


def _certificate_expiry(response: aiohttp.ClientResponse, url: str) -> datetime | None:
    # The certificate of the server the URL names: after a redirect to another host (or port), the
    # response's certificate is that host's, which is not the one this webserver must keep valid.
    if not isinstance(response, CertificateReadingResponse) or response.tls_expires_at is None:
        return None
    if not response.history:
        return response.tls_expires_at
    first, final = URL(url), response.url
    return response.tls_expires_at if (final.host, final.port) == (first.host, first.port) else None


# The one table from exception to error kind, first match wins. Order matters because aiohttp's classes
# overlap: a DNS or TLS error is also a ClientConnectorError, TooManyRedirects is a ClientResponseError,
# and every timeout (aiohttp's own included) is a TimeoutError.
_KINDS_BY_EXCEPTION: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], ErrorKind], ...] = (
    (TimeoutError, ErrorKind.TIMEOUT),
    (aiohttp.TooManyRedirects, ErrorKind.TOO_MANY_REDIRECTS),
    (aiohttp.ClientConnectorDNSError, ErrorKind.DNS),
    ((aiohttp.ClientSSLError, ssl.SSLError, aiohttp.ServerFingerprintMismatch), ErrorKind.TLS),
    # A response aiohttp could not parse (bad status line, header too large or too many) or a redirect
    # to a Location that is not an http(s) URL.
    (
        (aiohttp.ClientResponseError, aiohttp.RedirectClientError, aiohttp.ClientPayloadError),
        ErrorKind.INVALID_RESPONSE,
    ),
    (aiohttp.ServerDisconnectedError, ErrorKind.CONNECTION_RESET),
    # The URL itself, not the server's answer: aiohttp refused it, or (raised by the resolver as a
    # UnicodeError, for the configured URL or a redirect's) IDNA cannot encode its host name, such as
    # `.`, `a..b`, a label over 63 characters or `⒈.example`.
    ((aiohttp.InvalidURL, UnicodeError), ErrorKind.INVALID_URL),
)
# What aiohttp and the socket layer raise by design; anything else is a surprise, kept as CONNECTION_ERROR.
_FORESEEN = (aiohttp.ClientError, OSError, UnicodeError)
# Socket errors arrive as the OSError subclass or, rebuilt by aiohttp as a ClientOSError, only as an errno.
_KINDS_BY_OS_ERROR: tuple[tuple[tuple[type[OSError], ...], frozenset[int], ErrorKind], ...] = (
    ((ConnectionRefusedError,), frozenset({errno.ECONNREFUSED}), ErrorKind.CONNECTION_REFUSED),
    (
        (ConnectionResetError, ConnectionAbortedError, BrokenPipeError),
        frozenset({errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE}),
        ErrorKind.CONNECTION_RESET,
    ),
    ((TimeoutError,), frozenset({errno.ETIMEDOUT}), ErrorKind.TIMEOUT),
)
_SUMMARIES = {
    ErrorKind.DNS: "DNS lookup failed",
    ErrorKind.TLS: "TLS failed",
    ErrorKind.INVALID_RESPONSE: "invalid HTTP response",
    ErrorKind.CONNECTION_REFUSED: "connection refused",
    ErrorKind.CONNECTION_RESET: "connection reset",
    ErrorKind.INVALID_URL: "unusable URL",
    ErrorKind.CONNECTION_ERROR: "cannot connect",
}


def describe_failure(exc: Exception, timeout_seconds: float) -> tuple[ErrorKind, str]:
    """The one place that turns an exception from a probe into a stable error kind and a one-line message."""
    blocked = _blocked_address(exc)
    if blocked is not None:
        return ErrorKind.BLOCKED, _one_line(blocked_message(blocked.address))
    kind = _kind_of(exc)
    if kind is ErrorKind.TIMEOUT:
        return kind, f"no response within {timeout_seconds:g} s"
    if kind is ErrorKind.TOO_MANY_REDIRECTS:
        return kind, f"more than {MAX_REDIRECTS} redirects"
    where = f" ({exc.host}:{exc.port})" if isinstance(exc, aiohttp.ClientConnectorError) else ""
    return kind, _one_line(f"{_SUMMARIES[kind]}{where}: {_detail(exc)}")


def _blocked_address(exc: BaseException) -> BlockedAddress | None:
    # aiohttp wraps the guard's refusal: the resolver's in a ClientConnectorDNSError, the socket
    # factory's in a ClientConnectorError; either way as its os_error.
    if isinstance(exc, aiohttp.ClientConnectorError):
        exc = exc.os_error
    return exc if isinstance(exc, BlockedAddress) else None


def _is_foreseen(exc: BaseException) -> bool:
    return isinstance(exc, _FORESEEN)


def _kind_of(exc: Exception) -> ErrorKind:
    for exc_types, kind in _KINDS_BY_EXCEPTION:
        if isinstance(exc, exc_types):
            return kind
    os_error = exc.os_error if isinstance(exc, aiohttp.ClientConnectorError) else exc
    for os_types, errnos, kind in _KINDS_BY_OS_ERROR:
        if isinstance(os_error, os_types) or (isinstance(os_error, OSError) and os_error.errno in errnos):
            return kind
    return ErrorKind.CONNECTION_ERROR


def _detail(exc: BaseException) -> str:  # noqa: PLR0911  (a flat lookup: one early return per case)
    # The shortest text that still says what went wrong; aiohttp's str() repeats host, port and ssl mode,
    # and the ssl module's adds a C file and line.
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        exc = exc.certificate_error
    elif isinstance(exc, aiohttp.ClientConnectorError):
        exc = exc.os_error
    if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_message:
        return exc.verify_message
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return exc.reason
    if isinstance(exc, aiohttp.ClientResponseError):
        return exc.message
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "server closed the connection before answering"
    if isinstance(exc, aiohttp.RedirectClientError):
        return f"redirect to unusable location {exc}"
    if isinstance(exc, UnicodeError):
        # The codec's own words ("label empty or too long") sit in the cause; the outer text names the codec.
        return f"host name cannot be encoded (IDNA): {exc.__cause__ or exc}"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if not _is_foreseen(exc):
        return f"unexpected {type(exc).__name__}: {exc}"
    return str(exc) or type(exc).__name__


def _one_line(text: str) -> str:
    # Messages end up in the API and logs: one line, printable, bounded, even when a server chose the bytes.
    flat = " ".join("".join(char if char.isprintable() else " " for char in text).split())
    if len(flat) <= MESSAGE_MAX_LENGTH:
        return flat
    return flat[: MESSAGE_MAX_LENGTH - 1] + "…"


@functools.lru_cache(maxsize=256)
def _client_timeout(total: float) -> aiohttp.ClientTimeout:
    # Built once per distinct timeout rather than once per probe (it is an immutable value).
    return aiohttp.ClientTimeout(total=total, ceil_threshold=math.inf)


def _elapsed_ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000
