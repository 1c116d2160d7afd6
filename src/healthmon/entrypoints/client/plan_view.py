"""A sync's plan as a readable diff: + create, ~ update (old -> new), - delete; coloured on a terminal."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

_GREEN: Final = "\033[32m"
_YELLOW: Final = "\033[33m"
_RED: Final = "\033[31m"
_DIM: Final = "\033[2m"
_RESET: Final = "\033[0m"


def _value(value: object) -> str:
    # JSON spelling: null, true, "text" (quoted, so spaces and empty strings show).
    return json.dumps(value, ensure_ascii=False)


class PlanView:
    """Renders the API's sync answer; colour only when asked (the caller checks for a terminal)."""

    def __init__(self, *, colour: bool) -> None:
        self._colour = colour

    def _paint(self, colour: str, text: str) -> str:
        return f"{colour}{text}{_RESET}" if self._colour else text

    def lines(self, plan: Mapping[str, Any]) -> list[str]:
        """One line per change (and one per changed field), then a summary line."""
        out: list[str] = []
        for entry in plan["create"]:
            out.append(self._paint(_GREEN, f"+ create {entry.get('key') or entry['url']}"))
            for field, value in entry.items():
                if field != "key":
                    out.append(self._paint(_GREEN, f"    {field}: {_value(value)}"))
        for update in plan["update"]:
            name = update.get("key") or update.get("url")
            out.append(self._paint(_YELLOW, f"~ update {name} (id {update['id']})"))
            for field, (old, new) in update["changes"].items():
                out.append(self._paint(_YELLOW, f"    {field}: {_value(old)} -> {_value(new)}"))
        for server in plan["delete"]:
            out.append(self._paint(_RED, f"- delete {server['key'] or server['url']} (id {server['id']})"))
        for server in plan["unmanaged"]:
            name = server["key"] or server["url"]
            text = f"  unmanaged {name} (id {server['id']}): made by hand, never pruned"
            out.append(self._paint(_DIM, text))
        out.append(self.summary(plan))
        return out

    def summary(self, plan: Mapping[str, Any]) -> str:
        """How many servers the plan creates, updates, deletes and leaves; whether it was applied."""
        create, update, delete = len(plan["create"]), len(plan["update"]), len(plan["delete"])
        if not (create or update or delete):
            return f"Nothing to do: {plan['unchanged']} unchanged."
        unchanged = plan["unchanged"]
        if plan["applied"]:
            return f"Applied: {create} created, {update} updated, {delete} deleted, {unchanged} unchanged."
        return (
            f"Dry run, nothing changed: {create} to create, {update} to update, {delete} to delete, "
            f"{unchanged} unchanged."
        )
