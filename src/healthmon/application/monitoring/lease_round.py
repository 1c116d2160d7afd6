"""The lease round: one transaction that beats, claims, hands back and reloads this worker's servers."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from healthmon.application.monitoring.membership import Membership
from healthmon.application.ports import UnitOfWork, WorkerInfo
from healthmon.domain.webserver import Webserver, WebserverId

LOAD_PAGE = 1000
# A worker whose heartbeat is this many leases old is deleted from the workers table.
FORGET_AFTER_LEASES = 10


@dataclass(frozen=True, slots=True)
class LeaseRound:
    """What to do in one round: on a heartbeat the report to send, the servers ready to hand back,
    and whether to claim."""

    # The revision of the held servers as last loaded; None forces a reload.
    revision: object
    report: WorkerInfo | None = None
    ready: Sequence[WebserverId] = ()
    claiming: bool = True


@dataclass(frozen=True, slots=True)
class RoundOutcome:
    """What one round learnt and did; the held servers (and their lease epochs) only when they changed."""

    revision: object
    membership: Membership | None = None
    held: list[Webserver] | None = None
    # The lease epoch of each held server: results taken under it are stored, others fenced off.
    epochs: dict[WebserverId, int] | None = None
    handed_back: Sequence[WebserverId] = ()
    claimed: int = 0
    released: int = 0
    # Seconds spent beating, claiming, handing back and committing (None without a heartbeat).
    leasing_seconds: float | None = None


class RunLeaseRound:
    """Keep this worker's leases and learn which servers it holds, in one transaction.

    - On a heartbeat: renew every lease with one write, forget workers dead for ten leases, hand
      back the servers that are ready, and (unless told not to) claim servers up to the fair share
      among live workers.
    - Always: reload the held servers and their lease epochs when they changed (or a claim was made,
      or no revision is known); a server is held only if both reads saw it held.
    - It changes nothing but the store: the caller applies the outcome.
    """

    def __init__(self, uow: UnitOfWork, worker_id: str, lease_seconds: float) -> None:
        self._uow = uow
        self._worker_id = worker_id
        self._ttl = timedelta(seconds=lease_seconds)

    def execute(self, request: LeaseRound) -> RoundOutcome:
        """Run the round; meant for a worker thread, as it blocks on the store."""
        me = self._worker_id
        started = time.perf_counter()
        membership: Membership | None = None
        claimed = released = 0
        report = request.report
        with self._uow as uow:
            if report is not None:
                uow.workers.beat(report)
                uow.workers.forget(self._ttl * FORGET_AFTER_LEASES)
                membership = Membership(uow.webservers.count(), len(uow.workers.live(self._ttl)))
                released = uow.workers.release(me, request.ready)
                if request.claiming:
                    claimed = uow.workers.claim(me, ttl=self._ttl, limit=membership.wanted(report.servers))
            leasing = time.perf_counter() - started
            revision = uow.webservers.revision(owner=me)
            held: list[Webserver] | None = None
            epochs: dict[WebserverId, int] | None = None
            if claimed or revision != request.revision:
                # Two reads: on PostgreSQL each sees the others' claims committed by its start, so a
                # server taken between them is left out rather than probed under an epoch not its own.
                epochs = uow.workers.held(me)
                held = []
                after: WebserverId | None = None
                while page := uow.webservers.list(after=after, limit=LOAD_PAGE, owner=me):
                    held.extend(webserver for webserver in page if webserver.id in epochs)
                    after = page[-1].id
                epochs = {webserver.id: epochs[webserver.id] for webserver in held}
            committing = time.perf_counter()
            uow.commit()
        return RoundOutcome(
            revision=revision,
            membership=membership,
            held=held,
            epochs=epochs,
            handed_back=request.ready,
            claimed=claimed,
            released=released,
            leasing_seconds=None if report is None else leasing + time.perf_counter() - committing,
        )


class LeaveLeases:
    """Hand back every server this worker holds and delete its row, so others take over at once."""

    def __init__(self, uow: UnitOfWork, worker_id: str) -> None:
        self._uow = uow
        self._worker_id = worker_id

    def execute(self) -> None:
        """Leave, in one transaction; meant for a worker thread."""
        with self._uow as uow:
            uow.workers.leave(self._worker_id)
            uow.commit()
