"""Webservers: what to watch, how often, and what healthmon believes about them now."""

from __future__ import annotations

import dataclasses
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, NewType
from urllib.parse import urlsplit

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
from healthmon.domain.url_display import display_url

if TYPE_CHECKING:
    from healthmon.domain.probe import ProbeResult

WebserverId = NewType("WebserverId", int)

NAME_MAX_LENGTH = 200
URL_MAX_LENGTH = 2048
MAX_INTERVAL_SECONDS = 60
# A probe that takes 60 s or more is a failure by definition; a server may ask for stricter.
MAX_TIMEOUT_SECONDS = 60
SECONDS_RANGE = range(1, 61)


def _is_int(value: object) -> bool:
    return type(value) is int  # bool is an int subclass and is never a valid count


def _name_problem(name: object) -> str | None:
    if not isinstance(name, str):
        return "must be a string"
    trimmed = name.strip()
    if not 1 <= len(trimmed) <= NAME_MAX_LENGTH:
        return f"must be 1 to {NAME_MAX_LENGTH} characters once surrounding spaces are trimmed"
    if any(unicodedata.category(char) in ("Cc", "Cf") for char in trimmed):
        return "must not contain control characters"
    return None


def _url_problem(url: object) -> str | None:
    rule = "must be an absolute http or https URL with a host"
    if not isinstance(url, str):
        return rule
    if not 1 <= len(url) <= URL_MAX_LENGTH:
        return f"must be 1 to {URL_MAX_LENGTH} characters"
    if any(char.isspace() or unicodedata.category(char) in ("Cc", "Cf") for char in url):
        return "must not contain spaces or control characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a port that is not a number in range)
    except ValueError:
        return rule
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return rule
    return None


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

    def __post_init__(self) -> None:
        problems: list[FieldProblem] = []
        if (rule := _name_problem(self.name)) is not None:
            problems.append(FieldProblem("name", rule))
        if (rule := _url_problem(self.url)) is not None:
            problems.append(FieldProblem("url", rule))
        for field, value in (
            ("interval_seconds", self.interval_seconds),
            ("timeout_seconds", self.timeout_seconds),
        ):
            if not _is_int(value) or value not in SECONDS_RANGE:
                problems.append(FieldProblem(field, "must be an integer from 1 to 60"))
        for field, value in (
            ("healthy_threshold", self.healthy_threshold),
            ("unhealthy_threshold", self.unhealthy_threshold),
        ):
            if not _is_int(value) or value not in THRESHOLD_RANGE:
                problems.append(FieldProblem(field, f"must be an integer from 1 to {THRESHOLD_RANGE[-1]}"))
        for field, value in (
            ("follow_redirects", self.follow_redirects),
            ("verify_tls", self.verify_tls),
        ):
            if type(value) is not bool:
                problems.append(FieldProblem(field, "must be true or false"))
        if problems:
            raise InvalidField(*problems)
        object.__setattr__(self, "name", self.name.strip())

    @property
    def display_url(self) -> str:
        """The URL as shown in responses, logs and errors: a password in it is masked."""
        return display_url(self.url)

    @property
    def thresholds(self) -> Thresholds:
        """The streak lengths that flip this server's health."""
        return Thresholds(self.healthy_threshold, self.unhealthy_threshold)


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

    @classmethod
    def restore(  # noqa: PLR0917  (positional in field order, as the constructor takes them)
        cls,
        id: WebserverId,
        settings: WebserverSettings,
        created_at: datetime,
        updated_at: datetime,
        health: HealthStateMachine,
        health_changed_at: datetime | None,
        last_checked_at: datetime | None,
    ) -> Webserver:
        """The Webserver the constructor makes from these values, in half the time, for bulk reads.

        A frozen dataclass's __init__ sets each field through object.__setattr__, and reading
        10,000 webservers back from storage does that 70,000 times; this sets the slots directly.
        The constructor checks nothing, so neither does this; should Webserver ever gain a
        __post_init__, give this the same checks.
        """
        webserver = object.__new__(cls)
        (
            set_id,
            set_settings,
            set_created_at,
            set_updated_at,
            set_health,
            set_health_changed_at,
            set_last_checked_at,
        ) = _WEBSERVER_SLOT_SETTERS
        set_id(webserver, id)
        set_settings(webserver, settings)
        set_created_at(webserver, created_at)
        set_updated_at(webserver, updated_at)
        set_health(webserver, health)
        set_health_changed_at(webserver, health_changed_at)
        set_last_checked_at(webserver, last_checked_at)
        return webserver

    @property
    def state(self) -> HealthState:
        """The current health state."""
        return self.health.state

    def reconfigure(self, changes: WebserverChanges, now: datetime) -> Webserver:
        """Apply changes; a new URL is a different target, so health restarts from unknown."""
        settings = changes.apply_to(self.settings)
        if settings == self.settings:
            return self
        if settings.url == self.settings.url:
            return dataclasses.replace(self, settings=settings, updated_at=now)
        reset = HealthStateMachine()
        return dataclasses.replace(
            self,
            settings=settings,
            updated_at=now,
            health=reset,
            health_changed_at=now if self.health.state is not reset.state else self.health_changed_at,
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


# What Webserver.restore writes with: one slot per field, in field order. Adding a field makes
# the unpacking there fail at once, rather than leave the new slot unset.
_WEBSERVER_SLOT_SETTERS = tuple(
    vars(Webserver)[field.name].__set__ for field in dataclasses.fields(Webserver)
)
