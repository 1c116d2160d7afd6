"""Alembic environment for SQLite and PostgreSQL alike.

The database is a connection passed in `config.attributes["connection"]` (tests and
`healthmon db upgrade` do this), else the one the service would use: the database URL of
`Settings.from_env()` (HEALTHMON_DATABASE_URL, or its default).
"""

from __future__ import annotations

import logging.config

from alembic import context
from sqlalchemy import Connection

from healthmon.adapters.sqlalchemy.engine import WRITE_INTENT, database_url
from healthmon.adapters.sqlalchemy.migrations import compared_with, migration_engine
from healthmon.adapters.sqlalchemy.tables import Base
from healthmon.settings import Settings

config = context.config
target_metadata = Base.metadata

# Only the `alembic` command line configures logging; a program calling Alembic keeps its own.
if config.config_file_name is not None and "connection" not in config.attributes:
    logging.config.fileConfig(config.config_file_name, disable_existing_loggers=False)


def _url() -> str:
    return Settings.from_env().database_url


def _configure(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=sqlite,
        # The engine makes SQLAlchemy emit BEGIN on SQLite too, so DDL there is transactional.
        transactional_ddl=True,
        compare_type=True,
        include_object=compared_with(connection.dialect.name),
    )


def run_migrations_offline() -> None:
    """Write the migration SQL to stdout instead of running it (`alembic upgrade head --sql`)."""
    url = database_url(_url())
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.get_backend_name() == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the given connection, or on a new one to the configured database."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = migration_engine(_url())
    try:
        with engine.execution_options(**{WRITE_INTENT: True}).begin() as own_connection:
            _configure(own_connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
