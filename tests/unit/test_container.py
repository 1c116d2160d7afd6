"""The container builds the monitor's settings from the service's, by name, with one default each."""

from __future__ import annotations

import dataclasses

from healthmon.application.monitoring.settings import MonitorSettings
from healthmon.container import MONITOR_SETTINGS, build_container
from healthmon.settings import Settings


def test_every_monitor_setting_an_operator_may_set_is_handed_over() -> None:
    assert set(MONITOR_SETTINGS) == {
        "max_concurrent_probes",
        "max_probes_per_host",
        "refresh_seconds",
        "batch_size",
        "flush_seconds",
        "buffer_limit",
        "shutdown_grace_seconds",
        "summary_seconds",
        "lease_seconds",
    }


def test_the_service_defaults_are_the_monitor_defaults() -> None:
    service, monitor = Settings(), MonitorSettings()
    assert {name: getattr(service, name) for name in MONITOR_SETTINGS} == {
        name: getattr(monitor, name) for name in MONITOR_SETTINGS
    }
    assert service.max_concurrent_probes == 500


def test_the_monitor_runs_with_what_the_operator_set() -> None:
    settings = Settings.from_env(
        {
            "HEALTHMON_DATABASE_URL": "postgresql+psycopg2://postgres@127.0.0.1:5432/health_monitoring",
            "HEALTHMON_MAX_CONCURRENT_PROBES": "7",
            "HEALTHMON_MAX_PROBES_PER_HOST": "3",
            "HEALTHMON_LEASE_SECONDS": "9",
        }
    )
    monitor = build_container(settings).monitor_settings()
    assert monitor == dataclasses.replace(
        MonitorSettings(), max_concurrent_probes=7, max_probes_per_host=3, lease_seconds=9.0
    )
    sqlite = build_container(Settings(database_url="sqlite:///unused.db")).monitor_settings()
    assert sqlite.exclusive
