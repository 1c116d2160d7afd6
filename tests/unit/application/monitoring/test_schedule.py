"""The per-server schedule: first probes spread out, a fixed grid, one probe in flight per server."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from healthmon.application.monitoring.schedule import Schedule, first_offset
from healthmon.domain.webserver import Webserver, WebserverChanges, WebserverId
from tests.factories import settings
from tests.fakes import EPOCH


def server(n: int, interval: int = 10, **overrides: object) -> Webserver:
    return Webserver(
        WebserverId(n),
        settings(n, interval_seconds=interval, **overrides),
        created_at=EPOCH,
        updated_at=EPOCH,
    )


def ids(schedule: Schedule, now: float) -> list[int]:
    return [ticket.webserver.id for ticket in schedule.take_due(now)]


def test_first_probes_spread_over_the_first_interval() -> None:
    offsets = sorted(first_offset(WebserverId(n), 60) for n in range(1, 10_001))
    assert offsets[0] >= 0
    assert offsets[-1] < 60
    # Each second of the first minute gets about 1/60th of 10,000 servers.
    per_second = [sum(1 for o in offsets if s <= o < s + 1) for s in range(60)]
    assert min(per_second) >= 150
    assert max(per_second) <= 185


def test_a_new_server_is_due_at_its_offset() -> None:
    schedule = Schedule()
    one = server(1)
    schedule.sync([one], now=100.0)
    due_at = 100.0 + first_offset(one.id, 10)
    assert schedule.next_due() == due_at
    assert ids(schedule, due_at - 0.001) == []
    assert ids(schedule, due_at) == [1]


def test_a_server_in_flight_is_not_handed_out_again() -> None:
    schedule = Schedule()
    schedule.sync([server(1)], now=0.0)
    [ticket] = schedule.take_due(100.0)
    assert schedule.next_due() is None
    assert ids(schedule, 1_000.0) == []
    assert schedule.finish(ticket, now=100.5)
    assert schedule.next_due() is not None


def test_next_plan_steps_on_the_grid_not_from_the_finish() -> None:
    schedule = Schedule()
    schedule.sync([server(1, interval=10)], now=0.0)
    [ticket] = schedule.take_due(50.0)
    planned = ticket.planned
    schedule.finish(ticket, now=planned + 3.7)
    assert schedule.next_due() == planned + 10


def test_a_probe_longer_than_its_interval_starts_the_next_at_once_and_skips_missed_slots() -> None:
    schedule = Schedule()
    schedule.sync([server(1, interval=10)], now=0.0)
    [ticket] = schedule.take_due(50.0)
    planned = ticket.planned
    schedule.finish(ticket, now=planned + 35.0)
    # Slots at +10, +20 and +30 were missed; the next probe starts now, planned on the +30 slot.
    assert schedule.next_due() == planned + 30
    [again] = schedule.take_due(planned + 35.0)
    schedule.finish(again, now=planned + 35.5)
    assert schedule.next_due() == planned + 40


def test_one_slow_server_does_not_delay_another() -> None:
    schedule = Schedule()
    schedule.sync([server(1, interval=5), server(2, interval=5)], now=0.0)
    tickets = schedule.take_due(10.0)
    assert sorted(t.webserver.id for t in tickets) == [1, 2]
    _slow, fast = sorted(tickets, key=lambda t: t.webserver.id)
    schedule.finish(fast, now=fast.planned + 0.1)
    assert ids(schedule, fast.planned + 5) == [2]


def test_a_removed_server_is_never_handed_out_and_its_result_is_stale() -> None:
    schedule = Schedule()
    schedule.sync([server(1), server(2)], now=0.0)
    tickets = {t.webserver.id: t for t in schedule.take_due(100.0)}
    schedule.sync([server(2)], now=100.1)
    assert not schedule.finish(tickets[WebserverId(1)], now=100.2)
    assert schedule.finish(tickets[WebserverId(2)], now=100.2)
    assert ids(schedule, 10_000.0) == [2]
    assert len(schedule) == 1


def test_a_changed_url_is_probed_at_once_and_the_old_result_is_stale() -> None:
    schedule = Schedule()
    original = server(1, interval=60)
    schedule.sync([original], now=0.0)
    [ticket] = schedule.take_due(100.0)
    moved = original.reconfigure(WebserverChanges(url="http://moved.test/"), EPOCH)
    assert schedule.sync([moved], now=100.5)
    assert not schedule.finish(ticket, now=101.0)
    [fresh] = schedule.take_due(101.0)
    assert fresh.webserver.settings.url == "http://moved.test/"


def test_a_shorter_interval_takes_effect_without_waiting_out_the_old_one() -> None:
    schedule = Schedule()
    original = server(1, interval=60)
    schedule.sync([original], now=0.0)
    due = schedule.next_due()
    assert due is not None
    [ticket] = schedule.take_due(due)
    schedule.finish(ticket, now=due + 0.1)
    assert schedule.next_due() == due + 60
    faster = original.reconfigure(WebserverChanges(interval_seconds=2), EPOCH)
    schedule.sync([faster], now=due + 1)
    assert schedule.next_due() == due + 3


def test_health_only_changes_do_not_touch_the_plan() -> None:
    schedule = Schedule()
    original = server(1)
    schedule.sync([original], now=0.0)
    due = schedule.next_due()
    checked = dataclasses.replace(original, last_checked_at=EPOCH)
    assert not schedule.sync([checked], now=5.0)
    assert schedule.next_due() == due


def test_a_server_checked_before_goes_on_with_the_grid_of_its_last_check() -> None:
    schedule = Schedule()
    checked = dataclasses.replace(server(1), last_checked_at=EPOCH)
    # Seen 3 s after its last check (wall clock), at loop time 100: due 7 s later.
    schedule.sync([checked], now=100.0, wall=EPOCH + timedelta(seconds=3))
    assert schedule.next_due() == 107.0


def test_an_overdue_server_is_due_at_once_and_goes_on_from_then() -> None:
    schedule = Schedule()
    checked = dataclasses.replace(server(1), last_checked_at=EPOCH)
    schedule.sync([checked], now=100.0, wall=EPOCH + timedelta(seconds=25))
    assert schedule.next_due() == 100.0
    (ticket,) = schedule.take_due(100.0)
    schedule.finish(ticket, 100.5)
    assert schedule.next_due() == 110.0


def test_servers_overdue_together_go_on_from_when_each_actually_started() -> None:
    schedule = Schedule()
    overdue = [dataclasses.replace(server(n), last_checked_at=EPOCH) for n in (1, 2)]
    schedule.sync(overdue, now=100.0, wall=EPOCH + timedelta(seconds=25))
    first, second = schedule.take_due(100.0)
    # Their turns came one after the other (a restart's backlog): they must not stay in lockstep.
    schedule.finish(first, 100.5, started=100.0)
    schedule.finish(second, 103.5, started=103.0)
    assert [ticket.webserver.id for ticket in schedule.take_due(110.0)] == [first.webserver.id]
    assert schedule.next_due() == 113.0


def test_a_server_late_on_its_own_grid_keeps_that_grid() -> None:
    schedule = Schedule()
    schedule.sync([server(1)], now=0.0)
    due = schedule.next_due()
    assert due is not None
    (ticket,) = schedule.take_due(due)
    schedule.finish(ticket, due + 3.5, started=due + 3.0)
    assert schedule.next_due() == due + 10


def test_a_server_dropped_and_seen_again_is_handed_out_once() -> None:
    schedule = Schedule()
    schedule.sync([server(1)], now=0.0)
    [ticket] = schedule.take_due(100.0)
    schedule.finish(ticket, 100.1)
    schedule.drop([WebserverId(1)])
    schedule.sync([server(1)], now=200.0)
    handed_out = [ids(schedule, moment) for moment in (200.0, 205.0, 210.0, 1_000.0)]
    assert sum(len(batch) for batch in handed_out) == 1


def test_dropped_servers_are_no_longer_handed_out() -> None:
    schedule = Schedule()
    schedule.sync([server(1), server(2)], now=0.0)
    schedule.drop([WebserverId(1)])
    assert ids(schedule, 100.0) == [2]
    assert len(schedule) == 1


def test_the_idlest_servers_are_those_due_last_and_never_in_flight() -> None:
    schedule = Schedule()
    schedule.sync([server(n) for n in range(1, 6)], now=0.0)
    [busy] = schedule.take_due(min(first_offset(WebserverId(n), 10) for n in range(1, 6)))
    idle = sorted((first_offset(WebserverId(n), 10), n) for n in range(1, 6) if n != busy.webserver.id)
    due_last_first = [n for _, n in reversed(idle)]
    assert schedule.idlest(10) == due_last_first
    assert schedule.idlest(2) == due_last_first[:2]


def test_a_ticket_stands_until_its_server_is_removed_or_reconfigured() -> None:
    schedule = Schedule()
    original, kept = server(1), server(2)
    schedule.sync([original, kept], now=0.0)
    tickets = {t.webserver.id: t for t in schedule.take_due(100.0)}
    assert schedule.is_current(tickets[original.id])
    # A health-only change keeps it; a reconfiguration or a removal ends it.
    schedule.sync([dataclasses.replace(original, last_checked_at=EPOCH), kept], now=100.1)
    assert schedule.is_current(tickets[original.id])
    renamed = original.reconfigure(WebserverChanges(name="renamed"), EPOCH)
    schedule.sync([renamed, kept], now=100.2)
    assert not schedule.is_current(tickets[original.id])
    schedule.sync([renamed], now=100.3)
    assert not schedule.is_current(tickets[kept.id])


def test_a_ticket_of_a_server_dropped_and_seen_again_no_longer_stands() -> None:
    schedule = Schedule()
    schedule.sync([server(1)], now=0.0)
    [old] = schedule.take_due(100.0)
    schedule.drop([WebserverId(1)])
    schedule.sync([server(1)], now=100.1)
    [new] = schedule.take_due(1_000.0)
    assert not schedule.is_current(old)
    assert schedule.is_current(new)
    schedule.give_back(old)
    assert ids(schedule, 10_000.0) == []


def test_a_ticket_given_back_makes_its_server_due_again_with_its_current_settings() -> None:
    schedule = Schedule()
    original = server(1, interval=60)
    schedule.sync([original], now=0.0)
    [ticket] = schedule.take_due(100.0)
    longer = original.reconfigure(WebserverChanges(timeout_seconds=20), EPOCH)
    schedule.sync([longer], now=100.5)
    schedule.give_back(ticket)
    [again] = schedule.take_due(101.0)
    assert again.planned == ticket.planned
    assert again.webserver.settings.timeout_seconds == 20
    assert schedule.is_current(again)


def test_due_servers_are_handed_out_earliest_first_up_to_a_limit_and_counted() -> None:
    schedule = Schedule()
    schedule.sync([server(n) for n in range(1, 11)], now=0.0)
    planned = sorted((first_offset(WebserverId(n), 10), n) for n in range(1, 11))
    assert schedule.count_due(5.0) == sum(offset <= 5.0 for offset, _ in planned)
    first_three = [ticket.webserver.id for ticket in schedule.take_due(20.0, limit=3)]
    assert first_three == [n for _, n in planned[:3]]
    # Those three are in flight now: seven left due, and they are the rest, in order.
    assert schedule.count_due(20.0) == 7
    assert ids(schedule, 20.0) == [n for _, n in planned[3:]]
    assert schedule.count_due(20.0) == 0
