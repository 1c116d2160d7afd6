"""API benchmark on PostgreSQL: the real `healthmon serve`, over HTTP, at 10,000 webservers and 5M requests.

    .venv/bin/python benchmarks/api_benchmark.py [--servers 10000 --requests 5000000] [--keep]
                                                 [--samples 2000 --walks 20]

Creates a scratch database on the server of HEALTHMON_TEST_POSTGRES_URL (default: the local one as
`postgres`), migrates it and fills it with storage_benchmark's generator (not measured), then starts
`healthmon serve --no-worker` on it as a subprocess and times, from one keep-alive httpx client
sending one request at a time after a warm-up, each GET /webservers/{id} (random ids) and each page
of GET /webservers?limit=1000 (walking every page). Prints p50/p99 against the goals and the
machine. The database is dropped at the end unless --keep is given.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from healthmon.adapters.sqlalchemy.engine import create_database_engine, database_url
from healthmon.adapters.sqlalchemy.migrations import upgrade_database

try:  # python -m benchmarks.api_benchmark, and mypy
    from benchmarks.storage_benchmark import DEFAULT_ADMIN_URL, fill, machine, report, scratch_database
except ModuleNotFoundError:  # python benchmarks/api_benchmark.py: this directory is on sys.path
    from storage_benchmark import (  # type: ignore[import-not-found, no-redef]
        DEFAULT_ADMIN_URL,
        fill,
        machine,
        report,
        scratch_database,
    )

GOALS_MS = {"get one": 10.0, "list page": 50.0}
PAGE = 1000
START_SECONDS = 30.0


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running_service(url: str, log_path: Path) -> Iterator[str]:
    """`healthmon serve --no-worker` on the database; yields its base URL, stops it with SIGTERM."""
    port = free_port()
    environment = {name: value for name, value in os.environ.items() if not name.startswith("HEALTHMON_")}
    environment.update(
        HEALTHMON_DATABASE_URL=url,
        HEALTHMON_PORT=str(port),
        HEALTHMON_LOG_FORMAT="json",
        HEALTHMON_LOG_LEVEL="WARNING",
    )
    base_url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "healthmon", "serve", "--no-worker"],
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_serving(process, base_url, log_path)
            yield base_url
        finally:
            process.terminate()
            try:
                status = process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                status = process.wait()
            if status != 0:
                print(f"healthmon serve exited with status {status}; its log:\n{log_path.read_text()}")


def _wait_until_serving(process: subprocess.Popen[bytes], base_url: str, log_path: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    with httpx.Client(base_url=base_url, timeout=1.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(
                    f"healthmon serve exited with status {process.returncode}:\n{log_path.read_text()}"
                )
            try:
                if client.get("/readyz").status_code == httpx.codes.OK:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
    raise SystemExit(f"healthmon serve did not become ready in {START_SECONDS} s:\n{log_path.read_text()}")


def _elapsed_ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def get_one(client: httpx.Client, servers: int, samples: int, rng: random.Random) -> list[float]:
    """Milliseconds per GET /webservers/{id} of a random webserver."""
    timings = []
    for _ in range(samples):
        path = f"/webservers/{rng.randint(1, servers)}"
        start = time.perf_counter()
        response = client.get(path)
        timings.append(_elapsed_ms(start))
        if response.status_code != httpx.codes.OK:
            raise SystemExit(f"GET {path}: {response.status_code} {response.text}")
    return timings


def walk(client: httpx.Client) -> tuple[list[float], int]:
    """Milliseconds per page of GET /webservers?limit=1000, over every page; and the items seen."""
    timings = []
    params: dict[str, str | int] = {"limit": PAGE}
    seen = 0
    while True:
        start = time.perf_counter()
        response = client.get("/webservers", params=params)
        timings.append(_elapsed_ms(start))
        if response.status_code != httpx.codes.OK:
            raise SystemExit(f"GET /webservers: {response.status_code} {response.text}")
        page = response.json()
        seen += len(page["items"])
        if page["next_cursor"] is None:
            return timings, seen
        params["cursor"] = page["next_cursor"]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--servers", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=5_000_000)
    parser.add_argument("--samples", type=int, default=2000, help="timed GET /webservers/{id} calls")
    parser.add_argument("--walks", type=int, default=20, help="timed walks over every page of the list")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    arguments = parser.parse_args(argv)
    admin_url = database_url(os.environ.get("HEALTHMON_TEST_POSTGRES_URL", DEFAULT_ADMIN_URL))

    with scratch_database(admin_url, keep=arguments.keep) as url, tempfile.TemporaryDirectory() as directory:
        rendered = url.render_as_string(hide_password=False)
        upgrade_database(rendered)
        print(
            f"healthmon API benchmark: {arguments.servers:,} webservers, {arguments.requests:,} requests; "
            f"{machine(rendered)}"
        )
        engine = create_database_engine(url, pool_size=1)
        try:
            start = time.perf_counter()
            fill(engine, arguments.servers, arguments.requests)
            print(f"fill + VACUUM ANALYZE (setup, not measured): {time.perf_counter() - start:.1f} s")
        finally:
            engine.dispose()

        log_path = Path(directory) / "serve.log"
        with running_service(rendered, log_path) as base_url, httpx.Client(base_url=base_url) as client:
            print(f"healthmon serve --no-worker at {base_url}; one keep-alive client, one request at a time")
            rng = random.Random(42)
            get_one(client, arguments.servers, max(200, arguments.samples // 10), rng)  # warm-up
            walk(client)  # warm-up
            report(
                "GET /webservers/{id}, random ids",
                get_one(client, arguments.servers, arguments.samples, rng),
                GOALS_MS["get one"],
            )
            pages: list[float] = []
            walks: list[float] = []
            for _ in range(arguments.walks):
                start = time.perf_counter()
                timings, seen = walk(client)
                walks.append(_elapsed_ms(start))
                pages.extend(timings)
                if seen != arguments.servers:
                    raise SystemExit(f"the walk saw {seen} webservers, not {arguments.servers}")
            report(f"GET /webservers?limit={PAGE}, each page of a walk", pages, GOALS_MS["list page"])
            report(f"  the whole walk ({arguments.servers:,} webservers)", walks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
