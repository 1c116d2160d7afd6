"""Config as code: sync the webservers with a file's entries (plan, apply all or nothing); export them."""

from __future__ import annotations

import dataclasses
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from healthmon.application.health_events import record_health_changes, snapshot
from healthmon.application.ports import Clock, UnitOfWork
from healthmon.domain.errors import StateConflict
from healthmon.domain.events import HealthChanged
from healthmon.domain.sync import SyncPlan, plan_sync
from healthmon.domain.webserver import Webserver, WebserverSettings

logger = logging.getLogger(__name__)

# "Every webserver" for a listing's limit: larger than any table.
_ALL: Final = sys.maxsize


@dataclass(frozen=True, slots=True)
class SyncResult:
    """The plan, and whether it was applied (False for a dry run)."""

    plan: SyncPlan
    applied: bool


class ConcurrentChange(StateConflict):
    """A server the plan changes was changed or removed by someone else meanwhile; nothing was changed."""

    def __init__(self) -> None:
        super().__init__(
            "The webservers changed while the sync ran; nothing was changed. Run the sync again."
        )


def _placeholder(webserver: Webserver) -> WebserverSettings:
    # A URL no entry can hold (the reserved .invalid domain, named by the server's id), parked on
    # a server whose new URL another server still holds until later in the same transaction.
    return dataclasses.replace(webserver.settings, url=f"http://sync-{webserver.id}.invalid/", key=None)


class SyncWebservers:
    """Bring the webservers in line with a file's entries.

    - The plan comes from plan_sync on every current server; a dry run (the default) changes nothing.
    - Applying runs in one transaction, all or nothing: deletes, then updates, then creates. Servers
      it creates or changes become managed; a changed URL resets health (one event, as by hand).
    - Every current row is locked while the plan is made and applied, so two syncs take turns on
      the servers they both see; two creating the same key or URL at once are kept apart by the
      store's unique rules: the later one raises WebserverKeyTaken or WebserverAlreadyRegistered
      and applies nothing.
    """

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def execute(
        self, entries: Sequence[WebserverSettings], *, prune: bool = False, dry_run: bool = True
    ) -> SyncResult:
        """The plan; applied unless dry_run."""
        with self._uow as uow:
            current = uow.webservers.list(limit=_ALL, lock=not dry_run)
            plan = plan_sync(current, entries, prune=prune)
            if dry_run:
                return SyncResult(plan, applied=False)
            if not plan.empty:
                self._apply(uow, plan, current)
                uow.commit()
        logger.info(
            "sync applied: %d created, %d updated, %d deleted, %d unchanged",
            len(plan.create),
            len(plan.update),
            len(plan.delete),
            plan.unchanged,
        )
        return SyncResult(plan, applied=True)

    def _apply(self, uow: UnitOfWork, plan: SyncPlan, current: Sequence[Webserver]) -> None:
        now = self._clock.now()
        if plan.delete and uow.webservers.remove_many([server.id for server in plan.delete]) != len(
            plan.delete
        ):
            raise ConcurrentChange
        # URLs (and keys) are unique at every statement, not only at commit: a server moving to a
        # URL or key another server still holds waits on a placeholder until the other has moved.
        deleted = {server.id for server in plan.delete}
        held_urls = {server.settings.url for server in current if server.id not in deleted}
        held_keys = {server.settings.key for server in current if server.id not in deleted}
        moving = {
            update.webserver.id
            for update in plan.update
            if (update.target.url != update.webserver.settings.url and update.target.url in held_urls)
            or (
                update.target.key is not None
                and update.target.key != update.webserver.settings.key
                and update.target.key in held_keys
            )
        }
        uow.webservers.save_many(
            [
                dataclasses.replace(update.webserver, settings=_placeholder(update.webserver))
                for update in plan.update
                if update.webserver.id in moving
            ]
        )
        resets: list[HealthChanged] = []
        after: dict[bool, list[Webserver]] = {False: [], True: []}
        for update in plan.update:
            before = update.webserver
            changed = before.with_settings(update.target, now, managed=True)
            after[before.id in moving].append(changed)
            if changed.state is not before.state:
                resets.append(
                    HealthChanged(
                        webserver=snapshot(changed),
                        from_state=before.state,
                        to_state=changed.state,
                        occurred_at=now,
                        probe=None,
                    )
                )
        # Servers moving to a free URL first: that frees the URLs the parked ones move to.
        uow.webservers.save_many(after[False])
        uow.webservers.save_many(after[True])
        uow.webservers.add_many(plan.create, now, managed=True)
        if resets:
            record_health_changes(uow, resets, uow.channels.all())


class ExportWebservers:
    """Every webserver's settings, in id order: the entries of a file that, synced back, change nothing."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def execute(self) -> list[WebserverSettings]:
        """The settings of every webserver (URLs still hold their passwords; the caller masks them)."""
        with self._uow as uow:
            return [server.settings for server in uow.webservers.list(limit=_ALL)]
