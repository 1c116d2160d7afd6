"""The certificate storage contract, on every UnitOfWork adapter: tls fields and certificate events."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from healthmon.application.use_cases.recording import RecordProbeResults
from healthmon.domain.events import CertificateExpiring, EventType, WebserverSnapshot
from healthmon.domain.webserver import Webserver
from tests.factories import succeeded
from tests.fakes import EPOCH
from tests.integration.adapters.alert_steps import add_channel, add_event, add_webserver
from tests.integration.conftest import UowFactory

EXPIRES_AT = EPOCH + timedelta(days=6, hours=3)


def warning(webserver: Webserver, threshold_days: int = 7) -> CertificateExpiring:
    return CertificateExpiring(
        webserver=WebserverSnapshot(webserver.id, webserver.settings.name, webserver.settings.url),
        expires_at=EXPIRES_AT,
        threshold_days=threshold_days,
        occurred_at=EPOCH,
    )


def test_the_certificate_fields_of_a_webserver_are_saved_and_read_back(uow_factory: UowFactory) -> None:
    webserver = add_webserver(uow_factory)
    seen = dataclasses.replace(webserver, tls_expires_at=EXPIRES_AT, tls_warned_days=7)
    with uow_factory() as uow:
        uow.webservers.save(seen)
        uow.commit()
    with uow_factory() as uow:
        assert uow.webservers.get(webserver.id) == seen
        assert uow.webservers.list(limit=10) == [seen]


def test_recording_a_probe_that_saw_a_certificate_stores_it_and_one_event_queued_for_channels(
    uow_factory: UowFactory,
) -> None:
    webserver = add_webserver(uow_factory)
    channel = add_channel(uow_factory)
    probe = dataclasses.replace(succeeded(webserver.id, EPOCH), tls_expires_at=EXPIRES_AT)
    RecordProbeResults(uow_factory()).execute([probe])
    RecordProbeResults(uow_factory()).execute(
        [
            dataclasses.replace(
                succeeded(webserver.id, EPOCH + timedelta(minutes=1)), tls_expires_at=EXPIRES_AT
            )
        ]
    )
    with uow_factory() as uow:
        stored = uow.webservers.get(webserver.id)
        [claimed] = uow.deliveries.claim("worker-a", claim_for=timedelta(minutes=1), limit=10)
        [recorded] = uow.probe_results.history(webserver.id, limit=1)
    assert stored is not None
    assert (stored.tls_expires_at, stored.tls_warned_days) == (EXPIRES_AT, 7)
    assert claimed.channel.id == channel.id
    assert claimed.event.type is EventType.CERTIFICATE_EXPIRING
    assert claimed.event.certificate == warning(webserver)
    assert claimed.event.webserver_id == webserver.id
    # The history keeps the probe, not the certificate.
    assert recorded.result.tls_expires_at is None


def test_certificate_events_read_back_equal_and_stay_out_of_the_health_feed(uow_factory: UowFactory) -> None:
    webserver = add_webserver(uow_factory)
    health = add_event(uow_factory, webserver)
    with uow_factory() as uow:
        [event] = uow.events.add_certificate_warnings([warning(webserver)])
        uow.commit()
    assert event.change is None
    assert event.certificate == warning(webserver)
    assert event.sequence > health.sequence
    with uow_factory() as uow:
        assert uow.events.feed(after=None, limit=10) == [health]
        assert uow.events.last_of([webserver.id]) == {webserver.id: health}
        assert uow.events.latest_sequence() == event.sequence
