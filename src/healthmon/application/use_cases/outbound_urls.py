"""The API's side of the outbound network policy: a URL naming a denied address is refused at once."""

from __future__ import annotations

from healthmon.domain.errors import InvalidField
from healthmon.domain.outbound import OutboundPolicy


def check_outbound(policy: OutboundPolicy, url: str) -> None:
    """InvalidField naming the url when its host is a literal IP address the outbound policy denies."""
    refused = policy.refused_host(url)
    if refused is not None:
        raise InvalidField.single(
            "url", f"must not name an address the outbound network policy denies ({refused})"
        )
