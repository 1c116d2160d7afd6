"""Rows to domain objects and back: the column lists, derived from the domain's fields, and their converters.

Each column list is derived from the fields of a domain dataclass, and an import-time check names
any field without a column. So a new field of WebserverSettings, ProbeResult or WorkerInfo needs its
column in tables.py (and a migration) and, for ProbeResult, a line in each of its two converters.
The converters of Webserver, HealthStateMachine and ProbeResult are partly written out, because
they run for every row of a listing or a batch; each fails the import, rather than drop a value,
when its class changes.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable
from operator import attrgetter
from typing import Any, Final

from sqlalchemy import Column, Row, Table

from healthmon.adapters.sqlalchemy.tables import requests_table, webservers_table, workers_table
from healthmon.application.ports import WorkerInfo
from healthmon.domain.health import HealthState, HealthStateMachine
from healthmon.domain.probe import TRANSIENT_PROBE_FIELDS, ErrorKind, ProbeResult, RecordedProbe, probe_id_of
from healthmon.domain.webserver import Webserver, WebserverSettings

# A result row of any shape; the column tuples below fix the shapes these converters read.
AnyRow = Row[*tuple[Any, ...]]

# Distinct settings and health values cached; well above the number of servers one process watches.
_CACHE_SIZE: Final = 65_536


def _field_names(datatype: type[Any]) -> tuple[str, ...]:
    return tuple(field.name for field in dataclasses.fields(datatype))


def _columns(table: Table, names: Iterable[str]) -> tuple[Column[Any], ...]:
    names = tuple(names)
    missing = [name for name in names if name not in table.c]
    if missing:
        raise TypeError(f"table {table.name!r} has no column for {', '.join(missing)}; add it in tables.py")
    return tuple(table.c[name] for name in names)


# --- webservers ----------------------------------------------------------------------------------

SETTINGS_FIELDS: Final = _field_names(WebserverSettings)
# HealthStateMachine's three fields, in its order; its state is stored under the name `health`.
HEALTH_COLUMN_NAMES: Final = ("health", "consecutive_successes", "consecutive_failures")
if _field_names(HealthStateMachine) != ("state", "consecutive_successes", "consecutive_failures"):
    raise TypeError("HealthStateMachine's fields changed: teach the health converters")  # pragma: no cover
# Webserver's fields that are columns as they are: all but the two value objects above.
_PLAIN_FIELDS: Final = tuple(name for name in _field_names(Webserver) if name not in ("settings", "health"))
if _PLAIN_FIELDS[0] != "id":  # pragma: no cover - a guard for whoever reorders Webserver
    raise TypeError("Webserver's first field must be its id, the key of every statement here")

# The order to_webserver reads: the id, the settings, the health, then the rest.
WEBSERVER_COLUMNS: Final = _columns(
    webservers_table, (_PLAIN_FIELDS[0], *SETTINGS_FIELDS, *HEALTH_COLUMN_NAMES, *_PLAIN_FIELDS[1:])
)
# The health, the times and the certificate a probe moves: what a save after recording results changes.
HEALTH_SAVE_COLUMNS: Final = _columns(
    webservers_table,
    ("id", *HEALTH_COLUMN_NAMES, "health_changed_at", "last_checked_at", "tls_expires_at", "tls_warned_days"),
)

_position = {column.name: index for index, column in enumerate(WEBSERVER_COLUMNS)}
_SETTINGS_SLICE: Final = slice(_position[SETTINGS_FIELDS[0]], _position[SETTINGS_FIELDS[-1]] + 1)
_HEALTH_SLICE: Final = slice(_position[HEALTH_COLUMN_NAMES[0]], _position[HEALTH_COLUMN_NAMES[-1]] + 1)


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _settings(values: tuple[Any, ...]) -> WebserverSettings:
    # Validating a URL costs more than reading its row. Settings are immutable and change rarely,
    # so each distinct set is validated once per process instead of once per read.
    return WebserverSettings(**dict(zip(SETTINGS_FIELDS, values, strict=True)))


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _health(values: tuple[Any, ...]) -> HealthStateMachine:
    state, successes, failures = values
    return HealthStateMachine(
        state=HealthState(state), consecutive_successes=successes, consecutive_failures=failures
    )


def _slot_setter(name: str) -> Any:
    return vars(Webserver)[name].__set__


# Webserver is a frozen dataclass: its __init__ sets each field through object.__setattr__, and
# reading 10,000 webservers does that 70,000 times. to_webserver sets the slots directly instead,
# in half the time. Its constructor checks nothing, so neither does this (the row was a valid
# Webserver when it was written); the check below fails at import if Webserver gains a field or a
# __post_init__ that to_webserver would skip.
_new_webserver = functools.partial(object.__new__, Webserver)
_set_id = _slot_setter("id")
_set_settings = _slot_setter("settings")
_set_health = _slot_setter("health")
_set_created_at = _slot_setter("created_at")
_set_updated_at = _slot_setter("updated_at")
_set_health_changed_at = _slot_setter("health_changed_at")
_set_last_checked_at = _slot_setter("last_checked_at")
_set_tls_expires_at = _slot_setter("tls_expires_at")
_set_tls_warned_days = _slot_setter("tls_warned_days")
_set_managed = _slot_setter("managed")
_SET_BY_TO_WEBSERVER: Final = {
    "id", "settings", "health", "created_at", "updated_at", "health_changed_at", "last_checked_at",
    "tls_expires_at", "tls_warned_days", "managed",
}  # fmt: skip
if set(_field_names(Webserver)) != _SET_BY_TO_WEBSERVER or hasattr(Webserver, "__post_init__"):
    raise TypeError("Webserver's fields changed: teach to_webserver to set each one")  # pragma: no cover
(_ID, _CREATED_AT, _UPDATED_AT, _HEALTH_CHANGED_AT, _LAST_CHECKED_AT, _TLS_EXPIRES_AT, _TLS_WARNED_DAYS,
 _MANAGED) = (
    _position[name]
    for name in (
        "id", "created_at", "updated_at", "health_changed_at", "last_checked_at", "tls_expires_at",
        "tls_warned_days", "managed",
    )
)  # fmt: skip


def to_webserver(row: AnyRow) -> Webserver:
    """The Webserver a row of WEBSERVER_COLUMNS holds."""
    webserver = _new_webserver()
    _set_id(webserver, row[_ID])
    _set_settings(webserver, _settings(row[_SETTINGS_SLICE]))
    _set_health(webserver, _health(row[_HEALTH_SLICE]))
    _set_created_at(webserver, row[_CREATED_AT])
    _set_updated_at(webserver, row[_UPDATED_AT])
    _set_health_changed_at(webserver, row[_HEALTH_CHANGED_AT])
    _set_last_checked_at(webserver, row[_LAST_CHECKED_AT])
    _set_tls_expires_at(webserver, row[_TLS_EXPIRES_AT])
    _set_tls_warned_days(webserver, row[_TLS_WARNED_DAYS])
    _set_managed(webserver, row[_MANAGED])
    return webserver


# What webserver_row reads, in the order of WEBSERVER_COLUMNS after the id: attrgetter builds
# each tuple in C, and one tuple zipped with precomputed names makes a save's parameters in
# half the time a dict of fifteen entries built by name takes.
SAVED_COLUMN_NAMES: Final = tuple(column.name for column in WEBSERVER_COLUMNS[1:])
_settings_of = attrgetter(*SETTINGS_FIELDS)
_times_of = attrgetter(*_PLAIN_FIELDS[1:])


def webserver_row(webserver: Webserver) -> tuple[Any, ...]:
    """The values of WEBSERVER_COLUMNS but the id, in that order (SAVED_COLUMN_NAMES)."""
    health = webserver.health
    return (
        *_settings_of(webserver.settings),
        health.state.value,
        health.consecutive_successes,
        health.consecutive_failures,
        *_times_of(webserver),
    )


def webserver_values(webserver: Webserver) -> dict[str, Any]:
    """Every column of WEBSERVER_COLUMNS but the id, by name."""
    return dict(zip(SAVED_COLUMN_NAMES, webserver_row(webserver), strict=True))


def health_save_values(webserver: Webserver) -> dict[str, Any]:
    """The columns of HEALTH_SAVE_COLUMNS, by name."""
    # Written out: the saves after every batch of results go this way, and a literal is fastest.
    health = webserver.health
    return {
        "id": webserver.id,
        "health": health.state.value,
        "consecutive_successes": health.consecutive_successes,
        "consecutive_failures": health.consecutive_failures,
        "health_changed_at": webserver.health_changed_at,
        "last_checked_at": webserver.last_checked_at,
        "tls_expires_at": webserver.tls_expires_at,
        "tls_warned_days": webserver.tls_warned_days,
    }


# --- requests (probe results) --------------------------------------------------------------------

# The code each ErrorKind is stored as in requests.error_kind. Stored numbers: never renumber or
# reuse one (migration 0006 writes the same table); a new kind takes the next number.
ERROR_KIND_CODES: Final = {
    ErrorKind.TIMEOUT: 1,
    ErrorKind.CONNECTION_REFUSED: 2,
    ErrorKind.CONNECTION_RESET: 3,
    ErrorKind.DNS: 4,
    ErrorKind.TLS: 5,
    ErrorKind.TOO_MANY_REDIRECTS: 6,
    ErrorKind.INVALID_RESPONSE: 7,
    ErrorKind.INVALID_URL: 8,
    ErrorKind.CONNECTION_ERROR: 9,
    ErrorKind.BLOCKED: 10,
}
if set(ERROR_KIND_CODES) != set(ErrorKind) or len(set(ERROR_KIND_CODES.values())) != len(ErrorKind):
    raise TypeError("every ErrorKind needs a code of its own in ERROR_KIND_CODES")  # pragma: no cover
_ERROR_KINDS: Final = {code: kind for kind, code in ERROR_KIND_CODES.items()}
# The latency column's unit, and the most it holds (a 4-byte integer of microseconds).
MICROSECONDS_PER_MS: Final = 1000
MAX_LATENCY_US: Final = 2**31 - 1

# ProbeResult's fields, which the two converters below spell out: they run for every result of
# a batch and every row of a history page, and a dict literal is four times faster than one built
# from a list of names. The check fails the import when ProbeResult's fields change.
_PROBE_FIELDS: Final = (
    "webserver_id", "started_at", "latency_ms", "status_code", "success", "error_kind", "error_message"
)  # fmt: skip
if set(_field_names(ProbeResult)) - set(TRANSIENT_PROBE_FIELDS) != set(_PROBE_FIELDS):  # pragma: no cover
    raise TypeError("ProbeResult's fields changed: teach to_recorded_probe and request_values each one")
# The order to_recorded_probe reads, and what add_many writes: ProbeResult's fields, with the
# latency in its stored unit. There is no id column: a probe's id derives from its start.
REQUEST_COLUMNS: Final = _columns(
    requests_table, ["latency_us" if name == "latency_ms" else name for name in _PROBE_FIELDS]
)
REQUEST_INSERT_COLUMNS: Final = REQUEST_COLUMNS
_WEBSERVER_ID, _STARTED_AT, _LATENCY_US, _STATUS_CODE, _SUCCESS, _ERROR_KIND, _ERROR_MESSAGE = range(
    len(REQUEST_COLUMNS)
)


def to_recorded_probe(row: AnyRow) -> RecordedProbe:
    """The RecordedProbe a row of REQUEST_COLUMNS holds."""
    error_kind = row[_ERROR_KIND]
    started_at = row[_STARTED_AT]
    result = ProbeResult(
        webserver_id=row[_WEBSERVER_ID],
        started_at=started_at,
        latency_ms=row[_LATENCY_US] / MICROSECONDS_PER_MS,
        status_code=row[_STATUS_CODE],
        success=row[_SUCCESS],
        error_kind=None if error_kind is None else _ERROR_KINDS[error_kind],
        error_message=row[_ERROR_MESSAGE],
    )
    return RecordedProbe(id=probe_id_of(started_at), result=result)


def latency_us(latency_ms: float) -> int:
    """The stored latency: whole microseconds, rounded, at most MAX_LATENCY_US."""
    return min(round(latency_ms * MICROSECONDS_PER_MS), MAX_LATENCY_US)


def request_values(result: ProbeResult) -> dict[str, Any]:
    """The columns of REQUEST_INSERT_COLUMNS, by name."""
    return {
        "webserver_id": result.webserver_id,
        "started_at": result.started_at,
        "latency_us": latency_us(result.latency_ms),
        "status_code": result.status_code,
        "success": result.success,
        "error_kind": None if result.error_kind is None else ERROR_KIND_CODES[result.error_kind],
        "error_message": result.error_message,
    }


# --- workers -------------------------------------------------------------------------------------

_WORKER_FIELDS: Final = _field_names(WorkerInfo)
WORKER_COLUMNS: Final = _columns(workers_table, _WORKER_FIELDS)


def to_worker(row: AnyRow) -> WorkerInfo:
    """The WorkerInfo a row of WORKER_COLUMNS holds."""
    return WorkerInfo(**dict(zip(_WORKER_FIELDS, row, strict=True)))


def worker_values(worker: WorkerInfo) -> dict[str, Any]:
    """Every column but the key and the heartbeat, which the database dates itself."""
    values = dataclasses.asdict(worker)
    del values["id"], values["heartbeat_at"]
    return values


__all__ = [
    "ERROR_KIND_CODES",
    "HEALTH_COLUMN_NAMES",
    "HEALTH_SAVE_COLUMNS",
    "MAX_LATENCY_US",
    "MICROSECONDS_PER_MS",
    "REQUEST_COLUMNS",
    "REQUEST_INSERT_COLUMNS",
    "SAVED_COLUMN_NAMES",
    "SETTINGS_FIELDS",
    "WEBSERVER_COLUMNS",
    "WORKER_COLUMNS",
    "AnyRow",
    "health_save_values",
    "latency_us",
    "request_values",
    "to_recorded_probe",
    "to_webserver",
    "to_worker",
    "webserver_row",
    "webserver_values",
    "worker_values",
]
