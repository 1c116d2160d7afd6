"""A started process collects its youngest generation rarely, and leaves the older thresholds alone."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from healthmon.entrypoints.garbage_collector import YOUNG_GENERATION_THRESHOLD, settle_collector


@pytest.fixture
def collector_as_it_was() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("collector_as_it_was")
def test_start_up_objects_are_frozen_and_young_collections_are_rare() -> None:
    _, middle, oldest = gc.get_threshold()
    frozen_before = gc.get_freeze_count()
    held = [[n] for n in range(1000)]
    settle_collector()
    assert gc.get_threshold() == (YOUNG_GENERATION_THRESHOLD, middle, oldest)
    # What was alive (these lists among it) is out of the collector's way.
    assert gc.get_freeze_count() >= frozen_before + len(held)
