"""The real worker, built by the container: aiohttp probes of loopback targets, stored in SQL."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from aiohttp.test_utils import TestServer
from aiohttp.web import Application
from dependency_injector import providers
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

from healthmon.adapters.memory_metrics import InMemoryMetrics
from healthmon.adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from healthmon.application.use_cases.history import ListProbeHistory
from healthmon.container import Container, build_container
from healthmon.domain.health import HealthState
from healthmon.domain.probe import ErrorKind, RecordedProbe
from healthmon.domain.webserver import Webserver, WebserverId, WebserverSettings
from healthmon.entrypoints.worker import run_monitor
from healthmon.settings import Settings
from tests.integration.targets import FakeResolver, TargetSite, hang, raw_target, turn_url
from tests.integration.tcp_proxy import TcpProxy
from tests.monitor_counts import MonitorCounts
from tests.waiting import eventually

ServerFactory = Callable[[Application], Awaitable[TestServer]]


def quick_settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        refresh_seconds=0.2,
        flush_seconds=0.1,
        shutdown_grace_seconds=1.0,
        summary_seconds=3600.0,
    )


@pytest.fixture
async def site(aiohttp_server: ServerFactory) -> tuple[TargetSite, TestServer]:
    target = TargetSite()
    return target, await aiohttp_server(target.app)


class Worker:
    """A worker running in this event loop, and the use cases to look at what it stored."""

    def __init__(self, container: Container, stats: MonitorCounts) -> None:
        self.container = container
        self.stats = stats

    def register(self, name: str, url: str, **options: object) -> Webserver:
        settings = WebserverSettings(name=name, url=url, **options)  # type: ignore[arg-type]
        return self.container.register_webserver().execute(settings)

    def history(self, webserver_id: WebserverId) -> list[RecordedProbe]:
        return self.container.list_probe_history().execute(webserver_id, limit=1000).items

    def webserver(self, webserver_id: WebserverId) -> Webserver:
        return self.container.get_webserver().execute(webserver_id).webserver


@asynccontextmanager
async def running(settings: Settings, resolver: FakeResolver | None = None) -> AsyncIterator[Worker]:
    container = build_container(settings)
    if resolver is not None:
        container.resolver.override(providers.Object(resolver))
    await container.init_resources()  # type: ignore[misc]
    stop = asyncio.Event()
    try:
        # The metrics are a singleton: the ones the running monitor counts through.
        metrics = InMemoryMetrics()
        container.metrics.override(providers.Object(metrics))
        task = asyncio.create_task(run_monitor(container, stop))
        try:
            yield Worker(container, MonitorCounts(metrics))
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=15)
    finally:
        await container.shutdown_resources()  # type: ignore[misc]


async def test_health_follows_the_five_and_three_rule_in_the_stored_history(
    database_url: str, site: tuple[TargetSite, TestServer]
) -> None:
    _, server = site
    async with running(quick_settings(database_url)) as worker:
        good = worker.register("good", str(server.make_url("/ok")), interval_seconds=1)
        bad = worker.register("bad", str(server.make_url("/status/500")), interval_seconds=1)
        await eventually(lambda: len(worker.history(good.id)) >= 6, within=12, what="six probes of good")
        await eventually(lambda: len(worker.history(bad.id)) >= 4, within=12, what="four probes of bad")
        good_now, bad_now = worker.webserver(good.id), worker.webserver(bad.id)
        good_history, bad_history = worker.history(good.id)[::-1], worker.history(bad.id)[::-1]

    assert all(probe.result.success and probe.result.status_code == 200 for probe in good_history)
    assert good_now.state is HealthState.HEALTHY
    # Healthy exactly at the fifth success, unhealthy exactly at the third failure.
    assert good_now.health_changed_at == good_history[4].result.started_at
    assert not any(probe.result.success for probe in bad_history)
    assert {probe.result.status_code for probe in bad_history} == {500}
    assert bad_now.state is HealthState.UNHEALTHY
    assert bad_now.health_changed_at == bad_history[2].result.started_at


async def test_a_redirect_to_a_host_name_no_one_can_encode_is_stored_as_a_failure(
    sqlite_url: str, site: tuple[TargetSite, TestServer]
) -> None:
    _, server = site
    url = turn_url(server.make_url("/"), after=1, to="http://./x")
    async with running(quick_settings(sqlite_url)) as worker:
        turned = worker.register(
            "turned", str(url), interval_seconds=1, healthy_threshold=1, unhealthy_threshold=1
        )
        await eventually(
            lambda: worker.webserver(turned.id).state is HealthState.UNHEALTHY,
            within=10,
            what="the server to turn unhealthy",
        )
        history = worker.history(turned.id)[::-1]

    assert (history[0].result.status_code, history[0].result.success) == (200, True)
    assert history[1].result.error_kind is ErrorKind.INVALID_URL


async def test_the_worker_looks_names_up_with_the_containers_resolver(
    sqlite_url: str, site: tuple[TargetSite, TestServer]
) -> None:
    _, server = site
    resolver = FakeResolver({"shop.test": "127.0.0.1"})
    async with running(quick_settings(sqlite_url), resolver) as worker:
        shop = worker.register("shop", str(server.make_url("/ok").with_host("shop.test")), interval_seconds=1)
        gone = worker.register("gone", "http://gone.test/", interval_seconds=1)
        await eventually(
            lambda: bool(worker.history(shop.id)) and bool(worker.history(gone.id)),
            within=10,
            what="a probe of each",
        )
        [shop_probe, *_], [gone_probe, *_] = worker.history(shop.id), worker.history(gone.id)

    assert (shop_probe.result.status_code, shop_probe.result.success) == (200, True)
    assert gone_probe.result.error_kind is ErrorKind.DNS
    assert {"shop.test", "gone.test"} <= set(resolver.asked)


async def test_a_hung_target_does_not_delay_its_neighbours(
    sqlite_url: str, site: tuple[TargetSite, TestServer]
) -> None:
    _, server = site
    async with raw_target(hang) as hung_target, running(quick_settings(sqlite_url)) as worker:
        hung = worker.register("hung", hung_target.url, interval_seconds=1, timeout_seconds=60)
        neighbour = worker.register("neighbour", str(server.make_url("/ok")), interval_seconds=1)
        await eventually(lambda: len(worker.history(neighbour.id)) >= 5, within=10, what="five probes")
        starts = [probe.result.started_at for probe in worker.history(neighbour.id)[::-1]]
        assert hung_target.accepted == 1
        assert worker.history(hung.id) == []
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(starts)]
    assert max(gaps) < 1.5, gaps


async def test_a_deleted_server_is_never_probed_again(
    sqlite_url: str, site: tuple[TargetSite, TestServer]
) -> None:
    target, server = site
    async with running(quick_settings(sqlite_url)) as worker:
        doomed = worker.register("doomed", str(server.make_url("/status/204")), interval_seconds=1)
        other = worker.register("other", str(server.make_url("/ok")), interval_seconds=1)

        def hits(path: str) -> int:
            return sum(1 for seen in target.seen if seen.path == path)

        await eventually(lambda: hits("/status/204") >= 1, within=5, what="a first probe")
        worker.container.remove_webserver().execute(doomed.id)
        await eventually(lambda: worker.stats.servers == 1, what="the deletion to be picked up")
        frozen, baseline = hits("/status/204"), hits("/ok")
        await eventually(lambda: hits("/ok") >= baseline + 2, within=5, what="two more probes of other")
        assert hits("/status/204") == frozen
        assert len(worker.history(other.id)) >= 2


@pytest.mark.postgres
async def test_a_database_outage_loses_no_result(
    postgres_url: URL, postgres_session_factory: sessionmaker[Session], site: tuple[TargetSite, TestServer]
) -> None:
    target, server = site
    assert postgres_url.port is not None
    with TcpProxy(postgres_url.host or "127.0.0.1", postgres_url.port) as proxy:
        through_proxy = make_url(postgres_url).set(host="127.0.0.1", port=proxy.port)
        settings = quick_settings(through_proxy.render_as_string(hide_password=False))
        async with running(settings) as worker:
            servers = [
                worker.register(f"site {n}", str(server.make_url(f"/status/20{n}")), interval_seconds=1)
                for n in range(3)
            ]
            await eventually(lambda: worker.stats.results_stored >= 3, within=5, what="first results stored")
            proxy.cut()
            await eventually(lambda: not worker.stats.storage_available, within=5, what="the outage noticed")
            taken = worker.stats.probes_finished
            await eventually(
                lambda: worker.stats.probes_finished >= taken + 6, within=8, what="probes during the outage"
            )
            proxy.restore()
            await eventually(lambda: worker.stats.storage_available, within=10, what="recovery")
        stats = worker.stats
        assert stats.probes_abandoned == 0
        assert stats.results_lost_at_shutdown == 0
    history = ListProbeHistory(SqlAlchemyUnitOfWork(postgres_session_factory))
    for n, webserver in enumerate(servers):
        stored = history.execute(webserver.id, limit=1000).items
        served = sum(1 for seen in target.seen if seen.path == f"/status/20{n}")
        # Every probe that reached the target is stored exactly once, in start order.
        assert len(stored) == served
        starts = [probe.result.started_at for probe in stored]
        assert starts == sorted(starts, reverse=True)
    assert stats.results_stored == stats.probes_finished == len(target.seen)
