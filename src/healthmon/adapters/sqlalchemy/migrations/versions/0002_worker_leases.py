"""Worker leases: the `workers` table and the lease owner of each webserver.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 00:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "workers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("servers", sa.Integer(), nullable=False),
        sa.Column("probes_per_second", sa.Float(), nullable=False),
        sa.Column("lag_p99_ms", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workers")),
    )
    # Batch mode: SQLite rebuilds the table; PostgreSQL alters it in place.
    with op.batch_alter_table("webservers") as batch:
        batch.add_column(sa.Column("lease_owner", sa.String(length=64), nullable=True))
        batch.create_index("ix_webservers_lease_owner", ["lease_owner"])


def downgrade() -> None:
    # Dropping a column rebuilds the table on SQLite; the rebuilt one must keep AUTOINCREMENT.
    with op.batch_alter_table("webservers", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_index("ix_webservers_lease_owner")
        batch.drop_column("lease_owner")
    op.drop_table("workers")
