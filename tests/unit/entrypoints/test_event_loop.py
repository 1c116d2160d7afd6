"""The service's outermost coroutine runs on the event loop the settings name."""

from __future__ import annotations

import asyncio
import builtins
from typing import Any

import pytest
import uvloop

from healthmon.domain.errors import InvalidField
from healthmon.entrypoints.event_loop import run


async def _loop_type() -> type[asyncio.AbstractEventLoop]:
    return type(asyncio.get_running_loop())


def test_uvloop_runs_the_coroutine_on_a_uvloop_loop() -> None:
    assert run(_loop_type(), "uvloop") is uvloop.Loop


def test_asyncio_runs_it_on_the_standard_library_loop() -> None:
    loop_type = run(_loop_type(), "asyncio")
    assert issubclass(loop_type, asyncio.SelectorEventLoop)
    assert not issubclass(loop_type, uvloop.Loop)


def test_uvloop_where_it_is_not_installed_is_a_named_setting_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def without_uvloop(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "uvloop":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_uvloop)
    coroutine = _loop_type()
    with pytest.raises(InvalidField) as raised:
        run(coroutine, "uvloop")
    coroutine.close()
    assert raised.value.field == "HEALTHMON_EVENT_LOOP"
    assert "set it to asyncio" in str(raised.value)
