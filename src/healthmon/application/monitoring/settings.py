"""How the monitor paces itself: the one place its defaults are written (the service reuses them)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MonitorSettings:
    """How the monitor paces itself; the defaults suit tens of thousands of servers."""

    max_concurrent_probes: int = 500
    # Probes of one host:port at once; more wait their turn, and are checked again when it comes.
    max_probes_per_host: int = 10
    refresh_seconds: float = 1.0
    batch_size: int = 1000
    flush_seconds: float = 1.0
    # Ten minutes of results at 1,000 probes/s survive a database outage.
    buffer_limit: int = 600_000
    shutdown_grace_seconds: float = 10.0
    summary_seconds: float = 60.0
    retry_initial_seconds: float = 0.5
    # Short enough that results queued during an outage appear within seconds of the recovery.
    retry_max_seconds: float = 5.0
    # A worker holds its servers while its heartbeat is younger than this; a dead worker's servers
    # are taken over this long after its last heartbeat.
    lease_seconds: float = 6.0
    # The store lets no other worker run (SQLite's file lock): nobody can take this worker's servers,
    # so it goes on probing through a database outage instead of stopping when its lease lapses.
    exclusive: bool = False

    def __post_init__(self) -> None:
        for name in ("max_concurrent_probes", "max_probes_per_host", "batch_size", "buffer_limit"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in (
            "refresh_seconds",
            "flush_seconds",
            "summary_seconds",
            "retry_initial_seconds",
            "lease_seconds",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")

    @property
    def heartbeat_seconds(self) -> float:
        """How often the worker beats, claims and releases: three times a lease."""
        return self.lease_seconds / 3

    @property
    def lease_margin_seconds(self) -> float:
        """How long before its lease may expire (by the last beat sent) the worker stops starting probes."""
        return self.lease_seconds / 6
