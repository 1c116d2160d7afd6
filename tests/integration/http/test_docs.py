"""The OpenAPI 3.1 schema and the documentation page, which must work with no internet access."""

from __future__ import annotations

import re

from healthmon.domain.channels import SECRET_PATTERN
from healthmon.domain.patterns import URL_PATTERN
from tests.integration.http.conftest import Client

OPERATIONS = {
    ("post", "/webservers"),
    ("get", "/webservers"),
    ("get", "/webservers/{webserver_id}"),
    ("patch", "/webservers/{webserver_id}"),
    ("put", "/webservers/{webserver_id}"),
    ("delete", "/webservers/{webserver_id}"),
    ("get", "/webservers/{webserver_id}/requests"),
    ("post", "/webservers/sync"),
    ("get", "/webservers/export"),
    ("get", "/workers"),
    ("get", "/storage"),
    ("get", "/metrics"),
    ("get", "/events"),
    ("get", "/webservers/{webserver_id}/stats"),
    ("get", "/stats"),
    ("post", "/channels"),
    ("get", "/channels"),
    ("get", "/channels/{channel_id}"),
    ("patch", "/channels/{channel_id}"),
    ("delete", "/channels/{channel_id}"),
    ("post", "/channels/{channel_id}/test"),
    ("get", "/channels/{channel_id}/deliveries"),
    ("post", "/channels/{channel_id}/deliveries/{delivery_id}/retry"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/ui/data/overview"),
    ("get", "/badges/{webserver_id}/health.svg"),
    ("get", "/badges/{webserver_id}/uptime.svg"),
}
# An attribute that makes a browser fetch something: src, href, or a CSS url() / @import.
REMOTE_ASSET = re.compile(
    r"""(src|href)\s*=\s*["']?\s*(https?:)?//|url\(\s*["']?(https?:)?//|@import""", re.I
)


def test_the_openapi_schema_is_3_1_and_lists_every_operation(client: Client) -> None:
    response = client.get("/schema/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.1")
    assert schema["info"]["title"] == "healthmon"
    operations = {(method, path) for path, item in schema["paths"].items() for method in item}
    assert operations == OPERATIONS


def test_every_error_response_is_documented_as_a_problem(client: Client) -> None:
    schema = client.get("/schema/openapi.json").json()
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert list(response["content"]) == ["application/problem+json"], (method, path, status)
                    assert response["content"]["application/problem+json"]["schema"] == {
                        "$ref": "#/components/schemas/ProblemOut"
                    }


def test_the_schema_documents_value_ranges_the_domain_enforces(client: Client) -> None:
    schema = client.get("/schema/openapi.json").json()
    body = schema["components"]["schemas"]["WebserverIn"]
    assert body["required"] == ["name", "url"]
    assert (
        body["properties"]["interval_seconds"]["minimum"],
        body["properties"]["interval_seconds"]["maximum"],
    ) == (
        1,
        60,
    )
    assert body["properties"]["healthy_threshold"]["maximum"] == 100
    created = schema["paths"]["/webservers"]["post"]["responses"]["201"]
    assert "Location" in created["headers"]


def test_the_schema_states_the_channel_rules(client: Client) -> None:
    schema = client.get("/schema/openapi.json").json()
    body = schema["components"]["schemas"]["ChannelIn"]
    assert body["required"] == ["kind", "url"]
    assert body["additionalProperties"] is False
    webhook, apprise = body["anyOf"]
    assert webhook["properties"]["kind"] == {"const": "webhook"}
    assert webhook["properties"]["url"]["pattern"] == URL_PATTERN
    assert apprise["properties"]["secret"] == {"type": "null"}
    assert body["properties"]["secret"]["pattern"] == SECRET_PATTERN
    assert body["properties"]["webserver_ids"]["items"]["minimum"] == 1
    feed = schema["paths"]["/events"]["get"]
    limit = next(p for p in feed["parameters"] if p["name"] == "limit")
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 1000)
    assert "next_cursor" in schema["components"]["schemas"]["EventFeedOut"]["required"]


def test_the_docs_page_lists_every_endpoint_and_loads_nothing_remote(client: Client) -> None:
    response = client.get("/schema")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "<script" not in page.lower()
    assert not REMOTE_ASSET.search(page)
    assert "cdn" not in page.lower()
    for method, path in OPERATIONS:
        assert f'<span class="method">{method.upper()}</span> <span class="path">{path}</span>' in page
    assert 'href="/schema/openapi.json"' in page
    assert "WebserverIn" in page
