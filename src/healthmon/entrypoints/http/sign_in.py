"""Signing in to the dashboard: a form that takes an API key once and keeps it in a cookie.

- The cookie (access.SESSION_COOKIE) is HttpOnly (no script reads it), SameSite=Strict (no other
  site's request carries it) and Secure when the dashboard is served over HTTPS; it lasts 30 days,
  or until signing out clears it. It counts as a key for reads only (see access.py).
- Any configured key signs in, read-only keys too (the dashboard only reads). A wrong key gets the
  form again with a 401; the key is never echoed, logged or put in a URL.
- Both forms post `application/x-www-form-urlencoded` from this site's own pages only (cross_site.py).
- After signing in, the browser returns to `next`, a path on this site (anything else means `/`).
- Without API keys the dashboard is open, as the API is: the form sends the user to the overview.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

import msgspec
from litestar import Request, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, QueryParameter
from litestar.response import Redirect, Template

from healthmon.entrypoints.http.access import PUBLIC, SESSION_COOKIE, Access, ApiKeys, cookie_value
from healthmon.entrypoints.http.cross_site import FORM
from healthmon.entrypoints.http.templating import PAGE_HEADERS

SIGN_IN_PATH: Final = "/ui/sign-in"
SIGN_OUT_PATH: Final = "/ui/sign-out"
COOKIE_MAX_AGE_SECONDS: Final = 30 * 24 * 3600
MAX_KEY_LENGTH: Final = 4096
MAX_NEXT_LENGTH: Final = 2048


class SignInForm(msgspec.Struct, kw_only=True):
    """The sign-in form: the key, and where to go once signed in."""

    key: Annotated[str, msgspec.Meta(max_length=MAX_KEY_LENGTH)]
    next: Annotated[str, msgspec.Meta(max_length=MAX_NEXT_LENGTH)] = "/"


SignInBody = Annotated[SignInForm, Body(media_type=RequestEncodingType.URL_ENCODED)]
Next = Annotated[str, QueryParameter(description="Where to go once signed in.", max_length=MAX_NEXT_LENGTH)]


def safe_next(target: str) -> str:
    """A path on this site to go to after signing in; anything that could leave the site is `/`."""
    # "//host" and "/\host" are URLs of other sites to a browser; control characters never belong.
    if not target.startswith("/") or target[1:2] in ("/", "\\") or not target.isprintable():
        return "/"
    return target


def _session_cookie(request: Request[Any, Any, Any], value: str, max_age: int) -> Cookie:
    return Cookie(
        key=SESSION_COOKIE,
        value=value,
        path="/",
        max_age=max_age,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def _form(next_path: str, *, error: str | None = None, status_code: int = 200) -> Template:
    return Template(
        "sign_in.html",
        context={"next": safe_next(next_path), "error": error, "action": SIGN_IN_PATH},
        status_code=status_code,
    )


@get(SIGN_IN_PATH, opt={PUBLIC: True}, include_in_schema=False, response_headers=PAGE_HEADERS)
async def sign_in_form(dashboard_keys: NamedDependency[ApiKeys], next: Next = "/") -> Template | Redirect:
    """The sign-in form; without API keys, the overview (there is nothing to sign in to)."""
    if not dashboard_keys.enabled:
        return Redirect(safe_next(next), status_code=303)
    return _form(next)


@post(
    SIGN_IN_PATH,
    opt={PUBLIC: True, FORM: True},
    include_in_schema=False,
    response_headers=PAGE_HEADERS,
    status_code=303,
)
async def sign_in(
    request: Request[Any, Any, Any], data: SignInBody, dashboard_keys: NamedDependency[ApiKeys]
) -> Template | Redirect:
    """Keep a valid key in the cookie and go on; a wrong key gets the form again (401)."""
    if not dashboard_keys.enabled:
        return Redirect(safe_next(data.next), status_code=303)
    if dashboard_keys.access_of(data.key) is Access.NONE:
        return _form(data.next, error="That is not one of this healthmon's API keys.", status_code=401)
    cookie = _session_cookie(request, cookie_value(data.key), COOKIE_MAX_AGE_SECONDS)
    return Redirect(safe_next(data.next), status_code=303, cookies=[cookie])


@post(
    SIGN_OUT_PATH,
    opt={PUBLIC: True, FORM: True},
    include_in_schema=False,
    response_headers=PAGE_HEADERS,
    status_code=303,
)
async def sign_out(request: Request[Any, Any, Any]) -> Redirect:
    """Clear the cookie and show the sign-in form."""
    return Redirect(SIGN_IN_PATH, status_code=303, cookies=[_session_cookie(request, "", 0)])
