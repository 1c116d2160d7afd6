"""The client commands: each talks to the REST API only, prints its answer, and returns an exit status.

Exit statuses: 0 done (or nothing to do), 2 invalid input (a bad file, or the API answered 400 or
422), 1 refused (any other answer of the API, or no answer at all). Errors are one line on stderr
(the problem's title and detail, then one line per field error), never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, TextIO

from healthmon.entrypoints.client.api import ApiClient, ApiProblem, ClientError, api_url
from healthmon.entrypoints.client.plan_view import PlanView
from healthmon.entrypoints.client.servers_file import InvalidServersFile, read_servers_file

EXIT_OK: Final = 0
EXIT_REFUSED: Final = 1
EXIT_INVALID: Final = 2
# Items per page when listing every webserver (the API's largest page).
_PAGE: Final = 1000

Command = Callable[[argparse.Namespace, ApiClient], int]


def _colour(stream: TextIO) -> bool:
    # https://no-color.org: any value of NO_COLOR turns colour off.
    return stream.isatty() and not os.environ.get("NO_COLOR")


def _error(message: str) -> None:
    print(f"healthmon: error: {message}", file=sys.stderr)


def run_client_command(command: Command, arguments: argparse.Namespace) -> int:
    """Run one client command against the API chosen by --api or HEALTHMON_API_URL."""
    client = ApiClient(api_url(arguments.api))
    try:
        return command(arguments, client)
    except InvalidServersFile as exc:
        _error(str(exc))
        return EXIT_INVALID
    except ApiProblem as exc:
        # With field errors the detail only repeats them: the title, then one line per field.
        _error(f"{exc.title} ({exc.status})" if exc.errors else str(exc))
        for field in exc.errors:
            print(f"  {field.field}: {field.message}", file=sys.stderr)
        return EXIT_INVALID if exc.invalid_input else EXIT_REFUSED
    except ClientError as exc:
        _error(str(exc))
        return EXIT_REFUSED


def apply(arguments: argparse.Namespace, client: ApiClient) -> int:
    """Sync the API's webservers with the file; print the plan as a diff; apply it unless --dry-run."""
    entries = read_servers_file(arguments.file)
    body = {"webservers": entries, "prune": arguments.prune, "dry_run": arguments.dry_run}
    # One request: the answer is the plan the server applied (or would apply), so what is shown is
    # exactly what happened, even if someone changed a server a moment before.
    plan = client.request("POST", "/webservers/sync", body=body)
    for line in PlanView(colour=_colour(sys.stdout)).lines(plan):
        print(line)
    return EXIT_OK


def export(arguments: argparse.Namespace, client: ApiClient) -> int:
    """Print every webserver as a file of entries (YAML, or JSON with --format json)."""
    content = client.raw("GET", "/webservers/export", query={"format": arguments.format})
    sys.stdout.write(content.decode())
    return EXIT_OK


def _all_webservers(client: ApiClient, health: str | None) -> list[dict[str, Any]]:
    query: dict[str, str | int] = {"limit": _PAGE}
    if health is not None:
        query["health"] = health
    items: list[dict[str, Any]] = []
    while True:
        page = client.request("GET", "/webservers", query=query)
        items += page["items"]
        if page["next_cursor"] is None:
            return items
        query["cursor"] = page["next_cursor"]


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    cells = [[str(value) for value in row] for row in rows]
    widths = [max([len(header), *(len(row[index]) for row in cells)]) for index, header in enumerate(headers)]
    return [
        "  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip()
        for row in [list(headers), *cells]
    ]


def list_webservers(arguments: argparse.Namespace, client: ApiClient) -> int:
    """Print a table of every webserver (or those of one health) in id order."""
    rows = [
        (
            item["id"],
            item.get("key") or "-",
            item["name"],
            item["health"],
            f"{item['interval_seconds']}s",
            item["url"],
        )
        for item in _all_webservers(client, arguments.health)
    ]
    for line in _table(("ID", "KEY", "NAME", "HEALTH", "EVERY", "URL"), rows):
        print(line)
    return EXIT_OK


_SHOWN_FIELDS: Final = (
    "id", "key", "name", "url", "health", "health_changed_at", "managed", "interval_seconds",
    "timeout_seconds", "healthy_threshold", "unhealthy_threshold", "follow_redirects", "verify_tls",
    "last_checked_at", "created_at", "updated_at",
)  # fmt: skip


def _request_line(request: Mapping[str, Any]) -> str:
    outcome = "ok" if request["success"] else "failed"
    status = request["status_code"] if request["status_code"] is not None else "-"
    error = request.get("error")
    reason = f"  {error['kind']}: {error['message']}" if error else ""
    return f"  {request['started_at']}  {outcome:<6}  {status!s:<4} {request['latency_ms']:8.1f} ms{reason}"


def show(arguments: argparse.Namespace, client: ApiClient) -> int:
    """Print one webserver's details and its last requests, newest first."""
    details = client.request("GET", f"/webservers/{arguments.id}")
    width = max(map(len, _SHOWN_FIELDS))
    for field in _SHOWN_FIELDS:
        if field in details:
            value = details[field]
            print(f"{field:<{width}}  {json.dumps(value) if not isinstance(value, str) else value}")
    print("last requests:" if details["last_requests"] else "last requests: none yet")
    for request in details["last_requests"]:
        print(_request_line(request))
    return EXIT_OK


def add(arguments: argparse.Namespace, client: ApiClient) -> int:
    """Register a webserver by hand (so never pruned by a sync); print its id."""
    body: dict[str, object] = {"name": arguments.name, "url": arguments.url}
    if arguments.interval is not None:
        body["interval_seconds"] = arguments.interval
    created = client.request("POST", "/webservers", body=body)
    print(f"Added webserver {created['id']} {created['name']!r}: {created['url']}")
    return EXIT_OK


def remove(arguments: argparse.Namespace, client: ApiClient) -> int:
    """Stop watching a webserver and delete its history."""
    client.request("DELETE", f"/webservers/{arguments.id}")
    print(f"Removed webserver {arguments.id}.")
    return EXIT_OK


def add_client_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register apply, export, list, show, add and rm."""
    api = argparse.ArgumentParser(add_help=False)
    api.add_argument(
        "--api",
        metavar="URL",
        help="the healthmon API (HEALTHMON_API_URL, default http://127.0.0.1:8000); "
        "the key, if one is needed, comes from HEALTHMON_API_KEY",
    )

    def command(name: str, run: Command, **options: Any) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, parents=[api], **options)
        parser.set_defaults(run=lambda arguments: run_client_command(run, arguments))
        return parser

    apply_parser = command(
        "apply",
        apply,
        help="sync the watched servers with a file (YAML or JSON)",
        description="Match each entry of the file to a server by key (or URL), print the plan as a diff "
        "and apply it in one transaction, all or nothing. Exit status 0 when applied or nothing to do, "
        "2 on invalid input, 1 when the server refused.",
    )
    apply_parser.add_argument("-f", "--file", required=True, help="the file of servers ('-': standard input)")
    apply_parser.add_argument("--dry-run", action="store_true", help="print the plan and change nothing")
    apply_parser.add_argument(
        "--prune", action="store_true", help="delete managed servers the file no longer lists"
    )

    export_parser = command(
        "export",
        export,
        help="print every server as a file of entries",
        description="Print every webserver as a file that `healthmon apply` takes back unchanged.",
    )
    export_parser.add_argument("--format", choices=("yaml", "json"), default="yaml", help="default yaml")

    list_parser = command("list", list_webservers, help="list the servers as a table")
    list_parser.add_argument("--health", choices=("healthy", "unhealthy", "unknown"), help="only this health")

    show_parser = command("show", show, help="one server's details and its last requests")
    show_parser.add_argument("id", type=int, help="the webserver's id")

    add_parser = command("add", add, help="watch a server (made by hand: never pruned by apply)")
    add_parser.add_argument("name", help="what to call it")
    add_parser.add_argument("url", help="the http or https URL to probe")
    add_parser.add_argument("--interval", type=int, metavar="N", help="seconds between probes (1..60)")

    rm_parser = command("rm", remove, help="stop watching a server and delete its history")
    rm_parser.add_argument("id", type=int, help="the webserver's id")
