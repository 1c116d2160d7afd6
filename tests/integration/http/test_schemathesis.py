"""Property-based tests generated from the app's own OpenAPI schema (Schemathesis) on the in-memory store.

Every operation gets valid and invalid requests, and every check Schemathesis has runs (as
`schemathesis run --checks all`): each response must be documented (status, content type, headers,
body schema), must never be a 5xx; a request the schema allows must be accepted and one it forbids
rejected with a 4xx, so the schema states every rule the server enforces.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import schemathesis
from dependency_injector import providers
from hypothesis import HealthCheck, settings
from litestar import Litestar
from schemathesis import Case
from schemathesis.checks import CheckFunction
from schemathesis.specs.openapi.checks import positive_data_acceptance

from healthmon.adapters.memory import InMemoryHistoryStorage, InMemoryStore, InMemoryUnitOfWork
from healthmon.container import Container, build_container
from healthmon.domain.channels import ChannelKind, ChannelSettings
from healthmon.domain.webserver import WebserverId
from healthmon.entrypoints.http import create_app
from healthmon.settings import Settings
from tests.factories import failed, succeeded
from tests.factories import settings as webserver_settings
from tests.fakes import EPOCH, FakeNotifier


class Storage:
    """The store the app reads, replaced before each example so every one starts from the same data."""

    def __init__(self, container: Container) -> None:
        self.container = container
        self.store = InMemoryStore()

    def unit_of_work(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.store)

    def history_storage(self) -> InMemoryHistoryStorage:
        return InMemoryHistoryStorage(self.store)

    def reseed(self) -> None:
        """Webservers 1 and 2 (the schema's example id is 1), each with a short history; channel 1, a
        webhook with a test event queued (delivery 1)."""
        self.store = InMemoryStore()
        channel = self.container.register_channel().execute(
            ChannelSettings(kind=ChannelKind.WEBHOOK, url="https://receiver.test/hook")
        )
        self.container.send_test_event().execute(channel.id)
        for n in (1, 2):
            webserver = self.container.register_webserver().execute(webserver_settings(n))
            server = WebserverId(webserver.id)
            self.container.record_probe_results().execute(
                [
                    succeeded(server, EPOCH),
                    failed(server, EPOCH + timedelta(seconds=1)),
                    failed(server, EPOCH + timedelta(seconds=2), status_code=None),
                ]
            )


def build_app() -> tuple[Litestar, Storage]:
    """The app on in-memory storage; its database URL is never opened (the app manages no resources)."""
    container = build_container(Settings(database_url="sqlite:///never-opened.db"))
    storage = Storage(container)
    container.uow.override(providers.Factory(storage.unit_of_work))
    container.history_storage.override(providers.Factory(storage.history_storage))
    # The schema cannot list the URLs apprise has plugins for; a notifier that takes every URL keeps
    # a valid request from being refused for that alone.
    container.apprise_notifier.override(providers.Object(FakeNotifier()))
    return create_app(container, manage_resources=False), storage


APP, STORAGE = build_app()
# Without API keys the app answers only loopback Host names; Schemathesis's own is "testserver".
LOCAL = "http://127.0.0.1:8000"
# Loaded at import: the lazy `schemathesis.pytest.from_fixture` loader fails on pytest 9
# ("'Function' object has no attribute '_nodeid'").
schema = schemathesis.openapi.from_asgi("/schema/openapi.json", APP, headers={"Host": "127.0.0.1:8000"})
schema.config.checks.update(included_check_names=["all"])


# The rules no schema can state. A PATCH of a channel: what its new URL and secret may be depends on
# the kind it was registered with (a webhook takes http(s) URLs and a secret, apprise neither). A
# sync: no two entries may share a key or a URL in its one spelling (uniqueItems compares whole
# items). A statistics window: `from` before `to`, at most 400 days apart (the parameters'
# descriptions say so). A request that fits the schema may rightly get a 422 there; every other
# check runs on them.
STATEFUL_RULES: dict[str, list[CheckFunction]] = {
    "PATCH /channels/{channel_id}": [positive_data_acceptance],
    "POST /webservers/sync": [positive_data_acceptance],
    "GET /webservers/{webserver_id}/stats": [positive_data_acceptance],
    "GET /stats": [positive_data_acceptance],
}


@schema.parametrize()
@settings(max_examples=50, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
def test_the_api_keeps_its_schema(case: Case[Any]) -> None:
    STORAGE.reseed()
    case.call_and_validate(base_url=LOCAL, excluded_checks=STATEFUL_RULES.get(case.operation.label, []))
