"""The use cases: one class each, dependencies through __init__, one public execute()."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from healthmon.application.ports import Clock, HistoryCursor, UnitOfWork, WorkerInfo
from healthmon.domain.errors import InvalidField, WebserverNotFound
from healthmon.domain.health import HealthState
from healthmon.domain.probe import ProbeResult, RecordedProbe
from healthmon.domain.webserver import Webserver, WebserverChanges, WebserverId, WebserverSettings

logger = logging.getLogger(__name__)

LAST_REQUESTS = 10
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000

ItemT = TypeVar("ItemT")
CursorT = TypeVar("CursorT")


@dataclass(frozen=True, slots=True)
class Page(Generic[ItemT, CursorT]):
    """One page of a keyset-paginated listing; next_cursor is None on the last page."""

    items: list[ItemT]
    next_cursor: CursorT | None


@dataclass(frozen=True, slots=True)
class WebserverDetails:
    """A webserver with its most recent probes, newest first."""

    webserver: Webserver
    last_requests: list[RecordedProbe]


@dataclass(frozen=True, slots=True)
class HealthChange:
    """One webserver's health moved from one state to another at a probe's start time."""

    webserver_id: WebserverId
    name: str
    old: HealthState
    new: HealthState
    at: datetime


@dataclass(frozen=True, slots=True)
class RecordOutcome:
    """What recording a batch did: rows stored, results dropped, health changes made."""

    stored: int
    dropped: int
    changes: list[HealthChange]


def _check_limit(limit: int) -> None:
    if type(limit) is not int or not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidField.single("limit", f"must be an integer from 1 to {MAX_PAGE_SIZE}")


def _require(webserver: Webserver | None, webserver_id: WebserverId) -> Webserver:
    if webserver is None:
        raise WebserverNotFound(webserver_id)
    return webserver


class RegisterWebserver:
    """Start watching a webserver.

    - The settings are already validated by WebserverSettings.
    - A URL is watched once: registering it again raises WebserverAlreadyRegistered.
    - Health starts unknown with both streaks at zero.
    """

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def execute(self, settings: WebserverSettings) -> Webserver:
        """Store the webserver and return it with its new id."""
        with self._uow as uow:
            webserver = uow.webservers.add(settings, self._clock.now())
            uow.commit()
        logger.info("webserver %s %s: registered %s", webserver.id, settings.name, settings.url)
        return webserver


class UpdateWebserver:
    """Change some of a webserver's settings.

    - Fields left as None keep their value; the result is validated as a whole.
    - A changed URL resets health to unknown with zero streaks; the history is kept.
    - The row is locked while it changes, so a concurrent probe result is never lost.
    """

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def execute(self, webserver_id: WebserverId, changes: WebserverChanges) -> Webserver:
        """Apply the changes and return the updated webserver."""
        with self._uow as uow:
            current = _require(uow.webservers.get(webserver_id, lock=True), webserver_id)
            updated = current.reconfigure(changes, self._clock.now())
            if updated is not current:
                uow.webservers.save(updated)
                uow.commit()
        return updated


class RemoveWebserver:
    """Stop watching a webserver and delete its history.

    - Removing an unknown id raises WebserverNotFound.
    """

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def execute(self, webserver_id: WebserverId) -> None:
        """Delete the webserver and every probe result it had."""
        with self._uow as uow:
            if not uow.webservers.remove(webserver_id):
                raise WebserverNotFound(webserver_id)
            uow.commit()
        logger.info("webserver %s: removed", webserver_id)


class GetWebserver:
    """Read one webserver with its current health and its last 10 probes, newest first."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def execute(self, webserver_id: WebserverId) -> WebserverDetails:
        """The webserver's details; an unknown id raises WebserverNotFound."""
        with self._uow as uow:
            webserver = _require(uow.webservers.get(webserver_id), webserver_id)
            last = uow.probe_results.history(webserver_id, limit=LAST_REQUESTS)
        return WebserverDetails(webserver, last)


class ListWebservers:
    """List webservers with their health.

    - Stable order: ascending id.
    - Optional filter on one health state.
    - Keyset pagination: pass the previous page's next_cursor to get the next page.
    """

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def execute(
        self,
        *,
        health: HealthState | None = None,
        after: WebserverId | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
    ) -> Page[Webserver, WebserverId]:
        """One page of webservers with ids greater than `after`."""
        _check_limit(limit)
        with self._uow as uow:
            rows = uow.webservers.list(health=health, after=after, limit=limit + 1)
        items = rows[:limit]
        return Page(items, items[-1].id if len(rows) > limit else None)


class ListProbeHistory:
    """List one webserver's probe results (its requests).

    - Newest first, by probe start time then id.
    - Optional time range: since <= started_at < until; since after until is invalid.
    - Keyset pagination: pages tile the history with no gaps or repeats.
    - An unknown webserver raises WebserverNotFound (an empty history is a valid answer).
    """

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def execute(
        self,
        webserver_id: WebserverId,
        *,
        before: HistoryCursor | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
    ) -> Page[RecordedProbe, HistoryCursor]:
        """One page of the webserver's history, older than `before`."""
        _check_limit(limit)
        for field, moment in (("since", since), ("until", until)):
            if moment is not None and moment.tzinfo is None:
                raise InvalidField.single(field, "must include a timezone")
        if since is not None and until is not None and since > until:
            raise InvalidField.single("since", "must not be later than until")
        with self._uow as uow:
            _require(uow.webservers.get(webserver_id), webserver_id)
            rows = uow.probe_results.history(
                webserver_id, before=before, since=since, until=until, limit=limit + 1
            )
        items = rows[:limit]
        last = items[-1] if len(rows) > limit else None
        return Page(items, None if last is None else HistoryCursor(last.result.started_at, last.id))


class RecordProbeResults:
    """Store a batch of probe results and advance each webserver's health.

    - Every result of a webserver that still exists is stored, once.
    - Each webserver's state machine sees its results in probe start order.
    - A result that started no later than the webserver's last_checked_at is stale and dropped: a
      late result of a worker that lost the server never lands on a newer one, nor twice.
    - A result for a webserver deleted meanwhile is dropped, not an error.
    - The whole batch is one transaction: all of it is stored, or none.
    - Each health change is logged as `webserver ID NAME: old -> new`.
    """

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def execute(self, results: Sequence[ProbeResult]) -> RecordOutcome:
        """Store the batch; return what was stored, dropped and changed."""
        if not results:
            return RecordOutcome(0, 0, [])
        ordered = sorted(results, key=lambda result: result.started_at)
        changes: list[HealthChange] = []
        with self._uow as uow:
            servers = uow.webservers.get_many({r.webserver_id for r in ordered}, lock=True)
            kept: list[ProbeResult] = []
            for result in ordered:
                before = servers.get(result.webserver_id)
                if before is None or (
                    before.last_checked_at is not None and result.started_at <= before.last_checked_at
                ):
                    continue
                kept.append(result)
                after, transition = before.record(result)
                servers[result.webserver_id] = after
                if transition.changed:
                    changes.append(
                        HealthChange(
                            after.id,
                            after.settings.name,
                            before.state,
                            after.state,
                            result.started_at,
                        )
                    )
            uow.probe_results.add_many(kept)
            for webserver in servers.values():
                uow.webservers.save(webserver)
            uow.commit()
        for change in changes:
            logger.info(
                "webserver %s %s: %s -> %s",
                change.webserver_id,
                change.name,
                change.old,
                change.new,
            )
        return RecordOutcome(stored=len(kept), dropped=len(results) - len(kept), changes=changes)


class ListWorkers:
    """List the live workers.

    - A worker is live while its heartbeat is younger than the lease; a stopped worker leaves at once,
      a dead one once its lease has expired.
    - Oldest first, by start time.
    """

    def __init__(self, uow: UnitOfWork, lease_seconds: float) -> None:
        self._uow = uow
        self._ttl = timedelta(seconds=lease_seconds)

    def execute(self) -> list[WorkerInfo]:
        """Every live worker with what it last reported."""
        with self._uow as uow:
            return uow.workers.live(self._ttl)
