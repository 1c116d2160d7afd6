"""The name and URL patterns say exactly what WebserverSettings accepts, as Python reads Unicode."""

from __future__ import annotations

import ipaddress
import re
import sys
import unicodedata
from urllib.parse import urlsplit

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from healthmon.domain.errors import InvalidField
from healthmon.domain.patterns import CONTROL_CHARACTERS, NAME_PATTERN, SPACE_CHARACTERS, URL_PATTERN
from healthmon.domain.webserver import WebserverSettings

NAME = re.compile(NAME_PATTERN)
URL = re.compile(URL_PATTERN)
# Characters at the edges of each rule, mixed into generated text so that it meets them often.
EDGES = "\t\n\x1f \x7f\x85\xa0\xad\u061c\u1680\u200b\u2028\u2029\u202e\u3000\ufeff\U000e0001aZ0é-_.:/?#@[]%"


def code_points(ranges: tuple[tuple[int, int], ...]) -> set[int]:
    return {code for first, last in ranges for code in range(first, last + 1)}


def test_the_character_lists_match_this_pythons_unicode_database() -> None:
    controls, spaces = set(), set()
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if unicodedata.category(char) in {"Cc", "Cf", "Zl", "Zp"}:
            controls.add(code)
        if char.isspace():
            spaces.add(code)
    assert code_points(CONTROL_CHARACTERS) == controls
    assert code_points(SPACE_CHARACTERS) == spaces


def name_is_accepted(name: str) -> bool:
    try:
        WebserverSettings(name=name, url="http://a.test/")
    except InvalidField:
        return False
    return True


@given(st.text(alphabet=st.sampled_from(EDGES) | st.characters(), max_size=210))
@example(" " + "x" * 200 + " ")
@example("x" * 201)
@example("a\u2028")
@settings(max_examples=500)
def test_a_name_is_accepted_exactly_when_it_matches_the_pattern(name: str) -> None:
    assert name_is_accepted(name) == (NAME.fullmatch(name) is not None)


@given(st.from_regex(NAME, fullmatch=True))
def test_every_name_the_pattern_describes_is_accepted(name: str) -> None:
    assert name_is_accepted(name)


def stored_url(url: str) -> str | None:
    try:
        return WebserverSettings(name="n", url=url).url
    except InvalidField:
        return None


@given(st.from_regex(URL, fullmatch=True).filter(lambda url: "xn--" not in url.lower()))
@settings(max_examples=100)
def test_every_url_the_pattern_describes_is_accepted_and_stays_what_the_prober_can_use(url: str) -> None:
    stored = stored_url(url)
    assert stored is not None
    assert stored_url(stored) == stored
    parts = urlsplit(stored)
    assert parts.scheme in {"http", "https"}
    assert parts.hostname is not None
    assert not parts.fragment
    if not parts.hostname.startswith("[") and ":" not in parts.hostname:
        parts.hostname.encode("idna")  # what the prober's URL library does with it


@given(
    st.text(alphabet=st.sampled_from(EDGES) | st.characters(codec="ascii"), max_size=40).map(
        lambda rest: "http://" + rest
    )
)
@example("http://a.test:65535/")
@example("http://a.test:65536/")
@example("http://[::ffff:1.2.3.4]/")
@settings(max_examples=500)
def test_a_url_is_accepted_exactly_when_it_matches_the_pattern(url: str) -> None:
    assert (stored_url(url) is not None) == (URL.fullmatch(url) is not None)


@given(st.ip_addresses(v=6))
def test_every_ipv6_address_is_a_host(address: ipaddress.IPv6Address) -> None:
    for spelling in (address.compressed, address.exploded):
        assert stored_url(f"http://[{spelling}]/") == f"http://[{spelling}]/"


@pytest.mark.parametrize(
    "host", ["1:2:3:4:5:6:7", "1::2::3", ":::", "1:2:3:4:5:6:7:8:9", "::1.2.3.04", "g::1"]
)
def test_a_bracketed_host_that_is_no_ipv6_address_is_refused(host: str) -> None:
    assert stored_url(f"http://[{host}]/") is None
