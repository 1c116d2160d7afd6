"""The /storage resource: how much probe history is stored, and from when."""

from __future__ import annotations

from litestar import get
from litestar.di import NamedDependency

from healthmon.application.use_cases.retention import GetStorageUsage
from healthmon.entrypoints.http.schemas import StorageOut, problem_responses


@get(
    "/storage",
    sync_to_thread=True,
    tags=["storage"],
    summary="Show how much probe history is stored",
    responses=problem_responses(400, 401, 500, 503),
)
def get_storage(get_storage_usage: NamedDependency[GetStorageUsage]) -> StorageOut:
    """The probes kept (rows, and bytes on disk with their indexes), the oldest one, and the retention.

    On PostgreSQL `rows` comes from the statistics the database keeps as rows are written (close,
    not exact), so the answer stays quick at any size; on SQLite it is a count."""
    return StorageOut.from_domain(get_storage_usage.execute())
