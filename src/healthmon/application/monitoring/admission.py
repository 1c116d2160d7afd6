"""Which due probes may start now: a global limit and a per-host:port limit, longest waiting first."""

from __future__ import annotations

import functools
import heapq
import itertools
from collections import deque
from collections.abc import Iterable
from urllib.parse import urlsplit

from healthmon.application.monitoring.schedule import Ticket

Host = tuple[str, int]

_DEFAULT_PORTS = {"http": 80, "https": 443}


@functools.lru_cache(maxsize=65_536)
def host_of(url: str) -> Host:
    """The host name (lower case) and port a probe of this URL connects to."""
    parts = urlsplit(url)
    return (parts.hostname or "", parts.port or _DEFAULT_PORTS.get(parts.scheme.lower(), 0))


class ProbeAdmission:
    """Due probes wait here until both a global slot and a slot for their host:port are free.

    - At most `total` probes run at once, and at most `per_host` against one host:port.
    - A host at its limit holds back only its own probes, never another host's.
    - Among the probes that may start, the one that has waited longest goes first.
    - `room` is how many more due probes could start now: the free global slots less the waiting
      probes that only wait for one (those held back by their host's limit do not count).
    """

    def __init__(self, total: int, per_host: int) -> None:
        if total < 1 or per_host < 1:
            raise ValueError("the limits must allow at least one probe")
        self._total = total
        self._per_host = per_host
        self._order = itertools.count()
        self._waiting: dict[Host, deque[tuple[int, Ticket]]] = {}
        # Hosts with a waiting probe and a free slot, by the arrival of their oldest waiting probe.
        self._ready: list[tuple[int, Host]] = []
        self._running: dict[Host, int] = {}
        self.in_flight = 0
        self.waiting = 0
        # Of the waiting probes, those whose host is at its limit.
        self._held_back = 0

    @property
    def room(self) -> int:
        """How many more probes could start now, beyond those already waiting for a global slot."""
        return self._total - self.in_flight - (self.waiting - self._held_back)

    def wait(self, tickets: Iterable[Ticket]) -> None:
        """Queue these due probes behind those already waiting."""
        for ticket in tickets:
            host = host_of(ticket.webserver.settings.url)
            queue = self._waiting.setdefault(host, deque())
            queue.append((next(self._order), ticket))
            self.waiting += 1
            if self._running.get(host, 0) >= self._per_host:
                self._held_back += 1
            elif len(queue) == 1:
                heapq.heappush(self._ready, (queue[0][0], host))

    def admit(self) -> Ticket | None:
        """The next probe that may start, its slots now taken; None while every waiting one must wait."""
        if self.in_flight >= self._total or not self._ready:
            return None
        _, host = heapq.heappop(self._ready)
        queue = self._waiting[host]
        _, ticket = queue.popleft()
        self.waiting -= 1
        self.in_flight += 1
        running = self._running[host] = self._running.get(host, 0) + 1
        if not queue:
            del self._waiting[host]
        elif running < self._per_host:
            heapq.heappush(self._ready, (queue[0][0], host))
        else:
            self._held_back += len(queue)
        return ticket

    def release(self, ticket: Ticket) -> None:
        """Free the slots of an admitted probe that ended (or was not started after all)."""
        host = host_of(ticket.webserver.settings.url)
        running = self._running[host] - 1
        if running:
            self._running[host] = running
        else:
            del self._running[host]
        self.in_flight -= 1
        queue = self._waiting.get(host)
        # It was at its limit, so not among the ready hosts: now it is.
        if queue and running == self._per_host - 1:
            self._held_back -= len(queue)
            heapq.heappush(self._ready, (queue[0][0], host))
