"""HEAD is answered wherever GET is: the same status and headers, Content-Length too, and no body.

That is RFC 9110, section 9.3.2. Litestar 2 routes HEAD only to handlers declared for it, and a
`@head` handler may return no body, so it could not send a GET's headers. The app therefore routes a
HEAD request as GET, before routing, and drops the body bytes on the way out. Guards see GET, a
read, as HEAD is.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, cast

from litestar import Litestar
from litestar.enums import ScopeType
from litestar.types import HTTPScope, Message, Receive, Scope, Send
from litestar.types.asgi_types import LifeSpanReceive, LifeSpanScope, LifeSpanSend

HEAD: Final = "HEAD"
GET: Final = "GET"


def allow_header(methods: Iterable[str]) -> str:
    """An Allow header value for these methods, with HEAD wherever GET is."""
    offered = {method.strip().upper() for method in methods if method.strip()}
    if GET in offered:
        offered.add(HEAD)
    return ", ".join(sorted(offered))


class HeadAnsweringLitestar(Litestar):
    """Litestar that answers HEAD with the GET handler of the path, without the body."""

    async def __call__(
        self,
        scope: Scope | LifeSpanScope,
        receive: Receive | LifeSpanReceive,
        send: Send | LifeSpanSend,
    ) -> None:
        """Route HEAD as GET and send the answer without its body."""
        if scope["type"] != ScopeType.HTTP or cast("HTTPScope", scope)["method"] != HEAD:
            await super().__call__(scope, receive, send)
            return
        # A copy: the server's scope keeps HEAD, so it frames the empty body of a HEAD response.
        as_get = cast("HTTPScope", scope).copy()
        as_get["method"] = GET
        http_send = cast("Send", send)

        async def send_without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await http_send(message)

        await super().__call__(as_get, receive, send_without_body)
