"""Storage kept in process memory: thread-safe, transactional, gone when the process ends.

Useful for embedding healthmon in tests or for a throwaway monitor. One transaction runs at a
time (a `with` block holds the store's lock), and every change made inside it is undone on exit
unless it was committed.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import threading
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from types import TracebackType
from typing import Self

from healthmon.application.ports import (
    HistoryCursor,
    ProbeResultRepository,
    UnitOfWork,
    WebserverRepository,
)
from healthmon.domain.errors import WebserverAlreadyRegistered
from healthmon.domain.health import HealthState
from healthmon.domain.probe import ProbeId, ProbeResult, RecordedProbe
from healthmon.domain.webserver import Webserver, WebserverId, WebserverSettings

Undo = Callable[[], object]


def _position(probe: RecordedProbe) -> tuple[datetime, int]:
    return (probe.result.started_at, probe.id)


def _started_at(probe: RecordedProbe) -> datetime:
    return probe.result.started_at


class InMemoryStore:
    """The data shared by every unit of work built on it."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.webservers: dict[WebserverId, Webserver] = {}
        self.ids_by_url: dict[str, WebserverId] = {}
        # Each history stays sorted oldest first by (started_at, id), so pages are bisections.
        self.histories: dict[WebserverId, list[RecordedProbe]] = {}
        self.webserver_ids = itertools.count(1)
        # Bumped by every add, remove or settings change; a rolled-back bump only costs a reload.
        self.revision = 0
        self.probe_ids = itertools.count(1)


class InMemoryWebserverRepository(WebserverRepository):
    """Webservers in a dict; changes log how to undo themselves."""

    def __init__(self, store: InMemoryStore, undo: list[Undo]) -> None:
        self._store = store
        self._undo = undo

    def add(self, settings: WebserverSettings, now: datetime) -> Webserver:
        if settings.url in self._store.ids_by_url:
            raise WebserverAlreadyRegistered(settings.url)
        webserver = Webserver(
            WebserverId(next(self._store.webserver_ids)), settings, created_at=now, updated_at=now
        )
        self._put(webserver)
        self._store.histories[webserver.id] = []
        self._undo.append(lambda: self._store.histories.pop(webserver.id))
        return webserver

    def get(self, webserver_id: WebserverId, *, lock: bool = False) -> Webserver | None:
        # Every unit of work already holds the store's lock for its whole block.
        return self._store.webservers.get(webserver_id)

    def get_many(
        self, webserver_ids: Collection[WebserverId], *, lock: bool = False
    ) -> dict[WebserverId, Webserver]:
        found = (self._store.webservers.get(webserver_id) for webserver_id in webserver_ids)
        return {webserver.id: webserver for webserver in found if webserver is not None}

    def save(self, webserver: Webserver) -> None:
        owner = self._store.ids_by_url.get(webserver.settings.url)
        if owner is not None and owner != webserver.id:
            raise WebserverAlreadyRegistered(webserver.settings.url)
        if webserver.id in self._store.webservers:
            self._put(webserver)

    def remove(self, webserver_id: WebserverId) -> bool:
        webserver = self._store.webservers.pop(webserver_id, None)
        if webserver is None:
            return False
        del self._store.ids_by_url[webserver.settings.url]
        history = self._store.histories.pop(webserver_id)
        self._store.revision += 1

        def undo() -> None:
            self._store.webservers[webserver_id] = webserver
            self._store.ids_by_url[webserver.settings.url] = webserver_id
            self._store.histories[webserver_id] = history

        self._undo.append(undo)
        return True

    def list(
        self, *, health: HealthState | None = None, after: WebserverId | None = None, limit: int
    ) -> list[Webserver]:
        matching = (
            webserver
            for webserver_id, webserver in sorted(self._store.webservers.items())
            if (after is None or webserver_id > after) and (health is None or webserver.state is health)
        )
        return list(itertools.islice(matching, limit))

    def revision(self) -> object:
        return self._store.revision

    def _put(self, webserver: Webserver) -> None:
        previous = self._store.webservers.get(webserver.id)
        if previous is None or previous.settings != webserver.settings:
            self._store.revision += 1
        if previous is not None:
            del self._store.ids_by_url[previous.settings.url]
        self._store.webservers[webserver.id] = webserver
        self._store.ids_by_url[webserver.settings.url] = webserver.id

        def undo() -> None:
            del self._store.ids_by_url[webserver.settings.url]
            if previous is None:
                del self._store.webservers[webserver.id]
            else:
                self._store.webservers[webserver.id] = previous
                self._store.ids_by_url[previous.settings.url] = previous.id

        self._undo.append(undo)


class InMemoryProbeResultRepository(ProbeResultRepository):
    """Each webserver's history as a sorted list."""

    def __init__(self, store: InMemoryStore, undo: list[Undo]) -> None:
        self._store = store
        self._undo = undo

    def add_many(self, results: Sequence[ProbeResult]) -> None:
        for result in results:
            history = self._store.histories.get(result.webserver_id)
            if history is None:
                continue
            probe = RecordedProbe(ProbeId(next(self._store.probe_ids)), result)
            bisect.insort(history, probe, key=_position)
            self._undo.append(functools.partial(history.remove, probe))

    def history(
        self,
        webserver_id: WebserverId,
        *,
        before: HistoryCursor | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int,
    ) -> list[RecordedProbe]:
        history = self._store.histories.get(webserver_id, [])
        end = len(history)
        if before is not None:
            end = bisect.bisect_left(history, (before.started_at, int(before.probe_id)), key=_position)
        if until is not None:
            end = min(end, bisect.bisect_left(history, until, key=_started_at))
        start = 0
        if since is not None:
            start = bisect.bisect_left(history, since, key=_started_at)
        start = max(start, end - limit)
        return history[start:end][::-1]


class InMemoryUnitOfWork(UnitOfWork):
    """A transaction over an InMemoryStore; blocks of different threads run one at a time."""

    def __init__(self, store: InMemoryStore | None = None) -> None:
        self.store = store if store is not None else InMemoryStore()
        self._undo: list[Undo] = []
        self.committed = False

    def __enter__(self) -> Self:
        self.store.lock.acquire()
        self._undo = []
        self.committed = False
        self.webservers = InMemoryWebserverRepository(self.store, self._undo)
        self.probe_results = InMemoryProbeResultRepository(self.store, self._undo)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            for undo in reversed(self._undo):
                undo()
            self._undo.clear()
        finally:
            self.store.lock.release()

    def commit(self) -> None:
        self._undo.clear()
        self.committed = True


__all__ = [
    "InMemoryProbeResultRepository",
    "InMemoryStore",
    "InMemoryUnitOfWork",
    "InMemoryWebserverRepository",
]
