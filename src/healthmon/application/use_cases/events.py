"""Use cases that read the health events feed."""

from __future__ import annotations

from dataclasses import dataclass

from healthmon.application.ports import UnitOfWork
from healthmon.application.use_cases.paging import DEFAULT_PAGE_SIZE, check_limit
from healthmon.domain.events import RecordedEvent
from healthmon.domain.webserver import WebserverId

# The position before the first event: sequences start at 1.
FEED_START = 0


@dataclass(frozen=True, slots=True)
class EventFeed:
    """One page of the feed and the position to read on from (there is always one)."""

    items: list[RecordedEvent]
    position: int


class ListEvents:
    """Read the health events feed, oldest first.

    - Only health events: a test event goes to its channel, never to the feed.
    - Events come in sequence order, which is commit order, so a reader that passes back the
      position it was given never misses or repeats an event, however often it polls.
    - The position is the last item's sequence; on an empty page it is the one passed in (the
      start of the feed when none was), so polling an idle feed stays where it is.
    - Optionally one webserver's events, also after that webserver was removed (they are history).
    - A page holds 1 to 1000 events.
    """

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def execute(
        self,
        *,
        after: int | None = None,
        webserver_id: WebserverId | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
    ) -> EventFeed:
        """The events after this position."""
        check_limit(limit)
        with self._uow as uow:
            items = uow.events.feed(after=after, webserver_id=webserver_id, limit=limit)
        position = items[-1].sequence if items else (FEED_START if after is None else after)
        return EventFeed(items, position)
