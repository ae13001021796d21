"""hunter end to end in elasticsearch mode, against the Elasticsearch test server holding the samples.

The CLI runs in-process (``hunter.cli.main``) and once as the real ``hunter`` console script; the
replica tests build searcher, store and runner as the service does, with an injected sleep and
a recording notifier, so two of them can share one cluster.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from hunter.cli import main
from hunter.dedup import findings
from hunter.hunts import Hunt
from hunter.results import QueryResult, Window
from hunter.runner import RunSummary
from tests.conftest import AUDITBEAT_INDEX, SettingsFactory, ns, read_ndjson, utc
from tests.support.es_data import (
    ALERTS,
    NOW,
    SAMPLES,
    Replica,
    es_settings,
    index_hits,
    index_samples,
    replica,
    sample_hits,
    state_docs,
    stored_alerts,
)
from tests.support.es_server import EsTestServer, serve

EQL = r"/_eql/search$"
NOW_ARG = "2026-11-20T15:00:00Z"
WINDOW_END = ns(utc("2026-11-20T14:59:00Z"))  # now - ingest_delay
WINDOW = Window(ns(utc("2026-11-19T15:00:00Z")), WINDOW_END)  # the first run's window


@pytest.fixture
def server() -> Iterator[EsTestServer]:
    """A running test server holding the sample telemetry."""
    for running in serve():
        with running.client() as client:
            index_samples(client)
        yield running


@pytest.fixture
def config(settings_file: SettingsFactory) -> Path:
    """A settings file with the repo's queries and templates (embedded state in tmp_path)."""
    return settings_file()


@pytest.fixture
def es_env(server: EsTestServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment that points hunter at the test server (also set in this process)."""
    env = {"HUNTER_MODE": "elasticsearch", "HUNTER_ELASTICSEARCH__HOSTS": json.dumps([server.url])}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def embedded_alerts(config: Path, tmp_path: Path) -> dict[str, dict[str, Any]]:
    """The alerts the embedded mode raises on the same samples (``hunter hunt --events samples/events``)."""
    out = tmp_path / "embedded.ndjson"
    assert main(["hunt", "--events", str(SAMPLES), "--output", str(out), "--config", str(config)]) == 0
    alerts = {doc["hunter"]["alert_id"]: doc for doc in read_ndjson(out.read_text(encoding="utf-8"))}
    assert len(alerts) == 4
    return alerts


def identity(alerts: dict[str, dict[str, Any]]) -> dict[str, tuple[list[str], list[str]]]:
    """Per alert id: the queries that matched and the ids of the member events."""
    return {
        alert_id: (doc["hunter"]["queries"], sorted(e["_id"] for e in doc["hunter"]["events"]))
        for alert_id, doc in alerts.items()
    }


def cli_alerts(config: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, Any]]:
    """What ``hunter alerts`` prints, by alert id."""
    capsys.readouterr()
    assert main(["alerts", "--config", str(config)]) == 0
    docs = read_ndjson(capsys.readouterr().out)
    return {doc["hunter"]["alert_id"]: doc for doc in docs}


def run_once(config: Path, now: str = NOW_ARG) -> int:
    """``hunter run --once --now ...`` in this process."""
    return main(["run", "--once", "--now", now, "--config", str(config)])


def test_run_once_raises_the_embedded_alerts_once_even_after_a_rollover(
    server: EsTestServer,
    es: Elasticsearch,
    es_env: dict[str, str],
    config: Path,
    embedded_alerts: dict[str, dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """run --once stores the embedded alerts; reruns, over the same window even after a rollover, add none."""
    assert run_once(config) == 0
    stored = cli_alerts(config, capsys)
    assert identity(stored) == identity(embedded_alerts)
    notices = state_docs(es, "notice")
    assert sorted(n["alert_id"] for n in notices) == sorted(embedded_alerts)
    assert {n["status"] for n in notices} == {"sent"}
    (checkpoint,) = state_docs(es, "checkpoint")
    assert checkpoint["end_ns"] == WINDOW_END
    first_filter = server.requests_to(EQL)[0].body["filter"]

    assert run_once(config, "2026-11-20T15:05:00Z") == 0  # the next tick: only the new minutes
    monkeypatch.setenv("HUNTER_ELASTICSEARCH__STATE_INDEX", "hunter-state-2")  # no checkpoint: same window
    assert run_once(config) == 0
    assert len(stored_alerts(es)) == 4

    rolled = es.indices.rollover(alias=ALERTS)
    monkeypatch.setenv("HUNTER_ELASTICSEARCH__STATE_INDEX", "hunter-state-3")
    before = len(server.requests_to(EQL))
    assert run_once(config) == 0
    assert [r.body["filter"] for r in server.requests_to(EQL)[before:]] == [first_filter, first_filter]
    hits = stored_alerts(es)
    assert sorted(hit["_id"] for hit in hits) == sorted(embedded_alerts)
    assert {hit["_index"] for hit in hits} == {rolled["old_index"]}
    assert {hit["_source"]["hunter"]["version"] for hit in hits} == {1}  # not even rewritten
    for state in ("hunter-state-2", "hunter-state-3"):
        assert state_docs(es, "notice", index=state) == []
    assert identity(cli_alerts(config, capsys)) == identity(embedded_alerts)


def test_run_once_with_a_tiny_search_size_splits_capped_windows_and_misses_nothing(
    server: EsTestServer,
    es: Elasticsearch,
    es_env: dict[str, str],
    config: Path,
    embedded_alerts: dict[str, dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With size 1 every non-empty answer is capped: run --once splits the windows down and stores
    exactly the alerts the embedded mode finds without any cap."""
    monkeypatch.setenv("HUNTER_SEARCH__SIZE", "1")
    monkeypatch.setenv("HUNTER_SEARCH__MIN_SPLIT", "1ms")
    assert run_once(config) == 0
    assert identity(cli_alerts(config, capsys)) == identity(embedded_alerts)
    assert len(server.requests_to(EQL)) > 10
    assert all(r.body["size"] == 1 for r in server.requests_to(EQL))


def test_a_window_capped_at_the_narrowest_split_is_counted_as_truncated(
    server: EsTestServer, es: Elasticsearch, lua_hunt: Hunt
) -> None:
    """A capped window that may not be split further (min_split wider than it) is stored with what
    came back and counted per query in hunter_truncated_windows_total."""
    node = replica(es_settings(server.url, search={"size": 1, "min_split": "2d"}))
    summary = node.runner.run_hunt(lua_hunt)
    assert summary.outcome == "ok" and summary.truncated == {"sequence": 1, "fallback": 1}
    truncations = node.runner.metrics.truncations
    assert truncations.labels(lua_hunt.id, "sequence")._value.get() == 1
    assert truncations.labels(lua_hunt.id, "fallback")._value.get() == 1


def test_console_script_run_once_in_a_subprocess(
    es: Elasticsearch, es_env: dict[str, str], config: Path, embedded_alerts: dict[str, dict[str, Any]]
) -> None:
    """The installed ``hunter`` script, pointed at the cluster by the environment, stores the same alerts."""
    script = Path(sys.executable).with_name("hunter")
    assert script.exists(), script
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("HUNTER_")}, **es_env}
    done = subprocess.run(
        [str(script), "run", "--once", "--now", NOW_ARG, "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    stored = {hit["_id"]: hit["_source"] for hit in stored_alerts(es)}
    assert identity(stored) == identity(embedded_alerts)
    assert done.stdout.count("[ALERT]") == 4  # console notices, one per alert


def test_api_key_is_sent_and_never_logged(
    server: EsTestServer,
    es_env: dict[str, str],
    config: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HUNTER_ELASTICSEARCH__API_KEY authenticates every request and appears in no output, even at debug."""
    key = base64.b64encode(b"VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw").decode()
    monkeypatch.setenv("HUNTER_ELASTICSEARCH__API_KEY", key)
    monkeypatch.setenv("HUNTER_SERVICE__LOG_LEVEL", "debug")
    monkeypatch.setenv("HUNTER_SERVICE__LOG_FORMAT", "json")
    monkeypatch.setenv("HUNTER_SEARCH__RETRY_BACKOFF", "0s")
    server.faults.error(503, path_regex=EQL)  # retried: the retry is logged with the error
    server.faults.error(401, path_regex=EQL, error_type="security_exception", reason="unable to authenticate")
    before = len(server.requests)
    run_once(config)
    out, err = capsys.readouterr()
    assert "retrying" in err and "unable to authenticate" in err
    for text in (out, err):
        assert key not in text and "ui2lp2axTNmsyakw9tvNnw" not in text
    sent = server.requests[before:]
    assert sent and all(r.headers.get("authorization") == f"ApiKey {key}" for r in sent)


def test_503_then_success_retries_and_the_run_succeeds(
    server: EsTestServer, es: Elasticsearch, lua_hunt: Hunt
) -> None:
    """A 503 on a search is retried after the injected sleep; the run stores every alert and moves on."""
    node = replica(es_settings(server.url))
    server.faults.error(503, path_regex=EQL)
    summary = node.runner.run_hunt(lua_hunt)
    assert summary.outcome == "ok" and len(summary.created) == 4
    assert len(node.sleeps) == 1 and 0.5 <= node.sleeps[0] <= 1.5
    assert len(server.requests_to(EQL)) == 3
    assert node.store.checkpoint(lua_hunt.id) == WINDOW_END
    assert sorted(node.notifier.sent) == sorted(summary.created)


@pytest.mark.parametrize("fault", ["timeout", "dropped"])
def test_search_timeouts_leave_the_checkpoint_and_the_next_run_finds_everything(
    server: EsTestServer, es: Elasticsearch, lua_hunt: Hunt, fault: str
) -> None:
    """Searches timing out (or dropped) fail the run; the checkpoint stays; the next run finds everything."""
    node = replica(es_settings(server.url, search={"retries": 1}, schedule={"max_catchup": "1d"}))
    checkpoint = ns(utc("2026-11-20T08:59:00Z"))  # an earlier run ended here
    node.store.set_checkpoint(lua_hunt.id, checkpoint)

    if fault == "timeout":  # every search is answered after the client gave up
        node.searcher.client = node.client.options(request_timeout=0.3)
        server.faults.slow(1.0, path_regex=EQL, times=None)
    else:
        server.faults.add(path_regex=EQL)  # the sequence query is answered...
        server.faults.drop(path_regex=EQL, times=None)  # ...the fallback's connections are dropped
    failed = node.runner.run_hunt(lua_hunt)
    assert failed.outcome == "failed" and "TransientSearchError" in failed.error
    assert ("ConnectionTimeout" if fault == "timeout" else "ConnectionError") in failed.error
    assert node.store.checkpoint(lua_hunt.id) == checkpoint
    assert stored_alerts(es) == [] and node.notifier.sent == []

    server.faults.clear()
    node.searcher.client = node.client
    again = node.runner.run_hunt(lua_hunt)
    assert again.outcome == "ok" and len(again.created) == 4
    assert again.windows == [Window(checkpoint - lua_hunt.overlap_ns, WINDOW_END)]
    assert node.store.checkpoint(lua_hunt.id) == WINDOW_END
    assert len(node.notifier.sent) == 4


def test_permanent_error_of_one_query_still_runs_the_other(lua_hunt: Hunt) -> None:
    """A query the cluster rejects (network.direction unmapped) is skipped; the fallback's alerts stay."""
    for bare in serve():
        with bare.client() as client:
            index_hits(
                client,
                [h for h in sample_hits() if "process" in h["_index"] or h["_index"] == AUDITBEAT_INDEX],
            )
        node = replica(es_settings(bare.url))
        summary = node.runner.run_hunt(lua_hunt)
        assert summary.outcome == "ok" and len(summary.created) == 3
        assert list(summary.query_errors) == ["sequence"]
        assert "Unknown column [network.direction]" in summary.query_errors["sequence"]
        assert node.store.checkpoint(lua_hunt.id) == WINDOW_END


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_shard_failures_hold_the_checkpoint_but_keep_the_healthy_shards_alerts(
    server: EsTestServer, es: Elasticsearch, lua_hunt: Hunt
) -> None:
    """Auditbeat's shards failing: the fallback's hits from the other indices become alerts (and
    notices) at once, the sequence's partial answer is dropped, and the checkpoint stays; once the
    shards are back the next run completes the window."""
    clock = Clock(NOW)
    node = replica(es_settings(server.url, search={"retries": 0}), clock=clock)
    server.faults.eql_shard_failures(["auditbeat-*"], times=None)
    first = node.runner.run_hunt(lua_hunt)
    assert first.outcome == "failed" and "shard failures" in first.error
    assert sorted(first.incomplete) == ["fallback", "sequence"]
    assert first.hits == {"sequence": 0, "fallback": 4}
    assert len(first.created) == 3 and sorted(node.notifier.sent) == sorted(first.created)
    assert node.store.checkpoint(lua_hunt.id) is None

    clock.now += timedelta(minutes=30)  # still within incomplete_retry (1 h): held again
    held = node.runner.run_hunt(lua_hunt)
    assert held.outcome == "failed" and held.created == []
    assert node.store.checkpoint(lua_hunt.id) is None

    server.faults.clear()
    clock.now += timedelta(minutes=5)
    whole = node.runner.run_hunt(lua_hunt)
    assert whole.outcome == "ok" and not whole.incomplete
    assert len(whole.created) == 1 and whole.updated == 1  # the Auditbeat alert; os.execute gains "sequence"
    assert node.store.checkpoint(lua_hunt.id) == ns(clock.now) - 60 * 1_000_000_000
    assert sorted(
        queries for queries, _ in identity({hit["_id"]: hit["_source"] for hit in stored_alerts(es)}).values()
    ) == [
        ["fallback"],
        ["fallback"],
        ["fallback"],
        ["fallback", "sequence"],
    ]


def test_shard_failures_that_persist_past_incomplete_retry_are_accepted_and_counted(
    server: EsTestServer, es: Elasticsearch, lua_hunt: Hunt
) -> None:
    """After incomplete_retry the hunt moves on with what the healthy shards returned, counts the
    window per query in hunter_incomplete_windows_total, and keeps up while the failure lasts. The
    streak's start is kept in the state index: a restarted process (or another replica) sees it."""
    clock = Clock(NOW)
    settings = es_settings(server.url, search={"retries": 0})
    first = replica(settings, clock=clock, owner="first-process")
    server.faults.eql_shard_failures(["auditbeat-*"], times=None)
    assert first.runner.run_hunt(lua_hunt).outcome == "failed"
    clock.now += timedelta(minutes=30)
    assert first.runner.run_hunt(lua_hunt).outcome == "failed"
    node = replica(settings, clock=clock, owner="after-a-restart")
    clock.now += timedelta(minutes=30)
    accepted = node.runner.run_hunt(lua_hunt)
    assert accepted.outcome == "ok" and sorted(accepted.incomplete) == ["fallback", "sequence"]
    assert node.store.checkpoint(lua_hunt.id) == ns(clock.now) - 60 * 1_000_000_000
    counted = node.runner.metrics.incomplete
    assert counted.labels(lua_hunt.id, "sequence")._value.get() == 1
    assert counted.labels(lua_hunt.id, "fallback")._value.get() == 1
    clock.now += timedelta(minutes=5)
    assert node.runner.run_hunt(lua_hunt).outcome == "ok"  # still failing: no new hold
    assert counted.labels(lua_hunt.id, "fallback")._value.get() == 2
    assert len(stored_alerts(es)) == 3
    assert len(state_docs(es, "incomplete")) == 1

    server.faults.clear()  # whole again: the streak ends, so a later failure is held anew
    clock.now += timedelta(minutes=5)
    assert node.runner.run_hunt(lua_hunt).outcome == "ok"
    assert state_docs(es, "incomplete") == []
    server.faults.eql_shard_failures(["auditbeat-*"], times=None)
    clock.now += timedelta(minutes=5)
    assert node.runner.run_hunt(lua_hunt).outcome == "failed"


def test_rejected_alert_write_fails_the_run_and_the_next_run_completes_it(
    server: EsTestServer, es: Elasticsearch, lua_hunt: Hunt
) -> None:
    """A bulk item refused with 400 fails the run (checkpoint kept); the rerun writes it; one notice each."""
    node = replica(es_settings(server.url))
    server.faults.bulk_failures({})  # the notices are recorded...
    server.faults.bulk_failures({0: (400, "mapper_parsing_exception")})  # ...one alert is refused
    failed = node.runner.run_hunt(lua_hunt)
    assert failed.outcome == "failed" and "mapper_parsing_exception" in failed.error
    assert node.store.checkpoint(lua_hunt.id) is None
    assert len(stored_alerts(es)) == 3 and node.notifier.sent == []
    again = node.runner.run_hunt(lua_hunt)
    assert again.outcome == "ok" and len(again.created) == 1
    assert_once_each(es, node)


def test_unreachable_cluster_fails_run_and_alerts_with_one_line(
    server: EsTestServer,
    es_env: dict[str, str],
    config: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the cluster down, ``run --once`` and ``alerts`` exit 1 with a one-line reason."""
    monkeypatch.setenv("HUNTER_SEARCH__RETRIES", "0")
    server.stop()
    assert run_once(config) == 1
    assert "hunter: get index template: ConnectionError" in capsys.readouterr().err
    assert main(["alerts", "--config", str(config)]) == 1
    assert "hunter: search logs-hunter.alerts-default: ConnectionError" in capsys.readouterr().err


# ---- two replicas, one cluster ----------------------------------------------------------------------


def assert_once_each(es: Elasticsearch, *replicas: Replica, alerts: int = 4) -> None:
    """One alert per finding, one notice per alert, every notice delivered exactly once."""
    hits = stored_alerts(es)
    ids = sorted(hit["_id"] for hit in hits)
    assert len(ids) == len(set(ids)) == alerts
    notices = state_docs(es, "notice")
    assert sorted(n["alert_id"] for n in notices) == ids
    assert {n["status"] for n in notices} == {"sent"}
    delivered = [alert_id for node in replicas for alert_id in node.notifier.sent]
    assert sorted(delivered) == ids


def search_and_store(node: Replica, hunt: Hunt, results: list[QueryResult]) -> list[str]:
    """Store one window's results as a runner does, and deliver; the ids created."""
    saved = node.runner.store_findings(hunt, results, WINDOW, NOW, RunSummary(hunt.id))
    node.runner.deliver(hunt_id=hunt.id)
    return list(saved.created)


def test_two_replicas_one_after_the_other_on_the_same_window(
    server: EsTestServer, es: Elasticsearch, lua_hunt: Hunt
) -> None:
    """The second replica storing the same window's findings finds the first one's alerts: nothing new."""
    settings = es_settings(server.url)
    a, b = replica(settings, owner="a"), replica(settings, owner="b")
    assert len(search_and_store(a, lua_hunt, a.searcher.search(lua_hunt, WINDOW))) == 4
    assert search_and_store(b, lua_hunt, b.searcher.search(lua_hunt, WINDOW)) == []
    assert b.notifier.sent == []
    assert_once_each(es, a, b)


def test_two_replicas_racing_on_the_same_window(
    server: EsTestServer, es: Elasticsearch, lua_hunt: Hunt
) -> None:
    """Both replicas search and look alerts up before either stores: still one alert and notice each."""
    settings = es_settings(server.url)
    a, b = replica(settings, owner="a"), replica(settings, owner="b")
    found_a = a.searcher.search(lua_hunt, WINDOW)
    found_b = b.searcher.search(lua_hunt, WINDOW)
    created_b = b.runner.alert_documents(
        lua_hunt, findings(lua_hunt, found_b), WINDOW, NOW, RunSummary("x")
    ).created
    assert len(created_b) == 4  # b has seen no alert yet
    assert len(search_and_store(a, lua_hunt, found_a)) == 4
    assert b.store.save(lua_hunt.id, created_b, []).created == ()  # every create is a 409: a made them
    b.runner.deliver(hunt_id=lua_hunt.id)
    assert_once_each(es, a, b)


class OtherWritesFirst:
    """b's store, except that just before b's first save another replica stores its findings."""

    def __init__(self, store: Any, before_first_save: Any) -> None:
        self.store = store
        self.before_first_save = before_first_save

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def save(self, hunt_id: str, created: Any, updated: Any, **options: Any) -> Any:
        if self.before_first_save is not None:
            self.before_first_save, run = None, self.before_first_save
            run()
        return self.store.save(hunt_id, created, updated, **options)


def test_replica_losing_a_create_race_merges_what_it_found_into_the_winners_alert(
    server: EsTestServer, es: Elasticsearch, lua_hunt: Hunt
) -> None:
    """b looked the alert up (absent), a then created it from the fallback, so b's create of it with
    the sequence is a 409: b reads a's alert and adds the sequence to it, not dropping what it found."""
    settings = es_settings(server.url)
    a, b = replica(settings, owner="a"), replica(settings, owner="b")
    sequence_results = [r for r in b.searcher.search(lua_hunt, WINDOW) if r.query == "sequence"]
    fallback_results = [r for r in a.searcher.search(lua_hunt, WINDOW) if r.query == "fallback"]
    created_by_a: list[str] = []
    b.runner.store = OtherWritesFirst(
        b.store, lambda: created_by_a.extend(search_and_store(a, lua_hunt, fallback_results))
    )
    saved = b.runner.store_findings(lua_hunt, sequence_results, WINDOW, NOW, RunSummary(lua_hunt.id))
    assert len(created_by_a) == 4
    assert saved.created == () and len(saved.updated) == 1  # the 409, then the merge
    alerts = {hit["_id"]: hit["_source"] for hit in stored_alerts(es)}
    assert len(alerts) == 4
    assert alerts[saved.updated[0]]["hunter"]["queries"] == ["fallback", "sequence"]
    b.runner.deliver(hunt_id=lua_hunt.id)
    assert_once_each(es, a, b)


class TakeOverMidRun:
    """A searcher that, after searching, lets another replica run the hunt (the first one's lease expired)."""

    def __init__(self, inner: Replica, other: Replica, hunt: Hunt) -> None:
        self.inner = inner
        self.other = other
        self.hunt = hunt
        self.summary: RunSummary | None = None

    def search(self, hunt: Hunt, window: Window | None) -> list[QueryResult]:
        """Search, then run the other replica to completion before returning."""
        results = self.inner.searcher.search(hunt, window)
        self.summary = self.other.runner.run_hunt(self.hunt, now=NOW + timedelta(minutes=11))
        return results


def test_replica_taking_over_an_expired_lease_mid_run(
    server: EsTestServer, es: Elasticsearch, lua_hunt: Hunt
) -> None:
    """B takes over while A (lease expired) is between search and store: no duplicate alert or notice."""
    settings = es_settings(server.url, elasticsearch={"lease": "10m"})
    b = replica(settings, owner="b", clock=lambda: NOW + timedelta(minutes=11))
    probe = replica(settings, owner="a")
    takeover = TakeOverMidRun(probe, b, lua_hunt)
    a = replica(settings, owner="a", searcher=takeover)
    summary_a = a.runner.run_hunt(lua_hunt)
    summary_b = takeover.summary
    assert summary_b is not None and summary_b.outcome == "ok" and len(summary_b.created) == 4
    assert summary_a.outcome == "ok" and summary_a.created == []
    assert_once_each(es, a, b)
    assert b.store.checkpoint(lua_hunt.id) == ns(utc("2026-11-20T15:10:00Z"))  # b's end; never moved back


def test_lease_held_by_another_replica_skips_the_run(
    server: EsTestServer, es: Elasticsearch, lua_hunt: Hunt
) -> None:
    """While one replica holds an unexpired lease the other skips the hunt and searches nothing."""
    settings = es_settings(server.url)
    a, b = replica(settings, owner="a"), replica(settings, owner="b")
    assert a.store.acquire_lease(lua_hunt.id, "a", ns(NOW), 10 * 60 * 1_000_000_000)
    skipped = b.runner.run_hunt(lua_hunt)
    assert skipped.outcome == "skipped" and not server.requests_to(EQL)
    assert b.store.checkpoint(lua_hunt.id) is None
    (lease,) = state_docs(es, "lease")
    assert lease["owner"] == "a"
