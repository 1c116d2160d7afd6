"""The statistics endpoints: one webserver's window (/webservers/{id}/stats) and every webserver's (/stats).

Windows are `from <= started_at < to`; the rules on them (a timezone, from before to, at most 400
days) are the domain's, so a window that breaks one is a 422 naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Final

from litestar import Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, Operation, Schema
from litestar.openapi.spec.enums import OpenAPIType
from litestar.params import QueryParameter

from healthmon.application.use_cases.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from healthmon.application.use_cases.statistics import GetWebserverStats, ListWebserverStats
from healthmon.domain.rollups import Granularity
from healthmon.domain.statistics import MAX_WINDOW
from healthmon.entrypoints.http.cursors import LIST_CURSOR_PATTERN, decode_list_cursor, encode_list_cursor
from healthmon.entrypoints.http.schemas import DATE_TIME_PATTERN, instant, problem_responses
from healthmon.entrypoints.http.stats_schemas import StatsOut, WebserverStatsPageOut, csv_lines
from healthmon.entrypoints.http.webservers import WebserverIdPath, webserver_id_of

_READ: Final = (400, 401, 422, 500, 503)
CSV_MEDIA_TYPE: Final = "text/csv"  # Litestar adds "; charset=utf-8"

_TIME_RULES: Final = (
    "RFC 3339 with a timezone (`Z`, or an offset: `+00:00` written as `%2B00:00`); in the years 0001 "
    f"and 9999 only UTC. `from` must be before `to`, and at most {MAX_WINDOW.days} days before it (422 "
    "otherwise)."
)
_TIME_SCHEMA: Final = {"format": "date-time", "pattern": DATE_TIME_PATTERN}
From = Annotated[
    str | None,
    QueryParameter(
        name="from",
        description=f"The window's start (probes started at or after it); default: `to` - 24 h. "
        f"{_TIME_RULES}",
        schema_extra=_TIME_SCHEMA,
    ),
]
To = Annotated[
    str | None,
    QueryParameter(
        description=f"The window's end (probes started before it); default: now. {_TIME_RULES}",
        schema_extra=_TIME_SCHEMA,
    ),
]
Bucket = Annotated[
    Granularity,
    QueryParameter(
        description="Split the window into UTC hours or days (`buckets`, the first and last clipped to "
        "the window, their counts adding up to the totals); `none` leaves `buckets` empty."
    ),
]


class StatsFormat(StrEnum):
    """How GET /stats answers: a JSON page, or every webserver at once as CSV."""

    JSON = "json"
    CSV = "csv"


Format = Annotated[
    StatsFormat,
    QueryParameter(
        description="`json`: one page of webservers (`limit`, `cursor`); `csv`: every webserver at once, as "
        "`text/csv` with a header line (`limit` and `cursor` are ignored; missing values are empty)."
    ),
]
Limit = Annotated[
    int,
    QueryParameter(
        description=f"How many webservers a JSON page holds, from 1 to {MAX_PAGE_SIZE}.",
        schema_extra={"minimum": 1, "maximum": MAX_PAGE_SIZE},
    ),
]
Cursor = Annotated[
    str | None,
    QueryParameter(
        description="The `next_cursor` of the previous JSON page; leave out for the first page.",
        schema_extra={"pattern": LIST_CURSOR_PATTERN},
    ),
]


@get(
    "/webservers/{webserver_id:int}/stats",
    sync_to_thread=True,
    tags=["statistics"],
    summary="A webserver's uptime, latency and health over a window",
    responses=problem_responses(404, *_READ),
)
def webserver_stats(
    *,
    webserver_id: WebserverIdPath,
    get_webserver_stats: NamedDependency[GetWebserverStats],
    from_: From = None,
    to: To = None,
    bucket: Bucket = Granularity.NONE,
) -> StatsOut:
    """Probes, successes and uptime of the window; latency percentiles of the probes that got a response
    (within 1 %, from rollups; max exact); seconds in each health state; incidents (changes into
    unhealthy); and, when asked, the same per UTC hour or day."""
    stats = get_webserver_stats.execute(
        webserver_id_of(webserver_id),
        start=instant("from", from_),
        end=instant("to", to),
        granularity=bucket,
    )
    return StatsOut.from_domain(stats)


@dataclass
class _StatsOperation(Operation):
    """GET /stats answers JSON or CSV: the schema lists both media types of its 200."""

    def __post_init__(self) -> None:
        success = (self.responses or {}).get("200")
        if isinstance(success, OpenAPIResponse) and success.content is not None:
            success.content[CSV_MEDIA_TYPE] = OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING))


@get(
    "/stats",
    sync_to_thread=True,
    tags=["statistics"],
    summary="Every webserver's uptime, latency and incidents over a window (JSON pages or CSV)",
    operation_class=_StatsOperation,
    responses={
        200: ResponseSpec(
            data_container=WebserverStatsPageOut,
            generate_examples=False,
            description="A page of webservers (JSON), or every webserver (CSV, with format=csv).",
        ),
        **problem_responses(*_READ),
    },
)
def all_stats(
    *,
    list_webserver_stats: NamedDependency[ListWebserverStats],
    from_: From = None,
    to: To = None,
    format: Format = StatsFormat.JSON,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Response[Any]:
    """One row per webserver, in id order: probes, successes, uptime, p50/p95/p99 (ms), incidents and
    seconds per health state, over one window (for SLA reports)."""
    window = list_webserver_stats.window(instant("from", from_), instant("to", to))
    if format is StatsFormat.CSV:
        parts: list[str] = []
        after = None
        while True:
            page = list_webserver_stats.execute(window, after=after, limit=MAX_PAGE_SIZE)
            parts.append(csv_lines(WebserverStatsPageOut.rows_of(page), header=not parts))
            if page.next_cursor is None:
                break
            after = page.next_cursor
        return Response("".join(parts).encode(), media_type=CSV_MEDIA_TYPE)
    page = list_webserver_stats.execute(
        window, after=None if cursor is None else decode_list_cursor(cursor), limit=limit
    )
    body = WebserverStatsPageOut(
        from_=window.start,
        to=window.end,
        items=WebserverStatsPageOut.rows_of(page),
        next_cursor=None if page.next_cursor is None else encode_list_cursor(page.next_cursor),
    )
    return Response(body)


__all__ = ["CSV_MEDIA_TYPE", "StatsFormat", "all_stats", "webserver_stats"]
