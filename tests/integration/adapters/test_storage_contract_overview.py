"""The storage contract of the dashboard's overview: counts by health, an ordered page, recent probes.

Every UnitOfWork adapter passes these unchanged; names that differ only beyond ASCII case, and
names whose order a locale would change (spaces, punctuation), are where adapters could disagree.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from healthmon.domain.health import HealthState, HealthStateMachine
from healthmon.domain.webserver import Webserver
from tests.factories import failed, succeeded
from tests.fakes import EPOCH
from tests.integration.adapters.storage_steps import add, save
from tests.integration.conftest import UowFactory

HEALTHY = HealthStateMachine(state=HealthState.HEALTHY, consecutive_successes=5)
UNHEALTHY = HealthStateMachine(state=HealthState.UNHEALTHY, consecutive_failures=3)


def in_state(uow_factory: UowFactory, webserver: Webserver, health: HealthStateMachine) -> Webserver:
    changed = dataclasses.replace(webserver, health=health)
    save(uow_factory, changed)
    return changed


def names(page: list[Webserver]) -> list[str]:
    return [webserver.settings.name for webserver in page]


def test_health_counts_name_every_state(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        assert uow.webservers.health_counts() == dict.fromkeys(HealthState, 0)
    servers = [add(uow_factory, n) for n in range(1, 5)]
    in_state(uow_factory, servers[0], HEALTHY)
    in_state(uow_factory, servers[1], HEALTHY)
    in_state(uow_factory, servers[2], UNHEALTHY)
    with uow_factory() as uow:
        assert uow.webservers.health_counts() == {
            HealthState.HEALTHY: 2,
            HealthState.UNHEALTHY: 1,
            HealthState.UNKNOWN: 1,
        }


def test_overview_orders_by_attention_then_name_then_id(uow_factory: UowFactory) -> None:
    bravo = in_state(uow_factory, add(uow_factory, 1, name="bravo"), HEALTHY)
    in_state(uow_factory, add(uow_factory, 2, name="Alpha"), HEALTHY)
    add(uow_factory, 3, name="charlie")
    in_state(uow_factory, add(uow_factory, 4, name="zulu"), UNHEALTHY)
    in_state(uow_factory, add(uow_factory, 5, name="bravo"), HEALTHY)
    add(uow_factory, 6, name="a b")
    add(uow_factory, 7, name="a-c")
    add(uow_factory, 8, name="ab")
    with uow_factory() as uow:
        total, page = uow.webservers.overview(health=None, name_contains="", offset=0, limit=100)
    assert total == 8
    # Byte order after ASCII lower-casing: " " < "-" < "b", whatever the database's locale.
    assert names(page) == ["zulu", "a b", "a-c", "ab", "charlie", "Alpha", "bravo", "bravo"]
    assert page[6] == bravo


def test_overview_filters_by_health_and_name_and_counts_the_matches(uow_factory: UowFactory) -> None:
    shop = in_state(uow_factory, add(uow_factory, 1, name="Shop"), HEALTHY)
    add(uow_factory, 2, name="my SHOP eu")
    in_state(uow_factory, add(uow_factory, 3, name="blog"), HEALTHY)
    add(uow_factory, 4, name="50% off_sale")
    add(uow_factory, 5, name="Ärger shop")
    with uow_factory() as uow:
        assert uow.webservers.overview(
            health=HealthState.HEALTHY, name_contains="sHoP", offset=0, limit=10
        ) == (
            1,
            [shop],
        )
        total, page = uow.webservers.overview(health=None, name_contains="shop", offset=0, limit=10)
        assert (total, names(page)) == (3, ["my SHOP eu", "Ärger shop", "Shop"])
        # LIKE's wildcards are plain characters here.
        assert names(uow.webservers.overview(health=None, name_contains="%", offset=0, limit=10)[1]) == [
            "50% off_sale"
        ]
        assert uow.webservers.overview(health=None, name_contains="0_", offset=0, limit=10)[0] == 0
        assert uow.webservers.overview(health=None, name_contains="_", offset=0, limit=10)[0] == 1


def test_overview_pages_with_offset_and_limit(uow_factory: UowFactory) -> None:
    for n in range(1, 8):
        add(uow_factory, n, name=f"server {n}")
    with uow_factory() as uow:
        first = uow.webservers.overview(health=None, name_contains="", offset=0, limit=3)
        last = uow.webservers.overview(health=None, name_contains="", offset=6, limit=3)
        beyond = uow.webservers.overview(health=None, name_contains="", offset=9, limit=3)
    assert (first[0], names(first[1])) == (7, ["server 1", "server 2", "server 3"])
    assert (last[0], names(last[1])) == (7, ["server 7"])
    assert beyond == (7, [])


def test_recent_outcomes_are_each_servers_newest_newest_first(uow_factory: UowFactory) -> None:
    busy, quiet, silent = (add(uow_factory, n) for n in range(1, 4))
    results = [succeeded(busy.id, EPOCH + timedelta(seconds=i)) for i in range(5)]
    results[3] = failed(busy.id, EPOCH + timedelta(seconds=3))
    results.append(failed(quiet.id, EPOCH))
    with uow_factory() as uow:
        uow.probe_results.add_many(results)
        uow.commit()
    with uow_factory() as uow:
        recent = uow.probe_results.recent_outcomes([busy.id, quiet.id, silent.id], limit=3, since=EPOCH)
        assert uow.probe_results.recent_outcomes([], limit=3, since=EPOCH) == {}
        later = uow.probe_results.recent_outcomes(
            [busy.id, quiet.id], limit=3, since=EPOCH + timedelta(seconds=4)
        )
    # The newest three of busy's: the 5th (ok), the 4th (failed), the 3rd (ok).
    assert recent == {busy.id: [True, False, True], quiet.id: [False]}
    # Only what started since then: busy's 5th; quiet has none.
    assert later == {busy.id: [True]}
