"""Settings from HEALTHMON_* environment variables, validated once at start."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from healthmon.application.monitoring.settings import MonitorSettings
from healthmon.application.use_cases.retention import RetentionSettings
from healthmon.domain.certificates import DEFAULT_WARN_DAYS, ExpiryWarnings
from healthmon.domain.deliveries import DEFAULT_RETRY_SECONDS
from healthmon.domain.errors import FieldProblem, InvalidField
from healthmon.domain.outbound import Network, OutboundPolicy, parse_networks

PREFIX = "HEALTHMON_"
DEFAULT_DATABASE_URL = "sqlite:///healthmon.db"
# The monitor's defaults are written once, in MonitorSettings; the fields below that share its
# names take their defaults from it, and the container hands them over by those names.
_MONITOR = MonitorSettings()
_RETENTION = RetentionSettings()
_POLICY = OutboundPolicy()


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything an operator may set; each field is read from HEALTHMON_<FIELD NAME IN CAPITALS>."""

    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = 8000
    # Comma-separated keys, or a file of keys, one per line: see _keys for how a path is told apart.
    api_keys: tuple[str, ...] = ()
    readonly_api_keys: tuple[str, ...] = ()
    # Without keys, the Host names (beside loopback ones) the API answers to; comma-separated.
    allowed_hosts: tuple[str, ...] = ()
    http_threads: int = 40
    max_concurrent_probes: int = _MONITOR.max_concurrent_probes
    max_probes_per_host: int = _MONITOR.max_probes_per_host
    batch_size: int = _MONITOR.batch_size
    flush_seconds: float = _MONITOR.flush_seconds
    buffer_limit: int = _MONITOR.buffer_limit
    shutdown_grace_seconds: float = _MONITOR.shutdown_grace_seconds
    summary_seconds: float = _MONITOR.summary_seconds
    refresh_seconds: float = _MONITOR.refresh_seconds
    lease_seconds: float = _MONITOR.lease_seconds
    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"
    # The event loop `serve` and `worker` run on: uvloop (installed beside healthmon, except on
    # Windows) or the standard library's.
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"
    # Alert deliveries: the time one attempt may take, the waits between attempts, how many are sent
    # at once, and how long a worker's claim on one lasts (longer than an attempt may take).
    delivery_timeout_seconds: float = 15.0
    delivery_retry_seconds: tuple[float, ...] = DEFAULT_RETRY_SECONDS
    delivery_concurrency: int = 20
    delivery_claim_seconds: float = 60.0
    # Days raw probes are kept (once the rollups hold them), and days hourly rollups are kept.
    retention_days: int = _RETENTION.retention_days
    rollup_retention_days: int = _RETENTION.rollup_retention_days
    # Where `healthmon worker` serves its own metrics (/metrics, on `host`); None: not served.
    metrics_port: int | None = None
    # The outbound network policy of probes and alert deliveries: comma-separated CIDR networks
    # (setting one replaces its default); the most specific network holding an address decides.
    outbound_deny: tuple[Network, ...] = _POLICY.deny
    outbound_allow: tuple[Network, ...] = _POLICY.allow
    # Days before a TLS certificate expires at which a webserver.certificate_expiring event is sent.
    cert_warn_days: tuple[int, ...] = DEFAULT_WARN_DAYS

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read HEALTHMON_* variables (overrides, e.g. from command-line flags, win); report every bad one."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        problems: list[FieldProblem] = []
        for field in dataclasses.fields(cls):
            name = PREFIX + field.name.upper()
            if field.name in overrides and overrides[field.name] is not None:
                values[field.name] = overrides[field.name]
            elif name in environ:
                try:
                    values[field.name] = _PARSERS[field.name](environ[name].strip())
                except ValueError as exc:
                    problems.append(FieldProblem(name, str(exc)))
        if problems:
            raise InvalidField(*problems)
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        """Raise InvalidField naming each variable whose value is out of range."""
        problems = [
            FieldProblem(PREFIX + name.upper(), f"must be at least {low}")
            for name, low in (
                ("port", 1),
                ("http_threads", 1),
                ("max_concurrent_probes", 1),
                ("max_probes_per_host", 1),
                ("batch_size", 1),
                ("buffer_limit", 1),
                ("flush_seconds", 0.01),
                ("summary_seconds", 0.01),
                ("refresh_seconds", 0.01),
                ("lease_seconds", 0.1),
                ("shutdown_grace_seconds", 0),
                ("retention_days", 1),
                ("rollup_retention_days", 1),
            )
            if getattr(self, name) < low
        ]
        if self.port > 65535:
            problems.append(FieldProblem("HEALTHMON_PORT", "must be at most 65535"))
        if self.metrics_port is not None and not 1 <= self.metrics_port <= 65535:
            problems.append(FieldProblem("HEALTHMON_METRICS_PORT", "must be between 1 and 65535"))
        if self.log_format not in ("text", "json"):
            problems.append(FieldProblem("HEALTHMON_LOG_FORMAT", "must be text or json"))
        if self.event_loop not in ("uvloop", "asyncio"):
            problems.append(FieldProblem("HEALTHMON_EVENT_LOOP", "must be uvloop or asyncio"))
        problems.extend(self._delivery_problems())
        try:
            ExpiryWarnings(self.cert_warn_days)
        except ValueError as exc:
            problems.append(FieldProblem("HEALTHMON_CERT_WARN_DAYS", str(exc)))
        if problems:
            raise InvalidField(*problems)

    def _delivery_problems(self) -> list[FieldProblem]:
        problems = [
            FieldProblem(PREFIX + name.upper(), f"must be at least {low}")
            for name, low in (("delivery_timeout_seconds", 0.01), ("delivery_concurrency", 1))
            if getattr(self, name) < low
        ]
        if self.delivery_claim_seconds <= self.delivery_timeout_seconds:
            problems.append(
                FieldProblem(
                    "HEALTHMON_DELIVERY_CLAIM_SECONDS", "must exceed HEALTHMON_DELIVERY_TIMEOUT_SECONDS"
                )
            )
        if not self.delivery_retry_seconds or any(step <= 0 for step in self.delivery_retry_seconds):
            problems.append(
                FieldProblem("HEALTHMON_DELIVERY_RETRY_SECONDS", "must be positive seconds, at least one")
            )
        return problems


def _days_list(text: str) -> tuple[int, ...]:
    days = tuple(_integer(part.strip()) for part in text.split(","))
    try:
        return ExpiryWarnings(days).days
    except ValueError as exc:
        raise ValueError(f"{exc}, not {text!r}") from None


def _seconds_list(text: str) -> tuple[float, ...]:
    return tuple(_number(part.strip()) for part in text.split(","))


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"must be an integer, not {text!r}") from None


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"must be a number, not {text!r}") from None


# A key setting names a file of keys when its value starts with "@" (the rest is the path, so
# "@keys.txt" is relative to the working directory) or holds a "/" anywhere. Inline keys therefore
# never hold "/", and a mistyped path is refused at start instead of becoming a key.
KEY_FILE_PREFIX = "@"
# What a key may hold: it is sent as `Authorization: Bearer <key>`, one header token.
_USABLE_KEY = re.compile(r"[\x21-\x2b\x2d-\x7e]+")
_KEY_RULE = "a key is printable ASCII without spaces or commas"


def _keys(text: str) -> tuple[str, ...]:
    if text.startswith(KEY_FILE_PREFIX) or "/" in text:
        return _key_file(Path(text.removeprefix(KEY_FILE_PREFIX)))
    if text and "," not in text and Path(text).is_file():
        # Once read as a file; a key now, unless the operator says which.
        raise ValueError(f"names the file {text!r}: write @{text} to read keys from it")
    entries = [entry.strip() for entry in text.split(",")]
    keys = [(f"key {n}", key) for n, key in enumerate(filter(None, entries), start=1)]
    return _usable_keys(keys, empty="holds no key; unset it to run without keys")


def _key_file(path: Path) -> tuple[str, ...]:
    about = "names a key file that"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        # The path is not shown: a value holding "/" may be a mistyped key.
        raise ValueError(
            f"{about} does not exist (a value starting with @ or holding / is the path of a file of keys)"
        ) from None
    except UnicodeDecodeError:
        raise ValueError(f"{about} is not UTF-8 text") from None
    except OSError as exc:
        raise ValueError(f"{about} cannot be read ({exc.strerror or type(exc).__name__})") from None
    lines = [(f"line {n} of the key file", line.strip()) for n, line in enumerate(text.splitlines(), start=1)]
    keys = [(where, line) for where, line in lines if line and not line.startswith("#")]
    return _usable_keys(keys, empty=f"{about} holds no key (comments and blank lines are not keys)")


def _usable_keys(keys: list[tuple[str, str]], *, empty: str) -> tuple[str, ...]:
    if not keys:
        raise ValueError(empty)
    for where, key in keys:
        if not _USABLE_KEY.fullmatch(key):
            # Where, never what: a key never appears in a message.
            raise ValueError(f"{where} is not a usable key: {_KEY_RULE}")
    return tuple(key for _, key in keys)


_HOST_LABEL = r"(?!-)[a-z0-9_-]{1,63}(?<!-)"
_HOST_NAME = re.compile(rf"{_HOST_LABEL}(\.{_HOST_LABEL})*")


def normal_host(text: str) -> str | None:
    """A host name or address in the one form Host headers and HEALTHMON_ALLOWED_HOSTS are compared in.

    Lower case, without a final dot or IPv6 brackets, addresses in their shortest form; None when
    the text is neither a host name nor an address.
    """
    host = text.strip().lower().removesuffix(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            return str(ipaddress.IPv6Address(host))
        except ValueError:
            return None
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host if _HOST_NAME.fullmatch(host) else None


def _hosts(text: str) -> tuple[str, ...]:
    hosts: list[str] = []
    for entry in filter(None, (entry.strip() for entry in text.split(","))):
        host = normal_host(entry)
        if host is None:
            raise ValueError(f"holds {entry!r}: not a host name or address (no scheme, port or path)")
        hosts.append(host)
    return tuple(hosts)


def _text(text: str) -> str:
    if not text:
        raise ValueError("must not be empty")
    return text


_PARSERS: dict[str, Callable[[str], Any]] = {
    "database_url": _text,
    "host": _text,
    "port": _integer,
    "api_keys": _keys,
    "readonly_api_keys": _keys,
    "allowed_hosts": _hosts,
    "http_threads": _integer,
    "max_concurrent_probes": _integer,
    "max_probes_per_host": _integer,
    "batch_size": _integer,
    "flush_seconds": _number,
    "buffer_limit": _integer,
    "shutdown_grace_seconds": _number,
    "summary_seconds": _number,
    "refresh_seconds": _number,
    "lease_seconds": _number,
    "log_format": lambda text: text.lower(),
    "log_level": lambda text: text.upper(),
    "event_loop": lambda text: text.lower(),
    "delivery_timeout_seconds": _number,
    "delivery_retry_seconds": _seconds_list,
    "delivery_concurrency": _integer,
    "delivery_claim_seconds": _number,
    "retention_days": _integer,
    "rollup_retention_days": _integer,
    "metrics_port": _integer,
    "outbound_deny": parse_networks,
    "outbound_allow": parse_networks,
    "cert_warn_days": _days_list,
}
