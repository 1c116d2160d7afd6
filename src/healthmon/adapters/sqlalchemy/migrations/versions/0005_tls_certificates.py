"""TLS certificates: each webserver's certificate expiry and the warnings sent, and certificate events.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 13:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_TYPES = "type IN ('webserver.health_changed', 'webhook.test')"
OLD_CHANGE = "(type = 'webhook.test') = (from_state IS NULL AND to_state IS NULL)"
NEW_TYPES = "type IN ('webserver.health_changed', 'webserver.certificate_expiring', 'webhook.test')"
NEW_CHANGE = "(type = 'webserver.health_changed') = (from_state IS NOT NULL AND to_state IS NOT NULL)"
CERTIFICATE = (
    "(type = 'webserver.certificate_expiring') = "
    "(certificate_expires_at IS NOT NULL AND certificate_threshold_days IS NOT NULL)"
)


def upgrade() -> None:
    with op.batch_alter_table("webservers") as batch:
        batch.add_column(sa.Column("tls_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("tls_warned_days", sa.Integer(), nullable=True))
    # Changing CHECK constraints rebuilds the table on SQLite; the rebuilt one must keep AUTOINCREMENT.
    with op.batch_alter_table("events", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.add_column(sa.Column("certificate_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("certificate_threshold_days", sa.Integer(), nullable=True))
        batch.drop_constraint(op.f("ck_events_event_type"), type_="check")
        batch.drop_constraint(op.f("ck_events_change_of_health"), type_="check")
        batch.create_check_constraint(op.f("ck_events_event_type"), NEW_TYPES)
        batch.create_check_constraint(op.f("ck_events_change_of_health"), NEW_CHANGE)
        batch.create_check_constraint(op.f("ck_events_certificate_expiry"), CERTIFICATE)


def downgrade() -> None:
    # Certificate events cannot be told apart by the old constraints: they go first.
    op.execute(sa.text("DELETE FROM events WHERE type = 'webserver.certificate_expiring'"))
    with op.batch_alter_table("events", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_constraint(op.f("ck_events_certificate_expiry"), type_="check")
        batch.drop_constraint(op.f("ck_events_change_of_health"), type_="check")
        batch.drop_constraint(op.f("ck_events_event_type"), type_="check")
        batch.drop_column("certificate_threshold_days")
        batch.drop_column("certificate_expires_at")
        batch.create_check_constraint(op.f("ck_events_event_type"), OLD_TYPES)
        batch.create_check_constraint(op.f("ck_events_change_of_health"), OLD_CHANGE)
    with op.batch_alter_table("webservers", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("tls_warned_days")
        batch.drop_column("tls_expires_at")
