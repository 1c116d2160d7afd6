"""Fair shares among live workers: claim up to the share, hand back what is above it plus a slack."""

from __future__ import annotations

import pytest

from healthmon.application.monitoring.membership import RELEASE_SLACK, Membership, this_worker
from tests.fakes import EPOCH


@pytest.mark.parametrize(
    ("total", "workers", "share"),
    [(200, 3, 67), (200, 1, 200), (0, 2, 0), (5, 10, 1), (300, 3, 100)],
)
def test_the_share_is_the_total_divided_by_the_live_workers_rounded_up(
    total: int, workers: int, share: int
) -> None:
    assert Membership(total, workers).share == share


def test_a_worker_that_sees_no_live_worker_takes_everything() -> None:
    assert Membership(total=50, workers=0).wanted(held=0) == 50


def test_a_worker_below_its_share_claims_the_difference_and_hands_back_nothing() -> None:
    membership = Membership(total=200, workers=3)
    assert membership.wanted(held=60) == 7
    assert membership.surplus(held=60) == 0


def test_past_share_plus_slack_a_worker_hands_back_everything_above_its_share() -> None:
    membership = Membership(total=200, workers=2)
    assert membership.surplus(held=100 + RELEASE_SLACK) == 0
    assert membership.surplus(held=100 + RELEASE_SLACK + 1) == RELEASE_SLACK + 1
    assert membership.surplus(held=200) == 100
    assert membership.wanted(held=200) == 0


def test_shares_of_every_worker_cover_all_servers_within_twenty_percent() -> None:
    for total in range(1, 400):
        for workers in range(1, 6):
            share = Membership(total, workers).share
            assert share * workers >= total
            assert share <= total / workers * 1.2 or share - total / workers < 1


def test_each_worker_identity_is_new() -> None:
    first, second = this_worker(EPOCH), this_worker(EPOCH)
    assert first.id != second.id
    assert first.pid == second.pid
    assert first.started_at == EPOCH
    assert first.host
