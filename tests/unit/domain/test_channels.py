"""Channel settings: the secret rule (one pattern, for the domain and the schema) and apprise URLs."""

from __future__ import annotations

import base64
import re

import pytest

from healthmon.domain.channels import SECRET_KEY_BYTES_RANGE, SECRET_PATTERN, ChannelKind, ChannelSettings
from healthmon.domain.errors import InvalidField
from healthmon.domain.patterns import ANY_URL_PATTERN


def webhook(secret: str) -> ChannelSettings:
    return ChannelSettings(kind=ChannelKind.WEBHOOK, url="https://receiver.test/", secret=secret)


@pytest.mark.parametrize("length", range(80))
def test_a_secret_is_the_base64_of_24_to_64_bytes(length: int) -> None:
    secret = "whsec_" + base64.b64encode(bytes(range(length))).decode()
    allowed = length in SECRET_KEY_BYTES_RANGE
    assert (re.fullmatch(SECRET_PATTERN, secret) is not None) is allowed
    if allowed:
        assert webhook(secret).secret == secret
    else:
        with pytest.raises(InvalidField):
            webhook(secret)


@pytest.mark.parametrize(
    "secret",
    [
        "whsec_" + "A" * 43,
        "whsec_" + "A" * 42 + "=",
        "whsec_" + "A" * 44 + "=",
        "WHSEC_" + "A" * 44,
        "whsec_" + "A" * 43 + "!",
    ],
)
def test_a_secret_with_bad_padding_or_characters_is_refused(secret: str) -> None:
    assert re.fullmatch(SECRET_PATTERN, secret) is None
    with pytest.raises(InvalidField):
        webhook(secret)


def test_an_apprise_url_may_hold_a_token_where_a_port_would_be() -> None:
    url = "tgram://123456789:AAE-token/chat"
    assert ChannelSettings(kind=ChannelKind.APPRISE, url=url).url == url
    with pytest.raises(InvalidField):
        ChannelSettings(kind=ChannelKind.WEBHOOK, url="https://receiver.test:AAE/")


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("slack://T000/B000/XXXX", True),
        ("mailto://user:pass@mail.test", True),
        ("json://localhost:8080/hook", True),
        ("slack://T000/B000 XXXX", False),
        ("slack://T000/\u200bB000", False),
        ("1slack://T000", False),
        ("no scheme", False),
    ],
)
def test_an_apprise_url_has_a_scheme_and_no_spaces_or_controls(url: str, allowed: bool) -> None:
    assert (re.fullmatch(ANY_URL_PATTERN, url) is not None) is allowed
    if allowed:
        assert ChannelSettings(kind=ChannelKind.APPRISE, url=url).url == url
    else:
        with pytest.raises(InvalidField):
            ChannelSettings(kind=ChannelKind.APPRISE, url=url)
