"""The outbound policy enforced where aiohttp connects: on resolved addresses and on every socket opened.

Checking the URL's text would let DNS rebinding (a name that resolves to a public address when checked and
to 169.254.169.254 when connected) and redirects slip past. So the policy is applied twice, inside the
connector, to what it is about to connect to:

- the resolver drops denied addresses from each answer (and fails the lookup when none is left), so a
  host with one allowed address still works and a refused one names the address;
- the socket factory refuses a denied address before the socket exists: every connection aiohttp
  opens, to a name's address or to a literal one (which never reaches a resolver), on every redirect.
"""

from __future__ import annotations

import errno
import functools
import socket
from collections.abc import Callable
from typing import Any

from aiohttp.abc import AbstractResolver, ResolveResult

from healthmon.domain.outbound import OutboundPolicy, blocked_message

# Distinct addresses whose decisions are remembered; far more than the hosts one process talks to.
DECISION_CACHE_SIZE = 4096


def cached_decisions(policy: OutboundPolicy) -> Callable[[str], bool]:
    """policy.allows, remembered per address text: a worker connects to the same addresses over and over,
    and a hit costs one dict lookup instead of parsing the address and walking both lists."""
    return functools.lru_cache(maxsize=DECISION_CACHE_SIZE)(policy.allows)


class BlockedAddress(OSError):
    """A connection the outbound network policy refused; `address` is the address it would have reached."""

    def __init__(self, address: str) -> None:
        # An errno, so code that reads only errno (aiohttp's) still sees a refusal, not a vague failure.
        super().__init__(errno.EACCES, blocked_message(address))
        self.address = address


class PolicyResolver(AbstractResolver):
    """Answers with the wrapped resolver's addresses that the policy allows; BlockedAddress when none is."""

    def __init__(self, resolver: AbstractResolver, policy: OutboundPolicy) -> None:
        self._resolver = resolver
        self._allows = cached_decisions(policy)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """The allowed addresses of the answer, in its order."""
        answer = await self._resolver.resolve(host, port, family)
        allowed = [entry for entry in answer if self._allows(entry["host"])]
        if not allowed and answer:
            raise BlockedAddress(answer[0]["host"])
        return allowed

    async def close(self) -> None:
        """Closing is left to whoever built the wrapped resolver."""


# What aiohttp's connector calls with (family, type, proto, canonname, sockaddr) for each connection.
SocketFactory = Callable[[tuple[Any, ...]], socket.socket]


def guarded_socket_factory(policy: OutboundPolicy) -> SocketFactory:
    """A socket factory for aiohttp's connector that refuses to open a socket to a denied address."""

    allows = cached_decisions(policy)

    def open_socket(addr_info: tuple[Any, ...]) -> socket.socket:
        family, type_, proto, _, sockaddr = addr_info
        address = str(sockaddr[0])
        if not allows(address):
            raise BlockedAddress(address)
        return socket.socket(family=family, type=type_, proto=proto)

    return open_socket


__all__ = ["BlockedAddress", "PolicyResolver", "SocketFactory", "cached_decisions", "guarded_socket_factory"]
