"""The /workers resource: the live workers that share the webservers, for a look at the cluster."""

from __future__ import annotations

from litestar import get
from litestar.di import NamedDependency

from healthmon.application.use_cases.workers import ListWorkers
from healthmon.entrypoints.http.schemas import WorkerListOut, WorkerOut, problem_responses


@get(
    "/workers",
    sync_to_thread=True,
    tags=["workers"],
    summary="List the live workers",
    responses=problem_responses(400, 401, 500, 503),
)
def list_workers(list_workers: NamedDependency[ListWorkers]) -> WorkerListOut:
    """Each worker whose heartbeat is younger than the lease: a stopped one leaves at once, a dead one
    once its lease has expired."""
    return WorkerListOut(items=[WorkerOut.from_domain(worker) for worker in list_workers.execute()])
