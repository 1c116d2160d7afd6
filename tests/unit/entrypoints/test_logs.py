"""JSON log lines carry the message, the level and any extra fields."""

from __future__ import annotations

import json
import logging
import sys

from healthmon.entrypoints.logs import JsonFormatter


def test_json_lines_hold_message_level_and_extras() -> None:
    record = logging.makeLogRecord(
        {
            "name": "healthmon.worker",
            "levelno": logging.INFO,
            "levelname": "INFO",
            "msg": "webserver %s %s: %s -> %s",
            "args": (12, "example", "unknown", "healthy"),
            "webserver_id": 12,
        }
    )
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "webserver 12 example: unknown -> healthy"
    assert entry["level"] == "info"
    assert entry["logger"] == "healthmon.worker"
    assert entry["webserver_id"] == 12
    assert entry["time"].endswith("+00:00")


def test_exceptions_are_kept_on_one_json_line() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.getLogger("x").makeRecord(
            "x", logging.ERROR, __file__, 1, "failed", (), exc_info=sys.exc_info()
        )
    line = JsonFormatter().format(record)
    assert "\n" not in line
    assert "RuntimeError: boom" in json.loads(line)["exception"]
