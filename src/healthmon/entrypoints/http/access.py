"""API keys: with any key configured, every endpoint not marked public needs `Authorization: Bearer <key>`.

- Full keys may call every method; read-only keys only GET, HEAD and OPTIONS (anything else is a 403).
- A missing, malformed or unknown key is a 401 with `WWW-Authenticate: Bearer`, also for a method the
  path does not take: without a key, a client learns no more than that the path needs one.
- The presented key is compared with every configured key, each in constant time and all of them
  every time, so neither the timing nor the key's position in the list tells anything. Comparing
  SHA-256 digests keeps the length of the configured keys from showing too.
- Keys are never logged, and never part of an error message.
- The dashboard's sign-in cookie (SESSION_COOKIE, set by its sign-in form) counts as a key for reads
  (GET, HEAD, OPTIONS) only, so the dashboard's pages and scripts read the API with it; a write needs
  the Authorization header, so no page of another site can make the browser write with the cookie.
- Public handlers (liveness, readiness, the OpenAPI schema and its docs page) carry opt {"public": True}:
  the schema describes the API and holds no data, and probes and load balancers hold no key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable
from enum import Enum
from typing import Any, Final

from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException, NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.utils import normalize_path

PUBLIC: Final = "public"
# The dashboard's sign-in cookie: the key, base64url-encoded without padding, so that any key is a
# plain cookie value (no quotes, no `=`).
SESSION_COOKIE: Final = "healthmon_key"
READ_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
_CHALLENGE: Final = {"WWW-Authenticate": "Bearer"}


class Access(Enum):
    """What a presented key allows."""

    NONE = "none"
    READ = "read"
    FULL = "full"


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()


class ApiKeys:
    """The configured keys; decides what a bearer token may do."""

    def __init__(self, full: Iterable[str], readonly: Iterable[str] = ()) -> None:
        self._full = [_digest(key) for key in full if key]
        self._readonly = [_digest(key) for key in readonly if key]

    @property
    def enabled(self) -> bool:
        """Whether any key is configured; without one, the API is open."""
        return bool(self._full or self._readonly)

    def access_of(self, token: str) -> Access:
        """What this token may do; every configured key is compared, with no early exit."""
        presented = _digest(token)
        full = False
        readonly = False
        for key in self._full:
            full |= hmac.compare_digest(presented, key)
        for key in self._readonly:
            readonly |= hmac.compare_digest(presented, key)
        if full:
            return Access.FULL
        return Access.READ if readonly else Access.NONE

    def _access_of_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> Access:
        token = _bearer_token(connection.headers.get("authorization"))
        if token is None and connection.scope.get("method") in READ_METHODS:
            token = cookie_key(connection.cookies.get(SESSION_COOKIE))
        return Access.NONE if token is None else self.access_of(token)

    def guard(self, connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
        """A Litestar guard: 401 without a known key, 403 for a read-only key on a method that writes."""
        if handler.opt.get(PUBLIC):
            return
        access = self._access_of_request(connection)
        if access is Access.NONE:
            raise _unauthorized()
        if access is Access.READ and connection.scope.get("method") not in READ_METHODS:
            raise PermissionDeniedException(detail="This API key may only read (GET).")

    def refusal_before_405(
        self, connection: ASGIConnection[Any, Any, Any, Any], allowed: Iterable[str]
    ) -> HTTPException | None:
        """The 401 owed instead of a 405 (the path takes only `allowed`): it needs a key and none came."""
        if not self.enabled or self._access_of_request(connection) is not Access.NONE:
            return None
        # Any handler of the path but the automatic OPTIONS one says whether the path is open
        # (health, schema): an open path is open for every method.
        methods = [method for method in allowed if method != "OPTIONS"]
        if methods:
            path = normalize_path(connection.scope["path"])
            _, handler, *_ = connection.app.asgi_router.handle_routing(path=path, method=methods[0])
            if handler.opt.get(PUBLIC):
                return None
        return _unauthorized()


def cookie_value(key: str) -> str:
    """The value of SESSION_COOKIE that carries this key."""
    return base64.urlsafe_b64encode(key.encode("utf-8", "surrogateescape")).decode("ascii").rstrip("=")


def cookie_key(value: str | None) -> str | None:
    """The key a SESSION_COOKIE value carries; None when there is none or it does not decode."""
    if not value:
        return None
    try:
        padded = value + "=" * (-len(value) % 4)
        return base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8", "surrogateescape") or None
    except (binascii.Error, UnicodeError, ValueError):
        return None


def _unauthorized() -> NotAuthorizedException:
    return NotAuthorizedException(
        detail="This endpoint needs a valid API key: send 'Authorization: Bearer <key>'.",
        headers=_CHALLENGE,
    )


def _bearer_token(header: str | None) -> str | None:
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    # The scheme is case-insensitive (RFC 9110, section 11.1).
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
