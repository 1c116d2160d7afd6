"""The real `healthmon` command as a subprocess, and loopback targets for it to probe.

    with ServiceRunner(tmp_path) as runner, TargetServer() as target:
        with runner.serve(database_url) as service:      # `healthmon serve` on a free port, /healthz answers
            service.http.post("/webservers", json={"name": "a", "url": target.url("/ok")})
            assert service.stop() == 0                   # SIGTERM, then the exit status
        runner.logs()                                    # what every process wrote

Each process writes its stderr (the log) to a file of its own. The runner stops whatever is still
running when its block ends (SIGTERM, then SIGKILL after a deadline), so no process outlives a test.
The target is a threaded `http.server`: no event loop to share with the test, one connection per
request (HTTP/1.0), so one hit at the target is one probe.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import httpx
import pytest

from tests.waiting import eventually_sync

HEALTHMON = (sys.executable, "-m", "healthmon")
START_SECONDS = 15.0
STOP_SECONDS = 10.0
# Settings that keep a test fast: changes picked up and results written within a few tenths of a second.
QUICK_SETTINGS: dict[str, str] = {
    "HEALTHMON_REFRESH_SECONDS": "0.2",
    "HEALTHMON_FLUSH_SECONDS": "0.1",
    "HEALTHMON_SUMMARY_SECONDS": "3600",
    "HEALTHMON_SHUTDOWN_GRACE_SECONDS": "5",
    "HEALTHMON_HTTP_THREADS": "8",
}
_PORT_ATTEMPTS = 3
_ADDRESS_IN_USE = "address already in use"


def free_port() -> int:
    """A loopback port that was free a moment ago (the service binds it; a lost race is retried)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def service_environment(database_url: str | None = None, **settings: str) -> dict[str, str]:
    """This process's environment without any HEALTHMON_* variable, plus the quick settings and these.

    Keyword names are setting names (`shutdown_grace_seconds="1"`), as in HEALTHMON_<NAME>.
    """
    environment = {name: value for name, value in os.environ.items() if not name.startswith("HEALTHMON_")}
    environment.update(QUICK_SETTINGS)
    if database_url is not None:
        environment["HEALTHMON_DATABASE_URL"] = database_url
    environment.update({f"HEALTHMON_{name.upper()}": value for name, value in settings.items()})
    return environment


def run_healthmon(
    *arguments: str,
    environment: dict[str, str] | None = None,
    cwd: Path | None = None,
    within: float = 60.0,
    command: tuple[str, ...] = HEALTHMON,
) -> subprocess.CompletedProcess[str]:
    """Run a command that ends by itself (`db upgrade`, `--version`); stdout and stderr as text."""
    return subprocess.run(
        [*command, *arguments],
        env=service_environment() if environment is None else environment,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=within,
        check=False,
    )


def run_db_upgrade(database_url: str) -> None:
    """`healthmon db upgrade` on the database, which must succeed."""
    finished = run_healthmon("db", "upgrade", environment=service_environment(database_url))
    assert finished.returncode == 0, finished.stderr


@contextmanager
def logs_shown_on_failure(request: pytest.FixtureRequest, runner: ServiceRunner) -> Iterator[None]:
    """After the block, print every log of the runner if the test failed (pytest shows it only then)."""
    failed = request.session.testsfailed
    yield
    if request.session.testsfailed > failed:
        sys.stdout.write(runner.logs())


@contextmanager
def service_runner(request: pytest.FixtureRequest, directory: Path) -> Iterator[ServiceRunner]:
    """A runner for one test: every process stopped at the end, then every log printed if the test failed."""
    runner = ServiceRunner(directory)
    with logs_shown_on_failure(request, runner), runner:
        yield runner


class ServiceProcess:
    """One running `healthmon` command; its stderr and stdout go to a log file."""

    def __init__(self, arguments: list[str], environment: dict[str, str], log_path: Path, cwd: Path) -> None:
        self.arguments = arguments
        self.log_path = log_path
        self._log: IO[bytes] = log_path.open("wb")
        try:
            self.process = subprocess.Popen(
                [*HEALTHMON, *arguments],
                env=environment,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
            )
        except BaseException:
            self._log.close()
            raise

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def pid(self) -> int:
        """The process id."""
        return self.process.pid

    @property
    def running(self) -> bool:
        """Whether the process has not exited yet."""
        return self.process.poll() is None

    def log(self) -> str:
        """Everything the process has written so far."""
        return self.log_path.read_text(errors="replace")

    def failure(self, what: str) -> AssertionError:
        """An assertion error saying what went wrong, with the process's log."""
        return AssertionError(f"{what}\n--- log of healthmon {' '.join(self.arguments)} ---\n{self.log()}")

    def terminate(self) -> None:
        """Send SIGTERM, as an orchestrator stopping the service would."""
        self.process.send_signal(signal.SIGTERM)

    def wait(self, within: float = STOP_SECONDS) -> int:
        """The exit status; fail (and kill the process) if it has not exited within the deadline."""
        try:
            return self.process.wait(timeout=within)
        except subprocess.TimeoutExpired:
            self.close()
            raise self.failure(f"healthmon did not exit within {within} s") from None

    def stop(self, within: float = STOP_SECONDS) -> int:
        """SIGTERM, then the exit status once it has exited (failing after the deadline)."""
        if self.running:
            self.terminate()
        return self.wait(within)

    def close(self) -> None:
        """Make sure the process is gone: SIGTERM, SIGKILL if it lingers; close the log."""
        if self.running:
            self.terminate()
            try:
                self.process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


class Service(ServiceProcess):
    """`healthmon serve`, with an HTTP client on its base URL."""

    def __init__(
        self, arguments: list[str], environment: dict[str, str], log_path: Path, cwd: Path, port: int
    ) -> None:
        super().__init__(arguments, environment, log_path, cwd)
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.http = httpx.Client(base_url=self.base_url, timeout=10.0)

    def close(self) -> None:
        self.http.close()
        super().close()

    def wait_until_serving(self, within: float = START_SECONDS) -> None:
        """Return once /healthz answers 200; fail at once, with the log, if the process exits first."""
        eventually_sync(self._answers, within=within, what=f"healthmon serve on port {self.port}")

    def _answers(self) -> bool:
        if not self.running:
            raise self.failure(f"healthmon exited with status {self.process.returncode} before serving")
        try:
            return self.http.get("/healthz", timeout=1.0).status_code == HTTPStatus.OK
        except httpx.TransportError:
            return False

    def json(self, method: str, path: str, *, status: int = HTTPStatus.OK, **options: Any) -> Any:
        """Send a request, check the status, return the decoded body (None when empty)."""
        response = self.http.request(method, path, **options)
        assert response.status_code == status, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    def get(self, path: str, **options: Any) -> Any:
        """GET, expecting 200; the decoded body."""
        return self.json("GET", path, **options)

    def register(self, name: str, url: str, **fields: object) -> dict[str, Any]:
        """POST /webservers, expecting 201; the new webserver."""
        created: dict[str, Any] = self.json(
            "POST", "/webservers", status=HTTPStatus.CREATED, json={"name": name, "url": url, **fields}
        )
        return created

    def webserver(self, webserver_id: int) -> dict[str, Any]:
        """GET /webservers/{id}: the webserver with its last requests."""
        details: dict[str, Any] = self.get(f"/webservers/{webserver_id}")
        return details

    def history(self, webserver_id: int) -> list[dict[str, Any]]:
        """The webserver's whole history in one page, newest first (fails past 1000 requests)."""
        page = self.get(f"/webservers/{webserver_id}/requests", params={"limit": 1000})
        assert page["next_cursor"] is None, "more than one page of history"
        items: list[dict[str, Any]] = page["items"]
        return items


class ServiceRunner:
    """Starts `healthmon` commands in a scratch directory; stops them all when the block ends."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.processes: list[ServiceProcess] = []

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for process in self.processes:
            process.close()

    def _log_path(self, command: str) -> Path:
        return self.directory / f"{len(self.processes) + 1:02d}-{command}.log"

    def serve(self, database_url: str, *arguments: str, **settings: str) -> Service:
        """`healthmon serve` on a free loopback port, once /healthz answers."""
        environment = service_environment(database_url, **settings)
        for attempt in range(1, _PORT_ATTEMPTS + 1):
            port = free_port()
            service = Service(
                ["serve", "--port", str(port), *arguments],
                environment,
                self._log_path("serve"),
                self.directory,
                port,
            )
            self.processes.append(service)
            try:
                service.wait_until_serving()
            except AssertionError:
                # Another process took the port between free_port() and the bind: try another one.
                if attempt == _PORT_ATTEMPTS or _ADDRESS_IN_USE not in service.log().lower():
                    raise
                service.close()
                continue
            return service
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def worker(self, database_url: str, **settings: str) -> ServiceProcess:
        """`healthmon worker`, started (it answers nothing: watch its targets or its log)."""
        process = ServiceProcess(
            ["worker"],
            service_environment(database_url, **settings),
            self._log_path("worker"),
            self.directory,
        )
        self.processes.append(process)
        return process

    def logs(self) -> str:
        """The log of every process started, each under a header naming the command."""
        return "\n".join(
            f"--- {process.log_path.name}: healthmon {' '.join(process.arguments)} ---\n{process.log()}"
            for process in self.processes
        )


class _TargetHandler(BaseHTTPRequestHandler):
    server: TargetServer

    def do_GET(self) -> None:
        status = self.server.answer(self.path)
        if status is None:
            return  # hung until the target closed: leave without a response
        body = b"target\n"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the test counts hits itself; no line per request on stderr


class TargetServer(ThreadingHTTPServer):
    """Web servers to probe, on one loopback port: each path answers its own status (200 by default).

    Every request is counted per path before it is answered. A path set to hang answers nothing
    until the server closes. Closing joins every request thread.
    """

    # Request threads are joined by server_close(), so none outlives the test.
    daemon_threads = False
    # Workers may connect to many paths at once; with the default backlog of 5 the kernel drops the
    # surplus SYNs and those probes wait a second for the retry.
    request_queue_size = 1024

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _TargetHandler)
        self._lock = threading.Lock()
        self._statuses: dict[str, int | None] = {}
        self._hits: Counter[str] = Counter()
        self._closing = threading.Event()
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, name="target-server"
        )

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._closing.set()
        self.shutdown()
        self._thread.join()
        self.server_close()

    def url(self, path: str) -> str:
        """The absolute URL of a path on this server."""
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}{path}"

    def respond(self, path: str, status: int) -> None:
        """From now on, answer requests for this path with this status."""
        with self._lock:
            self._statuses[path] = status

    def hang(self, path: str) -> None:
        """From now on, read requests for this path and never answer them (until the server closes)."""
        with self._lock:
            self._statuses[path] = None

    def hits(self, path: str) -> int:
        """How many requests for this path have arrived."""
        with self._lock:
            return self._hits[path]

    def answer(self, path: str) -> int | None:
        """Count the request; the status to answer, or None once a hung request is let go."""
        with self._lock:
            self._hits[path] += 1
            status = self._statuses.get(path, HTTPStatus.OK)
        if status is None:
            self._closing.wait()
        return status


class HitLog(TargetServer):
    """The target, noting the monotonic time of every hit of every path."""

    def __init__(self) -> None:
        super().__init__()
        self._times_lock = threading.Lock()
        self._times: defaultdict[str, list[float]] = defaultdict(list)

    def answer(self, path: str) -> int | None:
        with self._times_lock:
            self._times[path].append(time.monotonic())
        return super().answer(path)

    def times(self, path: str, since: float = 0.0) -> list[float]:
        """When the path was hit, at or after `since`."""
        with self._times_lock:
            return [moment for moment in self._times[path] if moment >= since]
