"""The client commands as subprocesses against a live `healthmon serve`: apply, export, list, show, rm."""

from __future__ import annotations

import re
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.integration.service import Service, run_healthmon, service_environment, service_runner

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture
def service(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Service]:
    """`healthmon serve --no-worker` on SQLite (no probes: the tests read settings, not health)."""
    with service_runner(request, tmp_path) as runner:
        yield runner.serve(f"sqlite:///{tmp_path / 'healthmon.db'}", "--no-worker")


def client(
    service: Service, *arguments: str, cwd: Path, api_key: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a client command against the service, its address from HEALTHMON_API_URL."""
    environment = service_environment(api_url=service.base_url)
    if api_key is not None:
        environment["HEALTHMON_API_KEY"] = api_key
    return run_healthmon(*arguments, environment=environment, cwd=cwd)


def readme_example() -> str:
    example: str
    (example,) = re.findall(r"```yaml\n(# servers\.yaml\n.*?)```", README.read_text(), flags=re.DOTALL)
    return example


def test_the_readme_example_applies_then_is_a_no_op_and_exports_back(
    service: Service, tmp_path: Path
) -> None:
    (tmp_path / "servers.yaml").write_text(readme_example())

    planned = client(service, "apply", "-f", "servers.yaml", "--dry-run", cwd=tmp_path)
    applied = client(service, "apply", "-f", "servers.yaml", cwd=tmp_path)
    again = client(service, "apply", "-f", "servers.yaml", cwd=tmp_path)

    assert planned.returncode == 0, planned.stderr
    assert "+ create api" in planned.stdout
    assert (
        planned.stdout.splitlines()[-1]
        == "Dry run, nothing changed: 3 to create, 0 to update, 0 to delete, 0 unchanged."
    )
    assert "\033[" not in planned.stdout  # not a terminal: no colour
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.splitlines()[-1] == "Applied: 3 created, 0 updated, 0 deleted, 0 unchanged."
    assert (again.returncode, again.stdout) == (0, "Nothing to do: 3 unchanged.\n")

    exported = client(service, "export", cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert yaml.safe_load(exported.stdout)["webservers"] == [
        {"key": "api", "name": "Public API", "url": "https://api.example.com/health", "interval_seconds": 30},
        {"key": "docs", "name": "Documentation", "url": "https://docs.example.com/", "verify_tls": False},
        {"name": "Status page", "url": "https://status.example.com/"},
    ]


def test_apply_prints_updates_old_to_new_and_prunes_managed_servers_only(
    service: Service, tmp_path: Path
) -> None:
    (tmp_path / "servers.yaml").write_text(readme_example())
    client(service, "apply", "-f", "servers.yaml", cwd=tmp_path)
    added = client(service, "add", "by hand", "https://hand.example.com/", "--interval", "10", cwd=tmp_path)
    (tmp_path / "fewer.json").write_text(
        '{"webservers": [{"key": "api", "name": "API v2", "url": "https://api.example.com/v2"}]}'
    )

    pruned = client(service, "apply", "-f", "fewer.json", "--prune", cwd=tmp_path)

    assert added.returncode == 0, added.stderr
    assert added.stdout == "Added webserver 4 'by hand': https://hand.example.com/\n"
    assert pruned.returncode == 0, pruned.stderr
    assert pruned.stdout.splitlines() == [
        "~ update api (id 1)",
        '    name: "Public API" -> "API v2"',
        '    url: "https://api.example.com/health" -> "https://api.example.com/v2"',
        "    interval_seconds: 30 -> 60",
        "- delete docs (id 2)",
        "- delete https://status.example.com/ (id 3)",
        "  unmanaged https://hand.example.com/ (id 4): made by hand, never pruned",
        "Applied: 0 created, 1 updated, 2 deleted, 0 unchanged.",
    ]
    listed = client(service, "list", cwd=tmp_path)
    assert listed.stdout.splitlines() == [
        "ID  KEY  NAME     HEALTH   EVERY  URL",
        "1   api  API v2   unknown  60s    https://api.example.com/v2",
        "4   -    by hand  unknown  10s    https://hand.example.com/",
    ]


def test_invalid_input_exits_2_with_every_bad_entry_and_applies_nothing(
    service: Service, tmp_path: Path
) -> None:
    (tmp_path / "bad.yaml").write_text(
        "webservers:\n"
        "  - {key: ok, name: fine, url: 'https://ok.example.com/'}\n"
        "  - {key: Bad, name: x, url: 'https://x.example.com/'}\n"
        "  - {key: y, name: y, url: 'ftp://y.example.com/', interval_seconds: 0}\n"
    )
    (tmp_path / "broken.yaml").write_text("webservers: [\n")

    bad = client(service, "apply", "-f", "bad.yaml", cwd=tmp_path)
    broken = client(service, "apply", "-f", "broken.yaml", cwd=tmp_path)
    missing = client(service, "apply", "-f", "missing.yaml", cwd=tmp_path)

    assert bad.returncode == 2
    assert bad.stderr.splitlines()[0] == "healthmon: error: A field has an invalid value (422)"
    assert [line.split(":")[0].strip() for line in bad.stderr.splitlines()[1:]] == [
        "webservers[1].key",
        "webservers[2].url",
        "webservers[2].interval_seconds",
    ]
    assert (
        broken.returncode,
        broken.stderr.startswith("healthmon: error: broken.yaml is not valid YAML"),
    ) == (2, True)
    assert missing.returncode == 2
    assert "cannot read missing.yaml" in missing.stderr
    assert "Traceback" not in bad.stderr + broken.stderr + missing.stderr
    assert service.get("/webservers")["items"] == []


def test_a_refusal_of_the_server_exits_1_with_the_problem_title_and_detail(
    service: Service, tmp_path: Path
) -> None:
    service.register("hand", "https://hand.example.com/")
    (tmp_path / "a.yaml").write_text("webservers:\n  - {key: a, name: a, url: 'https://a.example.com/'}\n")
    # Key b wants the URL of server a, which the file no longer lists and (without --prune) keeps.
    (tmp_path / "taken.yaml").write_text(
        "webservers:\n  - {key: b, name: b, url: 'https://a.example.com/'}\n"
    )
    assert client(service, "apply", "-f", "a.yaml", cwd=tmp_path).returncode == 0

    conflict = client(service, "apply", "-f", "taken.yaml", cwd=tmp_path)
    unknown = client(service, "show", "99", cwd=tmp_path)
    removed = client(service, "rm", "1", cwd=tmp_path)

    assert conflict.returncode == 1
    assert conflict.stderr.startswith(
        "healthmon: error: Conflicts with the current state (409): Entry 0 wants"
    )
    assert (unknown.returncode, unknown.stderr) == (
        1,
        "healthmon: error: Webserver not found (404): Webserver 99 does not exist.\n",
    )
    assert (removed.returncode, removed.stdout) == (0, "Removed webserver 1.\n")


def test_show_prints_the_details_and_says_when_there_are_no_requests_yet(
    service: Service, tmp_path: Path
) -> None:
    created = service.register("one", "https://one.example.com/")

    shown = client(service, "show", str(created["id"]), cwd=tmp_path)

    assert shown.returncode == 0, shown.stderr
    assert "name                 one" in shown.stdout.splitlines()
    assert shown.stdout.splitlines()[-1] == "last requests: none yet"


def test_a_refused_connection_is_one_line_and_exit_1(tmp_path: Path) -> None:
    with socket.socket() as reserved:  # bound, not listening: connections are refused
        reserved.bind(("127.0.0.1", 0))
        port = reserved.getsockname()[1]
        finished = run_healthmon(
            "list", "--api", f"http://127.0.0.1:{port}", environment=service_environment(), cwd=tmp_path
        )

    assert finished.returncode == 1
    assert finished.stderr == (
        f"healthmon: error: cannot reach the API at http://127.0.0.1:{port}: "
        "connection refused (is healthmon serve running there?)\n"
    )


def test_the_api_key_comes_from_the_environment(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    with service_runner(request, tmp_path) as runner:
        service = runner.serve(f"sqlite:///{tmp_path / 'healthmon.db'}", "--no-worker", api_keys="k-123")

        without = client(service, "list", cwd=tmp_path)
        with_key = client(service, "list", cwd=tmp_path, api_key="k-123")

    assert without.returncode == 1
    assert without.stderr.startswith("healthmon: error: API key required (401)")
    assert (with_key.returncode, with_key.stdout) == (0, "ID  KEY  NAME  HEALTH  EVERY  URL\n")
