"""Use cases that register, change, remove, read and list webservers."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from healthmon.application.health_events import record_health_changes, snapshot
from healthmon.application.ports import Clock, UnitOfWork
from healthmon.application.use_cases.outbound_urls import check_outbound
from healthmon.application.use_cases.paging import DEFAULT_PAGE_SIZE, Page, check_limit
from healthmon.application.use_cases.rollup_reads import uptime_window, uptimes
from healthmon.domain.errors import WebserverNotFound
from healthmon.domain.events import HealthChanged, RecordedEvent
from healthmon.domain.health import HealthState
from healthmon.domain.outbound import OutboundPolicy
from healthmon.domain.probe import RecordedProbe
from healthmon.domain.webserver import Webserver, WebserverChanges, WebserverId, WebserverSettings

logger = logging.getLogger(__name__)

LAST_REQUESTS = 10


@dataclass(frozen=True, slots=True)
class WebserverDetails:
    """A webserver with its most recent probes, newest first, and its newest health event (or None)."""

    webserver: Webserver
    last_requests: list[RecordedProbe]
    last_event: RecordedEvent | None = None
    # successes / probes over the 24 hours before the read; None when there was no probe.
    uptime_24h: float | None = None


@dataclass(frozen=True, slots=True)
class WebserverPage(Page[Webserver, WebserverId]):
    """A page of webservers, with the newest health event of each one that has had one."""

    last_events: dict[WebserverId, RecordedEvent] = field(default_factory=dict)
    # Each webserver's uptime over the 24 hours before the read (None: no probe).
    uptimes_24h: dict[WebserverId, float | None] = field(default_factory=dict)


def require_webserver(webserver: Webserver | None, webserver_id: WebserverId) -> Webserver:
    """The webserver, or WebserverNotFound when it is gone."""
    if webserver is None:
        raise WebserverNotFound(webserver_id)
    return webserver


class RegisterWebserver:
    """Start watching a webserver.

    - The settings are already validated by WebserverSettings.
    - A URL whose host is an IP address the outbound policy denies is refused (InvalidField); a host
      name is judged where it is connected to, on every probe.
    - A URL is watched once: registering it again raises WebserverAlreadyRegistered.
    - Health starts unknown with both streaks at zero.
    """

    def __init__(self, uow: UnitOfWork, clock: Clock, policy: OutboundPolicy | None = None) -> None:
        self._uow = uow
        self._clock = clock
        self._policy = policy if policy is not None else OutboundPolicy()

    def execute(self, settings: WebserverSettings) -> Webserver:
        """Store the webserver and return it with its new id."""
        check_outbound(self._policy, settings.url)
        with self._uow as uow:
            webserver = uow.webservers.add(settings, self._clock.now())
            uow.commit()
        # Quoted (repr), so a name cannot end the line and forge another; the URL's password is masked.
        logger.info("webserver %s %r: registered %r", webserver.id, settings.name, settings.display_url)
        return webserver


class UpdateWebserver:
    """Change some of a webserver's settings.

    - Fields left as None keep their value; the result is validated as a whole.
    - A new URL whose host is an IP address the outbound policy denies is refused (InvalidField).
    - A changed URL resets health to unknown with zero streaks; the history is kept.
    - A reset of a health that was not already unknown is a health change: one event (no probe,
      occurred_at now) and its deliveries, in the same transaction.
    - The row is locked while it changes, so a concurrent probe result is never lost.
    """

    def __init__(self, uow: UnitOfWork, clock: Clock, policy: OutboundPolicy | None = None) -> None:
        self._uow = uow
        self._clock = clock
        self._policy = policy if policy is not None else OutboundPolicy()

    def execute(self, webserver_id: WebserverId, changes: WebserverChanges) -> Webserver:
        """Apply the changes and return the updated webserver."""
        with self._uow as uow:
            current = require_webserver(uow.webservers.get(webserver_id, lock=True), webserver_id)
            updated = current.reconfigure(changes, self._clock.now())
            if updated.settings.url != current.settings.url:
                check_outbound(self._policy, updated.settings.url)
            if updated is not current:
                uow.webservers.save(updated)
                if updated.state is not current.state:
                    reset = HealthChanged(
                        webserver=snapshot(updated),
                        from_state=current.state,
                        to_state=updated.state,
                        occurred_at=updated.updated_at,
                        probe=None,
                    )
                    record_health_changes(uow, [reset], uow.channels.all())
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
    """Read one webserver with its current health, its last 10 probes (newest first), its last event
    and its uptime over the last 24 hours."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def execute(self, webserver_id: WebserverId) -> WebserverDetails:
        """The webserver's details; an unknown id raises WebserverNotFound."""
        window = uptime_window(self._clock.now())
        with self._uow as uow:
            webserver = require_webserver(uow.webservers.get(webserver_id), webserver_id)
            last = uow.probe_results.history(webserver_id, limit=LAST_REQUESTS)
            last_event = uow.events.last_of([webserver_id]).get(webserver_id)
            uptime = uptimes(uow, [webserver_id], window)[webserver_id]
        return WebserverDetails(webserver, last, last_event, uptime)


class ListWebservers:
    """List webservers with their health.

    - Stable order: ascending id.
    - Optional filter on one health state.
    - Keyset pagination: pass the previous page's next_cursor to get the next page.
    - Each page comes with its webservers' last health events, read in one query, and their
      uptime over the last 24 hours (from rollups and raw counts, a few queries per page).
    """

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def execute(
        self,
        *,
        health: HealthState | None = None,
        after: WebserverId | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
    ) -> WebserverPage:
        """One page of webservers with ids greater than `after`."""
        check_limit(limit)
        window = uptime_window(self._clock.now())
        with self._uow as uow:
            rows = uow.webservers.list(health=health, after=after, limit=limit + 1)
            items = rows[:limit]
            ids = [webserver.id for webserver in items]
            last_events = uow.events.last_of(ids) if items else {}
            uptimes_24h = uptimes(uow, ids, window)
        return WebserverPage(items, items[-1].id if len(rows) > limit else None, last_events, uptimes_24h)
