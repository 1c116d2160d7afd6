"""Server-rendered HTML and SVG: the Jinja2 environment for Litestar's templates, and the static files.

Every template is autoescaped (HTML and SVG alike), and an undefined name fails the render instead
of printing nothing. Pages load only what this package serves (STATIC_PATH), which the
Content-Security-Policy `default-src 'self'` states: no inline script or style, nothing from elsewhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from jinja2 import Environment, PackageLoader, StrictUndefined
from litestar.datastructures import CacheControlHeader, ResponseHeader
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.router import Router
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig

from healthmon.entrypoints.http.access import PUBLIC

STATIC_PATH: Final = "/ui/static"
STATIC_DIRECTORY: Final = Path(__file__).parent / "static"
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"
)
# Headers every dashboard page carries.
PAGE_HEADERS: Final = [
    ResponseHeader(name="Content-Security-Policy", value=CONTENT_SECURITY_POLICY),
    ResponseHeader(name="X-Content-Type-Options", value="nosniff"),
    ResponseHeader(name="Referrer-Policy", value="same-origin"),
    ResponseHeader(name="Cache-Control", value="no-store"),
]


def percent(fraction: float | None) -> str:
    """An uptime as shown: 99.95 %, or a dash when no probe counts (static/dashboard.js does the same)."""
    return "—" if fraction is None else f"{fraction * 100:.2f} %"


def milliseconds(value: float | None) -> str:
    """A latency as shown: 123 ms, or a dash when there is none (static/dashboard.js does the same)."""
    return "—" if value is None else f"{value:.0f} ms"


def template_config(version: str) -> TemplateConfig[JinjaTemplateEngine]:
    """Templates from this package's `templates` folder; `asset_version` busts caches of static files."""
    environment = Environment(
        loader=PackageLoader("healthmon.entrypoints.http", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["percent"] = percent
    environment.filters["milliseconds"] = milliseconds
    environment.globals["asset_version"] = version
    environment.globals["static_path"] = STATIC_PATH
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment))


def static_files_router() -> Router:
    """The dashboard's scripts, styles and vendored libraries; public, as the sign-in page needs them."""
    return create_static_files_router(
        path=STATIC_PATH,
        directories=[STATIC_DIRECTORY],
        opt={PUBLIC: True},
        # URLs carry the package version (?v=), so a new release is fetched anew.
        cache_control=CacheControlHeader(max_age=3600),
        include_in_schema=False,
    )
