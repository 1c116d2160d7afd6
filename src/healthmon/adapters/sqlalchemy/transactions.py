"""How a repository begins its part of the unit of work's transaction: as a writer, or locking rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session

from healthmon.adapters.sqlalchemy.engine import WRITE_INTENT


def start_writing(session: Session) -> None:
    """Begin the transaction, if it has not begun, as one that will write."""
    # A transaction that has not run anything yet starts as a writer: BEGIN IMMEDIATE on SQLite,
    # so it queues for the write lock now rather than failing with "database is locked" half-way.
    # Once it has started as a reader it stays one (every use case locks or writes first).
    if not session.in_transaction():
        session.connection(execution_options={WRITE_INTENT: True})


def locked(session: Session, statement: Select[Any]) -> Select[Any]:
    """The statement, locking the rows it reads until the transaction ends."""
    start_writing(session)
    # FOR NO KEY UPDATE on PostgreSQL (SQLite has none, and BEGIN IMMEDIATE already made this the
    # only writer): the rows are changed but never their keys, so inserts that only reference them
    # (a foreign key check takes FOR KEY SHARE, as the rollup job's inserts do) need not wait, and
    # cannot close a cycle with a writer waiting for the job.
    return statement.with_for_update(key_share=True)


__all__ = ["locked", "start_writing"]
