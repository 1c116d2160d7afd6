"""The real service, `healthmon serve` in a subprocess, driven only over HTTP, probing real local targets.

Every test runs on SQLite and on PostgreSQL (a scratch database migrated by `healthmon db upgrade`).
Health takes seconds to move (probes are at least 1 s apart), so the tests that only watch share one
service per backend: it is started once per module with a healthy, a failing and a toggled server
registered, and the clocks of those tests overlap. Each of them still waits for what it needs with a
deadline, so it passes alone too; only the toggle test changes the toggled target. Tests that stop
the service start their own.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import URL

from tests.integration.conftest import scratch_database
from tests.integration.http.conftest import assert_problem
from tests.integration.service import (
    STOP_SECONDS,
    Service,
    ServiceRunner,
    TargetServer,
    logs_shown_on_failure,
    run_db_upgrade,
    service_runner,
)
from tests.waiting import eventually_sync

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
Json = dict[str, Any]
# Fields that change with every probe; everything else about a webserver must survive a restart.
PER_PROBE_FIELDS = ("consecutive_successes", "consecutive_failures", "last_checked_at")


@contextmanager
def migrated_database(backend: str, request: pytest.FixtureRequest, directory: Path) -> Iterator[str]:
    """The URL of an empty database on the backend, ready for `healthmon serve`."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / 'healthmon.db'}"  # `healthmon serve` migrates SQLite itself
        return
    admin_url: URL = request.getfixturevalue("postgres_admin_url")
    with scratch_database(admin_url, "healthmon_e2e") as url:
        rendered = url.render_as_string(hide_password=False)
        run_db_upgrade(rendered)
        yield rendered


def instant(text: str) -> datetime:
    """An API timestamp as a datetime, so equal instants compare equal whatever their spelling."""
    return datetime.fromisoformat(text)


def wait_for_health(service: Service, webserver_id: int, state: str, *, within: float) -> Json:
    """The webserver as soon as it is in this state."""
    seen: Json = {}

    def reached() -> bool:
        seen.update(service.webserver(webserver_id))
        return bool(seen["health"] == state)

    eventually_sync(reached, within=within, what=f"webserver {webserver_id} to become {state}")
    return seen


def wait_for_history(service: Service, webserver_id: int, length: int, *, within: float) -> None:
    eventually_sync(
        lambda: len(service.history(webserver_id)) >= length,
        within=within,
        what=f"{length} requests of webserver {webserver_id}",
    )


@dataclass(frozen=True, slots=True)
class Monitored:
    """One running service with three servers registered when it started."""

    runner: ServiceRunner
    service: Service
    target: TargetServer
    healthy: Json
    failing: Json
    toggled: Json


@pytest.fixture(scope="module", params=BACKENDS)
def monitored(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Monitored]:
    """The module's service on one backend: /ok answers 200, /fail 500, /toggle 200 until a test says."""
    directory = tmp_path_factory.mktemp(f"end-to-end-{request.param}")
    with (
        migrated_database(request.param, request, directory) as database_url,
        TargetServer() as target,
        ServiceRunner(directory) as runner,
    ):
        target.respond("/fail", 500)
        service = runner.serve(database_url)
        yield Monitored(
            runner,
            service,
            target,
            healthy=service.register("healthy", target.url("/ok"), interval_seconds=1),
            failing=service.register("failing", target.url("/fail"), interval_seconds=1),
            toggled=service.register("toggled", target.url("/toggle"), interval_seconds=1),
        )


@pytest.fixture
def shared(monitored: Monitored, request: pytest.FixtureRequest) -> Iterator[Monitored]:
    """The module's service, with its log printed if this test fails."""
    with logs_shown_on_failure(request, monitored.runner):
        yield monitored


@pytest.fixture
def runner(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServiceRunner]:
    """Services of this test's own, stopped at its end; their logs are printed if it fails."""
    with service_runner(request, tmp_path) as started:
        yield started


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of this test's own on each backend."""
    with migrated_database(request.param, request, tmp_path) as url:
        yield url


def test_a_deleted_webserver_is_no_longer_probed_and_reads_as_404(shared: Monitored) -> None:
    service, target = shared.service, shared.target
    doomed = service.register("doomed", target.url("/doomed"), interval_seconds=1)
    eventually_sync(lambda: target.hits("/doomed") >= 1, within=5, what="a first probe of doomed")

    response = service.http.delete(f"/webservers/{doomed['id']}")

    assert response.status_code == 204, response.text
    assert response.content == b""
    # A probe already under way may still land; two more probes of another server (at least 1 s,
    # against a refresh every 0.2 s) mean the worker has dropped doomed from its schedule.
    baseline = target.hits("/ok")
    eventually_sync(lambda: target.hits("/ok") >= baseline + 2, within=5, what="the deletion picked up")
    frozen, baseline = target.hits("/doomed"), target.hits("/ok")
    eventually_sync(lambda: target.hits("/ok") >= baseline + 2, within=5, what="two more probes of healthy")
    assert target.hits("/doomed") == frozen
    assert_problem(service.http.get(f"/webservers/{doomed['id']}"), 404, "webserver-not-found")
    assert_problem(service.http.get(f"/webservers/{doomed['id']}/requests"), 404, "webserver-not-found")
    assert_problem(service.http.delete(f"/webservers/{doomed['id']}"), 404, "webserver-not-found")
    listed = service.get("/webservers", params={"limit": 1000})["items"]
    assert doomed["id"] not in {webserver["id"] for webserver in listed}


def test_a_server_that_fails_and_recovers_flips_to_unhealthy_and_back(shared: Monitored) -> None:
    service, target, toggled = shared.service, shared.target, shared.toggled
    assert toggled["health"] == "unknown"

    first_healthy = wait_for_health(service, toggled["id"], "healthy", within=15)
    history = service.history(toggled["id"])[::-1]
    assert all(request["status_code"] == 200 for request in history)
    assert instant(first_healthy["health_changed_at"]) == instant(history[4]["started_at"])

    target.respond("/toggle", 500)
    unhealthy = wait_for_health(service, toggled["id"], "unhealthy", within=10)
    history = service.history(toggled["id"])[::-1]
    first_failure = next(n for n, request in enumerate(history) if not request["success"])
    # Still healthy after one and two failures; unhealthy exactly at the third.
    assert [request["status_code"] for request in history[first_failure : first_failure + 3]] == [500] * 3
    assert instant(unhealthy["health_changed_at"]) == instant(history[first_failure + 2]["started_at"])

    target.respond("/toggle", 200)
    healthy_again = wait_for_health(service, toggled["id"], "healthy", within=12)
    history = service.history(toggled["id"])[::-1]
    runs = [(status, len(list(run))) for status, run in itertools.groupby(r["status_code"] for r in history)]
    assert [status for status, _ in runs] == [200, 500, 200], runs
    assert runs[0][1] >= 5
    assert runs[1][1] >= 3
    assert runs[2][1] >= 5
    # Unhealthy through four successes; healthy exactly at the fifth.
    fifth_success = runs[0][1] + runs[1][1] + 4
    assert instant(healthy_again["health_changed_at"]) == instant(history[fifth_success]["started_at"])


def test_health_becomes_healthy_exactly_at_the_fifth_success(shared: Monitored) -> None:
    service, healthy = shared.service, shared.healthy
    assert healthy["health"] == "unknown"

    now = wait_for_health(service, healthy["id"], "healthy", within=15)

    history = service.history(healthy["id"])[::-1]
    assert len(history) >= 5
    assert all(request["success"] and request["status_code"] == 200 for request in history)
    assert all(request["error"] is None for request in history)
    assert instant(now["health_changed_at"]) == instant(history[4]["started_at"])


def test_health_becomes_unhealthy_exactly_at_the_third_failure(shared: Monitored) -> None:
    service, failing = shared.service, shared.failing
    assert failing["health"] == "unknown"

    now = wait_for_health(service, failing["id"], "unhealthy", within=10)

    history = service.history(failing["id"])[::-1]
    assert len(history) >= 3
    assert all(not request["success"] and request["status_code"] == 500 for request in history)
    assert instant(now["health_changed_at"]) == instant(history[2]["started_at"])
    assert now["consecutive_failures"] >= 3
    assert now["consecutive_successes"] == 0


def test_a_webserver_shows_its_ten_newest_requests_newest_first(shared: Monitored) -> None:
    service, healthy = shared.service, shared.healthy
    wait_for_history(service, healthy["id"], 11, within=20)

    newest_before = service.history(healthy["id"])[0]
    last_requests = service.webserver(healthy["id"])["last_requests"]
    history = service.history(healthy["id"])

    assert len(last_requests) == 10
    starts = [instant(request["started_at"]) for request in last_requests]
    assert starts == sorted(starts, reverse=True)
    assert len(set(starts)) == 10
    # Nothing stored before the read is missing from it, and the ten are contiguous in the history
    # (a probe stored after the read may sit on top of them).
    assert starts[0] >= instant(newest_before["started_at"])
    top = [request["id"] for request in history].index(last_requests[0]["id"])
    assert history[top : top + 10] == last_requests


@pytest.mark.parametrize("server", ["healthy", "failing"])
def test_history_pages_tile_the_whole_history(shared: Monitored, server: str) -> None:
    service = shared.service
    webserver_id = getattr(shared, server)["id"]
    wait_for_history(service, webserver_id, 10, within=20)

    walked: list[Json] = []
    params: dict[str, str | int] = {"limit": 3}
    for _ in range(400):  # far more pages than the history can have; a cursor loop fails the test
        page = service.get(f"/webservers/{webserver_id}/requests", params=params)
        walked.extend(page["items"])
        if page["next_cursor"] is None:
            assert 1 <= len(page["items"]) <= 3
            break
        assert len(page["items"]) == 3
        params["cursor"] = page["next_cursor"]
    else:
        pytest.fail("the history pages never ended")
    # Read after the walk: the same history, plus whatever was stored since on top.
    whole = service.history(webserver_id)

    assert len(walked) >= 10
    assert len({request["id"] for request in walked}) == len(walked)
    assert whole[len(whole) - len(walked) :] == walked


def test_sigterm_stores_every_probe_that_reached_a_target_and_a_restart_keeps_everything(
    database_url: str, runner: ServiceRunner
) -> None:
    with TargetServer() as target:
        target.respond("/down", 500)
        service = runner.serve(database_url)
        # Thresholds of 1: each server's health is settled by its first request.
        servers = {
            "/up": service.register("up", target.url("/up"), interval_seconds=1, healthy_threshold=1),
            "/down": service.register("down", target.url("/down"), interval_seconds=1, unhealthy_threshold=1),
        }
        eventually_sync(lambda: target.hits("/up") >= 2, within=5, what="two probes of /up")
        eventually_sync(lambda: target.hits("/down") >= 1, within=5, what="a probe of /down")
        before = {webserver["id"]: webserver for webserver in service.get("/webservers")["items"]}
        histories = {webserver_id: service.history(webserver_id) for webserver_id in before}
        assert [webserver["health"] for webserver in before.values()] == ["healthy", "unhealthy"]

        stopping = time.monotonic()
        status = service.stop(within=STOP_SECONDS)

        assert status == 0, service.log()
        assert time.monotonic() - stopping < 5
        stopped_at = datetime.now(UTC)
        hits = {path: target.hits(path) for path in servers}
        stopped = re.findall(r"worker stopped: (\d+) results stored, 0 probes abandoned", service.log())
        assert [int(count) for count in stopped] == [sum(hits.values())], service.log()

        service = runner.serve(database_url)
        after = {webserver["id"]: webserver for webserver in service.get("/webservers")["items"]}

        assert after.keys() == before.keys()
        for path, webserver in servers.items():
            old, new = before[webserver["id"]], after[webserver["id"]]
            assert {k: v for k, v in new.items() if k not in PER_PROBE_FIELDS} == {
                k: v for k, v in old.items() if k not in PER_PROBE_FIELDS
            }
            for streak in ("consecutive_successes", "consecutive_failures"):
                assert new[streak] >= old[streak], "the streaks go on from where they were"
            # What the first process stored: every probe that reached the target, the ones read
            # before the stop included, in order. (The new process's requests start after stopped_at.)
            first_run = service.get(
                f"/webservers/{webserver['id']}/requests",
                params={"limit": 1000, "until": stopped_at.isoformat()},
            )["items"]
            assert len(first_run) == hits[path]
            earlier = histories[webserver["id"]]
            assert first_run[len(first_run) - len(earlier) :] == earlier

        # Probing resumes: a history holds no more rows than its target saw hits, so one more row
        # than at the stop is a new probe, made and stored by the new process.
        for path, webserver in servers.items():

            def stored_more(path: str = path, webserver_id: int = webserver["id"]) -> bool:
                return len(service.history(webserver_id)) > hits[path]

            eventually_sync(stored_more, within=5, what=f"a new request of {path} stored")
        assert service.stop() == 0
