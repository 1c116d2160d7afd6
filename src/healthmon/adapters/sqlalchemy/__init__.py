"""Storage on SQLAlchemy 2: SQLite and PostgreSQL, one schema, one set of Alembic migrations.

`healthmon.adapters.sqlalchemy.migrations` (not imported here, so using storage does not load
Alembic) upgrades a database to the current schema.
"""

from healthmon.adapters.sqlalchemy.engine import (
    check_database,
    create_database_engine,
    create_session_factory,
    masked_url,
)
from healthmon.adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork

__all__ = [
    "SqlAlchemyUnitOfWork",
    "check_database",
    "create_database_engine",
    "create_session_factory",
    "masked_url",
]
