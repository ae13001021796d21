"""``hunter coverage`` against the Elasticsearch test server holding the sample telemetry."""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import structlog

from hunter.cli import main
from hunter.config import load_settings
from hunter.coverage import coverage_report
from hunter.hunts import load_hunts
from tests.conftest import SettingsFactory
from tests.support.es_data import QUERIES, TEMPLATES, index_samples
from tests.support.es_server import serve


@dataclass(frozen=True)
class Reports:
    """What ``hunter coverage`` and ``hunter coverage --json`` printed, and what the cluster was asked."""

    table: str
    json: dict[str, Any]
    paths: tuple[str, ...]


def cli_coverage(url: str, config: Path, *args: str) -> str:
    """stdout of ``hunter coverage [args]`` pointed at ``url`` through the environment."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    out = io.StringIO()
    try:
        with pytest.MonkeyPatch.context() as env, contextlib.redirect_stdout(out):
            env.setenv("HUNTER_MODE", "elasticsearch")
            env.setenv("HUNTER_ELASTICSEARCH__HOSTS", json.dumps([url]))
            assert main(["coverage", "--config", str(config), *args]) == 0
    finally:
        structlog.reset_defaults()
        root.handlers[:] = handlers
        root.setLevel(level)
    return out.getvalue()


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Reports]:
    """Both outputs of ``hunter coverage`` over one server holding the samples (read-only, so shared)."""
    config = tmp_path_factory.mktemp("coverage") / "settings.toml"
    config.write_text(f"queries = {json.dumps(str(QUERIES))}\ntemplates = {json.dumps(str(TEMPLATES))}\n")
    for server in serve():
        with server.client() as client:
            index_samples(client)
        table = cli_coverage(server.url, config)
        report = json.loads(cli_coverage(server.url, config, "--json"))
        yield Reports(table, report, tuple(r.path for r in server.requests))


def rows(report: dict[str, Any], query: str, index: str) -> list[dict[str, Any]]:
    """The stage rows of one query of the (single) hunt for one index pattern."""
    (hunt,) = report["hunts"]
    (found,) = [q for q in hunt["queries"] if q["query"] == query]
    return [row for row in found["stages"] if row["index"] == index]


def test_json_report_shows_sysmon_join_blindness(reports: Reports) -> None:
    """Sysmon network/file events carry no process.parent.entity_id: the sequence is blind on winlogbeat-*."""
    assert reports.json["source"] == "elasticsearch"
    start, follow = rows(reports.json, "sequence", "winlogbeat-*")
    assert start["status"] == "ok"
    assert follow["status"] == "blind"
    assert follow["detail"] == "network or file events here never carry join key(s) process.parent.entity_id"
    (fallback,) = [q for q in reports.json["hunts"][0]["queries"] if q["query"] == "fallback"]
    assert fallback["can_match"] is True
    assert fallback["fires_in"] == sorted(["logs-endpoint.events.process-*", "winlogbeat-*", "auditbeat-*"])


def test_json_report_shows_auditbeat_missing_entity_ids(reports: Reports) -> None:
    """auditbeat-* maps neither join key: process.entity_id and process.parent.entity_id are reported."""
    audit = rows(reports.json, "sequence", "auditbeat-*")
    assert [row["stage"] for row in audit] == [1, 2]
    assert audit[0]["status"] == "blind" and "process.entity_id" in audit[0]["detail"]
    assert all(row["status"] != "ok" for row in audit)
    assert any("process.parent.entity_id" in row["detail"] for row in audit), audit


def test_table_reports_the_same_blind_spots(reports: Reports) -> None:
    """The plain table names the cluster as source and lists both blind spots."""
    assert reports.table.startswith("coverage from elasticsearch\n")
    lines = reports.table.splitlines()
    sysmon = [line for line in lines if "sequence" in line and "winlogbeat-*" in line and "2 (any)" in line]
    assert len(sysmon) == 1 and "blind" in sysmon[0] and "process.parent.entity_id" in sysmon[0]
    audit = [line for line in lines if "sequence" in line and "auditbeat-*" in line]
    assert len(audit) == 2
    assert any("process.parent.entity_id" in line for line in audit), audit
    assert "t1059_011_lua/fallback (event): can match" in reports.table


def test_cluster_report_agrees_with_the_event_files(reports: Reports, settings_file: SettingsFactory) -> None:
    """The same telemetry gives the same report from _field_caps/_count as from the event files."""
    embedded = load_settings(settings_file())
    local = coverage_report(embedded, load_hunts(embedded.queries))
    assert local["source"] == "event files"
    assert reports.json["hunts"] == local["hunts"]
    assert any(path.endswith("/_field_caps") for path in reports.paths)
    assert any(path.endswith("/_count") for path in reports.paths)
    assert not any(path.endswith("/_eql/search") for path in reports.paths)


def test_empty_cluster_reports_no_data_everywhere(settings_file: SettingsFactory) -> None:
    """With no event index at all every stage is 'no data' and no query can match."""
    for empty in serve():
        report = json.loads(cli_coverage(empty.url, settings_file(), "--json"))
    queries = report["hunts"][0]["queries"]
    assert all(not q["can_match"] and q["fires_in"] == [] for q in queries)
    assert {row["status"] for q in queries for row in q["stages"]} == {"no data"}


def test_unreachable_cluster_is_a_one_line_failure(
    settings_file: SettingsFactory, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A cluster that refuses connections makes ``hunter coverage`` exit 1 with one line, not a traceback."""
    for gone in serve():
        gone.stop()
        monkeypatch.setenv("HUNTER_MODE", "elasticsearch")
        monkeypatch.setenv("HUNTER_ELASTICSEARCH__HOSTS", json.dumps([gone.url]))
        monkeypatch.setenv("HUNTER_SEARCH__RETRIES", "0")
        code = main(["coverage", "--config", str(settings_file())])
    err = capsys.readouterr().err
    assert code == 1
    assert [line for line in err.splitlines() if line.startswith("hunter: ")], err
