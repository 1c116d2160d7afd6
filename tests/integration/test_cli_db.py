"""`healthmon db upgrade` migrates the database at HEALTHMON_DATABASE_URL, or says in one line why not."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from healthmon.adapters.sqlalchemy.engine import create_database_engine
from healthmon.adapters.sqlalchemy.migrations import alembic_config
from healthmon.entrypoints.cli import main


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port that refuses connections: bound, so no one else takes it, but not listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as reserved:
        reserved.bind(("127.0.0.1", 0))
        yield reserved.getsockname()[1]


def test_db_upgrade_creates_the_schema_and_can_run_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'healthmon.db'}"
    monkeypatch.setenv("HEALTHMON_DATABASE_URL", url)

    assert main(["db", "upgrade"]) == 0
    assert main(["db", "upgrade"]) == 0

    assert capsys.readouterr().out == f"The database {url} has the newest schema.\n" * 2
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    engine = create_database_engine(url)
    try:
        with engine.connect() as connection:
            assert {"webservers", "requests", "workers"} <= set(inspect(connection).get_table_names())
            assert MigrationContext.configure(connection).get_current_revision() == head
    finally:
        engine.dispose()


def test_db_upgrade_of_an_unreachable_database_prints_one_line_and_fails(closed_port: int) -> None:
    url = f"postgresql+psycopg2://healthmon:s3cret@127.0.0.1:{closed_port}/healthmon"
    environment = {**os.environ, "HEALTHMON_DATABASE_URL": url}

    finished = subprocess.run(
        [sys.executable, "-m", "healthmon.entrypoints.cli", "db", "upgrade"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert finished.returncode == 1
    assert finished.stdout == ""
    assert finished.stderr.count("\n") == 1
    assert finished.stderr.startswith(
        "healthmon: error: The database is unavailable: "
        f"postgresql+psycopg2://healthmon:***@127.0.0.1:{closed_port}/healthmon: "
    )
    assert "Connection refused" in finished.stderr
    assert "s3cret" not in finished.stderr


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://x", "'ftp' is not a supported database"),
        (
            "mysql://healthmon:s3cret@db/healthmon",
            "'mysql' is not supported; use sqlite or postgresql+psycopg2",
        ),
        ("no scheme at all", "it is not a database URL"),
    ],
)
def test_db_upgrade_with_an_unusable_url_says_why_in_one_line(
    url: str, reason: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HEALTHMON_DATABASE_URL", url)

    assert main(["db", "upgrade"]) == 1

    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert error.startswith("healthmon: error: Cannot use the database URL ")
    assert reason in error
    assert "s3cret" not in error


def test_a_missing_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["db"])
    assert raised.value.code == 2
    assert "usage: healthmon db" in capsys.readouterr().err
