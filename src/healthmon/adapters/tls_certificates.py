"""Reading the expiry of the certificate a server presented, from aiohttp's connection while it is open.

A response must read it in start(): once the headers are parsed aiohttp may already have released (and,
with force_close, closed) the connection, and the transport's TLS object with it (aiohttp issue #2205).
"""

from __future__ import annotations

import functools
import ssl
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import aiohttp

if TYPE_CHECKING:
    from aiohttp.connector import Connection

# Distinct certificates (and expiry texts) remembered: one per certificate a process sees, a few thousand.
_EXPIRY_CACHE_SIZE = 4096
# Only certificates that verified get here (the verify mode is checked first), so bytes decide the expiry.
_EXPIRY_BY_DER: dict[bytes, datetime | None] = {}


@functools.lru_cache(maxsize=_EXPIRY_CACHE_SIZE)
def expiry_from_text(not_after: str) -> datetime:
    """A certificate's notAfter as Python's ssl module writes it ("Jun  1 12:00:00 2027 GMT"), as UTC."""
    return datetime.fromtimestamp(ssl.cert_time_to_seconds(not_after), tz=UTC)


def peer_certificate_expiry(ssl_object: object) -> datetime | None:
    """When the verified peer certificate of this TLS connection expires; None without one.

    Python decodes the certificate only when it was verified (CERT_NONE gives an empty dict), so a
    server probed with verify_tls=false has no expiry: reading it would take a DER parser.
    """
    if not isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket):
        return None
    if ssl_object.context.verify_mode is ssl.CERT_NONE:
        return None
    # Decoding a certificate into a dict costs ~13 us; its DER bytes cost ~1 us. A server shows the
    # same certificate for months, so each one is decoded once and looked up by its bytes after that.
    der = ssl_object.getpeercert(binary_form=True)
    if der is None:
        return None
    if der in _EXPIRY_BY_DER:
        return _EXPIRY_BY_DER[der]
    certificate = ssl_object.getpeercert()
    not_after = certificate.get("notAfter") if certificate else None
    expiry = expiry_from_text(not_after) if isinstance(not_after, str) else None
    if len(_EXPIRY_BY_DER) >= _EXPIRY_CACHE_SIZE:
        _EXPIRY_BY_DER.clear()
    _EXPIRY_BY_DER[der] = expiry
    return expiry


class CertificateReadingResponse(aiohttp.ClientResponse):
    """A response that notes, as it starts, when its connection's peer certificate expires (None for HTTP)."""

    tls_expires_at: datetime | None = None

    async def start(self, connection: Connection) -> aiohttp.ClientResponse:
        """Read the certificate while the connection is surely open, then start as usual."""
        transport = connection.transport
        if transport is not None:
            self.tls_expires_at = peer_certificate_expiry(transport.get_extra_info("ssl_object"))
        return await super().start(connection)


__all__ = ["CertificateReadingResponse", "expiry_from_text", "peer_certificate_expiry"]
