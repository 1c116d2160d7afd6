"""Badges: small shields-style SVG images of a public server's health and uptime, for READMEs.

- Only for a server whose `public` is true, and then without a key; any other id is a 404, the same
  404 as for an id that never existed, so a badge never tells that a private server exists.
- `Cache-Control: public, max-age=60`: an image proxy (GitHub's camo) may keep one for a minute.
- Rendered from templates/badge.svg, which escapes every text (a server's name never appears in a
  badge, but the label and message pass through the same escaping).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Final

from litestar import get
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Template

from healthmon.application.use_cases.dashboard import GetPublicUptime, GetPublicWebserver
from healthmon.domain.health import HealthState
from healthmon.entrypoints.http.access import PUBLIC
from healthmon.entrypoints.http.schemas import problem_responses
from healthmon.entrypoints.http.webservers import WebserverIdPath, webserver_id_of

SVG_MEDIA_TYPE: Final = "image/svg+xml"
BADGE_HEADERS: Final = [
    ResponseHeader(name="Cache-Control", value="public, max-age=60"),
    # An SVG opened on its own is a document: let it run nothing and load nothing.
    ResponseHeader(name="Content-Security-Policy", value="default-src 'none'; style-src 'unsafe-inline'"),
    ResponseHeader(name="X-Content-Type-Options", value="nosniff"),
]
_NOT_PUBLIC: Final = {404: "No public webserver has this id (it does not exist, or is not public)."}
# Shields' palette.
GREEN: Final = "#4c1"
RED: Final = "#e05d44"
GREY: Final = "#9f9f9f"
YELLOW: Final = "#dfb317"
YELLOW_GREEN: Final = "#97ca00"
ORANGE: Final = "#fe7d37"
# An uptime's colour: the first whose floor it reaches.
_UPTIME_COLOURS: Final = ((0.999, GREEN), (0.99, YELLOW_GREEN), (0.95, YELLOW), (0.9, ORANGE), (0.0, RED))
_HEALTH_COLOURS: Final = {HealthState.HEALTHY: GREEN, HealthState.UNHEALTHY: RED, HealthState.UNKNOWN: GREY}
# Verdana 11px, which the badge names, is about this wide per character on average.
_CHARACTER_WIDTH: Final = 7
_PADDING: Final = 10


@dataclass(frozen=True, slots=True)
class Badge:
    """A two-part badge: a grey label and a coloured message, each as wide as its text."""

    label: str
    message: str
    colour: str

    @property
    def label_width(self) -> int:
        """The label part's width in pixels."""
        return len(self.label) * _CHARACTER_WIDTH + _PADDING

    @property
    def message_width(self) -> int:
        """The message part's width in pixels."""
        return len(self.message) * _CHARACTER_WIDTH + _PADDING


def render_badge(badge: Badge) -> Template:
    """The badge as an SVG response."""
    return Template("badge.svg", context={"badge": badge}, media_type=SVG_MEDIA_TYPE)


@get(
    "/badges/{webserver_id:int}/health.svg",
    opt={PUBLIC: True},
    sync_to_thread=True,
    tags=["badges"],
    summary="A public webserver's health as an SVG badge",
    security=[],
    response_headers=BADGE_HEADERS,
    media_type=SVG_MEDIA_TYPE,
    responses=problem_responses(404, 400, 500, 503, described=_NOT_PUBLIC),
)
def health_badge(
    webserver_id: WebserverIdPath, get_public_webserver: NamedDependency[GetPublicWebserver]
) -> Template:
    """Healthy (green), unhealthy (red) or unknown (grey); no key needed, only for a public server."""
    webserver = get_public_webserver.execute(webserver_id_of(webserver_id))
    return render_badge(Badge("health", webserver.state.value, _HEALTH_COLOURS[webserver.state]))


class UptimeWindow(StrEnum):
    """The windows an uptime badge covers: the last day, week or 30 days."""

    DAY = "24h"
    WEEK = "7d"
    MONTH = "30d"


_WINDOW_LENGTHS: Final = {
    UptimeWindow.DAY: timedelta(hours=24),
    UptimeWindow.WEEK: timedelta(days=7),
    UptimeWindow.MONTH: timedelta(days=30),
}
Window = Annotated[UptimeWindow, QueryParameter(description="The window before now: 24h, 7d or 30d.")]


def uptime_text(uptime: float | None) -> str:
    """An uptime as a badge shows it: 99.95%, 100%, or `no data` without a probe."""
    if uptime is None:
        return "no data"
    return "100%" if uptime == 1 else f"{uptime * 100:.2f}%"


def uptime_colour(uptime: float | None) -> str:
    """Green from 99.9 % down to red under 90 %; grey without a probe."""
    if uptime is None:
        return GREY
    return next(colour for floor, colour in _UPTIME_COLOURS if uptime >= floor)


@get(
    "/badges/{webserver_id:int}/uptime.svg",
    opt={PUBLIC: True},
    sync_to_thread=True,
    tags=["badges"],
    summary="A public webserver's uptime over a window as an SVG badge",
    security=[],
    response_headers=BADGE_HEADERS,
    media_type=SVG_MEDIA_TYPE,
    responses=problem_responses(404, 400, 500, 503, described=_NOT_PUBLIC),
)
def uptime_badge(
    webserver_id: WebserverIdPath,
    get_public_uptime: NamedDependency[GetPublicUptime],
    window: Window = UptimeWindow.DAY,
) -> Template:
    """Successes / probes in the window (default 24h; `no data` without a probe); public servers only."""
    uptime = get_public_uptime.execute(webserver_id_of(webserver_id), _WINDOW_LENGTHS[window])
    return render_badge(Badge(f"uptime {window.value}", uptime_text(uptime), uptime_colour(uptime)))
