"""A webhook receiver on loopback for the real service to deliver to: it records, verifies and can misbehave.

The receiver is a threaded `http.server` (no event loop to share with a test that drives subprocesses).
It answers each POST with the next scripted status (200 once the script is used up), may hold requests
until released, and can be stopped and started again on the same port (a receiver that is down).
"""

from __future__ import annotations

import json
import sys
import threading
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from standardwebhooks import Webhook

from tests.alert_factories import SECRET


@dataclass(frozen=True, slots=True)
class Received:
    """One webhook request as it arrived."""

    body: bytes
    headers: dict[str, str]
    status: int

    @property
    def webhook_id(self) -> str:
        """The webhook-id header: the event's id."""
        return self.headers["webhook-id"]

    @property
    def data(self) -> dict[str, Any]:
        """The event (the body's data), after checking the signature as a receiver would."""
        payload: dict[str, Any] = Webhook(SECRET).verify(self.body, self.headers)
        data: dict[str, Any] = payload["data"]
        return data


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        status = self.server.receiver.take(
            body, {name.lower(): value for name, value in self.headers.items()}
        )
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    request_queue_size = 1024

    def __init__(self, receiver: WebhookReceiver, port: int) -> None:
        self.receiver = receiver
        super().__init__(("127.0.0.1", port), _Handler)

    def handle_error(self, request: object, client_address: object) -> None:
        # A sender killed while its request was held leaves a dead socket to answer: that is the test.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class WebhookReceiver:
    """Records every webhook (in arrival order) and answers as scripted."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.received: list[Received] = []
        self._script: list[int] = []
        self._holding = False
        self._release = threading.Event()
        self.held = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._release.set()
        self.stop()

    @property
    def url(self) -> str:
        """Where to deliver."""
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        """Listen (again, on the same port once it had one)."""
        self._server = _Server(self, self.port)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="webhook-receiver"
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop listening: connections are refused until start()."""
        if self._server is None or self._thread is None:
            return
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()
        self._server = None

    def script(self, *statuses: int) -> None:
        """Answer the next requests with these statuses, in turn."""
        with self._lock:
            self._script.extend(statuses)

    def hold_next(self) -> None:
        """Keep the next request waiting, unanswered, until release(); `held` is set once it arrives."""
        with self._lock:
            self._holding = True

    def release(self) -> None:
        """Let a held request go."""
        self._release.set()

    def take(self, body: bytes, headers: dict[str, str]) -> int:
        """Record a request; the status to answer it with."""
        with self._lock:
            hold, self._holding = self._holding, False
            status = self._script.pop(0) if self._script else HTTPStatus.OK
            self.received.append(Received(body, headers, status))
        if hold:
            self.held.set()
            self._release.wait()
        return status

    def ids(self) -> list[str]:
        """The webhook-id of every request, in arrival order."""
        with self._lock:
            return [request.webhook_id for request in self.received]

    def delivered(self) -> list[Received]:
        """The requests answered 2xx, in arrival order."""
        with self._lock:
            return [request for request in self.received if request.status < HTTPStatus.MULTIPLE_CHOICES]

    @staticmethod
    def decode(body: bytes) -> dict[str, Any]:
        """The JSON body, unverified."""
        decoded: dict[str, Any] = json.loads(body)
        return decoded
