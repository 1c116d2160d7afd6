"""`healthmon` as users run it: the worker stops cleanly on SIGTERM; a refused start says why in one line."""

from __future__ import annotations

import re
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import URL

from healthmon import __version__
from healthmon.adapters.sqlalchemy.engine import create_session_factory
from healthmon.adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from healthmon.adapters.system_clock import SystemClock
from healthmon.application.use_cases.history import ListProbeHistory
from healthmon.application.use_cases.webservers import RegisterWebserver
from healthmon.domain.webserver import Webserver, WebserverSettings
from tests.integration.conftest import scratch_database
from tests.integration.service import (
    ServiceRunner,
    TargetServer,
    run_healthmon,
    service_environment,
    service_runner,
)
from tests.waiting import eventually_sync

STOPPED = re.compile(
    r"worker stopped: (?P<stored>\d+) results stored, (?P<abandoned>\d+) probes abandoned "
    r"after the (?P<grace>[\d.]+) s grace, (?P<lost>\d+) results could not be stored"
)


@pytest.fixture
def runner(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServiceRunner]:
    """Processes of this test's own, stopped at its end; their logs are printed if it fails."""
    with service_runner(request, tmp_path) as started:
        yield started


def register(engine: Engine, name: str, url: str, *, timeout_seconds: int = 60) -> Webserver:
    """Register a webserver probed every second straight in the database (a worker has no API)."""
    uow = SqlAlchemyUnitOfWork(create_session_factory(engine))
    return RegisterWebserver(uow, SystemClock()).execute(
        WebserverSettings(name=name, url=url, interval_seconds=1, timeout_seconds=timeout_seconds)
    )


def stored(engine: Engine, webserver: Webserver) -> int:
    """How many requests of the webserver are in the database."""
    history = ListProbeHistory(SqlAlchemyUnitOfWork(create_session_factory(engine)))
    return len(history.execute(webserver.id, limit=1000).items)


def one_error_line(stderr: str) -> str:
    """The one line a refused start prints; fails on anything more (a traceback, log lines)."""
    assert stderr.count("\n") == 1, stderr
    assert stderr.startswith("healthmon: error: "), stderr
    return stderr


def test_worker_stops_on_sigterm_within_the_grace_and_says_how_many_results_it_stored(
    sqlite_url: str, sqlite_engine: Engine, runner: ServiceRunner
) -> None:
    with TargetServer() as target:
        target.respond("/bad", 500)
        servers = {path: register(sqlite_engine, path, target.url(path)) for path in ("/ok", "/bad")}
        worker = runner.worker(sqlite_url, shutdown_grace_seconds="5")
        eventually_sync(lambda: target.hits("/ok") >= 2, within=10, what="two probes of /ok")
        eventually_sync(lambda: target.hits("/bad") >= 1, within=5, what="a probe of /bad")

        stopping = time.monotonic()
        status = worker.stop(within=5)

        assert status == 0
        assert time.monotonic() - stopping < 5
        hits = {path: target.hits(path) for path in servers}
    [line] = STOPPED.findall(worker.log())
    assert line == (str(sum(hits.values())), "0", "5", "0")
    assert {path: stored(sqlite_engine, webserver) for path, webserver in servers.items()} == hits


def test_worker_abandons_a_probe_that_outlasts_the_grace_and_stores_no_row_for_it(
    sqlite_url: str, sqlite_engine: Engine, runner: ServiceRunner
) -> None:
    with TargetServer() as target:
        target.hang("/hang")
        hung = register(sqlite_engine, "hung", target.url("/hang"), timeout_seconds=60)
        healthy = register(sqlite_engine, "healthy", target.url("/ok"))
        worker = runner.worker(sqlite_url, shutdown_grace_seconds="1")
        eventually_sync(lambda: target.hits("/hang") == 1, within=5, what="the hanging probe under way")
        eventually_sync(lambda: target.hits("/ok") >= 1, within=5, what="a probe of /ok")

        stopping = time.monotonic()
        status = worker.stop(within=4)
        took = time.monotonic() - stopping

        assert status == 0
        assert 1 <= took < 3, f"stopping took {took:.1f} s with a grace of 1 s"
        healthy_hits = target.hits("/ok")
        assert target.hits("/hang") == 1
    match = STOPPED.search(worker.log())
    assert match is not None, worker.log()
    assert "1 probes abandoned after the 1 s grace" in match[0]
    assert match["stored"] == str(healthy_hits)
    assert match["lost"] == "0"
    assert stored(sqlite_engine, hung) == 0
    assert stored(sqlite_engine, healthy) == healthy_hits


def test_serve_refuses_a_public_address_without_an_api_key(tmp_path: Path) -> None:
    environment = service_environment(f"sqlite:///{tmp_path / 'healthmon.db'}")

    finished = run_healthmon("serve", "--host", "0.0.0.0", environment=environment, cwd=tmp_path)

    assert finished.returncode == 1
    assert finished.stdout == ""
    line = one_error_line(finished.stderr)
    assert "HEALTHMON_API_KEYS" in line
    assert "--insecure" in line
    assert not (tmp_path / "healthmon.db").exists(), "it refused before touching the database"


def test_version_prints_the_version(tmp_path: Path) -> None:
    # The console script the package installs, beside this interpreter.
    command = shutil.which("healthmon", path=str(Path(sys.executable).parent))
    assert command is not None

    finished = run_healthmon("--version", cwd=tmp_path, command=(command,))

    assert finished.returncode == 0
    assert finished.stdout == f"healthmon {__version__}\n"
    assert finished.stderr == ""


def test_python_m_healthmon_help_lists_the_commands(tmp_path: Path) -> None:
    finished = run_healthmon("--help", cwd=tmp_path)

    assert finished.returncode == 0
    assert finished.stdout.startswith("usage: healthmon ")
    for command in ("serve", "worker", "db"):
        assert re.search(rf"^\s+{command}\s", finished.stdout, re.MULTILINE), finished.stdout
    assert finished.stderr == ""


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_a_bad_setting_is_named_in_one_line(command: str, tmp_path: Path) -> None:
    environment = service_environment(f"sqlite:///{tmp_path / 'healthmon.db'}", port="abc")

    finished = run_healthmon(command, environment=environment, cwd=tmp_path)

    assert finished.returncode == 1
    line = one_error_line(finished.stderr)
    assert "HEALTHMON_PORT" in line
    assert "'abc'" in line


@pytest.mark.postgres
@pytest.mark.parametrize("command", ["serve", "worker"])
def test_an_unmigrated_postgres_database_is_refused_with_a_hint_to_upgrade(
    command: str, postgres_admin_url: URL, tmp_path: Path
) -> None:
    with scratch_database(postgres_admin_url, "healthmon_unmigrated") as url:
        environment = service_environment(url.render_as_string(hide_password=False))
        finished = run_healthmon(command, environment=environment, cwd=tmp_path)

    assert finished.returncode == 1
    assert "Traceback" not in finished.stderr
    last = finished.stderr.splitlines()[-1]
    assert last.startswith("healthmon: error: "), finished.stderr
    assert "run `healthmon db upgrade` first" in last
    one_error_line(finished.stderr)
