"""Config as code: each webserver's optional, unique `key` and its `managed` flag.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 00:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Batch mode: SQLite rebuilds the table (a unique constraint cannot be added in place), and the
    # rebuilt one must keep AUTOINCREMENT; PostgreSQL alters it in place.
    with op.batch_alter_table("webservers", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.add_column(sa.Column("key", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("managed", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.create_unique_constraint("uq_webservers_key", ["key"])


def downgrade() -> None:
    with op.batch_alter_table("webservers", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_constraint("uq_webservers_key", type_="unique")
        batch.drop_column("managed")
        batch.drop_column("key")
