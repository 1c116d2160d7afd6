"""plan_sync: entries matched by key, else URL; only changed fields; prune only managed servers."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from healthmon.domain.errors import InvalidField
from healthmon.domain.ids import WebserverId
from healthmon.domain.patterns import KEY_PATTERN
from healthmon.domain.sync import (
    ENTRY_FIELDS,
    InvalidEntries,
    SyncConflict,
    SyncPlan,
    check_entries,
    plan_sync,
)
from healthmon.domain.webserver import Webserver, WebserverSettings

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def server(
    webserver_id: int,
    url: str,
    *,
    key: str | None = None,
    name: str | None = None,
    managed: bool = True,
    **fields: object,
) -> Webserver:
    settings = WebserverSettings(
        name=name or f"server {webserver_id}",
        url=url,
        key=key,
        **fields,  # type: ignore[arg-type]
    )
    return Webserver(
        id=WebserverId(webserver_id), settings=settings, created_at=NOW, updated_at=NOW, managed=managed
    )


def entry(
    url: str, *, key: str | None = None, name: str | None = None, **fields: object
) -> WebserverSettings:
    return WebserverSettings(name=name or "entry", url=url, key=key, **fields)  # type: ignore[arg-type]


def test_entry_fields_are_every_setting_identity_first() -> None:
    assert ENTRY_FIELDS[:3] == ("key", "name", "url")
    assert set(ENTRY_FIELDS) == {field.name for field in dataclasses.fields(WebserverSettings)}


@pytest.mark.parametrize("key", ["a", "0", "api.v2", "my_server-1", "a" * 100])
def test_a_key_of_the_pattern_is_accepted(key: str) -> None:
    assert entry("http://a.test/", key=key).key == key


@pytest.mark.parametrize("key", ["", "A", "-a", ".a", "a b", "a/b", "a" * 101, "é", "a\n"])
def test_a_key_outside_the_pattern_is_refused(key: str) -> None:
    with pytest.raises(InvalidField) as raised:
        entry("http://a.test/", key=key)
    assert raised.value.field == "key"


@given(st.text(alphabet="abcZ09._-/ \n", max_size=105))
def test_the_key_pattern_says_exactly_what_settings_accept(key: str) -> None:
    accepted = re.fullmatch(KEY_PATTERN, key) is not None
    try:
        entry("http://a.test/", key=key)
    except InvalidField:
        assert not accepted
    else:
        assert accepted


def test_an_unknown_entry_is_created_and_a_matching_one_is_unchanged() -> None:
    current = [server(1, "http://a.test/", key="a", name="entry")]
    entries = [entry("http://a.test/", key="a"), entry("http://b.test/", key="b")]

    plan = plan_sync(current, entries, prune=False)

    assert plan.create == (entries[1],)
    assert plan.update == ()
    assert plan.unchanged == 1


def test_an_update_lists_only_the_fields_that_change() -> None:
    current = [server(1, "http://a.test/", key="a", name="old", interval_seconds=10)]

    plan = plan_sync(
        current, [entry("http://a.test/", key="a", name="new", interval_seconds=10)], prune=False
    )

    (update,) = plan.update
    assert update.webserver.id == 1
    assert update.changes == (("name", "old", "new"),)


def test_a_field_left_out_goes_back_to_its_default() -> None:
    current = [server(1, "http://a.test/", key="a", name="entry", interval_seconds=10)]

    (update,) = plan_sync(current, [entry("http://a.test/", key="a")], prune=False).update

    assert update.changes == (("interval_seconds", 10, 60),)


def test_a_key_matches_across_a_rename_and_a_new_url() -> None:
    current = [server(7, "http://old.test/", key="a")]

    (update,) = plan_sync(current, [entry("http://new.test/", key="a", name="renamed")], prune=False).update

    assert update.webserver.id == 7
    assert {name: (old, new) for name, old, new in update.changes} == {
        "name": ("server 7", "renamed"),
        "url": ("http://old.test/", "http://new.test/"),
    }


def test_an_entry_without_a_key_matches_by_url_in_its_one_spelling() -> None:
    current = [server(3, "http://a.test/", name="entry")]

    plan = plan_sync(current, [entry("HTTP://A.test:80/#top")], prune=False)

    assert plan.unchanged == 1
    assert plan.create == ()


def test_a_keyed_entry_adopts_a_server_without_a_key_by_url() -> None:
    current = [server(3, "http://a.test/", name="entry", managed=False)]

    (update,) = plan_sync(current, [entry("http://a.test/", key="a")], prune=False).update

    assert update.webserver.id == 3
    assert update.changes == (("key", None, "a"),)


def test_prune_deletes_managed_servers_only_and_lists_the_others() -> None:
    managed, by_hand = server(1, "http://a.test/"), server(2, "http://b.test/", managed=False)

    pruned = plan_sync([managed, by_hand], [], prune=True)
    kept = plan_sync([managed, by_hand], [], prune=False)

    assert pruned.delete == (managed,)
    assert pruned.unmanaged == (by_hand,)
    assert kept.delete == ()
    assert kept.unmanaged == (by_hand,)


def test_an_entry_taking_the_url_of_a_server_the_file_does_not_list_is_a_conflict() -> None:
    current = [server(5, "http://a.test/", key="other", managed=False)]

    with pytest.raises(SyncConflict) as raised:
        plan_sync(current, [entry("http://a.test/", key="a")], prune=True)
    assert raised.value.webserver_id == 5


def test_a_masked_password_keeps_the_stored_one() -> None:
    current = [server(1, "http://user:secret@a.test/", key="a", name="entry")]

    plan = plan_sync(current, [entry("http://user:***@a.test/", key="a")], prune=False)

    assert plan.unchanged == 1


def test_a_changed_password_is_shown_masked() -> None:
    current = [server(1, "http://user:secret@a.test/", key="a", name="entry")]

    (update,) = plan_sync(current, [entry("http://user:other@a.test/", key="a")], prune=False).update

    assert update.changes == (("url", "http://user:***@a.test/", "http://user:***@a.test/"),)
    assert update.target.url == "http://user:other@a.test/"


def test_two_entries_with_one_key_or_one_url_are_invalid_and_each_is_named() -> None:
    entries = [
        entry("http://a.test/", key="a"),
        entry("http://b.test/", key="a"),
        entry("http://A.TEST/"),
    ]

    with pytest.raises(InvalidEntries) as raised:
        check_entries(entries)
    assert [(problem.index, problem.field) for problem in raised.value.entries] == [(1, "key"), (2, "url")]
    assert [problem.field for problem in raised.value.problems] == ["webservers[1].key", "webservers[2].url"]


# --- apply(plan) then plan again is empty -------------------------------------------------------


def apply_plan(current: list[Webserver], plan: SyncPlan) -> list[Webserver]:
    """What the servers are after the plan: the model of SyncWebservers' transaction."""
    deleted = {webserver.id for webserver in plan.delete}
    updated = {
        update.webserver.id: update.webserver.with_settings(update.target, NOW, managed=True)
        for update in plan.update
    }
    after = [updated.get(webserver.id, webserver) for webserver in current if webserver.id not in deleted]
    next_id = max((webserver.id for webserver in current), default=0) + 1
    for offset, settings in enumerate(plan.create):
        after.append(
            Webserver(
                id=WebserverId(next_id + offset),
                settings=settings,
                created_at=NOW,
                updated_at=NOW,
                managed=True,
            )
        )
    return after


HOSTS = ("a.test", "b.test", "c.test", "d.test")
KEYS = (None, "k1", "k2", "k3")


@st.composite
def servers(draw: st.DrawFn) -> list[Webserver]:
    hosts = draw(st.lists(st.sampled_from(HOSTS), unique=True, max_size=4))
    keys = draw(st.permutations(KEYS))
    return [
        server(
            index + 1,
            f"http://{host}/",
            key=keys[index],
            managed=draw(st.booleans()),
            interval_seconds=draw(st.sampled_from((10, 60))),
        )
        for index, host in enumerate(hosts)
    ]


@st.composite
def entry_lists(draw: st.DrawFn) -> list[WebserverSettings]:
    hosts = draw(st.lists(st.sampled_from(HOSTS), unique=True, max_size=4))
    keys = draw(st.permutations(KEYS))
    return [
        entry(
            f"http://{host}/",
            key=keys[index],
            name=draw(st.sampled_from(("entry", "other"))),
            interval_seconds=draw(st.sampled_from((10, 60))),
        )
        for index, host in enumerate(hosts)
    ]


@given(servers(), entry_lists(), st.booleans())
def test_applying_a_plan_leaves_nothing_to_do_and_the_servers_as_the_file_says(
    current: list[Webserver], entries: list[WebserverSettings], prune: bool
) -> None:
    try:
        plan = plan_sync(current, entries, prune=prune)
    except SyncConflict:
        return  # the file wants a URL a server it does not list keeps: nothing to apply
    after = apply_plan(current, plan)

    again = plan_sync(after, entries, prune=prune)

    assert again.empty
    assert again.unchanged == len(entries)
    by_url = {webserver.settings.url: webserver for webserver in after}
    assert all(by_url[wanted.url].settings == wanted for wanted in entries)
    urls = [webserver.settings.url for webserver in after]
    assert len(urls) == len(set(urls))
    keys = [webserver.settings.key for webserver in after if webserver.settings.key is not None]
    assert len(keys) == len(set(keys))
    assert all(webserver.managed for webserver in plan.delete)
