"""Webservers keep half of each page free on PostgreSQL (fillfactor 50): a health save is a HOT update.

Recording a batch rewrites the row of every server it holds. With full pages each new row version
goes to another page, and every one of the table's five indexes gets a new entry; with room on its
own page the new version stays there and no index is touched (a heap-only tuple). A batch of 1,000
servers with consecutive ids rewrites every row of about forty pages in one transaction, so a page
needs room for a new version of each of its rows: half of it.

The setting applies to pages written from now on; existing rows move to such pages as they are
next saved, so there is no rewrite (and no lock) here. SQLite has no such setting: nothing to do.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 14:15:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE webservers SET (fillfactor = 50)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE webservers RESET (fillfactor)")
