"""GET /metrics: the fleet from the store, as Prometheus text or OpenMetrics, behind the keys, cached 15 s."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from dependency_injector import providers
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics import parser as openmetrics_parser
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from healthmon.adapters.prometheus_fleet import SERIES_PER_WEBSERVER_AT_MOST
from healthmon.application.monitoring.metrics import PROBES_STARTED
from healthmon.container import Container
from healthmon.domain.health import HEALTHY_AFTER
from tests.factories import failed, succeeded
from tests.fakes import FakeClock
from tests.integration.http.conftest import (
    Client,
    ClientFactory,
    assert_problem,
    new_webserver,
    record,
    unavailable,
    webserver_id,
)

OPENMETRICS = "application/openmetrics-text; version=1.0.0"


def openmetrics_families(text: str) -> list[Metric]:
    """The families of an OpenMetrics exposition, as prometheus-client's OpenMetrics parser reads them."""
    return list(openmetrics_parser.text_string_to_metric_families(text))  # type: ignore[no-untyped-call]


def samples(text: str) -> list[Sample]:
    """Every sample of a Prometheus text exposition, as prometheus-client's own parser reads it."""
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def value(found: list[Sample], name: str, **labels: str) -> float | None:
    """The value of the one sample with this name whose labels include these, or None."""
    matching = [
        sample
        for sample in found
        if sample.name == name and all(sample.labels.get(key) == wanted for key, wanted in labels.items())
    ]
    assert len(matching) <= 1, matching
    return matching[0].value if matching else None


def scrape(client: Client, **headers: str) -> list[Sample]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return samples(response.text)


def test_each_webserver_shows_its_health_last_probe_and_info(
    client: Client, container: Container, clock: FakeClock
) -> None:
    healthy = new_webserver(client, 1, url="http://alice:s3cr3t@server-1.test/health")
    down = new_webserver(client, 2)
    new_webserver(client, 3)  # never probed
    first = webserver_id(healthy)
    record(container, [succeeded(first, clock.advance(1), latency_ms=250.0) for _ in range(HEALTHY_AFTER)])
    record(container, [failed(webserver_id(down), clock.advance(1))])
    found = scrape(client)

    one = str(first)
    assert value(found, "healthmon_webserver_up", webserver_id=one) == 1
    assert value(found, "healthmon_webserver_up", webserver_id=str(down["id"])) == 0
    assert value(found, "healthmon_webserver_up", webserver_id="3") is None
    assert value(found, "healthmon_webserver_health", webserver_id=one, state="healthy") == 1
    assert value(found, "healthmon_webserver_health", webserver_id=one, state="unknown") == 0
    assert value(found, "healthmon_webserver_health", webserver_id="3", state="unknown") == 1
    assert value(found, "healthmon_webserver_last_latency_seconds", webserver_id=one) == 0.25
    checked = value(found, "healthmon_webserver_last_check_timestamp_seconds", webserver_id=one)
    assert checked is not None
    assert abs(checked - (clock.now().timestamp() - 1)) < 1e-6
    info = [sample for sample in found if sample.name == "healthmon_webserver_info"]
    assert {sample.labels["url"] for sample in info} >= {"http://alice:***@server-1.test/health"}
    assert "s3cr3t" not in client.get("/metrics").text
    assert value(found, "healthmon_webservers", health="healthy") == 1
    assert value(found, "healthmon_webservers", health="unknown") == 2
    assert value(found, "healthmon_deliveries", status="pending") == 0
    assert value(found, "healthmon_events", type="webserver.health_changed") == 1


def test_each_webserver_has_at_most_8_series_keyed_by_its_id_alone(
    client: Client, container: Container, clock: FakeClock
) -> None:
    created = [new_webserver(client, n) for n in range(1, 4)]
    record(container, [succeeded(webserver_id(server), clock.advance(1)) for server in created])
    found = scrape(client)
    per_server = Counter(sample.labels["webserver_id"] for sample in found if "webserver_id" in sample.labels)
    assert set(per_server) == {str(server["id"]) for server in created}
    assert max(per_server.values()) <= SERIES_PER_WEBSERVER_AT_MOST
    # Beside webserver_id, only `state` (closed) and, on _info alone, the name and URL.
    for sample in found:
        extra = set(sample.labels) - {"webserver_id"}
        if "webserver_id" in sample.labels and sample.name != "healthmon_webserver_info":
            assert extra <= {"state"}, sample


def test_openmetrics_when_the_accept_header_asks(
    client: Client, container: Container, clock: FakeClock
) -> None:
    server = webserver_id(new_webserver(client))
    record(container, [succeeded(server, clock.advance(1))])
    response = client.get("/metrics", headers={"Accept": OPENMETRICS})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/openmetrics-text; version=1.0.0")
    assert response.text.endswith("# EOF\n")
    families = {family.name: family for family in openmetrics_families(response.text)}
    assert families["healthmon_webserver_up"].samples[0].value == 1
    assert families["healthmon_webserver_info"].samples[0].labels["name"] == "server 1"


def test_the_page_is_read_again_once_15_s_old_and_not_before(
    client: Client, container: Container, clock: FakeClock
) -> None:
    new_webserver(client, 1)
    assert value(scrape(client), "healthmon_webservers", health="unknown") == 1
    new_webserver(client, 2)
    clock.advance(14.9)
    assert value(scrape(client), "healthmon_webservers", health="unknown") == 1
    clock.advance(0.1)
    assert value(scrape(client), "healthmon_webservers", health="unknown") == 2


def test_the_cached_openmetrics_page_is_as_old_as_the_text_one(
    client: Client, container: Container, clock: FakeClock
) -> None:
    new_webserver(client, 1)
    scrape(client)
    new_webserver(client, 2)
    clock.advance(5)
    response = client.get("/metrics", headers={"Accept": OPENMETRICS})
    families = {family.name: family for family in openmetrics_families(response.text)}
    unknown = [s for s in families["healthmon_webservers"].samples if s.labels["health"] == "unknown"]
    assert unknown[0].value == 1


KEYS = {"api_keys": ("full-key",), "readonly_api_keys": ("read-key",)}


def test_a_key_is_needed_and_a_read_only_one_suffices(make_client: ClientFactory) -> None:
    client = make_client(**KEYS)
    assert_problem(client.get("/metrics"), 401, "unauthorized")
    assert_problem(client.get("/metrics", headers={"Authorization": "Bearer wrong"}), 401, "unauthorized")
    for key in ("read-key", "full-key"):
        response = client.get("/metrics", headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 200, response.text
        assert value(samples(response.text), "healthmon_workers_live") == 0


def test_an_unreachable_database_is_a_503_problem(client: Client, container: Container) -> None:
    container.uow.override(providers.Factory(unavailable))
    assert_problem(client.get("/metrics"), 503, "storage-unavailable")


def test_the_worker_metrics_are_on_the_page_where_the_worker_runs(
    make_client: ClientFactory, make_container: Callable[..., Container]
) -> None:
    container = make_container()
    container.metrics().add(PROBES_STARTED, 3)
    with_worker = scrape(make_client(container, worker_alive=lambda: True))
    assert value(with_worker, "healthmon_probes_started_total") == 3
    assert value(with_worker, "healthmon_workers_live") == 0
    without = scrape(make_client(container))
    assert value(without, "healthmon_probes_started_total") is None


def test_openmetrics_with_the_worker_metrics_ends_once(
    make_client: ClientFactory, make_container: Callable[..., Container]
) -> None:
    client = make_client(make_container(), worker_alive=lambda: True)
    text = client.get("/metrics", headers={"Accept": OPENMETRICS}).text
    assert text.count("# EOF") == 1
    names = {family.name for family in openmetrics_families(text)}
    assert {"healthmon_probes_started", "healthmon_webservers"} <= names


def test_head_answers_like_get(client: Client) -> None:
    response = client.head("/metrics")
    assert response.status_code == 200
    assert response.content == b""
