"""What a worker counts: every metric the monitor and the delivery loop report through the Metrics port.

Names follow Prometheus' conventions (an exporter prefixes `healthmon_`): counters end in `_total`,
durations are in seconds and their names say so, and a label's values form a closed set.
"""

from __future__ import annotations

from healthmon.application.ports import Metric, MetricKind, Metrics
from healthmon.domain.probe import ErrorKind, ProbeResult

COUNTER, GAUGE, HISTOGRAM = MetricKind.COUNTER, MetricKind.GAUGE, MetricKind.HISTOGRAM

# Probes.
PROBES_STARTED = Metric(
    "probes_started_total", COUNTER, "Probes started, once past the global and per-host limits."
)
PROBES_FINISHED = Metric(
    "probes_finished_total",
    COUNTER,
    "Probes that ended, by whether their result was a success or a failure.",
    label="result",
    values=("success", "failure"),
)
# Why each failed probe failed: no usable response (the error kind), a status outside 2xx, or a
# 2xx that came too late (at or past the timeout); the reasons add up to the failures above.
PROBE_FAILURES = Metric(
    "probe_failures_total",
    COUNTER,
    "Failed probes, by reason: an error kind, bad_status (not 2xx) or too_slow (2xx past the timeout).",
    label="reason",
    values=(*(kind.value for kind in ErrorKind), "bad_status", "too_slow"),
)
PROBES_SKIPPED = Metric(
    "probes_skipped_total",
    COUNTER,
    "Due probes not started: their server was removed or reconfigured as they waited.",
)
PROBES_ABANDONED = Metric(
    "probes_abandoned_total",
    COUNTER,
    "Probes cancelled when the shutdown grace ran out; they leave no result.",
)
PROBES_IN_FLIGHT = Metric("probes_in_flight", GAUGE, "Probes running now.")
PROBES_WAITING = Metric("probes_waiting", GAUGE, "Due probes waiting for a global or a per-host slot.")
PROBE_LAG = Metric(
    "probe_schedule_lag_seconds",
    HISTOGRAM,
    "How long after its planned time each probe started.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
PROBE_DURATION = Metric(
    "probe_duration_seconds",
    HISTOGRAM,
    "How long each probe took, from its request to its response or error (its latency).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)

# Results.
RESULTS_STORED = Metric("results_stored_total", COUNTER, "Probe results written to the store.")
RESULTS_DROPPED = Metric(
    "results_dropped_total",
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
SERVERS_HELD = Metric("leases_held", GAUGE, "Servers this worker holds a lease on and probes.")
HEARTBEATS = Metric("heartbeats_total", COUNTER, "Heartbeats that renewed this worker's leases.")
LEASE_ROUND_SECONDS = Metric(
    "lease_round_seconds",
    HISTOGRAM,
    "Seconds spent in the statements of one heartbeat: beat, claim and release, and their commit.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
LEASES_CLAIMED = Metric("leases_claimed_total", COUNTER, "Servers this worker took over.")
LEASES_RELEASED = Metric(
    "leases_released_total", COUNTER, "Servers this worker handed back above its fair share."
)

# Deliveries.
DELIVERIES_SENT = Metric(
    "deliveries_sent_total",
    COUNTER,
    "Delivery attempts by what was recorded: delivered, retrying (failed, to be tried again), failed "
    "(given up) or unrecorded (the outcome could not be written; it is sent again).",
    label="result",
    values=("delivered", "retrying", "failed", "unrecorded"),
)

MONITOR_METRICS: tuple[Metric, ...] = (
    PROBES_STARTED,
    PROBES_FINISHED,
    PROBE_FAILURES,
    PROBES_SKIPPED,
    PROBES_ABANDONED,
    PROBES_IN_FLIGHT,
    PROBES_WAITING,
    PROBE_LAG,
    PROBE_DURATION,
    RESULTS_STORED,
    RESULTS_DROPPED,
    RESULTS_BUFFERED,
    STORAGE_AVAILABLE,
    SERVERS_HELD,
    HEARTBEATS,
    LEASE_ROUND_SECONDS,
    LEASES_CLAIMED,
    LEASES_RELEASED,
    DELIVERIES_SENT,
)


def failure_reason(result: ProbeResult) -> str:
    """Why a failed probe failed, as PROBE_FAILURES labels it."""
    if result.error_kind is not None:
        return result.error_kind.value
    return "too_slow" if result.status_code is not None and 200 <= result.status_code <= 299 else "bad_status"


def count_probe(metrics: Metrics, result: ProbeResult) -> None:
    """Count one finished probe: its result, its failure reason if it failed, and its duration."""
    metrics.add(PROBES_FINISHED, 1, "success" if result.success else "failure")
    if not result.success:
        metrics.add(PROBE_FAILURES, 1, failure_reason(result))
    metrics.observe(PROBE_DURATION, result.latency_ms / 1000)
