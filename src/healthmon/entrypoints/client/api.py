"""A small client of healthmon's REST API on the standard library's urllib.

urllib rather than aiohttp: each command sends one or a few requests in turn, so an event loop
would add nothing but ceremony, and a command-line tool starts faster without one. Every failure
is a ClientError whose message is one line fit to show: an API problem as its title and detail,
an unreachable API as the address and the cause.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Final

DEFAULT_API_URL: Final = "http://127.0.0.1:8000"
API_URL_VARIABLE: Final = "HEALTHMON_API_URL"
API_KEY_VARIABLE: Final = "HEALTHMON_API_KEY"
# Long enough for a sync of tens of thousands of entries on a busy server.
TIMEOUT_SECONDS: Final = 120.0


class ClientError(Exception):
    """A request that did not succeed; str() is the line to show the user."""


@dataclass(frozen=True, slots=True)
class FieldError:
    """One entry of a problem's `errors`."""

    field: str
    message: str


class ApiProblem(ClientError):
    """The API answered with an error: its status, title, detail and field errors."""

    def __init__(self, status: int, title: str, detail: str, errors: tuple[FieldError, ...] = ()) -> None:
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors
        super().__init__(
            f"{title} ({status}): {detail}" if detail and detail != title else f"{title} ({status})"
        )

    @property
    def invalid_input(self) -> bool:
        """Whether the request itself was at fault (400 or 422), rather than the server refusing it."""
        return self.status in {HTTPStatus.BAD_REQUEST, HTTPStatus.UNPROCESSABLE_ENTITY}


class ApiUnreachable(ClientError):
    """No answer from the API: refused, timed out, or a name that does not resolve."""


def api_url(given: str | None) -> str:
    """The API's base URL: the --api flag, else HEALTHMON_API_URL, else the local default."""
    url = given or os.environ.get(API_URL_VARIABLE) or DEFAULT_API_URL
    return url.rstrip("/")


class ApiClient:
    """Sends JSON requests to one healthmon API, with the key from HEALTHMON_API_KEY when set."""

    def __init__(self, base_url: str, api_key: str | None = None) -> None:
        self.base_url = base_url
        self._api_key = api_key if api_key is not None else os.environ.get(API_KEY_VARIABLE)

    def request(
        self,
        method: str,
        path: str,
        *,
        body: object = None,
        query: Mapping[str, str | int] | None = None,
    ) -> Any:
        """The decoded JSON answer (None when empty); raises ApiProblem or ApiUnreachable."""
        return _decode(self.raw(method, path, body=body, query=query))

    def raw(
        self,
        method: str,
        path: str,
        *,
        body: object = None,
        query: Mapping[str, str | int] | None = None,
    ) -> bytes:
        """The answer's body as bytes; raises ApiProblem or ApiUnreachable."""
        url = self.base_url + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        if not url.startswith(("http://", "https://")):
            raise ApiUnreachable(f"the API URL {self.base_url!r} must start with http:// or https://")
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
                content: bytes = response.read()
                return content
        except urllib.error.HTTPError as exc:
            raise _problem(exc) from None
        except urllib.error.URLError as exc:
            raise ApiUnreachable(f"cannot reach the API at {self.base_url}: {_reason(exc.reason)}") from None
        except (TimeoutError, ConnectionError, OSError) as exc:
            raise ApiUnreachable(f"cannot reach the API at {self.base_url}: {_reason(exc)}") from None


def _reason(reason: object) -> str:
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused (is healthmon serve running there?)"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason) or type(reason).__name__


def _decode(content: bytes) -> Any:
    if not content:
        return None
    try:
        return json.loads(content)
    except ValueError:
        raise ClientError("the API answered with something that is not JSON") from None


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _problem(exc: urllib.error.HTTPError) -> ApiProblem:
    try:
        body = json.loads(exc.read() or b"null")
    except (ValueError, OSError):
        body = None
    finally:
        exc.close()
    if not isinstance(body, dict):
        return ApiProblem(exc.code, _phrase(exc.code), "")
    errors = tuple(
        FieldError(str(item.get("field", "")), str(item.get("message", "")))
        for item in body.get("errors") or []
        if isinstance(item, dict)
    )
    return ApiProblem(exc.code, str(body.get("title", "Error")), str(body.get("detail", "")), errors)
