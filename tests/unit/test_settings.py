"""Settings come from HEALTHMON_* variables and every bad one is reported by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from healthmon.domain.errors import InvalidField
from healthmon.entrypoints.cli import main
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


def test_the_metrics_port_is_off_unless_set() -> None:
    assert Settings().metrics_port is None
    assert Settings.from_env({"HEALTHMON_METRICS_PORT": "9464"}).metrics_port == 9464


def test_the_event_loop_is_uvloop_unless_set() -> None:
    assert Settings().event_loop == "uvloop"
    assert Settings.from_env({"HEALTHMON_EVENT_LOOP": "AsyncIO"}).event_loop == "asyncio"


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
        ("HEALTHMON_METRICS_PORT", "0"),
        ("HEALTHMON_METRICS_PORT", "65536"),
        ("HEALTHMON_METRICS_PORT", "ninety"),
        ("HEALTHMON_MAX_CONCURRENT_PROBES", "0"),
        ("HEALTHMON_LOG_FORMAT", "xml"),
        ("HEALTHMON_EVENT_LOOP", "trio"),
        ("HEALTHMON_DATABASE_URL", ""),
    ],
)
def test_out_of_range_values_are_rejected(variable: str, value: str) -> None:
    with pytest.raises(InvalidField) as raised:
        Settings.from_env({variable: value})
    assert raised.value.field == variable


KEY_VARIABLES = ["HEALTHMON_API_KEYS", "HEALTHMON_READONLY_API_KEYS"]


def refusal(variable: str, value: str) -> str:
    """The one-line reason Settings gives for refusing this key setting."""
    with pytest.raises(InvalidField) as raised:
        Settings.from_env({variable: value})
    assert raised.value.field == variable
    message = str(raised.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("variable", KEY_VARIABLES)
@pytest.mark.parametrize("value", ["/path/that/does/not/exist", "./keys.txt", "@keys.txt", "@/no/such/keys"])
def test_a_key_path_that_names_no_file_is_refused_not_taken_as_a_key(
    variable: str, value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert "does not exist" in refusal(variable, value)


@pytest.mark.parametrize("variable", KEY_VARIABLES)
@pytest.mark.parametrize("content", ["", "\n\n", "# operators\n  # indented\n\t\n"])
def test_a_key_file_without_keys_is_refused(variable: str, content: str, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text(content)
    assert "holds no key" in refusal(variable, str(keys))


def test_indented_comments_and_blank_lines_in_a_key_file_are_ignored(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text(" #comment\n\tfirst  \n   \n  # another\nsecond\n")
    assert Settings.from_env({"HEALTHMON_API_KEYS": str(keys)}).api_keys == ("first", "second")


def test_a_key_file_may_be_named_with_an_at_sign_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "keys.txt").write_text("only-key\n")
    monkeypatch.chdir(tmp_path)
    assert Settings.from_env({"HEALTHMON_API_KEYS": "@keys.txt"}).api_keys == ("only-key",)


def test_a_bare_value_naming_an_existing_file_is_refused_as_ambiguous(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "keys.txt").write_text("only-key\n")
    monkeypatch.chdir(tmp_path)
    assert "@keys.txt" in refusal("HEALTHMON_API_KEYS", "keys.txt")


@pytest.mark.parametrize("variable", KEY_VARIABLES)
@pytest.mark.parametrize("value", ["", " ", ",", " , ,, "])
def test_a_key_setting_without_keys_is_refused(variable: str, value: str) -> None:
    assert "holds no key" in refusal(variable, value)


@pytest.mark.parametrize("line", ["two words", "key # comment", "tab\tinside", "é-not-ascii", "a,b"])
def test_a_key_line_that_cannot_be_sent_as_a_bearer_token_is_refused_without_showing_it(
    line: str, tmp_path: Path
) -> None:
    keys = tmp_path / "keys"
    keys.write_text(f"# first\ngood-key\n{line}\n")
    message = refusal("HEALTHMON_API_KEYS", str(keys))
    assert "line 3" in message
    assert line not in message


def test_an_inline_key_that_cannot_be_sent_is_refused_without_showing_it() -> None:
    message = refusal("HEALTHMON_API_KEYS", "good-key, two words")
    assert "key 2" in message
    assert "two words" not in message


def test_a_key_file_that_cannot_be_read_is_refused(tmp_path: Path) -> None:
    assert "cannot be read" in refusal("HEALTHMON_API_KEYS", str(tmp_path))


def test_allowed_hosts_are_names_or_addresses_in_lower_case() -> None:
    settings = Settings.from_env({"HEALTHMON_ALLOWED_HOSTS": " Monitor.Example.COM, [::1],10.0.0.5, ,"})
    assert settings.allowed_hosts == ("monitor.example.com", "::1", "10.0.0.5")
    assert Settings.from_env({}).allowed_hosts == ()


@pytest.mark.parametrize("value", ["two words", "host:8000", "http://host/", "a/b", "[::1]:80", "-bad-.com"])
def test_an_allowed_host_that_is_not_a_name_or_address_is_refused(value: str) -> None:
    with pytest.raises(InvalidField) as raised:
        Settings.from_env({"HEALTHMON_ALLOWED_HOSTS": f"ok.example, {value}"})
    assert raised.value.field == "HEALTHMON_ALLOWED_HOSTS"


def test_a_bad_key_setting_stops_a_command_with_one_line_before_it_touches_anything(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # `db upgrade` reads settings as `serve` and `worker` do, and ends by itself if they pass.
    monkeypatch.setenv("HEALTHMON_DATABASE_URL", f"sqlite:///{tmp_path / 'untouched.db'}")
    monkeypatch.setenv("HEALTHMON_API_KEYS", "/path/that/does/not/exist")
    assert main(["db", "upgrade"]) == 1
    printed = capsys.readouterr()
    assert printed.out == ""
    assert printed.err.count("\n") == 1
    assert printed.err.startswith("healthmon: error: HEALTHMON_API_KEYS names a key file that does not exist")
    assert not (tmp_path / "untouched.db").exists()


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


def test_the_outbound_policy_defaults_to_denying_only_the_metadata_addresses() -> None:
    settings = Settings.from_env({})
    assert [str(network) for network in settings.outbound_deny] == ["169.254.169.254/32", "fd00:ec2::254/128"]
    assert settings.outbound_allow == ()
    assert settings.cert_warn_days == (14, 7, 1)


def test_outbound_networks_and_warning_days_are_comma_separated_lists() -> None:
    settings = Settings.from_env(
        {
            "HEALTHMON_OUTBOUND_DENY": "10.0.0.0/8, fc00::/7",
            "HEALTHMON_OUTBOUND_ALLOW": "10.1.0.0/16",
            "HEALTHMON_CERT_WARN_DAYS": "3, 30",
        }
    )
    assert [str(network) for network in settings.outbound_deny] == ["10.0.0.0/8", "fc00::/7"]
    assert [str(network) for network in settings.outbound_allow] == ["10.1.0.0/16"]
    assert settings.cert_warn_days == (30, 3)


def test_an_empty_deny_list_denies_nothing() -> None:
    assert Settings.from_env({"HEALTHMON_OUTBOUND_DENY": ""}).outbound_deny == ()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("HEALTHMON_OUTBOUND_DENY", "10.0.0.0/33"),
        ("HEALTHMON_OUTBOUND_ALLOW", "intranet.example"),
        ("HEALTHMON_CERT_WARN_DAYS", "7,7"),
        ("HEALTHMON_CERT_WARN_DAYS", "0"),
        ("HEALTHMON_CERT_WARN_DAYS", "seven"),
        ("HEALTHMON_CERT_WARN_DAYS", ""),
    ],
)
def test_a_bad_policy_or_warning_setting_is_named(variable: str, value: str) -> None:
    with pytest.raises(InvalidField) as caught:
        Settings.from_env({variable: value})
    assert caught.value.field == variable
