"""Request and response bodies: msgspec Structs that check types only and convert to and from the domain.

Value rules (lengths, ranges, what a name and a URL must be) belong to the domain: WebserverSettings
reports every bad field at once. The OpenAPI schema states the same rules from the domain's own
constants and patterns (through `extra_json_schema`, which Litestar copies into the schema and
msgspec never enforces), so a value that breaks one reaches the domain and comes back as a 422
listing every bad field, and a client checking the schema refuses exactly what the server refuses.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from datetime import MAXYEAR, MINYEAR, datetime
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal, TypeVar

import msgspec
from litestar import Request
from litestar.dto import MsgspecDTO
from litestar.exceptions import ClientException, InternalServerException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from msgspec import UNSET, Meta, UnsetType

from healthmon.application.ports import WorkerInfo
from healthmon.application.use_cases.retention import StorageReport
from healthmon.application.use_cases.webservers import WebserverDetails, WebserverPage
from healthmon.domain.errors import InvalidField
from healthmon.domain.events import EventType, RecordedEvent
from healthmon.domain.health import HEALTHY_AFTER, THRESHOLD_RANGE, UNHEALTHY_AFTER, HealthState
from healthmon.domain.patterns import NAME_MAX_LENGTH, NAME_PATTERN, URL_MAX_LENGTH, URL_PATTERN
from healthmon.domain.probe import ErrorKind, ProbeResult, RecordedProbe
from healthmon.domain.webserver import (
    MAX_INTERVAL_SECONDS,
    MAX_TIMEOUT_SECONDS,
    SECONDS_RANGE,
    Webserver,
    WebserverChanges,
    WebserverSettings,
)

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.dto._backend import DTOBackend
    from litestar.openapi.spec import Reference, Schema
    from litestar.typing import FieldDefinition

PROBLEM_MEDIA_TYPE: Final = "application/problem+json"
# The largest request body the API reads (the app's request_max_body_size); larger is a 413.
MAX_BODY_BYTES: Final = 64 * 1024


# The outbound network policy as the API enforces it, for the URL fields of webservers and channels.
OUTBOUND_RULE: Final = (
    "A host that is an IP address (IPv4-mapped IPv6 ones judged as IPv4) which the outbound network policy "
    "denies is refused with 422: by default the cloud metadata addresses 169.254.169.254 and fd00:ec2::254, "
    "or whatever HEALTHMON_OUTBOUND_DENY and HEALTHMON_OUTBOUND_ALLOW say (the most specific network "
    "holding the address decides)."
)


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
        f"What to call the server: 1 to {NAME_MAX_LENGTH} characters once surrounding white space is "
        "trimmed, with no control, format or line/paragraph separator characters.",
        pattern=NAME_PATTERN,
    ),
]
Url = Annotated[
    str,
    _documented(
        f"The absolute http or https URL to probe, at most {URL_MAX_LENGTH} characters, no white space "
        "or control characters. The host is a name of dot-separated ASCII labels of 1 to 63 letters, "
        "digits, hyphens or underscores (an international name in its IDNA `xn--` form, whose `xn--` "
        "labels must decode as IDNA), an IPv4 address or a bracketed IPv6 address; the port is 1 to "
        "65535. It is stored in one spelling: lower-case scheme and host, no default port (80, 443), "
        "`/` for an empty path, no `#fragment`; two URLs with the same spelling are the same webserver. "
        f"{OUTBOUND_RULE} A host name is judged on the addresses it resolves to, at every connection: "
        "a probe refused there fails with the error kind `blocked`.",
        maxLength=URL_MAX_LENGTH,
        pattern=URL_PATTERN,
    ),
]
IntervalSeconds = Annotated[int, _seconds("Time between the starts of two probes")]
TimeoutSeconds = Annotated[int, _seconds("How long a probe may take; a slower answer counts as a failure")]
HealthyThreshold = Annotated[int, _threshold("Successes in a row that make the server healthy")]
UnhealthyThreshold = Annotated[int, _threshold("Failures in a row that make the server unhealthy")]
FollowRedirects = Annotated[bool, _documented("Whether a probe follows redirects.")]
VerifyTls = Annotated[bool, _documented("Whether a probe checks the server's TLS certificate.")]
Public = Annotated[
    bool,
    _documented(
        "Whether anyone may see its health and uptime badges (/badges/{id}/...) without a key; "
        "a badge of a server that is not public is a 404."
    ),
]


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
    public: Public = False

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
    public: Public | UnsetType = UNSET

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

    id: Annotated[
        int,
        _documented(
            "The request's start in microseconds since 1970-01-01T00:00:00Z: unique within its webserver's "
            "history (a webserver's requests start one after another)."
        ),
    ]
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


TlsExpiresAt = Annotated[
    datetime | None,
    _documented(
        "When the TLS certificate the server presented at its last verified handshake expires; null for "
        "an http URL, a server probed with verify_tls false, or until a handshake has succeeded. It is "
        "kept through failed probes and cleared when the URL changes."
    ),
]


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
    key: str | None
    managed: bool
    public: bool
    health: HealthState
    health_changed_at: datetime | None
    consecutive_successes: int
    consecutive_failures: int
    last_checked_at: datetime | None
    tls_expires_at: TlsExpiresAt
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_domain(cls, webserver: Webserver) -> WebserverOut:
        """The API view of a webserver."""
        return cls(**_webserver_fields(webserver))


class WebserverSummaryOut(WebserverOut, kw_only=True):
    """A webserver as listed: with its last health event (null when its health never changed) and its
    uptime over the last 24 hours (successes / probes; null when it had no probe)."""

    last_event: EventOut | None
    uptime_24h: float | None

    @classmethod
    def from_page(cls, page: WebserverPage) -> list[WebserverSummaryOut]:
        """The API view of a page of webservers."""
        return [
            cls(
                **_webserver_fields(webserver),
                last_event=EventOut.from_optional(page.last_events.get(webserver.id)),
                uptime_24h=page.uptimes_24h.get(webserver.id),
            )
            for webserver in page.items
        ]


class WebserverDetailsOut(WebserverOut, kw_only=True):
    """A webserver with its last 10 requests, newest first, its last health event (or null) and its
    uptime over the last 24 hours (successes / probes; null when it had no probe)."""

    last_requests: list[RequestOut]
    last_event: EventOut | None
    uptime_24h: float | None

    @classmethod
    def from_details(cls, details: WebserverDetails) -> WebserverDetailsOut:
        """The API view of a webserver with its recent probes and its last event."""
        return cls(
            **_webserver_fields(details.webserver),
            last_requests=[RequestOut.from_domain(probe) for probe in details.last_requests],
            last_event=EventOut.from_optional(details.last_event),
            uptime_24h=details.uptime_24h,
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
        "key": settings.key,
        "managed": webserver.managed,
        "public": settings.public,
        "health": webserver.state,
        "health_changed_at": webserver.health_changed_at,
        "consecutive_successes": webserver.health.consecutive_successes,
        "consecutive_failures": webserver.health.consecutive_failures,
        "last_checked_at": webserver.last_checked_at,
        "tls_expires_at": webserver.tls_expires_at,
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


class StorageOut(msgspec.Struct, kw_only=True):
    """The stored probe history (the requests) as a whole, and how long it is kept."""

    rows: Annotated[int, _documented("Probes stored.")]
    rows_estimated: Annotated[
        bool, _documented("Whether `rows` comes from the database's statistics (PostgreSQL), not a count.")
    ]
    bytes: Annotated[int, _documented("Bytes the probes take on disk, with their indexes.")]
    oldest_started_at: Annotated[
        datetime | None, _documented("When the oldest probe kept started; null when there is none.")
    ]
    retention_days: Annotated[
        int, _documented("Days a probe is kept: older ones are removed once the rollups hold them.")
    ]

    @classmethod
    def from_domain(cls, report: StorageReport) -> StorageOut:
        """The API view of the history's usage."""
        usage = {field.name: getattr(report.usage, field.name) for field in dataclasses.fields(report.usage)}
        return cls(**usage, retention_days=report.retention_days)


class StatusOut(msgspec.Struct, kw_only=True):
    """A liveness or readiness answer."""

    status: Literal["ok"]


class FieldErrorOut(msgspec.Struct, kw_only=True):
    """One input field and what is wrong with it; for an entry of a sync, also its index and key."""

    field: str
    message: str
    index: int | UnsetType = UNSET
    key: str | UnsetType | None = UNSET


class ProblemOut(msgspec.Struct, kw_only=True):
    """An RFC 9457 problem: every error response has this shape (media type application/problem+json)."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldErrorOut] | UnsetType = UNSET


_DESCRIPTIONS: Final[dict[int, str]] = {
    400: "The request could not be read as the declared types: a body that is not a JSON object in "
    "UTF-8 (or is nested too deeply), unknown or missing fields, a wrong type, a parameter that does "
    "not parse. Without API keys, also a Host header that is not a loopback name or address nor one "
    "of HEALTHMON_ALLOWED_HOSTS (type /problems/host-not-allowed).",
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


_MONTH_DAY_TIME: Final = (
    "-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]+)?"
)
_MIDDLE_YEARS: Final = (
    "(?:000[2-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])"
)
# RFC 3339 with a timezone, as the `since` and `until` parameters take it: the date and time (the
# calendar is checked by `format: date-time`), then Z or an offset; in the years 0001 and 9999 only
# UTC, so that every accepted time has a UTC equivalent.
DATE_TIME_PATTERN: Final = (
    f"^(?:{_MIDDLE_YEARS}{_MONTH_DAY_TIME}(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
    f"|(?:{MINYEAR:04}|{MAXYEAR}){_MONTH_DAY_TIME}(?:Z|[+-]00:00))$"
)
_DATE_TIME: Final = re.compile(DATE_TIME_PATTERN)


def instant(field: str, text: str | None) -> datetime | None:
    """A query parameter read as an RFC 3339 date-time matching DATE_TIME_PATTERN (None when absent).

    Text that is no such time is a 400; one that is, but breaks a rule of the pattern, a 422: a time
    without a timezone (refused by the use case, which names the field), or one in the years 0001 or
    9999 that is not in UTC, as it may have no UTC equivalent.
    """
    if text is None:
        return None
    try:
        moment = msgspec.convert(text, datetime, strict=True)
    except msgspec.ValidationError as exc:
        raise _unreadable(field, "must be an RFC 3339 date and time", source="query") from exc
    if moment.tzinfo is None:
        return moment
    if not _in_utc_range(moment):
        raise InvalidField.single(field, f"must be in UTC (Z) in the years {MINYEAR:04} and {MAXYEAR}")
    if _DATE_TIME.fullmatch(text) is None:
        raise _unreadable(field, "must be an RFC 3339 date and time (T and Z in capitals)", source="query")
    return moment


def _in_utc_range(moment: datetime) -> bool:
    offset = moment.utcoffset()
    return moment.year not in (MINYEAR, MAXYEAR) or offset is None or not offset


def _unreadable(field: str, message: str, *, source: str = "body") -> ValidationException:
    return ValidationException(extra=[{"key": field, "message": message, "source": source}])


StructT = TypeVar("StructT", bound=msgspec.Struct)


def decode_body(raw: bytes, body_type: type[StructT]) -> StructT:
    """The body read as JSON of exactly `body_type`'s types; a 400 naming every field that is not.

    Each field is decoded once, from its own JSON text, with no lenient conversion ("5" is not 5, 1
    is not true), except that a whole number written as 5.0 counts as an integer, as in JSON Schema.
    Unknown fields are named and never decoded.
    """
    try:
        document = msgspec.json.decode(raw, type=dict[str, msgspec.Raw])
    except msgspec.ValidationError as exc:
        raise _unreadable("body", "must be a JSON object") from exc
    except RecursionError as exc:
        raise _unreadable("body", "is nested too deeply") from exc
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise _unreadable("body", "is not valid JSON in UTF-8") from exc
    fields = {field.name: field for field in msgspec.structs.fields(body_type)}
    values: dict[str, object] = {}
    problems: list[dict[str, str]] = []
    for name, text in document.items():
        field = fields.get(name)
        if field is None:
            problems.append({"key": name, "message": "is not a field of this resource", "source": "body"})
            continue
        try:
            values[name] = _decode_field(text, field.type)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
            message = str(exc) if isinstance(exc, msgspec.ValidationError) else "is not valid JSON in UTF-8"
            problems.append({"key": name, "message": message, "source": "body"})
    problems.extend(
        {"key": field.name, "message": "is required", "source": "body"}
        for field in fields.values()
        if field.required and field.name not in document
    )
    if problems:
        raise ValidationException(extra=problems)
    return body_type(**values)


def _decode_field(text: msgspec.Raw, field_type: Any) -> object:
    try:
        return msgspec.json.decode(text, type=field_type, strict=True)
    except msgspec.ValidationError as exc:
        # JSON Schema counts 5.0 as an integer (alone or in a list), and some clients cannot write 5;
        # no field is a float.
        value = _whole_numbers_as_ints(msgspec.json.decode(text))
        try:
            return msgspec.convert(value, field_type, strict=True)
        except msgspec.ValidationError:
            raise exc from None


def _whole_numbers_as_ints(value: object) -> object:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_whole_numbers_as_ints(item) for item in value]
    return value


class StrictBody(MsgspecDTO[StructT]):
    """Reads a handler's `data` with decode_body, once: Litestar's own conversion is lenient."""

    @classmethod
    def create_for_field_definition(
        cls,
        field_definition: FieldDefinition,
        handler_id: str,
        backend_cls: type[DTOBackend] | None = None,
    ) -> None:
        """Nothing to prepare: the body type is read as it is, with no transfer model."""

    @classmethod
    def create_openapi_schema(
        cls, field_definition: FieldDefinition, handler_id: str, schema_creator: SchemaCreator
    ) -> Reference | Schema:
        """The body's schema, as Litestar writes it for the Struct itself."""
        return schema_creator.for_field_definition(field_definition)

    def decode_bytes(self, value: bytes) -> Any:
        """The body as the model type, or a 400 listing every field that is not readable."""
        return decode_body(value, self.model_type)


class ClientDisconnected(ClientException):
    """The client went away before it had sent the whole body: nobody is left to answer."""


class BodyRequest(Request[Any, Any, Any]):
    """A request whose body, cut short by the client, raises ClientDisconnected (not a server error)."""

    async def stream(self) -> AsyncGenerator[bytes, None]:
        """The body's chunks; ClientDisconnected when the client leaves before the last one."""
        try:
            async for chunk in super().stream():
                yield chunk
        except InternalServerException as exc:
            # The only server error reading a body raises: a disconnect event before the last chunk.
            raise ClientDisconnected("the client disconnected before sending the whole body") from exc
