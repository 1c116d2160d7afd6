"""The ports: what the use cases need from storage, the network and the clock."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from healthmon.domain.health import HealthState
from healthmon.domain.probe import ProbeId, ProbeResult, RecordedProbe
from healthmon.domain.webserver import Webserver, WebserverId, WebserverSettings


@dataclass(frozen=True, slots=True, order=True)
class HistoryCursor:
    """A position in a history, newest first: the last probe of the previous page."""

    started_at: datetime
    probe_id: ProbeId


class WebserverRepository(Protocol):
    """The stored webservers; never commits (the unit of work does)."""

    def add(self, settings: WebserverSettings, now: datetime) -> Webserver:
        """Store a new webserver under a fresh id; a URL already watched raises WebserverAlreadyRegistered."""
        ...

    def get(self, webserver_id: WebserverId, *, lock: bool = False) -> Webserver | None:
        """The webserver, or None; with lock, no other transaction may change it until this one ends."""
        ...

    def get_many(
        self, webserver_ids: Collection[WebserverId], *, lock: bool = False
    ) -> dict[WebserverId, Webserver]:
        """The webservers among these ids that exist; lock as in get."""
        ...

    def save(self, webserver: Webserver) -> None:
        """Write back a changed webserver; a URL watched by another raises WebserverAlreadyRegistered."""
        ...

    def remove(self, webserver_id: WebserverId) -> bool:
        """Delete the webserver and its history; False when it did not exist."""
        ...

    def list(
        self, *, health: HealthState | None = None, after: WebserverId | None = None, limit: int
    ) -> list[Webserver]:
        """Up to limit webservers in id order, past `after`, optionally only those in one state."""
        ...

    def revision(self) -> object:
        """A value that changes whenever a webserver is added, removed or reconfigured (not on health)."""
        ...


class ProbeResultRepository(Protocol):
    """Every probe result ever taken (the requests history); never commits."""

    def add_many(self, results: Sequence[ProbeResult]) -> None:
        """Store results whose webservers exist, in one statement where the store allows."""
        ...

    def history(
        self,
        webserver_id: WebserverId,
        *,
        before: HistoryCursor | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int,
    ) -> list[RecordedProbe]:
        """Newest first: up to limit probes older than `before`, with since <= started_at < until."""
        ...


class UnitOfWork(Protocol):
    """One transaction: repositories live for one `with` block; only commit() keeps changes."""

    webservers: WebserverRepository
    probe_results: ProbeResultRepository

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed and release the transaction."""
        ...

    def commit(self) -> None:
        """Make every change of this block durable, all or nothing."""
        ...


class Prober(Protocol):
    """Measures one webserver; a down server is a failed result, never an exception."""

    async def probe(self, webserver: Webserver) -> ProbeResult: ...


class Clock(Protocol):
    """Tells the time; the only source of `now` for the use cases."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...
