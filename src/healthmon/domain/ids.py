"""The identities of stored things: a webserver's id and a probe's id, both given by storage."""

from __future__ import annotations

from typing import NewType

WebserverId = NewType("WebserverId", int)
ProbeId = NewType("ProbeId", int)

__all__ = ["ProbeId", "WebserverId"]
