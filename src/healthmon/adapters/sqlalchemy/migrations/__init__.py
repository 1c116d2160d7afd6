"""healthmon's Alembic migrations: where their scripts are, and upgrading a database with them.

The scripts (env.py, script.py.mako, versions/) are package data beside this file, so a wheel
carries them and `healthmon db upgrade` works wherever healthmon is installed. Alembic is
configured here in code; the top-level alembic.ini only points the `alembic` command line of a
source checkout at this directory (for `alembic revision --autogenerate`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

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
from healthmon.adapters.sqlalchemy.partitions import PARTITION_NAME
from healthmon.application.errors import StorageRejected

logger = logging.getLogger(__name__)

MIGRATIONS_DIRECTORY: Final = Path(__file__).resolve().parent


def compared_with(dialect_name: str) -> Callable[[Any, str | None, str, bool, Any], bool]:
    """Alembic's include_object for a database of this dialect: what tables.py describes there.

    Left out: the daily partitions of `requests` (partitions.py makes them as time goes by, not
    the schema), and indexes tables.py creates on the other dialect only (tables.only_on).
    """

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if type_ == "table" and reflected and name is not None and PARTITION_NAME.fullmatch(name):
            return False
        if type_ == "index" and not reflected:
            return obj.info.get("dialect", dialect_name) == dialect_name  # type: ignore[no-any-return]
        return True

    return include


def migration_engine(url: str | URL) -> Engine:
    """An engine for migrations: one connection and, on SQLite, foreign keys off while tables are rebuilt."""
    # SQLite's table rebuild (Alembic batch mode) drops the old table; with foreign keys on, that
    # drop would cascade into `requests`. SQLite's own ALTER TABLE procedure turns them off first.
    return create_database_engine(url, pool_size=1, sqlite_foreign_keys=False)


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for healthmon's migrations, run on `connection` when given.

    Without a connection, env.py connects to the database of the service's settings itself.
    """
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
        if engine.dialect.name == "sqlite":
            with translated_errors():
                _use_incremental_vacuum(engine)
    finally:
        engine.dispose()


# PRAGMA auto_vacuum's value for INCREMENTAL.
SQLITE_INCREMENTAL_VACUUM: Final = 2


def _use_incremental_vacuum(engine: Engine) -> None:
    # Retention gives the pages it frees back with PRAGMA incremental_vacuum, which needs
    # auto_vacuum=INCREMENTAL. The engine sets it on every connection, but on a database that
    # already has tables it takes effect only after a VACUUM: done here once, outside any
    # transaction (VACUUM cannot run in one), on the driver's own connection.
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute("PRAGMA auto_vacuum")
        if cursor.fetchone() != (SQLITE_INCREMENTAL_VACUUM,):
            logger.info("converting the SQLite database to incremental vacuum (once; it rewrites the file)")
            cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
            cursor.execute("VACUUM")
        cursor.close()
    finally:
        connection.close()


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
    "SQLITE_INCREMENTAL_VACUUM",
    "alembic_config",
    "compared_with",
    "migration_engine",
    "prepare_database",
    "upgrade_database",
]
