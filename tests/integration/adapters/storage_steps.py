"""Steps the storage contract tests share: each runs in its own committed unit of work."""

from __future__ import annotations

from datetime import timedelta

from healthmon.application.ports import WorkerInfo
from healthmon.domain.ids import WebserverId
from healthmon.domain.webserver import Webserver
from tests.factories import settings
from tests.fakes import EPOCH
from tests.integration.conftest import UowFactory


def add(uow_factory: UowFactory, n: int = 1, **overrides: object) -> Webserver:
    with uow_factory() as uow:
        webserver = uow.webservers.add(settings(n, **overrides), EPOCH)
        uow.commit()
    return webserver


def save(uow_factory: UowFactory, webserver: Webserver) -> None:
    with uow_factory() as uow:
        uow.webservers.save(webserver)
        uow.commit()


# Every heartbeat of a test is younger than an hour.
FRESH = timedelta(hours=1)
# No heartbeat is younger than zero: every holder counts as dead.
EXPIRED = timedelta(0)


def worker(worker_id: str, **overrides: object) -> WorkerInfo:
    values: dict[str, object] = {"host": "host-a", "pid": 4242, "started_at": EPOCH}
    values.update(overrides)
    return WorkerInfo(id=worker_id, **values)  # type: ignore[arg-type]


def beat(uow_factory: UowFactory, *workers: WorkerInfo) -> None:
    with uow_factory() as uow:
        for one in workers:
            uow.workers.beat(one)
        uow.commit()


def claim(uow_factory: UowFactory, worker_id: str, limit: int, ttl: timedelta = FRESH) -> int:
    with uow_factory() as uow:
        taken = uow.workers.claim(worker_id, ttl=ttl, limit=limit)
        uow.commit()
    return taken


def held(uow_factory: UowFactory, worker_id: str) -> list[WebserverId]:
    with uow_factory() as uow:
        return [webserver.id for webserver in uow.webservers.list(limit=1000, owner=worker_id)]
