"""The success rule of a probe: a 2xx status and a latency under the timeout, at most 60 s."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from healthmon.domain.ids import WebserverId
from healthmon.domain.probe import ErrorKind, ProbeResult, is_success
from tests.fakes import EPOCH

SERVER = WebserverId(1)


@pytest.mark.parametrize("status", [200, 201, 204, 299])
def test_a_2xx_in_time_is_a_success(status: int) -> None:
    assert is_success(status, 10.0, 60)


@pytest.mark.parametrize("status", [199, 300, 301, 404, 500, 503])
def test_any_other_status_is_a_failure(status: int) -> None:
    assert not is_success(status, 10.0, 60)


def test_latency_equal_to_the_timeout_is_a_failure() -> None:
    assert is_success(200, 4_999.9, 5)
    assert not is_success(200, 5_000.0, 5)


def test_sixty_seconds_is_the_ceiling_whatever_the_timeout() -> None:
    assert not is_success(200, 60_000.0, 120)
    assert is_success(200, 59_999.0, 120)


def test_no_response_is_never_a_success() -> None:
    assert not is_success(None, 1.0, 60)
    result = ProbeResult.failure(
        SERVER, started_at=EPOCH, latency_ms=1.0, kind=ErrorKind.DNS, message="no such host"
    )
    assert not result.success
    assert result.status_code is None


def test_response_factory_applies_the_rule() -> None:
    slow = ProbeResult.response(
        SERVER, started_at=EPOCH, latency_ms=2_000, status_code=200, timeout_seconds=1
    )
    assert not slow.success
    assert slow.error_kind is None


def test_start_times_are_kept_in_utc() -> None:
    paris = datetime(2026, 6, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    result = ProbeResult.response(SERVER, started_at=paris, latency_ms=1, status_code=200, timeout_seconds=60)
    assert result.started_at.utcoffset() == timedelta(0)
    assert result.started_at == paris


def test_a_naive_start_time_is_a_bug() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ProbeResult.response(
            SERVER, started_at=datetime(2026, 1, 1), latency_ms=1, status_code=200, timeout_seconds=60
        )


def test_a_result_has_a_status_or_an_error_kind_not_both() -> None:
    with pytest.raises(ValueError, match="either a status code or an error kind"):
        ProbeResult(SERVER, EPOCH, 1.0, status_code=200, success=False, error_kind=ErrorKind.TIMEOUT)
