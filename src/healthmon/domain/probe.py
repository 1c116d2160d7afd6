"""Probe results: one HTTP check of one webserver, and the rule that makes it a success."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from healthmon.domain.ids import ProbeId, WebserverId

# A probe that takes 60 s or more is a failure by definition; a server may ask for stricter.
MAX_TIMEOUT_SECONDS = 60
# What a probe saw that its webserver keeps (the latest value), not its history: no column of the
# requests (or an event's probe) holds it, and a result read back from history has it as None.
TRANSIENT_PROBE_FIELDS = ("tls_expires_at",)


class ErrorKind(StrEnum):
    """Why a probe got no usable response; stable codes that clients may match on."""

    TIMEOUT = "timeout"
    CONNECTION_REFUSED = "connection_refused"
    CONNECTION_RESET = "connection_reset"
    DNS = "dns"
    TLS = "tls"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    INVALID_RESPONSE = "invalid_response"
    # The URL, or one a redirect led to, cannot be requested (say, a host name IDNA cannot encode).
    INVALID_URL = "invalid_url"
    # The outbound network policy refused every address the host resolved to (or the literal address).
    BLOCKED = "blocked"
    CONNECTION_ERROR = "connection_error"


def is_success(status_code: int | None, latency_ms: float, timeout_seconds: float) -> bool:
    """A probe succeeds when the status is 2xx and the latency is under the timeout (at most 60 s)."""
    limit_ms = min(timeout_seconds, MAX_TIMEOUT_SECONDS) * 1000
    return status_code is not None and 200 <= status_code <= 299 and latency_ms < limit_ms


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What one probe of one webserver measured: a status code, or an error kind, and a latency."""

    webserver_id: WebserverId
    started_at: datetime
    latency_ms: float
    status_code: int | None
    success: bool
    error_kind: ErrorKind | None = None
    error_message: str | None = None
    # When the certificate the server presented expires: only for a TLS handshake that verified.
    tls_expires_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.started_at.tzinfo is None:
            raise ValueError("started_at must be timezone-aware")
        if self.tls_expires_at is not None and self.tls_expires_at.tzinfo is None:
            raise ValueError("tls_expires_at must be timezone-aware")
        if self.started_at.utcoffset():
            object.__setattr__(self, "started_at", self.started_at.astimezone(UTC))
        if self.latency_ms < 0:
            raise ValueError("latency cannot be negative")
        if (self.status_code is None) == (self.error_kind is None):
            raise ValueError("a probe has either a status code or an error kind, not both")
        if self.success and (self.status_code is None or not 200 <= self.status_code <= 299):
            raise ValueError("only a 2xx response can be a success")

    @classmethod
    def response(
        cls,
        webserver_id: WebserverId,
        *,
        started_at: datetime,
        latency_ms: float,
        status_code: int,
        timeout_seconds: float,
        tls_expires_at: datetime | None = None,
    ) -> ProbeResult:
        """A probe that got a response: success follows the 2xx-and-in-time rule."""
        return cls(
            webserver_id=webserver_id,
            started_at=started_at,
            latency_ms=latency_ms,
            status_code=status_code,
            success=is_success(status_code, latency_ms, timeout_seconds),
            tls_expires_at=tls_expires_at,
        )

    @classmethod
    def failure(
        cls,
        webserver_id: WebserverId,
        *,
        started_at: datetime,
        latency_ms: float,
        kind: ErrorKind,
        message: str,
    ) -> ProbeResult:
        """A probe that got no usable response: always a failure."""
        return cls(
            webserver_id=webserver_id,
            started_at=started_at,
            latency_ms=latency_ms,
            status_code=None,
            success=False,
            error_kind=kind,
            error_message=message,
        )


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def probe_id_of(started_at: datetime) -> ProbeId:
    """A stored probe's id: its start in microseconds since 1970 (UTC), unique in its webserver's history.

    Unique because a webserver's recorded probes have strictly increasing start times.
    """
    return ProbeId((started_at - _EPOCH) // _MICROSECOND)


@dataclass(frozen=True, slots=True)
class RecordedProbe:
    """A probe result as stored in a webserver's history, with its id (probe_id_of its start)."""

    id: ProbeId
    result: ProbeResult


# ProbeId is defined in healthmon.domain.ids; importing it from here keeps working.
__all__ = [
    "MAX_TIMEOUT_SECONDS",
    "TRANSIENT_PROBE_FIELDS",
    "ErrorKind",
    "ProbeId",
    "ProbeResult",
    "RecordedProbe",
    "is_success",
    "probe_id_of",
]
