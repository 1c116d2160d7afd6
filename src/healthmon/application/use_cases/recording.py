"""The use case that stores probe results and advances health."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from healthmon.application.health_events import record_certificate_warnings, record_health_changes, snapshot
from healthmon.application.ports import UnitOfWork
from healthmon.domain.certificates import ExpiryWarnings
from healthmon.domain.events import CertificateExpiring, HealthChanged
from healthmon.domain.health import HealthState
from healthmon.domain.probe import ProbeResult
from healthmon.domain.rollups import HOUR, floor_to
from healthmon.domain.webserver import WebserverId

logger = logging.getLogger(__name__)


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
    """What recording a batch did: rows stored, results dropped, health changes made.

    `fenced` counts the dropped results whose lease epoch had moved on (they are in `dropped` too).
    """

    stored: int
    dropped: int
    changes: list[HealthChange]
    fenced: int = 0


class RecordProbeResults:
    """Store a batch of probe results and advance each webserver's health.

    - Every result of a webserver that still exists is stored, once.
    - Each webserver's state machine sees its results in probe start order.
    - A result that started no later than the webserver's last_checked_at is stale and dropped: a
      late result of a worker that lost the server never lands on a newer one, nor twice.
    - A result for a webserver deleted meanwhile is dropped, not an error.
    - Fencing: when epochs are given (one per result, the lease epoch its probe started under), a
      result whose epoch is not the webserver's current one is dropped (another worker took the
      server since); the epochs are read after the webservers are locked, and a claim skips locked
      rows, so none moves on before the commit.
    - Each health change is stored as one event (occurred_at and probe: the result that made it),
      queued for every enabled channel that covers the webserver, in the batch's transaction: so
      there is exactly one event per transition, and none without one.
    - A result that read a TLS certificate updates the webserver's tls_expires_at; when the expiry
      first comes within one of the warning thresholds (once per threshold per certificate, the
      warned threshold kept with the webserver so a restart does not warn again), a
      webserver.certificate_expiring event is stored and queued the same way.
    - The hours of the stored results are marked for the rollup job in the same transaction, so
      every stored probe reaches the rollups, however late it is written.
    - The whole batch is one transaction: all of it is stored, or none.
    - Each health change is logged as `webserver ID NAME: old -> new`.
    """

    def __init__(self, uow: UnitOfWork, certificate_warnings: ExpiryWarnings | None = None) -> None:
        self._uow = uow
        self._warnings = certificate_warnings if certificate_warnings is not None else ExpiryWarnings()

    def execute(
        self, results: Sequence[ProbeResult], *, epochs: Sequence[int] | None = None
    ) -> RecordOutcome:
        """Store the batch (fenced by `epochs`, if given); return what was stored, dropped and changed."""
        if not results:
            return RecordOutcome(0, 0, [])
        ordered = _in_start_order(results, epochs)
        changes: list[HealthChange] = []
        fenced = 0
        with self._uow as uow:
            ids = {result.webserver_id for result in results}
            servers = uow.webservers.get_many(ids, lock=True)
            current = uow.workers.epochs(servers.keys()) if epochs is not None else {}
            kept: list[ProbeResult] = []
            events: list[HealthChanged] = []
            warnings: list[CertificateExpiring] = []
            for result, epoch in ordered:
                before = servers.get(result.webserver_id)
                if before is not None and epoch is not None and current.get(result.webserver_id) != epoch:
                    fenced += 1
                    continue
                if before is None or (
                    before.last_checked_at is not None and result.started_at <= before.last_checked_at
                ):
                    continue
                kept.append(result)
                after, transition = before.record(result)
                if result.tls_expires_at is not None:
                    after, due = after.see_certificate(
                        result.tls_expires_at, result.started_at, self._warnings
                    )
                    if due is not None:
                        warnings.append(
                            CertificateExpiring(
                                webserver=snapshot(after),
                                expires_at=result.tls_expires_at,
                                threshold_days=due,
                                occurred_at=result.started_at,
                            )
                        )
                servers[result.webserver_id] = after
                if transition.changed:
                    events.append(
                        HealthChanged(
                            webserver=snapshot(after),
                            from_state=before.state,
                            to_state=after.state,
                            occurred_at=result.started_at,
                            probe=result,
                        )
                    )
                    changes.append(
                        HealthChange(
                            after.id,
                            after.settings.name,
                            before.state,
                            after.state,
                            result.started_at,
                        )
                    )
            if events or warnings:
                # Channels are read once per batch, and only when some health changed or a certificate
                # is to be warned about.
                channels = uow.channels.all()
                record_health_changes(uow, events, channels)
                record_certificate_warnings(uow, warnings, channels)
            uow.probe_results.add_many(kept)
            for webserver in servers.values():
                uow.webservers.save(webserver)
            if kept:
                # Last before the commit: marking an hour may hold a lock the rollup job waits on.
                uow.rollups.mark_hours({floor_to(result.started_at, HOUR) for result in kept})
            uow.commit()
        for change in changes:
            # The name is quoted (repr), so no name can end the line and forge another.
            logger.info(
                "webserver %s %r: %s -> %s",
                change.webserver_id,
                change.name,
                change.old,
                change.new,
            )
        for warning in warnings:
            logger.warning(
                "webserver %s %r: TLS certificate expires at %s, within %s days",
                warning.webserver.id,
                warning.webserver.name,
                warning.expires_at.isoformat(),
                warning.threshold_days,
            )
        return RecordOutcome(
            stored=len(kept), dropped=len(results) - len(kept), changes=changes, fenced=fenced
        )


def _in_start_order(
    results: Sequence[ProbeResult], epochs: Sequence[int] | None
) -> list[tuple[ProbeResult, int | None]]:
    """Each result with its epoch (None: not fenced), in probe start order."""
    if epochs is not None and len(epochs) != len(results):
        raise ValueError("give one epoch per result")
    stamped = zip(results, epochs if epochs is not None else [None] * len(results), strict=True)
    return sorted(stamped, key=lambda pair: pair[0].started_at)
