"""Signing in to the dashboard behind API keys: the form, the cookie, what the cookie allows, signing out."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from litestar.testing import TestClient

from healthmon.container import Container
from healthmon.entrypoints.http import create_app
from healthmon.entrypoints.http.access import SESSION_COOKIE, cookie_key, cookie_value
from healthmon.entrypoints.http.sign_in import safe_next
from tests.integration.http.conftest import BASE_URL, Client, ClientFactory, assert_problem

FULL_KEY = "full-key-0123456789"
READ_KEY = "read-only-key-0123456789"
FORM = {"content-type": "application/x-www-form-urlencoded", "origin": BASE_URL}


@pytest.fixture
def keyed(make_client: ClientFactory) -> Client:
    """A client of a dashboard behind API keys, not signed in, that does not follow redirects."""
    client = make_client(api_keys=(FULL_KEY,), readonly_api_keys=(READ_KEY,))
    client.follow_redirects = False
    return client


def sign_in(client: Client, key: str, next_path: str = "/") -> httpx.Response:
    return client.post("/ui/sign-in", content=f"key={key}&next={next_path}", headers=FORM)


def test_a_page_without_the_cookie_redirects_to_the_sign_in_form(keyed: Client) -> None:
    response = keyed.get("/ui/webservers/1")
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/sign-in?next=%2Fui%2Fwebservers%2F1"
    form = keyed.get(response.headers["location"])
    assert form.status_code == 200
    assert 'name="key"' in form.text
    assert 'value="/ui/webservers/1"' in form.text


def test_the_overview_data_without_the_cookie_is_a_401_problem(keyed: Client) -> None:
    assert_problem(keyed.get("/ui/data/overview"), 401, "unauthorized")


@pytest.mark.parametrize("key", [FULL_KEY, READ_KEY])
def test_any_key_signs_in_with_a_strict_http_only_cookie(keyed: Client, key: str) -> None:
    response = sign_in(keyed, key, "/?health=healthy")
    assert response.status_code == 303
    assert response.headers["location"] == "/?health=healthy"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert cookie.split(";")[0] == f"{SESSION_COOKIE}={cookie_value(key)}"
    attributes = cookie.lower()
    assert "httponly" in attributes
    assert "samesite=strict" in attributes
    assert "path=/" in attributes
    assert "secure" not in attributes  # served over plain http here
    assert keyed.get("/").status_code == 200
    assert keyed.get("/ui/data/overview").status_code == 200


def test_the_cookie_reads_the_api_but_never_writes(keyed: Client) -> None:
    sign_in(keyed, FULL_KEY)
    assert keyed.get("/webservers").status_code == 200
    response = keyed.post("/webservers", json={"name": "x", "url": "http://x.test/"})
    assert_problem(response, 401, "unauthorized")


def test_a_wrong_key_gets_the_form_again_with_401_and_no_cookie(keyed: Client) -> None:
    response = sign_in(keyed, "guess")
    assert response.status_code == 401
    assert "set-cookie" not in response.headers
    assert "not one of this healthmon" in response.text
    assert "guess" not in response.text
    assert keyed.get("/").status_code == 303


def test_signing_out_clears_the_cookie(keyed: Client) -> None:
    sign_in(keyed, READ_KEY)
    assert keyed.get("/").status_code == 200
    response = keyed.post("/ui/sign-out", content="", headers=FORM)
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/sign-in"
    assert "Max-Age=0" in response.headers["set-cookie"]
    assert keyed.get("/").status_code == 303


@pytest.mark.parametrize(
    "headers",
    [
        {"content-type": "application/x-www-form-urlencoded", "origin": "https://evil.test"},
        {"content-type": "application/x-www-form-urlencoded", "origin": "null"},
        {"content-type": "application/x-www-form-urlencoded"},
    ],
)
def test_a_sign_in_posted_from_another_site_is_refused(keyed: Client, headers: dict[str, str]) -> None:
    response = keyed.post("/ui/sign-in", content=f"key={FULL_KEY}", headers=headers)
    assert response.status_code == 403
    assert "set-cookie" not in response.headers


def test_a_sign_in_that_is_not_a_form_is_415(keyed: Client) -> None:
    response = keyed.post("/ui/sign-in", json={"key": FULL_KEY}, headers={"origin": BASE_URL})
    assert response.status_code == 415


def test_a_sign_in_without_a_key_is_a_400(keyed: Client) -> None:
    response = keyed.post("/ui/sign-in", content="next=/", headers=FORM)
    assert response.status_code == 400


def test_without_keys_the_dashboard_is_open_and_the_form_leads_to_it(client: Client) -> None:
    client.follow_redirects = False
    assert client.get("/").status_code == 200
    response = client.get("/ui/sign-in", params={"next": "/ui/webservers/1"})
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/webservers/1"
    assert "Sign out" not in client.get("/").text


@pytest.mark.parametrize(
    ("target", "safe"),
    [
        ("/ui/webservers/1", "/ui/webservers/1"),
        ("/?q=a", "/?q=a"),
        ("//evil.test/", "/"),
        ("/\\evil.test/", "/"),
        ("https://evil.test/", "/"),
        ("", "/"),
        ("/a\nb", "/"),
    ],
)
def test_next_stays_on_this_site(target: str, safe: str) -> None:
    assert safe_next(target) == safe


@pytest.mark.parametrize("key", ["plain", "with space;and,commas", "ünïcode"])
def test_cookie_values_carry_any_key(key: str) -> None:
    value = cookie_value(key)
    assert value.isascii()
    assert not set(value) & set(' ;,="\\')
    assert cookie_key(value) == key


@pytest.mark.parametrize("value", [None, "", "%%%", "a"])
def test_a_cookie_that_does_not_decode_carries_no_key(value: str | None) -> None:
    assert cookie_key(value) is None


def test_over_https_the_cookie_is_secure(make_container: Callable[..., Container]) -> None:
    app = create_app(make_container(api_keys=(FULL_KEY,)), manage_resources=False)
    with TestClient(app, base_url="https://status.example.test") as client:
        response = client.post(
            "/ui/sign-in",
            content=f"key={FULL_KEY}",
            headers={**FORM, "origin": "https://status.example.test"},
            follow_redirects=False,
        )
    assert response.status_code == 303
    assert "secure" in response.headers["set-cookie"].lower()
