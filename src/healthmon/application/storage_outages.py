"""Outages of the store as the API meets them: one line when one starts, one when it ends."""

from __future__ import annotations

import logging
import threading
import time

from healthmon.application.errors import StorageUnavailable

logger = logging.getLogger(__name__)


class OutageLog:
    """Logs the first refusal of an outage and, once any unit of work gets an answer, its end.

    - `refused` is called for every request answered 503 because the store is out; only the first
      of an outage is logged, the others are counted.
    - `answered` is called whenever the store answered a unit of work; the first call after a
      refusal logs the end of the outage, how long it lasted and how many requests were refused.
    - Safe to call from any thread (HTTP handlers run on a pool).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._refused = 0
        self._since = 0.0

    @property
    def refused(self) -> int:
        """How many requests the outage under way has refused (0 when none is)."""
        return self._refused

    def refuse(self, exc: StorageUnavailable) -> None:
        """A request was answered 503 because the store did not answer."""
        with self._lock:
            self._refused += 1
            if self._refused > 1:
                return
            self._since = time.monotonic()
        logger.warning("%s; answering 503 with Retry-After until it is back", exc)

    def answered(self) -> None:
        """The store answered a unit of work."""
        if not self._refused:  # the common case, read without the lock: a stale 0 only delays the line
            return
        with self._lock:
            refused, self._refused = self._refused, 0
            lasted = time.monotonic() - self._since
        if refused:
            logger.warning(
                "database reachable again after %.0f s; %d requests were refused with 503 meanwhile",
                lasted,
                refused,
            )
