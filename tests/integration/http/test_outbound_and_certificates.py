"""The API and the outbound policy (422 for a denied literal address), and each webserver's tls_expires_at."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from litestar.testing import TestClient

from healthmon.container import Container
from healthmon.domain.outbound import parse_networks
from tests.factories import succeeded
from tests.fakes import EPOCH
from tests.integration.http.conftest import (
    ClientFactory,
    assert_problem,
    new_webserver,
    record,
    webserver_id,
)

Client = TestClient[Any]

METADATA_URLS = [
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/",
    "http://[::ffff:169.254.169.254]:8080/",
]


@pytest.mark.parametrize("url", METADATA_URLS)
def test_registering_a_url_on_a_denied_address_is_a_422_naming_the_url(client: Client, url: str) -> None:
    response = client.post("/webservers", json={"name": "metadata", "url": url})
    problem = assert_problem(response, 422, "invalid-field", fields={"url"})
    assert "outbound network policy" in problem["errors"][0]["message"]
    assert client.get("/webservers").json()["items"] == []


def test_changing_the_url_to_a_denied_address_is_a_422_and_changes_nothing(client: Client) -> None:
    created = new_webserver(client)
    for method in (client.patch, client.put):
        response = method(f"/webservers/{created['id']}", json={"name": "server 1", "url": METADATA_URLS[0]})
        assert_problem(response, 422, "invalid-field", fields={"url"})
    assert client.get(f"/webservers/{created['id']}").json()["url"] == created["url"]


def test_the_configured_lists_decide_and_a_host_name_is_left_to_connect_time(
    make_client: ClientFactory,
) -> None:
    client = make_client(
        outbound_deny=parse_networks("10.0.0.0/8"), outbound_allow=parse_networks("10.1.0.0/16")
    )
    assert_problem(
        client.post("/webservers", json={"name": "a", "url": "http://10.2.0.1/"}), 422, "invalid-field"
    )
    assert client.post("/webservers", json={"name": "b", "url": "http://10.1.0.1/"}).status_code == 201
    # Unlisted by default now that the deny list was replaced.
    assert client.post("/webservers", json={"name": "c", "url": "http://169.254.169.254/"}).status_code == 201
    assert client.post("/webservers", json={"name": "d", "url": "http://intranet.test/"}).status_code == 201


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "webhook", "url": "http://169.254.169.254/hook"},
        {"kind": "apprise", "url": "json://169.254.169.254/notify"},
    ],
)
def test_a_channel_to_a_denied_address_is_a_422(client: Client, body: dict[str, Any]) -> None:
    assert_problem(client.post("/channels", json=body), 422, "invalid-field", fields={"url"})


def test_changing_a_channel_to_a_denied_address_is_a_422(client: Client) -> None:
    created = client.post("/channels", json={"kind": "webhook", "url": "https://hooks.test/a"}).json()
    response = client.patch(f"/channels/{created['id']}", json={"url": "http://[fd00:ec2::254]/hook"})
    assert_problem(response, 422, "invalid-field", fields={"url"})


def test_the_schema_states_the_policy_rule_and_the_tls_field(client: Client) -> None:
    schema = client.get("/schema/openapi.json").json()
    text = str(schema)
    assert "HEALTHMON_OUTBOUND_DENY" in text
    assert "169.254.169.254" in text
    webserver_schemas = [
        body
        for name, body in schema["components"]["schemas"].items()
        if name.startswith("Webserver") and "properties" in body and "health" in body["properties"]
    ]
    assert webserver_schemas
    assert all("tls_expires_at" in body["properties"] for body in webserver_schemas)


def test_tls_expires_at_is_null_until_a_probe_sees_a_certificate_then_shown_everywhere(
    client: Client, container: Container
) -> None:
    created = new_webserver(client, url="https://server-1.test/")
    assert created["tls_expires_at"] is None
    expires_at = EPOCH + timedelta(days=90)
    probe = dataclasses.replace(succeeded(webserver_id(created), EPOCH), tls_expires_at=expires_at)
    record(container, [probe])
    details = client.get(f"/webservers/{created['id']}").json()
    [listed] = client.get("/webservers").json()["items"]
    assert details["tls_expires_at"] == listed["tls_expires_at"] == "2026-04-01T00:00:00Z"
    # The history keeps no certificate: it belongs to the webserver.
    assert "tls_expires_at" not in details["last_requests"][0]
