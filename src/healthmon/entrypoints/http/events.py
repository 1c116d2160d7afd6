"""The /events feed: every health change, oldest first, read on from an opaque cursor.

A poller keeps the `next_cursor` of each answer and passes it back as `after`: it never misses nor
repeats an event, and an idle feed answers an empty page with the same cursor.
"""

from __future__ import annotations

from typing import Annotated, Final

from litestar import get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from healthmon.application.use_cases.events import ListEvents
from healthmon.application.use_cases.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from healthmon.domain.errors import InvalidField
from healthmon.domain.webserver import WebserverId
from healthmon.entrypoints.http.cursors import (
    MAX_WEBSERVER_ID,
    SEQUENCE_CURSOR_PATTERN,
    decode_event_cursor,
    encode_event_cursor,
)
from healthmon.entrypoints.http.schemas import EventFeedOut, EventOut, problem_responses

_READ: Final = (400, 401, 422, 500, 503)

After = Annotated[
    str | None,
    QueryParameter(
        description="The `next_cursor` of the previous answer: only events that came after it. Leave out "
        "to read from the first event. Pass back what you were given: any string of this pattern is a "
        "position, and one beyond every event gives an empty page.",
        schema_extra={"pattern": SEQUENCE_CURSOR_PATTERN},
    ),
]
FeedLimit = Annotated[
    int,
    QueryParameter(
        description=f"How many events a page holds at most, from 1 to {MAX_PAGE_SIZE}.",
        schema_extra={"minimum": 1, "maximum": MAX_PAGE_SIZE},
    ),
]
WebserverFilter = Annotated[
    int | None,
    QueryParameter(
        description="Only the events of this webserver (also once it has been removed).",
        schema_extra={"minimum": 1, "maximum": MAX_WEBSERVER_ID},
    ),
]


def _webserver_filter(value: int | None) -> WebserverId | None:
    if value is None:
        return None
    if not 1 <= value <= MAX_WEBSERVER_ID:
        raise InvalidField.single("webserver_id", f"must be a webserver id from 1 to {MAX_WEBSERVER_ID}")
    return WebserverId(value)


@get(
    "/events",
    sync_to_thread=True,
    tags=["events"],
    summary="Read the feed of health events, oldest first",
    responses=problem_responses(*_READ),
)
def list_events(
    *,
    list_events: NamedDependency[ListEvents],
    after: After = None,
    webserver_id: WebserverFilter = None,
    limit: FeedLimit = DEFAULT_PAGE_SIZE,
) -> EventFeedOut:
    """Health events after the cursor; next_cursor is always given: pass it back to read what came since."""
    feed = list_events.execute(
        after=None if after is None else decode_event_cursor(after),
        webserver_id=_webserver_filter(webserver_id),
        limit=limit,
    )
    return EventFeedOut(
        items=[EventOut.from_domain(event) for event in feed.items],
        next_cursor=encode_event_cursor(feed.position),
    )
