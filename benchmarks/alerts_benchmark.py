"""Alerts benchmark: from the probe that changes a server's health to the receiver's 200, and drain rate.

    .venv/bin/python benchmarks/alerts_benchmark.py [--servers 1000 --interval 2 --drain 5000]
                                                    [--database sqlite|postgres]

One process serves every target (`/t/<n>`, 200 or 500 by a shared switch); another is the webhook
receiver (HTTP/1.1 keep-alive, answers 200 at once and logs each body with its arrival time). The
script registers N webservers (thresholds 1, so one probe flips health) and one webhook channel in a
scratch database, and runs the real `healthmon worker` (default delivery settings). Once every server
is healthy and its event delivered, it flips every target to 500 at once and measures, per event,
the receiver's arrival time minus the start (and the end) of the probe that changed the health:
p50/p99/max. Then it queues --drain test events in one transaction and times how fast the one
worker delivers them (deliveries/s).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

from healthmon.adapters.sqlalchemy.engine import create_database_engine, create_session_factory, database_url
from healthmon.adapters.sqlalchemy.migrations import upgrade_database
from healthmon.adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from healthmon.application.errors import StorageUnavailable
from healthmon.domain.channels import SECRET_PREFIX, ChannelKind, ChannelSettings
from healthmon.domain.events import EventType
from healthmon.domain.webserver import WebserverSettings

try:
    from benchmarks.storage_benchmark import DEFAULT_ADMIN_URL, percentile, scratch_database
except ModuleNotFoundError:  # python benchmarks/alerts_benchmark.py: this directory is on sys.path
    from storage_benchmark import (  # type: ignore[import-not-found, no-redef]
        DEFAULT_ADMIN_URL,
        percentile,
        scratch_database,
    )

SECRET = SECRET_PREFIX + "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
WAIT_SECONDS = 600.0


# The targets: one loopback port, every path answers the shared status.


class _Target(asyncio.Protocol):
    def __init__(self, status: Synchronized[int]) -> None:
        self.status = status
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if b"\r\n\r\n" in self.buffer:
            code = self.status.value
            reason = b"OK" if code == 200 else b"Internal Server Error"
            self.transport.write(
                b"HTTP/1.1 %d %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" % (code, reason)
            )
            self.transport.close()


def _serve_targets(sock: socket.socket, status: Synchronized[int]) -> None:
    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(
            lambda: _Target(status), sock=sock, backlog=4096
        )
        async with server:
            await server.serve_forever()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


# The receiver: keep-alive HTTP/1.1, a 200 for every POST, one log line per body.


class _Receiver(asyncio.Protocol):
    def __init__(self, log: Any) -> None:
        self.log = log
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:end].decode("latin-1").lower()
            length = next(
                (
                    int(line.split(":", 1)[1])
                    for line in head.split("\r\n")
                    if line.startswith("content-length:")
                ),
                0,
            )
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            arrived = time.time()
            self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            self.log.write(f"{arrived!r} ".encode() + body + b"\n")
            self.log.flush()


def _serve_receiver(sock: socket.socket, log_path: str) -> None:
    async def main() -> None:
        with open(log_path, "ab") as log:  # noqa: ASYNC230  (one small append per request, measured as such)
            server = await asyncio.get_running_loop().create_server(
                lambda: _Receiver(log), sock=sock, backlog=4096
            )
            async with server:
                await server.serve_forever()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


def _listening() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)
    return sock


def received(log_path: Path) -> list[tuple[float, dict[str, Any]]]:
    """Every body the receiver got so far, with its arrival time."""
    lines = log_path.read_bytes().splitlines()
    return [(float(line.split(b" ", 1)[0]), json.loads(line.split(b" ", 1)[1])) for line in lines if line]


def wait_for(log_path: Path, count: int) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while len(log_path.read_bytes().splitlines()) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {count} deliveries")
        time.sleep(0.05)


@contextlib.contextmanager
def scratch_url(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as directory:
            url = f"sqlite:///{Path(directory) / 'alerts.db'}"
            upgrade_database(url)
            yield url
        return
    admin = database_url(os.environ.get("HEALTHMON_TEST_POSTGRES_URL", DEFAULT_ADMIN_URL))
    with scratch_database(admin, keep=False) as scratch:
        rendered = scratch.render_as_string(hide_password=False)
        upgrade_database(rendered)
        yield rendered


def setup(url: str, target_port: int, receiver_port: int, servers: int, interval: int) -> None:
    """Register the webservers and the webhook channel (setup, not measured)."""
    engine = create_database_engine(url, pool_size=1)
    try:
        now = datetime.now(UTC)
        with SqlAlchemyUnitOfWork(create_session_factory(engine)) as uow:
            uow.channels.add(
                ChannelSettings(
                    kind=ChannelKind.WEBHOOK, url=f"http://127.0.0.1:{receiver_port}/hook", secret=SECRET
                ),
                now,
            )
            for n in range(servers):
                uow.webservers.add(
                    WebserverSettings(
                        name=f"bench {n}",
                        url=f"http://127.0.0.1:{target_port}/t/{n}",
                        interval_seconds=interval,
                        timeout_seconds=5,
                        healthy_threshold=1,
                        unhealthy_threshold=1,
                    ),
                    now,
                )
            uow.commit()
    finally:
        engine.dispose()


def queue_test_events(url: str, count: int) -> float:
    """Store `count` test events, each queued for the channel, in one transaction; when it committed."""
    engine = create_database_engine(url, pool_size=1)
    try:
        while True:
            try:
                with SqlAlchemyUnitOfWork(create_session_factory(engine)) as uow:
                    [channel] = uow.channels.all()
                    now = datetime.now(UTC)
                    for _ in range(count):
                        event = uow.events.add(EventType.TEST, now, None)
                        uow.deliveries.add_many(event, [channel.id], now)
                    uow.commit()
                return time.time()
            except StorageUnavailable as exc:  # SQLite's one writer was busy for the whole busy timeout
                print(f"queueing the test events: {exc}; trying again")
    finally:
        engine.dispose()


def _instant(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", type=int, default=1000)
    parser.add_argument("--interval", type=int, default=2)
    parser.add_argument("--drain", type=int, default=5000)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    arguments = parser.parse_args()
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"database {arguments.database}, {arguments.servers} servers probed every {arguments.interval} s")

    status: Synchronized[int] = multiprocessing.Value("i", 200)
    target_sock, receiver_sock = _listening(), _listening()
    with tempfile.TemporaryDirectory() as directory, scratch_url(arguments.database) as url:
        log_path = Path(directory) / "received.log"
        log_path.touch()
        helpers = [
            multiprocessing.Process(target=_serve_targets, args=(target_sock, status), daemon=True),
            multiprocessing.Process(target=_serve_receiver, args=(receiver_sock, str(log_path)), daemon=True),
        ]
        for helper in helpers:
            helper.start()
        setup(
            url,
            target_sock.getsockname()[1],
            receiver_sock.getsockname()[1],
            arguments.servers,
            arguments.interval,
        )
        environment = {name: value for name, value in os.environ.items() if not name.startswith("HEALTHMON_")}
        environment.update({"HEALTHMON_DATABASE_URL": url, "HEALTHMON_LOG_LEVEL": "WARNING"})
        worker = subprocess.Popen([sys.executable, "-m", "healthmon", "worker"], env=environment)
        try:
            started = time.time()
            wait_for(log_path, arguments.servers)
            print(f"first events of {arguments.servers} servers delivered in {time.time() - started:.1f} s")

            flipped = time.time()
            status.value = 500
            wait_for(log_path, 2 * arguments.servers)
            flips = [
                (arrived, body["data"])
                for arrived, body in received(log_path)
                if body["type"] == EventType.HEALTH_CHANGED and body["data"]["to"] == "unhealthy"
            ]
            if os.environ.get("ALERTS_BENCHMARK_SAMPLE"):
                print("sample:", flips[0])
            from_start = [arrived - _instant(data["probe"]["started_at"]) for arrived, data in flips]
            from_end = [
                arrived - _instant(data["probe"]["started_at"]) - data["probe"]["latency_ms"] / 1000
                for arrived, data in flips
            ]
            last = max(arrived for arrived, _ in flips)
            print(
                f"{len(flips)} servers flipped at once: probe start -> receiver 200 "
                f"p50 {percentile(from_start, 0.5) * 1000:.0f} ms, "
                f"p99 {percentile(from_start, 0.99) * 1000:.0f} ms, "
                f"max {max(from_start) * 1000:.0f} ms; from the probe's end p50 "
                f"{percentile(from_end, 0.5) * 1000:.0f} ms, p99 {percentile(from_end, 0.99) * 1000:.0f} ms; "
                f"all delivered {last - flipped:.1f} s after the flip"
            )

            committed = queue_test_events(url, arguments.drain)
            wait_for(log_path, 2 * arguments.servers + arguments.drain)
            drained = [arrived for arrived, body in received(log_path) if body["type"] == EventType.TEST]
            elapsed = max(drained) - committed
            print(
                f"drain: {arguments.drain} queued deliveries in {elapsed:.2f} s = "
                f"{arguments.drain / elapsed:.0f} deliveries/s from one worker (first after "
                f"{(min(drained) - committed) * 1000:.0f} ms)"
            )
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)
            for helper in helpers:
                helper.terminate()
                helper.join()


if __name__ == "__main__":
    main()
