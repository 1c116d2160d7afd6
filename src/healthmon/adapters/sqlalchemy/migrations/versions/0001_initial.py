"""Initial schema: webservers and their requests (probe results).

Revision ID: 0001
Revises:
Create Date: 2026-01-01 00:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webservers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("interval_seconds", sa.Integer(), nullable=False),
        sa.Column("timeout_seconds", sa.Integer(), nullable=False),
        sa.Column("healthy_threshold", sa.Integer(), nullable=False),
        sa.Column("unhealthy_threshold", sa.Integer(), nullable=False),
        sa.Column("follow_redirects", sa.Boolean(), nullable=False),
        sa.Column("verify_tls", sa.Boolean(), nullable=False),
        sa.Column("health", sa.String(length=16), server_default="unknown", nullable=False),
        sa.Column("consecutive_successes", sa.Integer(), server_default="0", nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("health_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settings_version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(
            "interval_seconds BETWEEN 1 AND 60", name=op.f("ck_webservers_interval_seconds_range")
        ),
        sa.CheckConstraint(
            "timeout_seconds BETWEEN 1 AND 60", name=op.f("ck_webservers_timeout_seconds_range")
        ),
        sa.CheckConstraint(
            "healthy_threshold BETWEEN 1 AND 100", name=op.f("ck_webservers_healthy_threshold_range")
        ),
        sa.CheckConstraint(
            "unhealthy_threshold BETWEEN 1 AND 100", name=op.f("ck_webservers_unhealthy_threshold_range")
        ),
        sa.CheckConstraint(
            "health IN ('unknown', 'healthy', 'unhealthy')", name=op.f("ck_webservers_health_state")
        ),
        sa.CheckConstraint(
            "consecutive_successes >= 0 AND consecutive_failures >= 0",
            name=op.f("ck_webservers_streaks_not_negative"),
        ),
        sa.CheckConstraint(
            "consecutive_successes = 0 OR consecutive_failures = 0",
            name=op.f("ck_webservers_one_streak_at_a_time"),
        ),
        sa.CheckConstraint("settings_version >= 1", name=op.f("ck_webservers_settings_version_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webservers")),
        sa.UniqueConstraint("url", name=op.f("uq_webservers_url")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_webservers_health_id", "webservers", ["health", "id"])
    op.create_table(
        "requests",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("webserver_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error_kind", sa.String(length=32), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.CheckConstraint("latency_ms >= 0", name=op.f("ck_requests_latency_not_negative")),
        sa.CheckConstraint(
            "(status_code IS NULL) <> (error_kind IS NULL)",
            name=op.f("ck_requests_status_code_or_error_kind"),
        ),
        sa.CheckConstraint(
            "NOT success OR (status_code >= 200 AND status_code <= 299)",
            name=op.f("ck_requests_success_is_2xx"),
        ),
        sa.ForeignKeyConstraint(
            ["webserver_id"],
            ["webservers.id"],
            name=op.f("fk_requests_webserver_id_webservers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_requests")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_requests_webserver_id_started_at_id",
        "requests",
        ["webserver_id", sa.column("started_at").desc(), sa.column("id").desc()],
    )


def downgrade() -> None:
    op.drop_index("ix_requests_webserver_id_started_at_id", table_name="requests")
    op.drop_table("requests")
    op.drop_index("ix_webservers_health_id", table_name="webservers")
    op.drop_table("webservers")
