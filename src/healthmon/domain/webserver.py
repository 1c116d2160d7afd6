"""Webservers: what to watch, how often, and what healthmon believes about them now."""

from __future__ import annotations

import dataclasses
import unicodedata
from dataclasses import dataclass
from datetime import datetime
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
from healthmon.domain.ids import WebserverId
from healthmon.domain.probe import MAX_TIMEOUT_SECONDS, ProbeResult

NAME_MAX_LENGTH = 200
URL_MAX_LENGTH = 2048
MAX_INTERVAL_SECONDS = 60
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
        ):
            if type(value) is not bool:
                problems.append(FieldProblem(field, "must be true or false"))
        if problems:
            raise InvalidField(*problems)
        object.__setattr__(self, "name", self.name.strip())

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

    def apply_to(self, settings: WebserverSettings) -> WebserverSettings:
        """The settings with these changes made; validated like any new settings."""
        given = {
            field.name: value
            for field in dataclasses.fields(self)
            if (value := getattr(self, field.name)) is not None
        }
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
