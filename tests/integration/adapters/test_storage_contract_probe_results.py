"""The storage contract for probe results: every UnitOfWork adapter must pass these unchanged."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest

from healthmon.application.ports import HistoryCursor
from healthmon.domain.ids import WebserverId
from healthmon.domain.probe import ErrorKind, ProbeId, ProbeResult, probe_id_of
from healthmon.domain.webserver import WebserverChanges
from tests.factories import failed, settings, succeeded
from tests.fakes import EPOCH
from tests.integration.adapters.storage_steps import add
from tests.integration.conftest import UowFactory


def test_history_is_newest_first_and_round_trips_every_field(uow_factory: UowFactory) -> None:
    webserver = add(uow_factory)
    results = [
        succeeded(webserver.id, EPOCH, latency_ms=1.25),
        failed(webserver.id, EPOCH + timedelta(seconds=1), status_code=503),
        failed(webserver.id, EPOCH + timedelta(seconds=2), status_code=None),
        ProbeResult.failure(
            webserver.id,
            started_at=EPOCH + timedelta(seconds=3),
            latency_ms=60_000.0,
            kind=ErrorKind.TIMEOUT,
            message="No response within 60 s",
        ),
    ]
    with uow_factory() as uow:
        uow.probe_results.add_many(results)
        uow.commit()
    with uow_factory() as uow:
        history = uow.probe_results.history(webserver.id, limit=10)
    assert [probe.result for probe in history] == results[::-1]
    assert len({probe.id for probe in history}) == 4
    assert all(probe.result.started_at.utcoffset() == timedelta(0) for probe in history)


def test_history_pages_tile_without_gaps_or_repeats(uow_factory: UowFactory) -> None:
    webserver = add(uow_factory)
    # A microsecond apart, and hours apart across days: the start alone orders a server's probes.
    results = [
        succeeded(webserver.id, EPOCH + timedelta(hours=7 * (n // 2), microseconds=n % 2)) for n in range(25)
    ]
    with uow_factory() as uow:
        uow.probe_results.add_many(results)
        uow.commit()
    seen = []
    cursor: HistoryCursor | None = None
    with uow_factory() as uow:
        everything = uow.probe_results.history(webserver.id, limit=100)
        while True:
            page = uow.probe_results.history(webserver.id, before=cursor, limit=4)
            seen.extend(page)
            if len(page) < 4:
                break
            cursor = HistoryCursor(page[-1].result.started_at, page[-1].id)
    assert seen == everything
    assert len(seen) == 25
    keys = [(probe.result.started_at, probe.id) for probe in seen]
    assert keys == sorted(keys, reverse=True)


def test_a_probe_id_is_its_start_and_a_cursor_with_a_larger_id_includes_that_start(
    uow_factory: UowFactory,
) -> None:
    webserver = add(uow_factory)
    with uow_factory() as uow:
        uow.probe_results.add_many([succeeded(webserver.id, EPOCH + timedelta(seconds=s)) for s in range(3)])
        uow.commit()
    with uow_factory() as uow:
        _, middle, oldest = uow.probe_results.history(webserver.id, limit=10)
        assert middle.id == probe_id_of(middle.result.started_at)
        older = uow.probe_results.history(
            webserver.id, before=HistoryCursor(middle.result.started_at, middle.id), limit=10
        )
        with_it = uow.probe_results.history(
            webserver.id, before=HistoryCursor(middle.result.started_at, ProbeId(middle.id + 1)), limit=10
        )
    assert older == [oldest]
    assert with_it == [middle, oldest]


def test_latency_is_kept_to_the_microsecond(uow_factory: UowFactory) -> None:
    webserver = add(uow_factory)
    with uow_factory() as uow:
        uow.probe_results.add_many([succeeded(webserver.id, EPOCH, latency_ms=12.3456789)])
        uow.commit()
    with uow_factory() as uow:
        (probe,) = uow.probe_results.history(webserver.id, limit=10)
    assert probe.result.latency_ms == 12.346


def test_history_time_range_includes_since_and_excludes_until(uow_factory: UowFactory) -> None:
    webserver = add(uow_factory)
    with uow_factory() as uow:
        uow.probe_results.add_many([succeeded(webserver.id, EPOCH + timedelta(minutes=m)) for m in range(10)])
        uow.commit()
    with uow_factory() as uow:
        window = uow.probe_results.history(
            webserver.id, since=EPOCH + timedelta(minutes=3), until=EPOCH + timedelta(minutes=6), limit=100
        )
    assert [probe.result.started_at for probe in window] == [EPOCH + timedelta(minutes=m) for m in (5, 4, 3)]


def test_history_is_kept_per_webserver(uow_factory: UowFactory) -> None:
    first, second = add(uow_factory, 1), add(uow_factory, 2)
    with uow_factory() as uow:
        uow.probe_results.add_many([succeeded(first.id, EPOCH), failed(second.id, EPOCH)])
        uow.commit()
    with uow_factory() as uow:
        assert [p.result.webserver_id for p in uow.probe_results.history(first.id, limit=10)] == [first.id]
        assert [p.result.success for p in uow.probe_results.history(second.id, limit=10)] == [False]


def test_uncommitted_history_is_rolled_back(uow_factory: UowFactory) -> None:
    webserver = add(uow_factory)
    with uow_factory() as uow:
        uow.probe_results.add_many([succeeded(webserver.id, EPOCH)])
    with uow_factory() as uow:
        assert uow.probe_results.history(webserver.id, limit=10) == []


def test_timestamps_in_any_zone_read_back_as_the_same_instants(uow_factory: UowFactory) -> None:
    plus_two = timezone(timedelta(hours=2))
    created = datetime(2026, 3, 1, 14, 30, 15, 123456, tzinfo=plus_two)
    with uow_factory() as uow:
        webserver = uow.webservers.add(settings(1), created)
        uow.commit()
    checked = dataclasses.replace(
        webserver,
        last_checked_at=datetime(2026, 3, 1, 7, 0, 0, 1, tzinfo=timezone(timedelta(hours=-5))),
        health_changed_at=created + timedelta(microseconds=1),
    )
    with uow_factory() as uow:
        uow.webservers.save(checked)
        uow.probe_results.add_many(
            [succeeded(webserver.id, created + timedelta(minutes=m)) for m in range(3)]
        )
        uow.commit()
    with uow_factory() as uow:
        stored = uow.webservers.get(webserver.id)
        window = uow.probe_results.history(
            webserver.id,
            since=datetime(2026, 3, 1, 12, 31, tzinfo=UTC),
            until=created + timedelta(minutes=2),
            limit=10,
        )
    assert stored == checked
    assert stored is not None
    assert stored.created_at == created
    assert stored.created_at.utcoffset() is not None
    assert [probe.result.started_at for probe in window] == [created + timedelta(minutes=1)]


def test_add_many_drops_results_of_webservers_that_do_not_exist(uow_factory: UowFactory) -> None:
    webserver = add(uow_factory)
    with uow_factory() as uow:
        uow.probe_results.add_many([succeeded(WebserverId(999_999), EPOCH), succeeded(webserver.id, EPOCH)])
        uow.commit()
    with uow_factory() as uow:
        assert [probe.result for probe in uow.probe_results.history(webserver.id, limit=10)] == [
            succeeded(webserver.id, EPOCH)
        ]
        assert uow.probe_results.history(WebserverId(999_999), limit=10) == []


AWKWARD_TEXTS = [
    'quote " and backslash \\ here',
    "braces {a,b} and commas, NULL",
    "NULL",
    "",
    "unicode: façade ✓ 健康",
    "trailing space ",
]


@pytest.mark.parametrize("text", AWKWARD_TEXTS)
def test_awkward_text_round_trips_in_names_and_error_messages(uow_factory: UowFactory, text: str) -> None:
    name = f"n {text}".strip() or "n"
    webserver = add(uow_factory, name="plain", url="http://awkward.test/?q=%22{a,b}%5C")
    with uow_factory() as uow:
        locked = uow.webservers.get(webserver.id, lock=True)
        assert locked is not None
        # A locked row saved with an unchanged URL takes the batched path on PostgreSQL.
        uow.webservers.save(locked.reconfigure(WebserverChanges(name=name), EPOCH))
        uow.commit()
    failure = ProbeResult.failure(
        webserver.id,
        started_at=EPOCH,
        latency_ms=0.001,
        kind=ErrorKind.INVALID_RESPONSE,
        message=text,
    )
    with uow_factory() as uow:
        uow.probe_results.add_many([failure, succeeded(webserver.id, EPOCH + timedelta(seconds=1))])
        uow.commit()
    with uow_factory() as uow:
        stored = uow.webservers.get_many([webserver.id], lock=True)[webserver.id]
        history = uow.probe_results.history(webserver.id, limit=10)
    assert stored.settings.name == name
    assert stored.settings.url == webserver.settings.url
    assert history[-1].result == failure
