"""The /webservers endpoints on the in-memory store: every operation, and every kind of bad input."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from healthmon.container import Container
from tests.factories import failed, succeeded
from tests.fakes import EPOCH, FakeClock
from tests.integration.http.conftest import (
    Client,
    assert_problem,
    new_webserver,
    record,
    webserver_id,
)

EPOCH_JSON = "2026-01-01T00:00:00Z"
FIELDS = {
    "id",
    "name",
    "url",
    "interval_seconds",
    "timeout_seconds",
    "healthy_threshold",
    "unhealthy_threshold",
    "follow_redirects",
    "verify_tls",
    "key",
    "managed",
    "public",
    "health",
    "health_changed_at",
    "consecutive_successes",
    "consecutive_failures",
    "last_checked_at",
    "tls_expires_at",
    "created_at",
    "updated_at",
}
VALID = {"name": "shop", "url": "https://shop.test/health"}

# Bodies that cannot be read as a webserver: 400, naming the field.
UNREADABLE: list[tuple[Any, str]] = [
    ([VALID], "body"),
    ("shop", "body"),
    (None, "body"),
    ({**VALID, "colour": "blue"}, "colour"),
    ({"url": VALID["url"]}, "name"),
    ({"name": "shop"}, "url"),
    ({**VALID, "name": None}, "name"),
    ({**VALID, "name": 7}, "name"),
    ({**VALID, "interval_seconds": "10"}, "interval_seconds"),
    ({**VALID, "interval_seconds": 10.5}, "interval_seconds"),
    ({**VALID, "timeout_seconds": True}, "timeout_seconds"),
    ({**VALID, "healthy_threshold": [5]}, "healthy_threshold"),
    ({**VALID, "follow_redirects": 1}, "follow_redirects"),
    ({**VALID, "verify_tls": "false"}, "verify_tls"),
    ({**VALID, "public": "yes"}, "public"),
]
# Bodies of the right types whose values break a rule: 422, naming every such field.
INVALID: list[tuple[dict[str, Any], set[str]]] = [
    ({**VALID, "name": ""}, {"name"}),
    ({**VALID, "name": "   "}, {"name"}),
    ({**VALID, "name": "x" * 201}, {"name"}),
    ({**VALID, "name": "bad\u0000name"}, {"name"}),
    ({**VALID, "url": "ftp://shop.test/"}, {"url"}),
    ({**VALID, "url": "/health"}, {"url"}),
    ({**VALID, "url": "http://"}, {"url"}),
    ({**VALID, "url": "http://shop .test/"}, {"url"}),
    ({**VALID, "url": "http://shop.test:99999/"}, {"url"}),
    ({**VALID, "url": "http://shop.test/" + "a" * 2048}, {"url"}),
    ({**VALID, "url": "HTTP://"}, {"url"}),
    # Host names the prober's URL library cannot encode (issue 10, item 1).
    ({**VALID, "url": "http://./x"}, {"url"}),
    ({**VALID, "url": "http://" + "a" * 64 + ".test/"}, {"url"}),
    ({**VALID, "url": "http://\u2488.example/"}, {"url"}),
    ({**VALID, "url": "http://xn--zz.test/"}, {"url"}),
    # Line and paragraph separators are control characters too (issue 10, item 12).
    ({**VALID, "name": "forged\u2028INFO webserver 1: healthy"}, {"name"}),
    ({**VALID, "name": "forged\u2029line"}, {"name"}),
    ({**VALID, "interval_seconds": 0}, {"interval_seconds"}),
    ({**VALID, "interval_seconds": 61}, {"interval_seconds"}),
    ({**VALID, "timeout_seconds": 0}, {"timeout_seconds"}),
    ({**VALID, "timeout_seconds": 61}, {"timeout_seconds"}),
    ({**VALID, "healthy_threshold": 0}, {"healthy_threshold"}),
    ({**VALID, "unhealthy_threshold": 101}, {"unhealthy_threshold"}),
    (
        {"name": "", "url": "gopher://x", "interval_seconds": -1, "healthy_threshold": 1000},
        {"name", "url", "interval_seconds", "healthy_threshold"},
    ),
]


def listed(client: Client) -> list[dict[str, Any]]:
    response = client.get("/webservers", params={"limit": 1000})
    assert response.status_code == 200
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def make_healthy(container: Container, created: dict[str, Any], clock: FakeClock) -> None:
    start = clock.now()
    record(container, [succeeded(webserver_id(created), start + timedelta(seconds=i)) for i in range(5)])


# --- POST /webservers -------------------------------------------------------------------------------


def test_create_returns_201_the_full_resource_and_its_location(client: Client) -> None:
    response = client.post("/webservers", json=VALID)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == FIELDS
    assert response.headers["location"] == f"/webservers/{body['id']}"
    assert body == {
        "id": body["id"],
        "name": "shop",
        "url": "https://shop.test/health",
        "interval_seconds": 60,
        "timeout_seconds": 60,
        "healthy_threshold": 5,
        "unhealthy_threshold": 3,
        "follow_redirects": True,
        "verify_tls": True,
        "key": None,
        "managed": False,
        "public": False,
        "health": "unknown",
        "health_changed_at": None,
        "consecutive_successes": 0,
        "consecutive_failures": 0,
        "last_checked_at": None,
        "tls_expires_at": None,
        "created_at": EPOCH_JSON,
        "updated_at": EPOCH_JSON,
    }
    assert client.get(response.headers["location"]).json()["name"] == "shop"


def test_create_takes_every_optional_field_and_trims_the_name(client: Client) -> None:
    body = {
        "name": "  shop  ",
        "url": "http://shop.test:8080/",
        "interval_seconds": 1,
        "timeout_seconds": 60,
        "healthy_threshold": 1,
        "unhealthy_threshold": 100,
        "follow_redirects": False,
        "verify_tls": False,
        "public": True,
    }
    created = client.post("/webservers", json=body).json()
    assert created["name"] == "shop"
    assert {key: created[key] for key in body if key != "name"} == {
        k: v for k, v in body.items() if k != "name"
    }


def test_create_rejects_a_url_already_watched_with_409(client: Client) -> None:
    new_webserver(client, 1, url="http://same.test/")
    response = client.post("/webservers", json={"name": "again", "url": "http://same.test/"})
    problem = assert_problem(response, 409, "webserver-already-registered")
    assert "http://same.test/" in problem["detail"]
    assert [item["name"] for item in listed(client)] == ["server 1"]


@pytest.mark.parametrize(("body", "field"), UNREADABLE)
def test_create_rejects_an_unreadable_body_with_400_naming_the_field(
    client: Client, body: Any, field: str
) -> None:
    response = client.post("/webservers", json=body)
    assert_problem(response, 400, "invalid-request", fields={field})
    assert listed(client) == []


def test_create_rejects_invalid_utf8_in_a_field_with_400_naming_it(client: Client) -> None:
    # Issue 10, item 4: this was a 500.
    body = b'{"name":"\xff", "url": "http://shop.test/"}'
    response = client.post("/webservers", content=body, headers={"content-type": "application/json"})
    assert_problem(response, 400, "invalid-request", fields={"name"})
    assert listed(client) == []


@pytest.mark.parametrize(
    "content", [b'{"name":"\xff"}', b'{"name":' + b"[" * 1000 + b"]" * 1000 + b"}", b'{"url": "\xff"}']
)
@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_changes_reject_a_body_that_is_not_json_with_400(client: Client, method: str, content: bytes) -> None:
    created = new_webserver(client)
    response = client.request(
        method, f"/webservers/{created['id']}", content=content, headers={"content-type": "application/json"}
    )
    assert_problem(response, 400, "invalid-request")
    assert client.get(f"/webservers/{created['id']}").json() == {
        **created,
        "last_requests": [],
        "last_event": None,
        "uptime_24h": None,
    }


def test_an_unreadable_body_names_every_unreadable_field(client: Client) -> None:
    response = client.post("/webservers", json={"name": 7, "colour": "blue", "verify_tls": "no"})
    assert_problem(response, 400, "invalid-request", fields={"name", "colour", "verify_tls", "url"})


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("http://shop.test/health", "HTTP://SHOP.TEST/health"),
        ("http://shop.test/health", "http://shop.test:80/health"),
        ("https://shop.test/", "https://shop.test:443/"),
        ("https://shop.test/", "https://shop.test"),
        ("http://shop.test/health", "http://shop.test/health#status"),
    ],
)
def test_create_sees_another_spelling_of_a_watched_url_as_a_duplicate(
    client: Client, first: str, second: str
) -> None:
    created = new_webserver(client, 1, url=first)
    response = client.post("/webservers", json={"name": "again", "url": second})
    problem = assert_problem(response, 409, "webserver-already-registered")
    assert created["url"] in problem["detail"]
    assert [item["url"] for item in listed(client)] == [created["url"]]


def test_a_url_is_stored_and_shown_in_one_spelling(client: Client) -> None:
    created = new_webserver(client, url="HTTPS://Shop.Test:443/Health?Q=1#top")
    assert created["url"] == "https://shop.test/Health?Q=1"


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_changes_see_another_spelling_of_a_watched_url_as_a_duplicate(client: Client, method: str) -> None:
    new_webserver(client, 1, url="http://one.test/")
    second = new_webserver(client, 2, url="http://two.test/")
    response = client.request(
        method, f"/webservers/{second['id']}", json={"name": "two", "url": "HTTP://ONE.test:80/#x"}
    )
    assert_problem(response, 409, "webserver-already-registered")


def test_create_reads_a_whole_number_written_with_a_fraction_as_an_integer(client: Client) -> None:
    # JSON Schema counts 30.0 as an integer; 30.5 stays a type error (see UNREADABLE).
    created = client.post("/webservers", json={**VALID, "interval_seconds": 30.0}).json()
    assert created["interval_seconds"] == 30
    assert isinstance(created["interval_seconds"], int)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{",
        b"name=shop",
        b"\xff\xfe",
        b'{"name": "shop",}',
        b'{"name":' + b"[" * 1000 + b"]" * 1000 + b"}",  # nested 1,000 deep, 2 KB (issue 10, item 4)
        b"[" * 20_000 + b"]" * 20_000,
    ],
)
def test_create_rejects_a_body_that_is_not_json_with_400(client: Client, content: bytes) -> None:
    response = client.post("/webservers", content=content, headers={"content-type": "application/json"})
    assert_problem(response, 400, "invalid-request", fields={"body"})
    assert listed(client) == []


@pytest.mark.parametrize(("body", "fields"), INVALID)
def test_create_rejects_values_that_break_a_rule_with_422_listing_every_field(
    client: Client, body: dict[str, Any], fields: set[str]
) -> None:
    response = client.post("/webservers", json=body)
    assert_problem(response, 422, "invalid-field", fields=fields)
    assert listed(client) == []


# --- GET /webservers/{id} ---------------------------------------------------------------------------


def test_read_returns_details_and_the_last_10_requests_newest_first(
    client: Client, container: Container
) -> None:
    created = new_webserver(client)
    server = webserver_id(created)
    record(container, [succeeded(server, EPOCH + timedelta(seconds=i), latency_ms=i) for i in range(11)])
    record(container, [failed(server, EPOCH + timedelta(seconds=20), status_code=None)])
    response = client.get(f"/webservers/{server}")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == FIELDS | {"last_requests", "last_event", "uptime_24h"}
    assert body["last_checked_at"] == "2026-01-01T00:00:20Z"
    # Five successes made it healthy; one failure (of the three it takes) does not undo that.
    assert (body["health"], body["consecutive_failures"]) == ("healthy", 1)
    assert body["health_changed_at"] == "2026-01-01T00:00:04Z"
    requests = body["last_requests"]
    assert len(requests) == 10
    assert [r["started_at"] for r in requests] == sorted((r["started_at"] for r in requests), reverse=True)
    assert requests[0] == {
        "id": requests[0]["id"],
        "started_at": "2026-01-01T00:00:20Z",
        "latency_ms": 0.4,
        "status_code": None,
        "success": False,
        "error": {"kind": "connection_refused", "message": "Connection refused"},
    }
    assert requests[1] == {
        "id": requests[1]["id"],
        "started_at": "2026-01-01T00:00:10Z",
        "latency_ms": 10.0,
        "status_code": 200,
        "success": True,
        "error": None,
    }
    assert requests[-1]["started_at"] == "2026-01-01T00:00:02Z"


@pytest.mark.parametrize(
    "path", ["/webservers/999", "/webservers/0", "/webservers/-1", "/webservers/99999999999"]
)
def test_read_of_an_unknown_or_impossible_id_is_404(client: Client, path: str) -> None:
    new_webserver(client)
    assert_problem(client.get(path), 404, "webserver-not-found")


@pytest.mark.parametrize(
    "path", ["/webservers/abc", "/webservers/1.5", "/webservers/1/nope", "/nope", "/ui/nope"]
)
def test_unknown_paths_are_404_problems(client: Client, path: str) -> None:
    new_webserver(client)
    assert_problem(client.get(path), 404, "not-found")


# --- GET /webservers --------------------------------------------------------------------------------


def test_list_shows_current_health_and_filters_by_it(
    client: Client, container: Container, clock: FakeClock
) -> None:
    healthy, unhealthy, unknown = (new_webserver(client, n) for n in (1, 2, 3))
    make_healthy(container, healthy, clock)
    record(container, [failed(webserver_id(unhealthy), EPOCH + timedelta(seconds=i)) for i in range(3)])
    everything = client.get("/webservers").json()
    assert everything["next_cursor"] is None
    assert [(item["id"], item["health"]) for item in everything["items"]] == [
        (healthy["id"], "healthy"),
        (unhealthy["id"], "unhealthy"),
        (unknown["id"], "unknown"),
    ]
    assert set(everything["items"][0]) == FIELDS | {"last_event", "uptime_24h"}
    for state, expected in (("healthy", healthy), ("unhealthy", unhealthy), ("unknown", unknown)):
        page = client.get("/webservers", params={"health": state}).json()
        assert [item["id"] for item in page["items"]] == [expected["id"]]


def test_list_pages_hold_100_by_default(client: Client, container: Container) -> None:
    for n in range(101):
        new_webserver(client, n)
    first = client.get("/webservers").json()
    assert len(first["items"]) == 100
    rest = client.get("/webservers", params={"cursor": first["next_cursor"]}).json()
    assert len(rest["items"]) == 1
    assert rest["next_cursor"] is None


@pytest.mark.parametrize(
    ("params", "status", "slug", "field"),
    [
        ({"health": "sick"}, 400, "invalid-request", "health"),
        ({"limit": "ten"}, 400, "invalid-request", "limit"),
        ({"limit": "0"}, 422, "invalid-field", "limit"),
        ({"limit": "1001"}, 422, "invalid-field", "limit"),
        ({"limit": "-5"}, 422, "invalid-field", "limit"),
        ({"cursor": "not-a-cursor"}, 422, "invalid-cursor", "cursor"),
        ({"cursor": "eyJhZnRlciI6MH0"}, 422, "invalid-cursor", "cursor"),  # {"after":0} in the old form
        ({"cursor": "eyJhZnRlciI6IjEifQ"}, 422, "invalid-cursor", "cursor"),  # {"after":"1"}
        ({"cursor": ""}, 422, "invalid-cursor", "cursor"),
        ({"cursor": "-1"}, 422, "invalid-cursor", "cursor"),
        ({"cursor": "1.2"}, 422, "invalid-cursor", "cursor"),  # a history cursor
    ],
)
def test_list_rejects_bad_query_parameters(
    client: Client, params: dict[str, str], status: int, slug: str, field: str
) -> None:
    assert_problem(client.get("/webservers", params=params), status, slug, fields={field})


# --- PATCH /webservers/{id} -------------------------------------------------------------------------


def test_patch_changes_only_the_given_fields(client: Client, clock: FakeClock) -> None:
    created = new_webserver(client, 1, interval_seconds=30, verify_tls=False)
    clock.advance(60)
    response = client.patch(f"/webservers/{created['id']}", json={"name": "renamed", "timeout_seconds": 5})
    assert response.status_code == 200
    updated = response.json()
    assert set(updated) == FIELDS
    assert updated == {
        **created,
        "name": "renamed",
        "timeout_seconds": 5,
        "updated_at": "2026-01-01T00:01:00Z",
    }
    assert client.get(f"/webservers/{created['id']}").json()["name"] == "renamed"


def test_patch_makes_a_webserver_public_and_private_again(client: Client) -> None:
    created = new_webserver(client)
    path = f"/webservers/{created['id']}"
    assert client.patch(path, json={"public": True}).json()["public"] is True
    assert client.get(path).json()["public"] is True
    assert client.patch(path, json={"public": False}).json()["public"] is False


def test_patch_with_a_new_url_resets_health_to_unknown(
    client: Client, container: Container, clock: FakeClock
) -> None:
    created = new_webserver(client)
    make_healthy(container, created, clock)
    before = client.get(f"/webservers/{created['id']}").json()
    assert (before["health"], before["consecutive_successes"]) == ("healthy", 5)
    clock.advance(3600)
    updated = client.patch(f"/webservers/{created['id']}", json={"url": "http://moved.test/"}).json()
    assert updated["url"] == "http://moved.test/"
    assert updated["health"] == "unknown"
    assert (updated["consecutive_successes"], updated["consecutive_failures"]) == (0, 0)
    assert updated["health_changed_at"] == "2026-01-01T01:00:00Z"
    assert len(client.get(f"/webservers/{created['id']}").json()["last_requests"]) == 5


def test_patch_keeping_the_url_keeps_health(client: Client, container: Container, clock: FakeClock) -> None:
    created = new_webserver(client)
    make_healthy(container, created, clock)
    updated = client.patch(f"/webservers/{created['id']}", json={"name": "renamed"}).json()
    assert (updated["health"], updated["consecutive_successes"]) == ("healthy", 5)


def test_patch_with_an_empty_object_changes_nothing(client: Client, clock: FakeClock) -> None:
    created = new_webserver(client)
    clock.advance(10)
    response = client.patch(f"/webservers/{created['id']}", json={})
    assert response.status_code == 200
    assert response.json() == created


@pytest.mark.parametrize(
    ("body", "status", "slug", "fields"),
    [
        ({"name": None}, 400, "invalid-request", {"name"}),
        ({"colour": "blue"}, 400, "invalid-request", {"colour"}),
        ({"interval_seconds": "5"}, 400, "invalid-request", {"interval_seconds"}),
        ([], 400, "invalid-request", {"body"}),
        ({"url": "mailto:a@b.test"}, 422, "invalid-field", {"url"}),
        (
            {"interval_seconds": 0, "unhealthy_threshold": 0},
            422,
            "invalid-field",
            {"interval_seconds", "unhealthy_threshold"},
        ),
    ],
)
def test_patch_rejects_bad_input_and_changes_nothing(
    client: Client, body: Any, status: int, slug: str, fields: set[str]
) -> None:
    created = new_webserver(client)
    assert_problem(client.patch(f"/webservers/{created['id']}", json=body), status, slug, fields=fields)
    assert client.get(f"/webservers/{created['id']}").json() == {
        **created,
        "last_requests": [],
        "last_event": None,
        "uptime_24h": None,
    }


def test_patch_to_a_url_another_webserver_watches_is_409(client: Client) -> None:
    first = new_webserver(client, 1)
    second = new_webserver(client, 2)
    response = client.patch(f"/webservers/{second['id']}", json={"url": first["url"]})
    assert_problem(response, 409, "webserver-already-registered")
    assert client.get(f"/webservers/{second['id']}").json()["url"] == second["url"]


def test_patch_of_an_unknown_webserver_is_404(client: Client) -> None:
    assert_problem(client.patch("/webservers/42", json={"name": "x"}), 404, "webserver-not-found")


# --- PUT /webservers/{id} ---------------------------------------------------------------------------


def test_put_replaces_everything_and_omitted_fields_go_back_to_defaults(
    client: Client, clock: FakeClock
) -> None:
    created = new_webserver(
        client,
        1,
        interval_seconds=5,
        timeout_seconds=2,
        healthy_threshold=9,
        unhealthy_threshold=9,
        follow_redirects=False,
        verify_tls=False,
        public=True,
    )
    clock.advance(1)
    response = client.put(f"/webservers/{created['id']}", json={"name": "new name", "url": created["url"]})
    assert response.status_code == 200
    assert response.json() == {
        **created,
        "name": "new name",
        "interval_seconds": 60,
        "timeout_seconds": 60,
        "healthy_threshold": 5,
        "unhealthy_threshold": 3,
        "follow_redirects": True,
        "verify_tls": True,
        "public": False,
        "updated_at": "2026-01-01T00:00:01Z",
    }


def test_put_with_a_new_url_resets_health(client: Client, container: Container, clock: FakeClock) -> None:
    created = new_webserver(client)
    make_healthy(container, created, clock)
    replaced = client.put(
        f"/webservers/{created['id']}", json={"name": "x", "url": "http://other.test/"}
    ).json()
    assert replaced["health"] == "unknown"
    assert replaced["consecutive_successes"] == 0


@pytest.mark.parametrize(
    ("body", "status", "slug", "fields"),
    [
        ({"name": "only a name"}, 400, "invalid-request", {"url"}),
        ({**VALID, "extra": 1}, 400, "invalid-request", {"extra"}),
        ({"name": "", "url": "nope"}, 422, "invalid-field", {"name", "url"}),
    ],
)
def test_put_rejects_bad_input_and_changes_nothing(
    client: Client, body: dict[str, Any], status: int, slug: str, fields: set[str]
) -> None:
    created = new_webserver(client)
    assert_problem(client.put(f"/webservers/{created['id']}", json=body), status, slug, fields=fields)
    assert client.get(f"/webservers/{created['id']}").json() == {
        **created,
        "last_requests": [],
        "last_event": None,
        "uptime_24h": None,
    }


def test_put_of_an_unknown_webserver_is_404(client: Client) -> None:
    assert_problem(client.put("/webservers/42", json=VALID), 404, "webserver-not-found")


# --- DELETE /webservers/{id} ------------------------------------------------------------------------


def test_delete_removes_the_webserver_and_its_history(client: Client, container: Container) -> None:
    kept = new_webserver(client, 1)
    removed = new_webserver(client, 2)
    record(container, [succeeded(webserver_id(removed), EPOCH)])
    response = client.delete(f"/webservers/{removed['id']}")
    assert response.status_code == 204
    assert response.content == b""
    assert_problem(client.get(f"/webservers/{removed['id']}"), 404, "webserver-not-found")
    assert_problem(client.get(f"/webservers/{removed['id']}/requests"), 404, "webserver-not-found")
    assert [item["id"] for item in listed(client)] == [kept["id"]]
    assert_problem(client.delete(f"/webservers/{removed['id']}"), 404, "webserver-not-found")


# --- GET /webservers/{id}/requests ------------------------------------------------------------------


def test_history_is_newest_first_and_filters_by_time(client: Client, container: Container) -> None:
    created = new_webserver(client)
    server = webserver_id(created)
    record(container, [succeeded(server, EPOCH + timedelta(minutes=i)) for i in range(6)])
    everything = client.get(f"/webservers/{server}/requests").json()
    assert everything["next_cursor"] is None
    assert [item["started_at"][11:16] for item in everything["items"]] == [
        "00:05",
        "00:04",
        "00:03",
        "00:02",
        "00:01",
        "00:00",
    ]
    window = client.get(
        f"/webservers/{server}/requests",
        params={"since": "2026-01-01T00:01:00Z", "until": "2026-01-01T00:04:00+00:00"},
    ).json()
    # since is inclusive, until exclusive; a +00:00 offset arrives intact when encoded as %2B.
    assert [item["started_at"][11:16] for item in window["items"]] == ["00:03", "00:02", "00:01"]
    offset = client.get(
        f"/webservers/{server}/requests", params={"since": "2026-01-01T01:04:00+01:00"}
    ).json()
    assert [item["started_at"][11:16] for item in offset["items"]] == ["00:05", "00:04"]


def test_history_with_since_after_until_is_an_empty_page(client: Client, container: Container) -> None:
    # An empty range, not an error: the schema cannot state a rule between two parameters.
    created = new_webserver(client)
    record(container, [succeeded(webserver_id(created), EPOCH)])
    params = {"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}
    response = client.get(f"/webservers/{created['id']}/requests", params=params)
    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None}


def test_history_of_a_webserver_without_requests_is_empty(client: Client) -> None:
    created = new_webserver(client)
    assert client.get(f"/webservers/{created['id']}/requests").json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize(
    ("params", "status", "slug", "field"),
    [
        ({"since": "2026-01-01T00:00:00"}, 422, "invalid-field", "since"),
        ({"until": "2026-01-01T00:00:00"}, 422, "invalid-field", "until"),
        # No UTC equivalent, or too close to one (issue 10, item 3).
        ({"since": "0001-01-01T00:00:00+01:00"}, 422, "invalid-field", "since"),
        ({"until": "9999-12-31T23:59:59-01:00"}, 422, "invalid-field", "until"),
        ({"until": "0001-01-01T23:00:00+01:00"}, 422, "invalid-field", "until"),
        ({"since": "0000-01-01T00:00:00Z"}, 400, "invalid-request", "since"),
        ({"since": "2026-01-01 00:00:00Z"}, 400, "invalid-request", "since"),
        ({"since": "2026-01-01T00:00:00+0100"}, 400, "invalid-request", "since"),
        ({"since": "2026-02-30T00:00:00Z"}, 400, "invalid-request", "since"),
        ({"since": "yesterday"}, 400, "invalid-request", "since"),
        ({"since": "1767225600"}, 400, "invalid-request", "since"),  # a Unix time is not ISO 8601
        ({"until": "2026-13-01T00:00:00Z"}, 400, "invalid-request", "until"),
        ({"limit": "0"}, 422, "invalid-field", "limit"),
        ({"limit": "1001"}, 422, "invalid-field", "limit"),
        ({"limit": "many"}, 400, "invalid-request", "limit"),
        ({"cursor": "%%%"}, 422, "invalid-cursor", "cursor"),
        ({"cursor": "eyJhZnRlciI6MX0"}, 422, "invalid-cursor", "cursor"),
        ({"cursor": "5"}, 422, "invalid-cursor", "cursor"),  # a webserver-list cursor
        ({"cursor": ""}, 422, "invalid-cursor", "cursor"),
    ],
)
def test_history_rejects_bad_query_parameters(
    client: Client, params: dict[str, str], status: int, slug: str, field: str
) -> None:
    created = new_webserver(client)
    response = client.get(f"/webservers/{created['id']}/requests", params=params)
    assert_problem(response, status, slug, fields={field})


def test_history_of_an_unknown_webserver_is_404(client: Client) -> None:
    assert_problem(client.get("/webservers/7/requests"), 404, "webserver-not-found")


SECRET_URL = "http://user:s3cr3t@secret.test/health"
SHOWN_URL = "http://user:***@secret.test/health"


def test_a_password_in_the_url_is_never_shown_but_kept_for_probing(
    client: Client, container: Container
) -> None:
    created = new_webserver(client, 1, url=SECRET_URL)
    page = client.get("/webservers")
    details = client.get(f"/webservers/{created['id']}")
    duplicate = client.post("/webservers", json={"name": "again", "url": SECRET_URL})

    for response_text in (str(created), page.text, details.text, duplicate.text):
        assert "s3cr3t" not in response_text
    assert created["url"] == details.json()["url"] == page.json()["items"][0]["url"] == SHOWN_URL
    assert SHOWN_URL in assert_problem(duplicate, 409, "webserver-already-registered")["detail"]
    stored = container.get_webserver().execute(webserver_id(created)).webserver
    assert stored.settings.url == SECRET_URL


def test_a_url_written_back_as_shown_keeps_its_password(client: Client, container: Container) -> None:
    created = new_webserver(client, 1, url=SECRET_URL)

    replaced = client.put(f"/webservers/{created['id']}", json={"name": "renamed", "url": created["url"]})
    patched = client.patch(f"/webservers/{created['id']}", json={"url": SHOWN_URL})

    assert (replaced.status_code, patched.status_code) == (200, 200)
    assert replaced.json()["name"] == "renamed"
    stored = container.get_webserver().execute(webserver_id(created)).webserver
    assert stored.settings.url == SECRET_URL


def test_a_new_password_is_set_by_sending_the_whole_url(client: Client, container: Container) -> None:
    created = new_webserver(client, 1, url=SECRET_URL)

    changed = client.patch(f"/webservers/{created['id']}", json={"url": "http://user:n3w@secret.test/health"})

    assert changed.json()["url"] == SHOWN_URL
    stored = container.get_webserver().execute(webserver_id(created)).webserver
    assert stored.settings.url == "http://user:n3w@secret.test/health"
