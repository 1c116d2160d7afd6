"""Bodies of the sync and export endpoints: a file's entries in, the plan out.

An entry is WebserverIn (every field POST /webservers takes, with its OpenAPI rules) plus `key`, so
a field added to WebserverIn joins sync and export by itself. The sync body is read entry by entry:
every entry that cannot be read, breaks a rule or repeats another's key or URL is reported in one
422, each error with the entry's index and key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Final

import msgspec
from litestar.exceptions import ValidationException
from msgspec import UNSET, UnsetType

from healthmon.application.use_cases.sync import SyncResult
from healthmon.domain.errors import InvalidField
from healthmon.domain.patterns import KEY_MAX_LENGTH, KEY_PATTERN
from healthmon.domain.sync import ENTRY_FIELDS, EntryProblem, InvalidEntries, duplicate_problems
from healthmon.domain.webserver import Webserver, WebserverSettings, key_problem
from healthmon.entrypoints.http.schemas import StrictBody, WebserverIn, decode_body

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.openapi.spec import Reference, Schema
    from litestar.typing import FieldDefinition

# A file of 10,000 entries, every field written out, is about 3 MB.
SYNC_MAX_BODY_BYTES: Final = 16 * 1024 * 1024

Key = Annotated[
    str | None,
    msgspec.Meta(
        extra_json_schema={
            "description": (
                f"The server's stable identity in the file: 1 to {KEY_MAX_LENGTH} lower-case letters, "
                "digits, dots, underscores or hyphens, starting with a letter or a digit; unique. An entry "
                "without one is matched by URL."
            ),
            "extra": {"pattern": KEY_PATTERN, "maxLength": KEY_MAX_LENGTH},
        }
    ),
]


class WebserverEntryIn(WebserverIn, forbid_unknown_fields=True, kw_only=True):
    """One entry of a file: a webserver as POST /webservers takes it, plus its key."""

    key: Key = None


class SyncIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The desired webservers; prune deletes managed servers the file no longer lists."""

    webservers: list[WebserverEntryIn]
    prune: bool = False
    dry_run: bool = True


class SyncRequest(msgspec.Struct, kw_only=True):
    """A read sync body: the entries as domain settings, and the two switches."""

    entries: list[WebserverSettings]
    prune: bool
    dry_run: bool


class _Switches(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    webservers: list[msgspec.Raw]
    prune: bool = False
    dry_run: bool = True


def read_sync_body(raw: bytes) -> SyncRequest:
    """The body as settings; a 400 when it is not the declared shape, one 422 for every bad entry."""
    switches = decode_body(raw, _Switches)
    try:
        # The quick way, for a body that is well typed throughout (the common case).
        typed = msgspec.json.decode(raw, type=SyncIn, strict=True)
    except msgspec.ValidationError:
        typed = None
    problems: list[EntryProblem] = []
    entries: list[WebserverSettings | None] = []
    for index, text in enumerate(switches.webservers):
        entry = typed.webservers[index] if typed is not None else _entry(index, text, problems)
        entries.append(None if entry is None else _settings(index, entry, problems))
    problems += duplicate_problems(entries)
    if problems:
        raise InvalidEntries(*sorted(problems, key=lambda problem: problem.index))
    return SyncRequest(
        entries=[entry for entry in entries if entry is not None],
        prune=switches.prune,
        dry_run=switches.dry_run,
    )


def _entry(index: int, text: msgspec.Raw, problems: list[EntryProblem]) -> WebserverEntryIn | None:
    try:
        return decode_body(text, WebserverEntryIn)
    except ValidationException as exc:
        key = _readable_key(text)
        for item in exc.extra if isinstance(exc.extra, list) else []:
            problems.append(EntryProblem(index, key, str(item["key"]), str(item["message"]).replace("`", "")))
        return None


def _readable_key(text: msgspec.Raw) -> str | None:
    # The entry's key, for the error list, when it has a valid one despite its other faults.
    try:
        key = msgspec.json.decode(text, type=dict[str, Any]).get("key")
    except msgspec.DecodeError:
        return None
    return key if isinstance(key, str) and key_problem(key) is None else None


def _settings(index: int, entry: WebserverEntryIn, problems: list[EntryProblem]) -> WebserverSettings | None:
    try:
        return entry.to_settings()
    except InvalidField as exc:
        key = entry.key if key_problem(entry.key) is None else None
        problems.extend(EntryProblem(index, key, problem.field, problem.rule) for problem in exc.problems)
        return None


class SyncBody(StrictBody[SyncIn]):
    """Reads the sync body with read_sync_body; the schema is SyncIn's."""

    @classmethod
    def create_openapi_schema(
        cls, field_definition: FieldDefinition, handler_id: str, schema_creator: SchemaCreator
    ) -> Reference | Schema:
        """SyncIn's schema, its entries refusing unknown fields as the server does.

        Litestar states `additionalProperties: false` for no nested Struct; the entry's schema is
        registered by now, so it is said there.
        """
        schema = super().create_openapi_schema(field_definition, handler_id, schema_creator)
        for registered in schema_creator.schema_registry:
            if registered.schema.title == WebserverEntryIn.__name__:
                registered.schema.additional_properties = False
        return schema

    def decode_bytes(self, value: bytes) -> Any:
        """The body as a SyncRequest, or the problems of every entry."""
        return read_sync_body(value)


_DEFAULTS: Final = msgspec.structs.asdict(WebserverEntryIn(name="", url=""))
# What a setting's value may be, in a plan's changes.
SettingValue = str | int | bool | None


def _setting(value: object) -> SettingValue:
    if value is None or isinstance(value, str | int | bool):
        return value
    raise TypeError(f"a setting of type {type(value).__name__} needs a JSON form in a plan's changes")


def entry_values(settings: WebserverSettings, *, omit_defaults: bool) -> dict[str, Any]:
    """An entry as a file holds it: ENTRY_FIELDS in order, the URL's password masked.

    With omit_defaults, fields at their default (and a missing key) are left out; name and URL stay.
    """
    values: dict[str, Any] = {}
    for name in ENTRY_FIELDS:
        value = settings.display_url if name == "url" else getattr(settings, name)
        if omit_defaults and name not in {"name", "url"} and value == _DEFAULTS[name]:
            continue
        values[name] = value
    return values


class ExportOut(msgspec.Struct, kw_only=True):
    """Every webserver as an entry, in id order; fields at their default are left out."""

    webservers: list[WebserverEntryIn]


class SyncServerOut(msgspec.Struct, kw_only=True):
    """A server the sync deletes, or one made by hand that the file does not list."""

    id: int
    key: str | None
    url: str

    @classmethod
    def from_domain(cls, webserver: Webserver) -> SyncServerOut:
        """The API view (the URL's password masked)."""
        return cls(id=webserver.id, key=webserver.settings.key, url=webserver.settings.display_url)


class SyncUpdateOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A server the sync changes, named by its entry's key (or URL without one): each field as [old, new]."""

    id: int
    key: str | UnsetType = UNSET
    url: str | UnsetType = UNSET
    changes: dict[str, tuple[SettingValue, SettingValue]]


class SyncOut(msgspec.Struct, kw_only=True):
    """The plan, and whether it was applied (false for a dry run)."""

    create: list[WebserverEntryIn]
    update: list[SyncUpdateOut]
    delete: list[SyncServerOut]
    unmanaged: list[SyncServerOut]
    unchanged: int
    applied: bool

    @classmethod
    def from_domain(cls, result: SyncResult) -> SyncOut:
        """The API view of a sync's plan."""
        plan = result.plan
        updates = []
        for update in plan.update:
            key = update.target.key
            updates.append(
                SyncUpdateOut(
                    id=update.webserver.id,
                    key=UNSET if key is None else key,
                    url=update.target.display_url if key is None else UNSET,
                    changes={name: (_setting(old), _setting(new)) for name, old, new in update.changes},
                )
            )
        return cls(
            create=[
                WebserverEntryIn(**entry_values(settings, omit_defaults=False)) for settings in plan.create
            ],
            update=updates,
            delete=[SyncServerOut.from_domain(server) for server in plan.delete],
            unmanaged=[SyncServerOut.from_domain(server) for server in plan.unmanaged],
            unchanged=plan.unchanged,
            applied=result.applied,
        )
