"""The dashboard's use cases, run against the in-memory storage adapter and a fake clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from healthmon.adapters.memory import InMemoryStore, InMemoryUnitOfWork
from healthmon.application.use_cases.dashboard import (
    LAST_REQUESTS,
    RECENT_PROBES,
    TIMELINE_EVENTS,
    GetOverview,
    GetPublicUptime,
    GetPublicWebserver,
    GetServerPage,
    OverviewQuery,
)
from healthmon.application.use_cases.recording import RecordProbeResults
from healthmon.application.use_cases.webservers import RegisterWebserver
from healthmon.domain.errors import InvalidField, WebserverNotFound
from healthmon.domain.health import HealthState
from healthmon.domain.webserver import Webserver, WebserverId
from tests.factories import failed, settings, succeeded
from tests.fakes import FakeClock


@pytest.fixture
def uow() -> InMemoryUnitOfWork:
    return InMemoryUnitOfWork(InMemoryStore())


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def register(uow: InMemoryUnitOfWork, clock: FakeClock, n: int, **overrides: object) -> Webserver:
    return RegisterWebserver(uow, clock).execute(settings(n, **overrides))


def flip(uow: InMemoryUnitOfWork, clock: FakeClock, webserver: Webserver, times: int) -> None:
    """Alternate the server between healthy and unhealthy `times` times, one probe a second."""
    results = []
    for flip_number in range(times):
        for _ in range(5):
            start = clock.advance(1)
            results.append(
                succeeded(webserver.id, start) if flip_number % 2 == 0 else failed(webserver.id, start)
            )
    RecordProbeResults(uow).execute(results)


@pytest.mark.parametrize("page", [0, -1, True])
def test_a_page_below_one_is_refused(page: int) -> None:
    with pytest.raises(InvalidField) as raised:
        OverviewQuery(page=page)
    assert raised.value.field == "page"


def test_a_search_longer_than_two_hundred_characters_is_refused() -> None:
    with pytest.raises(InvalidField) as raised:
        OverviewQuery(search="x" * 201)
    assert raised.value.field == "q"


def test_overview_counts_the_fleet_and_pages_the_matches(uow: InMemoryUnitOfWork, clock: FakeClock) -> None:
    servers = [register(uow, clock, n, name=f"shop {n}") for n in range(1, 4)]
    register(uow, clock, 4, name="blog")
    flip(uow, clock, servers[0], 1)

    overview = GetOverview(uow, clock).execute(OverviewQuery(search="  SHOP ", page=2, page_size=2))

    assert overview.counts == {HealthState.HEALTHY: 1, HealthState.UNHEALTHY: 0, HealthState.UNKNOWN: 3}
    assert (overview.total, overview.matching, overview.page, overview.pages) == (4, 3, 2, 2)
    assert [row.webserver.settings.name for row in overview.rows] == ["shop 1"]
    assert overview.rows[0].recent == [True] * 5
    assert overview.rows[0].summary.uptime_24h == 1.0


def test_overview_strips_hold_the_last_sixty_results(uow: InMemoryUnitOfWork, clock: FakeClock) -> None:
    webserver = register(uow, clock, 1)
    RecordProbeResults(uow).execute(
        [failed(webserver.id, clock.advance(1)) for _ in range(RECENT_PROBES + 5)]
    )
    [row] = GetOverview(uow, clock).execute(OverviewQuery()).rows
    assert row.recent == [False] * RECENT_PROBES


def test_server_page_has_the_newest_events_first_and_the_failures(
    uow: InMemoryUnitOfWork, clock: FakeClock
) -> None:
    webserver = register(uow, clock, 1)
    flip(uow, clock, webserver, TIMELINE_EVENTS + 3)

    page = GetServerPage(uow).execute(webserver.id)

    assert len(page.timeline) == TIMELINE_EVENTS
    times = [event.occurred_at for event in page.timeline]
    assert times == sorted(times, reverse=True)
    assert len(page.last_requests) == LAST_REQUESTS
    assert page.last_failures == [probe for probe in page.last_requests if not probe.result.success]
    assert page.last_failures
    assert page.channels == []


def test_server_page_of_an_unknown_server_raises() -> None:
    with pytest.raises(WebserverNotFound):
        GetServerPage(InMemoryUnitOfWork(InMemoryStore())).execute(WebserverId(9))


def test_only_a_public_server_is_found_for_badges(uow: InMemoryUnitOfWork, clock: FakeClock) -> None:
    public = register(uow, clock, 1, public=True)
    private = register(uow, clock, 2)
    assert GetPublicWebserver(uow).execute(public.id) == public
    with pytest.raises(WebserverNotFound) as raised:
        GetPublicWebserver(uow).execute(private.id)
    assert raised.value.webserver_id == private.id
    with pytest.raises(WebserverNotFound):
        GetPublicUptime(uow, clock).execute(private.id, timedelta(days=1))


def test_public_uptime_counts_the_window_before_now(uow: InMemoryUnitOfWork, clock: FakeClock) -> None:
    webserver = register(uow, clock, 1, public=True)
    assert GetPublicUptime(uow, clock).execute(webserver.id, timedelta(days=1)) is None
    RecordProbeResults(uow).execute(
        [succeeded(webserver.id, clock.advance(1)), failed(webserver.id, clock.advance(1))]
    )
    clock.advance(1)
    assert GetPublicUptime(uow, clock).execute(webserver.id, timedelta(days=1)) == 0.5
