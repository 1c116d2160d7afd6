"""Webservers: what to watch, how often, and what healthmon believes about them now."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import datetime

from healthmon.domain.certificates import ExpiryWarnings
from healthmon.domain.errors import FieldProblem, InvalidField
from healthmon.domain.health import (
    HEALTHY_AFTER,
    THRESHOLD_RANGE,
    UNHEALTHY_AFTER,
    HealthState,
    HealthStateMachine,
    Thresholds,
    Transition,
)
from healthmon.domain.ids import WebserverId
from healthmon.domain.patterns import (
    CONTROL_CHARACTER,
    DNS_LABEL_MAX_LENGTH,
    HOST_PATTERN,
    KEY_MAX_LENGTH,
    KEY_PATTERN,
    NAME_MAX_LENGTH,
    URL_MAX_LENGTH,
    URL_PATTERN,
)
from healthmon.domain.probe import MAX_TIMEOUT_SECONDS, ProbeResult
from healthmon.domain.url_display import display_url

MAX_INTERVAL_SECONDS = 60
SECONDS_RANGE = range(1, 61)


def _is_int(value: object) -> bool:
    return type(value) is int  # bool is an int subclass and is never a valid count


_CONTROL = re.compile(CONTROL_CHARACTER)
_HOST = re.compile(HOST_PATTERN)
_URL = re.compile(URL_PATTERN)
_KEY = re.compile(KEY_PATTERN)
_DEFAULT_PORTS = {"http": "80", "https": "443"}
_URL_RULE = "must be an absolute http or https URL with a host"
_HOST_RULE = (
    f"must name its host by dot-separated labels of 1 to {DNS_LABEL_MAX_LENGTH} ASCII letters, digits, "
    "hyphens or underscores (an international name in its IDNA xn-- form), or by an IP address"
)


def name_problem(name: object) -> str | None:
    """The rule a name breaks (NAME_PATTERN in words), or None; webservers and channels share it."""
    if not isinstance(name, str):
        return "must be a string"
    trimmed = name.strip()
    if not 1 <= len(trimmed) <= NAME_MAX_LENGTH:
        return f"must be 1 to {NAME_MAX_LENGTH} characters once surrounding spaces are trimmed"
    if _CONTROL.search(trimmed):
        return "must not contain control characters or line separators"
    return None


def key_problem(key: object) -> str | None:
    """The rule a webserver key breaks (KEY_PATTERN in words), or None; no key (None) is fine."""
    if key is None:
        return None
    if not isinstance(key, str) or _KEY.fullmatch(key) is None:
        return (
            f"must be 1 to {KEY_MAX_LENGTH} lower-case letters, digits, dots, underscores or hyphens, "
            "starting with a letter or a digit"
        )
    return None


def http_url_problem(url: object) -> str | None:
    """The rule an http(s) URL breaks (URL_PATTERN, and IDNA hosts), or None; webservers and webhooks."""
    if not isinstance(url, str):
        return _URL_RULE
    if not 1 <= len(url) <= URL_MAX_LENGTH:
        return f"must be 1 to {URL_MAX_LENGTH} characters"
    if _CONTROL.search(url) or any(char.isspace() for char in url):
        return "must not contain spaces or control characters"
    scheme, separator, rest = url.partition("://")
    if not separator or scheme.lower() not in _DEFAULT_PORTS:
        return _URL_RULE
    match = _URL.fullmatch(url)
    return _url_part_problem(rest) if match is None else _idna_problem(match[3])


def _idna_problem(host: str) -> str | None:
    # The pattern admits only ASCII names, whose xn-- labels must still decode as IDNA (punycode):
    # the prober's URL library decodes them, and fails on a label that does not.
    if host.startswith("["):
        return None
    try:
        host.encode("ascii").decode("idna")
    except UnicodeError:
        return _HOST_RULE
    return None


def _url_part_problem(rest: str) -> str:
    # Which part of a URL the pattern refused, for the message: the host, else the port.
    host_and_port = re.split("[/?#]", rest, maxsplit=1)[0].rpartition("@")[2]
    if host_and_port.startswith("["):
        host, _, after = host_and_port.partition("]")
        host, port = host + "]", after.removeprefix(":")
    else:
        host, _, port = host_and_port.partition(":")
    if not host:
        return _URL_RULE
    if _HOST.fullmatch(host) is None:
        return _HOST_RULE
    return "must have a port from 1 to 65535, written without leading zeros" if port else _URL_RULE


def _normal_url(url: str) -> str:
    # URLs that differ only in the case of scheme or host, a default port, an empty path or a
    # fragment make the same request, so they are one webserver: store the one spelling.
    match = _URL.fullmatch(url)
    assert match is not None, "only called on a URL http_url_problem accepted"
    scheme, userinfo, host, port, path, _fragment = match.groups()
    scheme = scheme.lower()
    netloc = host.lower() if port is None or port == _DEFAULT_PORTS[scheme] else f"{host.lower()}:{port}"
    if userinfo is not None:
        netloc = f"{userinfo}@{netloc}"
    if path is None or path.startswith("?"):
        path = "/" + (path or "")
    return f"{scheme}://{netloc}{path}"


@dataclass(frozen=True, slots=True)
class WebserverSettings:
    """What a user chose for one webserver; every field is validated on construction."""

    name: str
    url: str
    interval_seconds: int = MAX_INTERVAL_SECONDS
    timeout_seconds: int = MAX_TIMEOUT_SECONDS
    healthy_threshold: int = HEALTHY_AFTER
    unhealthy_threshold: int = UNHEALTHY_AFTER
    follow_redirects: bool = True
    verify_tls: bool = True
    # The server's stable identity in a file of servers (see domain/sync.py): renaming it or moving
    # it to another URL keeps its history. Unique when given.
    key: str | None = None
    # Whether its badges may be shown to anyone, without a key; nothing else of it is public.
    public: bool = False

    def __post_init__(self) -> None:
        problems: list[FieldProblem] = []
        if (rule := name_problem(self.name)) is not None:
            problems.append(FieldProblem("name", rule))
        if (rule := http_url_problem(self.url)) is not None:
            problems.append(FieldProblem("url", rule))
        if (rule := key_problem(self.key)) is not None:
            problems.append(FieldProblem("key", rule))
        for field, value in (
            ("interval_seconds", self.interval_seconds),
            ("timeout_seconds", self.timeout_seconds),
        ):
            if not _is_int(value) or value not in SECONDS_RANGE:
                problems.append(
                    FieldProblem(field, f"must be an integer from {SECONDS_RANGE[0]} to {SECONDS_RANGE[-1]}")
                )
        for field, value in (
            ("healthy_threshold", self.healthy_threshold),
            ("unhealthy_threshold", self.unhealthy_threshold),
        ):
            if not _is_int(value) or value not in THRESHOLD_RANGE:
                problems.append(FieldProblem(field, f"must be an integer from 1 to {THRESHOLD_RANGE[-1]}"))
        for field, value in (
            ("follow_redirects", self.follow_redirects),
            ("verify_tls", self.verify_tls),
            ("public", self.public),
        ):
            if type(value) is not bool:
                problems.append(FieldProblem(field, "must be true or false"))
        if problems:
            raise InvalidField(*problems)
        object.__setattr__(self, "name", self.name.strip())
        object.__setattr__(self, "url", _normal_url(self.url))

    @property
    def display_url(self) -> str:
        """The URL as shown in responses, logs and errors: a password in it is masked."""
        return display_url(self.url)

    @property
    def thresholds(self) -> Thresholds:
        """The streak lengths that flip this server's health."""
        return Thresholds(healthy_after=self.healthy_threshold, unhealthy_after=self.unhealthy_threshold)


@dataclass(frozen=True, slots=True)
class WebserverChanges:
    """A partial update: every field left as None keeps its current value."""

    name: str | None = None
    url: str | None = None
    interval_seconds: int | None = None
    timeout_seconds: int | None = None
    healthy_threshold: int | None = None
    unhealthy_threshold: int | None = None
    follow_redirects: bool | None = None
    verify_tls: bool | None = None
    key: str | None = None
    public: bool | None = None

    def apply_to(self, settings: WebserverSettings) -> WebserverSettings:
        """The settings with these changes made; validated like any new settings.

        A URL given exactly as it is shown (its password masked) keeps the stored one, so a client
        that reads a webserver and writes it back does not replace the password with the mask.
        """
        given = {
            field.name: value
            for field in dataclasses.fields(self)
            if (value := getattr(self, field.name)) is not None
        }
        if given.get("url") == settings.display_url:
            given["url"] = settings.url
        return dataclasses.replace(settings, **given)


@dataclass(frozen=True, slots=True)
class Webserver:
    """A watched webserver: its settings, its current health, and when things last happened."""

    id: WebserverId
    settings: WebserverSettings
    created_at: datetime
    updated_at: datetime
    health: HealthStateMachine = dataclasses.field(default_factory=HealthStateMachine)
    health_changed_at: datetime | None = None
    last_checked_at: datetime | None = None
    # When the certificate last seen expires (None for HTTP, or until a verified handshake), and the
    # tightest warning threshold (days) already announced for that certificate.
    tls_expires_at: datetime | None = None
    tls_warned_days: int | None = None
    # True when a sync (a file of servers) created or last changed it: only such servers are pruned.
    managed: bool = False

    @property
    def state(self) -> HealthState:
        """The current health state."""
        return self.health.state

    def reconfigure(self, changes: WebserverChanges, now: datetime) -> Webserver:
        """Apply changes made by hand; a server changed by hand is no longer managed by a sync."""
        return self.with_settings(changes.apply_to(self.settings), now, managed=False)

    def with_settings(self, settings: WebserverSettings, now: datetime, *, managed: bool) -> Webserver:
        """New settings (self when they are the same); a new URL is a different target, so health restarts."""
        if settings == self.settings:
            return self
        if settings.url == self.settings.url:
            return dataclasses.replace(self, settings=settings, updated_at=now, managed=managed)
        reset = HealthStateMachine()
        return dataclasses.replace(
            self,
            settings=settings,
            updated_at=now,
            managed=managed,
            health=reset,
            health_changed_at=now if self.health.state is not reset.state else self.health_changed_at,
            # Another URL may be another server with another certificate: nothing is known of it yet.
            tls_expires_at=None,
            tls_warned_days=None,
        )

    def record(self, result: ProbeResult) -> tuple[Webserver, Transition]:
        """Advance health by one probe result; a change is dated by the probe's start."""
        transition = self.health.record(ok=result.success, thresholds=self.settings.thresholds)
        checked = result.started_at
        if self.last_checked_at is not None and self.last_checked_at > checked:
            checked = self.last_checked_at
        updated = dataclasses.replace(
            self,
            health=transition.machine,
            health_changed_at=result.started_at if transition.changed else self.health_changed_at,
            last_checked_at=checked,
        )
        return updated, transition

    def see_certificate(
        self, expires_at: datetime, at: datetime, warnings: ExpiryWarnings
    ) -> tuple[Webserver, int | None]:
        """Note the certificate a probe saw; the threshold to warn about now, if any.

        - Another expiry than the one stored is another certificate (a renewal): its warnings start over.
        - Each threshold is warned about once per certificate, the tightest crossed first.
        """
        same = expires_at == self.tls_expires_at
        warned = self.tls_warned_days if same else None
        due = warnings.due(expires_at, at, warned)
        now_warned = warned if due is None else due
        if same and now_warned == self.tls_warned_days:
            return self, None
        return dataclasses.replace(self, tls_expires_at=expires_at, tls_warned_days=now_warned), due


# WebserverId and MAX_TIMEOUT_SECONDS are defined in healthmon.domain.ids and .probe; importing
# them from here keeps working.
__all__ = [
    "MAX_INTERVAL_SECONDS",
    "MAX_TIMEOUT_SECONDS",
    "NAME_MAX_LENGTH",
    "SECONDS_RANGE",
    "URL_MAX_LENGTH",
    "Webserver",
    "WebserverChanges",
    "WebserverId",
    "WebserverSettings",
]
