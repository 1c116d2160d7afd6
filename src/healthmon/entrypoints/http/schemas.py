"""Request and response bodies: msgspec Structs that check types only and convert to and from the domain.

Value rules (lengths, ranges, what a URL must be) belong to the domain: WebserverSettings reports every
bad field at once. The ranges appear here only as documentation in the OpenAPI schema (through
`extra_json_schema`, which Litestar copies into the schema and msgspec never enforces), so a value
out of range reaches the domain and comes back as a 422 listing every bad field.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Annotated, Any, Final, Literal

import msgspec
from litestar import Request
from litestar.exceptions import ValidationException
from litestar.openapi.datastructures import ResponseSpec
from msgspec import UNSET, Meta, UnsetType

from healthmon.application.ports import WorkerInfo
from healthmon.application.use_cases.webservers import WebserverDetails, WebserverPage
from healthmon.domain.events import EventType, RecordedEvent
from healthmon.domain.health import HEALTHY_AFTER, THRESHOLD_RANGE, UNHEALTHY_AFTER, HealthState
from healthmon.domain.probe import ErrorKind, ProbeResult, RecordedProbe
from healthmon.domain.webserver import (
    MAX_INTERVAL_SECONDS,
    MAX_TIMEOUT_SECONDS,
    NAME_MAX_LENGTH,
    SECONDS_RANGE,
    URL_MAX_LENGTH,
    Webserver,
    WebserverChanges,
    WebserverSettings,
)

PROBLEM_MEDIA_TYPE: Final = "application/problem+json"
# The largest request body the API reads (the app's request_max_body_size); larger is a 413.
MAX_BODY_BYTES: Final = 64 * 1024


def _documented(description: str, **schema: Any) -> Meta:
    # Litestar reads `extra` as OpenAPI keywords; msgspec validates none of this.
    return Meta(extra_json_schema={"description": description, "extra": schema})


def _seconds(what: str) -> Meta:
    low, high = SECONDS_RANGE[0], SECONDS_RANGE[-1]
    return _documented(f"{what}, in whole seconds from {low} to {high}.", minimum=low, maximum=high)


def _threshold(what: str) -> Meta:
    low, high = THRESHOLD_RANGE[0], THRESHOLD_RANGE[-1]
    return _documented(f"{what}; an integer from {low} to {high}.", minimum=low, maximum=high)


Name = Annotated[
    str,
    _documented(
        f"What to call the server: 1 to {NAME_MAX_LENGTH} characters once surrounding spaces are trimmed, "
        "no control characters.",
        minLength=1,
    ),
]
Url = Annotated[
    str,
    # The pattern is a necessary condition only: the domain also needs a host and a valid port.
    _documented(
        f"The absolute http or https URL to probe, with a host; at most {URL_MAX_LENGTH} characters, "
        "no spaces or control characters.",
        minLength=1,
        maxLength=URL_MAX_LENGTH,
        pattern="^[Hh][Tt][Tt][Pp][Ss]?://",
    ),
]
IntervalSeconds = Annotated[int, _seconds("Time between the starts of two probes")]
TimeoutSeconds = Annotated[int, _seconds("How long a probe may take; a slower answer counts as a failure")]
HealthyThreshold = Annotated[int, _threshold("Successes in a row that make the server healthy")]
UnhealthyThreshold = Annotated[int, _threshold("Failures in a row that make the server unhealthy")]
FollowRedirects = Annotated[bool, _documented("Whether a probe follows redirects.")]
VerifyTls = Annotated[bool, _documented("Whether a probe checks the server's TLS certificate.")]


class WebserverIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A whole webserver as a client sends it (POST and PUT); omitted optional fields take their defaults."""

    name: Name
    url: Url
    interval_seconds: IntervalSeconds = MAX_INTERVAL_SECONDS
    timeout_seconds: TimeoutSeconds = MAX_TIMEOUT_SECONDS
    healthy_threshold: HealthyThreshold = HEALTHY_AFTER
    unhealthy_threshold: UnhealthyThreshold = UNHEALTHY_AFTER
    follow_redirects: FollowRedirects = True
    verify_tls: VerifyTls = True

    def to_settings(self) -> WebserverSettings:
        """The domain settings; raises InvalidField listing every value that breaks a rule."""
        return WebserverSettings(**msgspec.structs.asdict(self))

    def to_replacement(self) -> WebserverChanges:
        """A change that sets every field (a full replace), validated first as in to_settings."""
        settings = self.to_settings()
        return WebserverChanges(
            **{field.name: getattr(settings, field.name) for field in dataclasses.fields(settings)}
        )


class WebserverPatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Some fields of a webserver (PATCH): each one given replaces the current value; null is not a value."""

    name: Name | UnsetType = UNSET
    url: Url | UnsetType = UNSET
    interval_seconds: IntervalSeconds | UnsetType = UNSET
    timeout_seconds: TimeoutSeconds | UnsetType = UNSET
    healthy_threshold: HealthyThreshold | UnsetType = UNSET
    unhealthy_threshold: UnhealthyThreshold | UnsetType = UNSET
    follow_redirects: FollowRedirects | UnsetType = UNSET
    verify_tls: VerifyTls | UnsetType = UNSET

    def to_changes(self) -> WebserverChanges:
        """The domain change: fields left out stay None, which the domain reads as 'keep'."""
        given = {name: value for name, value in msgspec.structs.asdict(self).items() if value is not UNSET}
        return WebserverChanges(**given)


class RequestErrorOut(msgspec.Struct, kw_only=True):
    """Why a probe got no usable response."""

    kind: ErrorKind
    message: str


class RequestOut(msgspec.Struct, kw_only=True):
    """One probe of a webserver (one HTTP request healthmon sent)."""

    id: int
    started_at: datetime
    latency_ms: float
    status_code: int | None
    success: bool
    error: RequestErrorOut | None

    @classmethod
    def from_domain(cls, probe: RecordedProbe) -> RequestOut:
        """The API view of a stored probe."""
        return cls(id=probe.id, **_probe_fields(probe.result))


def _probe_fields(result: ProbeResult) -> dict[str, Any]:
    error = None
    if result.error_kind is not None:
        error = RequestErrorOut(kind=result.error_kind, message=result.error_message or "")
    return {
        "started_at": result.started_at,
        "latency_ms": result.latency_ms,
        "status_code": result.status_code,
        "success": result.success,
        "error": error,
    }


class ProbeOut(msgspec.Struct, kw_only=True):
    """The probe that changed a health: as an item of a webserver's requests, without its id."""

    started_at: datetime
    latency_ms: float
    status_code: int | None
    success: bool
    error: RequestErrorOut | None

    @classmethod
    def from_domain(cls, result: ProbeResult) -> ProbeOut:
        """The API view of a probe result."""
        return cls(**_probe_fields(result))


class EventWebserverOut(msgspec.Struct, kw_only=True):
    """The webserver as it was when the event happened (it may have been renamed or removed since)."""

    id: int
    name: str
    url: str


class EventOut(msgspec.Struct, kw_only=True):
    """A change of a webserver's health and the probe that made it (null when a URL change reset it)."""

    id: str
    type: EventType
    webserver_id: int
    webserver: EventWebserverOut
    from_state: HealthState = msgspec.field(name="from")
    to_state: HealthState = msgspec.field(name="to")
    occurred_at: datetime
    probe: ProbeOut | None

    @classmethod
    def from_domain(cls, event: RecordedEvent) -> EventOut:
        """The API view of a stored health event."""
        change = event.change
        if change is None:  # pragma: no cover - the feed and last_event hold health events only
            raise ValueError(f"event {event.id} is not a health change")
        webserver = change.webserver
        return cls(
            id=event.id,
            type=event.type,
            webserver_id=webserver.id,
            webserver=EventWebserverOut(id=webserver.id, name=webserver.name, url=webserver.url),
            from_state=change.from_state,
            to_state=change.to_state,
            occurred_at=event.occurred_at,
            probe=None if change.probe is None else ProbeOut.from_domain(change.probe),
        )

    @classmethod
    def from_optional(cls, event: RecordedEvent | None) -> EventOut | None:
        """The API view of a webserver's last event, or None when it never had one."""
        return None if event is None else cls.from_domain(event)


class EventFeedOut(msgspec.Struct, kw_only=True):
    """One page of the feed, oldest first; pass next_cursor back as `after` to get what came since."""

    items: list[EventOut]
    next_cursor: str


class WebserverOut(msgspec.Struct, kw_only=True):
    """A webserver: its settings, its current health and when things last happened."""

    id: int
    name: str
    url: str
    interval_seconds: int
    timeout_seconds: int
    healthy_threshold: int
    unhealthy_threshold: int
    follow_redirects: bool
    verify_tls: bool
    health: HealthState
    health_changed_at: datetime | None
    consecutive_successes: int
    consecutive_failures: int
    last_checked_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_domain(cls, webserver: Webserver) -> WebserverOut:
        """The API view of a webserver."""
        return cls(**_webserver_fields(webserver))


class WebserverSummaryOut(WebserverOut, kw_only=True):
    """A webserver as listed: with its last health event (null when its health never changed)."""

    last_event: EventOut | None

    @classmethod
    def from_page(cls, page: WebserverPage) -> list[WebserverSummaryOut]:
        """The API view of a page of webservers."""
        return [
            cls(
                **_webserver_fields(webserver),
                last_event=EventOut.from_optional(page.last_events.get(webserver.id)),
            )
            for webserver in page.items
        ]


class WebserverDetailsOut(WebserverOut, kw_only=True):
    """A webserver with its last 10 requests, newest first, and its last health event (or null)."""

    last_requests: list[RequestOut]
    last_event: EventOut | None

    @classmethod
    def from_details(cls, details: WebserverDetails) -> WebserverDetailsOut:
        """The API view of a webserver with its recent probes and its last event."""
        return cls(
            **_webserver_fields(details.webserver),
            last_requests=[RequestOut.from_domain(probe) for probe in details.last_requests],
            last_event=EventOut.from_optional(details.last_event),
        )


def _webserver_fields(webserver: Webserver) -> dict[str, Any]:
    settings = webserver.settings
    return {
        "id": webserver.id,
        "name": settings.name,
        "url": settings.display_url,
        "interval_seconds": settings.interval_seconds,
        "timeout_seconds": settings.timeout_seconds,
        "healthy_threshold": settings.healthy_threshold,
        "unhealthy_threshold": settings.unhealthy_threshold,
        "follow_redirects": settings.follow_redirects,
        "verify_tls": settings.verify_tls,
        "health": webserver.state,
        "health_changed_at": webserver.health_changed_at,
        "consecutive_successes": webserver.health.consecutive_successes,
        "consecutive_failures": webserver.health.consecutive_failures,
        "last_checked_at": webserver.last_checked_at,
        "created_at": webserver.created_at,
        "updated_at": webserver.updated_at,
    }


class WebserverPageOut(msgspec.Struct, kw_only=True):
    """One page of webservers; pass next_cursor as `cursor` for the next one (null on the last page)."""

    items: list[WebserverSummaryOut]
    next_cursor: str | None


class RequestPageOut(msgspec.Struct, kw_only=True):
    """One page of a webserver's requests, newest first; next_cursor is null on the last page."""

    items: list[RequestOut]
    next_cursor: str | None


class WorkerOut(msgspec.Struct, kw_only=True):
    """A live worker: who it is, how many servers it holds, and how it kept up at its last heartbeat."""

    id: str
    host: str
    pid: int
    started_at: datetime
    servers: int
    probes_per_second: float
    lag_p99_ms: float
    heartbeat_at: datetime | None

    @classmethod
    def from_domain(cls, worker: WorkerInfo) -> WorkerOut:
        """The API view of a worker."""
        return cls(**{field.name: getattr(worker, field.name) for field in dataclasses.fields(worker)})


class WorkerListOut(msgspec.Struct, kw_only=True):
    """Every live worker, oldest first."""

    items: list[WorkerOut]


class StatusOut(msgspec.Struct, kw_only=True):
    """A liveness or readiness answer."""

    status: Literal["ok"]


class FieldErrorOut(msgspec.Struct, kw_only=True):
    """One input field and what is wrong with it."""

    field: str
    message: str


class ProblemOut(msgspec.Struct, kw_only=True):
    """An RFC 9457 problem: every error response has this shape (media type application/problem+json)."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldErrorOut] | UnsetType = UNSET


_DESCRIPTIONS: Final[dict[int, str]] = {
    400: "The request could not be read as the declared types: a body that is not a JSON object, "
    "unknown or missing fields, a wrong type, a parameter that does not parse. Without API keys, also "
    "a Host header that is not a loopback name or address nor one of HEALTHMON_ALLOWED_HOSTS "
    "(type /problems/host-not-allowed).",
    401: "No API key, or not one of the configured keys (only when API keys are configured).",
    403: "A read-only API key was used for a change.",
    404: "No webserver has this id.",
    409: "Another webserver already watches this URL.",
    413: f"The body is larger than {MAX_BODY_BYTES} bytes.",
    415: "The body is not declared as JSON: send it with Content-Type: application/json.",
    422: "A value breaks a rule; `errors` lists every such field.",
    500: "A failure on the server; the body reveals nothing about it.",
    503: "The database is unreachable (or, for /readyz, the service is not ready); see Retry-After.",
}


def problem_responses(*statuses: int, described: Mapping[int, str] | None = None) -> dict[int, ResponseSpec]:
    """OpenAPI entries for these error statuses, each a problem+json body; `described` overrides texts."""
    descriptions = {**_DESCRIPTIONS, **(described or {})}
    return {
        status: ResponseSpec(
            data_container=ProblemOut,
            generate_examples=False,
            description=descriptions[status],
            media_type=PROBLEM_MEDIA_TYPE,
        )
        for status in statuses
    }


_UNKNOWN_FIELD = re.compile(r"Object contains unknown field `(?P<field>.*)`")
_MISSING_FIELD = re.compile(r"Object missing required field `(?P<field>.*)`")


def _body_problem(exc: msgspec.ValidationError) -> tuple[str, str]:
    # msgspec reports the first problem as "<what> - at `$.<field>`"; the fields here are all top-level.
    message, _, where = str(exc).partition(" - at `")
    if match := _UNKNOWN_FIELD.fullmatch(message):
        return match["field"], "is not a field of this resource"
    if match := _MISSING_FIELD.fullmatch(message):
        return match["field"], "is required"
    field = where.removesuffix("`").removeprefix("$").removeprefix(".")
    if not field:
        return "body", "must be a JSON object" if message.startswith("Expected `object`") else message
    return field, message


def instant(field: str, text: str | None) -> datetime | None:
    """A query parameter read as an RFC 3339 date-time (None when absent); anything else is a 400.

    A time without a timezone parses here and is refused by the use case, which names the field.
    """
    if text is None:
        return None
    try:
        return msgspec.convert(text, datetime, strict=True)
    except msgspec.ValidationError as exc:
        raise ValidationException(
            extra=[{"key": field, "message": "must be an ISO 8601 date and time", "source": "query"}]
        ) from exc


def _integral_floats_as_ints(value: object) -> object:
    # JSON Schema counts 5.0 as an integer, and some clients cannot write 5; no field here is a float.
    if isinstance(value, dict):
        return {
            key: int(item) if isinstance(item, float) and item.is_integer() else item
            for key, item in value.items()
        }
    return value


def strict_body(body_type: type[msgspec.Struct]) -> Callable[[Request[Any, Any, Any]], Awaitable[None]]:
    """A before-request hook that reads the body as JSON of exactly `body_type`'s types.

    Litestar converts bodies leniently ("5" for 5, 1 for true), so this check runs first; a failure is
    a 400 naming the field. A whole number written as 5.0 counts as an integer, as in JSON Schema.
    """

    async def check(request: Request[Any, Any, Any]) -> None:
        body = await request.body()
        try:
            document = msgspec.json.decode(body)
        except msgspec.DecodeError as exc:
            raise ValidationException(
                extra=[{"key": "body", "message": "is not valid JSON", "source": "body"}]
            ) from exc
        try:
            msgspec.convert(_integral_floats_as_ints(document), body_type, strict=True)
        except msgspec.ValidationError as exc:
            field, message = _body_problem(exc)
            raise ValidationException(extra=[{"key": field, "message": message, "source": "body"}]) from exc

    return check
