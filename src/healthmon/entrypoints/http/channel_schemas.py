"""Request and response bodies of /channels: channels, their deliveries, and test events.

As in schemas.py, the Structs check types only; the rules belong to the domain (ChannelSettings)
and are stated in the OpenAPI schema from the domain's own constants and patterns. A rule that
ties two fields (a webhook's URL is http or https; only a webhook has a secret) is stated on the
body as a whole (BODY_RULES).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final

import msgspec
from msgspec import UNSET, Meta, UnsetType

from healthmon.domain.channels import SECRET_PATTERN, Channel, ChannelChanges, ChannelKind, ChannelSettings
from healthmon.domain.deliveries import Delivery, DeliveryStatus
from healthmon.domain.errors import InvalidField
from healthmon.domain.patterns import (
    ANY_URL_PATTERN,
    NAME_MAX_LENGTH,
    NAME_PATTERN,
    URL_MAX_LENGTH,
    URL_PATTERN,
)
from healthmon.domain.webserver import WebserverId
from healthmon.entrypoints.http.cursors import MAX_WEBSERVER_ID
from healthmon.entrypoints.http.schemas import OUTBOUND_RULE

# The rules that tie fields together, for the OpenAPI schema of a new channel.
BODY_RULES: Final[dict[str, Any]] = {
    "additionalProperties": False,
    "anyOf": [
        {
            "properties": {
                "kind": {"const": ChannelKind.WEBHOOK.value},
                "url": {"pattern": URL_PATTERN},
            }
        },
        {"properties": {"kind": {"const": ChannelKind.APPRISE.value}, "secret": {"type": "null"}}},
    ],
}


def _documented(description: str, **schema: Any) -> Meta:
    # Litestar reads `extra` as OpenAPI keywords; msgspec validates none of this.
    return Meta(extra_json_schema={"description": description, "extra": schema})


Kind = Annotated[
    ChannelKind,
    _documented("How events are sent: `webhook` (a signed POST) or `apprise` (chat, e-mail, pager, ...)."),
]
ChannelUrl = Annotated[
    str,
    _documented(
        f"Where events go, at most {URL_MAX_LENGTH} characters with no white space or control characters. "
        "A webhook: an absolute http or https URL, with the host and port rules of a webserver's URL. "
        "Apprise: any URL apprise has a plugin for (slack://..., discord://..., mailto://..., ntfy://..., "
        "json://...). It may hold tokens: it is never logged, and shown only to API clients. "
        f"{OUTBOUND_RULE} A webhook's host name is judged on the addresses it resolves to, at every "
        "connection (a refused delivery is a failed attempt); an apprise URL's only when it is an address, "
        "since apprise connects through its own clients.",
        maxLength=URL_MAX_LENGTH,
        pattern=ANY_URL_PATTERN,
    ),
]
Secret = Annotated[
    str,
    _documented(
        "Webhooks only: the Standard Webhooks signing secret, `whsec_` and the base64 of 24 to 64 random "
        "bytes. Left out, one is generated (32 bytes) and shown once, in the answer.",
        pattern=SECRET_PATTERN,
    ),
]
ChannelName = Annotated[
    str,
    _documented(
        f"What to call the channel: 1 to {NAME_MAX_LENGTH} characters once surrounding white space is "
        "trimmed, with no control, format or line/paragraph separator characters.",
        pattern=NAME_PATTERN,
    ),
]
WebserverIds = Annotated[
    list[int],
    _documented(
        "Only events of these webservers (ids need not exist, or may be removed later); null: every "
        "webserver.",
        # Next to `oneOf: [array, null]` where the list may be null: `items` constrains arrays only.
        items={"type": "integer", "minimum": 1, "maximum": MAX_WEBSERVER_ID},
    ),
]
Enabled = Annotated[bool, _documented("Whether events are sent; a disabled channel's deliveries wait.")]


def _webserver_ids(ids: list[int] | None) -> frozenset[WebserverId] | None:
    if ids is None:
        return None
    if any(not 1 <= webserver_id <= MAX_WEBSERVER_ID for webserver_id in ids):
        raise InvalidField.single("webserver_ids", f"must be webserver ids from 1 to {MAX_WEBSERVER_ID}")
    return frozenset(WebserverId(webserver_id) for webserver_id in ids)


class ChannelIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A new channel; omitted optional fields take their defaults (every webserver, enabled)."""

    kind: Kind
    url: ChannelUrl
    secret: Secret | None = None
    name: ChannelName | None = None
    webserver_ids: WebserverIds | None = None
    enabled: Enabled = True

    def to_settings(self) -> ChannelSettings:
        """The domain settings; raises InvalidField listing every value that breaks a rule."""
        return ChannelSettings(
            kind=self.kind,
            url=self.url,
            secret=self.secret,
            name=self.name,
            webserver_ids=_webserver_ids(self.webserver_ids),
            enabled=self.enabled,
        )


class ChannelPatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Some fields of a channel: each one given replaces the current value (the kind never changes).

    `webserver_ids: null` sends every webserver's events again; no other field takes null.
    """

    url: ChannelUrl | UnsetType = UNSET
    secret: Secret | UnsetType = UNSET
    name: ChannelName | UnsetType = UNSET
    webserver_ids: WebserverIds | UnsetType | None = UNSET
    enabled: Enabled | UnsetType = UNSET

    def to_changes(self) -> ChannelChanges:
        """The domain change: fields left out stay None, which the domain reads as 'keep'."""
        ids = self.webserver_ids
        return ChannelChanges(
            url=None if self.url is UNSET else self.url,
            secret=None if self.secret is UNSET else self.secret,
            name=None if self.name is UNSET else self.name,
            webserver_ids=None if ids is UNSET or ids is None else _webserver_ids(ids),
            all_webservers=ids is None,
            enabled=None if self.enabled is UNSET else self.enabled,
        )


class ChannelOut(msgspec.Struct, kw_only=True):
    """A channel; its secret is masked (whsec_***abcd) in every answer but the one that created it."""

    id: int
    kind: ChannelKind
    name: str | None
    url: str
    secret: str | None
    webserver_ids: list[int] | None
    enabled: bool
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_domain(cls, channel: Channel, *, reveal_secret: bool = False) -> ChannelOut:
        """The API view of a channel: the full secret only when reveal_secret (the create answer)."""
        settings = channel.settings
        ids = settings.webserver_ids
        return cls(
            id=channel.id,
            kind=settings.kind,
            name=settings.name,
            url=settings.url,
            secret=settings.secret if reveal_secret else channel.masked_secret,
            webserver_ids=None if ids is None else sorted(ids),
            enabled=settings.enabled,
            disabled_reason=channel.disabled_reason,
            created_at=channel.created_at,
            updated_at=channel.updated_at,
        )


class ChannelListOut(msgspec.Struct, kw_only=True):
    """Every channel, in id order."""

    items: list[ChannelOut]


class TestEventOut(msgspec.Struct, kw_only=True):
    """The test event queued for the channel: its deliveries list it under this event_id."""

    event_id: str


class DeliveryOut(msgspec.Struct, kw_only=True):
    """One event on its way to the channel: where it stands and how its last attempt went."""

    id: int
    event_id: str
    status: DeliveryStatus
    attempts: int
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None

    @classmethod
    def from_domain(cls, delivery: Delivery) -> DeliveryOut:
        """The API view of a delivery."""
        return cls(**{name: getattr(delivery, name) for name in _DELIVERY_FIELDS})


_DELIVERY_FIELDS: Final = tuple(field.name for field in msgspec.structs.fields(DeliveryOut))


class DeliveryPageOut(msgspec.Struct, kw_only=True):
    """One page of a channel's deliveries, in id order; next_cursor is null on the last page."""

    items: list[DeliveryOut]
    next_cursor: str | None
