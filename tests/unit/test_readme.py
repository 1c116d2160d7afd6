"""The README's embedding example runs as written, and its list of metrics is the one exposed."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import re
from pathlib import Path

from prometheus_client import CollectorRegistry

from healthmon.adapters.prometheus_fleet import FleetCollector
from healthmon.adapters.prometheus_metrics import PrometheusMetrics
from healthmon.application.monitoring.metrics import MONITOR_METRICS
from healthmon.application.ports import WebserverReading
from healthmon.application.use_cases.fleet import FleetSnapshot
from healthmon.domain.ids import WebserverId
from healthmon.domain.webserver import Webserver
from tests.factories import settings
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
    """Every metric a scrape can show, by name: the fleet's (from a snapshot of one webserver that has
    every reading) and the worker's, with its type and its labels."""
    registry = CollectorRegistry()
    PrometheusMetrics(MONITOR_METRICS, registry)
    webserver = dataclasses.replace(
        Webserver(WebserverId(1), settings(1), EPOCH, EPOCH), last_checked_at=EPOCH
    )
    snapshot = FleetSnapshot(EPOCH, [WebserverReading(webserver, True, 5.0)], 1, {}, {})
    exposed: dict[str, tuple[str, set[str]]] = {}
    for family in [*FleetCollector(snapshot).collect(), *registry.collect()]:
        labels = {label for sample in family.samples for label in sample.labels} - {"le"}
        name = f"{family.name}_total" if family.type == "counter" else family.name
        exposed[name] = (family.type, labels)
    # No probe has seen a certificate in this snapshot: that series is keyed like the others.
    exposed["healthmon_webserver_tls_expiry_timestamp_seconds"] = ("gauge", {"webserver_id"})
    return exposed
