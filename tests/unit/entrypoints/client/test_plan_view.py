"""The plan as a diff: one line per change and per changed field, coloured only when asked."""

from __future__ import annotations

from typing import Any

from healthmon.entrypoints.client.plan_view import PlanView

PLAN: dict[str, Any] = {
    "create": [{"key": "api", "name": "API", "url": "https://api.test/", "interval_seconds": 60}],
    "update": [
        {"id": 2, "url": "https://docs.test/", "changes": {"name": ["Docs", ""], "verify_tls": [True, False]}}
    ],
    "delete": [{"id": 3, "key": "old", "url": "https://old.test/"}],
    "unmanaged": [{"id": 4, "key": None, "url": "https://hand.test/"}],
    "unchanged": 5,
    "applied": False,
}


def test_the_plan_reads_as_a_diff_with_old_and_new_values() -> None:
    assert PlanView(colour=False).lines(PLAN) == [
        "+ create api",
        '    name: "API"',
        '    url: "https://api.test/"',
        "    interval_seconds: 60",
        "~ update https://docs.test/ (id 2)",
        '    name: "Docs" -> ""',
        "    verify_tls: true -> false",
        "- delete old (id 3)",
        "  unmanaged https://hand.test/ (id 4): made by hand, never pruned",
        "Dry run, nothing changed: 1 to create, 1 to update, 1 to delete, 5 unchanged.",
    ]


def test_on_a_terminal_creates_are_green_updates_yellow_and_deletes_red() -> None:
    lines = PlanView(colour=True).lines(PLAN)

    assert lines[0] == "\033[32m+ create api\033[0m"
    assert lines[4] == "\033[33m~ update https://docs.test/ (id 2)\033[0m"
    assert lines[7] == "\033[31m- delete old (id 3)\033[0m"
    assert "\033[" not in lines[-1]


def test_the_summary_says_what_was_applied_or_that_there_was_nothing_to_do() -> None:
    view = PlanView(colour=False)

    assert view.summary({**PLAN, "applied": True}) == "Applied: 1 created, 1 updated, 1 deleted, 5 unchanged."
    empty = {**PLAN, "create": [], "update": [], "delete": [], "applied": True}
    assert view.summary(empty) == "Nothing to do: 5 unchanged."
