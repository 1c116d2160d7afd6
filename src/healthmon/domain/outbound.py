"""The outbound network policy: which addresses probes and alert deliveries may connect to."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# The cloud metadata services (AWS, GCP, Azure and others on 169.254.169.254; AWS's IPv6 one): what
# a request a user can aim anywhere must never reach, and nothing a monitor needs to watch.
DEFAULT_DENY: tuple[str, ...] = ("169.254.169.254/32", "fd00:ec2::254/128")


def parse_networks(text: str) -> tuple[Network, ...]:
    """Comma-separated CIDR networks (a bare address is its /32 or /128); ValueError names a bad one."""
    networks: list[Network] = []
    for entry in filter(None, (part.strip() for part in text.split(","))):
        try:
            networks.append(ipaddress.ip_network(entry, strict=True))
        except ValueError:
            raise ValueError(
                f"holds {entry!r}: not an IPv4 or IPv6 network in CIDR form (such as 10.0.0.0/8 or "
                "fc00::/7), or it has bits set past its prefix length"
            ) from None
    return tuple(networks)


def unwrapped(address: Address) -> Address:
    """The IPv4 address inside an IPv4-mapped IPv6 one (::ffff:a.b.c.d); any other address as it is."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True, slots=True)
class OutboundPolicy:
    """Deny and allow lists of networks; the most specific network that holds an address decides.

    - An address no listed network holds is allowed, so monitoring private services works by default.
    - Among the networks that hold it, the longest prefix wins; at equal length deny wins. So an
      allow-list is `deny = 0.0.0.0/0, ::/0` with the permitted networks in `allow`, and a hole in a
      denied range is a narrower allow.
    - An IPv4-mapped IPv6 address is judged as the IPv4 address it carries.
    """

    deny: tuple[Network, ...] = tuple(ipaddress.ip_network(entry) for entry in DEFAULT_DENY)
    allow: tuple[Network, ...] = ()

    def allows(self, address: str) -> bool:
        """Whether a connection to this IP address (text, as a socket reports it) may be made."""
        # A scope suffix (fe80::1%eth0) names an interface, not another address.
        decision = self._most_specific(unwrapped(ipaddress.ip_address(address.partition("%")[0])))
        return decision is None or not decision[1]

    def refused_host(self, url: str) -> str | None:
        """The URL's host when it is a literal IP address the policy denies, else None (names: no lookup)."""
        try:
            host = urlsplit(url).hostname
        except ValueError:
            return None
        if host is None:
            return None
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return None
        return None if self.allows(str(address)) else host

    def _most_specific(self, address: Address) -> tuple[int, bool] | None:
        best: tuple[int, bool] | None = None
        for denied, networks in ((True, self.deny), (False, self.allow)):
            for network in networks:
                if network.version == address.version and address in network:
                    candidate = (network.prefixlen, denied)
                    if best is None or candidate > best:
                        best = candidate
        return best


def blocked_message(address: str) -> str:
    """The one-line reason a connection was refused, naming the address (as stored with a blocked probe).

    An IPv4-mapped address is written with its IPv4 part in dotted form (::ffff:127.0.0.2), as people
    write it, rather than as a socket reports it (::ffff:7f00:2).
    """
    try:
        parsed = ipaddress.ip_address(address.partition("%")[0])
    except ValueError:
        return f"blocked by the outbound network policy: {address}"
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return f"blocked by the outbound network policy: ::ffff:{parsed.ipv4_mapped}"
    return f"blocked by the outbound network policy: {parsed}"
