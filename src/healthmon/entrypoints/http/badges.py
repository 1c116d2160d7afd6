"""Badges: small shields-style SVG images of a public server's health and uptime, for READMEs.

- Only for a server whose `public` is true, and then without a key; any other id is a 404, the same
  404 as for an id that never existed, so a badge never tells that a private server exists.
- `Cache-Control: public, max-age=60`: an image proxy (GitHub's camo) may keep one for a minute.
- Rendered from templates/badge.svg, which escapes every text (a server's name never appears in a
  badge, but the label and message pass through the same escaping).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from litestar import get
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.response import Template

from healthmon.application.use_cases.dashboard import GetPublicWebserver
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
