"""Test doubles for ports whose real adapters a test cannot steer: the clock, the prober and the notifier."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

from healthmon.application.ports import Clock, Notifier, Prober, Rollups
from healthmon.domain.channels import Channel, ChannelId, ChannelKind
from healthmon.domain.deliveries import AttemptOutcome
from healthmon.domain.events import EventId, RecordedEvent
from healthmon.domain.probe import ProbeResult
from healthmon.domain.webserver import Webserver

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


class FakeClock(Clock):
    """A clock that moves only when told to."""

    def __init__(self, now: datetime = EPOCH) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> datetime:
        self.current += timedelta(seconds=seconds)
        return self.current


class FakeProber(Prober):
    """Answers each URL by a named behaviour and counts the probes it was asked for.

    Behaviours: "ok" (200), "fail" (500), "hang" (never answers until cancelled), "boom" (a bug).
    """

    def __init__(self, behaviour: dict[str, str] | None = None, default: str = "ok") -> None:
        self.behaviour = behaviour if behaviour is not None else {}
        self.default = default
        self.calls: Counter[str] = Counter()
        self.hanging = 0

    async def probe(self, webserver: Webserver) -> ProbeResult:
        url = webserver.settings.url
        self.calls[url] += 1
        started_at = datetime.now(UTC)
        mode = self.behaviour.get(url, self.default)
        if mode == "hang":
            self.hanging += 1
            try:
                await asyncio.Event().wait()
            finally:
                self.hanging -= 1
        if mode == "boom":
            raise RuntimeError(f"bug while probing {url}")
        return ProbeResult.response(
            webserver.id,
            started_at=started_at,
            latency_ms=1.0,
            status_code=200 if mode == "ok" else 500,
            timeout_seconds=webserver.settings.timeout_seconds,
        )


DELIVERED = AttemptOutcome(delivered=True, status_code=200)


class FakeNotifier(Notifier):
    """Answers each send with the next outcome queued for its channel (delivered when none is queued).

    - `sent` lists every (channel id, event id) sent, in the order the sends began.
    - While `gate` is cleared, every send waits for it to be set (an in-flight send to hold on to).
    - `bad_urls` are the URLs url_problem rejects.
    """

    def __init__(self) -> None:
        self.outcomes: dict[ChannelId, list[AttemptOutcome | Exception]] = {}
        self.sent: list[tuple[ChannelId, EventId]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.waiting = 0
        self.bad_urls: set[str] = set()

    def answer(self, channel_id: ChannelId, *outcomes: AttemptOutcome | Exception) -> None:
        """Queue these outcomes (an exception is raised, as a buggy adapter would) for the channel."""
        self.outcomes.setdefault(channel_id, []).extend(outcomes)

    def url_problem(self, kind: ChannelKind, url: str) -> str | None:
        return "is not understood" if url in self.bad_urls else None

    async def send(self, channel: Channel, event: RecordedEvent) -> AttemptOutcome:
        self.sent.append((channel.id, event.id))
        self.waiting += 1
        try:
            await self.gate.wait()
        finally:
            self.waiting -= 1
        queued = self.outcomes.get(channel.id)
        outcome = queued.pop(0) if queued else DELIVERED
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


class FakeRollups(Rollups):
    """Rollups that have covered the history up to `until`, and remember each hourly prune."""

    def __init__(self, until: datetime | None = None) -> None:
        self.until = until
        self.hourly_pruned_before: list[datetime] = []

    def rolled_up_until(self) -> datetime | None:
        return self.until

    def prune_hourly(self, before: datetime) -> int:
        self.hourly_pruned_before.append(before)
        return 0
