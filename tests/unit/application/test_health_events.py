"""Health events: every health transition is stored once, with its deliveries, and nothing else is."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest
from hypothesis import note
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from healthmon.adapters.memory import InMemoryStore, InMemoryUnitOfWork
from healthmon.application.use_cases.recording import RecordProbeResults
from healthmon.application.use_cases.webservers import RegisterWebserver, RemoveWebserver, UpdateWebserver
from healthmon.domain.certificates import ExpiryWarnings
from healthmon.domain.channels import Channel, ChannelKind, ChannelSettings
from healthmon.domain.deliveries import DeliveryStatus
from healthmon.domain.events import EVENT_ID_PREFIX, EventType, RecordedEvent
from healthmon.domain.health import HealthState, HealthStateMachine, Thresholds
from healthmon.domain.probe import ProbeResult
from healthmon.domain.webserver import Webserver, WebserverChanges, WebserverId
from tests.factories import failed, settings, succeeded
from tests.fakes import EPOCH, FakeClock


class CommitFails(Exception):
    """The database went away at commit."""


class FailingCommitUnitOfWork(InMemoryUnitOfWork):
    """A unit of work whose commit always fails, so everything in its block is rolled back."""

    def commit(self) -> None:
        raise CommitFails


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def register(store: InMemoryStore, clock: FakeClock, n: int = 1, **overrides: object) -> Webserver:
    return RegisterWebserver(InMemoryUnitOfWork(store), clock).execute(settings(n, **overrides))


def add_channel(store: InMemoryStore, **overrides: object) -> Channel:
    values: dict[str, object] = {"kind": ChannelKind.WEBHOOK, "url": "https://receiver.test/hook"}
    values.update(overrides)
    with InMemoryUnitOfWork(store) as uow:
        channel = uow.channels.add(ChannelSettings(**values), EPOCH)  # type: ignore[arg-type]
        uow.commit()
    return channel


def events(store: InMemoryStore) -> list[RecordedEvent]:
    with InMemoryUnitOfWork(store) as uow:
        return uow.events.feed(after=None, limit=10_000)


def delivered_to(store: InMemoryStore, event: RecordedEvent) -> set[int]:
    return {delivery.channel_id for delivery in store.deliveries.values() if delivery.event_id == event.id}


def test_a_transition_is_stored_as_one_event_with_its_probe(store: InMemoryStore, clock: FakeClock) -> None:
    webserver = register(store, clock, 1, healthy_threshold=2)
    first, second = succeeded(webserver.id, EPOCH), succeeded(webserver.id, EPOCH + timedelta(seconds=1))
    RecordProbeResults(InMemoryUnitOfWork(store)).execute([first])
    assert events(store) == []
    RecordProbeResults(InMemoryUnitOfWork(store)).execute([second])
    [event] = events(store)
    assert event.id.startswith(EVENT_ID_PREFIX)
    assert event.type is EventType.HEALTH_CHANGED
    assert event.occurred_at == second.started_at
    assert event.change is not None
    assert (event.change.from_state, event.change.to_state) == (HealthState.UNKNOWN, HealthState.HEALTHY)
    assert event.change.probe == second
    assert (event.change.webserver.id, event.change.webserver.name, event.change.webserver.url) == (
        webserver.id,
        webserver.settings.name,
        webserver.settings.url,
    )


def test_an_event_shows_the_webserver_url_with_its_password_masked(
    store: InMemoryStore, clock: FakeClock
) -> None:
    webserver = register(store, clock, 1, url="http://user:s3cr3t@server-1.test/health", healthy_threshold=1)
    RecordProbeResults(InMemoryUnitOfWork(store)).execute([succeeded(webserver.id, EPOCH)])
    [event] = events(store)
    assert event.change is not None
    assert event.change.webserver.url == "http://user:***@server-1.test/health"


def test_one_batch_with_two_transitions_stores_two_events_in_probe_order(
    store: InMemoryStore, clock: FakeClock
) -> None:
    webserver = register(store, clock, 1, healthy_threshold=1, unhealthy_threshold=1)
    results = [failed(webserver.id, EPOCH + timedelta(seconds=1)), succeeded(webserver.id, EPOCH)]
    RecordProbeResults(InMemoryUnitOfWork(store)).execute(results)
    transitions = [
        (event.change.from_state, event.change.to_state)
        for event in events(store)
        if event.change is not None
    ]
    assert transitions == [
        (HealthState.UNKNOWN, HealthState.HEALTHY),
        (HealthState.HEALTHY, HealthState.UNHEALTHY),
    ]


def test_each_event_goes_to_every_enabled_channel_that_covers_its_webserver(
    store: InMemoryStore, clock: FakeClock
) -> None:
    watched, other = register(store, clock, 1, healthy_threshold=1), register(store, clock, 2)
    everything = add_channel(store)
    only_watched = add_channel(store, webserver_ids=frozenset({watched.id}))
    add_channel(store, webserver_ids=frozenset({other.id}))
    add_channel(store, enabled=False)
    RecordProbeResults(InMemoryUnitOfWork(store)).execute([succeeded(watched.id, EPOCH)])
    [event] = events(store)
    assert delivered_to(store, event) == {everything.id, only_watched.id}
    for delivery in store.deliveries.values():
        assert delivery.status is DeliveryStatus.PENDING
        assert delivery.attempts == 0
        assert delivery.webserver_id == watched.id
        assert delivery.next_attempt_at == event.occurred_at


def test_stale_and_orphan_results_store_no_event(store: InMemoryStore, clock: FakeClock) -> None:
    webserver = register(store, clock, 1, healthy_threshold=1)
    RecordProbeResults(InMemoryUnitOfWork(store)).execute(
        [failed(webserver.id, EPOCH + timedelta(seconds=5))]
    )
    outcome = RecordProbeResults(InMemoryUnitOfWork(store)).execute(
        [succeeded(webserver.id, EPOCH), succeeded(WebserverId(999), EPOCH + timedelta(seconds=9))]
    )
    assert outcome.dropped == 2
    assert events(store) == []


def test_a_failed_commit_stores_neither_the_event_nor_its_deliveries(
    store: InMemoryStore, clock: FakeClock
) -> None:
    webserver = register(store, clock, 1, healthy_threshold=1)
    add_channel(store)
    with pytest.raises(CommitFails):
        RecordProbeResults(FailingCommitUnitOfWork(store)).execute([succeeded(webserver.id, EPOCH)])
    assert events(store) == []
    assert store.deliveries == {}


def test_a_url_change_that_resets_health_is_an_event_without_probe(
    store: InMemoryStore, clock: FakeClock
) -> None:
    webserver = register(store, clock, 1, healthy_threshold=1)
    channel = add_channel(store)
    RecordProbeResults(InMemoryUnitOfWork(store)).execute([succeeded(webserver.id, EPOCH)])
    clock.advance(30)
    UpdateWebserver(InMemoryUnitOfWork(store), clock).execute(
        webserver.id, WebserverChanges(name="moved", url="http://moved.test/")
    )
    became_healthy, reset = events(store)
    assert reset.change is not None
    assert (reset.change.from_state, reset.change.to_state) == (HealthState.HEALTHY, HealthState.UNKNOWN)
    assert reset.change.probe is None
    assert reset.occurred_at == clock.now()
    assert (reset.change.webserver.name, reset.change.webserver.url) == ("moved", "http://moved.test/")
    assert reset.sequence > became_healthy.sequence
    assert delivered_to(store, reset) == {channel.id}


@pytest.mark.parametrize(
    "changes", [WebserverChanges(url="http://moved.test/"), WebserverChanges(name="new")]
)
def test_an_update_that_changes_no_health_stores_no_event(
    store: InMemoryStore, clock: FakeClock, changes: WebserverChanges
) -> None:
    webserver = register(store, clock, 1)
    add_channel(store)
    UpdateWebserver(InMemoryUnitOfWork(store), clock).execute(webserver.id, changes)
    assert events(store) == []
    assert store.deliveries == {}


def test_removing_a_webserver_keeps_its_events_and_deliveries(store: InMemoryStore, clock: FakeClock) -> None:
    webserver = register(store, clock, 1, healthy_threshold=1)
    add_channel(store)
    RecordProbeResults(InMemoryUnitOfWork(store)).execute([succeeded(webserver.id, EPOCH)])
    RemoveWebserver(InMemoryUnitOfWork(store)).execute(webserver.id)
    [event] = events(store)
    assert event.webserver_id == webserver.id
    assert len(delivered_to(store, event)) == 1


SERVERS = 2


class HealthEventsComparison(RuleBasedStateMachine):
    """Drives RecordProbeResults and UpdateWebserver on the in-memory store against a replay model.

    The model keeps each server's results since its last URL change and derives the expected
    transitions from them; the store must hold exactly one event per model transition, in order,
    each queued for exactly the channels that cover its server.
    """

    def __init__(self) -> None:
        super().__init__()
        self.store = InMemoryStore()
        self.clock = FakeClock()
        self.servers: list[Webserver] = []
        self.channels: list[Channel] = []
        self.thresholds = Thresholds()
        self.machines: dict[WebserverId, HealthStateMachine] = {}
        self.expected: dict[WebserverId, list[tuple[HealthState, HealthState]]] = {}
        self.moves = 0
        self.checked: set[WebserverId] = set()

    @initialize(healthy=st.integers(1, 4), unhealthy=st.integers(1, 4))
    def register_servers_and_channels(self, healthy: int, unhealthy: int) -> None:
        self.thresholds = Thresholds(healthy, unhealthy)
        note(f"thresholds: healthy after {healthy}, unhealthy after {unhealthy}")
        self.servers = [
            register(self.store, self.clock, n, healthy_threshold=healthy, unhealthy_threshold=unhealthy)
            for n in range(1, SERVERS + 1)
        ]
        first = self.servers[0].id
        self.channels = [
            add_channel(self.store),
            add_channel(self.store, webserver_ids=frozenset({first})),
            add_channel(self.store, enabled=False),
        ]
        for server in self.servers:
            self.machines[server.id] = HealthStateMachine()
            self.expected[server.id] = []

    def _model_record(self, webserver_id: WebserverId, *, ok: bool) -> None:
        # The trivial model: compare the machine's state before and after, nothing more.
        before = self.machines[webserver_id]
        after = before.record(ok=ok, thresholds=self.thresholds).machine
        if after.state is not before.state:
            self.expected[webserver_id].append((before.state, after.state))
        self.machines[webserver_id] = after

    @rule(batch=st.lists(st.tuples(st.integers(0, SERVERS - 1), st.booleans()), min_size=1, max_size=6))
    def record_a_batch(self, batch: list[tuple[int, bool]]) -> None:
        results = []
        for index, ok in batch:
            webserver_id = self.servers[index].id
            started_at = self.clock.advance(1)
            results.append((succeeded if ok else failed)(webserver_id, started_at))
            self._model_record(webserver_id, ok=ok)
            self.checked.add(webserver_id)
        note(f"batch {[(index, ok) for index, ok in batch]}")
        RecordProbeResults(InMemoryUnitOfWork(self.store)).execute(results)

    @rule(index=st.integers(0, SERVERS - 1), ok=st.booleans())
    def record_a_stale_result(self, index: int, ok: bool) -> None:
        webserver_id = self.servers[index].id
        stale = (succeeded if ok else failed)(webserver_id, EPOCH)
        if webserver_id not in self.checked:
            # Never checked, so nothing is newer: the result counts.
            self._model_record(webserver_id, ok=ok)
            self.checked.add(webserver_id)
        RecordProbeResults(InMemoryUnitOfWork(self.store)).execute([stale])

    @rule(index=st.integers(0, SERVERS - 1), ok=st.booleans())
    def lose_a_batch_at_commit(self, index: int, ok: bool) -> None:
        webserver_id = self.servers[index].id
        result = (succeeded if ok else failed)(webserver_id, self.clock.advance(1))
        with pytest.raises(CommitFails):
            RecordProbeResults(FailingCommitUnitOfWork(self.store)).execute([result])

    @rule(index=st.integers(0, SERVERS - 1))
    def move_the_url(self, index: int) -> None:
        webserver_id = self.servers[index].id
        self.moves += 1
        self.clock.advance(1)
        UpdateWebserver(InMemoryUnitOfWork(self.store), self.clock).execute(
            webserver_id, WebserverChanges(url=f"http://moved-{self.moves}.test/")
        )
        state = self.machines[webserver_id].state
        if state is not HealthState.UNKNOWN:
            self.expected[webserver_id].append((state, HealthState.UNKNOWN))
        self.machines[webserver_id] = HealthStateMachine()

    @rule(index=st.integers(0, SERVERS - 1))
    def rename(self, index: int) -> None:
        self.clock.advance(1)
        UpdateWebserver(InMemoryUnitOfWork(self.store), self.clock).execute(
            self.servers[index].id, WebserverChanges(name=f"renamed {self.clock.now().timestamp()}")
        )

    @invariant()
    def one_event_per_model_transition_in_order(self) -> None:
        stored = events(self.store)
        for server in self.servers:
            transitions = [
                (event.change.from_state, event.change.to_state)
                for event in stored
                if event.change is not None and event.webserver_id == server.id
            ]
            assert transitions == self.expected[server.id]
        assert [event.sequence for event in stored] == sorted({event.sequence for event in stored})

    @invariant()
    def each_event_is_queued_for_the_channels_that_cover_its_server(self) -> None:
        stored = events(self.store)
        for event in stored:
            assert event.webserver_id is not None
            covering = {
                channel.id for channel in self.channels if channel.settings.covers(event.webserver_id)
            }
            assert delivered_to(self.store, event) == covering
        assert len(self.store.deliveries) == sum(len(delivered_to(self.store, event)) for event in stored)


TestHealthEvents = HealthEventsComparison.TestCase


def probed_tls(webserver_id: WebserverId, started_at: datetime, expires_at: datetime) -> ProbeResult:
    """A 200 over a TLS connection whose verified certificate expires at expires_at."""
    return dataclasses.replace(succeeded(webserver_id, started_at), tls_expires_at=expires_at)


def certificate_events(store: InMemoryStore) -> list[RecordedEvent]:
    return [event for event in store.events if event.type is EventType.CERTIFICATE_EXPIRING]


def test_a_certificate_entering_a_threshold_is_one_event_per_threshold_sent_to_covering_channels(
    store: InMemoryStore, clock: FakeClock
) -> None:
    server = register(store, clock, 1, url="https://server-1.test/")
    channel = add_channel(store)
    expires_at = EPOCH + timedelta(days=30)
    record = RecordProbeResults(InMemoryUnitOfWork(store), ExpiryWarnings((14, 7, 1)))
    for day in (0, 16, 17, 23, 24, 25):
        record.execute([probed_tls(server.id, EPOCH + timedelta(days=day), expires_at)])
    warnings = certificate_events(store)
    assert [(e.certificate.threshold_days, e.occurred_at) for e in warnings if e.certificate] == [
        (14, EPOCH + timedelta(days=16)),
        (7, EPOCH + timedelta(days=23)),
    ]
    assert all(delivered_to(store, event) == {channel.id} for event in warnings)
    [event] = warnings[:1]
    assert event.certificate is not None
    assert event.certificate.webserver.url == "https://server-1.test/"
    assert event.certificate.expires_at == expires_at
    with InMemoryUnitOfWork(store) as uow:
        stored = uow.webservers.get(server.id)
    assert stored is not None
    assert (stored.tls_expires_at, stored.tls_warned_days) == (expires_at, 7)


def test_what_was_warned_is_kept_with_the_webserver_so_a_new_recorder_does_not_warn_again(
    store: InMemoryStore, clock: FakeClock
) -> None:
    server = register(store, clock, 1, url="https://server-1.test/")
    expires_at = EPOCH + timedelta(days=10)
    RecordProbeResults(InMemoryUnitOfWork(store)).execute([probed_tls(server.id, EPOCH, expires_at)])
    # As after a restart: another use case object, the same store.
    RecordProbeResults(InMemoryUnitOfWork(store)).execute(
        [probed_tls(server.id, EPOCH + timedelta(hours=1), expires_at)]
    )
    assert len(certificate_events(store)) == 1


def test_a_renewed_certificate_is_warned_about_again(store: InMemoryStore, clock: FakeClock) -> None:
    server = register(store, clock, 1, url="https://server-1.test/")
    record = RecordProbeResults(InMemoryUnitOfWork(store))
    old, renewed = EPOCH + timedelta(days=5), EPOCH + timedelta(days=95)
    record.execute([probed_tls(server.id, EPOCH, old)])
    record.execute([probed_tls(server.id, EPOCH + timedelta(days=1), renewed)])
    record.execute([probed_tls(server.id, EPOCH + timedelta(days=85), renewed)])
    assert [e.certificate.expires_at for e in certificate_events(store) if e.certificate] == [old, renewed]


def test_a_probe_without_a_certificate_keeps_the_last_one_seen(
    store: InMemoryStore, clock: FakeClock
) -> None:
    server = register(store, clock, 1, url="https://server-1.test/")
    record = RecordProbeResults(InMemoryUnitOfWork(store))
    expires_at = EPOCH + timedelta(days=60)
    record.execute(
        [probed_tls(server.id, EPOCH, expires_at), failed(server.id, EPOCH + timedelta(seconds=1))]
    )
    with InMemoryUnitOfWork(store) as uow:
        stored = uow.webservers.get(server.id)
    assert stored is not None
    assert stored.tls_expires_at == expires_at
    assert certificate_events(store) == []
