"""What the monitor counts: every metric it reports through the Metrics port, defined once."""

from __future__ import annotations

from healthmon.application.ports import Metric, MetricKind

COUNTER, GAUGE, HISTOGRAM = MetricKind.COUNTER, MetricKind.GAUGE, MetricKind.HISTOGRAM

# Probes.
PROBES_STARTED = Metric(
    "probes_started", COUNTER, "Probes started, once past the global and per-host limits."
)
PROBES_FINISHED = Metric(
    "probes_finished",
    COUNTER,
    "Probes that ended, by whether their result was a success or a failure.",
    label="outcome",
    values=("success", "failure"),
)
PROBES_SKIPPED = Metric(
    "probes_skipped",
    COUNTER,
    "Due probes not started: their server was removed or reconfigured as they waited.",
)
PROBES_ABANDONED = Metric(
    "probes_abandoned", COUNTER, "Probes cancelled when the shutdown grace ran out; they leave no result."
)
PROBES_IN_FLIGHT = Metric("probes_in_flight", GAUGE, "Probes running now.")
PROBES_WAITING = Metric("probes_waiting", GAUGE, "Due probes waiting for a global or a per-host slot.")
PROBE_LAG = Metric(
    "probe_lag_seconds",
    HISTOGRAM,
    "How long after its planned time each probe started.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)

# Results.
RESULTS_STORED = Metric("results_stored", COUNTER, "Probe results written to the store.")
RESULTS_DROPPED = Metric(
    "results_dropped",
    COUNTER,
    "Results never stored: outdated (server removed or changed meanwhile), fenced (taken under a "
    "lease another worker has taken over since), buffer full, unstorable (the store refused that "
    "one), or still queued when the shutdown grace ran out.",
    label="reason",
    values=("outdated", "fenced", "buffer_full", "unstorable", "shutdown"),
)
RESULTS_BUFFERED = Metric("results_buffered", GAUGE, "Results waiting in memory to be stored.")
STORAGE_AVAILABLE = Metric("storage_available", GAUGE, "1 while the store answers, 0 during an outage.")

# Leases.
SERVERS_HELD = Metric("servers_held", GAUGE, "Servers this worker holds a lease on and probes.")
HEARTBEATS = Metric("heartbeats", COUNTER, "Heartbeats that renewed this worker's leases.")
LEASE_ROUND_SECONDS = Metric(
    "lease_round_seconds",
    HISTOGRAM,
    "Seconds spent in the statements of one heartbeat: beat, claim and release, and their commit.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
LEASES_CLAIMED = Metric("leases_claimed", COUNTER, "Servers this worker took over.")
LEASES_RELEASED = Metric("leases_released", COUNTER, "Servers this worker handed back above its fair share.")

MONITOR_METRICS: tuple[Metric, ...] = (
    PROBES_STARTED,
    PROBES_FINISHED,
    PROBES_SKIPPED,
    PROBES_ABANDONED,
    PROBES_IN_FLIGHT,
    PROBES_WAITING,
    PROBE_LAG,
    RESULTS_STORED,
    RESULTS_DROPPED,
    RESULTS_BUFFERED,
    STORAGE_AVAILABLE,
    SERVERS_HELD,
    HEARTBEATS,
    LEASE_ROUND_SECONDS,
    LEASES_CLAIMED,
    LEASES_RELEASED,
)
