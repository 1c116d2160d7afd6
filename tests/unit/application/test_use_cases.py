"""The use cases, run against the in-memory storage adapter and a fake clock."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from healthmon.adapters.memory import InMemoryStore, InMemoryUnitOfWork
from healthmon.application.ports import HistoryCursor
from healthmon.application.use_cases.history import ListProbeHistory
from healthmon.application.use_cases.recording import RecordProbeResults
from healthmon.application.use_cases.webservers import (
    GetWebserver,
    ListWebservers,
    RegisterWebserver,
    RemoveWebserver,
    UpdateWebserver,
)
from healthmon.domain.errors import InvalidField, WebserverAlreadyRegistered, WebserverNotFound
from healthmon.domain.health import HealthState
from healthmon.domain.probe import RecordedProbe
from healthmon.domain.webserver import Webserver, WebserverChanges, WebserverId
from tests.factories import failed, settings, succeeded
from tests.fakes import EPOCH, FakeClock


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def register(store: InMemoryStore, clock: FakeClock) -> RegisterWebserver:
    return RegisterWebserver(InMemoryUnitOfWork(store), clock)


@pytest.fixture
def record(store: InMemoryStore) -> RecordProbeResults:
    return RecordProbeResults(InMemoryUnitOfWork(store))


def at(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def test_register_stores_a_webserver_with_unknown_health(
    register: RegisterWebserver, store: InMemoryStore, clock: FakeClock
) -> None:
    created = register.execute(settings(1))
    assert created.state is HealthState.UNKNOWN
    assert created.created_at == clock.now()
    assert GetWebserver(InMemoryUnitOfWork(store), FakeClock()).execute(created.id).webserver == created


def test_register_rejects_duplicate_url(register: RegisterWebserver, store: InMemoryStore) -> None:
    register.execute(settings(1))
    with pytest.raises(WebserverAlreadyRegistered):
        register.execute(settings(2, url=settings(1).url))
    assert len(ListWebservers(InMemoryUnitOfWork(store), FakeClock()).execute().items) == 1


def test_update_changes_only_given_fields(
    register: RegisterWebserver, store: InMemoryStore, clock: FakeClock
) -> None:
    created = register.execute(settings(1, interval_seconds=30))
    clock.advance(5)
    updated = UpdateWebserver(InMemoryUnitOfWork(store), clock).execute(
        created.id, WebserverChanges(timeout_seconds=10)
    )
    assert (updated.settings.interval_seconds, updated.settings.timeout_seconds) == (30, 10)
    assert updated.updated_at == clock.now()
    assert GetWebserver(InMemoryUnitOfWork(store), FakeClock()).execute(created.id).webserver == updated


def test_invalid_update_changes_nothing(
    register: RegisterWebserver, store: InMemoryStore, clock: FakeClock
) -> None:
    created = register.execute(settings(1))
    with pytest.raises(InvalidField):
        UpdateWebserver(InMemoryUnitOfWork(store), clock).execute(created.id, WebserverChanges(url="ftp://x"))
    assert GetWebserver(InMemoryUnitOfWork(store), FakeClock()).execute(created.id).webserver == created


def test_update_of_unknown_webserver_raises_not_found(store: InMemoryStore, clock: FakeClock) -> None:
    with pytest.raises(WebserverNotFound) as raised:
        UpdateWebserver(InMemoryUnitOfWork(store), clock).execute(WebserverId(9), WebserverChanges(name="x"))
    assert raised.value.webserver_id == 9


def test_changing_the_url_resets_health_and_keeps_history(
    register: RegisterWebserver, record: RecordProbeResults, store: InMemoryStore, clock: FakeClock
) -> None:
    created = register.execute(settings(1))
    record.execute([succeeded(created.id, EPOCH + at(n)) for n in range(5)])
    clock.advance(60)
    moved = UpdateWebserver(InMemoryUnitOfWork(store), clock).execute(
        created.id, WebserverChanges(url="http://moved.test/")
    )
    details = GetWebserver(InMemoryUnitOfWork(store), FakeClock()).execute(created.id)
    assert moved.state is HealthState.UNKNOWN
    assert details.webserver.health.consecutive_successes == 0
    assert len(details.last_requests) == 5


def test_remove_deletes_and_a_second_remove_raises(register: RegisterWebserver, store: InMemoryStore) -> None:
    created = register.execute(settings(1))
    RemoveWebserver(InMemoryUnitOfWork(store)).execute(created.id)
    with pytest.raises(WebserverNotFound):
        RemoveWebserver(InMemoryUnitOfWork(store)).execute(created.id)
    with pytest.raises(WebserverNotFound):
        GetWebserver(InMemoryUnitOfWork(store), FakeClock()).execute(created.id)


def test_get_returns_the_last_ten_requests_newest_first(
    register: RegisterWebserver, record: RecordProbeResults, store: InMemoryStore
) -> None:
    created = register.execute(settings(1))
    record.execute([succeeded(created.id, EPOCH + at(n)) for n in range(14)])
    last = GetWebserver(InMemoryUnitOfWork(store), FakeClock()).execute(created.id).last_requests
    assert [probe.result.started_at for probe in last] == [EPOCH + at(n) for n in range(13, 3, -1)]


def test_list_pages_in_id_order_and_filters_on_health(
    register: RegisterWebserver, record: RecordProbeResults, store: InMemoryStore
) -> None:
    created = [register.execute(settings(n)) for n in range(1, 6)]
    record.execute([failed(created[2].id, EPOCH + at(n)) for n in range(3)])
    listing = ListWebservers(InMemoryUnitOfWork(store), FakeClock())

    first = listing.execute(limit=2)
    second = listing.execute(after=first.next_cursor, limit=2)
    third = listing.execute(after=second.next_cursor, limit=2)
    assert [w.id for w in first.items + second.items + third.items] == [w.id for w in created]
    assert third.next_cursor is None

    unhealthy = listing.execute(health=HealthState.UNHEALTHY)
    assert [w.id for w in unhealthy.items] == [created[2].id]
    assert unhealthy.next_cursor is None


@pytest.mark.parametrize("limit", [0, 1001, -1])
def test_list_rejects_a_limit_outside_one_to_a_thousand(store: InMemoryStore, limit: int) -> None:
    with pytest.raises(InvalidField) as raised:
        ListWebservers(InMemoryUnitOfWork(store), FakeClock()).execute(limit=limit)
    assert raised.value.field == "limit"


def test_history_pages_tile_the_whole_history(
    register: RegisterWebserver, record: RecordProbeResults, store: InMemoryStore
) -> None:
    created = register.execute(settings(1))
    record.execute([succeeded(created.id, EPOCH + at(n)) for n in range(23)])
    history = ListProbeHistory(InMemoryUnitOfWork(store))
    seen: list[RecordedProbe] = []
    cursor: HistoryCursor | None = None
    while True:
        page = history.execute(created.id, before=cursor, limit=5)
        seen.extend(page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert [probe.result.started_at for probe in seen] == [EPOCH + at(n) for n in range(22, -1, -1)]


def test_history_of_unknown_webserver_raises_not_found(store: InMemoryStore) -> None:
    with pytest.raises(WebserverNotFound):
        ListProbeHistory(InMemoryUnitOfWork(store)).execute(WebserverId(3))


def test_history_with_since_after_until_is_empty(
    register: RegisterWebserver, record: RecordProbeResults, store: InMemoryStore
) -> None:
    created = register.execute(settings(1))
    record.execute([succeeded(created.id, EPOCH)])
    page = ListProbeHistory(InMemoryUnitOfWork(store)).execute(created.id, since=EPOCH + at(1), until=EPOCH)
    assert page.items == []
    assert page.next_cursor is None


def test_record_applies_results_in_probe_start_order(
    register: RegisterWebserver, record: RecordProbeResults, store: InMemoryStore
) -> None:
    created = register.execute(settings(1))
    # Three failures, then five successes, handed over shuffled: start order decides.
    results = [failed(created.id, EPOCH + at(n)) for n in range(3)]
    results += [succeeded(created.id, EPOCH + at(n)) for n in range(3, 8)]
    outcome = record.execute(results[::-1])
    transitions = [(change.old, change.new) for change in outcome.changes]
    assert transitions == [
        (HealthState.UNKNOWN, HealthState.UNHEALTHY),
        (HealthState.UNHEALTHY, HealthState.HEALTHY),
    ]
    webserver = GetWebserver(InMemoryUnitOfWork(store), FakeClock()).execute(created.id).webserver
    assert webserver.state is HealthState.HEALTHY
    assert webserver.health_changed_at == EPOCH + at(7)
    assert webserver.last_checked_at == EPOCH + at(7)


def test_record_drops_results_of_deleted_webservers(
    register: RegisterWebserver, record: RecordProbeResults, store: InMemoryStore
) -> None:
    kept, gone = register.execute(settings(1)), register.execute(settings(2))
    RemoveWebserver(InMemoryUnitOfWork(store)).execute(gone.id)
    outcome = record.execute([succeeded(kept.id, EPOCH), succeeded(gone.id, EPOCH)])
    assert (outcome.stored, outcome.dropped) == (1, 1)
    assert len(GetWebserver(InMemoryUnitOfWork(store), FakeClock()).execute(kept.id).last_requests) == 1


def test_record_drops_a_result_older_than_the_last_check_of_a_later_batch(
    register: RegisterWebserver, record: RecordProbeResults, store: InMemoryStore
) -> None:
    created = register.execute(settings(1))
    # The new holder stored a success at 10 s; the old holder's failure from 9 s arrives late.
    record.execute([succeeded(created.id, EPOCH + at(10))])
    outcome = record.execute([failed(created.id, EPOCH + at(9)), succeeded(created.id, EPOCH + at(11))])
    assert (outcome.stored, outcome.dropped) == (1, 1)
    details = GetWebserver(InMemoryUnitOfWork(store), FakeClock()).execute(created.id)
    assert [probe.result.started_at for probe in details.last_requests] == [EPOCH + at(11), EPOCH + at(10)]
    assert details.webserver.health.consecutive_successes == 2
    assert details.webserver.last_checked_at == EPOCH + at(11)


def test_record_applies_a_result_once_even_when_it_comes_twice(
    register: RegisterWebserver, record: RecordProbeResults, store: InMemoryStore
) -> None:
    created = register.execute(settings(1))
    twice = succeeded(created.id, EPOCH + at(1))
    first, again = record.execute([twice, twice]), record.execute([twice])
    assert (first.stored, first.dropped, again.stored, again.dropped) == (1, 1, 0, 1)
    details = GetWebserver(InMemoryUnitOfWork(store), FakeClock()).execute(created.id)
    assert len(details.last_requests) == 1
    assert details.webserver.health.consecutive_successes == 1


def test_record_of_an_empty_batch_does_nothing(record: RecordProbeResults) -> None:
    assert record.execute([]).stored == 0


def test_record_logs_each_health_change(
    register: RegisterWebserver, record: RecordProbeResults, caplog: pytest.LogCaptureFixture
) -> None:
    created: Webserver = register.execute(settings(12, name="example"))
    with caplog.at_level(logging.INFO, logger="healthmon"):
        record.execute([succeeded(created.id, EPOCH + at(n)) for n in range(5)])
    assert f"webserver {created.id} 'example': unknown -> healthy" in caplog.messages


# A name that, unquoted, would end the line and forge another. Set past validation, as if stored
# before names were checked this strictly: the log line must hold whatever a stored name holds.
FORGING_NAME = "shop: healthy -> unhealthy\u2028webserver 9 bank"


def test_names_in_log_lines_are_quoted_so_no_line_can_be_forged(
    register: RegisterWebserver,
    record: RecordProbeResults,
    store: InMemoryStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="healthmon"):
        created = register.execute(settings(1, name="x"))
        stored = GetWebserver(InMemoryUnitOfWork(store), FakeClock()).execute(created.id).webserver
        object.__setattr__(stored.settings, "name", FORGING_NAME)
        with InMemoryUnitOfWork(store) as uow:
            uow.webservers.save(stored)
            uow.commit()
        record.execute([succeeded(created.id, EPOCH + at(n)) for n in range(5)])

    changed = caplog.messages[-1]
    assert changed == f"webserver {created.id} {FORGING_NAME!r}: unknown -> healthy"
    assert len(changed.splitlines()) == 1


def test_the_registered_line_quotes_the_name_and_masks_the_password(
    register: RegisterWebserver, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="healthmon"):
        created = register.execute(settings(1, name="it's", url="http://user:s3cr3t@host/"))

    assert caplog.messages == [f"webserver {created.id} \"it's\": registered 'http://user:***@host/'"]
