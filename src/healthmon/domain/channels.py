"""Alert channels: where health events are sent (a signed webhook, or any destination apprise knows)."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import NewType

from healthmon.domain.errors import FieldProblem, InvalidField
from healthmon.domain.patterns import ANY_URL_PATTERN, URL_MAX_LENGTH
from healthmon.domain.webserver import WebserverId, http_url_problem, name_problem

ChannelId = NewType("ChannelId", int)

# Standard Webhooks secrets: this prefix, then the base64 of the key bytes.
SECRET_PREFIX = "whsec_"  # noqa: S105  (a prefix, not a secret)
SECRET_BYTES = 32
SECRET_KEY_BYTES_RANGE = range(24, 65)


def _secret_pattern() -> str:
    # Base64 of n bytes is n // 3 groups of four characters, then nothing, ab== or abc= for a
    # remainder of 0, 1 or 2 bytes: one alternative per remainder, over the lengths allowed.
    char = "[A-Za-z0-9+/]"
    tails = ("", f"{char}{{2}}==", f"{char}{{3}}=")
    low, high = SECRET_KEY_BYTES_RANGE[0], SECRET_KEY_BYTES_RANGE[-1]
    alternatives = [
        f"(?:{char}{{4}}){{{-(-(low - remainder) // 3)},{(high - remainder) // 3}}}{tail}"
        for remainder, tail in enumerate(tails)
    ]
    return f"^{SECRET_PREFIX}(?:{'|'.join(alternatives)})$"


# The whole rule for a secret, as a regular expression that Python and JSON Schema read alike.
SECRET_PATTERN = _secret_pattern()
_SECRET = re.compile(SECRET_PATTERN)
_ANY_URL = re.compile(ANY_URL_PATTERN)


class ChannelKind(StrEnum):
    """How a channel delivers: a signed HTTP POST, or a notification through apprise."""

    WEBHOOK = "webhook"
    APPRISE = "apprise"


def _secret_problem(secret: str) -> str | None:
    if _SECRET.fullmatch(secret) is None:
        low, high = SECRET_KEY_BYTES_RANGE[0], SECRET_KEY_BYTES_RANGE[-1]
        return f"must be {SECRET_PREFIX} followed by the base64 of {low} to {high} random bytes"
    return None


def _url_problem(kind: ChannelKind, url: object) -> str | None:
    if kind is ChannelKind.WEBHOOK:
        return http_url_problem(url)
    if not isinstance(url, str) or not 1 <= len(url) <= URL_MAX_LENGTH:
        return f"must be 1 to {URL_MAX_LENGTH} characters"
    if _ANY_URL.fullmatch(url) is None:
        # Apprise reads the rest its own way (tgram://123456:ABC-DEF/chat has no port); the notifier
        # says whether it has a plugin for it.
        return (
            "must be an apprise URL such as slack://... or mailto://..., with no spaces or control characters"
        )
    return None


@dataclass(frozen=True, slots=True)
class ChannelSettings:
    """What a user chose for one channel; validated on construction (apprise URLs also by the notifier)."""

    kind: ChannelKind
    url: str
    name: str | None = None
    # Webhooks only: the Standard Webhooks signing secret.
    secret: str | None = None
    # None: every webserver; otherwise only these.
    webserver_ids: frozenset[WebserverId] | None = None
    enabled: bool = True

    def __post_init__(self) -> None:
        problems: list[FieldProblem] = []
        if not isinstance(self.kind, ChannelKind):
            problems.append(FieldProblem("kind", "must be webhook or apprise"))
        elif (rule := _url_problem(self.kind, self.url)) is not None:
            problems.append(FieldProblem("url", rule))
        if self.name is not None and (rule := name_problem(self.name)) is not None:
            problems.append(FieldProblem("name", rule))
        if self.secret is not None:
            if self.kind is not ChannelKind.WEBHOOK:
                problems.append(FieldProblem("secret", "is only for webhook channels"))
            elif not isinstance(self.secret, str) or (rule := _secret_problem(self.secret)) is not None:
                problems.append(FieldProblem("secret", rule or "must be a string"))
        if self.webserver_ids is not None and any(
            type(webserver_id) is not int or webserver_id < 1 for webserver_id in self.webserver_ids
        ):
            problems.append(FieldProblem("webserver_ids", "must be positive webserver ids"))
        if type(self.enabled) is not bool:
            problems.append(FieldProblem("enabled", "must be true or false"))
        if problems:
            raise InvalidField(*problems)
        if self.name is not None:
            object.__setattr__(self, "name", self.name.strip())

    def covers(self, webserver_id: WebserverId) -> bool:
        """Whether an event about this webserver goes to this channel."""
        return self.enabled and (self.webserver_ids is None or webserver_id in self.webserver_ids)


@dataclass(frozen=True, slots=True)
class ChannelChanges:
    """A partial update of a channel: every field left as None keeps its value."""

    url: str | None = None
    name: str | None = None
    secret: str | None = None
    webserver_ids: frozenset[WebserverId] | None = None
    # Set to True to send events to every webserver again (webserver_ids null).
    all_webservers: bool = False
    enabled: bool | None = None

    def apply_to(self, settings: ChannelSettings) -> ChannelSettings:
        """The settings with these changes made; validated like new settings."""
        given = {
            field.name: value
            for field in dataclasses.fields(self)
            if field.name != "all_webservers" and (value := getattr(self, field.name)) is not None
        }
        if self.all_webservers:
            given["webserver_ids"] = None
        return dataclasses.replace(settings, **given)


@dataclass(frozen=True, slots=True)
class Channel:
    """A registered channel; disabled_reason says why healthmon turned it off (e.g. the receiver said 410)."""

    id: ChannelId
    settings: ChannelSettings
    created_at: datetime
    updated_at: datetime
    disabled_reason: str | None = None

    @property
    def masked_secret(self) -> str | None:
        """The secret as reads show it: only its prefix and last four characters."""
        secret = self.settings.secret
        return None if secret is None else f"{SECRET_PREFIX}***{secret[-4:]}"
