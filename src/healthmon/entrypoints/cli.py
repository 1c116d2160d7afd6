"""The `healthmon` command: one argparse subcommand per job (today: `healthmon db upgrade`).

Every known failure (a bad database URL, an unreachable database) ends with one line on stderr
and exit status 1, never a traceback. Add a command with one `_add_<name>_command` function
that registers its parser and sets `run` to a function taking the parsed arguments.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from healthmon.adapters.sqlalchemy.engine import (
    DEFAULT_DATABASE_URL,
    check_database,
    create_database_engine,
    masked_url,
)
from healthmon.adapters.sqlalchemy.migrations import upgrade_database
from healthmon.domain.errors import HealthmonError

DATABASE_URL_VARIABLE = "HEALTHMON_DATABASE_URL"
EXIT_FAILURE = 1


def _database_url() -> str:
    return os.environ.get(DATABASE_URL_VARIABLE, DEFAULT_DATABASE_URL)


def _db_upgrade(_arguments: argparse.Namespace) -> int:
    url = _database_url()
    engine = create_database_engine(url, pool_size=1)
    try:
        # Fail with the URL and the cause before Alembic starts, so the message names both.
        check_database(engine)
    finally:
        engine.dispose()
    upgrade_database(url)
    sys.stdout.write(f"The database {masked_url(url)} has the newest schema.\n")
    return 0


def _add_db_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = commands.add_parser("db", help="manage the database", description="Manage the database.")
    db_commands = db.add_subparsers(title="commands", metavar="COMMAND", required=True)
    upgrade = db_commands.add_parser(
        "upgrade",
        help="migrate the database to the newest schema",
        description=f"Migrate the database named by {DATABASE_URL_VARIABLE} "
        f"(default {DEFAULT_DATABASE_URL}) to the newest schema; safe to run again.",
    )
    upgrade.set_defaults(run=_db_upgrade)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(prog="healthmon", description="Watch the health of web servers.")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    _add_db_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit status (argparse itself exits with 2 on a usage error)."""
    arguments = build_parser().parse_args(argv)
    try:
        status: int = arguments.run(arguments)
    except (HealthmonError, FileNotFoundError) as exc:
        sys.stderr.write(f"healthmon: error: {exc}\n")
        return EXIT_FAILURE
    return status


if __name__ == "__main__":
    sys.exit(main())
