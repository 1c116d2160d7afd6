"""The daily partitions of `requests` on PostgreSQL: their names and bounds, listed, created and dropped.

Each partition holds the probes that started on one UTC day, [00:00, next 00:00), and is named
requests_pYYYYMMDD; requests_default catches any probe outside them (a clock far off, or days
nobody created yet), so an insert never fails for want of a partition. Migration 0006 writes
the same names and bounds.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

from sqlalchemy import text
from sqlalchemy.orm import Session

PARENT: Final = "requests"
DEFAULT_PARTITION: Final = "requests_default"
PARTITION_NAME: Final = re.compile(r"requests_(p(?P<day>[0-9]{8})|default)")
ONE_DAY: Final = timedelta(days=1)


def partition_name(day: date) -> str:
    """The name of the partition of this UTC day."""
    return f"{PARENT}_p{day:%Y%m%d}"


def start_of(day: date) -> datetime:
    """The first instant of this UTC day: the partition's lower bound (inclusive)."""
    return datetime.combine(day, time(), tzinfo=UTC)


def partition_days(session: Session) -> list[date]:
    """The days that have a partition, oldest first (the default partition is not a day)."""
    names = session.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = CAST(:parent AS regclass)"
        ),
        {"parent": PARENT},
    ).scalars()
    days = []
    for name in names:
        match = PARTITION_NAME.fullmatch(name)
        if match is not None and match["day"] is not None:
            days.append(date.fromisoformat(match["day"]))
    return sorted(days)


def create_partition(session: Session, day: date) -> None:
    """Create the partition of this day (it must not exist yet), moving in what the default one holds of it.

    The default partition holds a day's probes only when nobody made its partition in time (the
    periodic job makes them a week ahead); PostgreSQL refuses a new partition whose rows the
    default one holds, so those rows move into it first, in this transaction.
    """
    # Names and bounds are formatted from a date, never from input: nothing here can be injected.
    name, lower, upper = partition_name(day), start_of(day).isoformat(), start_of(day + ONE_DAY).isoformat()
    bounds = f"FOR VALUES FROM ('{lower}') TO ('{upper}')"
    in_default = f"FROM {DEFAULT_PARTITION} WHERE started_at >= '{lower}' AND started_at < '{upper}'"
    strays = session.execute(text(f"SELECT EXISTS (SELECT 1 {in_default})")).scalar_one()
    if not strays:
        session.execute(text(f'CREATE TABLE "{name}" PARTITION OF {PARENT} {bounds}'))
        return
    session.execute(text(f'CREATE TABLE "{name}" (LIKE {PARENT} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)'))
    session.execute(text(f'INSERT INTO "{name}" SELECT * {in_default} ORDER BY started_at'))
    session.execute(text(f"DELETE {in_default}"))
    # Attaching builds the parent's indexes and foreign key on it.
    session.execute(text(f'ALTER TABLE {PARENT} ATTACH PARTITION "{name}" {bounds}'))


def drop_partition(session: Session, day: date) -> int:
    """Drop the partition of this day; returns its row count as last estimated by PostgreSQL."""
    name = partition_name(day)
    estimate = session.execute(
        text("SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = CAST(:name AS regclass)"),
        {"name": name},
    ).scalar_one()
    session.execute(text(f'DROP TABLE "{name}"'))
    return int(estimate)


__all__ = [
    "DEFAULT_PARTITION",
    "ONE_DAY",
    "PARENT",
    "PARTITION_NAME",
    "create_partition",
    "drop_partition",
    "partition_days",
    "partition_name",
    "start_of",
]
