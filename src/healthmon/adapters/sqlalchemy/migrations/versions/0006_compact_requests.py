"""Compact requests: no surrogate key, integer latency, coded error kinds; daily partitions on PostgreSQL.

Also the `jobs` table: the lease and last run of each periodic job (partitions, retention).

Every stored probe is carried over (and back, on downgrade). On PostgreSQL the new table is
range-partitioned by UTC day on started_at, with a partition for each day of the existing history
up to a week ahead and a default one; the periodic job keeps creating them ahead.

The values below are frozen copies of those in converters.py and partitions.py, as a migration
must keep doing what it did when later code changes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 00:00:00+00:00
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# converters.ERROR_KIND_CODES as of this revision.
ERROR_KIND_CODES = {
    "timeout": 1,
    "connection_refused": 2,
    "connection_reset": 3,
    "dns": 4,
    "tls": 5,
    "too_many_redirects": 6,
    "invalid_response": 7,
    "invalid_url": 8,
    "connection_error": 9,
    "blocked": 10,
}
# Partitions created ahead of today, so probes land in a day's partition before the job first runs.
DAYS_AHEAD = 7
OLD = "requests_before_0006"
NEW = "requests_before_downgrade"


def _is_postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _create_compact_table(postgres: bool) -> None:
    op.create_table(
        "requests",
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("webserver_id", sa.Integer(), nullable=False),
        sa.Column("latency_us", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.SmallInteger(), nullable=True),
        sa.Column("error_kind", sa.SmallInteger(), nullable=True),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.CheckConstraint("latency_us >= 0", name=op.f("ck_requests_latency_not_negative")),
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
        postgresql_partition_by="RANGE (started_at)" if postgres else None,
    )


def _start_of(day: date) -> str:
    return datetime.combine(day, time(), tzinfo=UTC).isoformat()


def _create_partitions(first: date, last: date) -> None:
    day = first
    while day <= last:
        op.execute(
            f'CREATE TABLE "requests_p{day:%Y%m%d}" PARTITION OF requests '
            f"FOR VALUES FROM ('{_start_of(day)}') TO ('{_start_of(day + timedelta(days=1))}')"
        )
        day += timedelta(days=1)
    op.execute("CREATE TABLE requests_default PARTITION OF requests DEFAULT")


def upgrade() -> None:
    postgres = _is_postgres()
    op.create_table(
        "jobs",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_jobs")),
    )
    op.rename_table("requests", OLD)
    _create_compact_table(postgres)
    if postgres:
        oldest = (
            op.get_bind()
            .execute(sa.select(sa.func.min(sa.table(OLD, sa.column("started_at")).c.started_at)))
            .scalar_one()
        )
        today = datetime.now(UTC).date()
        first = today if oldest is None else min(oldest.astimezone(UTC).date(), today)
        _create_partitions(first, today + timedelta(days=DAYS_AHEAD))
    else:
        # Before the copy: a duplicate (webserver_id, started_at), which the recorder never writes,
        # then stops the migration rather than losing a row.
        op.create_index(
            "ix_requests_webserver_id_started_at", "requests", ["webserver_id", "started_at"], unique=True
        )
    codes = " ".join(f"WHEN '{kind}' THEN {code}" for kind, code in ERROR_KIND_CODES.items())
    smaller = "least" if postgres else "min"
    # Names and codes are this module's constants: nothing from outside is formatted in.
    op.execute(
        "INSERT INTO requests (started_at, webserver_id, latency_us, status_code, error_kind, success, "  # noqa: S608
        "error_message) "
        f"SELECT started_at, webserver_id, CAST({smaller}(round(latency_ms * 1000), 2147483647) AS INTEGER), "
        f"status_code, CASE error_kind {codes} END, success, error_message FROM {OLD} ORDER BY started_at"
    )
    op.drop_table(OLD)
    if postgres:
        # Built once over the copied rows (denser than grown row by row), on every partition.
        op.create_index("ix_requests_webserver_id", "requests", ["webserver_id"])
        op.create_index("ix_requests_started_at", "requests", ["started_at"], postgresql_using="brin")


def downgrade() -> None:
    op.rename_table("requests", NEW)
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
    kinds = " ".join(f"WHEN {code} THEN '{kind}'" for kind, code in ERROR_KIND_CODES.items())
    # Ids are handed out again in start order, as the old table had them.
    op.execute(
        "INSERT INTO requests (webserver_id, started_at, latency_ms, status_code, error_kind, error_message, "  # noqa: S608
        "success) "
        f"SELECT webserver_id, started_at, latency_us / 1000.0, status_code, CASE error_kind {kinds} END, "
        f"error_message, success FROM {NEW} ORDER BY started_at, webserver_id"
    )
    op.drop_table(NEW)
    op.create_index(
        "ix_requests_webserver_id_started_at_id",
        "requests",
        ["webserver_id", sa.column("started_at").desc(), sa.column("id").desc()],
    )
    op.drop_table("jobs")
