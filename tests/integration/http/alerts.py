"""What the events and channels HTTP tests share: the app on each storage backend, ways to make events."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from dependency_injector import providers

from healthmon.container import Container
from healthmon.domain.channels import ChannelId
from healthmon.domain.deliveries import DeliveryStatus
from healthmon.domain.webserver import WebserverId
from tests.factories import failed, succeeded
from tests.fakes import EPOCH
from tests.integration.conftest import UowFactory
from tests.integration.http.conftest import Client, new_webserver, record


def on_backend(make_container: Callable[..., Container], uow_factory: UowFactory) -> Container:
    """A container on the backend of `uow_factory` (memory, SQLite or PostgreSQL) instead of memory."""
    built = make_container()
    built.uow.override(providers.Factory(uow_factory))
    return built


def flipping_webserver(client: Client, n: int = 1) -> dict[str, Any]:
    """A webserver whose every probe that differs from the last changes its health."""
    return new_webserver(client, n, healthy_threshold=1, unhealthy_threshold=1)


def flip(container: Container, webserver: dict[str, Any], second: float, *, ok: bool) -> None:
    """Record one probe, `second` seconds after EPOCH, that moves the webserver to healthy or unhealthy."""
    server = WebserverId(webserver["id"])
    at = EPOCH + timedelta(seconds=second)
    record(container, [succeeded(server, at) if ok else failed(server, at)])


def fail_for_good(container: Container, channel_id: int) -> int:
    """Give up on the channel's oldest pending delivery, as a worker does after its last attempt."""
    with container.uow() as uow:
        claimed = uow.deliveries.claim("test-worker", claim_for=timedelta(seconds=60), limit=100)
        delivery = next(c.delivery for c in claimed if c.delivery.channel_id == ChannelId(channel_id))
        uow.deliveries.finish(
            "test-worker",
            dataclasses.replace(
                delivery,
                status=DeliveryStatus.FAILED,
                attempts=8,
                last_status_code=500,
                last_error="HTTP 500",
                next_attempt_at=None,
            ),
        )
        uow.commit()
    return delivery.id
