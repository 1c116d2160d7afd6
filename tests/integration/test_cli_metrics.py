"""The worker's metrics: `healthmon worker` on HEALTHMON_METRICS_PORT (if set), `serve` on /metrics."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from tests.integration.service import ServiceRunner, TargetServer, free_port, service_runner
from tests.integration.test_cli_serve import register
from tests.waiting import eventually_sync


@pytest.fixture
def runner(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServiceRunner]:
    """Processes of this test's own, stopped at its end; their logs are printed if it fails."""
    with service_runner(request, tmp_path) as started:
        yield started


def scraped(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float] | None:
    """Every sample of the worker's /metrics by name and labels, or None while it does not answer."""
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1.0)
    except httpx.TransportError:
        return None
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def test_the_worker_serves_its_probes_and_leases_on_the_metrics_port(
    sqlite_url: str, sqlite_engine: Engine, runner: ServiceRunner
) -> None:
    port = free_port()
    with TargetServer() as target:
        target.respond("/bad", 503)
        register(sqlite_engine, "ok", target.url("/ok"))
        register(sqlite_engine, "bad", target.url("/bad"))
        worker = runner.worker(sqlite_url, metrics_port=str(port))
        figures: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}

        def probed_both() -> bool:
            if not worker.running:
                raise worker.failure("the worker exited")
            found = scraped(port)
            if found is None:
                return False
            figures.clear()
            figures.update(found)
            finished = figures.get(("healthmon_probes_finished_total", (("result", "failure"),)), 0)
            return (
                finished >= 1
                and figures.get(("healthmon_probes_finished_total", (("result", "success"),)), 0) >= 1
            )

        eventually_sync(probed_both, within=15, what="a success and a failure on the worker's /metrics")
        assert figures[("healthmon_probe_failures_total", (("reason", "bad_status"),))] >= 1
        assert figures[("healthmon_leases_held", ())] == 2
        assert figures[("healthmon_probe_duration_seconds_count", ())] >= 2
        assert ("healthmon_probe_schedule_lag_seconds_bucket", (("le", "+Inf"),)) in figures
        assert not any(dict(labels).keys() & {"webserver_id", "url"} for _, labels in figures)
        assert httpx.get(f"http://127.0.0.1:{port}/elsewhere", timeout=2.0).status_code == 404
        assert worker.stop() == 0
    assert f"worker metrics on http://127.0.0.1:{port}/metrics" in worker.log()


def test_without_a_metrics_port_the_worker_listens_on_none(
    sqlite_url: str, sqlite_engine: Engine, runner: ServiceRunner
) -> None:
    with TargetServer() as target:
        register(sqlite_engine, "ok", target.url("/ok"))
        worker = runner.worker(sqlite_url)
        eventually_sync(lambda: target.hits("/ok") >= 1, within=15, what="a probe")
        assert worker.stop() == 0
    assert "worker metrics on" not in worker.log()


def test_a_taken_metrics_port_is_refused_in_one_line(sqlite_url: str, runner: ServiceRunner) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        worker = runner.worker(sqlite_url, metrics_port=str(port))
        assert worker.wait(within=15) == 1
    log = worker.log()
    assert "Traceback" not in log
    last = log.splitlines()[-1]
    assert last.startswith("healthmon: error: ")
    assert "HEALTHMON_METRICS_PORT" in last
    assert "address already in use" in last


def test_serve_shows_the_fleet_and_its_own_worker_on_one_metrics_page(
    sqlite_url: str, runner: ServiceRunner
) -> None:
    with TargetServer() as target:
        service = runner.serve(sqlite_url)
        created = service.register("ok", target.url("/ok"), interval_seconds=1)
        eventually_sync(lambda: len(service.history(created["id"])) >= 1, within=15, what="a stored probe")
        response = service.http.get("/metrics")
        assert response.status_code == 200, response.text
        found = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples
        }
        assert found[("healthmon_webserver_up", (("webserver_id", str(created["id"])),))] == 1
        assert found[("healthmon_probes_finished_total", (("result", "success"),))] >= 1
        assert found[("healthmon_workers_live", ())] == 1
        assert service.stop() == 0
