"""Who may call the API.

- API keys: once configured, only /healthz, /readyz and the schema are open; read-only keys only read.
- Writes take JSON only, and without keys the Host must be a loopback name or an allowed one, so a
  web page the user visits can neither post to the API nor read it through DNS rebinding.
"""

from __future__ import annotations

import logging

import pytest

from healthmon.entrypoints.http.access import Access, ApiKeys
from healthmon.entrypoints.http.cross_site import HostRule
from tests.integration.http.conftest import Client, ClientFactory, assert_problem

FULL = "full-key-0123456789"
OTHER_FULL = "second-full-key-abcdef"
READ = "read-only-key-9876543210"
KEYS = {"api_keys": (FULL, OTHER_FULL), "readonly_api_keys": (READ,)}
BODY = {"name": "a", "url": "http://a.test/"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def guarded(make_client: ClientFactory) -> Client:
    """A client on an app with two full keys and one read-only key."""
    return make_client(**KEYS)


def created_id(client: Client) -> int:
    response = client.post("/webservers", json=BODY, headers=bearer(FULL))
    assert response.status_code == 201
    identifier: int = response.json()["id"]
    return identifier


@pytest.mark.parametrize(
    "headers",
    [
        {},
        bearer("wrong-key"),
        bearer(FULL + "x"),
        bearer(FULL[:-1]),
        {"Authorization": FULL},
        {"Authorization": f"Basic {FULL}"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer    "},
        {"X-Api-Key": FULL},
    ],
    ids=[
        "missing",
        "wrong",
        "longer",
        "shorter",
        "no-scheme",
        "basic",
        "no-token",
        "blank-token",
        "other-header",
    ],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/webservers"), ("POST", "/webservers"), ("GET", "/webservers/1"), ("DELETE", "/webservers/1")],
)
def test_no_valid_key_is_401_with_a_bearer_challenge(
    guarded: Client, headers: dict[str, str], method: str, path: str
) -> None:
    response = guarded.request(method, path, headers=headers, json=BODY if method == "POST" else None)
    assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_rejected_write_changes_nothing(guarded: Client) -> None:
    assert guarded.post("/webservers", json=BODY).status_code == 401
    assert guarded.post("/webservers", json=BODY, headers=bearer(READ)).status_code == 403
    assert guarded.get("/webservers", headers=bearer(FULL)).json()["items"] == []


@pytest.mark.parametrize("key", [FULL, OTHER_FULL])
def test_a_full_key_may_do_everything(guarded: Client, key: str) -> None:
    response = guarded.post("/webservers", json=BODY, headers=bearer(key))
    assert response.status_code == 201
    path = response.headers["location"]
    assert guarded.get(path, headers=bearer(key)).status_code == 200
    assert guarded.patch(path, json={"name": "b"}, headers=bearer(key)).status_code == 200
    assert guarded.put(path, json=BODY, headers=bearer(key)).status_code == 200
    assert guarded.get(f"{path}/requests", headers=bearer(key)).status_code == 200
    assert guarded.delete(path, headers=bearer(key)).status_code == 204


def test_the_bearer_scheme_is_case_insensitive(guarded: Client) -> None:
    assert guarded.get("/webservers", headers={"Authorization": f"bearer {FULL}"}).status_code == 200
    assert guarded.get("/webservers", headers={"Authorization": f"BEARER {FULL}"}).status_code == 200


def test_a_read_only_key_may_read(guarded: Client) -> None:
    identifier = created_id(guarded)
    for path in ("/webservers", f"/webservers/{identifier}", f"/webservers/{identifier}/requests"):
        assert guarded.get(path, headers=bearer(READ)).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/webservers", BODY),
        ("PATCH", "/webservers/{id}", {"name": "b"}),
        ("PUT", "/webservers/{id}", BODY),
        ("DELETE", "/webservers/{id}", None),
    ],
)
def test_a_read_only_key_may_not_write(guarded: Client, method: str, path: str, body: object) -> None:
    identifier = created_id(guarded)
    response = guarded.request(method, path.format(id=identifier), json=body, headers=bearer(READ))
    assert_problem(response, 403, "forbidden")
    current = guarded.get(f"/webservers/{identifier}", headers=bearer(READ)).json()
    assert (current["name"], len(guarded.get("/webservers", headers=bearer(READ)).json()["items"])) == (
        "a",
        1,
    )


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/schema", "/schema/openapi.json"])
def test_probes_and_the_schema_need_no_key(guarded: Client, path: str) -> None:
    assert guarded.get(path).status_code == 200


def test_an_unknown_path_is_404_even_without_a_key(guarded: Client) -> None:
    # Guards run on matched routes only; a 404 reveals nothing a 401 would hide.
    assert_problem(guarded.get("/nope"), 404, "not-found")


def test_without_configured_keys_the_api_is_open(client: Client) -> None:
    assert client.post("/webservers", json=BODY).status_code == 201
    assert client.get("/webservers", headers=bearer("anything")).status_code == 200


def test_keys_never_reach_the_logs(guarded: Client, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        identifier = created_id(guarded)
        guarded.get("/webservers", headers=bearer(READ))
        guarded.delete(f"/webservers/{identifier}", headers=bearer(READ))
        guarded.get("/webservers", headers=bearer("wrong-" + FULL))
        guarded.get("/webservers")
    assert caplog.records, "the requests above log something (at least httpx's request lines)"
    for key in (FULL, OTHER_FULL, READ):
        assert key not in caplog.text
        assert all(key not in repr(record.args) for record in caplog.records)


def test_the_schema_documents_bearer_auth_only_when_keys_are_configured(
    guarded: Client, client: Client
) -> None:
    guarded_schema = guarded.get("/schema/openapi.json").json()
    assert guarded_schema["components"]["securitySchemes"] == {
        "api_key": {"type": "http", "scheme": "bearer"}
    }
    assert guarded_schema["paths"]["/webservers"]["get"]["security"] == [{"api_key": []}]
    assert "security" not in guarded_schema["paths"]["/healthz"]["get"]
    open_schema = client.get("/schema/openapi.json").json()
    assert "securitySchemes" not in open_schema.get("components", {})
    assert "security" not in open_schema["paths"]["/webservers"]["get"]


def test_api_keys_grant_the_strongest_access_a_key_matches() -> None:
    keys = ApiKeys(["both", "full"], ["both", "read", ""])
    assert keys.enabled
    assert keys.access_of("both") is Access.FULL
    assert keys.access_of("full") is Access.FULL
    assert keys.access_of("read") is Access.READ
    assert keys.access_of("") is Access.NONE
    assert keys.access_of("réad") is Access.NONE
    assert not ApiKeys([], [""]).enabled


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/webservers/1"),
        ("DELETE", "/webservers"),
        ("PUT", "/webservers/1/requests"),
        ("POST", "/workers"),
    ],
)
def test_a_wrong_method_without_a_key_is_401_before_405(guarded: Client, method: str, path: str) -> None:
    response = guarded.request(method, path)
    assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"
    with_key = guarded.request(method, path, headers=bearer(READ))
    assert_problem(with_key, 405, "method-not-allowed")


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/schema/openapi.json"])
def test_a_wrong_method_on_an_open_path_is_405_without_a_key(guarded: Client, path: str) -> None:
    assert_problem(guarded.post(path), 405, "method-not-allowed")


def test_head_needs_a_key_like_get(guarded: Client) -> None:
    response = guarded.head("/webservers")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.content == b""
    assert guarded.head("/webservers", headers=bearer(READ)).status_code == 200


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "text/plain; charset=utf-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonx",
        "application/json-patch",
    ],
)
@pytest.mark.parametrize(("method", "path"), [("POST", "/webservers"), ("PUT", "/1"), ("PATCH", "/1")])
def test_a_write_with_a_body_that_is_not_declared_json_is_415_and_changes_nothing(
    client: Client, content_type: str | None, method: str, path: str
) -> None:
    identifier = created_id_open(client)
    headers = {} if content_type is None else {"Content-Type": content_type}
    target = "/webservers" if path == "/webservers" else f"/webservers/{identifier}"
    body = b'{"name": "b", "url": "http://b.test/"}'
    problem = assert_problem(
        client.request(method, target, content=body, headers=headers), 415, "unsupported-media-type"
    )
    assert "application/json" in problem["detail"]
    items = client.get("/webservers").json()["items"]
    assert [(item["name"], item["url"]) for item in items] == [("a", "http://a.test/")]


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/merge-patch+json",
    ],
)
def test_a_write_declared_as_json_is_read(client: Client, content_type: str) -> None:
    body = b'{"name": "a", "url": "http://a.test/"}'
    response = client.post("/webservers", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 201, response.text


def test_a_write_is_judged_by_its_key_before_its_content_type(guarded: Client) -> None:
    body = b'{"name": "a", "url": "http://a.test/"}'
    plain = {"Content-Type": "text/plain"}
    assert_problem(guarded.post("/webservers", content=body, headers=plain), 401, "unauthorized")
    assert_problem(
        guarded.post("/webservers", content=body, headers={**plain, **bearer(READ)}), 403, "forbidden"
    )
    response = guarded.post("/webservers", content=body, headers={**plain, **bearer(FULL)})
    assert_problem(response, 415, "unsupported-media-type")


def test_a_delete_needs_no_content_type(client: Client) -> None:
    assert client.delete(f"/webservers/{created_id_open(client)}").status_code == 204


def created_id_open(client: Client) -> int:
    response = client.post("/webservers", json=BODY)
    assert response.status_code == 201, response.text
    identifier: int = response.json()["id"]
    return identifier


@pytest.mark.parametrize(
    "host",
    [
        "evil.example",
        "evil.example:8000",
        "localhost.evil.example",
        "127.0.0.1.evil.example",
        "10.0.0.5:8000",
        "[::2]",
    ],
)
@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/webservers"), ("POST", "/webservers"), ("GET", "/healthz")]
)
def test_without_keys_a_foreign_host_is_400_and_changes_nothing(
    client: Client, host: str, method: str, path: str
) -> None:
    response = client.request(method, path, json=BODY if method == "POST" else None, headers={"Host": host})
    problem = assert_problem(response, 400, "host-not-allowed")
    assert "HEALTHMON_ALLOWED_HOSTS" in problem["detail"]
    assert client.get("/webservers").json()["items"] == []


def test_without_keys_a_request_without_a_host_is_refused() -> None:
    # The test client always sends a Host, so the rule is asked directly.
    assert not HostRule().allows(None)
    assert not HostRule(["monitor.internal"]).allows("")
    assert not HostRule().allows("localhost:port")


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "localhost:8000",
        "LOCALHOST.",
        "127.0.0.1",
        "127.0.0.1:8000",
        "127.1.2.3:9",
        "[::1]",
        "[::1]:8000",
    ],
)
def test_without_keys_loopback_hosts_are_answered(client: Client, host: str) -> None:
    assert client.post("/webservers", json=BODY, headers={"Host": host}).status_code == 201
    assert client.get("/webservers", headers={"Host": host}).status_code == 200


def test_without_keys_allowed_hosts_are_answered(make_client: ClientFactory) -> None:
    client = make_client(allowed_hosts=("monitor.internal", "10.0.0.5"))
    for host in ("monitor.internal", "Monitor.Internal:8000", "10.0.0.5:8000"):
        assert client.get("/webservers", headers={"Host": host}).status_code == 200, host
    assert_problem(client.get("/webservers", headers={"Host": "other.internal"}), 400, "host-not-allowed")


def test_with_keys_any_host_is_answered(guarded: Client) -> None:
    response = guarded.get("/webservers", headers={"Host": "monitor.example:8000", **bearer(READ)})
    assert response.status_code == 200


def test_the_schema_documents_415_for_writes_with_a_body(client: Client) -> None:
    paths = client.get("/schema/openapi.json").json()["paths"]
    for path, method in [
        ("/webservers", "post"),
        ("/webservers/{webserver_id}", "put"),
        ("/webservers/{webserver_id}", "patch"),
    ]:
        response = paths[path][method]["responses"]["415"]
        assert "application/problem+json" in response["content"], (path, method)
