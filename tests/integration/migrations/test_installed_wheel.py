"""healthmon built as a wheel and installed in a fresh virtualenv migrates an empty database on its own.

The wheel is built once per session from a copy of this checkout (`pip wheel`, which also collects
its dependencies' wheels at the versions of constraints.txt); the virtualenv gets them from that
wheelhouse alone (`--no-index`), so it holds nothing of the source tree or of the test's venv.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import URL

from healthmon import __version__
from healthmon.adapters.sqlalchemy.engine import create_database_engine
from healthmon.adapters.sqlalchemy.migrations import MIGRATIONS_DIRECTORY, alembic_config
from tests.integration.conftest import scratch_database

PROJECT_ROOT = Path(__file__).resolve().parents[3]
# What a build reads: the project's metadata, its readme and the package sources.
BUILD_INPUTS = ("pyproject.toml", "README.md", "src")
COMMAND_TIMEOUT_SECONDS = 240
TABLES = {"webservers", "requests", "workers"}

# Building and installing takes about 20 s with pip's cache warm; the first test pays for it.
pytestmark = pytest.mark.timeout(2 * COMMAND_TIMEOUT_SECONDS + 60)


@dataclass(frozen=True, slots=True)
class Installation:
    """The wheel that was built and the virtualenv it was installed in."""

    wheel: Path
    venv: Path

    @property
    def healthmon(self) -> Path:
        """The installed `healthmon` command."""
        return self.venv / "bin" / "healthmon"


def _run(*command: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    finished = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
        check=False,
    )
    assert finished.returncode == 0, f"{command} failed:\n{finished.stdout}\n{finished.stderr}"
    return finished.stdout


def _outside_environment(**variables: str) -> dict[str, str]:
    """This process's environment without anything that would steer healthmon or Python to the checkout."""
    kept = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("HEALTHMON_", "PYTHON", "VIRTUAL_ENV"))
    }
    return {**kept, **variables}


@pytest.fixture(scope="session")
def installation(tmp_path_factory: pytest.TempPathFactory) -> Installation:
    """healthmon's wheel, built from this checkout, installed with its dependencies in a fresh virtualenv."""
    # A copy, because setuptools leaves build/ and egg-info behind in the tree it builds, and a stale
    # build/ can put files into the wheel that the sources no longer have.
    source = tmp_path_factory.mktemp("source")
    for name in BUILD_INPUTS:
        if (PROJECT_ROOT / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
            shutil.copytree(PROJECT_ROOT / name, source / name, ignore=ignore)
        else:
            shutil.copy2(PROJECT_ROOT / name, source / name)
    wheelhouse = tmp_path_factory.mktemp("wheelhouse")
    pip = (sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet")
    _run(*pip, "wheel", "--wheel-dir", wheelhouse, "--constraint", PROJECT_ROOT / "constraints.txt", source)
    (wheel,) = wheelhouse.glob("healthmon-*.whl")

    venv = tmp_path_factory.mktemp("venv")
    # No pip inside (ensurepip alone takes seconds): this interpreter's pip installs into it.
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    _run(
        *pip,
        "--python",
        venv / "bin" / "python",
        "install",
        "--no-index",
        "--find-links",
        wheelhouse,
        # Byte-compiling every dependency would triple the install time; imports compile what they use.
        "--no-compile",
        f"healthmon=={__version__}",
    )
    return Installation(wheel=wheel, venv=venv)


def _head() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def _assert_migrated_to_head(url: str | URL) -> None:
    engine = create_database_engine(url, pool_size=1)
    try:
        with engine.connect() as connection:
            assert set(inspect(connection).get_table_names()) >= TABLES
            assert MigrationContext.configure(connection).get_current_revision() == _head()
    finally:
        engine.dispose()


def test_the_wheel_carries_every_migration_script(installation: Installation) -> None:
    package = MIGRATIONS_DIRECTORY.relative_to(PROJECT_ROOT / "src").as_posix()
    scripts = {"env.py", "script.py.mako"} | {
        f"versions/{path.name}" for path in (MIGRATIONS_DIRECTORY / "versions").glob("*.py")
    }
    assert len(scripts) > 2, "the source tree has revisions to compare"

    with zipfile.ZipFile(installation.wheel) as wheel:
        names = set(wheel.namelist())

    assert {f"{package}/{script}" for script in scripts} <= names


def test_the_installed_healthmon_runs_from_the_virtualenv_with_the_package_version(
    installation: Installation, tmp_path: Path
) -> None:
    environment = _outside_environment()
    where = _run(
        installation.venv / "bin" / "python",
        "-c",
        "import healthmon.adapters.sqlalchemy.migrations as m, importlib.metadata as d;"
        "print(m.MIGRATIONS_DIRECTORY); print(d.version('healthmon'))",
        cwd=tmp_path,
        env=environment,
    )
    shown = _run(installation.healthmon, "--version", cwd=tmp_path, env=environment)

    directory, installed_version = where.splitlines()
    assert Path(directory).is_relative_to(installation.venv)
    assert installed_version == __version__
    assert shown == f"healthmon {__version__}\n"


def test_db_upgrade_of_the_installed_healthmon_migrates_the_default_sqlite_database(
    installation: Installation, tmp_path: Path
) -> None:
    output = _run(installation.healthmon, "db", "upgrade", cwd=tmp_path, env=_outside_environment())

    # No HEALTHMON_DATABASE_URL: the default, healthmon.db in the working directory.
    assert output == "The database sqlite:///healthmon.db has the newest schema.\n"
    _assert_migrated_to_head(f"sqlite:///{tmp_path / 'healthmon.db'}")


@pytest.mark.postgres
def test_db_upgrade_of_the_installed_healthmon_migrates_an_empty_postgres_database(
    installation: Installation, postgres_admin_url: URL, tmp_path: Path
) -> None:
    with scratch_database(postgres_admin_url, "healthmon_wheel") as url:
        environment = _outside_environment(HEALTHMON_DATABASE_URL=url.render_as_string(hide_password=False))

        output = _run(installation.healthmon, "db", "upgrade", cwd=tmp_path, env=environment)

        assert output == f"The database {url.render_as_string(hide_password=True)} has the newest schema.\n"
        _assert_migrated_to_head(url)
