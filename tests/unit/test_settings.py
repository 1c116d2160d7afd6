"""Settings come from HEALTHMON_* variables and every bad one is reported by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from healthmon.domain.errors import InvalidField
from healthmon.settings import DEFAULT_DATABASE_URL, Settings


def test_defaults_need_no_environment() -> None:
    settings = Settings.from_env({})
    assert settings.database_url == DEFAULT_DATABASE_URL == "sqlite:///healthmon.db"
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.api_keys == ()


def test_variables_are_parsed() -> None:
    settings = Settings.from_env(
        {
            "HEALTHMON_DATABASE_URL": "postgresql+psycopg2://postgres@127.0.0.1:5432/health_monitoring",
            "HEALTHMON_PORT": "9000",
            "HEALTHMON_API_KEYS": "alpha, beta,,",
            "HEALTHMON_FLUSH_SECONDS": "0.5",
            "HEALTHMON_LOG_FORMAT": "JSON",
        }
    )
    assert settings.port == 9000
    assert settings.api_keys == ("alpha", "beta")
    assert settings.flush_seconds == 0.5
    assert settings.log_format == "json"


def test_keys_may_come_from_a_file(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text("# operators\nfirst\n\nsecond\n")
    assert Settings.from_env({"HEALTHMON_READONLY_API_KEYS": str(keys)}).readonly_api_keys == (
        "first",
        "second",
    )


def test_overrides_win_over_the_environment() -> None:
    assert Settings.from_env({"HEALTHMON_PORT": "9000"}, port=9100).port == 9100


def test_every_bad_variable_is_named() -> None:
    with pytest.raises(InvalidField) as raised:
        Settings.from_env({"HEALTHMON_PORT": "eighty", "HEALTHMON_BATCH_SIZE": "many"})
    assert [problem.field for problem in raised.value.problems] == ["HEALTHMON_PORT", "HEALTHMON_BATCH_SIZE"]
    assert "must be an integer, not 'eighty'" in str(raised.value)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("HEALTHMON_PORT", "0"),
        ("HEALTHMON_PORT", "70000"),
        ("HEALTHMON_MAX_CONCURRENT_PROBES", "0"),
        ("HEALTHMON_LOG_FORMAT", "xml"),
        ("HEALTHMON_DATABASE_URL", ""),
    ],
)
def test_out_of_range_values_are_rejected(variable: str, value: str) -> None:
    with pytest.raises(InvalidField) as raised:
        Settings.from_env({variable: value})
    assert raised.value.field == variable


def test_delivery_settings_default_to_the_documented_values() -> None:
    settings = Settings.from_env({})
    assert settings.delivery_timeout_seconds == 15
    assert settings.delivery_retry_seconds == (5, 300, 1800, 7200, 18000, 36000, 36000)
    assert settings.delivery_concurrency == 20
    assert settings.delivery_claim_seconds == 60


def test_the_retry_schedule_is_a_comma_separated_list_of_seconds() -> None:
    assert Settings.from_env({"HEALTHMON_DELIVERY_RETRY_SECONDS": "1, 2,4"}).delivery_retry_seconds == (
        1,
        2,
        4,
    )


@pytest.mark.parametrize("value", ["", "1,,2", "1,soon", "0", "1,-2"])
def test_a_bad_retry_schedule_is_named(value: str) -> None:
    with pytest.raises(InvalidField) as raised:
        Settings.from_env({"HEALTHMON_DELIVERY_RETRY_SECONDS": value})
    assert [problem.field for problem in raised.value.problems] == ["HEALTHMON_DELIVERY_RETRY_SECONDS"]


def test_a_claim_must_outlast_an_attempt() -> None:
    with pytest.raises(InvalidField) as raised:
        Settings.from_env({"HEALTHMON_DELIVERY_TIMEOUT_SECONDS": "60"})
    assert [problem.field for problem in raised.value.problems] == ["HEALTHMON_DELIVERY_CLAIM_SECONDS"]


def test_delivery_concurrency_must_be_positive() -> None:
    with pytest.raises(InvalidField, match="HEALTHMON_DELIVERY_CONCURRENCY"):
        Settings.from_env({"HEALTHMON_DELIVERY_CONCURRENCY": "0"})
