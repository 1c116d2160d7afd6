"""How a webserver's URL is shown to people: in API responses, log lines and error messages."""

from __future__ import annotations

MASK = "***"  # what a password shows as


def display_url(url: str) -> str:
    """The URL with the password of its userinfo shown as ***; the user name and the rest stay as given.

    `http://user:s3cr3t@host/` shows as `http://user:***@host/`. This never raises, so it can describe
    any text, even a URL that failed validation.
    """
    scheme, separator, rest = url.partition("://")
    if not separator:
        return url
    # The authority ends where the path, query or fragment starts (as urllib.parse splits it).
    ends = [index for mark in "/?#" if (index := rest.find(mark)) != -1]
    authority_end = min(ends, default=len(rest))
    authority, tail = rest[:authority_end], rest[authority_end:]
    userinfo, at, host = authority.rpartition("@")
    user, colon, _password = userinfo.partition(":")
    if not (at and colon):
        return url
    return f"{scheme}://{user}:{MASK}@{host}{tail}"
