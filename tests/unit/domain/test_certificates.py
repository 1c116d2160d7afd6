"""Certificate expiry warnings: once per threshold per certificate, the tightest crossed first."""

from __future__ import annotations

from datetime import timedelta

import pytest

from healthmon.domain.certificates import ExpiryWarnings, days_left
from healthmon.domain.webserver import Webserver, WebserverChanges, WebserverId
from tests.factories import settings
from tests.fakes import EPOCH

WARNINGS = ExpiryWarnings((14, 7, 1))
EXPIRES_AT = EPOCH + timedelta(days=30)


@pytest.mark.parametrize(
    ("left", "warned", "due"),
    [
        (15, None, None),
        (14, None, 14),
        (13.5, 14, None),
        (7, 14, 7),
        (5, None, 7),
        (0.5, None, 1),
        (-2, 7, 1),
        (0.5, 1, None),
    ],
)
def test_due_is_the_tightest_threshold_crossed_not_yet_warned(
    left: float, warned: int | None, due: int | None
) -> None:
    assert WARNINGS.due(EXPIRES_AT, EXPIRES_AT - timedelta(days=left), warned) == due


def test_days_are_kept_widest_first() -> None:
    assert ExpiryWarnings((1, 30, 7)).days == (30, 7, 1)


@pytest.mark.parametrize("days", [(), (0,), (7, 7), (-1,)])
def test_unusable_days_are_refused(days: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="days"):
        ExpiryWarnings(days)


def test_days_left_rounds_down() -> None:
    assert days_left(EXPIRES_AT, EXPIRES_AT - timedelta(days=6, hours=23)) == 6
    assert days_left(EXPIRES_AT, EXPIRES_AT + timedelta(hours=1)) == -1


def webserver(**overrides: object) -> Webserver:
    return Webserver(
        id=WebserverId(1),
        settings=settings(),
        created_at=EPOCH,
        updated_at=EPOCH,
        **overrides,  # type: ignore[arg-type]
    )


def test_each_threshold_is_warned_once_per_certificate() -> None:
    server = webserver()
    dues = []
    for left in (20, 14, 13, 8, 7, 6, 1, 0.5):
        server, due = server.see_certificate(EXPIRES_AT, EXPIRES_AT - timedelta(days=left), WARNINGS)
        dues.append(due)
    assert dues == [None, 14, None, None, 7, None, 1, None]
    assert (server.tls_expires_at, server.tls_warned_days) == (EXPIRES_AT, 1)


def test_a_renewed_certificate_starts_its_warnings_over() -> None:
    server = webserver(tls_expires_at=EXPIRES_AT, tls_warned_days=1)
    renewed = EXPIRES_AT + timedelta(days=90)
    server, due = server.see_certificate(renewed, renewed - timedelta(days=60), WARNINGS)
    assert (due, server.tls_expires_at, server.tls_warned_days) == (None, renewed, None)
    server, due = server.see_certificate(renewed, renewed - timedelta(days=13), WARNINGS)
    assert due == 14


def test_seeing_the_same_certificate_with_nothing_due_returns_the_same_webserver() -> None:
    server = webserver(tls_expires_at=EXPIRES_AT, tls_warned_days=None)
    same, due = server.see_certificate(EXPIRES_AT, EXPIRES_AT - timedelta(days=20), WARNINGS)
    assert (same, due) == (server, None)
    assert same is server


def test_a_new_url_forgets_the_certificate() -> None:
    server = webserver(tls_expires_at=EXPIRES_AT, tls_warned_days=7)
    moved = server.reconfigure(WebserverChanges(url="https://elsewhere.test/"), EPOCH)
    assert (moved.tls_expires_at, moved.tls_warned_days) == (None, None)
    renamed = server.reconfigure(WebserverChanges(name="renamed"), EPOCH)
    assert (renamed.tls_expires_at, renamed.tls_warned_days) == (EXPIRES_AT, 7)
