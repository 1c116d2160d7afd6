"""Sync benchmark on PostgreSQL: plan and apply a file of 10,000 entries through `POST /webservers/sync`.

    .venv/bin/python benchmarks/sync_benchmark.py [--servers 10000] [--rounds 3] [--keep]

Creates a scratch database on the server of HEALTHMON_TEST_POSTGRES_URL (default: the local one as
`postgres`), migrates it, starts `healthmon serve --no-worker` on it and times each step of a
file's life, end to end (the client's JSON encoding, HTTP, validation, the plan, the transaction):

- plan 10,000 new entries (dry run), then apply them (10,000 creates);
- plan and apply the same file again (10,000 unchanged);
- apply a file changing every interval (10,000 updates, URLs kept);
- apply a file moving every server to a new URL (10,000 updates, each URL changed);
- apply an empty file with prune (10,000 deletes).

Beside them, the baseline: registering 1,000 of the same servers one POST /webservers at a time
(then removing them), the way a script without sync would.

Each round starts from an empty table; the figure printed is the median of the rounds, beside the
goal (under 5 s for 10,000 entries, plan and apply). The database is dropped unless --keep is given.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from healthmon.adapters.sqlalchemy.engine import database_url
from healthmon.adapters.sqlalchemy.migrations import upgrade_database

try:  # python -m benchmarks.sync_benchmark, and mypy
    from benchmarks.api_benchmark import running_service
    from benchmarks.storage_benchmark import DEFAULT_ADMIN_URL, machine, scratch_database
except ModuleNotFoundError:  # python benchmarks/sync_benchmark.py: this directory is on sys.path
    from api_benchmark import running_service  # type: ignore[import-not-found, no-redef]
    from storage_benchmark import (  # type: ignore[import-not-found, no-redef]
        DEFAULT_ADMIN_URL,
        machine,
        scratch_database,
    )

GOAL_SECONDS = 5.0
TIMEOUT_SECONDS = 300.0


def entries(servers: int, *, interval: int = 60, path: str = "health") -> list[dict[str, Any]]:
    """A file of servers: every fourth without a key (matched by URL), a few fields set."""
    return [
        {
            **({"key": f"server-{n}"} if n % 4 else {}),
            "name": f"server {n}",
            "url": f"https://server-{n}.example.com/{path}",
            "interval_seconds": interval,
            "timeout_seconds": 10,
        }
        for n in range(servers)
    ]


def timed_sync(client: httpx.Client, body: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    """Seconds for one POST /webservers/sync, and its answer (which must be 200)."""
    start = time.perf_counter()
    response = client.post("/webservers/sync", json=body)
    elapsed = time.perf_counter() - start
    if response.status_code != httpx.codes.OK:
        raise SystemExit(f"sync answered {response.status_code}: {response.text[:500]}")
    answer: dict[str, Any] = response.json()
    return elapsed, answer


def counts(answer: dict[str, Any]) -> str:
    """The plan's size, for the table."""
    return (
        f"{len(answer['create'])} create, {len(answer['update'])} update, "
        f"{len(answer['delete'])} delete, {answer['unchanged']} unchanged"
    )


def one_round(client: httpx.Client, servers: int) -> dict[str, tuple[float, str]]:
    """Each step's seconds and plan size, from an empty table back to an empty table."""
    first = entries(servers)
    n = f"{servers:,}"
    steps: list[tuple[str, dict[str, Any]]] = [
        (f"plan {n} new (dry run)", {"webservers": first}),
        (f"apply {n} creates", {"webservers": first, "dry_run": False}),
        (f"plan {n} unchanged (dry run)", {"webservers": first}),
        (f"apply {n} unchanged", {"webservers": first, "dry_run": False}),
        (f"apply {n} interval changes", {"webservers": entries(servers, interval=30), "dry_run": False}),
        (
            f"apply {n} URL changes",
            {"webservers": entries(servers, interval=30, path="v2"), "dry_run": False},
        ),
        (f"apply prune of {n}", {"webservers": [], "prune": True, "dry_run": False}),
    ]
    figures = {}
    for name, body in steps:
        seconds, answer = timed_sync(client, body)
        figures[name] = (seconds, counts(answer))
    return figures


BASELINE_SERVERS = 1_000


def baseline(client: httpx.Client) -> float:
    """Seconds for BASELINE_SERVERS POST /webservers in turn (an empty table before and after)."""
    start = time.perf_counter()
    for entry in entries(BASELINE_SERVERS):
        response = client.post("/webservers", json={k: v for k, v in entry.items() if k != "key"})
        if response.status_code != httpx.codes.CREATED:
            raise SystemExit(f"POST /webservers answered {response.status_code}: {response.text[:500]}")
    elapsed = time.perf_counter() - start
    for item in client.get("/webservers", params={"limit": BASELINE_SERVERS}).json()["items"]:
        client.delete(f"/webservers/{item['id']}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--servers", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    arguments = parser.parse_args(argv)
    admin_url = database_url(os.environ.get("HEALTHMON_TEST_POSTGRES_URL", DEFAULT_ADMIN_URL))
    with scratch_database(admin_url, keep=arguments.keep) as url, tempfile.TemporaryDirectory() as scratch:
        text_url = url.render_as_string(hide_password=False)
        upgrade_database(text_url)
        print(machine(text_url))
        print(
            f"{arguments.servers} entries, {arguments.rounds} rounds, "
            f"median seconds (goal < {GOAL_SECONDS} s)"
        )
        with (
            running_service(text_url, Path(scratch) / "serve.log") as base_url,
            httpx.Client(base_url=base_url, timeout=TIMEOUT_SECONDS) as client,
        ):
            rounds = [one_round(client, arguments.servers) for _ in range(arguments.rounds)]
            one_by_one = baseline(client)
        for name, (_, size) in rounds[0].items():
            median = statistics.median(figures[name][0] for figures in rounds)
            slowest = max(figures[name][0] for figures in rounds)
            verdict = "ok" if median < GOAL_SECONDS else "OVER GOAL"
            print(f"  {name:<30} {median:6.2f} s (max {slowest:5.2f})  {verdict:<9}  [{size}]")
        print(
            f"  baseline: {BASELINE_SERVERS:,} POST /webservers one at a time: {one_by_one:.2f} s "
            f"({one_by_one / BASELINE_SERVERS * 1000:.2f} ms each)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
