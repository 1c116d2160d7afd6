"""Webserver settings validation, reconfiguration and health recording."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from healthmon.domain.errors import InvalidField
from healthmon.domain.health import HealthState, HealthStateMachine
from healthmon.domain.webserver import Webserver, WebserverChanges, WebserverId, WebserverSettings
from tests.factories import failed, settings, succeeded
from tests.fakes import EPOCH


def webserver(**overrides: object) -> Webserver:
    return Webserver(id=WebserverId(7), settings=settings(**overrides), created_at=EPOCH, updated_at=EPOCH)


def test_defaults_sample_every_minute_with_a_sixty_second_timeout() -> None:
    chosen = WebserverSettings(name="site", url="https://example.com")
    assert (chosen.interval_seconds, chosen.timeout_seconds) == (60, 60)
    assert (chosen.healthy_threshold, chosen.unhealthy_threshold) == (5, 3)
    assert chosen.follow_redirects
    assert chosen.verify_tls
    assert not chosen.public


def test_name_is_trimmed() -> None:
    assert settings(name="  api  ").name == "api"
    assert settings(name="\u2028api\n\u3000").name == "api"


@pytest.mark.parametrize(
    ("url", "stored"),
    [
        ("http://example.com/", "http://example.com/"),
        ("https://example.com:8443/health?full=1", "https://example.com:8443/health?full=1"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080/"),
        ("http://[::1]:8080/", "http://[::1]:8080/"),
        ("http://[2001:DB8::1.2.3.4]/", "http://[2001:db8::1.2.3.4]/"),
        ("http://user:Secret@example.com/", "http://user:Secret@example.com/"),
        ("https://xn--bcher-kva.example/", "https://xn--bcher-kva.example/"),
        ("http://my_service.internal./", "http://my_service.internal./"),
        ("http://" + "a" * 63 + ".test/", "http://" + "a" * 63 + ".test/"),
        ("http://example.com/ü?q=ä", "http://example.com/ü?q=ä"),
    ],
)
def test_accepts_absolute_http_urls(url: str, stored: str) -> None:
    assert settings(url=url).url == stored


@pytest.mark.parametrize(
    ("url", "stored"),
    [
        ("HTTPS://EXAMPLE.COM/Health", "https://example.com/Health"),
        ("http://example.com:80/", "http://example.com/"),
        ("https://example.com:443/", "https://example.com/"),
        ("http://example.com:443/", "http://example.com:443/"),
        ("http://example.com/#top", "http://example.com/"),
        ("http://example.com/a?b#", "http://example.com/a?b"),
        ("http://example.com", "http://example.com/"),
        ("http://example.com?q", "http://example.com/?q"),
        ("HTTP://Example.COM:80#x", "http://example.com/"),
    ],
)
def test_urls_are_stored_in_one_spelling(url: str, stored: str) -> None:
    assert settings(url=url).url == stored
    assert settings(url=stored).url == stored


def test_a_change_to_another_spelling_of_the_url_keeps_health() -> None:
    current, _ = webserver(url="http://same.test/").record(succeeded(WebserverId(7), EPOCH))
    respelled = current.reconfigure(WebserverChanges(url="HTTP://SAME.test:80/#x"), EPOCH + timedelta(1))
    assert respelled is current


@pytest.mark.parametrize(
    ("url"),
    [
        "ftp://example.com/file",
        "http://",
        "HTTP://",
        "not a url",
        "example.com",
        "/relative/path",
        "http://exa mple.com",
        "http://example.com/\x00",
        "http://example.com/\u2028",
        "http://example.com:99999/",
        "http://example.com:0/",
        "http://example.com:port/",
        "http://example.com:/",
        "javascript:alert(1)",
        "",
        "http://example.com/" + "a" * 2048,
        42,
        None,
    ],
)
def test_rejects_anything_but_an_absolute_http_url(url: object) -> None:
    with pytest.raises(InvalidField) as raised:
        settings(url=url)
    assert raised.value.field == "url"
    assert "url" in str(raised.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://./x",
        "http://a..b/",
        "http://.example/",
        "http://" + "a" * 64 + ".test/",
        "http://\u2488.example/",  # encodes (IDNA 2003) to "1..example", an empty label
        "https://bücher.example/",  # accepted in its xn-- form only
        "http://xn--zz.test/",  # not punycode
        "http://exa%6dple.com/",
        "http://[1::2::3]/",
        "http://[::1%25eth0]/",
        "http://[127.0.0.1]/",
    ],
)
def test_rejects_a_host_name_that_is_not_ascii_idna(url: str) -> None:
    with pytest.raises(InvalidField, match="url must name its host by dot-separated labels"):
        settings(url=url)


def test_a_ten_thousand_character_name_is_rejected() -> None:
    with pytest.raises(InvalidField, match="name must be 1 to 200 characters"):
        settings(name="n" * 10_000)


def test_two_hundred_characters_is_the_longest_name() -> None:
    assert len(settings(name="n" * 200).name) == 200


@pytest.mark.parametrize("field", ["interval_seconds", "timeout_seconds"])
@pytest.mark.parametrize("value", [0, 61, -5, 1.5, "10", True, None])
def test_intervals_and_timeouts_must_be_one_to_sixty(field: str, value: object) -> None:
    with pytest.raises(InvalidField) as raised:
        settings(**{field: value})
    assert raised.value.field == field
    assert "from 1 to 60" in str(raised.value)


@pytest.mark.parametrize("field", ["interval_seconds", "timeout_seconds"])
@pytest.mark.parametrize("value", [1, 60])
def test_one_and_sixty_seconds_are_allowed(field: str, value: int) -> None:
    assert getattr(settings(**{field: value}), field) == value


@pytest.mark.parametrize("field", ["healthy_threshold", "unhealthy_threshold"])
@pytest.mark.parametrize("value", [0, 101, "3", False])
def test_thresholds_must_be_one_to_a_hundred(field: str, value: object) -> None:
    with pytest.raises(InvalidField) as raised:
        settings(**{field: value})
    assert raised.value.field == field


@pytest.mark.parametrize("field", ["follow_redirects", "verify_tls", "public"])
def test_switches_must_be_booleans(field: str) -> None:
    with pytest.raises(InvalidField) as raised:
        settings(**{field: "yes"})
    assert raised.value.field == field


def test_every_broken_field_is_reported_at_once() -> None:
    with pytest.raises(InvalidField) as raised:
        WebserverSettings(name="", url="ftp://x", interval_seconds=0, timeout_seconds=99)
    assert [problem.field for problem in raised.value.problems] == [
        "name",
        "url",
        "interval_seconds",
        "timeout_seconds",
    ]


def test_partial_changes_keep_untouched_fields() -> None:
    current = webserver(interval_seconds=10)
    later = EPOCH + timedelta(hours=1)
    changed = current.reconfigure(WebserverChanges(name="renamed"), later)
    assert changed.settings == settings(name="renamed", interval_seconds=10)
    assert changed.updated_at == later
    assert changed.created_at == EPOCH


def test_invalid_changes_raise_and_leave_the_webserver_as_it_was() -> None:
    current = webserver()
    with pytest.raises(InvalidField):
        current.reconfigure(WebserverChanges(timeout_seconds=0), EPOCH + timedelta(hours=1))
    assert current == webserver()


def test_no_real_change_is_not_an_update() -> None:
    current = webserver()
    assert current.reconfigure(WebserverChanges(name=current.settings.name), EPOCH + timedelta(1)) is current


def test_a_new_url_resets_health_to_unknown() -> None:
    healthy = webserver()
    for second in range(5):
        healthy, _ = healthy.record(succeeded(healthy.id, EPOCH + timedelta(seconds=second)))
    assert healthy.state is HealthState.HEALTHY
    later = EPOCH + timedelta(hours=1)
    moved = healthy.reconfigure(WebserverChanges(url="http://elsewhere.test/"), later)
    assert moved.health == HealthStateMachine()
    assert moved.health_changed_at == later


def test_other_changes_keep_health_and_streaks() -> None:
    current, _ = webserver().record(succeeded(WebserverId(7), EPOCH))
    renamed = current.reconfigure(WebserverChanges(name="renamed", healthy_threshold=2), EPOCH)
    assert renamed.health == current.health


def test_recording_uses_the_servers_own_thresholds() -> None:
    current = webserver(unhealthy_threshold=1)
    after, transition = current.record(failed(current.id, EPOCH + timedelta(seconds=3)))
    assert transition.changed
    assert after.state is HealthState.UNHEALTHY
    assert after.health_changed_at == EPOCH + timedelta(seconds=3)
    assert after.last_checked_at == EPOCH + timedelta(seconds=3)


def test_a_result_without_a_change_keeps_the_change_time() -> None:
    current, _ = webserver(unhealthy_threshold=1).record(failed(WebserverId(7), EPOCH))
    after, transition = current.record(failed(WebserverId(7), EPOCH + timedelta(seconds=60)))
    assert not transition.changed
    assert after.health_changed_at == EPOCH
    assert after.last_checked_at == EPOCH + timedelta(seconds=60)


def test_every_setting_can_be_changed_and_only_settings() -> None:
    changeable = [field.name for field in dataclasses.fields(WebserverChanges)]
    assert changeable == [field.name for field in dataclasses.fields(WebserverSettings)]
