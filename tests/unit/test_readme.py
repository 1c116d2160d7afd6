"""The README's embedding example runs as written, and its list of metrics is the one exposed."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

from prometheus_client import CollectorRegistry

from healthmon.adapters.prometheus_fleet import WEBSERVER_FAMILIES, FleetCollector
from healthmon.adapters.prometheus_metrics import PrometheusMetrics
from healthmon.application.monitoring.metrics import MONITOR_METRICS
from healthmon.application.use_cases.fleet import FleetSnapshot
from tests.fakes import EPOCH

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_embedding_example_runs_and_reports_healthy() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    assert blocks, "the README has no Python example"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(blocks[0], str(README), "exec"), {})
    assert printed.getvalue().strip() == "healthy"


def test_the_metrics_table_lists_every_metric_exposed_with_its_type_and_labels() -> None:
    section = README.read_text().split("\n## Metrics\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(healthmon_\w+)` \| (\w+) \|([^|]*)\|", section, flags=re.MULTILINE)
    listed = {name: (kind, set(re.findall(r"`(\w+)`", labels))) for name, kind, labels in rows}
    assert len(listed) == len(rows), "a metric is listed twice"
    assert listed == exposed_metrics()


def exposed_metrics() -> dict[str, tuple[str, set[str]]]:
    """Every metric a scrape can show, by name, with its type and labels: the per-webserver gauges,
    the fleet-wide families and the worker's."""
    exposed = {family.name: ("gauge", set(family.labels)) for family in WEBSERVER_FAMILIES}
    registry = CollectorRegistry()
    PrometheusMetrics(MONITOR_METRICS, registry)
    snapshot = FleetSnapshot(EPOCH, [], 0, {}, {})
    for family in [*FleetCollector(snapshot).collect(), *registry.collect()]:
        labels = {label for sample in family.samples for label in sample.labels} - {"le"}
        name = f"{family.name}_total" if family.type == "counter" else family.name
        exposed[name] = (family.type, labels)
    return exposed
