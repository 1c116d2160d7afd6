"""The sync body: read entry by entry, every bad entry named; an entry is every setting plus its key."""

from __future__ import annotations

import dataclasses
import json

import msgspec
import pytest

from healthmon.domain.sync import ENTRY_FIELDS, InvalidEntries
from healthmon.domain.webserver import WebserverSettings
from healthmon.entrypoints.http.sync_schemas import WebserverEntryIn, entry_values, read_sync_body


def test_an_entry_has_a_field_for_every_setting() -> None:
    assert {field.name for field in msgspec.structs.fields(WebserverEntryIn)} == set(ENTRY_FIELDS)


def test_a_well_typed_body_and_one_with_whole_floats_read_the_same() -> None:
    typed = read_sync_body(b'{"webservers": [{"name": "a", "url": "http://a.test/", "interval_seconds": 5}]}')
    lenient = read_sync_body(
        b'{"webservers": [{"name": "a", "url": "http://a.test/", "interval_seconds": 5.0}]}'
    )

    assert typed == lenient
    assert typed.entries == [WebserverSettings(name="a", url="http://a.test/", interval_seconds=5)]
    assert (typed.prune, typed.dry_run) == (False, True)


def test_every_bad_entry_is_reported_with_its_index_and_key() -> None:
    body = {
        "webservers": [
            {"key": "a", "name": "ok", "url": "http://a.test/"},
            {"key": "b", "name": "x", "url": "http://b.test/", "interval_seconds": "5", "colour": "red"},
            {"key": "c", "name": "", "url": "http://c.test/"},
            {"key": "a", "name": "again", "url": "http://A.test:80/"},
        ]
    }

    with pytest.raises(InvalidEntries) as raised:
        read_sync_body(json.dumps(body).encode())

    assert [(p.index, p.key, p.field) for p in raised.value.entries] == [
        (1, "b", "interval_seconds"),
        (1, "b", "colour"),
        (2, "c", "name"),
        (3, "a", "key"),
        (3, "a", "url"),
    ]


def test_export_leaves_out_defaults_but_never_the_name_and_url() -> None:
    settings = WebserverSettings(name="a", url="http://user:pw@a.test/", interval_seconds=5)

    assert entry_values(settings, omit_defaults=True) == {
        "name": "a",
        "url": "http://user:***@a.test/",
        "interval_seconds": 5,
    }
    full = entry_values(settings, omit_defaults=False)
    assert list(full) == list(ENTRY_FIELDS)
    assert len(full) == len(dataclasses.fields(WebserverSettings))
