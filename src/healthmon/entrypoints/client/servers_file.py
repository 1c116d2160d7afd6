"""The file of servers: YAML (`webservers:` then a list of entries) or JSON of the same shape."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml


class InvalidServersFile(Exception):
    """The file cannot be read, is not YAML or JSON, or is not `webservers:` and a list; str() says which."""


def read_servers_file(path: str) -> list[Any]:
    """The entries of the file at path ('-': standard input); JSON when it ends in .json, else YAML.

    Only the shape is checked here (a mapping whose `webservers` is a list); the entries
    themselves are the API's to judge, so the client never disagrees with the server.
    """
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidServersFile(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        # safe_load builds only plain data (no Python objects), whatever the file holds.
        document = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        kind = "JSON" if path.endswith(".json") else "YAML"
        # PyYAML's message spans lines (what, where); one line keeps it an error line.
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise InvalidServersFile(f"{path} is not valid {kind}: {reason}") from None
    if not isinstance(document, dict) or not isinstance(document.get("webservers"), list):
        raise InvalidServersFile(f"{path} must be a mapping with `webservers:` and a list of entries")
    unknown = sorted(set(document) - {"webservers"})
    if unknown:
        raise InvalidServersFile(f"{path} has unknown top-level fields: {', '.join(map(str, unknown))}")
    entries: list[Any] = document["webservers"]
    return entries
