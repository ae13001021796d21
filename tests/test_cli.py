"""The `hunter` command end to end on the embedded default: hunt, run --once, alerts, validate, errors."""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hunter.cli import main
from tests.conftest import (
    AUDITBEAT_INDEX,
    AUDITBEAT_LUA_ID,
    BENIGN,
    OS_EXECUTE_LUA,
    QUERIES,
    REPO,
    SAMPLES,
    SHARED,
    SOCKET_LUA,
    SYSMON_LUA,
    SettingsFactory,
    append_ndjson,
    lua_exec,
    notice_lines,
    read_ndjson,
    tmp_write,
    utc,
    write_ndjson,
)
from tests.support.slack_receiver import Reply, SlackReceiver

NOW = "2026-11-20T15:00:00Z"
QUIET_ARGS = ["lua5.4", "/home/dana/jobs/report.lua"]
LOCATED = re.compile(r"^.+:\d+:\d+: \S.*$")
BAD_HUNT = """id = "Bad Id"
name = "Broken"
severity = "urgent"

[queries.single]
query = "process where process.name =="
"""


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``hunter ARGS`` in-process: (exit code, stdout, stderr)."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def anchor_key(alert: dict[str, Any]) -> str:
    """The anchor's entity id, or its event id when it has none."""
    anchor = alert["hunter"]["anchor"]
    return str(anchor.get("entity_id") or anchor.get("id"))


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HUNTER_EMBEDDED__STATE points into tmp_path; the cwd is tmp_path (so nothing lands in the repo)."""
    path = tmp_path / "state" / "hunter.sqlite3"
    monkeypatch.setenv("HUNTER_EMBEDDED__STATE", str(path))
    monkeypatch.chdir(tmp_path)
    return path


# ---- hunter hunt ---------------------------------------------------------------------------------


def test_hunt_over_the_samples_gives_the_four_documented_alerts(
    capsys: pytest.CaptureFixture[str], settings_file: SettingsFactory, state: Path
) -> None:
    """`hunter hunt --events samples/events`: one alert per malicious Lua process, none for benign."""
    code, out, err = cli(capsys, "hunt", "--config", str(settings_file()), "--events", str(SAMPLES))
    assert code == 0
    alerts = read_ndjson(out)
    by_anchor = {anchor_key(alert): alert["hunter"]["queries"] for alert in alerts}
    assert by_anchor == {
        OS_EXECUTE_LUA: ["fallback", "sequence"],
        SOCKET_LUA: ["fallback"],
        AUDITBEAT_LUA_ID: ["fallback"],
        SYSMON_LUA: ["fallback"],
    }
    (auditd,) = [a for a in alerts if a["hunter"]["anchor"]["kind"] == "event"]
    assert auditd["hunter"]["anchor"]["index"] == AUDITBEAT_INDEX
    assert all(
        alert["host"]["id"] != "1c6f8e2d-94a7-4b31-b0e5-3d72a9c14f86" for alert in alerts
    )  # benign host
    assert "4 alert(s)" in err
    assert not state.exists()


def test_hunt_over_the_benign_sample_gives_nothing(
    capsys: pytest.CaptureFixture[str], settings_file: SettingsFactory, state: Path
) -> None:
    """The benign Endpoint file (Neovim, Redis EVAL, nmap NSE...) raises no alert."""
    code, out, err = cli(capsys, "hunt", "--config", str(settings_file()), "--events", str(SAMPLES / BENIGN))
    assert code == 0
    assert out == ""
    assert "0 alert(s)" in err


def test_hunt_writes_the_output_file(
    capsys: pytest.CaptureFixture[str], settings_file: SettingsFactory, tmp_path: Path, state: Path
) -> None:
    """--output writes the alert documents as NDJSON to the file instead of stdout."""
    output = tmp_path / "out" / "alerts.ndjson"
    code, out, _err = cli(
        capsys, "hunt", "--config", str(settings_file()), "--events", str(SAMPLES), "--output", str(output)
    )
    assert code == 0
    assert out == ""
    assert len(read_ndjson(output.read_text(encoding="utf-8"))) == 4


def test_hunt_maxspan_is_inclusive(
    capsys: pytest.CaptureFixture[str], settings_file: SettingsFactory, tmp_path: Path, state: Path
) -> None:
    """Through `hunter hunt`: a child write exactly 5 min after Lua alerts, 5 min + 1 ms does not."""
    t = utc("2026-11-20T10:00:00Z")
    events = write_ndjson(
        tmp_path / "e.ndjson",
        [
            lua_exec(t, doc_id="exec-a", entity_id="A", host_id="host-a", args=QUIET_ARGS),
            lua_exec(t, doc_id="exec-b", entity_id="B", host_id="host-b", args=QUIET_ARGS),
            tmp_write(utc("2026-11-20T10:05:00Z"), doc_id="w-a", parent_entity_id="A", host_id="host-a"),
            tmp_write(utc("2026-11-20T10:05:00.001Z"), doc_id="w-b", parent_entity_id="B", host_id="host-b"),
        ],
    )
    code, out, _err = cli(capsys, "hunt", "--config", str(settings_file()), "--events", str(events))
    assert code == 0
    (alert,) = read_ndjson(out)
    assert alert["host"]["id"] == "host-a"
    assert alert["hunter"]["queries"] == ["sequence"]


def test_hunt_reads_gzip_and_json_arrays_and_skips_bad_lines(
    capsys: pytest.CaptureFixture[str], settings_file: SettingsFactory, tmp_path: Path, state: Path
) -> None:
    """Reads .gz and .json arrays; a bad line is skipped, counted in the summary, logged with file:line."""
    folder = tmp_path / "events"
    folder.mkdir()
    (folder / "socket.ndjson.gz").write_bytes(
        gzip.compress((SAMPLES / "endpoint-linux-socket.ndjson").read_bytes())
    )
    sysmon = [line for line in (SAMPLES / "winlogbeat-sysmon-lua.ndjson").read_text().splitlines() if line]
    (folder / "sysmon.json").write_text("[" + ",\n".join(sysmon) + "]", encoding="utf-8")
    (folder / "bad.ndjson").write_text('{"message": "no timestamp"}\n', encoding="utf-8")
    code, out, err = cli(capsys, "hunt", "--config", str(settings_file()), "--events", str(folder))
    assert code == 0
    assert sorted(anchor_key(a) for a in read_ndjson(out)) == sorted([SOCKET_LUA, SYSMON_LUA])
    assert "1 bad line(s)" in err
    (logged,) = [line for line in err.splitlines() if "bad event line skipped" in line]
    assert re.search(r'"file": "[^"]*bad\.ndjson"', logged) and '"line": 1' in logged


def test_hunt_summary_counts_each_event_once_with_several_hunts(
    capsys: pytest.CaptureFixture[str], settings_file: SettingsFactory, tmp_path: Path, state: Path
) -> None:
    """With two hunts the summary still reports 67 events and 1 bad line, and the bad line is logged once."""
    hunts = tmp_path / "hunts"
    hunts.mkdir()
    text = (QUERIES / "t1059_011_lua.toml").read_text(encoding="utf-8")
    (hunts / "a.toml").write_text(text, encoding="utf-8")
    (hunts / "b.toml").write_text(text.replace('id = "t1059_011_lua"', 'id = "lua_copy"'), encoding="utf-8")
    bad = tmp_path / "bad.ndjson"
    bad.write_text("garbage\n", encoding="utf-8")
    args = [
        "hunt",
        "--config",
        str(settings_file()),
        "--queries",
        str(hunts),
        "--events",
        str(SAMPLES),
        str(bad),
    ]
    code, out, err = cli(capsys, *args)
    assert code == 0
    assert len(read_ndjson(out)) == 8
    assert "67 events read from 6 file(s), 1 bad line(s) skipped; 8 alert(s)" in err
    assert err.count("bad event line skipped") == 1


# ---- hunter run --once / hunter alerts ------------------------------------------------------------


def test_run_once_then_alerts(
    capsys: pytest.CaptureFixture[str], settings_file: SettingsFactory, state: Path
) -> None:
    """`run --once --now` stores the 4 sample alerts with one console notice each; `alerts` prints them."""
    config = str(settings_file(state=Path("ignored-by-env.sqlite3")))
    code, out, _err = cli(capsys, "run", "--once", "--config", config, "--now", NOW)
    assert code == 0
    assert state.exists()
    lines = notice_lines(out)
    assert len(lines) == 4
    assert any("queries=fallback,sequence" in line for line in lines)

    code, out, _err = cli(capsys, "alerts", "--config", config)
    assert code == 0
    stored = read_ndjson(out)
    assert sorted(anchor_key(a) for a in stored) == sorted(
        [OS_EXECUTE_LUA, SOCKET_LUA, AUDITBEAT_LUA_ID, SYSMON_LUA]
    )
    assert [a["hunter"]["queries"] for a in stored if anchor_key(a) == OS_EXECUTE_LUA] == [
        ["fallback", "sequence"]
    ]
    assert {line.rsplit("alert=", 1)[1] for line in lines} == {a["hunter"]["alert_id"] for a in stored}

    code, out, _err = cli(capsys, "run", "--once", "--config", config, "--now", NOW)
    assert code == 0
    assert notice_lines(out) == []
    code, out, _err = cli(capsys, "alerts", "--config", config)
    assert len(read_ndjson(out)) == 4


def test_alerts_filter_by_hunt_time_and_count_and_say_when_there_is_no_state(
    capsys: pytest.CaptureFixture[str], settings_file: SettingsFactory, state: Path
) -> None:
    """`hunter alerts` lists oldest first by first seen, takes --hunt, --since and --limit, and says
    so when there is no state file yet (instead of printing nothing)."""
    config = str(settings_file(state=Path("ignored-by-env.sqlite3")))
    code, _out, err = cli(capsys, "alerts", "--config", config)
    assert code == 0 and f"no alerts yet: {state} does not exist" in err
    cli(capsys, "run", "--once", "--config", config, "--now", NOW)
    code, out, _err = cli(capsys, "alerts", "--config", config)
    stored = read_ndjson(out)
    first_seen = [alert["hunter"]["first_seen"] for alert in stored]
    assert first_seen == sorted(first_seen) and len(stored) == 4
    code, out, _err = cli(capsys, "alerts", "--config", config, "--since", first_seen[2], "--limit", "1")
    assert [a["hunter"]["first_seen"] for a in read_ndjson(out)] == [first_seen[2]]
    code, out, _err = cli(capsys, "alerts", "--config", config, "--hunt", "no-such-hunt")
    assert code == 0 and out == ""


def test_alerts_into_a_closed_pipe_end_quietly(tmp_path: Path) -> None:
    """`hunter alerts | head -1`: the reader leaves early, hunter exits without a traceback."""
    from hunter.store.sqlite import SqliteStore

    state = tmp_path / "state.sqlite3"
    store = SqliteStore(state)
    padding = "x" * 1000
    docs = [
        {"hunter": {"alert_id": f"a{n}", "first_seen": "2026-11-20T10:00:00Z"}, "message": padding}
        for n in range(500)
    ]
    store.save("h", docs, [])  # half a megabyte: more than a pipe holds
    store.close()
    env = dict(os.environ, HUNTER_EMBEDDED__STATE=str(state))
    result = subprocess.run(
        f"{sys.executable} -m hunter.cli alerts | head -c 10",
        shell=True,
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr


def test_notices_are_listed_and_parked_ones_requeued(
    capsys: pytest.CaptureFixture[str], settings_file: SettingsFactory, state: Path
) -> None:
    """`hunter notices` lists the outbox (JSON lines), --failed only the parked ones, --requeue puts
    them back so the next run sends them."""
    from hunter.store.sqlite import SqliteStore

    config = str(settings_file(state=Path("ignored-by-env.sqlite3")))
    code, _out, err = cli(capsys, "notices", "--config", config)
    assert code == 0 and "no notices yet" in err
    cli(capsys, "run", "--once", "--config", config, "--now", NOW)
    store = SqliteStore(state)
    parked = store.notices()[0].alert_id
    store._db.execute(
        "UPDATE notices SET status = 'failed', last_error = 'invalid_token' WHERE alert_id = ?", (parked,)
    )
    store.close()
    code, out, err = cli(capsys, "notices", "--config", config, "--failed")
    (line,) = read_ndjson(out)
    assert (line["alert_id"], line["status"], line["last_error"]) == (parked, "failed", "invalid_token")
    assert "failed 1" in err
    code, _out, err = cli(capsys, "notices", "--config", config, "--requeue")
    assert code == 0 and "1 parked notice(s) queued again" in err
    code, out, _err = cli(capsys, "run", "--once", "--config", config, "--now", NOW)
    assert len(notice_lines(out)) == 1  # sent by the next run


def test_run_once_and_hunt_agree_on_alert_ids(
    capsys: pytest.CaptureFixture[str], settings_file: SettingsFactory, state: Path
) -> None:
    """`hunter hunt` and `hunter run --once` compute the same alert ids for the same events."""
    config = str(settings_file())
    _code, out, _err = cli(capsys, "hunt", "--config", config, "--events", str(SAMPLES))
    hunted = sorted(a["hunter"]["alert_id"] for a in read_ndjson(out))
    cli(capsys, "run", "--once", "--config", config, "--now", NOW)
    _code, out, _err = cli(capsys, "alerts", "--config", config)
    assert sorted(a["hunter"]["alert_id"] for a in read_ndjson(out)) == hunted


def test_sequence_across_two_ticks_with_a_restart(
    capsys: pytest.CaptureFixture[str], settings_file: SettingsFactory, tmp_path: Path, state: Path
) -> None:
    """Lua exec before tick 1, child's /tmp write before tick 2: one alert and one notice, even when rerun."""
    events = write_ndjson(
        tmp_path / "live.ndjson",
        [lua_exec(utc("2026-11-20T10:00:00Z"), doc_id="exec", entity_id="L", args=QUIET_ARGS)],
    )
    config = str(settings_file(events=[events]))
    code, out, _err = cli(capsys, "run", "--once", "--config", config, "--now", "2026-11-20T10:02:00Z")
    assert code == 0
    assert notice_lines(out) == []
    append_ndjson(events, [tmp_write(utc("2026-11-20T10:04:00Z"), doc_id="write", parent_entity_id="L")])
    code, out, _err = cli(capsys, "run", "--once", "--config", config, "--now", "2026-11-20T10:07:00Z")
    assert code == 0
    assert len(notice_lines(out)) == 1
    for now in ("2026-11-20T10:07:00Z", "2026-11-20T10:12:00Z"):  # the same tick again, then a later one
        code, out, _err = cli(capsys, "run", "--once", "--config", config, "--now", now)
        assert code == 0
        assert notice_lines(out) == []
    _code, out, _err = cli(capsys, "alerts", "--config", config)
    (alert,) = read_ndjson(out)
    assert alert["hunter"]["queries"] == ["sequence"]
    assert [ref["_id"] for ref in alert["hunter"]["events"]] == ["exec", "write"]


def test_environment_points_the_service_at_other_events_and_state(
    capsys: pytest.CaptureFixture[str],
    settings_file: SettingsFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HUNTER_EMBEDDED__EVENTS and HUNTER_EMBEDDED__STATE override the settings file for a run."""
    config = str(settings_file(events=[tmp_path / "nowhere"], state=tmp_path / "file-state.sqlite3"))
    other_state = tmp_path / "env-state.sqlite3"
    monkeypatch.setenv("HUNTER_EMBEDDED__EVENTS", f'["{SAMPLES / "endpoint-linux-socket.ndjson"}"]')
    monkeypatch.setenv("HUNTER_EMBEDDED__STATE", str(other_state))
    monkeypatch.chdir(tmp_path)
    code, out, _err = cli(capsys, "run", "--once", "--config", config, "--now", NOW)
    assert code == 0
    assert len(notice_lines(out)) == 1
    assert other_state.exists()
    assert not (tmp_path / "file-state.sqlite3").exists()


def test_hunter_mode_from_the_environment_switches_away_from_sqlite(
    capsys: pytest.CaptureFixture[str],
    settings_file: SettingsFactory,
    monkeypatch: pytest.MonkeyPatch,
    state: Path,
) -> None:
    """HUNTER_MODE=elasticsearch sends the run to a cluster (unreachable here: it fails) and not to SQLite."""
    monkeypatch.setenv("HUNTER_MODE", "elasticsearch")
    monkeypatch.setenv("HUNTER_ELASTICSEARCH__HOSTS", '["http://127.0.0.1:9"]')
    monkeypatch.setenv("HUNTER_SEARCH__RETRIES", "0")
    code, out, err = cli(capsys, "run", "--once", "--config", str(settings_file()), "--now", NOW)
    assert code == 1
    assert "hunter: " in err
    assert notice_lines(out) == []
    assert not state.exists()


def test_secrets_never_appear_in_output_or_logs(
    capsys: pytest.CaptureFixture[str],
    settings_file: SettingsFactory,
    monkeypatch: pytest.MonkeyPatch,
    state: Path,
) -> None:
    """Secrets from the environment (API key, password, Slack webhook) appear in no output or log line."""
    secret = "sup3r-s3cret-api-key-value"
    monkeypatch.setenv("HUNTER_ELASTICSEARCH__API_KEY", secret)
    monkeypatch.setenv("HUNTER_ELASTICSEARCH__PASSWORD", secret)
    monkeypatch.setenv("HUNTER_SLACK__MIN_INTERVAL", "0")
    monkeypatch.setenv("HUNTER_SERVICE__LOG_LEVEL", "debug")
    with SlackReceiver() as slack:
        slack.script(Reply.error(400, "invalid_payload"))
        monkeypatch.setenv("HUNTER_SLACK__WEBHOOK_URL", slack.url)
        code, out, err = cli(capsys, "run", "--once", "--config", str(settings_file()), "--now", NOW)
        token = slack.token
        received = len(slack.requests)
    assert code == 0
    assert received == 4
    for text in (out, err):
        assert secret not in text
        assert token not in text
        assert token.split("/")[-1] not in text


# ---- bad input: one line, non-zero, nothing written ------------------------------------------------


def _bad_toml(tmp_path: Path, settings_file: SettingsFactory) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text('mode = "embedded"\n[embedded\n', encoding="utf-8")
    return path


def _unknown_setting(tmp_path: Path, settings_file: SettingsFactory) -> Path:
    return settings_file(sections={"schedule": {"intervall": "5m"}})


def _secret_in_file(tmp_path: Path, settings_file: SettingsFactory) -> Path:
    return settings_file(sections={"slack": {"webhook_url": "https://hooks.slack.com/services/T0/B0/leak"}})


def _missing_events(tmp_path: Path, settings_file: SettingsFactory) -> Path:
    return settings_file(events=[tmp_path / "no-such-events"])


def _unreadable_events(tmp_path: Path, settings_file: SettingsFactory) -> Path:
    broken = tmp_path / "broken.ndjson.gz"
    broken.write_bytes(b"not gzip at all")
    return settings_file(events=[broken])


@pytest.mark.parametrize(
    "make",
    [_bad_toml, _unknown_setting, _secret_in_file, _missing_events, _unreadable_events],
    ids=["invalid-toml", "unknown-setting", "secret-in-file", "missing-events", "unreadable-events"],
)
def test_bad_input_is_one_line_nonzero_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], settings_file: SettingsFactory, tmp_path: Path, make: Any
) -> None:
    """`run --once` with bad settings or event files: one stderr line, non-zero exit, no state file
    (var/ holds at most the code cache: what was parsed and compiled of the hunts)."""
    config = make(tmp_path, settings_file)
    default_state = tmp_path / "var" / "hunter.sqlite3"
    code, out, err = cli(capsys, "run", "--once", "--config", str(config), "--now", NOW)
    assert code != 0
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("hunter: ")
    assert "Traceback" not in err
    assert "leak" not in err
    assert notice_lines(out) == []
    assert not default_state.exists()
    assert {path.name for path in default_state.parent.glob("*")} <= {"code-cache"}


def test_bad_environment_value_is_one_line_nonzero(
    capsys: pytest.CaptureFixture[str],
    settings_file: SettingsFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HUNTER_EMBEDDED__EVENTS that is not JSON: a one-line error, exit 2, no state file."""
    monkeypatch.setenv("HUNTER_EMBEDDED__EVENTS", "samples/events")
    code, _out, err = cli(capsys, "run", "--once", "--config", str(settings_file()), "--now", NOW)
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "var").exists()


def test_bad_hunt_file_lists_each_problem_on_its_own_line(
    capsys: pytest.CaptureFixture[str], settings_file: SettingsFactory, tmp_path: Path
) -> None:
    """`run --once` with a bad hunt: one `file:line:col: message` line per problem, then the summary
    line, exit 2, no state."""
    folder = tmp_path / "hunts"
    folder.mkdir()
    (folder / "bad.toml").write_text(BAD_HUNT, encoding="utf-8")
    code, _out, err = cli(
        capsys, "run", "--once", "--config", str(settings_file(queries=folder)), "--now", NOW
    )
    assert code == 2
    *lines, summary = err.strip().splitlines()
    assert summary == "0 hunts loaded, 0 skipped (0 not EQL, 0 deprecated), 1 files with problems"
    assert len(lines) == 3
    assert all(LOCATED.match(line) and line.startswith(str(folder / "bad.toml")) for line in lines)
    assert {line.split(":")[1:3] == ["1", "1"] for line in lines} == {True, False}
    assert {path.name for path in (tmp_path / "var").glob("*")} <= {"code-cache"}  # no state


def test_hunt_with_missing_or_unreadable_events_is_one_line_nonzero(
    capsys: pytest.CaptureFixture[str], settings_file: SettingsFactory, tmp_path: Path, state: Path
) -> None:
    """`hunter hunt` on a missing path or an unreadable file: one line naming it, exit 2, no output."""
    broken = tmp_path / "broken.ndjson.gz"
    broken.write_bytes(b"not gzip")
    for path in (tmp_path / "missing.ndjson", broken):
        code, out, err = cli(capsys, "hunt", "--config", str(settings_file()), "--events", str(path))
        assert code == 2
        assert out == ""
        assert len(err.strip().splitlines()) == 1
        assert path.name in err


# ---- hunter validate ------------------------------------------------------------------------------


def test_the_commands_keep_compiled_code_in_the_code_cache(
    capsys: pytest.CaptureFixture[str], settings_file: SettingsFactory, tmp_path: Path
) -> None:
    """`hunter hunt` keeps the code it compiled under code_cache (here beside the settings file)."""
    code, _out, _err = cli(capsys, "hunt", "--config", str(settings_file()), "--events", str(SAMPLES))
    assert code == 0
    assert any((tmp_path / "var" / "code-cache").iterdir())


def test_validate_accepts_the_repository_hunts(
    capsys: pytest.CaptureFixture[str], settings_file: SettingsFactory
) -> None:
    """`hunter validate` exits 0 on queries/ and ends with the summary line; -v names each hunt."""
    code, out, _err = cli(capsys, "validate", "--config", str(settings_file()), "--queries", str(QUERIES))
    assert code == 0
    assert (
        out.splitlines()[-1] == "1 hunts loaded, 0 skipped (0 not EQL, 0 deprecated), 0 files with problems"
    )
    code, out, _err = cli(capsys, "validate", "--config", str(settings_file()), "-v")
    assert code == 0
    assert "loaded  t1059_011_lua  Lua interpreter abuse (T1059.011)" in out


RULES = SHARED / "detection-rules"
needs_rules = pytest.mark.skipif(not RULES.is_dir(), reason="../shared/detection-rules is not present")
LIBRARY_SUMMARY = "1024 hunts loaded, 1168 skipped (1044 not EQL, 124 deprecated), 0 files with problems"


@needs_rules
def test_validate_loads_elastics_whole_library(
    capsys: pytest.CaptureFixture[str], settings_file: SettingsFactory
) -> None:
    """rules/ and rules_building_block/ together: every non-deprecated EQL rule loads, exit 0, and
    the summary line counts what was skipped; -v says which and why."""
    config = str(settings_file())
    folders = ["--queries", str(RULES / "rules"), "--queries", str(RULES / "rules_building_block")]
    code, out, _err = cli(capsys, "validate", "--config", config, *folders, "-v")
    assert code == 0
    lines = out.splitlines()
    assert lines[-1] == LIBRARY_SUMMARY
    assert sum(line.startswith("loaded  ") for line in lines) == 1024
    skipped = [line for line in lines if line.startswith("skipped  ")]
    assert len(skipped) == 1168
    assert any(line.endswith(': not EQL (type = "query")') for line in skipped)
    assert any(line.endswith(": deprecated") for line in skipped)
    code, out, _err = cli(
        capsys,
        "validate",
        "--config",
        config,
        "--queries",
        str(RULES / "rules" / "_deprecated"),
        "--include-deprecated",
    )
    assert code == 0
    assert out.splitlines()[-1].startswith("57 hunts loaded")


def test_queries_take_several_files_and_folders_from_options_and_settings(
    capsys: pytest.CaptureFixture[str], settings_file: SettingsFactory, tmp_path: Path
) -> None:
    """--queries repeats and takes files; the queries setting is a list (or one path); folders are
    searched recursively."""
    nested = tmp_path / "lib" / "deep" / "more"
    nested.mkdir(parents=True)
    other = (
        (QUERIES / "t1059_011_lua.toml")
        .read_text(encoding="utf-8")
        .replace('id = "t1059_011_lua"', 'id = "copy"')
    )
    (nested / "copy.toml").write_text(other, encoding="utf-8")
    single = str(QUERIES / "t1059_011_lua.toml")
    code, out, _err = cli(
        capsys,
        "validate",
        "--config",
        str(settings_file()),
        "--queries",
        single,
        "--queries",
        str(tmp_path / "lib"),
    )
    assert code == 0 and out.splitlines()[-1].startswith("2 hunts loaded")
    config = settings_file(text="")
    text = config.read_text(encoding="utf-8").replace(
        f"queries = {json.dumps(str(QUERIES))}",
        f"queries = [{json.dumps(single)}, {json.dumps(str(tmp_path / 'lib'))}]",
    )
    config.write_text(text, encoding="utf-8")
    code, out, _err = cli(capsys, "validate", "--config", str(config))
    assert code == 0 and out.splitlines()[-1].startswith("2 hunts loaded")


@needs_rules
def test_hunt_runs_prebuilt_rules_over_an_export(
    capsys: pytest.CaptureFixture[str], settings_file: SettingsFactory, tmp_path: Path
) -> None:
    """A prebuilt rule file runs through `hunter hunt` like any hunt: its alert carries the rule's id
    as rule.uuid and hunter.hunt.id, its name, severity and threat; events outside its indices are not
    searched, and the summary says so."""
    rule = RULES / "rules" / "linux" / "privilege_escalation_looney_tunables_cve_2023_4911.toml"
    starts = []
    for number in range(5):
        hit = lua_exec(utc("2026-11-20T10:00:00Z"), doc_id=f"t{number}", entity_id=f"E{number}")
        source = hit["_source"]
        source["@timestamp"] = f"2026-11-20T10:00:0{number}.000Z"
        source["event"]["action"] = "exec"
        source["process"]["executable"] = "/usr/bin/su"
        source["process"]["env_vars"] = ["GLIBC_TUNABLES=glibc.malloc.mxfast=glibc.malloc.mxfast=A"]
        source["process"]["parent"]["entity_id"] = "P"
        starts.append(hit)
    events = write_ndjson(tmp_path / "export.ndjson", starts)
    code, out, err = cli(
        capsys, "hunt", "--config", str(settings_file()), "--events", str(events), "--queries", str(rule)
    )
    assert code == 0, err
    (alert,) = read_ndjson(out)
    assert alert["rule"]["uuid"] == alert["hunter"]["hunt"]["id"] == "6d8685a1-94fa-4ef7-83de-59302e7c4ca8"
    assert alert["rule"]["name"] == "Potential Privilege Escalation via CVE-2023-4911"
    assert (
        alert["rule"]["ruleset"] == "elastic"
    )  # (the repository's rules carry no version: it is set at release)
    assert alert["event"]["severity"] == 73 and alert["event"]["risk_score"] == 73
    assert "TA0004" in alert["threat"]["tactic"]["id"]
    assert alert["hunter"]["event_count"] == 5
    bare = tmp_path / "winlogbeat-export.ndjson"
    write_ndjson(bare, [{k: v for k, v in s["_source"].items() if k != "data_stream"} for s in starts])
    code, out, err = cli(
        capsys, "hunt", "--config", str(settings_file()), "--events", str(bare), "--queries", str(rule)
    )
    assert code == 0 and read_ndjson(out) == []
    assert "no event is in its indices (logs-endpoint.events.process*)" in err


def test_validate_explains_a_first_run_that_cannot_search(
    capsys: pytest.CaptureFixture[str], settings_file: SettingsFactory
) -> None:
    """`hunter validate` warns when initial_lookback <= ingest_delay (the first run searches nothing)."""
    path = settings_file(sections={"schedule": {"initial_lookback": "1m"}})
    code, _out, err = cli(capsys, "validate", "--config", str(path), "--queries", str(QUERIES))
    assert code == 0
    assert "warning: schedule.initial_lookback (1m) is not longer than schedule.ingest_delay (1m)" in err


def test_validate_lists_every_problem(
    capsys: pytest.CaptureFixture[str], settings_file: SettingsFactory, tmp_path: Path
) -> None:
    """`hunter validate` on bad hunts prints one located line per problem in every file and exits non-zero."""
    folder = tmp_path / "hunts"
    folder.mkdir()
    (folder / "a.toml").write_text(BAD_HUNT, encoding="utf-8")
    (folder / "b.toml").write_text('id = "b"\nname = \n', encoding="utf-8")
    (folder / "c.toml").write_text(
        (QUERIES / "t1059_011_lua.toml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    code, out, err = cli(capsys, "validate", "--config", str(settings_file()), "--queries", str(folder))
    assert code != 0
    *lines, summary = err.strip().splitlines()
    assert summary == "1 hunts loaded, 0 skipped (0 not EQL, 0 deprecated), 2 files with problems"
    assert len(lines) == 4
    assert all(LOCATED.match(line) for line in lines)
    assert sorted({Path(line.split(":")[0]).name for line in lines}) == ["a.toml", "b.toml"]
    assert "OK" not in out


# ---- the real console script ----------------------------------------------------------------------


def test_console_script_runs_the_repository_defaults(tmp_path: Path) -> None:
    """The installed `hunter` script on the repo's own settings.toml: `run --once` twice, then `alerts`."""
    script = Path(sys.executable).with_name("hunter")
    if not script.exists():
        pytest.skip("the hunter console script is not installed next to this interpreter")
    state = tmp_path / "proc" / "state.sqlite3"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUNTER_")}
    env["HUNTER_EMBEDDED__STATE"] = str(state)

    def hunter(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(script), *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=60, check=False
        )

    run = hunter("run", "--once", "--now", NOW)
    assert run.returncode == 0, run.stderr
    assert len(notice_lines(run.stdout)) == 4
    assert state.exists()
    again = hunter("run", "--once", "--now", NOW)
    assert again.returncode == 0, again.stderr
    assert notice_lines(again.stdout) == []
    listed = hunter("alerts")
    assert listed.returncode == 0, listed.stderr
    alerts = read_ndjson(listed.stdout)
    assert len(alerts) == 4
    assert [a["hunter"]["queries"] for a in alerts if anchor_key(a) == OS_EXECUTE_LUA] == [
        ["fallback", "sequence"]
    ]


def test_a_one_shot_command_ends_at_once_with_everything_written(tmp_path: Path) -> None:
    """`hunter hunt` through the console entry point ends its process without tearing it down: the
    alert documents on stdout (more than the stream's buffer holds), the summary on stderr and the
    exit code are all there, and a bad input still exits 2 with its one-line error."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUNTER_")}
    env["HUNTER_EMBEDDED__STATE"] = str(tmp_path / "state.sqlite3")

    def hunter(*args: str) -> subprocess.CompletedProcess[bytes]:
        command = [sys.executable, "-c", "from hunter.cli import console; console()", *args]
        return subprocess.run(command, capture_output=True, env=env, cwd=REPO, timeout=60, check=False)

    alone = hunter("hunt", "--events", str(SAMPLES))
    assert alone.returncode == 0, alone.stderr
    documents = read_ndjson(alone.stdout.decode())
    assert len(documents) == 4 and len(alone.stdout) > 8192 and alone.stdout.endswith(b"\n")
    assert f"{len(documents)} alert(s)".encode() in alone.stderr.splitlines()[-1]
    bad = hunter("hunt", "--events", str(tmp_path / "missing.ndjson"))
    assert bad.returncode == 2
    assert b"missing.ndjson" in bad.stderr


# ---- hunter preview and --hunt ---------------------------------------------------------------------


def test_preview_prints_what_a_hunt_file_would_alert_and_stores_nothing(
    capsys: pytest.CaptureFixture[str], settings_file: SettingsFactory, state: Path
) -> None:
    """`hunter preview HUNT-FILE --events ...` lists each alert the hunt would raise (with --json the
    documents), writes no state and sends nothing; a window narrows it."""
    config = str(settings_file(state=Path("ignored-by-env.sqlite3")))
    hunt_file = str(QUERIES / "t1059_011_lua.toml")
    code, out, _err = cli(capsys, "preview", hunt_file, "--events", str(SAMPLES), "--config", config)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith(f"preview over {SAMPLES} (every event); nothing is stored or sent")
    assert lines[1].startswith(
        "Lua interpreter abuse (T1059.011) (t1059_011_lua): 4 alert(s); hits sequence=1"
    )
    assert sum("  medium  " in line for line in lines) == 4
    assert not state.exists() and notice_lines(out) == []
    code, out, _err = cli(
        capsys, "preview", hunt_file, "--events", str(SAMPLES), "--config", config, "--json"
    )
    assert len(read_ndjson(out)) == 4
    window = ["--start", "2026-11-20T09:00:00Z", "--end", "2026-11-20T09:30:00Z"]
    code, out, _err = cli(capsys, "preview", hunt_file, "--events", str(SAMPLES), "--config", config, *window)
    assert "(2026-11-20T09:00:00.000Z..2026-11-20T09:30:00.000Z)" in out and ": 1 alert(s)" in out


def test_preview_searches_the_cluster_in_elasticsearch_mode(
    capsys: pytest.CaptureFixture[str],
    settings_file: SettingsFactory,
    es_samples: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without --events in elasticsearch mode, preview runs the hunt on the cluster over the range and
    writes nothing there (no alert data stream, no state index)."""
    monkeypatch.setenv("HUNTER_MODE", "elasticsearch")
    monkeypatch.setenv("HUNTER_ELASTICSEARCH__HOSTS", json.dumps([es_samples.url]))
    window = ["--start", "2026-11-20T00:00:00Z", "--end", "2026-11-20T23:00:00Z"]
    code, out, err = cli(
        capsys, "preview", str(QUERIES / "t1059_011_lua.toml"), "--config", str(settings_file()), *window
    )
    assert code == 0, err
    assert ": 4 alert(s)" in out
    with es_samples.client() as client:
        assert not client.indices.exists(index="hunter-state")
        assert not client.indices.exists(index="logs-hunter.alerts-default")


def test_hunt_takes_hunt_ids_and_refuses_unknown_ones(
    capsys: pytest.CaptureFixture[str], settings_file: SettingsFactory, tmp_path: Path
) -> None:
    """--hunt ID narrows any command to those hunts; an id no file has is a one-line error (exit 2)."""
    folder = tmp_path / "hunts"
    folder.mkdir()
    text = (QUERIES / "t1059_011_lua.toml").read_text(encoding="utf-8")
    (folder / "a.toml").write_text(text, encoding="utf-8")
    (folder / "b.toml").write_text(text.replace('id = "t1059_011_lua"', 'id = "other"'), encoding="utf-8")
    config = str(settings_file(queries=folder))
    code, out, _err = cli(capsys, "validate", "--config", config, "--hunt", "other", "-v")
    assert code == 0 and "loaded  other" in out and "loaded  t1059_011_lua" not in out
    code, _out, err = cli(capsys, "hunt", "--config", config, "--events", str(SAMPLES), "--hunt", "nope")
    assert code == 2 and err.strip().endswith(f"no hunt with id 'nope' in {folder}")


def test_preview_runs_a_disabled_hunt_and_says_so(
    capsys: pytest.CaptureFixture[str], settings_file: SettingsFactory, tmp_path: Path
) -> None:
    """A hunt file with enabled = false (as imported deprecated Sigma rules are) is previewed anyway,
    with a line saying the service does not run it."""
    text = (QUERIES / "t1059_011_lua.toml").read_text(encoding="utf-8")
    path = tmp_path / "off.toml"
    path.write_text(text.replace('interval = "5m"', 'interval = "5m"\nenabled = false'), encoding="utf-8")
    code, out, _err = cli(
        capsys, "preview", str(path), "--events", str(SAMPLES), "--config", str(settings_file())
    )
    assert code == 0 and ": 4 alert(s)" in out
    assert "disabled (enabled = false): the service does not run it" in out


def test_a_broken_alert_template_is_bad_input(
    capsys: pytest.CaptureFixture[str], settings_file: SettingsFactory, tmp_path: Path
) -> None:
    """A missing alert template is a one-line error with exit 2 (bad input), not 1."""
    config = settings_file(text="")
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            json.dumps(str(REPO / "templates")), json.dumps(str(tmp_path))
        ),
        encoding="utf-8",
    )
    code, _out, err = cli(capsys, "hunt", "--config", str(config), "--events", str(SAMPLES))
    assert code == 2 and "alert.json.j2" in err and len(err.strip().splitlines()) == 1
