"""The worker's periodic jobs, as the container builds them: each runs once, on one of two workers."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from healthmon.adapters.sqlalchemy.engine import create_database_engine
from healthmon.adapters.sqlalchemy.tables import jobs_table
from healthmon.container import build_container
from healthmon.entrypoints.worker import start_jobs
from healthmon.settings import Settings
from tests.waiting import eventually


def finished_jobs(database_url: str) -> set[str]:
    engine = create_database_engine(database_url, pool_size=1)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(jobs_table.c.name).where(jobs_table.c.last_finished_at.is_not(None))
            )
            return set(rows.scalars())
    finally:
        engine.dispose()


async def test_two_workers_run_each_periodic_job_once(database_url: str) -> None:
    containers = [build_container(Settings(database_url=database_url)) for _ in range(2)]
    names = {job.name for job in containers[0].periodic_jobs()}
    assert names == {"history-rollups", "history-partitions", "history-retention"}
    stop = asyncio.Event()
    for container in containers:
        await container.init_resources()  # type: ignore[misc]
    try:
        tasks = [start_jobs(container, stop) for container in containers]
        await eventually(
            lambda: finished_jobs(database_url) == names,
            within=10,
            what="every job to have run",
        )
        stop.set()
        stats = await asyncio.wait_for(asyncio.gather(*tasks), timeout=10)
    finally:
        stop.set()
        for container in containers:
            await container.shutdown_resources()  # type: ignore[misc]
    assert sum(stat.runs for stat in stats) == len(names)
    assert sum(stat.failures for stat in stats) == 0
