"""Use cases that read one webserver's probe history."""

from __future__ import annotations

from datetime import datetime

from healthmon.application.ports import HistoryCursor, UnitOfWork
from healthmon.application.use_cases.paging import DEFAULT_PAGE_SIZE, Page, check_limit
from healthmon.application.use_cases.webservers import require_webserver
from healthmon.domain.errors import InvalidField
from healthmon.domain.probe import RecordedProbe
from healthmon.domain.webserver import WebserverId


class ListProbeHistory:
    """List one webserver's probe results (its requests).

    - Newest first, by probe start time then id.
    - Optional time range: since <= started_at < until (empty when since is not before until).
    - Keyset pagination: pages tile the history with no gaps or repeats.
    - An unknown webserver raises WebserverNotFound (an empty history is a valid answer).
    """

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def execute(
        self,
        webserver_id: WebserverId,
        *,
        before: HistoryCursor | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
    ) -> Page[RecordedProbe, HistoryCursor]:
        """One page of the webserver's history, older than `before`."""
        check_limit(limit)
        for field, moment in (("since", since), ("until", until)):
            if moment is not None and moment.tzinfo is None:
                raise InvalidField.single(field, "must include a timezone")
        with self._uow as uow:
            require_webserver(uow.webservers.get(webserver_id), webserver_id)
            rows = uow.probe_results.history(
                webserver_id, before=before, since=since, until=until, limit=limit + 1
            )
        items = rows[:limit]
        last = items[-1] if len(rows) > limit else None
        return Page(items, None if last is None else HistoryCursor(last.result.started_at, last.id))
