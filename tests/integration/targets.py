"""Probe targets on loopback: a web app with well- and ill-behaved routes, and raw TCP misbehaviour."""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime

import trustme
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from multidict import CIMultiDictProxy
from yarl import URL

STREAM_CHUNK = b"x" * 65536


@dataclass(frozen=True, slots=True)
class SeenRequest:
    """One request as a target received it."""

    path: str
    headers: CIMultiDictProxy[str]
    client_port: int


class TargetSite:
    """An aiohttp app whose routes answer like the servers a monitor meets; it remembers every request.

    - `/ok`: 200; `/status/{code}`: that status; `/moved`: 301 to `/ok`; `/loop`: 302 to itself.
    - `/chain/{n}`: n redirects in a row, then 200.
    - `/slow/{seconds}`: 200 after that long.
    - `/stream`: 200 with a body that never ends; `stream_closed` is set once the client goes away.
    - `/hop?to=URL`: sets a cookie and redirects to URL.
    - `/turn?after=N&to=LOCATION`: 200 to the first N requests, then 302 with that Location, whatever it
      holds (a server may send a host name no client can encode).
    """

    def __init__(self) -> None:
        self.seen: list[SeenRequest] = []
        self._turn_hits: Counter[str] = Counter()
        self.stream_closed = asyncio.Event()
        self.app = web.Application(middlewares=[self._record])
        self.app.router.add_get("/ok", self._ok)
        self.app.router.add_get("/status/{code:\\d+}", self._status)
        self.app.router.add_get("/moved", self._moved)
        self.app.router.add_get("/loop", self._loop)
        self.app.router.add_get("/chain/{n:\\d+}", self._chain)
        self.app.router.add_get("/slow/{seconds:\\d+}", self._slow)
        self.app.router.add_get("/stream", self._stream)
        self.app.router.add_get("/hop", self._hop)
        self.app.router.add_get("/turn", self._turn)

    @web.middleware
    async def _record(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        assert request.transport is not None
        _, client_port = request.transport.get_extra_info("peername")
        self.seen.append(SeenRequest(request.path, request.headers, client_port))
        return await handler(request)

    async def _ok(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _status(self, request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]))

    async def _moved(self, request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently("/ok")

    async def _loop(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop")

    async def _chain(self, request: web.Request) -> web.Response:
        left = int(request.match_info["n"])
        if left == 0:
            return web.Response(text="arrived")
        raise web.HTTPFound(f"/chain/{left - 1}")

    async def _slow(self, request: web.Request) -> web.Response:
        # The test server cancels this handler when the client hangs up, so a timed-out probe leaves nothing.
        await asyncio.sleep(int(request.match_info["seconds"]))
        return web.Response(text="late")

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        try:
            await response.prepare(request)
            while True:
                await response.write(STREAM_CHUNK)
        finally:
            # Reached when the write fails or the handler is cancelled: either way the client has gone.
            self.stream_closed.set()

    async def _hop(self, request: web.Request) -> web.Response:
        response = web.HTTPFound(request.query["to"])
        response.set_cookie("session", "secret-from-first-host")
        raise response

    async def _turn(self, request: web.Request) -> web.Response:
        self._turn_hits[request.query_string] += 1
        if self._turn_hits[request.query_string] <= int(request.query["after"]):
            return web.Response(text="ok for now")
        # A raw header: aiohttp's HTTPFound would parse (and might refuse) the location first.
        return web.Response(status=302, headers={"Location": request.query["to"]})


Behaviour = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class RawTarget:
    """A raw TCP server on loopback; counts the connections it accepted."""

    url: str = ""
    accepted: int = 0
    connected: asyncio.Event = field(default_factory=asyncio.Event)


@asynccontextmanager
async def raw_target(behaviour: Behaviour) -> AsyncIterator[RawTarget]:
    """A TCP server that treats every connection with behaviour; all of it is closed when the block ends."""
    target = RawTarget()
    handlers: set[asyncio.Task[None]] = set()
    writers: set[asyncio.StreamWriter] = set()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        writers.add(writer)
        target.accepted += 1
        target.connected.set()
        try:
            await behaviour(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    target.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    try:
        yield target
    finally:
        server.close()
        # Closing our end feeds EOF to every behaviour still reading, so each one returns by itself.
        # (Cancelling them instead makes Python 3.11's streams log a spurious CancelledError.)
        for writer in writers:
            writer.close()
        async with asyncio.timeout(5):
            await asyncio.gather(*handlers)
        await server.wait_closed()


async def _read_request_head(reader: asyncio.StreamReader) -> None:
    with suppress(asyncio.IncompleteReadError, ConnectionError):
        await reader.readuntil(b"\r\n\r\n")


async def _until_client_leaves(reader: asyncio.StreamReader) -> None:
    with suppress(ConnectionError):
        while await reader.read(65536):
            pass


async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read the request and never answer."""
    await _read_request_head(reader)
    await _until_client_leaves(reader)


async def close_without_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read the request, then close the connection cleanly (FIN) without a response."""
    await _read_request_head(reader)


async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read the request, then abort the connection with a TCP RST."""
    await _read_request_head(reader)
    sock = writer.get_extra_info("socket")
    # Linger on, timeout 0: close() discards the connection and sends RST instead of FIN.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def reply(raw: bytes) -> Behaviour:
    """Read the request, send these exact bytes, and keep the connection open until the client leaves."""

    async def behaviour(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request_head(reader)
        writer.write(raw)
        await _until_client_leaves(reader)

    return behaviour


def refused_url() -> str:
    """A loopback URL on a port that was free a moment ago, so connecting to it is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@dataclass(frozen=True, slots=True)
class TlsPair:
    """A server context with a certificate from a throwaway CA, and a client context that trusts that CA."""

    server: ssl.SSLContext
    trusting_client: ssl.SSLContext


def throwaway_tls(*, not_before: datetime | None = None, not_after: datetime | None = None) -> TlsPair:
    """Certificates for 127.0.0.1 and localhost from a CA that nothing trusts by default.

    not_before and not_after (trustme's defaults: valid from now for years) make one that expires
    when a test needs it to, or has expired already.
    """
    ca = trustme.CA()
    certificate = ca.issue_cert("127.0.0.1", "localhost", not_before=not_before, not_after=not_after)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return TlsPair(server=server, trusting_client=client)


def hop_url(first: URL, to: URL) -> URL:
    """The first site's /hop, which sets a cookie and redirects to `to`."""
    return first.with_path("/hop").with_query(to=str(to))


def turn_url(site: URL, *, after: int, to: str) -> URL:
    """The site's /turn: healthy for `after` requests, then a redirect to `to`."""
    return site.with_path("/turn").with_query(after=after, to=to)


class FakeResolver(AbstractResolver):
    """DNS from a table: a name maps to an address (or to the exception its lookup raises).

    Every other name fails the way the system resolver fails an unknown name, so no test ever
    sends a DNS query off the machine. `asked` lists the names looked up, in order.
    """

    def __init__(self, table: Mapping[str, str | Exception] | None = None) -> None:
        self.table = dict(table or {})
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        answer = self.table.get(host)
        if answer is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        if isinstance(answer, Exception):
            raise answer
        return [
            ResolveResult(
                hostname=host,
                host=answer,
                port=port,
                family=socket.AF_INET6 if ":" in answer else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
        ]

    async def close(self) -> None:
        """Nothing to release."""
