"""The `healthmon` command: `serve`, `worker` and `db upgrade`, one argparse subcommand each, and the
client commands (`apply`, `export`, `list`, `show`, `add`, `rm`; see client/commands.py), which talk
to a running service's REST API only.

Every known failure (a bad setting, a bad database URL, an unreachable database) ends with one
line on stderr and exit status 1, never a traceback. Settings come from HEALTHMON_* variables;
flags override them.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from healthmon import __version__
from healthmon.adapters.sqlalchemy.engine import masked_url
from healthmon.container import Container, build_container
from healthmon.domain.errors import HealthmonError
from healthmon.entrypoints.client.commands import add_client_commands
from healthmon.entrypoints.event_loop import run
from healthmon.entrypoints.garbage_collector import settle_collector
from healthmon.entrypoints.http.cross_site import is_loopback
from healthmon.entrypoints.logs import configure_logging
from healthmon.entrypoints.serve import serve
from healthmon.entrypoints.worker import serve_worker
from healthmon.settings import DEFAULT_DATABASE_URL, Settings

logger = logging.getLogger(__name__)

EXIT_FAILURE = 1


class RefusedToStart(Exception):
    """A start-up check failed; the message says what to do."""


def _settings(arguments: argparse.Namespace) -> Settings:
    return Settings.from_env(
        host=getattr(arguments, "host", None),
        port=getattr(arguments, "port", None),
        log_format=getattr(arguments, "log_format", None),
    )


def _start(arguments: argparse.Namespace) -> tuple[Settings, Container]:
    settings = _settings(arguments)
    configure_logging(settings.log_format, settings.log_level)
    container = build_container(settings)
    container.prepare_database()
    settle_collector()
    return settings, container


def _serve(arguments: argparse.Namespace) -> int:
    settings = _settings(arguments)
    public = not is_loopback(settings.host)
    if public and not settings.api_keys and not arguments.insecure:
        raise RefusedToStart(
            f"refusing to serve on {settings.host} without an API key: anyone who can reach it could "
            "change what is monitored. Set HEALTHMON_API_KEYS=<key>[,<key>...] (or @<file of keys>), "
            "or pass --insecure if the network is trusted."
        )
    settings, container = _start(arguments)
    if public and not (settings.api_keys or settings.readonly_api_keys or settings.allowed_hosts):
        logger.warning(
            "serving on %s without API keys: only requests for loopback names are answered; list the "
            "names clients use in HEALTHMON_ALLOWED_HOSTS",
            settings.host,
        )
    base = f"http://{settings.host if ':' not in settings.host else f'[{settings.host}]'}:{settings.port}"
    logger.info(
        "healthmon %s: API on %s, docs on %s/schema, database %s, worker %s, event loop %s",
        __version__,
        base,
        base,
        masked_url(settings.database_url),
        "off" if arguments.no_worker else "on",
        settings.event_loop,
    )
    main = serve(container, host=settings.host, port=settings.port, with_worker=not arguments.no_worker)
    run(main, settings.event_loop)
    return 0


def _worker(arguments: argparse.Namespace) -> int:
    settings, container = _start(arguments)
    logger.info(
        "healthmon %s: worker on database %s, event loop %s",
        __version__,
        masked_url(settings.database_url),
        settings.event_loop,
    )
    run(serve_worker(container), settings.event_loop)
    return 0


def _db_upgrade(arguments: argparse.Namespace) -> int:
    settings = _settings(arguments)
    container = build_container(settings)
    container.upgrade_database()
    print(f"The database {masked_url(settings.database_url)} has the newest schema.")
    return 0


def _add_log_format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        help="log lines as text (default) or one JSON object per line (HEALTHMON_LOG_FORMAT)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="healthmon",
        description="Watch the health of web servers. Settings come from HEALTHMON_* variables; "
        f"the database is HEALTHMON_DATABASE_URL (default {DEFAULT_DATABASE_URL}).",
    )
    parser.add_argument("--version", action="version", version=f"healthmon {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    serve_parser = commands.add_parser(
        "serve",
        help="run the REST API and the worker in one process",
        description="Run the REST API and, unless --no-worker is given, the worker that probes every "
        "webserver. On SQLite (the default) the database is created and migrated on start.",
    )
    serve_parser.add_argument("--host", help="address to bind (HEALTHMON_HOST, default 127.0.0.1)")
    serve_parser.add_argument("--port", type=int, help="port to bind (HEALTHMON_PORT, default 8000)")
    serve_parser.add_argument("--no-worker", action="store_true", help="serve the API only")
    serve_parser.add_argument(
        "--insecure",
        action="store_true",
        help="allow binding to a non-loopback address without an API key",
    )
    _add_log_format(serve_parser)
    serve_parser.set_defaults(run=_serve)

    worker_parser = commands.add_parser(
        "worker",
        help="run the worker alone (beside a separate API process)",
        description="Probe every webserver on its schedule and store every result, until SIGTERM or "
        "SIGINT; then finish in-flight probes (HEALTHMON_SHUTDOWN_GRACE_SECONDS) and flush.",
    )
    _add_log_format(worker_parser)
    worker_parser.set_defaults(run=_worker)

    db = commands.add_parser("db", help="manage the database", description="Manage the database.")
    db_commands = db.add_subparsers(title="commands", metavar="COMMAND", required=True)
    upgrade = db_commands.add_parser(
        "upgrade",
        help="migrate the database to the newest schema",
        description="Migrate the database named by HEALTHMON_DATABASE_URL "
        f"(default {DEFAULT_DATABASE_URL}) to the newest schema; safe to run again.",
    )
    upgrade.set_defaults(run=_db_upgrade)
    add_client_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit status (argparse itself exits with 2 on a usage error)."""
    arguments = build_parser().parse_args(argv)
    try:
        status: int = arguments.run(arguments)
    except (HealthmonError, RefusedToStart) as exc:
        print(f"healthmon: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    return status


if __name__ == "__main__":
    sys.exit(main())
