"""A PostgreSQL outage under the running service: the API says 503 at once, recovers alone, loses nothing.

`healthmon serve` reaches its scratch database through a TcpProxy; cutting the proxy closes every open
connection and refuses new ones, as a crashed database server would.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import URL

from tests.integration.conftest import scratch_database
from tests.integration.http.conftest import PROBLEM_MEDIA_TYPE, assert_problem
from tests.integration.service import (
    Service,
    ServiceRunner,
    TargetServer,
    run_db_upgrade,
    service_runner,
)
from tests.integration.tcp_proxy import TcpProxy
from tests.waiting import eventually_sync

pytestmark = pytest.mark.postgres

# An unreachable database must be reported this fast: no request may wait for a TCP timeout.
QUICK_ANSWER_SECONDS = 3.0


@pytest.fixture
def proxied_database(postgres_admin_url: URL) -> Iterator[tuple[TcpProxy, str]]:
    """A migrated scratch database, and its URL through a proxy the test can cut."""
    with scratch_database(postgres_admin_url, "healthmon_outage") as url:
        run_db_upgrade(url.render_as_string(hide_password=False))
        assert url.port is not None
        with TcpProxy(url.host or "127.0.0.1", url.port) as proxy:
            through_proxy = url.set(host="127.0.0.1", port=proxy.port)
            yield proxy, through_proxy.render_as_string(hide_password=False)


@pytest.fixture
def runner(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServiceRunner]:
    """Services of this test's own, stopped at its end; their logs are printed if it fails."""
    with service_runner(request, tmp_path) as started:
        yield started


def quick(service: Service, method: str, path: str, **options: Any) -> httpx.Response:
    """Send a request that must be answered within QUICK_ANSWER_SECONDS, whatever the answer."""
    started = time.monotonic()
    response = service.http.request(method, path, **options)
    elapsed = time.monotonic() - started
    assert elapsed < QUICK_ANSWER_SECONDS, f"{method} {path} took {elapsed:.1f} s"
    return response


def assert_unavailable(response: httpx.Response) -> None:
    """A 503 problem that tells the client when to retry."""
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    assert response.headers["retry-after"].isdigit()
    assert int(response.headers["retry-after"]) > 0


def test_the_api_answers_503_while_the_database_is_gone_and_recovers_without_a_restart(
    proxied_database: tuple[TcpProxy, str], runner: ServiceRunner
) -> None:
    proxy, database_url = proxied_database
    with TargetServer() as target, runner.serve(database_url) as service:
        watched = service.register("watched", target.url("/ok"), interval_seconds=1)
        eventually_sync(lambda: len(service.history(watched["id"])) >= 1, within=5, what="a stored request")

        proxy.cut()
        cut_at, hits_at_cut = datetime.now(UTC), target.hits("/ok")
        # Twice: the first round meets the pooled connections the cut closed, the second new ones.
        for _ in range(2):
            assert_problem(quick(service, "GET", "/webservers"), 503, "storage-unavailable")
            assert_unavailable(quick(service, "GET", "/webservers"))
            outage_post = quick(
                service, "POST", "/webservers", json={"name": "during", "url": target.url("/during")}
            )
            assert_problem(outage_post, 503, "storage-unavailable")
            assert_unavailable(outage_post)
            assert_unavailable(quick(service, "GET", f"/webservers/{watched['id']}"))
            assert quick(service, "GET", "/healthz").status_code == 200
            assert_unavailable(quick(service, "GET", "/readyz"))
        # The worker goes on probing without its database.
        eventually_sync(
            lambda: target.hits("/ok") >= hits_at_cut + 2, within=5, what="two probes during the outage"
        )

        proxy.restore()
        restored_at = datetime.now(UTC)

        eventually_sync(
            lambda: quick(service, "GET", "/webservers").status_code == 200, within=10, what="the API back"
        )
        assert service.running, "the same process answers: no restart"
        assert quick(service, "GET", "/readyz").status_code == 200
        after = service.register("after", target.url("/after"), interval_seconds=1)
        names = [webserver["name"] for webserver in service.get("/webservers")["items"]]
        assert names == ["watched", "after"], "the POST answered 503 changed nothing"
        assert after["id"] > watched["id"]

        # Every probe that reached the target is stored once the buffer is flushed. A history can
        # never hold more rows than the target saw hits, so equal counts, read between two equal
        # hit counts, mean none was lost.
        def all_stored() -> bool:
            hits = target.hits("/ok")
            stored = len(service.history(watched["id"]))
            return stored == hits == target.hits("/ok")

        eventually_sync(all_stored, within=10, what="every probe of the outage stored")
        starts = [datetime.fromisoformat(request["started_at"]) for request in service.history(watched["id"])]
        assert sum(cut_at <= start < restored_at for start in starts) >= 2
        assert service.stop() == 0
        # One line when the outage began and one when it ended, not one per refused request.
        log = service.log()
        assert log.count("answering 503 with Retry-After until it is back") == 1, log
        assert "answering 503:" not in log
        (ended,) = [
            line for line in log.splitlines() if "database reachable again after" in line and "503" in line
        ]
        refused = int(ended.split("; ")[-1].split()[0])
        assert refused >= 8, ended
