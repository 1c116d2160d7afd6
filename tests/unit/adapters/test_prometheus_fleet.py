"""The per-webserver lines read back the same through prometheus-client's text and OpenMetrics parsers."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics import parser as openmetrics_parser
from prometheus_client.parser import text_string_to_metric_families

from healthmon.adapters.prometheus_fleet import WEBSERVER_FAMILIES
from healthmon.adapters.prometheus_page import render_fleet
from healthmon.application.ports import WebserverReading
from healthmon.application.use_cases.fleet import FleetSnapshot
from healthmon.domain.health import HealthState, HealthStateMachine
from healthmon.domain.ids import WebserverId
from healthmon.domain.webserver import Webserver
from tests.factories import settings
from tests.fakes import EPOCH

AWKWARD_NAME = 'a "quoted" back\\slash'
CERTIFICATE_LIFE = timedelta(days=30)


def snapshot() -> FleetSnapshot:
    awkward = Webserver(
        WebserverId(7),
        settings(7, name=AWKWARD_NAME, url='http://bob:p"w@server-7.test/a\\b?q="x"'),
        EPOCH,
        EPOCH,
        health=HealthStateMachine(HealthState.UNHEALTHY, 0, 3),
        last_checked_at=EPOCH,
        tls_expires_at=EPOCH + CERTIFICATE_LIFE,
    )
    plain = dataclasses.replace(
        awkward,
        id=WebserverId(8),
        settings=settings(8),
        health=HealthStateMachine(),
        last_checked_at=None,
        tls_expires_at=None,
    )
    return FleetSnapshot(
        EPOCH, [WebserverReading(awkward, False, 1234.5), WebserverReading(plain)], 0, {}, {}
    )


def families(accept: str) -> dict[str, Metric]:
    encode, _ = choose_encoder(accept)
    text = render_fleet(snapshot(), encode).decode()
    if accept:
        parsed = list(openmetrics_parser.text_string_to_metric_families(text))  # type: ignore[no-untyped-call]
    else:
        parsed = list(text_string_to_metric_families(text))
    return {family.name: family for family in parsed}


@pytest.mark.parametrize(
    "accept", ["", "application/openmetrics-text; version=1.0.0"], ids=["text", "openmetrics"]
)
def test_labels_values_and_help_read_back_in_both_formats(accept: str) -> None:
    found = families(accept)
    for family in WEBSERVER_FAMILIES:
        assert found[family.name].type == "gauge"
        assert found[family.name].documentation == family.help
    [info, _] = found["healthmon_webserver_info"].samples
    assert info.labels == {
        "webserver_id": "7",
        "name": AWKWARD_NAME,
        "url": 'http://bob:***@server-7.test/a\\b?q="x"',
    }
    [up] = found["healthmon_webserver_up"].samples
    assert (up.labels, up.value) == ({"webserver_id": "7"}, 0)
    [latency] = found["healthmon_webserver_last_latency_seconds"].samples
    assert latency.value == 1.2345
    [checked] = found["healthmon_webserver_last_check_timestamp_seconds"].samples
    assert checked.value == EPOCH.timestamp()
    health = {
        (s.labels["webserver_id"], s.labels["state"]): s.value
        for s in found["healthmon_webserver_health"].samples
    }
    assert health == {
        ("7", "unknown"): 0,
        ("7", "healthy"): 0,
        ("7", "unhealthy"): 1,
        ("8", "unknown"): 1,
        ("8", "healthy"): 0,
        ("8", "unhealthy"): 0,
    }
    [expiry] = found["healthmon_webserver_tls_expiry_timestamp_seconds"].samples
    assert (expiry.labels, expiry.value) == ({"webserver_id": "7"}, (EPOCH + CERTIFICATE_LIFE).timestamp())
    assert {s.labels["health"]: s.value for s in found["healthmon_webservers"].samples} == {
        "unknown": 1,
        "healthy": 0,
        "unhealthy": 1,
    }
