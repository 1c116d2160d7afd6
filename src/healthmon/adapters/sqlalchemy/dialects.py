"""The statements each supported database gets its own way, chosen once per engine by its dialect's name.

SQLite runs in process and has one writer at a time; PostgreSQL is a round trip away and has many.
So on PostgreSQL a batch travels as one array per column (postgres_arrays.py), and the database's
clock dates the leases; on SQLite an executemany is just as cheap, and the process's clock is the
database's. Each repository module defines its own variants; this bundles one of each.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Dialect

from healthmon.adapters.sqlalchemy.probe_result_repository import (
    PostgresProbeResultStatements,
    ProbeResultStatements,
    SqliteProbeResultStatements,
)
from healthmon.adapters.sqlalchemy.webserver_repository import (
    PostgresWebserverStatements,
    SqliteWebserverStatements,
    WebserverStatements,
)
from healthmon.adapters.sqlalchemy.worker_repository import (
    PostgresWorkerStatements,
    SqliteWorkerStatements,
    WorkerStatements,
)


@dataclass(frozen=True, slots=True)
class DialectStatements:
    """One dialect's statements for each repository."""

    webservers: WebserverStatements
    probe_results: ProbeResultStatements
    workers: WorkerStatements


# Built once at import; the statements inside are compiled once per engine and then cached by it.
_BY_DIALECT = {
    "sqlite": DialectStatements(
        webservers=SqliteWebserverStatements(),
        probe_results=SqliteProbeResultStatements(),
        workers=SqliteWorkerStatements(),
    ),
    "postgresql": DialectStatements(
        webservers=PostgresWebserverStatements(),
        probe_results=PostgresProbeResultStatements(),
        workers=PostgresWorkerStatements(),
    ),
}


def statements_for(dialect: Dialect) -> DialectStatements:
    """The statements for this dialect; a dialect healthmon does not support raises ValueError."""
    try:
        return _BY_DIALECT[dialect.name]
    except KeyError:
        raise ValueError(f"no statements for the {dialect.name!r} dialect") from None


__all__ = ["DialectStatements", "statements_for"]
