"""The outbound policy: the most specific network decides, mapped IPv6 is IPv4, literals are judged."""

from __future__ import annotations

import pytest

from healthmon.domain.outbound import OutboundPolicy, blocked_message, parse_networks


def policy(deny: str = "", allow: str = "") -> OutboundPolicy:
    return OutboundPolicy(deny=parse_networks(deny), allow=parse_networks(allow))


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("169.254.169.254", False),
        ("fd00:ec2::254", False),
        ("::ffff:169.254.169.254", False),
        ("::ffff:a9fe:a9fe", False),
        ("169.254.169.253", True),
        ("10.0.0.1", True),
        ("127.0.0.1", True),
        ("::1", True),
    ],
)
def test_the_default_denies_only_the_cloud_metadata_addresses(address: str, allowed: bool) -> None:
    assert OutboundPolicy().allows(address) is allowed


def test_a_narrower_allow_opens_a_hole_in_a_denied_range() -> None:
    rule = policy(deny="10.0.0.0/8", allow="10.1.2.0/24")
    assert (rule.allows("10.1.2.3"), rule.allows("10.1.3.1"), rule.allows("8.8.8.8")) == (True, False, True)


def test_a_narrower_deny_wins_inside_an_allowed_range() -> None:
    rule = policy(deny="10.1.2.0/24", allow="10.0.0.0/8")
    assert (rule.allows("10.1.2.3"), rule.allows("10.9.9.9")) == (False, True)


def test_deny_everything_with_an_allow_list_permits_only_the_listed_networks() -> None:
    rule = policy(deny="0.0.0.0/0, ::/0", allow="192.0.2.0/24, 2001:db8::/32")
    assert [rule.allows(a) for a in ("192.0.2.9", "2001:db8::1", "198.51.100.1", "::1")] == [
        True,
        True,
        False,
        False,
    ]


def test_at_equal_prefix_length_deny_wins() -> None:
    assert not policy(deny="192.0.2.0/24", allow="192.0.2.0/24").allows("192.0.2.1")


def test_an_ipv4_mapped_address_is_judged_by_its_ipv4_networks() -> None:
    rule = policy(deny="127.0.0.0/8")
    assert not rule.allows("::ffff:127.0.0.1")
    assert rule.allows("::1")


def test_ipv6_networks_do_not_hold_ipv4_addresses() -> None:
    assert policy(deny="::/0").allows("192.0.2.1")


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("http://169.254.169.254/latest/", "169.254.169.254"),
        ("http://[fd00:ec2::254]:8080/", "fd00:ec2::254"),
        ("https://[::ffff:169.254.169.254]/", "::ffff:169.254.169.254"),
        ("json://169.254.169.254/path", "169.254.169.254"),
        ("http://user:pw@169.254.169.254/", "169.254.169.254"),
        ("http://metadata.google.internal/", None),
        ("slack://TokenA/TokenB/TokenC", None),
        ("http://10.0.0.1/", None),
        ("not a url", None),
    ],
)
def test_refused_host_names_a_denied_literal_and_never_a_name(url: str, refused: str | None) -> None:
    assert OutboundPolicy().refused_host(url) == refused


@pytest.mark.parametrize("text", ["10.0.0.0/33", "10.0.0.1/8", "example.com", "10.0.0.0/8; 10.1.0.0/16"])
def test_parse_networks_refuses_what_is_not_a_cidr_network(text: str) -> None:
    with pytest.raises(ValueError, match="CIDR"):
        parse_networks(text)


def test_parse_networks_reads_a_comma_separated_list_and_bare_addresses() -> None:
    assert [str(n) for n in parse_networks(" 10.0.0.0/8 ,, fd00::/8, 192.0.2.7 ")] == [
        "10.0.0.0/8",
        "fd00::/8",
        "192.0.2.7/32",
    ]
    assert parse_networks("") == ()


def test_the_blocked_message_writes_a_mapped_address_in_dotted_form() -> None:
    assert blocked_message("::ffff:7f00:2") == "blocked by the outbound network policy: ::ffff:127.0.0.2"
    assert blocked_message("169.254.169.254") == "blocked by the outbound network policy: 169.254.169.254"
