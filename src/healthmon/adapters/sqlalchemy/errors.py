"""The one place where driver exceptions become healthmon errors, as httpx maps httpcore's."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from healthmon.application.errors import StorageRejected, StorageUnavailable
from healthmon.domain.errors import WebserverAlreadyRegistered, WebserverKeyTaken

# How each database names the url uniqueness rule in its error message: PostgreSQL quotes the
# constraint name (from the naming convention), SQLite names the column.
_URL_UNIQUE_MARKERS: Final = ('"uq_webservers_url"', "webservers.url")
_KEY_UNIQUE_MARKERS: Final = ('"uq_webservers_key"', "webservers.key")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


def _cause(exc: DBAPIError) -> str:
    # The driver's own message, without SQLAlchemy's statement and parameters (they may hold data).
    return _first_line(exc.orig) if exc.orig is not None else _first_line(exc)


def _is_sql_error(exc: DBAPIError) -> bool:
    # sqlite3 reports "no such table" as an OperationalError; its error name tells it from a busy
    # or unreadable database, which really is unavailable.
    return getattr(exc.orig, "sqlite_errorname", None) == "SQLITE_ERROR"


@contextmanager
def translated_errors(*, url: str | None = None, webservers: bool = False) -> Iterator[None]:
    """Let no driver exception out: a duplicate url or key, an unreachable store, or a rejected statement.

    - The url uniqueness rule broken while writing `url` raises WebserverAlreadyRegistered(url);
      with `webservers` (many written at once) WebserverAlreadyRegistered(None).
    - The key uniqueness rule broken while writing webservers raises WebserverKeyTaken.
    - A lost or refused connection, a pool timeout or any OperationalError raises StorageUnavailable.
    - Any other database error (a missing or outdated schema, a broken CHECK) raises StorageRejected.
    """
    try:
        yield
    except IntegrityError as exc:
        writes_webservers = webservers or url is not None
        if writes_webservers and any(marker in str(exc.orig) for marker in _URL_UNIQUE_MARKERS):
            raise WebserverAlreadyRegistered(url) from exc
        if writes_webservers and any(marker in str(exc.orig) for marker in _KEY_UNIQUE_MARKERS):
            raise WebserverKeyTaken(None) from exc
        raise StorageRejected(_cause(exc)) from exc
    except DBAPIError as exc:
        if _is_sql_error(exc):
            raise StorageRejected(_cause(exc)) from exc
        if exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError):
            raise StorageUnavailable(_cause(exc)) from exc
        raise StorageRejected(_cause(exc)) from exc
    except PoolTimeout as exc:
        raise StorageUnavailable("no database connection became free in time") from exc


__all__ = ["translated_errors"]
