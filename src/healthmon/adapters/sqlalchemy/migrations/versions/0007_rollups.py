"""Rollups: hourly, daily and weekly per-webserver rollups, and the marks of what is still to roll up.

Every hour that already holds probes is marked, so the rollup job rolls the existing history up.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 13:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ROLLUP_TABLES = ("rollups_hourly", "rollups_daily", "rollups_weekly")
# The start of each probe's UTC hour, spelled as each database stores instants (SQLite: naive
# UTC text in SQLAlchemy's format, so that marks compare equal to the ones the service writes).
_HOUR_OF_PROBE = {
    "postgresql": "date_trunc('hour', started_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'",
    "sqlite": "strftime('%Y-%m-%d %H:00:00.000000', started_at)",
}


def upgrade() -> None:
    for name in _ROLLUP_TABLES:
        op.create_table(
            name,
            sa.Column("webserver_id", sa.Integer(), nullable=False),
            sa.Column("start", sa.DateTime(timezone=True), nullable=False),
            sa.Column("probes", sa.Integer(), nullable=False),
            sa.Column("successes", sa.Integer(), nullable=False),
            sa.Column("latency_max_ms", sa.Float(), nullable=True),
            sa.Column("latency_buckets", sa.LargeBinary(), nullable=False),
            sa.CheckConstraint("successes <= probes", name=op.f(f"ck_{name}_successes_within_probes")),
            sa.ForeignKeyConstraint(
                ["webserver_id"],
                ["webservers.id"],
                name=op.f(f"fk_{name}_webserver_id_webservers"),
                ondelete="CASCADE",
            ),
            sa.PrimaryKeyConstraint(
                "webserver_id", "start", name=op.f(f"pk_{name}"), postgresql_include=["probes", "successes"]
            ),
        )
    op.create_table(
        "rollup_marks",
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("level IN ('hour', 'day', 'week')", name=op.f("ck_rollup_marks_rollup_level")),
        sa.PrimaryKeyConstraint("level", "start", name=op.f("pk_rollup_marks")),
    )
    hour = _HOUR_OF_PROBE[op.get_bind().dialect.name]
    # Alembic has no construct for INSERT ... SELECT over an expression; this is plain SQL.
    op.execute(f"INSERT INTO rollup_marks (level, start) SELECT DISTINCT 'hour', {hour} FROM requests")  # noqa: S608


def downgrade() -> None:
    op.drop_table("rollup_marks")
    for name in reversed(_ROLLUP_TABLES):
        op.drop_table(name)
