"""Webservers gain `public`: whether their badges may be shown without a key (false for every existing one).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 13:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# SQLite rebuilds the table for these changes; the rebuilt one must keep AUTOINCREMENT (ids never reused).
_KEEP_AUTOINCREMENT = {"sqlite_autoincrement": True}


def upgrade() -> None:
    with op.batch_alter_table("webservers", table_kwargs=_KEEP_AUTOINCREMENT) as batch:
        batch.add_column(sa.Column("public", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("webservers", table_kwargs=_KEEP_AUTOINCREMENT) as batch:
        batch.drop_column("public")
