"""Keyset pagination shared by the listing use cases: page sizes and the page type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from healthmon.domain.errors import InvalidField

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000

ItemT = TypeVar("ItemT")
CursorT = TypeVar("CursorT")


@dataclass(frozen=True, slots=True)
class Page(Generic[ItemT, CursorT]):
    """One page of a keyset-paginated listing; next_cursor is None on the last page."""

    items: list[ItemT]
    next_cursor: CursorT | None


def check_limit(limit: int) -> None:
    """Refuse a page size outside 1..MAX_PAGE_SIZE."""
    if type(limit) is not int or not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidField.single("limit", f"must be an integer from 1 to {MAX_PAGE_SIZE}")
