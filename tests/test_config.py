"""Settings: settings.toml, HUNTER_* environment overrides, secrets only from the environment."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from hunter.config import Settings, load_settings, parse_duration
from hunter.errors import ConfigError
from tests.conftest import QUERIES, REPO, SAMPLES, SettingsFactory

SECRET = "s3cr3t-value-that-must-not-leak"


def test_repository_settings_run_embedded_out_of_the_box() -> None:
    """The shipped settings.toml is the embedded mode over samples/events with state under var/."""
    settings = load_settings(REPO / "settings.toml")
    assert settings.mode == "embedded"
    assert settings.embedded.events == [SAMPLES]
    assert settings.embedded.state == REPO / "var" / "hunter.sqlite3"
    assert settings.queries == [QUERIES]


def test_relative_paths_resolve_against_the_settings_folder(tmp_path: Path) -> None:
    """Relative paths in the file are taken from the settings file's folder, not the cwd."""
    path = tmp_path / "conf" / "settings.toml"
    path.parent.mkdir()
    path.write_text('[embedded]\nevents = ["exports"]\nstate = "var/x.sqlite3"\n', encoding="utf-8")
    settings = load_settings(path)
    assert settings.embedded.events == [tmp_path / "conf" / "exports"]
    assert settings.embedded.state == tmp_path / "conf" / "var" / "x.sqlite3"


def test_the_code_cache_is_kept_beside_the_settings_unless_turned_off(tmp_path: Path) -> None:
    """code_cache is a folder under the settings file's (var/code-cache by default); "" keeps none."""
    path = tmp_path / "settings.toml"
    path.write_text("", encoding="utf-8")
    assert load_settings(path).code_cache == tmp_path / "var" / "code-cache"
    path.write_text('code_cache = "cache/code"\n', encoding="utf-8")
    assert load_settings(path).code_cache == tmp_path / "cache" / "code"
    path.write_text('code_cache = ""\n', encoding="utf-8")
    assert load_settings(path).code_cache is None


def test_environment_overrides_embedded_events_and_state(
    settings_file: SettingsFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HUNTER_EMBEDDED__EVENTS (JSON list) and HUNTER_EMBEDDED__STATE win over the file."""
    path = settings_file()
    monkeypatch.setenv("HUNTER_EMBEDDED__EVENTS", f'["{tmp_path / "exports" / "beats"}"]')
    monkeypatch.setenv("HUNTER_EMBEDDED__STATE", str(tmp_path / "other.sqlite3"))
    settings = load_settings(path)
    assert settings.embedded.events == [tmp_path / "exports" / "beats"]
    assert settings.embedded.state == tmp_path / "other.sqlite3"


def test_one_environment_key_keeps_the_other_file_keys_of_its_section(
    settings_file: SettingsFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Overriding embedded.state from the environment keeps embedded.events from the file."""
    events = tmp_path / "mine"
    path = settings_file(events=[events])
    monkeypatch.setenv("HUNTER_EMBEDDED__STATE", str(tmp_path / "env.sqlite3"))
    settings = load_settings(path)
    assert settings.embedded.events == [events]
    assert settings.embedded.state == tmp_path / "env.sqlite3"


def test_hunter_mode_from_the_environment(
    settings_file: SettingsFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HUNTER_MODE=elasticsearch switches the mode; nested hosts come from HUNTER_ELASTICSEARCH__HOSTS."""
    monkeypatch.setenv("HUNTER_MODE", "elasticsearch")
    monkeypatch.setenv("HUNTER_ELASTICSEARCH__HOSTS", '["http://127.0.0.1:9200"]')
    settings = load_settings(settings_file())
    assert settings.mode == "elasticsearch"
    assert settings.elasticsearch.hosts == ["http://127.0.0.1:9200"]


def test_bad_mode_from_the_environment_is_a_config_error(
    settings_file: SettingsFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An invalid HUNTER_MODE is a one-line ConfigError naming the mode setting."""
    monkeypatch.setenv("HUNTER_MODE", "cloud")
    with pytest.raises(ConfigError) as info:
        load_settings(settings_file())
    assert "mode" in str(info.value)
    assert "\n" not in str(info.value)


def test_environment_value_that_is_not_json_is_a_config_error(
    settings_file: SettingsFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HUNTER_EMBEDDED__EVENTS that is not a JSON list gives a one-line ConfigError, not a traceback."""
    monkeypatch.setenv("HUNTER_EMBEDDED__EVENTS", "samples/events")
    with pytest.raises(ConfigError) as info:
        load_settings(settings_file())
    assert "\n" not in str(info.value)


def test_a_bare_number_of_seconds_is_a_duration_in_the_environment_too(
    settings_file: SettingsFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HUNTER_SCHEDULE__INGEST_DELAY=90 is 90 seconds, as ingest_delay = 90 is in the file."""
    monkeypatch.setenv("HUNTER_SCHEDULE__INGEST_DELAY", "90")
    assert load_settings(settings_file()).schedule.ingest_delay == timedelta(seconds=90)
    assert parse_duration("1.5") == timedelta(seconds=1.5)


def test_a_bad_value_names_the_variable_that_set_it(
    settings_file: SettingsFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bad value from HUNTER_* names that variable (and the setting), not the settings file."""
    monkeypatch.setenv("HUNTER_SCHEDULE__INGEST_DELAY", "soon")
    path = settings_file()
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    message = str(info.value)
    assert message.startswith("HUNTER_SCHEDULE__INGEST_DELAY (schedule.ingest_delay): ")
    assert str(path) not in message


def test_a_bad_value_in_the_file_names_the_file(settings_file: SettingsFactory) -> None:
    """A bad value written in settings.toml names the file and the setting."""
    path = settings_file(sections={"schedule": {"ingest_delay": "soon"}})
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}: schedule\.ingest_delay: "):
        load_settings(path)


def test_a_list_that_is_not_json_names_only_the_variable_at_fault(
    settings_file: SettingsFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Of HUNTER_EMBEDDED__EVENTS (not JSON) and HUNTER_EMBEDDED__STATE (a path), only the first is named."""
    monkeypatch.setenv("HUNTER_EMBEDDED__EVENTS", "samples/events")
    monkeypatch.setenv("HUNTER_EMBEDDED__STATE", str(tmp_path / "x.sqlite3"))
    with pytest.raises(ConfigError) as info:
        load_settings(settings_file())
    assert "HUNTER_EMBEDDED__EVENTS: not valid JSON" in str(info.value)
    assert "HUNTER_EMBEDDED__STATE" not in str(info.value)


def test_initial_lookback_within_the_ingest_delay_is_explained(settings_file: SettingsFactory) -> None:
    """initial_lookback <= ingest_delay is allowed, and a warning says what it means."""
    from hunter.config import settings_warnings

    settings = load_settings(settings_file(sections={"schedule": {"initial_lookback": "0s"}}))
    (warning,) = settings_warnings(settings)
    assert "schedule.initial_lookback (0s) is not longer than schedule.ingest_delay (1m)" in warning
    assert settings_warnings(load_settings(settings_file())) == []


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("hooks.slack.com/services/T/B/x", "must be an http(s) URL with a host"),
        ("http://hooks.slack.com/services/T/B/x", "must use https"),
        ("ftp://example.com/x", "must be an http(s) URL with a host"),
    ],
)
def test_an_unusable_webhook_url_is_a_startup_error_that_keeps_it_secret(
    settings_file: SettingsFactory, monkeypatch: pytest.MonkeyPatch, url: str, problem: str
) -> None:
    """A webhook URL without a scheme, or plain http to anything but this machine, is refused at
    start, naming the variable and never printing the (secret) URL."""
    monkeypatch.setenv("HUNTER_SLACK__WEBHOOK_URL", url)
    with pytest.raises(ConfigError) as info:
        load_settings(settings_file())
    message = str(info.value)
    assert message.startswith("HUNTER_SLACK__WEBHOOK_URL (slack.webhook_url): ") and problem in message
    assert url not in message


def test_a_local_plain_http_webhook_and_kibana_url_are_fine(
    settings_file: SettingsFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """http://127.0.0.1 webhooks (a local receiver) are allowed; kibana_url loses a trailing slash."""
    monkeypatch.setenv("HUNTER_SLACK__WEBHOOK_URL", "http://127.0.0.1:8080/hook")
    settings = load_settings(settings_file(sections={"slack": {"kibana_url": "http://kibana:5601/"}}))
    assert settings.slack.kibana_url == "http://kibana:5601"


def test_a_bad_kibana_url_is_a_startup_error(settings_file: SettingsFactory) -> None:
    """kibana_url that is not an http(s) URL is refused at start, naming the file and setting."""
    path = settings_file(sections={"slack": {"kibana_url": "kibana:5601"}})
    with pytest.raises(ConfigError, match=r"slack\.kibana_url: .*must be an http\(s\) URL"):
        load_settings(path)


def test_invalid_toml_is_a_one_line_config_error(tmp_path: Path) -> None:
    """A settings file that is not TOML gives a ConfigError naming the file, on one line."""
    path = tmp_path / "settings.toml"
    path.write_text('mode = "embedded"\n[embedded\nstate = 1\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    message = str(info.value)
    assert message.startswith(str(path))
    assert "\n" not in message


def test_unknown_setting_is_rejected(settings_file: SettingsFactory) -> None:
    """An unknown key in a section is a ConfigError that says 'unknown setting' and names it."""
    path = settings_file(sections={"schedule": {"intervall": "5m"}})
    with pytest.raises(ConfigError, match=r"schedule\.intervall: unknown setting"):
        load_settings(path)


def test_unknown_setting_from_the_environment_is_rejected(
    settings_file: SettingsFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A misspelt nested HUNTER_SECTION__KEY variable is refused, naming it, rather than ignored."""
    monkeypatch.setenv("HUNTER_SCHEDULE__INTERVALL", "5m")
    monkeypatch.setenv("HUNTER_EMBEDDED__EVENTZ", "[]")
    with pytest.raises(ConfigError) as info:
        load_settings(settings_file())
    assert str(info.value) == (
        "environment: HUNTER_EMBEDDED__EVENTZ: unknown setting (did you mean HUNTER_EMBEDDED__EVENTS?); "
        "HUNTER_SCHEDULE__INTERVALL: unknown setting"
    )


def test_other_unknown_hunter_variables_are_warnings_and_platform_ones_are_ignored(
    settings_file: SettingsFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flat typo (HUNTER_SLACK_WEBHOOK_URL) is warned about with the likely name; what Kubernetes
    injects for a Service called hunter and docker-compose's own variables are not hunter's concern."""
    from hunter.config import environment_warnings

    monkeypatch.setenv("HUNTER_SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T/B/x")
    for name, value in {
        "HUNTER_SERVICE_HOST": "10.0.0.7",
        "HUNTER_SERVICE_PORT": "9750",
        "HUNTER_SERVICE_PORT_METRICS": "9750",
        "HUNTER_PORT": "tcp://10.0.0.7:9750",
        "HUNTER_PORT_9750_TCP_ADDR": "10.0.0.7",
        "HUNTER_UID": "10001",
    }.items():
        monkeypatch.setenv(name, value)
    load_settings(settings_file())  # starts
    assert environment_warnings() == [
        "environment: HUNTER_SLACK_WEBHOOK_URL: unknown setting "
        "(did you mean HUNTER_SLACK__WEBHOOK_URL?) (ignored)"
    ]


def test_a_settings_file_that_is_not_utf8_is_a_one_line_config_error(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 name the file and the byte, not a traceback."""
    path = tmp_path / "settings.toml"
    path.write_bytes(b'mode = "\xff"\n')
    with pytest.raises(ConfigError, match=r"settings\.toml: not UTF-8 text \(invalid start byte at byte 8\)"):
        load_settings(path)


@pytest.mark.parametrize(
    ("section", "key", "variable"),
    [
        ("slack", "webhook_url", "HUNTER_SLACK__WEBHOOK_URL"),
        ("elasticsearch", "api_key", "HUNTER_ELASTICSEARCH__API_KEY"),
        ("elasticsearch", "password", "HUNTER_ELASTICSEARCH__PASSWORD"),
    ],
)
def test_secret_in_the_file_is_refused(
    settings_file: SettingsFactory, section: str, key: str, variable: str
) -> None:
    """A secret written in settings.toml is a ConfigError pointing at its environment variable."""
    path = settings_file(sections={section: {key: SECRET}})
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    message = str(info.value)
    assert variable in message
    assert SECRET not in message
    assert "\n" not in message


def test_secrets_from_the_environment_are_secretstr_and_hidden(
    settings_file: SettingsFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Secrets from HUNTER_* are SecretStr, readable on purpose, and absent from repr and str."""
    monkeypatch.setenv("HUNTER_SLACK__WEBHOOK_URL", f"https://hooks.slack.com/services/{SECRET}")
    monkeypatch.setenv("HUNTER_ELASTICSEARCH__API_KEY", SECRET)
    monkeypatch.setenv("HUNTER_ELASTICSEARCH__PASSWORD", SECRET)
    settings = load_settings(settings_file())
    assert isinstance(settings.slack.webhook_url, SecretStr)
    assert isinstance(settings.elasticsearch.api_key, SecretStr)
    assert isinstance(settings.elasticsearch.password, SecretStr)
    assert settings.api_key() == SECRET
    for text in (repr(settings), str(settings), repr(settings.elasticsearch), repr(settings.slack)):
        assert SECRET not in text


def test_missing_explicit_settings_file_is_an_error(tmp_path: Path) -> None:
    """--config naming a file that does not exist is a ConfigError (the default file may be absent)."""
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml")


def test_defaults_without_a_settings_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no ./settings.toml the defaults apply (embedded mode, samples/events, var/hunter.sqlite3)."""
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.mode == "embedded"
    assert settings.embedded.events == [tmp_path / "samples" / "events"]
    assert settings.embedded.state == tmp_path / "var" / "hunter.sqlite3"


def test_schedule_durations_are_parsed(settings: Callable[..., Settings]) -> None:
    """Durations such as '90s', '2h', '1d' in the file become timedeltas."""
    loaded = settings(
        sections={"schedule": {"ingest_delay": "90s", "initial_lookback": "2h", "max_catchup": "1d"}}
    )
    assert loaded.schedule.ingest_delay == timedelta(seconds=90)
    assert loaded.schedule.initial_lookback == timedelta(hours=2)
    assert loaded.schedule.max_catchup == timedelta(days=1)


@pytest.mark.parametrize("text", ["5 minutes", "-1m", "m", ""])
def test_bad_durations_are_refused(text: str) -> None:
    """Anything but <number><ms|s|m|h|d> is refused."""
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_bad_duration_in_the_file_is_a_config_error(settings_file: SettingsFactory) -> None:
    """A bad duration is a ConfigError naming the setting."""
    with pytest.raises(ConfigError, match=r"schedule\.max_catchup"):
        load_settings(settings_file(sections={"schedule": {"max_catchup": "a while"}}))
