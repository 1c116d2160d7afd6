"""Health events, alert channels and their deliveries.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 00:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Only pending deliveries are in the queue's indexes (see tables.py).
PENDING = "status = 'pending'"


def upgrade() -> None:
    op.create_table(
        "channels",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("secret", sa.String(length=128), nullable=True),
        sa.Column("webserver_ids", sa.JSON(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('webhook', 'apprise')", name=op.f("ck_channels_channel_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channels")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "events",
        sa.Column(
            "sequence",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("webserver_id", sa.Integer(), nullable=True),
        sa.Column("webserver_name", sa.String(length=200), nullable=True),
        sa.Column("webserver_url", sa.String(length=2048), nullable=True),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=True),
        sa.Column("probe_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("probe_latency_ms", sa.Float(), nullable=True),
        sa.Column("probe_status_code", sa.Integer(), nullable=True),
        sa.Column("probe_error_kind", sa.String(length=32), nullable=True),
        sa.Column("probe_error_message", sa.Text(), nullable=True),
        sa.Column("probe_success", sa.Boolean(), nullable=True),
        sa.CheckConstraint(
            "(type = 'webhook.test') = (from_state IS NULL AND to_state IS NULL)",
            name=op.f("ck_events_change_of_health"),
        ),
        sa.CheckConstraint(
            "type IN ('webserver.health_changed', 'webhook.test')", name=op.f("ck_events_event_type")
        ),
        sa.PrimaryKeyConstraint("sequence", name=op.f("pk_events")),
        sa.UniqueConstraint("id", name=op.f("uq_events_id")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_events_webserver_id_sequence", "events", ["webserver_id", "sequence"], unique=False)
    op.create_table(
        "deliveries",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("event_sequence", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("webserver_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claim_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed')", name=op.f("ck_deliveries_delivery_status")
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_deliveries_attempts_not_negative")),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channels.id"],
            name=op.f("fk_deliveries_channel_id_channels"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["event_sequence"],
            ["events.sequence"],
            name=op.f("fk_deliveries_event_sequence_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint(
            "event_sequence", "channel_id", name=op.f("uq_deliveries_event_sequence_channel_id")
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_deliveries_channel_id_id", "deliveries", ["channel_id", "id"], unique=False)
    op.create_index(
        "ix_deliveries_channel_id_status_id", "deliveries", ["channel_id", "status", "id"], unique=False
    )
    op.create_index(
        "ix_deliveries_pending_channel_id_webserver_id_event_sequence",
        "deliveries",
        ["channel_id", "webserver_id", "event_sequence"],
        unique=False,
        postgresql_where=sa.text(PENDING),
        sqlite_where=sa.text(PENDING),
    )
    op.create_index(
        "ix_deliveries_pending_event_sequence",
        "deliveries",
        ["event_sequence"],
        unique=False,
        postgresql_where=sa.text(PENDING),
        sqlite_where=sa.text(PENDING),
    )


def downgrade() -> None:
    # Their indexes go with the tables.
    op.drop_table("deliveries")
    op.drop_table("events")
    op.drop_table("channels")
