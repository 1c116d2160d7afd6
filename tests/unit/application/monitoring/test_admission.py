"""Admission: a global limit and a per-host:port limit, the longest waiting probe first."""

from __future__ import annotations

from healthmon.application.monitoring.admission import ProbeAdmission, host_of
from healthmon.application.monitoring.schedule import Ticket
from healthmon.domain.webserver import Webserver, WebserverId
from tests.factories import settings
from tests.fakes import EPOCH


def ticket(n: int, url: str) -> Ticket:
    webserver = Webserver(WebserverId(n), settings(n, url=url), created_at=EPOCH, updated_at=EPOCH)
    return Ticket(webserver, planned=float(n), version=n)


def admitted(admission: ProbeAdmission) -> list[int]:
    ids: list[int] = []
    while (next_one := admission.admit()) is not None:
        ids.append(next_one.webserver.id)
    return ids


def test_hosts_are_host_and_port_with_the_scheme_default() -> None:
    assert host_of("http://Example.test/a") == ("example.test", 80)
    assert host_of("https://example.test/b") == ("example.test", 443)
    assert host_of("http://example.test:8080/") == ("example.test", 8080)
    assert host_of("https://[::1]:8443/") == ("::1", 8443)


def test_no_more_than_the_global_limit_run_at_once_and_the_oldest_goes_first() -> None:
    admission = ProbeAdmission(total=2, per_host=10)
    tickets = [ticket(n, f"http://server-{n}.test/") for n in range(1, 5)]
    admission.wait(tickets)
    assert admitted(admission) == [1, 2]
    assert (admission.in_flight, admission.waiting) == (2, 2)
    admission.release(tickets[1])
    assert admitted(admission) == [3]


def test_a_host_at_its_limit_holds_back_only_its_own_probes() -> None:
    admission = ProbeAdmission(total=10, per_host=2)
    crowded = [ticket(n, f"http://crowded.test/{n}") for n in range(1, 5)]
    other = ticket(5, "http://other.test/")
    admission.wait([*crowded, other])
    assert admitted(admission) == [1, 2, 5]
    admission.release(crowded[0])
    assert admitted(admission) == [3]
    assert admitted(admission) == []
    admission.release(crowded[1])
    admission.release(crowded[2])
    assert admitted(admission) == [4]
    assert (admission.in_flight, admission.waiting) == (2, 0)


def test_ports_of_one_host_are_limited_apart() -> None:
    admission = ProbeAdmission(total=10, per_host=1)
    admission.wait([ticket(1, "http://one.test:8001/"), ticket(2, "http://one.test:8002/")])
    assert admitted(admission) == [1, 2]


def test_a_freed_slot_goes_to_the_probe_that_waited_longest() -> None:
    admission = ProbeAdmission(total=1, per_host=1)
    first = ticket(1, "http://a.test/1")
    admission.wait([first, ticket(2, "http://a.test/2"), ticket(3, "http://b.test/3")])
    assert admitted(admission) == [1]
    admission.release(first)
    assert admitted(admission) == [2]


def test_room_is_the_free_slots_less_the_probes_waiting_only_for_one() -> None:
    admission = ProbeAdmission(total=4, per_host=1)
    assert admission.room == 4
    same_host = [ticket(n, f"http://one-host.test/{n}") for n in range(1, 4)]
    admission.wait(same_host)
    assert admission.room == 1  # three wait for a global slot, none yet for their host
    assert admitted(admission) == [1]
    # The host is at its limit: its two waiting probes hold no global slot back.
    assert (admission.in_flight, admission.waiting, admission.room) == (1, 2, 3)
    other = ticket(9, "http://other.test/")
    admission.wait([other])
    assert admitted(admission) == [9]
    assert admission.room == 2
    admission.release(same_host[0])
    # Free again, the host's oldest waiting probe may start: it counts against the room.
    assert admission.room == 1
    assert admitted(admission) == [2]
    assert (admission.in_flight, admission.waiting, admission.room) == (2, 1, 2)
