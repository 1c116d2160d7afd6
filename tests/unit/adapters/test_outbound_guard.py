"""The guard's resolver keeps only allowed addresses; its socket factory refuses a denied one."""

from __future__ import annotations

import socket

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from healthmon.adapters.outbound_guard import BlockedAddress, PolicyResolver, guarded_socket_factory
from healthmon.domain.outbound import OutboundPolicy, parse_networks

POLICY = OutboundPolicy(deny=parse_networks("10.0.0.0/8"))


class FakeAnswers(AbstractResolver):
    """Answers every name with the same addresses."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = addresses

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(hostname=host, host=address, port=port, family=family, proto=0, flags=0)
            for address in self.addresses
        ]

    async def close(self) -> None:
        """Nothing to release."""


async def test_denied_addresses_are_dropped_from_an_answer_and_the_rest_kept_in_order() -> None:
    resolver = PolicyResolver(FakeAnswers("10.0.0.1", "192.0.2.1", "::ffff:10.0.0.2", "192.0.2.2"), POLICY)
    assert [entry["host"] for entry in await resolver.resolve("mixed.test", 80)] == ["192.0.2.1", "192.0.2.2"]


async def test_an_answer_with_only_denied_addresses_is_refused_naming_the_first() -> None:
    resolver = PolicyResolver(FakeAnswers("10.0.0.1", "10.0.0.2"), POLICY)
    with pytest.raises(BlockedAddress) as refused:
        await resolver.resolve("internal.test", 80)
    assert refused.value.address == "10.0.0.1"
    assert str(refused.value) == "[Errno 13] blocked by the outbound network policy: 10.0.0.1"


def test_the_socket_factory_refuses_a_denied_address_before_any_socket_exists() -> None:
    factory = guarded_socket_factory(POLICY)
    with pytest.raises(BlockedAddress):
        factory((socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("10.1.2.3", 80)))
    with factory((socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("192.0.2.1", 80))) as opened:
        assert opened.family == socket.AF_INET
