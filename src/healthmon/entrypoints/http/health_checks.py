"""Liveness (/healthz) and readiness (/readyz) for load balancers and orchestrators; no key needed."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from litestar import get
from litestar.di import NamedDependency

from healthmon.application.errors import StorageRejected
from healthmon.application.use_cases.webservers import ListWebservers
from healthmon.domain.errors import HealthmonError
from healthmon.entrypoints.http.access import PUBLIC
from healthmon.entrypoints.http.schemas import StatusOut, problem_responses

logger = logging.getLogger(__name__)

TAGS = ["health"]


class NotReady(HealthmonError):
    """This process cannot do its job right now; a load balancer should send traffic elsewhere."""


@dataclass(frozen=True, slots=True)
class WorkerStatus:
    """Whether the monitoring worker of this process runs; `alive` is None when this process runs none."""

    alive: Callable[[], bool] | None = None


@get("/healthz", opt={PUBLIC: True}, tags=TAGS, summary="Liveness: the process answers")
async def healthz() -> StatusOut:
    """Always 200 while the process can answer at all; it touches nothing else."""
    return StatusOut(status="ok")


@get(
    "/readyz",
    opt={PUBLIC: True},
    tags=TAGS,
    summary="Readiness: the database answers and the in-process worker, if any, runs",
    sync_to_thread=True,
    responses=problem_responses(500, 503),
)
def readyz(
    list_webservers: NamedDependency[ListWebservers], worker: NamedDependency[WorkerStatus]
) -> StatusOut:
    """200 when a read through the use cases succeeds and the worker (if this process runs one) is alive."""
    if worker.alive is not None and not worker.alive():
        raise NotReady("The monitoring worker of this process is not running.")
    try:
        list_webservers.execute(limit=1)
    except StorageRejected as exc:
        # Unready rather than broken: typically the schema is not migrated yet.
        logger.warning("readiness: the database refused a read: %s", exc)
        raise NotReady("The database answered but refused a read; is its schema up to date?") from exc
    return StatusOut(status="ok")
