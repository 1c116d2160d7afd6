"""A short demo of healthmon's core used as a library: no database, no network.

It registers one webserver in the in-memory store, feeds it a scripted run of probe results and
prints how its health moves: unknown -> healthy after 5 successes, -> unhealthy after 3 failures.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from healthmon.adapters.memory import InMemoryStore, InMemoryUnitOfWork
from healthmon.adapters.system_clock import SystemClock
from healthmon.application.use_cases.recording import RecordProbeResults
from healthmon.application.use_cases.webservers import GetWebserver, RegisterWebserver
from healthmon.domain.probe import ErrorKind, ProbeResult
from healthmon.domain.webserver import WebserverSettings


def main() -> None:
    store = InMemoryStore()
    site = RegisterWebserver(InMemoryUnitOfWork(store), SystemClock()).execute(
        WebserverSettings(name="example", url="https://example.com/health", interval_seconds=10)
    )
    record = RecordProbeResults(InMemoryUnitOfWork(store))
    start = datetime.now(UTC)
    script = [True] * 6 + [False] * 3 + [True] * 2
    for n, ok in enumerate(script):
        at = start + timedelta(seconds=10 * n)
        result = (
            ProbeResult.response(site.id, started_at=at, latency_ms=42.0, status_code=200, timeout_seconds=60)
            if ok
            else ProbeResult.failure(
                site.id, started_at=at, latency_ms=1.2, kind=ErrorKind.CONNECTION_REFUSED, message="refused"
            )
        )
        record.execute([result])
        health = GetWebserver(InMemoryUnitOfWork(store), SystemClock()).execute(site.id).webserver.health
        print(
            f"probe {n + 1:2}: {'ok  ' if ok else 'FAIL'} -> {health.state:9} "
            f"(streaks: {health.consecutive_successes} ok, {health.consecutive_failures} failed)"
        )
    details = GetWebserver(InMemoryUnitOfWork(store), SystemClock()).execute(site.id)
    print(
        f"{details.webserver.settings.name}: {details.webserver.state}, "
        f"last {len(details.last_requests)} requests kept"
    )


if __name__ == "__main__":
    main()
