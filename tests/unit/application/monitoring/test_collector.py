import gc
from collections.abc import Iterator

import pytest

from healthmon.application.monitoring.collector import FREEZE_FROM_SERVERS, CollectorFreeze


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def _frozen_after(collector: CollectorFreeze, servers: int) -> bool:
    gc.unfreeze()
    collector.held(servers)
    return gc.get_freeze_count() > 0


def test_a_small_schedule_freezes_nothing() -> None:
    assert not _frozen_after(CollectorFreeze(), FREEZE_FROM_SERVERS - 1)


def test_the_first_large_load_freezes() -> None:
    assert _frozen_after(CollectorFreeze(), FREEZE_FROM_SERVERS)


def test_it_freezes_again_only_once_the_schedule_has_doubled() -> None:
    collector = CollectorFreeze()
    collector.held(5000)
    assert not _frozen_after(collector, 9999)
    assert _frozen_after(collector, 10_000)
    assert not _frozen_after(collector, 5000)
