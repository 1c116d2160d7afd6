"""The status dashboard: the overview at `/`, one page per server under /ui, and the overview's JSON.

Pages are rendered on the server (templates/), then kept fresh by their scripts (static/), which
read JSON: the overview's from /ui/data/overview, a server's history from the API itself. Behind API
keys, a page without the sign-in cookie redirects to the sign-in form; the data answers 401.

Bad input on a page (an unknown health, a page number of 0, an unknown server) gets an HTML error
page with the status a problem would have; the JSON endpoint answers problem details as the API does.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Final
from urllib.parse import urlencode

from litestar import Request, Response, Router, get
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, NotAuthorizedException
from litestar.params import QueryParameter
from litestar.response import Redirect, Template

from healthmon.application.use_cases.dashboard import (
    MAX_SEARCH_LENGTH,
    GetOverview,
    GetServerPage,
    OverviewQuery,
    ServerPage,
)
from healthmon.domain.errors import HealthmonError
from healthmon.domain.health import HealthState
from healthmon.entrypoints.http.access import ApiKeys
from healthmon.entrypoints.http.dashboard_schemas import OverviewOut
from healthmon.entrypoints.http.problems import http_exception_to_problem, to_problem
from healthmon.entrypoints.http.schemas import EventOut, RequestOut, problem_responses
from healthmon.entrypoints.http.sign_in import SIGN_IN_PATH, safe_next
from healthmon.entrypoints.http.templating import PAGE_HEADERS
from healthmon.entrypoints.http.webservers import WebserverIdPath, webserver_id_of

logger = logging.getLogger(__name__)

SERVER_PAGE_PATH: Final = "/ui/webservers"
# How often the overview's script fetches the overview again, in milliseconds.
REFRESH_MILLISECONDS: Final = 5000

HealthFilter = Annotated[
    HealthState | None, QueryParameter(description="Only servers currently in this state.")
]
Search = Annotated[
    str,
    QueryParameter(
        description=f"Only servers whose name contains this text (case-insensitive), at most "
        f"{MAX_SEARCH_LENGTH} characters.",
        max_length=MAX_SEARCH_LENGTH,
    ),
]
PageNumber = Annotated[
    int, QueryParameter(description="Which page of 50 servers, from 1.", schema_extra={"minimum": 1})
]


def _overview(get_overview: GetOverview, health: HealthState | None, q: str, page: int) -> OverviewOut:
    return OverviewOut.from_overview(get_overview.execute(OverviewQuery(health=health, search=q, page=page)))


@get(
    "/ui/data/overview",
    sync_to_thread=True,
    tags=["dashboard"],
    summary="The dashboard's overview: counts by health and one page of servers",
    responses=problem_responses(422, 400, 401, 500, 503),
)
def overview_data(
    *,
    get_overview: NamedDependency[GetOverview],
    health: HealthFilter = None,
    q: Search = "",
    page: PageNumber = 1,
) -> OverviewOut:
    """Unhealthy servers first, then unknown, then healthy, by name; each with its last 60 results."""
    return _overview(get_overview, health, q, page)


@get("/", sync_to_thread=True, include_in_schema=False, response_headers=PAGE_HEADERS)
def overview_page(
    *,
    get_overview: NamedDependency[GetOverview],
    dashboard_keys: NamedDependency[ApiKeys],
    health: HealthFilter = None,
    q: Search = "",
    page: PageNumber = 1,
) -> Template:
    """The overview page, rendered with its first data; its script refreshes it."""
    overview = _overview(get_overview, health, q, page)
    return Template(
        "overview.html",
        context={
            "overview": overview,
            "health": "" if health is None else health.value,
            "states": [state.value for state in HealthState],
            "q": q,
            "refresh_ms": REFRESH_MILLISECONDS,
            "server_path": SERVER_PAGE_PATH,
            "sign_out": dashboard_keys.enabled,
        },
    )


@get(
    f"{SERVER_PAGE_PATH}/{{webserver_id:int}}",
    sync_to_thread=True,
    include_in_schema=False,
    response_headers=PAGE_HEADERS,
)
def server_page(
    webserver_id: WebserverIdPath,
    get_server_page: NamedDependency[GetServerPage],
    dashboard_keys: NamedDependency[ApiKeys],
) -> Template:
    """One server's page: settings, health, latency chart, timeline, last requests, channels."""
    page = get_server_page.execute(webserver_id_of(webserver_id))
    return Template("server.html", context={**_server_context(page), "sign_out": dashboard_keys.enabled})


def _server_context(page: ServerPage) -> dict[str, Any]:
    webserver = page.webserver
    return {
        "webserver": webserver,
        "settings": webserver.settings,
        "health": webserver.health,
        "requests": [RequestOut.from_domain(probe) for probe in page.last_requests],
        "failures": [RequestOut.from_domain(probe) for probe in page.last_failures],
        "timeline": [EventOut.from_domain(event) for event in page.timeline],
        "channels": page.channels,
        "tls_expires_at": webserver.tls_expires_at,
    }


def _error_page(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, NotAuthorizedException):
        # A page behind keys, opened without the cookie: ask for the key, then come back here.
        target = safe_next(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        return Redirect(f"{SIGN_IN_PATH}?{urlencode({'next': target})}", status_code=303)
    if isinstance(exc, HealthmonError):
        problem = to_problem(exc)
    elif isinstance(exc, HTTPException):
        problem = http_exception_to_problem(exc)
    else:  # pragma: no cover - only the two kinds above are routed here
        raise exc
    return Template(
        "error.html",
        context={"status": problem.status_code, "title": problem.title, "detail": problem.detail},
        status_code=problem.status_code,
        headers={header.name: header.value or "" for header in PAGE_HEADERS},
    )


def dashboard_pages() -> Router:
    """The HTML pages: their errors are HTML pages too, and a missing sign-in redirects to the form."""
    return Router(
        "/",
        route_handlers=[overview_page, server_page],
        exception_handlers={HTTPException: _error_page, HealthmonError: _error_page},
    )
