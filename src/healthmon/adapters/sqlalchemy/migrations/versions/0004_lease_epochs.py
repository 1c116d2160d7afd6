"""Lease epochs: a fencing token per webserver, bumped every time a worker claims it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 00:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing leases start at epoch 0; the next claim of each server moves it on. Should batch mode
    # rebuild the table on SQLite, the rebuilt one must keep AUTOINCREMENT (ids are never reused).
    with op.batch_alter_table("webservers", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.add_column(sa.Column("lease_epoch", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    # Dropping a column rebuilds the table on SQLite; the rebuilt one must keep AUTOINCREMENT.
    with op.batch_alter_table("webservers", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("lease_epoch")
