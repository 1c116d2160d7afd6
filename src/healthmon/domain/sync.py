"""Config as code: the plan that brings the watched webservers in line with a file of entries.

An entry is a whole WebserverSettings (every field the file leaves out takes its default, so
deleting a line resets it). It is matched to a server by its key; an entry with a key that no
server has, or one without a key, is matched by URL (a keyed entry only adopts a server with no
key). A server's identity is its id: a matched server keeps its history whatever changes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from healthmon.domain.errors import FieldProblem, InvalidField, StateConflict
from healthmon.domain.url_display import display_url
from healthmon.domain.webserver import Webserver, WebserverSettings

# The fields an entry sets, in the order a file shows them: the identity first, then the rest as
# WebserverSettings declares them (a field added there joins sync and export by itself).
ENTRY_FIELDS: tuple[str, ...] = (
    "key",
    "name",
    "url",
    *(
        field.name
        for field in dataclasses.fields(WebserverSettings)
        if field.name not in {"key", "name", "url"}
    ),
)


@dataclass(frozen=True, slots=True)
class EntryProblem:
    """One field of one entry of a file and the rule it breaks; key is the entry's when it has a valid one."""

    index: int
    key: str | None
    field: str
    rule: str


class InvalidEntries(InvalidField):
    """Entries of a file break rules (every one is listed); nothing was changed."""

    def __init__(self, *entries: EntryProblem) -> None:
        self.entries = entries
        super().__init__(
            *(FieldProblem(f"webservers[{entry.index}].{entry.field}", entry.rule) for entry in entries)
        )


class SyncConflict(StateConflict):
    """An entry's URL is watched by a server the file does not list and the sync keeps; nothing changed."""

    def __init__(self, index: int, url: str, webserver_id: int) -> None:
        self.index = index
        self.webserver_id = webserver_id
        super().__init__(
            f"Entry {index} wants the URL {display_url(url)!r}, which webserver {webserver_id} watches and "
            "the file does not list (give the entry that server's key, or remove the server)."
        )


@dataclass(frozen=True, slots=True)
class PlannedUpdate:
    """A matched server whose settings differ from its entry: each change as (field, old, new).

    `target` is what it becomes; URLs in `changes` have their password masked.
    """

    webserver: Webserver
    target: WebserverSettings
    changes: tuple[tuple[str, object, object], ...]


@dataclass(frozen=True, slots=True)
class SyncPlan:
    """What a sync changes: servers to create, update and delete, and what it leaves alone.

    - unmanaged: servers the file does not list that were made by hand, which are never pruned.
    - unchanged: how many entries already match their server exactly.
    """

    create: tuple[WebserverSettings, ...] = ()
    update: tuple[PlannedUpdate, ...] = ()
    delete: tuple[Webserver, ...] = ()
    unmanaged: tuple[Webserver, ...] = ()
    unchanged: int = 0

    @property
    def empty(self) -> bool:
        """Whether applying it changes nothing."""
        return not (self.create or self.update or self.delete)


def duplicate_problems(entries: Sequence[WebserverSettings | None]) -> list[EntryProblem]:
    """Each entry that repeats an earlier one's key or URL (URLs compared in their one spelling).

    None stands for an entry that was invalid already: it keeps its index and is not compared.
    """
    problems: list[EntryProblem] = []
    first_by_key: dict[str, int] = {}
    first_by_url: dict[str, int] = {}
    for index, entry in enumerate(entries):
        if entry is None:
            continue
        if entry.key is not None:
            first = first_by_key.setdefault(entry.key, index)
            if first != index:
                problems.append(EntryProblem(index, entry.key, "key", f"is the key of entry {first} too"))
        first = first_by_url.setdefault(entry.url, index)
        if first != index:
            problems.append(EntryProblem(index, entry.key, "url", f"is the URL of entry {first} too"))
    return problems


def check_entries(entries: Sequence[WebserverSettings]) -> None:
    """Raise InvalidEntries when two entries share a key or a URL."""
    if problems := duplicate_problems(entries):
        raise InvalidEntries(*problems)


def plan_sync(current: Iterable[Webserver], entries: Sequence[WebserverSettings], *, prune: bool) -> SyncPlan:
    """The plan that makes the servers match the entries (checked with check_entries first).

    - Matched servers whose settings differ are updated; the others count as unchanged.
    - Unmatched entries are created.
    - With prune, unmatched managed servers are deleted; unmatched servers made by hand never are.
    - An entry whose URL a kept, unmatched server watches raises SyncConflict.
    - An entry may give a URL as the API shows it (password masked): the stored one is kept.
    """
    check_entries(entries)
    servers = list(current)
    by_key = {server.settings.key: server for server in servers if server.settings.key is not None}
    by_url = {server.settings.url: server for server in servers}
    # Exports show passwords masked: such a URL still names its server.
    by_shown_url = {
        shown: server for server in servers if (shown := server.settings.display_url) != server.settings.url
    }
    matches: dict[int, Webserver] = {}
    taken: set[int] = set()

    def take(index: int, server: Webserver | None) -> None:
        if server is not None and server.id not in taken:
            matches[index] = server
            taken.add(server.id)

    # Keys first, so a URL never steals the server another entry names by key.
    for index, entry in enumerate(entries):
        if entry.key is not None:
            take(index, by_key.get(entry.key))
    for index, entry in enumerate(entries):
        if index in matches:
            continue
        server = by_url.get(entry.url) or by_shown_url.get(entry.url)
        if server is not None and entry.key is not None and server.settings.key is not None:
            continue  # a keyed server is only ever matched by its own key
        take(index, server)

    create: list[WebserverSettings] = []
    update: list[PlannedUpdate] = []
    unchanged = 0
    final_urls: list[str] = []
    for index, entry in enumerate(entries):
        server = matches.get(index)
        if server is None:
            create.append(entry)
            final_urls.append(entry.url)
            continue
        target = entry
        if entry.url == server.settings.display_url:
            target = dataclasses.replace(entry, url=server.settings.url)
        final_urls.append(target.url)
        changes = _changes(server.settings, target)
        if changes:
            update.append(PlannedUpdate(server, target, changes))
        else:
            unchanged += 1

    unmatched = [server for server in servers if server.id not in taken]
    delete = tuple(server for server in unmatched if prune and server.managed)
    kept = {server.settings.url: server for server in unmatched if not (prune and server.managed)}
    for index, url in enumerate(final_urls):
        if (holder := kept.get(url)) is not None:
            raise SyncConflict(index, url, holder.id)
    return SyncPlan(
        create=tuple(create),
        update=tuple(update),
        delete=delete,
        unmanaged=tuple(server for server in unmatched if not server.managed),
        unchanged=unchanged,
    )


def _changes(old: WebserverSettings, new: WebserverSettings) -> tuple[tuple[str, object, object], ...]:
    changes = []
    for name in ENTRY_FIELDS:
        before, after = getattr(old, name), getattr(new, name)
        if before != after:
            if name == "url":
                before, after = display_url(before), display_url(after)
            changes.append((name, before, after))
    return tuple(changes)


__all__ = [
    "ENTRY_FIELDS",
    "EntryProblem",
    "InvalidEntries",
    "PlannedUpdate",
    "SyncConflict",
    "SyncPlan",
    "check_entries",
    "duplicate_problems",
    "plan_sync",
]
