"""Every error response is an RFC 9457 problem (application/problem+json); this module decides which.

- PROBLEMS maps each HealthmonError class to its status, type slug and title; `to_problem` resolves
  subclasses through the MRO, so a new error class inherits its parent's row until it gets its own.
- Litestar's own HTTP errors (unknown path, wrong method, unreadable request, body too large, the
  API-key guard's 401 and 403) keep their status and get the same shape.
- Anything else is a bug: a 500 whose body says nothing about it; the traceback goes to the log.

Status policy: 400 `invalid-request` when the request cannot be read as the declared types (not
JSON in UTF-8, nested too deeply, not an object, unknown or missing fields, a wrong JSON type, a
query or path parameter that does not parse); 422 `invalid-field` when it can, but a value breaks a
rule (a length, a range, the name and URL patterns, a datetime without a timezone or with no UTC
equivalent); 422 `invalid-cursor` for a cursor not of the cursor pattern. Both 400 and 422 carry
`errors`: [{"field", "message"}, ...]. A client that leaves mid-body gets no answer and one debug line.
"""

from __future__ import annotations

import logging
from functools import partial
from http import HTTPStatus
from typing import Any, Final, NamedTuple

from litestar.exceptions import HTTPException
from litestar.plugins.problem_details import ProblemDetailsConfig, ProblemDetailsException

from healthmon.application.errors import DatabaseConfigurationError, StorageRejected, StorageUnavailable
from healthmon.application.storage_outages import OutageLog
from healthmon.domain.errors import (
    ChannelDisabled,
    ChannelNotFound,
    DeliveryNotFailed,
    DeliveryNotFound,
    HealthmonError,
    InvalidField,
    StateConflict,
    WebserverAlreadyRegistered,
    WebserverKeyTaken,
    WebserverNotFound,
)
from healthmon.domain.sync import InvalidEntries
from healthmon.entrypoints.http.cursors import InvalidCursor
from healthmon.entrypoints.http.health_checks import NotReady
from healthmon.entrypoints.http.schemas import MAX_BODY_BYTES, ClientDisconnected

logger = logging.getLogger(__name__)

# What a 503 tells clients to wait before retrying: long enough for a database failover to start.
RETRY_AFTER_SECONDS: Final = 5


class Problem(NamedTuple):
    """How one kind of error is reported over HTTP."""

    status: int
    slug: str
    title: str


INTERNAL_ERROR: Final = Problem(500, "internal-error", "Internal server error")

PROBLEMS: Final[dict[type[HealthmonError], Problem]] = {
    InvalidCursor: Problem(422, "invalid-cursor", "The cursor is not valid"),
    InvalidField: Problem(422, "invalid-field", "A field has an invalid value"),
    WebserverNotFound: Problem(404, "webserver-not-found", "Webserver not found"),
    WebserverAlreadyRegistered: Problem(409, "webserver-already-registered", "URL already watched"),
    WebserverKeyTaken: Problem(409, "webserver-key-taken", "Key already taken"),
    ChannelNotFound: Problem(404, "channel-not-found", "Channel not found"),
    DeliveryNotFound: Problem(404, "delivery-not-found", "Delivery not found"),
    ChannelDisabled: Problem(409, "channel-disabled", "The channel is disabled"),
    DeliveryNotFailed: Problem(409, "delivery-not-failed", "Only a failed delivery can be retried"),
    StateConflict: Problem(409, "conflict", "Conflicts with the current state"),
    StorageUnavailable: Problem(503, "storage-unavailable", "The database is unavailable"),
    NotReady: Problem(503, "not-ready", "Not ready"),
    # No retry helps and the message names database internals: a plain 500, logged in full.
    StorageRejected: INTERNAL_ERROR,
    DatabaseConfigurationError: INTERNAL_ERROR,
    HealthmonError: INTERNAL_ERROR,
}

# Problems whose message is safe and useful to show the client.
_SHOWN_MESSAGE: Final = frozenset(
    {
        InvalidCursor,
        InvalidField,
        WebserverNotFound,
        WebserverAlreadyRegistered,
        WebserverKeyTaken,
        ChannelNotFound,
        DeliveryNotFound,
        ChannelDisabled,
        DeliveryNotFailed,
        StateConflict,
    }
)
_HIDDEN_DETAIL: Final = "The server failed to answer this request; the failure has been logged."
_UNAVAILABLE_DETAIL: Final = (
    f"The database cannot be reached right now; nothing was changed. Retry in {RETRY_AFTER_SECONDS} seconds."
)

# Litestar's HTTP errors: slug, title, and the detail used when Litestar gave only the status phrase.
_HTTP_PROBLEMS: Final[dict[int, tuple[str, str, str]]] = {
    400: ("invalid-request", "The request could not be read", "The request could not be read."),
    401: ("unauthorized", "API key required", "Send 'Authorization: Bearer <key>'."),
    403: ("forbidden", "Not allowed for this API key", "This API key may not do that."),
    404: ("not-found", "Not found", "There is nothing at this path."),
    405: ("method-not-allowed", "Method not allowed", "This path does not take this method; see Allow."),
    413: ("request-too-large", "Request body too large", f"The body is larger than {MAX_BODY_BYTES} bytes."),
}


def _lookup(exc: HealthmonError) -> tuple[type[HealthmonError], Problem]:
    for cls in type(exc).__mro__:
        if cls in PROBLEMS:
            return cls, PROBLEMS[cls]
    return HealthmonError, INTERNAL_ERROR  # pragma: no cover - HealthmonError itself is in the table


def _field_errors(problems: list[tuple[str, str]]) -> dict[str, Any]:
    return {"errors": [{"field": field, "message": message} for field, message in problems]}


def to_problem(exc: HealthmonError, outages: OutageLog | None = None) -> ProblemDetailsException:
    """The problem for a healthmon error: its table row, its message when safe, its field list.

    A store outage is logged by `outages` (once per outage), not once per request.
    """
    cls, problem = _lookup(exc)
    headers: dict[str, str] | None = None
    extra: dict[str, Any] | None = None
    if cls in _SHOWN_MESSAGE:
        detail = str(exc)
    elif problem.status == HTTPStatus.SERVICE_UNAVAILABLE:
        if isinstance(exc, StorageUnavailable) and outages is not None:
            outages.refuse(exc)
        else:
            logger.warning("answering 503: %s", exc)
        detail = str(exc) if isinstance(exc, NotReady) else _UNAVAILABLE_DETAIL
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    else:
        logger.error("answering 500 for %s", type(exc).__name__, exc_info=exc)
        detail = _HIDDEN_DETAIL
    if isinstance(exc, InvalidEntries):
        extra = {
            "errors": [
                {"field": field.field, "message": field.rule, "index": entry.index, "key": entry.key}
                for field, entry in zip(exc.problems, exc.entries, strict=True)
            ]
        }
    elif isinstance(exc, InvalidField):
        extra = _field_errors([(p.field, p.rule) for p in exc.problems])
    return _problem(problem, detail, headers=headers, extra=extra)


def http_exception_to_problem(exc: HTTPException) -> ProblemDetailsException:
    """The problem for one of Litestar's HTTP errors; a 5xx never shows its detail."""
    status = HTTPStatus(exc.status_code)
    if isinstance(exc, ClientDisconnected):
        # Routine on a flaky network, and the answer reaches no one: not worth more than a debug line.
        logger.debug("client disconnected before sending the whole body")
    elif status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        logger.error("answering %s for %s", int(status), type(exc).__name__, exc_info=exc)
        return _problem(
            Problem(int(status), "internal-error", status.phrase), _HIDDEN_DETAIL, headers=exc.headers
        )
    slug, title, detail = _HTTP_PROBLEMS.get(
        status, (status.phrase.lower().replace(" ", "-"), status.phrase, status.phrase)
    )
    if exc.detail != status.phrase:
        detail = exc.detail
    extra = None
    if isinstance(exc.extra, list):
        # Litestar's validation errors: [{"message": ..., "key": ..., "source": ...}, ...]; its
        # detail names only the URL, so the detail is rebuilt from the fields.
        fields = [_validation_field(item) for item in exc.extra if isinstance(item, dict)]
        extra = _field_errors(fields)
        detail = (
            "The request could not be read: "
            + "; ".join(f"{field}: {message}" for field, message in fields)
            + "."
        )
    return _problem(Problem(int(status), slug, title), detail, headers=exc.headers, extra=extra)


# The handlers' parameter for the body: Litestar names it when the body is empty (StrictBody reads
# every other body and names the fields itself).
_BODY_PARAMETER: Final = "data"


def _validation_field(item: dict[str, Any]) -> tuple[str, str]:
    key = str(item.get("key") or item.get("source") or "request")
    if key == _BODY_PARAMETER:
        return "body", "is empty; send a JSON object"
    return key, str(item.get("message", "")).replace("`", "")


def unexpected_to_problem(exc: Exception) -> ProblemDetailsException:
    """A bug: a 500 that reveals nothing; the traceback goes to the log."""
    logger.error("unexpected error while answering a request", exc_info=exc)
    return _problem(INTERNAL_ERROR, _HIDDEN_DETAIL)


def _problem(
    problem: Problem,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> ProblemDetailsException:
    return ProblemDetailsException(
        type_=f"/problems/{problem.slug}",
        title=problem.title,
        status_code=problem.status,
        detail=detail,
        headers=headers,
        extra=extra,
    )


def problem_details(outages: OutageLog) -> ProblemDetailsConfig:
    """How every error becomes a problem; store outages are logged by `outages`."""
    return ProblemDetailsConfig(
        enable_for_all_http_exceptions=True,
        exception_to_problem_detail_map={
            HealthmonError: partial(to_problem, outages=outages),
            # Replaces the plugin's own HTTPException conversion, which leaves out `type` and `detail`.
            HTTPException: http_exception_to_problem,
            # The most general entry: handlers are picked by the exception's MRO, so this one only
            # catches what no entry above names.
            Exception: unexpected_to_problem,
        },
    )
