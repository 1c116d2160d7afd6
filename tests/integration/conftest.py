"""Storage backends for the contract suite: each yields a factory of units of work on an empty store."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from healthmon.adapters.memory import InMemoryStore, InMemoryUnitOfWork
from healthmon.application.ports import UnitOfWork

UowFactory = Callable[[], UnitOfWork]


@pytest.fixture(params=["memory"])
def uow_factory(request: pytest.FixtureRequest) -> Iterator[UowFactory]:
    """A fresh, empty store on every backend; each call gives a new unit of work on it."""
    backend = request.param
    if backend == "memory":
        store = InMemoryStore()
        yield lambda: InMemoryUnitOfWork(store)
    else:  # pragma: no cover - guards a parametrization typo
        raise AssertionError(f"unknown backend {backend}")
