"""Alembic from Python: where the migrations live, and upgrading a database to the current schema.

The migration scripts are in the `alembic/` directory at the top of the repository, next to
`alembic.ini`, not inside the package. healthmon is installed editable (`pip install -e .`), so
that directory is found relative to this file: four levels up from
`src/healthmon/adapters/sqlalchemy/`. A wheel does not ship it; MIGRATIONS_DIRECTORY then does not
exist and alembic_config() says so.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import URL

from healthmon.adapters.sqlalchemy.engine import (
    WRITE_INTENT,
    check_database,
    create_database_engine,
    masked_url,
)
from healthmon.adapters.sqlalchemy.errors import translated_errors
from healthmon.application.errors import StorageRejected

REPOSITORY_ROOT: Final = Path(__file__).resolve().parents[4]
MIGRATIONS_DIRECTORY: Final = REPOSITORY_ROOT / "alembic"


def migration_engine(url: str | URL) -> Engine:
    """An engine for migrations: one connection and, on SQLite, foreign keys off while tables are rebuilt."""
    # SQLite's table rebuild (Alembic batch mode) drops the old table; with foreign keys on, that
    # drop would cascade into `requests`. SQLite's own ALTER TABLE procedure turns them off first.
    return create_database_engine(url, pool_size=1, sqlite_foreign_keys=False)


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for healthmon's migrations, run on `connection` when given.

    Without a connection, alembic/env.py connects to HEALTHMON_DATABASE_URL itself.
    """
    if not (MIGRATIONS_DIRECTORY / "env.py").is_file():
        raise FileNotFoundError(
            f"healthmon's migrations are not at {MIGRATIONS_DIRECTORY}; "
            "run healthmon from a source checkout installed with `pip install -e .`"
        )
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIRECTORY))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade_database(url: str | URL, revision: str = "head") -> None:
    """Bring the database at `url` to `revision` (the newest by default) in one transaction.

    A bad URL raises DatabaseConfigurationError and an unreachable database StorageUnavailable.
    """
    engine = migration_engine(url)
    try:
        # Fail with the URL and the cause before Alembic starts, so the message names both.
        check_database(engine)
        with translated_errors(), engine.execution_options(**{WRITE_INTENT: True}).begin() as connection:
            command.upgrade(alembic_config(connection), revision)
    finally:
        engine.dispose()


@contextlib.contextmanager
def _quiet_alembic() -> Iterator[None]:
    # Reading the revision makes Alembic log two INFO lines about its dialect on every start.
    migration_logger = logging.getLogger("alembic.runtime.migration")
    level = migration_logger.level
    migration_logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        migration_logger.setLevel(level)


def prepare_database(url: str | URL) -> None:
    """Make the database ready at start: SQLite migrates itself, PostgreSQL must already be current.

    The embedded SQLite default needs no set-up step. A PostgreSQL database is shared by several
    processes, so its schema changes only by `healthmon db upgrade`; an outdated one raises
    StorageRejected saying so. An unreachable database raises StorageUnavailable naming the URL.
    """
    engine = migration_engine(url)
    try:
        if engine.dialect.name == "sqlite":
            upgrade_database(url)
            return
        check_database(engine)
        with translated_errors(), engine.connect() as connection, _quiet_alembic():
            current = MigrationContext.configure(connection).get_current_revision()
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        if current != head:
            raise StorageRejected(
                f"the schema of {masked_url(engine.url)} is at revision {current or 'none'}, "
                f"healthmon needs {head}; run `healthmon db upgrade` first"
            )
    finally:
        engine.dispose()


__all__ = [
    "MIGRATIONS_DIRECTORY",
    "alembic_config",
    "migration_engine",
    "prepare_database",
    "upgrade_database",
]
