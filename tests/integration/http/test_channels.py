"""/channels on memory, SQLite and PostgreSQL: register, read, change, remove, test; deliveries, retries."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from typing import Any

import pytest

from healthmon.container import Container
from tests.fakes import FakeClock, FakeNotifier
from tests.integration.conftest import UowFactory
from tests.integration.http.alerts import fail_for_good, flip, flipping_webserver, on_backend
from tests.integration.http.conftest import Client, ClientFactory, assert_problem

HOOK = "https://receiver.test/hook?token=hook-token"
SLACK = "slack://T000/B000/slack-token"
GIVEN_SECRET = "whsec_" + base64.b64encode(b"a given secret of 32 bytes......").decode()


@pytest.fixture
def container(make_container: Callable[..., Container], uow_factory: UowFactory) -> Container:
    return on_backend(make_container, uow_factory)


@pytest.fixture
def client(make_client: ClientFactory, container: Container) -> Client:
    return make_client(container)


def new_channel(client: Client, **fields: Any) -> dict[str, Any]:
    response = client.post("/channels", json={"kind": "webhook", "url": HOOK, **fields})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def deliveries(client: Client, channel_id: int, **params: Any) -> dict[str, Any]:
    response = client.get(f"/channels/{channel_id}/deliveries", params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def test_a_new_webhook_gets_a_secret_shown_once_then_masked(client: Client) -> None:
    response = client.post("/channels", json={"kind": "webhook", "url": HOOK, "name": "ops"})
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["location"] == f"/channels/{created['id']}"
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
    masked = f"whsec_***{secret[-4:]}"
    read = client.get(f"/channels/{created['id']}").json()
    assert read == {**created, "secret": masked}
    assert client.get("/channels").json() == {"items": [read]}
    changed = client.patch(f"/channels/{created['id']}", json={"name": "on call"}).json()
    assert changed["secret"] == masked
    for answer in (read, changed, client.get("/channels").json()):
        assert secret not in str(answer)


def test_a_channel_answer_has_every_field(client: Client) -> None:
    created = new_channel(client, secret=GIVEN_SECRET, webserver_ids=[3, 1, 3], enabled=False)
    assert created == {
        "id": 1,
        "kind": "webhook",
        "name": None,
        "url": HOOK,
        "secret": GIVEN_SECRET,
        "webserver_ids": [1, 3],
        "enabled": False,
        "disabled_reason": None,
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
    }


def test_whole_numbers_written_as_floats_are_webserver_ids(client: Client) -> None:
    assert new_channel(client, webserver_ids=[2.0, 1])["webserver_ids"] == [1, 2]
    assert_problem(
        client.post("/channels", json={"kind": "webhook", "url": HOOK, "webserver_ids": [1.5]}),
        400,
        "invalid-request",
        fields={"webserver_ids"},
    )


def test_an_apprise_channel_has_no_secret(client: Client) -> None:
    created = new_channel(client, kind="apprise", url=SLACK)
    assert (created["kind"], created["url"], created["secret"]) == ("apprise", SLACK, None)
    assert client.get(f"/channels/{created['id']}").json()["secret"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "apprise", "url": "nosuch://x"}, "url"),
        ({"kind": "webhook", "url": SLACK}, "url"),
        ({"kind": "webhook", "url": "https://"}, "url"),
        ({"kind": "apprise", "url": SLACK, "secret": GIVEN_SECRET}, "secret"),
        ({"kind": "webhook", "url": HOOK, "secret": "whsec_c2hvcnQ="}, "secret"),
        ({"kind": "webhook", "url": HOOK, "secret": "not whsec"}, "secret"),
        ({"kind": "webhook", "url": HOOK, "name": "  "}, "name"),
        ({"kind": "webhook", "url": HOOK, "webserver_ids": [0]}, "webserver_ids"),
        ({"kind": "webhook", "url": HOOK, "webserver_ids": [2**31]}, "webserver_ids"),
    ],
)
def test_a_channel_that_breaks_a_rule_is_a_422(
    client: Client, notifier: FakeNotifier, body: dict[str, Any], field: str
) -> None:
    notifier.bad_urls.add("nosuch://x")
    assert_problem(client.post("/channels", json=body), 422, "invalid-field", fields={field})
    assert client.get("/channels").json() == {"items": []}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": HOOK}, "kind"),
        ({"kind": "sms", "url": HOOK}, "kind"),
        ({"kind": "webhook", "url": HOOK, "colour": "red"}, "colour"),
        ({"kind": "webhook", "url": HOOK, "enabled": "yes"}, "enabled"),
        ({"kind": "webhook", "url": HOOK, "webserver_ids": "1"}, "webserver_ids"),
    ],
)
def test_a_channel_body_that_cannot_be_read_is_a_400(
    client: Client, body: dict[str, Any], field: str
) -> None:
    assert_problem(client.post("/channels", json=body), 400, "invalid-request", fields={field})


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/channels/99"),
        ("PATCH", "/channels/99"),
        ("DELETE", "/channels/99"),
        ("POST", "/channels/99/test"),
        ("GET", "/channels/99/deliveries"),
        ("POST", "/channels/99/deliveries/1/retry"),
        ("GET", f"/channels/{2**31}"),
        ("GET", "/channels/0"),
    ],
)
def test_an_unknown_channel_is_a_404(client: Client, method: str, path: str) -> None:
    body = {"name": "x"} if method == "PATCH" else None
    assert_problem(client.request(method, path, json=body), 404, "channel-not-found")


def test_a_patch_changes_only_the_fields_given(client: Client, clock: FakeClock) -> None:
    created = new_channel(client, name="ops", webserver_ids=[1])
    clock.advance(60)
    response = client.patch(
        f"/channels/{created['id']}", json={"enabled": False, "url": "https://other.test/"}
    )
    assert response.status_code == 200, response.text
    changed = response.json()
    assert changed == {
        **created,
        "secret": changed["secret"],
        "enabled": False,
        "url": "https://other.test/",
        "updated_at": "2026-01-01T00:01:00Z",
    }
    assert (
        client.patch(f"/channels/{created['id']}", json={"webserver_ids": None}).json()["webserver_ids"]
        is None
    )
    assert client.get(f"/channels/{created['id']}").json()["webserver_ids"] is None


def test_a_patch_is_checked_like_a_new_channel(client: Client, notifier: FakeNotifier) -> None:
    hook, slack = new_channel(client), new_channel(client, kind="apprise", url=SLACK)
    notifier.bad_urls.add("nosuch://x")
    cases = [
        (hook, {"url": SLACK}, 422, "url"),
        (slack, {"url": "nosuch://x"}, 422, "url"),
        (slack, {"secret": GIVEN_SECRET}, 422, "secret"),
        (hook, {"kind": "apprise"}, 400, "kind"),
        (hook, {"name": None}, 400, "name"),
        (hook, {"enabled": 1}, 400, "enabled"),
    ]
    for channel, body, status, field in cases:
        slug = "invalid-field" if status == 422 else "invalid-request"
        assert_problem(client.patch(f"/channels/{channel['id']}", json=body), status, slug, fields={field})
    assert client.get(f"/channels/{hook['id']}").json()["url"] == HOOK
    assert client.get(f"/channels/{slack['id']}").json()["url"] == SLACK


def test_a_removed_channel_is_gone_with_its_deliveries(client: Client) -> None:
    created = new_channel(client)
    assert client.post(f"/channels/{created['id']}/test").status_code == 202
    assert client.delete(f"/channels/{created['id']}").status_code == 204
    assert_problem(client.get(f"/channels/{created['id']}"), 404, "channel-not-found")
    assert_problem(client.get(f"/channels/{created['id']}/deliveries"), 404, "channel-not-found")
    assert client.get("/channels").json() == {"items": []}


def test_a_test_event_is_queued_for_that_channel_only(client: Client) -> None:
    channel, other = new_channel(client), new_channel(client)
    response = client.post(f"/channels/{channel['id']}/test")
    assert response.status_code == 202, response.text
    event_id = response.json()["event_id"]
    assert event_id.startswith("evt_")
    [delivery] = deliveries(client, channel["id"])["items"]
    assert delivery == {
        "id": delivery["id"],
        "event_id": event_id,
        "status": "pending",
        "attempts": 0,
        "last_attempt_at": None,
        "next_attempt_at": "2026-01-01T00:00:00Z",
        "last_status_code": None,
        "last_error": None,
        "delivered_at": None,
    }
    assert deliveries(client, other["id"]) == {"items": [], "next_cursor": None}


def test_a_disabled_channel_refuses_a_test(client: Client) -> None:
    channel = new_channel(client, enabled=False)
    assert_problem(client.post(f"/channels/{channel['id']}/test"), 409, "channel-disabled")
    assert deliveries(client, channel["id"])["items"] == []


def test_deliveries_page_in_order_and_filter_by_status(client: Client, container: Container) -> None:
    channel = new_channel(client)
    webserver = flipping_webserver(client)
    for second in range(5):
        flip(container, webserver, second, ok=second % 2 == 0)
    failed_id = fail_for_good(container, channel["id"])
    every = deliveries(client, channel["id"], limit=100)["items"]
    assert len(every) == 5
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = deliveries(client, channel["id"], limit=2, **({"cursor": cursor} if cursor else {}))
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == every
    assert [d["id"] for d in every] == sorted(d["id"] for d in every)
    [failed] = deliveries(client, channel["id"], status="failed")["items"]
    assert (failed["id"], failed["last_status_code"], failed["last_error"]) == (failed_id, 500, "HTTP 500")
    assert len(deliveries(client, channel["id"], status="pending")["items"]) == 4
    assert deliveries(client, channel["id"], status="delivered")["items"] == []


@pytest.mark.parametrize(
    ("params", "status", "slug", "field"),
    [
        ({"cursor": "not-a-cursor"}, 422, "invalid-cursor", "cursor"),
        ({"limit": 0}, 422, "invalid-field", "limit"),
        ({"status": "lost"}, 400, "invalid-request", "status"),
    ],
)
def test_bad_delivery_parameters_are_problems(
    client: Client, params: dict[str, Any], status: int, slug: str, field: str
) -> None:
    channel = new_channel(client)
    response = client.get(f"/channels/{channel['id']}/deliveries", params=params)
    assert_problem(response, status, slug, fields={field})


def test_a_failed_delivery_is_queued_again(client: Client, container: Container, clock: FakeClock) -> None:
    channel = new_channel(client)
    flip(container, flipping_webserver(client), 1, ok=True)
    failed_id = fail_for_good(container, channel["id"])
    clock.advance(3600)
    response = client.post(f"/channels/{channel['id']}/deliveries/{failed_id}/retry")
    assert response.status_code == 202, response.text
    retried = response.json()
    assert (retried["id"], retried["status"], retried["attempts"], retried["next_attempt_at"]) == (
        failed_id,
        "pending",
        0,
        "2026-01-01T01:00:00Z",
    )
    assert deliveries(client, channel["id"])["items"] == [retried]
    assert_problem(
        client.post(f"/channels/{channel['id']}/deliveries/{failed_id}/retry"), 409, "delivery-not-failed"
    )


def test_a_retry_of_a_delivery_the_channel_does_not_have_is_a_404(client: Client) -> None:
    channel, other = new_channel(client), new_channel(client)
    assert client.post(f"/channels/{channel['id']}/test").status_code == 202
    [delivery] = deliveries(client, channel["id"])["items"]
    for path in (
        f"/channels/{other['id']}/deliveries/{delivery['id']}/retry",
        f"/channels/{channel['id']}/deliveries/999/retry",
        f"/channels/{channel['id']}/deliveries/{2**63}/retry",
    ):
        assert_problem(client.post(path), 404, "delivery-not-found")


def test_secrets_and_channel_urls_are_never_logged(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    created = new_channel(client)
    client.patch(f"/channels/{created['id']}", json={"secret": GIVEN_SECRET, "url": HOOK + "2"})
    client.post("/channels", json={"kind": "apprise", "url": SLACK})
    client.post("/channels", json={"kind": "webhook", "url": HOOK, "secret": GIVEN_SECRET + "x"})
    client.get("/channels")
    for secret in (created["secret"], GIVEN_SECRET, "hook-token", "slack-token"):
        assert secret not in caplog.text
    assert f"channel {created['id']}" in caplog.text


def test_apprise_itself_decides_which_urls_it_can_send_to(
    make_client: ClientFactory, make_container: Callable[..., Container]
) -> None:
    container = make_container()
    container.apprise_notifier.reset_override()
    client = make_client(container)
    assert new_channel(client, kind="apprise", url="json://localhost:8080/hook")["kind"] == "apprise"
    response = client.post("/channels", json={"kind": "apprise", "url": "nosuchplugin://x"})
    assert_problem(response, 422, "invalid-field", fields={"url"})
