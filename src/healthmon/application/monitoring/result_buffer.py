"""Probe results waiting to be stored: in order, bounded, never lost before they are written."""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass

from healthmon.domain.probe import ProbeResult


@dataclass(frozen=True, slots=True)
class BufferedResult:
    """A result waiting to be stored: its mark, and the lease epoch its probe started under."""

    mark: int
    result: ProbeResult
    epoch: int


class ResultBuffer:
    """A bounded FIFO of results; past the bound the oldest are dropped and counted.

    Writers peek at the head, store it, and only then discard it, so a failed write loses nothing.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the buffer must hold at least one result")
        self._entries: deque[BufferedResult] = deque()
        self._limit = limit
        self._sequence = itertools.count()
        self._last_mark = -1
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, result: ProbeResult, epoch: int) -> None:
        """Queue a result taken under a lease epoch; when full, forget the oldest one."""
        if len(self._entries) >= self._limit:
            self._entries.popleft()
            self.dropped += 1
        self._last_mark = next(self._sequence)
        self._entries.append(BufferedResult(self._last_mark, result, epoch))

    @property
    def last_mark(self) -> int:
        """The mark of the newest result ever queued (-1 before the first)."""
        return self._last_mark

    def holds_through(self, mark: int) -> bool:
        """Whether any result up to the mark still waits to be stored."""
        return bool(self._entries) and self._entries[0].mark <= mark

    def peek(self, count: int) -> list[BufferedResult]:
        """The oldest `count` results, each with the mark that discards it once stored."""
        return list(itertools.islice(self._entries, count))

    def discard_through(self, mark: int) -> None:
        """Forget every result up to the mark (some may already have been dropped)."""
        while self._entries and self._entries[0].mark <= mark:
            self._entries.popleft()
