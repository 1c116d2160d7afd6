"""The /webservers resource: register, list, read, change, replace and remove webservers; read requests.

Handlers are plain functions run on worker threads (sync_to_thread=True), so each unit of work opens
and closes its session on one thread. They translate between HTTP and the use cases and hold no
rules of their own: every error is raised by the domain or the use cases and turned into a problem
by problems.py.
"""

from __future__ import annotations

from typing import Annotated, Final

from litestar import Controller, Response, delete, get, patch, post, put
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.openapi.spec import Example
from litestar.params import BodyKwarg, PathParameter, QueryParameter

from healthmon.application.use_cases.history import ListProbeHistory
from healthmon.application.use_cases.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from healthmon.application.use_cases.webservers import (
    GetWebserver,
    ListWebservers,
    RegisterWebserver,
    RemoveWebserver,
    UpdateWebserver,
)
from healthmon.domain.errors import WebserverNotFound
from healthmon.domain.health import HealthState
from healthmon.domain.webserver import WebserverId
from healthmon.entrypoints.http.cursors import (
    HISTORY_CURSOR_PATTERN,
    LIST_CURSOR_PATTERN,
    MAX_WEBSERVER_ID,
    decode_history_cursor,
    decode_list_cursor,
    encode_history_cursor,
    encode_list_cursor,
)
from healthmon.entrypoints.http.schemas import (
    DATE_TIME_PATTERN,
    BodyRequest,
    RequestOut,
    RequestPageOut,
    StrictBody,
    WebserverDetailsOut,
    WebserverIn,
    WebserverOut,
    WebserverPageOut,
    WebserverPatch,
    WebserverSummaryOut,
    instant,
    problem_responses,
)

# Errors any /webservers operation may meet: a bad parameter, a missing key, a bug, an unreachable
# database. 400 is listed even where only a body could cause it, because Litestar otherwise
# documents its own (non-problem) 400. Writes may also meet a read-only key (403).
_READ: Final = (400, 401, 500, 503)
_WRITE: Final = (*_READ, 403)

# The bodies reject unknown fields (forbid_unknown_fields); say so in the schema, which Litestar does not.
NewWebserverBody = Annotated[
    WebserverIn,
    BodyKwarg(media_type=RequestEncodingType.JSON, schema_extra={"additionalProperties": False}),
]
WebserverPatchBody = Annotated[
    WebserverPatch,
    BodyKwarg(media_type=RequestEncodingType.JSON, schema_extra={"additionalProperties": False}),
]
WebserverIdPath = Annotated[
    int,
    PathParameter(
        description="The webserver's id, a positive integer; any other number is a 404.",
        schema_extra={"minimum": 1, "maximum": MAX_WEBSERVER_ID},
        examples=[Example(summary="The first webserver registered", value=1)],
    ),
]
Limit = Annotated[
    int,
    QueryParameter(
        description=f"How many items a page holds, from 1 to {MAX_PAGE_SIZE}.",
        schema_extra={"minimum": 1, "maximum": MAX_PAGE_SIZE},
    ),
]
_CURSOR_DESCRIPTION: Final = (
    "The `next_cursor` of the previous page; leave out for the first page. Pass back what you were "
    "given: any string of this pattern is a position, and one beyond every item gives the last page."
)
ListCursor = Annotated[
    str | None,
    QueryParameter(description=_CURSOR_DESCRIPTION, schema_extra={"pattern": LIST_CURSOR_PATTERN}),
]
HistoryCursor = Annotated[
    str | None,
    QueryParameter(description=_CURSOR_DESCRIPTION, schema_extra={"pattern": HISTORY_CURSOR_PATTERN}),
]
# Times arrive as strings and are parsed strictly (schemas.instant): Litestar's lenient conversion
# would also take a number as a Unix timestamp, which the schema does not allow.
_TIME_RULES: Final = (
    "RFC 3339 with a timezone (`Z`, or an offset: `+00:00` written as `%2B00:00`); in the years 0001 "
    "and 9999 only UTC."
)
_TIME_SCHEMA: Final = {"format": "date-time", "pattern": DATE_TIME_PATTERN}
Since = Annotated[
    str | None,
    QueryParameter(
        description=f"Only requests started at or after this time: {_TIME_RULES}", schema_extra=_TIME_SCHEMA
    ),
]
Until = Annotated[
    str | None,
    QueryParameter(
        description=f"Only requests started before this time: {_TIME_RULES}", schema_extra=_TIME_SCHEMA
    ),
]
HealthFilter = Annotated[
    HealthState | None,
    QueryParameter(description="Only webservers currently in this state."),
]


def webserver_id_of(value: int) -> WebserverId:
    # No webserver has an id outside the database's positive 32-bit range, so those are 404s
    # here rather than an overflow in the driver.
    if not 1 <= value <= MAX_WEBSERVER_ID:
        raise WebserverNotFound(value)
    return WebserverId(value)


class WebserverController(Controller):
    """Webservers and their requests (probe history)."""

    path = "/webservers"
    tags = ["webservers"]  # noqa: RUF012 - Litestar reads this class attribute
    request_class = BodyRequest

    @post(
        sync_to_thread=True,
        summary="Register a webserver",
        dto=StrictBody[WebserverIn],
        return_dto=None,
        response_headers=[
            ResponseHeader(
                name="Location",
                description="The new webserver's URL.",
                documentation_only=True,
                required=True,
            )
        ],
        responses=problem_responses(409, 413, 415, 422, *_WRITE),
    )
    def create(
        self, data: NewWebserverBody, register_webserver: NamedDependency[RegisterWebserver]
    ) -> Response[WebserverOut]:
        """Start watching a webserver; its health starts as unknown."""
        webserver = register_webserver.execute(data.to_settings())
        return Response(
            WebserverOut.from_domain(webserver),
            status_code=201,
            headers={"Location": f"{self.path}/{webserver.id}"},
        )

    @get(
        sync_to_thread=True,
        summary="List webservers with their current health",
        responses=problem_responses(422, *_READ),
    )
    def list(
        self,
        *,
        list_webservers: NamedDependency[ListWebservers],
        health: HealthFilter = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: ListCursor = None,
    ) -> WebserverPageOut:
        """Webservers in id order, one page at a time."""
        after = None if cursor is None else decode_list_cursor(cursor)
        page = list_webservers.execute(health=health, after=after, limit=limit)
        return WebserverPageOut(
            items=WebserverSummaryOut.from_page(page),
            next_cursor=None if page.next_cursor is None else encode_list_cursor(page.next_cursor),
        )

    @get(
        "/{webserver_id:int}",
        sync_to_thread=True,
        summary="Read a webserver with its last 10 requests",
        responses=problem_responses(404, *_READ),
    )
    def read(
        self, webserver_id: WebserverIdPath, get_webserver: NamedDependency[GetWebserver]
    ) -> WebserverDetailsOut:
        """The webserver's settings, current health and last 10 requests, newest first."""
        return WebserverDetailsOut.from_details(get_webserver.execute(webserver_id_of(webserver_id)))

    @patch(
        "/{webserver_id:int}",
        sync_to_thread=True,
        summary="Change some settings of a webserver",
        dto=StrictBody[WebserverPatch],
        return_dto=None,
        responses=problem_responses(404, 409, 413, 415, 422, *_WRITE),
    )
    def update(
        self,
        webserver_id: WebserverIdPath,
        data: WebserverPatchBody,
        update_webserver: NamedDependency[UpdateWebserver],
    ) -> WebserverOut:
        """Fields given replace the current ones; a new URL resets health to unknown."""
        webserver = update_webserver.execute(webserver_id_of(webserver_id), data.to_changes())
        return WebserverOut.from_domain(webserver)

    @put(
        "/{webserver_id:int}",
        sync_to_thread=True,
        summary="Replace a webserver's settings",
        dto=StrictBody[WebserverIn],
        return_dto=None,
        responses=problem_responses(404, 409, 413, 415, 422, *_WRITE),
    )
    def replace(
        self,
        webserver_id: WebserverIdPath,
        data: NewWebserverBody,
        update_webserver: NamedDependency[UpdateWebserver],
    ) -> WebserverOut:
        """All settings at once: optional fields left out go back to their defaults."""
        changes = data.to_replacement()
        webserver = update_webserver.execute(webserver_id_of(webserver_id), changes)
        return WebserverOut.from_domain(webserver)

    @delete(
        "/{webserver_id:int}",
        sync_to_thread=True,
        summary="Remove a webserver and its history",
        responses=problem_responses(404, *_WRITE),
    )
    def remove(
        self, webserver_id: WebserverIdPath, remove_webserver: NamedDependency[RemoveWebserver]
    ) -> None:
        """Stop watching the webserver and delete every request it had."""
        remove_webserver.execute(webserver_id_of(webserver_id))

    @get(
        "/{webserver_id:int}/requests",
        sync_to_thread=True,
        summary="List a webserver's requests, newest first",
        responses=problem_responses(404, 422, *_READ),
    )
    def requests(
        self,
        *,
        webserver_id: WebserverIdPath,
        list_probe_history: NamedDependency[ListProbeHistory],
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: HistoryCursor = None,
        since: Since = None,
        until: Until = None,
    ) -> RequestPageOut:
        """The webserver's requests, newest first, optionally within since <= started_at < until."""
        before = None if cursor is None else decode_history_cursor(cursor)
        page = list_probe_history.execute(
            webserver_id_of(webserver_id),
            before=before,
            since=instant("since", since),
            until=instant("until", until),
            limit=limit,
        )
        return RequestPageOut(
            items=[RequestOut.from_domain(probe) for probe in page.items],
            next_cursor=None if page.next_cursor is None else encode_history_cursor(page.next_cursor),
        )
