"""Web pages the user visits must not drive the API through the user's browser.

- Writes (POST, PUT, PATCH) with a body must declare it JSON: `application/json` or
  `application/<something>+json`, parameters such as charset allowed; anything else is a 415. A page
  can send a cross-site `text/plain` or form POST without asking (no CORS preflight), never a JSON one.
- Without API keys, the Host header must be a loopback name or address (`localhost`, 127.0.0.0/8,
  `[::1]`, any port) or one of HEALTHMON_ALLOWED_HOSTS; anything else, or no Host, is a 400. A page
  that rebinds its own name to 127.0.0.1 (DNS rebinding) still sends its own name as Host.
  With keys, the key is what is checked: a page cannot present one, so any Host is answered.
- The dashboard's own forms (sign in, sign out; handlers with opt {FORM: True}) post
  `application/x-www-form-urlencoded` instead, and so must carry an Origin header naming this very
  host (browsers send one with every POST): a form on another site, which could sign the user in
  with the attacker's key or out of their own, is a 403.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any, Final

from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.plugins.problem_details import ProblemDetailsException

from healthmon.settings import normal_host

WRITE_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})
JSON_MEDIA_TYPE: Final = "application/json"
HOST_NOT_ALLOWED: Final = "/problems/host-not-allowed"
FORM: Final = "form"
FORM_MEDIA_TYPE: Final = "application/x-www-form-urlencoded"


def is_loopback(host: str) -> bool:
    """Whether a host name or address (no port) names this machine over loopback only."""
    name = normal_host(host)
    if name is None:
        return False
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def is_json(content_type: str) -> bool:
    """Whether a Content-Type header declares JSON: application/json or application/*+json."""
    kind, _, subtype = content_type.partition(";")[0].strip().lower().partition("/")
    return kind == "application" and (subtype == "json" or (subtype.endswith("+json") and subtype != "+json"))


def json_writes_only(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """A Litestar guard: a write that carries a body, or declares one, must declare it JSON (else 415)."""
    if connection.scope.get("method") not in WRITE_METHODS:
        return
    if handler.opt.get(FORM):
        _same_origin_form(connection)
        return
    headers = connection.headers
    content_type = headers.get("content-type")
    has_body = headers.get("content-length", "0").strip() != "0" or "transfer-encoding" in headers
    if (has_body or content_type is not None) and not is_json(content_type or ""):
        raise HTTPException(
            status_code=415,
            detail=f"The body must be JSON, sent with 'Content-Type: {JSON_MEDIA_TYPE}'.",
        )


def _same_origin_form(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    kind = (connection.headers.get("content-type") or "").partition(";")[0].strip().lower()
    if kind != FORM_MEDIA_TYPE:
        raise HTTPException(status_code=415, detail=f"The form must be sent as '{FORM_MEDIA_TYPE}'.")
    origin = connection.headers.get("origin")
    _, separator, authority = (origin or "").partition("://")
    host = connection.headers.get("host")
    if not separator or host is None or authority.lower() != host.strip().lower():
        raise PermissionDeniedException(detail="This form may only be sent from this site's own pages.")


def host_of(header: str | None) -> str | None:
    """The host of a Host header value (`name`, `name:port`, `[v6]:port`), normalised; None if malformed."""
    if header is None:
        return None
    value = header.strip()
    if value.startswith("["):
        end = value.find("]") + 1
        host, port = value[:end], value[end:]
    else:
        host, colon, digits = value.partition(":")
        port = colon + digits
    if port and not (port[0] == ":" and port[1:].isascii() and port[1:].isdigit()):
        return None
    return normal_host(host) if host else None


class HostRule:
    """Which Host headers a keyless API answers: loopback names and addresses, and the allowed hosts."""

    def __init__(self, allowed: Iterable[str] = ()) -> None:
        self._allowed = frozenset(filter(None, (normal_host(host) for host in allowed)))

    def allows(self, header: str | None) -> bool:
        """Whether a request with this Host header (None: without one) is answered."""
        host = host_of(header)
        return host is not None and (host in self._allowed or is_loopback(host))

    def guard(self, connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        """A Litestar guard: a 400 problem for a Host this API does not answer to."""
        if not self.allows(connection.headers.get("host")):
            raise ProblemDetailsException(
                type_=HOST_NOT_ALLOWED,
                title="Host not allowed",
                status_code=400,
                detail="Without API keys this API answers only to loopback names and addresses "
                "(localhost, 127.0.0.1, [::1]) and the names in HEALTHMON_ALLOWED_HOSTS.",
            )
