"""Builders for domain values that tests need often."""

from __future__ import annotations

from datetime import datetime

from healthmon.domain.probe import ErrorKind, ProbeResult
from healthmon.domain.webserver import WebserverId, WebserverSettings


def settings(n: int = 1, /, **overrides: object) -> WebserverSettings:
    """Valid settings for a distinct webserver number n."""
    values: dict[str, object] = {"name": f"server {n}", "url": f"http://server-{n}.test/health"}
    values.update(overrides)
    return WebserverSettings(**values)  # type: ignore[arg-type]


def succeeded(webserver_id: WebserverId, started_at: datetime, latency_ms: float = 12.5) -> ProbeResult:
    """A 200 response well within the timeout."""
    return ProbeResult.response(
        webserver_id, started_at=started_at, latency_ms=latency_ms, status_code=200, timeout_seconds=60
    )


def failed(webserver_id: WebserverId, started_at: datetime, status_code: int | None = 500) -> ProbeResult:
    """A 500 response, or a refused connection when status_code is None."""
    if status_code is None:
        return ProbeResult.failure(
            webserver_id,
            started_at=started_at,
            latency_ms=0.4,
            kind=ErrorKind.CONNECTION_REFUSED,
            message="Connection refused",
        )
    return ProbeResult.response(
        webserver_id, started_at=started_at, latency_ms=3.0, status_code=status_code, timeout_seconds=60
    )
