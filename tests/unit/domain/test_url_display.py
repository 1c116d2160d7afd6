"""URLs as people see them: a password in the userinfo is masked, nothing else changes."""

from __future__ import annotations

import pytest

from healthmon.domain.errors import WebserverAlreadyRegistered
from healthmon.domain.url_display import display_url
from healthmon.domain.webserver import WebserverChanges
from tests.factories import settings


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://user:s3cr3t@host/", "http://user:***@host/"),
        ("https://user:s3cr3t@host:8443/health?q=1#top", "https://user:***@host:8443/health?q=1#top"),
        ("http://user:a:b%40c@host", "http://user:***@host"),
        ("http://user:@host/", "http://user:***@host/"),
        ("http://a%40b:pw@[::1]:8080/", "http://a%40b:***@[::1]:8080/"),
        ("HTTP://User:Pw@Host/", "HTTP://User:***@Host/"),
        # No password: nothing to hide.
        ("http://user@host/", "http://user@host/"),
        ("http://host/", "http://host/"),
        # A ':' or '@' after the authority is not userinfo.
        ("http://host/path?u=a:b@c", "http://host/path?u=a:b@c"),
        ("http://host?u=a:b@c", "http://host?u=a:b@c"),
        ("http://host#a:b@c", "http://host#a:b@c"),
        ("not a url", "not a url"),
    ],
)
def test_display_url_masks_only_the_password(url: str, shown: str) -> None:
    assert display_url(url) == shown


def test_settings_show_their_url_masked_and_keep_it_whole() -> None:
    chosen = settings(url="http://user:s3cr3t@host/")

    assert chosen.display_url == "http://user:***@host/"
    assert chosen.url == "http://user:s3cr3t@host/", "the prober needs the password"


def test_a_url_written_back_as_shown_keeps_the_stored_password() -> None:
    current = settings(url="http://user:s3cr3t@host/")

    assert WebserverChanges(url="http://user:***@host/").apply_to(current).url == "http://user:s3cr3t@host/"
    assert WebserverChanges(url="http://user:new@host/").apply_to(current).url == "http://user:new@host/"
    assert WebserverChanges(url="http://other:***@host/").apply_to(current).url == "http://other:***@host/"


def test_the_duplicate_url_error_does_not_reveal_the_password() -> None:
    error = WebserverAlreadyRegistered("http://user:s3cr3t@host/")

    assert "s3cr3t" not in str(error)
    assert "http://user:***@host/" in str(error)
    assert error.url == "http://user:s3cr3t@host/"
