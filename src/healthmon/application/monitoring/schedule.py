"""When each webserver is due: a fixed grid per server, no global cycle."""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from healthmon.domain.webserver import Webserver, WebserverId

# The golden ratio spreads ids evenly over [0, 1): first probes of servers added together don't collide.
_SPREAD = 0.6180339887498949


def first_offset(webserver_id: WebserverId, interval: float) -> float:
    """Where in its first interval a newly seen server is first probed (deterministic jitter)."""
    return (webserver_id * _SPREAD) % 1.0 * interval


@dataclass(frozen=True, slots=True)
class Ticket:
    """Permission to probe one server now: the server as it was when due, and its planned start."""

    webserver: Webserver
    planned: float
    # The plan's version when it was handed out: a plan made anew since then is not this ticket's.
    version: int


@dataclass(slots=True)
class _Plan:
    webserver: Webserver
    planned: float
    in_flight: bool = False
    version: int = 0
    # An overdue server's first probe: its grid starts when that probe actually starts.
    overdue: bool = False


def _first_plan(webserver: Webserver, now: float, wall: datetime | None) -> _Plan:
    interval = webserver.settings.interval_seconds
    if wall is None or webserver.last_checked_at is None:
        return _Plan(webserver, now + first_offset(webserver.id, interval))
    due = now - (wall - webserver.last_checked_at).total_seconds() + interval
    if due >= now:
        return _Plan(webserver, due)
    # Overdue (it changed hands after its holder died, or went unwatched): probe now, and go on
    # from when that probe starts; staying on the old grid would put the next probe less than an
    # interval later, and going on from now would keep every server overdue together (after a
    # restart, all of them) in lockstep for ever, however long their turns take to come.
    return _Plan(webserver, now, overdue=True)


class Schedule:
    """Plans each server's next probe on its own grid (previous plan + interval).

    - A new server is first probed at a deterministic offset within its first interval; an overdue
      one at once, and its grid then starts when that first probe actually started.
    - At most one probe per server is in flight; the next starts at its planned time, or as soon as
      the previous one ends if that is later, and the grid skips slots missed meanwhile, so lateness
      never accumulates.
    - A changed interval takes effect from the next plan; a changed URL is probed right away.
    - A removed server is never handed out again, and its in-flight probe is no longer current.
    - A ticket not yet used stands only while its server is planned, unchanged, as it was handed out.
    Times are the caller's monotonic clock in seconds.
    """

    def __init__(self) -> None:
        self._plans: dict[WebserverId, _Plan] = {}
        self._heap: list[tuple[float, int, WebserverId, int]] = []
        self._order = itertools.count()
        # Versions are unique across the whole schedule, not per plan: a server dropped and seen again
        # gets a new plan, which must not take the heap entries of its old one for its own.
        self._versions = itertools.count(1)

    def __len__(self) -> int:
        return len(self._plans)

    def sync(self, webservers: Iterable[Webserver], now: float, wall: datetime | None = None) -> bool:
        """Make the plans match the current set of servers; True when anything changed.

        Given the wall-clock time that matches `now`, a new server that was checked before (by this
        worker or by another that held it) goes on with the grid of its last check, so a server that
        changes hands is neither probed early nor skipped.
        """
        seen: set[WebserverId] = set()
        changed = False
        for webserver in webservers:
            seen.add(webserver.id)
            plan = self._plans.get(webserver.id)
            if plan is None:
                self._plans[webserver.id] = plan = _first_plan(webserver, now, wall)
                self._push(plan)
                changed = True
            elif plan.webserver.settings != webserver.settings:
                old = plan.webserver.settings
                plan.webserver = webserver
                if old.url != webserver.settings.url:
                    plan.planned = now
                else:
                    plan.planned = min(plan.planned, now + webserver.settings.interval_seconds)
                if not plan.in_flight:
                    self._push(plan)
                changed = True
            else:
                # Keep the newest copy (health may have moved) without touching the plan.
                plan.webserver = webserver
        for gone in self._plans.keys() - seen:
            del self._plans[gone]
            changed = True
        return changed

    def drop(self, webserver_ids: Collection[WebserverId]) -> None:
        """Stop planning these servers, as if they had been removed."""
        for webserver_id in webserver_ids:
            self._plans.pop(webserver_id, None)

    def idlest(self, count: int) -> list[WebserverId]:
        """Up to count servers with no probe in flight, those due last first: the cheapest to give away."""
        # Asked every refresh, nearly always for none: sorting every plan then cost ms per second.
        if count <= 0:
            return []
        idle = (plan for plan in self._plans.values() if not plan.in_flight)
        return [plan.webserver.id for plan in heapq.nlargest(count, idle, key=lambda plan: plan.planned)]

    def next_due(self) -> float | None:
        """The earliest planned start among servers not in flight, or None when there is none."""
        self._drop_stale()
        return self._heap[0][0] if self._heap else None

    def count_due(self, now: float) -> int:
        """How many servers not in flight are due by `now` (a walk of the heap's due part only)."""
        heap, count, below = self._heap, 0, [0]
        while below:
            at = below.pop()
            if at < len(heap) and heap[at][0] <= now:
                _, _, webserver_id, version = heap[at]
                plan = self._plans.get(webserver_id)
                count += plan is not None and not plan.in_flight and plan.version == version
                below += (2 * at + 1, 2 * at + 2)
        return count

    def take_due(self, now: float, limit: float = math.inf) -> list[Ticket]:
        """Hand out servers whose plan has come, earliest first, at most `limit`, marking them in flight."""
        tickets: list[Ticket] = []
        while len(tickets) < limit:
            self._drop_stale()
            if not self._heap or self._heap[0][0] > now:
                return tickets
            _, _, webserver_id, _ = heapq.heappop(self._heap)
            plan = self._plans[webserver_id]
            plan.in_flight = True
            plan.version = next(self._versions)
            tickets.append(Ticket(plan.webserver, plan.planned, plan.version))
        return tickets

    def is_current(self, ticket: Ticket) -> bool:
        """Whether the ticket still stands: its server neither removed nor changed since it was handed out."""
        plan = self._plans.get(ticket.webserver.id)
        if plan is None or not plan.in_flight or plan.version != ticket.version:
            return False
        now, then = plan.webserver.settings, ticket.webserver.settings
        return now is then or now == then

    def give_back(self, ticket: Ticket) -> None:
        """Return a ticket that was not used: its server, if still planned, is due again at its plan."""
        plan = self._plans.get(ticket.webserver.id)
        if plan is not None and plan.in_flight and plan.version == ticket.version:
            plan.in_flight = False
            self._push(plan)

    def finish(self, ticket: Ticket, now: float, started: float | None = None) -> bool:
        """Plan the server's next probe; True when the ticket's result still describes the server.

        `started` is when the probe actually started: an overdue server's grid begins there.
        """
        plan = self._plans.get(ticket.webserver.id)
        if plan is None:
            return False
        plan.in_flight = False
        interval = plan.webserver.settings.interval_seconds
        if plan.planned == ticket.planned:
            grid = ticket.planned
            if plan.overdue:
                plan.overdue = False
                grid = max(grid, ticket.planned if started is None else started)
            next_planned = grid + interval
            if next_planned < now:
                # Slots missed while this probe ran are skipped: start now, on the latest missed slot.
                missed = int((now - grid) // interval)
                next_planned = grid + missed * interval
            plan.planned = next_planned
        self._push(plan)
        return plan.webserver.settings.url == ticket.webserver.settings.url

    def _push(self, plan: _Plan) -> None:
        plan.version = next(self._versions)
        heapq.heappush(self._heap, (plan.planned, next(self._order), plan.webserver.id, plan.version))

    def _drop_stale(self) -> None:
        while self._heap:
            _, _, webserver_id, version = self._heap[0]
            plan = self._plans.get(webserver_id)
            if plan is not None and not plan.in_flight and plan.version == version:
                return
            heapq.heappop(self._heap)
