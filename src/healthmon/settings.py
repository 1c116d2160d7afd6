"""Settings from HEALTHMON_* environment variables, validated once at start."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from healthmon.domain.deliveries import DEFAULT_RETRY_SECONDS
from healthmon.domain.errors import FieldProblem, InvalidField

PREFIX = "HEALTHMON_"
DEFAULT_DATABASE_URL = "sqlite:///healthmon.db"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything an operator may set; each field is read from HEALTHMON_<FIELD NAME IN CAPITALS>."""

    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = 8000
    # Comma-separated keys, or the path of a file with one key per line.
    api_keys: tuple[str, ...] = ()
    readonly_api_keys: tuple[str, ...] = ()
    http_threads: int = 40
    max_concurrent_probes: int = 500
    max_probes_per_host: int = 10
    batch_size: int = 1000
    flush_seconds: float = 1.0
    buffer_limit: int = 600_000
    shutdown_grace_seconds: float = 10.0
    summary_seconds: float = 60.0
    refresh_seconds: float = 1.0
    lease_seconds: float = 6.0
    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"
    # Alert deliveries: the time one attempt may take, the waits between attempts, how many are sent
    # at once, and how long a worker's claim on one lasts (longer than an attempt may take).
    delivery_timeout_seconds: float = 15.0
    delivery_retry_seconds: tuple[float, ...] = DEFAULT_RETRY_SECONDS
    delivery_concurrency: int = 20
    delivery_claim_seconds: float = 60.0

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
            )
            if getattr(self, name) < low
        ]
        if self.port > 65535:
            problems.append(FieldProblem("HEALTHMON_PORT", "must be at most 65535"))
        if self.log_format not in ("text", "json"):
            problems.append(FieldProblem("HEALTHMON_LOG_FORMAT", "must be text or json"))
        problems.extend(self._delivery_problems())
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


def _keys(text: str) -> tuple[str, ...]:
    path = Path(text)
    if "," not in text and path.is_file():
        lines = path.read_text().splitlines()
        return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))
    return tuple(key.strip() for key in text.split(",") if key.strip())


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
    "delivery_timeout_seconds": _number,
    "delivery_retry_seconds": _seconds_list,
    "delivery_concurrency": _integer,
    "delivery_claim_seconds": _number,
}
