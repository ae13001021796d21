"""The service: job settings, no overlapping runs, health, metrics, catch-up, backfill, SIGTERM."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog

from hunter.config import Settings, load_settings
from hunter.hunts import Hunt, load_hunts
from hunter.results import QueryResult, Searcher, Window
from hunter.runner import RunSummary
from hunter.search.local import LocalSearcher
from hunter.service import HealthState, HuntService, Runtime, build_runtime
from tests.support.es_server import EsTestServer
from tests.support.manual_scheduler import ManualScheduler, clock_apscheduler

ROOT = Path(__file__).resolve().parents[1]


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def hunt() -> Hunt:
    """The T1059.011 hunt from queries/."""
    return load_hunts(ROOT / "queries")[0]


def _settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("HUNTER_EMBEDDED__STATE", str(tmp_path / "state.sqlite3"))
    monkeypatch.setenv("HUNTER_SERVICE__PORT", "0")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return load_settings()


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@contextmanager
def _scheduled(
    runtime: Runtime, clock: Clock
) -> Iterator[tuple[HuntService, ManualScheduler, list[RunSummary]]]:
    """The service's jobs on a real APScheduler that the test ticks with its clock; every run's summary."""
    scheduler = ManualScheduler()
    service = HuntService(runtime, clock=clock, install_signals=False, scheduler=scheduler)
    summaries: list[RunSummary] = []
    run_hunt = runtime.runner.run_hunt

    def recording(hunt: Hunt, *, now: datetime | None = None) -> RunSummary:
        summary = run_hunt(hunt, now=now)
        summaries.append(summary)
        return summary

    runtime.runner.run_hunt = recording  # type: ignore[method-assign]
    with clock_apscheduler(clock):
        service.add_jobs()
        scheduler.start()
        try:
            yield service, scheduler, summaries
        finally:
            scheduler.shutdown(wait=True)
            service.stopping.set()
            service.close_runs()


def test_job_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hunt: Hunt) -> None:
    """Over local files a hunt's job is its schedule's (``every 300s``): coalesced, at most one
    instance, the configured misfire grace and interval."""
    runtime = build_runtime(_settings(tmp_path, monkeypatch), [hunt])
    clock = Clock(datetime(2026, 11, 20, 12, tzinfo=UTC))
    try:
        with _scheduled(runtime, clock) as (_service, scheduler, _summaries):
            (job,) = scheduler.get_jobs()
            assert job.id == "every 300s"
            assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, 60)
            assert job.trigger.interval == timedelta(minutes=5)
            assert job.trigger.jitter == 5
            assert job.next_run_time == clock.now  # the first run starts right away
    finally:
        runtime.close()


def test_a_cron_hunt_runs_at_its_crontab_times(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hunt: Hunt
) -> None:
    """A hunt with cron = "0 * * * *" runs at start, then on the hour (with the configured jitter);
    /healthz gives it two hours, not two of the default 5-minute intervals."""
    hourly = dataclasses.replace(hunt, cron="0 * * * *", interval_ns=3600 * 1_000_000_000)
    runtime = build_runtime(_settings(tmp_path, monkeypatch, HUNTER_SCHEDULE__JITTER="0s"), [hourly])
    clock = Clock(datetime(2026, 11, 20, 10, 20, tzinfo=UTC))
    try:
        with _scheduled(runtime, clock) as (service, scheduler, summaries):
            scheduler.tick()
            scheduler.wait_finished(1)
            (job,) = scheduler.get_jobs()
            assert job.next_run_time == datetime(2026, 11, 20, 11, tzinfo=UTC)
            clock.advance(minutes=39)
            scheduler.tick()  # 10:59: nothing due
            clock.advance(minutes=1, seconds=5)
            scheduler.tick()  # 11:00:05: the 11:00 run
            scheduler.wait_finished(2)
            assert len(summaries) == 2 and [s.outcome for s in summaries] == ["ok", "ok"]
            assert service.health.status(clock.now + timedelta(minutes=110))[0]
            assert not service.health.status(clock.now + timedelta(minutes=130))[0]
    finally:
        runtime.close()


def test_outage_coalesces_into_one_run_then_catches_up_in_bounded_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hunt: Hunt
) -> None:
    """A 2 h stop (24 missed fire times) gives one run, not 24; the gap is then worked off oldest
    first, at most windows_per_tick interval chunks per run, every finding once; a run later than
    the misfire grace is skipped and the next one searches from the checkpoint, losing nothing."""
    start = datetime(2026, 11, 20, 10, tzinfo=UTC)
    events_file = tmp_path / "events.ndjson"
    lines = _lua_events(start + timedelta(minutes=3), 30, timedelta(minutes=4))
    assert lines[0]["_source"]["process"]["name"] == "lua"
    late = _lua_events(start + timedelta(hours=2, minutes=29), 1, timedelta(0))  # in the missed run's range
    late[0]["_source"]["host"]["id"] = late[0]["_source"]["process"]["entity_id"] = late[0]["_id"] = "late"
    events_file.write_text("".join(json.dumps(line) + "\n" for line in lines + late))
    settings = _settings(
        tmp_path,
        monkeypatch,
        HUNTER_EMBEDDED__EVENTS=json.dumps([str(events_file)]),
        HUNTER_SCHEDULE__JITTER="0s",
    )
    clock = Clock(start)
    runtime = build_runtime(settings, [hunt], clock=clock)
    try:
        with _scheduled(runtime, clock) as (_service, scheduler, summaries):
            scheduler.tick()  # 10:00:00, the first run
            scheduler.wait_finished(1)
            clock.advance(minutes=5, seconds=30)
            scheduler.tick()  # 10:05:30, the 10:05 run
            scheduler.wait_finished(2)
            assert [s.outcome for s in summaries] == ["ok", "ok"]

            clock.advance(hours=2)  # stopped until 12:05:30: fire times 10:10 ... 12:05 were missed
            scheduler.tick()
            scheduler.wait_finished(3)
            assert len(scheduler.submitted) == 3
            assert len(scheduler.submitted[-1][1]) == 1  # coalesced: one run for 24 fire times
            assert len(summaries[2].windows) == settings.schedule.windows_per_tick
            assert summaries[2].gap_ns > 0

            while summaries[-1].gap_ns:
                clock.advance(minutes=5)
                scheduler.tick()
                scheduler.wait_finished(len(summaries) + 1)
            catch_up = summaries[2:]
            assert all(len(s.windows) <= settings.schedule.windows_per_tick for s in catch_up)
            assert [s.gap_ns for s in catch_up] == sorted((s.gap_ns for s in catch_up), reverse=True)
            assert len(scheduler.submitted) == len(summaries)  # one run per tick, never more

            checkpoint = runtime.store.checkpoint(hunt.id)
            clock.advance(minutes=7)  # this fire time is 2 minutes old when processed: missed
            scheduler.tick()
            scheduler.wait_finished(len(summaries) + 1)
            assert scheduler.missed == ["every 300s"]
            assert runtime.store.checkpoint(hunt.id) == checkpoint
            clock.advance(minutes=3)  # the next fire time, on time
            scheduler.tick()
            scheduler.wait_finished(len(summaries) + 2)
            assert checkpoint is not None and summaries[-1].windows[0].start_ns <= checkpoint
        created = [alert for summary in summaries for alert in summary.created]
        assert len(created) == len(set(created)) == 31
        assert sum(1 for _ in runtime.store.all()) == 31
        assert not scheduler.errors
    finally:
        runtime.close()


class _BlockingSearcher:
    """A searcher that waits for the test before answering (to hold a run in flight)."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def search(self, hunt: Hunt, window: Window | None) -> list[QueryResult]:
        self.entered.set()
        assert self.release.wait(10)
        return [QueryResult(query.name) for query in hunt.queries]


def _next_tick(clock: Clock, scheduler: ManualScheduler, service: HuntService, jobs: int) -> None:
    """Five minutes on, the due jobs fired (``jobs`` in all so far) and their queued runs ended."""
    clock.advance(minutes=5)
    scheduler.tick()
    scheduler.wait_finished(jobs)
    assert service.wait_for_runs(10)


def test_a_due_run_is_skipped_while_the_previous_one_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hunt: Hunt
) -> None:
    """A fire time that comes while the hunt's run is still going is skipped (logged), not queued
    behind it; the next fire time after the run ends runs normally. (A searcher that cannot share
    passes, as Elasticsearch's: its runs are queued to the service's pool.)"""
    settings = _settings(tmp_path, monkeypatch, HUNTER_SCHEDULE__JITTER="0s")
    clock = Clock(datetime(2026, 11, 20, 15, tzinfo=UTC))
    runtime = build_runtime(settings, [hunt], clock=clock)
    searcher = _BlockingSearcher()
    runtime.runner.searcher = searcher
    try:
        with _scheduled(runtime, clock) as (service, scheduler, summaries):
            scheduler.tick()
            assert searcher.entered.wait(10)
            clock.advance(minutes=5, seconds=10)
            with structlog.testing.capture_logs() as logs:
                scheduler.tick()  # due while the first run is in flight
                scheduler.wait_finished(2)
            (skipped,) = [entry for entry in logs if entry["event"].startswith("previous run still going")]
            assert skipped["hunt"] == hunt.id
            searcher.release.set()
            assert service.wait_for_runs(10)
            _next_tick(clock, scheduler, service, 3)
            assert [s.outcome for s in summaries] == ["ok", "ok"]
    finally:
        searcher.release.set()
        runtime.close()


def test_a_hunt_never_runs_twice_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hunt: Hunt) -> None:
    """Outside the scheduler too (a second trigger in the same process), a hunt's runs never overlap."""
    runtime = build_runtime(_settings(tmp_path, monkeypatch), [hunt])
    searcher = _BlockingSearcher()
    runtime.runner.searcher = searcher
    service = HuntService(runtime, install_signals=False)
    results: list[RunSummary | None] = []
    first = threading.Thread(target=lambda: results.append(service.run_hunt(hunt)))
    first.start()
    try:
        assert searcher.entered.wait(10)
        assert service.run_hunt(hunt) is None
    finally:
        searcher.release.set()
        first.join(10)
        runtime.close()
    assert results and results[0] is not None and results[0].outcome == "ok"


def test_health_reports_each_hunt_within_two_intervals() -> None:
    """Healthy while every hunt succeeded within two intervals; otherwise 503 reasons name the hunt."""
    start = datetime(2026, 11, 20, 12, tzinfo=UTC)
    health = HealthState(started=start, intervals={"a": timedelta(minutes=5)})
    assert health.status(start + timedelta(minutes=10)) == (True, [])
    health.record(RunSummary("a", outcome="failed", error="TransientSearchError: boom"), start)
    ok, problems = health.status(start + timedelta(minutes=10, seconds=1))
    assert not ok
    assert problems == ["a: no successful run for 601s (TransientSearchError: boom)"]
    health.record(RunSummary("a"), start + timedelta(minutes=11))
    assert health.status(start + timedelta(minutes=12))[0]
    # a standby replica whose runs are skipped (another replica holds the lease) stays healthy
    health.record(RunSummary("a", outcome="skipped"), start + timedelta(minutes=30))
    assert health.status(start + timedelta(minutes=35))[0]


def test_health_forgets_a_removed_hunt_even_if_its_last_run_ends_later() -> None:
    """A run that ends after a reload removed its hunt is not remembered: the hunt added back later
    is judged from then, not by that run (it used to answer 503 until its first run)."""
    start = datetime(2026, 11, 20, 12, tzinfo=UTC)
    health = HealthState(started=start, intervals={"a": timedelta(minutes=5)})
    health.forget("a")
    health.record(RunSummary("a"), start + timedelta(minutes=1))  # the run going during the reload
    health.record(RunSummary("a", outcome="failed", error="boom"), start + timedelta(minutes=2))
    back = start + timedelta(hours=1)
    health.watch("a", timedelta(minutes=5), back)
    assert health.status(back + timedelta(minutes=9)) == (True, [])
    assert health.status(back + timedelta(minutes=11))[1] == [
        "a: no successful run for 660s (no successful run yet)"
    ]


def test_healthz_turns_503_without_elasticsearch_and_200_when_it_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hunt: Hunt, es_samples: EsTestServer
) -> None:
    """/healthz follows the runs: 503 with the reason once the cluster is gone two intervals, 200 after."""
    es = es_samples
    settings = _settings(
        tmp_path,
        monkeypatch,
        HUNTER_MODE="elasticsearch",
        HUNTER_ELASTICSEARCH__HOSTS=json.dumps([es.url]),
        HUNTER_ELASTICSEARCH__REQUEST_TIMEOUT="2",
        HUNTER_SEARCH__RETRIES="0",
    )
    clock = Clock(datetime(2026, 11, 20, 15, tzinfo=UTC))
    runtime = build_runtime(settings, [hunt], clock=clock)
    service = HuntService(runtime, clock=clock, install_signals=False)
    server = service.start_http()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        summary = service.run_hunt(hunt)
        assert summary is not None and summary.outcome == "ok"
        assert _get(f"{url}/healthz") == (200, "ok\n")
        es.stop()
        clock.advance(minutes=5)
        failed = service.run_hunt(hunt)
        assert failed is not None and failed.outcome == "failed"
        clock.advance(minutes=5, seconds=1)
        status, body = _get(f"{url}/healthz")
        assert status == 503
        assert body.startswith(f"{hunt.id}: no successful run for 601s (")
        es.start()
        clock.advance(minutes=1)
        again = service.run_hunt(hunt)
        assert again is not None and again.outcome == "ok"
        assert _get(f"{url}/healthz")[0] == 200
        status, metrics = _get(f"{url}/metrics")
        assert status == 200
        assert f'hunter_runs_total{{hunt="{hunt.id}",outcome="failed"}} 1.0' in metrics
        assert f'hunter_alerts_total{{hunt="{hunt.id}",kind="new"}} 4.0' in metrics
    finally:
        server.shutdown()
        server.server_close()
        runtime.close()


def _lua_events(start: datetime, count: int, spacing: timedelta) -> list[dict[str, Any]]:
    """``count`` suspicious Lua starts (fallback matches), one per host, ``spacing`` apart."""
    template = json.loads(
        (ROOT / "samples" / "events" / "endpoint-linux-socket.ndjson").read_text().splitlines()[4]
    )
    events = []
    for n in range(count):
        moment = start + n * spacing
        hit = json.loads(json.dumps(template))
        source = hit["_source"]
        source["@timestamp"] = moment.isoformat().replace("+00:00", "Z")
        source["host"]["id"] = f"host-{n}"
        source["process"]["entity_id"] = f"lua-{n}"
        hit["_id"] = f"event-{n}"
        events.append(hit)
    return events


def test_backfill_can_be_rerun_and_leaves_the_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hunt: Hunt, capsys: pytest.CaptureFixture[str]
) -> None:
    """`hunter backfill` finds the sample alerts in chunks; a re-run adds nothing; no checkpoint moves."""
    from hunter.cli import main

    _settings(tmp_path, monkeypatch)
    args = ["backfill", "--hunt", hunt.id, "--start", "2026-11-20T08:00:00Z", "--end", "2026-11-20T16:00:00Z"]
    assert main(args) == 0
    assert main(args) == 0
    runtime = build_runtime(load_settings(), [hunt])
    try:
        alerts = list(runtime.store.all())
        assert len(alerts) == 4
        assert runtime.store.checkpoint(hunt.id) is None
        assert runtime.store.notice_counts()["sent"] == 4
    finally:
        runtime.close()
    assert capsys.readouterr().out.count("[ALERT]") == 4


def test_backfill_stops_at_shard_failures_and_a_rerun_completes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hunt: Hunt, es_samples: EsTestServer
) -> None:
    """Persistent shard failures stop a backfill with exit 1 (what the healthy shards gave is kept),
    never "ok" with the sequence missing; the re-run once the shards are back completes it."""
    from hunter.cli import main

    _settings(
        tmp_path,
        monkeypatch,
        HUNTER_MODE="elasticsearch",
        HUNTER_ELASTICSEARCH__HOSTS=json.dumps([es_samples.url]),
        HUNTER_SEARCH__RETRIES="0",
    )
    args = ["backfill", "--hunt", hunt.id, "--start", "2026-11-20T08:00:00Z", "--end", "2026-11-20T16:00:00Z"]
    es_samples.faults.eql_shard_failures(["auditbeat-*"], times=None)
    assert main(args) == 1
    es_samples.faults.clear()
    assert main(args) == 0
    with es_samples.client() as client:
        client.indices.refresh(index="logs-hunter.alerts-default")
        assert client.count(index="logs-hunter.alerts-default")["count"] == 4


def sigterm_during_search(
    es: EsTestServer, *, slow_s: float, request_timeout: str, slow_times: int | None = None, **env: str
) -> tuple[str, str, int]:
    """A real ``hunter run`` on the test server, sent SIGTERM the moment its first EQL search arrives
    (the first ``slow_times`` searches, or all, answered ``slow_s`` late); stdout, stderr, exit code."""
    arrived = threading.Event()
    original = es.record

    def record(request: Any) -> None:
        original(request)
        if "/_eql/search" in request.path:
            arrived.set()

    es.record = record  # type: ignore[method-assign]
    es.faults.slow(slow_s, path_regex=r"/_eql/search", times=slow_times)
    process = subprocess.Popen(
        [sys.executable, "-m", "hunter.cli", "run", "--now", "2026-11-20T15:00:00Z"],
        cwd=ROOT,
        env=dict(
            os.environ,
            HUNTER_MODE="elasticsearch",
            HUNTER_ELASTICSEARCH__HOSTS=json.dumps([es.url]),
            HUNTER_ELASTICSEARCH__REQUEST_TIMEOUT=request_timeout,
            HUNTER_SERVICE__PORT="0",
            HUNTER_SERVICE__LOG_FORMAT="json",
            **env,
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert arrived.wait(30), "the run never reached Elasticsearch"
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    return out, err, process.returncode


def test_sigterm_mid_run_finishes_the_run_and_exits_cleanly(
    tmp_path: Path, hunt: Hunt, es_samples: EsTestServer
) -> None:
    """A real `hunter run` stopped mid-run finishes that run (checkpoint, alerts consistent) and exits 0."""
    es = es_samples
    out, err, code = sigterm_during_search(es, slow_s=2.0, slow_times=1, request_timeout="10")
    assert code == 0, err
    assert '"hunter service stopped"' in err or "hunter service stopped" in err
    assert '"clean": true' in err
    with es.client() as client:
        checkpoint = client.get(index="hunter-state", id=f"checkpoint-{hunt.id}")["_source"]["end_ns"]
        assert checkpoint == int(datetime(2026, 11, 20, 14, 59, tzinfo=UTC).timestamp()) * 1_000_000_000
        assert client.count(index="logs-hunter.alerts-default")["count"] == 4
    assert out.count("[ALERT]") == 4


def test_sigterm_with_a_run_outlasting_the_shutdown_timeout_exits_at_the_timeout(
    tmp_path: Path, hunt: Hunt, es_samples: EsTestServer
) -> None:
    """A search answered long after SIGTERM: the process leaves at shutdown_timeout with exit 1 (not
    when the search ends), its checkpoint unmoved, so the restarted service searches that range again."""
    es = es_samples
    _out, err, code = sigterm_during_search(  # ends far sooner than the 120 s search
        es, slow_s=120.0, request_timeout="300", HUNTER_SERVICE__SHUTDOWN_TIMEOUT="1s"
    )
    assert code == 1, err
    assert "did not finish within the shutdown timeout" in err and '"clean": false' in err
    with es.client() as client:
        assert not client.exists(index="hunter-state", id=f"checkpoint-{hunt.id}")


def test_head_healthz_answers_like_get_without_a_body(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hunt: Hunt
) -> None:
    """HEAD /healthz (what load balancers send) gets GET's status and headers, and no body."""
    runtime = build_runtime(_settings(tmp_path, monkeypatch), [hunt])
    service = HuntService(runtime, install_signals=False)
    server = service.start_http()
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{server.server_address[1]}/healthz", method="HEAD"
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200
            assert response.headers["Content-Length"] == "3"
            assert response.read() == b""
    finally:
        server.shutdown()
        server.server_close()
        runtime.close()


def _hunt_file(folder: Path, hunt_id: str, interval: str = "5m", *, cron: str | None = None) -> None:
    text = (ROOT / "queries" / "t1059_011_lua.toml").read_text(encoding="utf-8")
    text = text.replace('id = "t1059_011_lua"', f'id = "{hunt_id}"').replace(
        'interval = "5m"', f'cron = "{cron}"' if cron else f'interval = "{interval}"'
    )
    (folder / f"{hunt_id}.toml").write_text(text, encoding="utf-8")


def test_reload_adds_removes_and_reschedules_jobs_and_keeps_them_on_a_bad_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGHUP's reload with a searcher that cannot share passes (as Elasticsearch's): the hunts are
    grouped again by schedule, a new hunt joins its schedule's job, a removed one leaves it, a
    changed interval moves a hunt to that schedule's job (new, with that interval); a bad hunt file
    is logged and the running set stays as it was."""
    from hunter.cli import _hunts
    from hunter.hunts import load_hunt_set

    folder = tmp_path / "hunts"
    folder.mkdir()
    _hunt_file(folder, "one")
    _hunt_file(folder, "two")
    settings = _settings(tmp_path, monkeypatch, HUNTER_QUERIES=str(folder))
    runtime = build_runtime(settings, load_hunt_set([folder]).hunts)
    runtime.runner.searcher = _SearchAlone(runtime.searcher)
    clock = Clock(datetime(2026, 11, 20, 12, tzinfo=UTC))

    def reload() -> tuple[Settings, list[Hunt]]:
        fresh = load_settings()
        return fresh, _hunts(fresh, argparse.Namespace(queries=None))

    try:
        with _scheduled(runtime, clock) as (service, scheduler, _summaries):
            service._load = reload
            (folder / "two.toml").unlink()
            _hunt_file(folder, "three")
            _hunt_file(folder, "one", interval="10m")
            with structlog.testing.capture_logs() as logs:
                assert service.reload()
            assert sorted(job.id for job in scheduler.get_jobs()) == ["every 300s", "every 600s"]
            assert scheduler.get_job("every 600s").trigger.interval == timedelta(minutes=10)
            groups = {key: [hunt.id for hunt in hunts] for key, hunts in service.groups.items()}
            assert groups == {"every 300s": ["three"], "every 600s": ["one"]}
            assert service.groups["every 600s"][0].interval_ns == 600 * 1_000_000_000
            assert sorted(service.health.intervals) == ["one", "three"]
            (done,) = [entry for entry in logs if entry["event"] == "reloaded settings and hunts"]
            assert (done["added"], done["removed"], done["changed"]) == (["three"], ["two"], ["one"])
            (folder / "broken.toml").write_text('id = "broken"\n', encoding="utf-8")
            with structlog.testing.capture_logs() as logs:
                assert not service.reload()
            assert sorted(job.id for job in scheduler.get_jobs()) == ["every 300s", "every 600s"]
            assert any(entry["event"].startswith("reload failed") for entry in logs)
    finally:
        runtime.close()


def test_sighup_reloads_a_running_service(tmp_path: Path) -> None:
    """A real `hunter run` re-reads its hunt files on SIGHUP (it used to die without a word)."""
    folder = tmp_path / "hunts"
    folder.mkdir()
    _hunt_file(folder, "one")
    env = dict(
        os.environ,
        HUNTER_QUERIES=str(folder),
        HUNTER_EMBEDDED__STATE=str(tmp_path / "state.sqlite3"),
        HUNTER_SERVICE__PORT="0",
        HUNTER_SERVICE__LOG_FORMAT="json",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "hunter.cli", "run", "--now", "2026-11-20T15:00:00Z"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    try:

        def wait_for(text: str) -> str:
            for line in process.stderr:  # type: ignore[union-attr]
                if text in line:
                    return line
            raise AssertionError(f"the service ended before logging {text!r}")

        wait_for('"hunter service started"')
        _hunt_file(folder, "two")
        process.send_signal(signal.SIGHUP)
        line = wait_for('"reloaded settings and hunts"')
        assert json.loads(line)["added"] == ["two"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.stderr.close()


def test_backfill_counts_findings_once_and_takes_a_chunk_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hunt: Hunt, capsys: pytest.CaptureFixture[str]
) -> None:
    """Backfill windows overlap by the hunt's maxspan: a finding seen by two of them counts once; the
    summary has real durations; --chunk sets the window length (a year in a few windows, not 100k)."""
    from hunter.cli import main

    _settings(tmp_path, monkeypatch)
    searched: list[Window] = []
    original = build_runtime

    def counting(*args: Any, **kwargs: Any) -> Runtime:
        runtime = original(*args, **kwargs)
        search = runtime.searcher.search

        def recording(hunt: Hunt, window: Window | None) -> list[QueryResult]:
            assert window is not None
            searched.append(window)
            return search(hunt, window)

        runtime.searcher.search = recording  # type: ignore[method-assign]
        return runtime

    monkeypatch.setattr("hunter.service.build_runtime", counting)
    args = ["backfill", "--hunt", hunt.id, "--start", "2026-01-01T00:00:00Z", "--end", "2026-12-31T00:00:00Z"]
    assert main([*args, "--chunk", "30d"]) == 0
    assert len(searched) == 13
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    (summary,) = [entry for entry in lines if entry["event"] == "backfill"]
    assert summary["findings"] == 4 and summary["alerts_new"] == 4
    assert summary["total_s"] > 0 and summary["search_s"] > 0
    searched.clear()
    short = ["--start", "2026-11-20T09:14:00Z", "--end", "2026-11-20T09:16:00Z", "--chunk", "1m"]
    assert main(["backfill", "--hunt", hunt.id, *short]) == 0
    assert len(searched) == 2  # overlapping by the 5-minute maxspan, both see the os.execute chain
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    (again,) = [entry for entry in lines if entry["event"] == "backfill"]
    assert again["windows"] == 2 and again["findings"] == 1


def test_reload_applies_misfire_grace_and_jitter_to_every_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """[schedule] misfire_grace and jitter reach existing jobs on a reload, not only new ones."""
    from hunter.cli import _hunts
    from hunter.hunts import load_hunt_set

    folder = tmp_path / "hunts"
    folder.mkdir()
    _hunt_file(folder, "one")
    settings = _settings(tmp_path, monkeypatch, HUNTER_QUERIES=str(folder))
    runtime = build_runtime(settings, load_hunt_set([folder]).hunts)
    clock = Clock(datetime(2026, 11, 20, 12, tzinfo=UTC))
    try:
        with _scheduled(runtime, clock) as (service, scheduler, _summaries):
            monkeypatch.setenv("HUNTER_SCHEDULE__MISFIRE_GRACE", "2m")
            monkeypatch.setenv("HUNTER_SCHEDULE__JITTER", "9s")
            service._load = lambda: (
                load_settings(),
                _hunts(load_settings(), argparse.Namespace(queries=None)),
            )
            assert service.reload()
            job = scheduler.get_job("every 300s")
            assert (job.misfire_grace_time, job.trigger.jitter) == (120, 9)
    finally:
        runtime.close()


def test_a_taken_port_is_a_one_line_startup_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hunt: Hunt
) -> None:
    """The health port already in use stops the service with a ConfigError naming it (a traceback before)."""
    import socket

    from hunter.errors import ConfigError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        runtime = build_runtime(_settings(tmp_path, monkeypatch, HUNTER_SERVICE__PORT=str(port)), [hunt])
        try:
            with pytest.raises(ConfigError, match=rf"service.host/port 127.0.0.1:{port}: cannot listen"):
                HuntService(runtime, install_signals=False).start_http()
        finally:
            runtime.close()


# ---- one pass over the files per schedule --------------------------------------------------------


class _SearchAlone:
    """A searcher that cannot share passes (as Elasticsearch's): only ``search``, here over local files."""

    def __init__(self, inner: Searcher) -> None:
        self.inner = inner

    def search(self, hunt: Hunt, window: Window | None) -> list[QueryResult]:
        return self.inner.search(hunt, window)


class _Reads:
    """Counts the reads of a runtime's event files: every pass over them, shared or one hunt's, is one."""

    def __init__(self, runtime: Runtime) -> None:
        assert isinstance(runtime.searcher, LocalSearcher)
        self.count = 0
        self.lock = threading.Lock()
        files = runtime.searcher.files
        for name in ("hits_by_time", "hits"):
            setattr(files, name, self._counting(getattr(files, name)))

    def _counting(self, read: Any) -> Any:
        def counting(*args: Any, **kwargs: Any) -> Any:
            with self.lock:
                self.count += 1
            return read(*args, **kwargs)

        return counting

    def take(self) -> int:
        """The reads since the last call."""
        with self.lock:
            count, self.count = self.count, 0
        return count


def _write_lua_events(path: Path, start: datetime) -> Path:
    """30 Lua starts from ``start`` + 3 minutes, 4 minutes apart, one per host."""
    lines = _lua_events(start + timedelta(minutes=3), 30, timedelta(minutes=4))
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def _alert_documents(runtime: Runtime) -> list[str]:
    """Every stored alert document, but for ``event.ingested`` (the real time it was written)."""
    documents = []
    for doc in runtime.store.all():
        doc["event"].pop("ingested")
        documents.append(json.dumps(doc, sort_keys=True))
    return sorted(documents)


def test_hunts_of_one_schedule_read_the_files_once_per_tick(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hunt: Hunt
) -> None:
    """Over local files the hunts due at the same tick share one read of the files: one job per
    schedule (a hunt of another interval has its own), one read per job per tick (not one per hunt),
    and the same alert documents and checkpoints as each hunt run on its own at those moments."""
    start = datetime(2026, 11, 20, 10, tzinfo=UTC)
    env = {
        "HUNTER_EMBEDDED__EVENTS": json.dumps([str(_write_lua_events(tmp_path / "events.ndjson", start))]),
        "HUNTER_SCHEDULE__JITTER": "0s",
    }
    every_5m = [dataclasses.replace(hunt, id=hunt_id) for hunt_id in ("a", "b", "c")]
    every_10m = dataclasses.replace(hunt, id="d", interval_ns=600 * 1_000_000_000)
    hunts = [every_5m[0], every_10m, every_5m[1], every_5m[2]]  # the file order mixes the schedules
    clock = Clock(start)
    runtime = build_runtime(_settings(tmp_path, monkeypatch, **env), hunts, clock=clock)
    alone = build_runtime(
        _settings(tmp_path, monkeypatch, HUNTER_EMBEDDED__STATE=str(tmp_path / "alone.sqlite3"), **env),
        hunts,
        clock=clock,
    )
    reads, alone_reads = _Reads(runtime), _Reads(alone)
    ticks = [start, start + timedelta(minutes=5), start + timedelta(minutes=10)]
    try:
        with _scheduled(runtime, clock) as (service, scheduler, summaries):
            per_tick = []
            for moment in ticks:
                clock.now = moment
                scheduler.tick()
                scheduler.wait_finished(len(scheduler.submitted))
                per_tick.append(reads.take())
            assert per_tick == [2, 1, 2]  # each hunt reading the files itself: 4, 3, 4
            assert sorted(job.id for job in scheduler.get_jobs()) == ["every 300s", "every 600s"]
            assert {group: [h.id for h in members] for group, members in service.groups.items()} == {
                "every 300s": ["a", "b", "c"],
                "every 600s": ["d"],
            }
            assert Counter(s.hunt_id for s in summaries) == {"a": 3, "b": 3, "c": 3, "d": 2}
            assert all(s.outcome == "ok" for s in summaries)
            assert not scheduler.errors
        for moment in ticks:
            for each in hunts:
                if each.id != "d" or moment != ticks[1]:
                    assert alone.runner.run_hunt(each, now=moment).outcome == "ok"
        assert alone_reads.take() == 11
        documents = _alert_documents(runtime)
        assert len(documents) == 8  # two Lua starts before 10:09 for each of the four hunts
        assert documents == _alert_documents(alone)
        for each in hunts:
            checkpoint = runtime.store.checkpoint(each.id)
            assert checkpoint is not None and checkpoint == alone.store.checkpoint(each.id)
    finally:
        runtime.close()
        alone.close()


class _TickingClock(Clock):
    """A clock a second later at every look (as real time moves while a tick's hunts run)."""

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def _three_hunts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hunt: Hunt, start: datetime, clock: Any
) -> Runtime:
    """A runtime over Lua events from ``start`` with the hunt as ``a``, ``b`` and ``c`` (one schedule)."""
    events = _write_lua_events(tmp_path / "events.ndjson", start)
    settings = _settings(tmp_path, monkeypatch, HUNTER_EMBEDDED__EVENTS=json.dumps([str(events)]))
    hunts = [dataclasses.replace(hunt, id=hunt_id) for hunt_id in ("a", "b", "c")]
    return build_runtime(settings, hunts, clock=clock)


def test_a_schedule_plans_its_pass_and_its_runs_for_one_moment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hunt: Hunt
) -> None:
    """The shared pass and every run of the tick plan their windows for one moment of the runner's
    clock, so each run takes what the pass found, even though the clock moves while they run."""
    start = datetime(2026, 11, 20, 10, tzinfo=UTC)
    clock = _TickingClock(start + timedelta(hours=1))
    runtime = _three_hunts(tmp_path, monkeypatch, hunt, start, clock)
    reads = _Reads(runtime)
    try:
        service = HuntService(runtime, clock=clock, install_signals=False)
        summaries = service.run_group("every 300s")
        assert [s.hunt_id for s in summaries] == ["a", "b", "c"]
        assert all(s.outcome == "ok" and len(s.created) == 15 for s in summaries)
        assert len({tuple(s.windows) for s in summaries}) == 1
        assert reads.take() == 1
    finally:
        runtime.close()


class _HoldingSearcher:
    """The local searcher, except that one hunt's search on its own waits for the test."""

    def __init__(self, inner: LocalSearcher, hunt_id: str) -> None:
        self.inner = inner
        self.hunt_id = hunt_id
        self.entered = threading.Event()
        self.release = threading.Event()

    def search(self, hunt: Hunt, window: Window | None) -> list[QueryResult]:
        if hunt.id == self.hunt_id:
            self.entered.set()
            assert self.release.wait(10)
        return self.inner.search(hunt, window)

    def search_windows(self, searches: list[tuple[Hunt, Window | None]]) -> dict[str, list[QueryResult]]:
        return self.inner.search_windows(searches)


def test_a_hunt_still_running_is_skipped_by_its_schedule_and_the_others_share_the_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hunt: Hunt
) -> None:
    """A hunt whose previous run is still going when its schedule fires is skipped (logged), as its
    own job's run would be; the schedule's other hunts run, sharing one read; the running one ends ok."""
    start = datetime(2026, 11, 20, 10, tzinfo=UTC)
    clock = Clock(start + timedelta(hours=1))
    runtime = _three_hunts(tmp_path, monkeypatch, hunt, start, clock)
    assert isinstance(runtime.searcher, LocalSearcher)
    searcher = _HoldingSearcher(runtime.searcher, "a")
    runtime.runner.searcher = searcher
    reads = _Reads(runtime)
    service = HuntService(runtime, clock=clock, install_signals=False)
    results: list[RunSummary | None] = []
    first = threading.Thread(target=lambda: results.append(service.run_hunt(runtime.hunts[0])))
    first.start()
    try:
        assert searcher.entered.wait(10)
        with structlog.testing.capture_logs() as logs:
            summaries = service.run_group("every 300s")
        assert [s.hunt_id for s in summaries] == ["b", "c"]
        assert all(s.outcome == "ok" and s.created for s in summaries)
        assert reads.take() == 1
        (skipped,) = [entry for entry in logs if entry["event"].startswith("previous run still going")]
        assert skipped["hunt"] == "a"
        (shared,) = [entry for entry in logs if entry["event"] == "shared pass"]
        assert shared["hunts"] == 2  # the running hunt is left out of the pass too
    finally:
        searcher.release.set()
        first.join(10)
        runtime.close()
    assert results and results[0] is not None and results[0].outcome == "ok"


def test_a_crash_in_a_run_or_in_the_shared_pass_fails_nothing_else_of_its_schedule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hunt: Hunt
) -> None:
    """A shared pass that crashes leaves each hunt of the schedule to search on its own; a hunt's run
    that crashes is recorded as failed (health names it) and the next hunt still runs."""
    start = datetime(2026, 11, 20, 10, tzinfo=UTC)
    clock = Clock(start + timedelta(hours=1))
    runtime = _three_hunts(tmp_path, monkeypatch, hunt, start, clock)
    reads = _Reads(runtime)
    assert isinstance(runtime.searcher, LocalSearcher)

    search_windows = runtime.searcher.search_windows

    def broken_pass(searches: list[tuple[Hunt, Window | None]]) -> dict[str, list[QueryResult]]:
        if len(searches) > 1:  # a shared pass; one hunt's own search goes through here too
            raise RuntimeError("a bug in the shared pass")
        return search_windows(searches)

    monkeypatch.setattr(runtime.searcher, "search_windows", broken_pass)
    run_hunt = runtime.runner.run_hunt

    def crashing(each: Hunt, *, now: datetime | None = None) -> RunSummary:
        if each.id == "b":
            raise RuntimeError("a bug in b's run")
        return run_hunt(each, now=now)

    monkeypatch.setattr(runtime.runner, "run_hunt", crashing)
    try:
        service = HuntService(runtime, clock=clock, install_signals=False)
        with structlog.testing.capture_logs() as logs:
            summaries = service.run_group("every 300s")
        assert [(s.hunt_id, s.outcome) for s in summaries] == [("a", "ok"), ("b", "failed"), ("c", "ok")]
        assert summaries[1].error == "crashed (see the log)"
        assert len(summaries[0].created) == len(summaries[2].created) == 15
        assert service.health.last_error == {"b": "crashed (see the log)"}
        events_logged = [entry["event"] for entry in logs]
        assert "the shared pass crashed; each hunt searches on its own" in events_logged
        assert "hunt run crashed" in events_logged
        assert reads.take() == 2  # a's and c's own searches
    finally:
        runtime.close()


def _es_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, es: EsTestServer, concurrency: int
) -> Settings:
    return _settings(
        tmp_path,
        monkeypatch,
        HUNTER_MODE="elasticsearch",
        HUNTER_ELASTICSEARCH__HOSTS=json.dumps([es.url]),
        HUNTER_SCHEDULE__JITTER="0s",
        HUNTER_SCHEDULE__CONCURRENCY=str(concurrency),
    )


def test_elasticsearch_mode_runs_every_hunt_of_a_tick_a_few_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hunt: Hunt, es_samples: EsTestServer
) -> None:
    """Against Elasticsearch each schedule has one job too, and a tick queues every one of its hunts
    to the service's one pool: ``[schedule] concurrency`` runs at a time across all schedules, each
    searching the cluster itself. (One job per hunt queued a library's runs behind APScheduler's ten
    threads: those that waited past the misfire grace were skipped, the same ones tick after tick.)"""
    settings = _es_settings(tmp_path, monkeypatch, es_samples, 3)
    every_5m = [dataclasses.replace(hunt, id=f"a{number}") for number in range(6)]
    every_10m = [dataclasses.replace(hunt, id=f"b{number}", interval_ns=600 * 10**9) for number in range(6)]
    clock = Clock(datetime(2026, 11, 20, 15, tzinfo=UTC))
    runtime = build_runtime(settings, every_5m + every_10m, clock=clock)
    together = threading.Barrier(3, timeout=10)  # breaks unless three runs are going at once
    running: list[int] = [0, 0]  # now, most
    lock = threading.Lock()
    run_hunt = runtime.runner.run_hunt

    def counted(each: Hunt, *, now: datetime | None = None) -> RunSummary:
        with lock:
            running[0] += 1
            running[1] = max(running)
        try:
            together.wait()
            return run_hunt(each, now=now)
        finally:
            with lock:
                running[0] -= 1

    runtime.runner.run_hunt = counted  # type: ignore[method-assign,assignment]
    try:
        with _scheduled(runtime, clock) as (service, scheduler, summaries):
            assert sorted((job.id, job.name) for job in scheduler.get_jobs()) == [
                ("every 300s", "6 hunts every 300s"),
                ("every 600s", "6 hunts every 600s"),
            ]
            scheduler.tick()
            scheduler.wait_finished(2)
            assert service.wait_for_runs(10)
            assert sorted((s.hunt_id, s.outcome, len(s.created)) for s in summaries) == [
                (each.id, "ok", 4) for each in every_5m + every_10m
            ]
            assert running[1] == 3  # three at once, across both schedules
    finally:
        runtime.close()


def test_elasticsearch_mode_a_slow_hunt_delays_only_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hunt: Hunt, es_samples: EsTestServer
) -> None:
    """A run still going at the next tick is skipped there (logged), and the schedule's other hunts
    run at that tick as usual; it is queued again once it has ended."""
    clock = Clock(datetime(2026, 11, 20, 15, tzinfo=UTC))
    hunts = [dataclasses.replace(hunt, id=f"h{number}") for number in range(3)]
    runtime = build_runtime(_es_settings(tmp_path, monkeypatch, es_samples, 2), hunts, clock=clock)
    entered, release = threading.Event(), threading.Event()
    run_hunt = runtime.runner.run_hunt

    def slow_h0(each: Hunt, *, now: datetime | None = None) -> RunSummary:
        if each.id == "h0" and not release.is_set():
            entered.set()
            assert release.wait(10)
        return run_hunt(each, now=now)

    runtime.runner.run_hunt = slow_h0  # type: ignore[method-assign,assignment]
    try:
        with _scheduled(runtime, clock) as (service, scheduler, summaries):

            def only_h0_left() -> bool:  # the queue as it is once the other runs have ended
                with service._queue_lock:
                    return service._queue_lock.wait_for(lambda: service._queued == {"h0"}, 10)

            try:
                scheduler.tick()
                scheduler.wait_finished(1)
                assert entered.wait(10)
                assert only_h0_left()  # h1 and h2 done
                clock.advance(minutes=5)
                with structlog.testing.capture_logs() as logs:
                    scheduler.tick()
                    scheduler.wait_finished(2)
                (skipped,) = [
                    entry for entry in logs if entry["event"].startswith("previous run still going")
                ]
                assert skipped["hunt"] == "h0"
                assert only_h0_left()  # and again, h0 held
                assert sorted(s.hunt_id for s in summaries) == ["h1", "h1", "h2", "h2"]
                assert runtime.metrics.runs_queued._value.get() == 1
            finally:
                release.set()
                assert service.wait_for_runs(10)
            assert sorted(s.hunt_id for s in summaries) == ["h0", "h1", "h1", "h2", "h2"]
            _next_tick(clock, scheduler, service, 3)
            assert [s.hunt_id for s in summaries].count("h0") == 2
    finally:
        release.set()
        runtime.close()


def test_elasticsearch_mode_a_queued_run_takes_the_hunt_as_reloaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hunt: Hunt, es_samples: EsTestServer
) -> None:
    """A run queued before a reload runs the hunt as reloaded: not at all when it was removed or
    disabled, with its new definition when it was changed."""
    clock = Clock(datetime(2026, 11, 20, 15, tzinfo=UTC))
    settings = _es_settings(tmp_path, monkeypatch, es_samples, 1)
    hunts = [dataclasses.replace(hunt, id=f"h{number}") for number in range(4)]
    runtime = build_runtime(settings, hunts, clock=clock)
    entered, release = threading.Event(), threading.Event()
    run_hunt = runtime.runner.run_hunt
    ran: list[tuple[str, str]] = []

    def held_h0(each: Hunt, *, now: datetime | None = None) -> RunSummary:
        if each.id == "h0":
            entered.set()
            assert release.wait(10)
        ran.append((each.id, each.name))
        return run_hunt(each, now=now)

    runtime.runner.run_hunt = held_h0  # type: ignore[method-assign,assignment]
    renamed = dataclasses.replace(hunts[3], name="renamed")
    disabled = dataclasses.replace(hunts[2], enabled=False)
    try:
        with _scheduled(runtime, clock) as (service, scheduler, _summaries):
            try:
                scheduler.tick()
                scheduler.wait_finished(1)
                assert entered.wait(10)  # h0 holds the one thread; h1, h2 and h3 are queued
                service._load = lambda: (settings, [hunts[0], disabled, renamed])
                assert service.reload()
            finally:
                release.set()
                assert service.wait_for_runs(10)
            assert ran == [("h0", hunt.name), ("h3", "renamed")]
    finally:
        release.set()
        runtime.close()


def test_reload_regroups_hunts_by_schedule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGHUP's reload over local files regroups the hunts: a schedule no hunt has any more loses its
    job, a new schedule gets one (running at once), a schedule a hunt joins (new, or moved from
    another interval) runs at once with all its hunts in one read; job ids stay the schedules',
    health intervals stay per hunt, and a bad file changes nothing."""
    from hunter.cli import _hunts
    from hunter.hunts import load_hunt_set

    start = datetime(2026, 11, 20, 12, tzinfo=UTC)
    folder = tmp_path / "hunts"
    folder.mkdir()
    _hunt_file(folder, "one")
    _hunt_file(folder, "two")
    _hunt_file(folder, "hourly", cron="0 * * * *")
    events = _write_lua_events(tmp_path / "events.ndjson", start - timedelta(hours=2))
    settings = _settings(
        tmp_path,
        monkeypatch,
        HUNTER_QUERIES=str(folder),
        HUNTER_EMBEDDED__EVENTS=json.dumps([str(events)]),
        HUNTER_SCHEDULE__JITTER="0s",
    )
    clock = Clock(start)
    runtime = build_runtime(settings, load_hunt_set([folder]).hunts, clock=clock)
    reads = _Reads(runtime)

    def reload() -> tuple[Settings, list[Hunt]]:
        fresh = load_settings()
        return fresh, _hunts(fresh, argparse.Namespace(queries=None))

    def groups(service: HuntService) -> dict[str, list[str]]:
        return {group: [h.id for h in members] for group, members in service.groups.items()}

    try:
        with _scheduled(runtime, clock) as (service, scheduler, summaries):
            service._load = reload
            assert groups(service) == {"cron 0 * * * *": ["hourly"], "every 300s": ["one", "two"]}
            scheduler.tick()
            scheduler.wait_finished(2)
            assert reads.take() == 2

            clock.advance(minutes=2)
            (folder / "two.toml").unlink()
            _hunt_file(folder, "three")
            _hunt_file(folder, "one", interval="10m")
            with structlog.testing.capture_logs() as logs:
                assert service.reload()
            (done,) = [entry for entry in logs if entry["event"] == "reloaded settings and hunts"]
            assert (done["added"], done["removed"], done["changed"]) == (["three"], ["two"], ["one"])
            assert groups(service) == {
                "cron 0 * * * *": ["hourly"],
                "every 600s": ["one"],
                "every 300s": ["three"],
            }
            jobs = {job.id: job for job in scheduler.get_jobs()}
            assert sorted(jobs) == ["cron 0 * * * *", "every 300s", "every 600s"]
            assert jobs["every 600s"].trigger.interval == timedelta(minutes=10)
            assert jobs["every 300s"].next_run_time == clock.now  # three joined it: at once
            assert jobs["every 600s"].next_run_time == clock.now  # a new schedule: at once
            assert jobs["cron 0 * * * *"].next_run_time == datetime(2026, 11, 20, 13, tzinfo=UTC)
            assert service.health.intervals == {
                "hourly": timedelta(hours=1),
                "one": timedelta(minutes=10),
                "three": timedelta(minutes=5),
            }

            _hunt_file(folder, "one")  # back to every 5 minutes: the 10-minute schedule goes
            clock.advance(minutes=1)
            assert service.reload()
            assert groups(service) == {"cron 0 * * * *": ["hourly"], "every 300s": ["one", "three"]}
            assert sorted(job.id for job in scheduler.get_jobs()) == ["cron 0 * * * *", "every 300s"]
            assert scheduler.get_job("every 300s").next_run_time == clock.now
            summaries.clear()
            scheduler.tick()
            scheduler.wait_finished(3)
            assert sorted(s.hunt_id for s in summaries) == ["one", "three"]
            assert reads.take() == 1

            (folder / "broken.toml").write_text('id = "broken"\n', encoding="utf-8")
            assert not service.reload()
            assert groups(service) == {"cron 0 * * * *": ["hourly"], "every 300s": ["one", "three"]}
            assert sorted(job.id for job in scheduler.get_jobs()) == ["cron 0 * * * *", "every 300s"]
            assert not scheduler.errors
    finally:
        runtime.close()


def test_shared_passes_of_two_schedules_under_way_at_once_keep_each_others_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hunt: Hunt
) -> None:
    """Two schedules' passes under way at once (in the scheduler's worker threads) neither replace
    nor forget each other's results: every run takes what its pass found, nothing is read again."""
    start = datetime(2026, 11, 20, 10, tzinfo=UTC)
    events = _write_lua_events(tmp_path / "events.ndjson", start)
    settings = _settings(tmp_path, monkeypatch, HUNTER_EMBEDDED__EVENTS=json.dumps([str(events)]))
    every_5m = [dataclasses.replace(hunt, id=hunt_id) for hunt_id in ("a", "b")]
    every_10m = [
        dataclasses.replace(hunt, id=hunt_id, interval_ns=600 * 1_000_000_000) for hunt_id in ("c", "d")
    ]
    moment = start + timedelta(hours=1)
    runtime = build_runtime(settings, every_5m + every_10m, clock=Clock(moment))
    reads = _Reads(runtime)
    runner = runtime.runner
    try:
        runner.share_pass(every_5m, moment)
        runner.share_pass(every_10m, moment)
        summaries = [runner.run_hunt(each, now=moment) for each in every_5m]
        runner.end_shared_pass(every_5m)  # the 5-minute tick ends while the 10-minute one runs
        summaries += [runner.run_hunt(each, now=moment) for each in every_10m]
        runner.end_shared_pass(every_10m)
        assert [(s.hunt_id, s.outcome, len(s.created)) for s in summaries] == [
            (hunt_id, "ok", 15) for hunt_id in ("a", "b", "c", "d")
        ]
        assert reads.take() == 2
    finally:
        runtime.close()


def test_stopping_ends_a_schedules_tick_before_its_next_hunt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hunt: Hunt
) -> None:
    """SIGTERM during a schedule's tick lets the running hunt finish and starts none of the rest
    (their checkpoints stay, so the next start searches their range); no hunt is left locked."""
    start = datetime(2026, 11, 20, 10, tzinfo=UTC)
    clock = Clock(start + timedelta(hours=1))
    runtime = _three_hunts(tmp_path, monkeypatch, hunt, start, clock)
    service = HuntService(runtime, clock=clock, install_signals=False)
    run_hunt = runtime.runner.run_hunt

    def stopped_during(each: Hunt, *, now: datetime | None = None) -> RunSummary:
        summary = run_hunt(each, now=now)
        service.stopping.set()  # SIGTERM arrives while the first hunt runs
        return summary

    monkeypatch.setattr(runtime.runner, "run_hunt", stopped_during)
    try:
        summaries = service.run_group("every 300s")
        assert [(s.hunt_id, s.outcome) for s in summaries] == [("a", "ok")]
        assert runtime.store.checkpoint("a") is not None
        assert runtime.store.checkpoint("b") is None and runtime.store.checkpoint("c") is None
        assert not any(lock.locked() for lock in service._running.values())
    finally:
        runtime.close()


def test_stopping_drops_the_queued_runs_and_a_changed_concurrency_takes_a_new_pool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hunt: Hunt
) -> None:
    """Queued runs (a searcher that cannot share passes, as Elasticsearch's) are dropped at stop and
    leave no trace in the queue or its gauge; a reload that changes ``[schedule] concurrency`` makes
    the next tick queue every hunt to a new pool of that size, the old one finishing its own runs."""
    settings = _settings(
        tmp_path, monkeypatch, HUNTER_SCHEDULE__JITTER="0s", HUNTER_SCHEDULE__CONCURRENCY="1"
    )
    clock = Clock(datetime(2026, 11, 20, 15, tzinfo=UTC))
    hunts = [dataclasses.replace(hunt, id=f"h{number}") for number in range(3)]
    runtime = build_runtime(settings, hunts, clock=clock)
    searcher = _BlockingSearcher()
    entries = threading.Semaphore(0)
    search = searcher.search

    def counted(each: Hunt, window: Window | None) -> list[QueryResult]:
        entries.release()
        return search(each, window)

    searcher.search = counted  # type: ignore[method-assign,assignment]
    runtime.runner.searcher = searcher
    try:
        with _scheduled(runtime, clock) as (service, scheduler, summaries):
            scheduler.tick()
            scheduler.wait_finished(1)
            assert entries.acquire(timeout=10)  # h0 holds the one thread; h1 and h2 wait
            first = service._pool
            wider = settings.model_copy(
                update={"schedule": settings.schedule.model_copy(update={"concurrency": 2})}
            )
            service._load = lambda: (wider, hunts)
            assert service.reload()  # the schedule is unchanged: its next tick is in 5 minutes
            searcher.release.set()
            assert service.wait_for_runs(10)
            _next_tick(clock, scheduler, service, 2)
            assert service._pool is not first and service._pool_size == 2
            assert sorted(s.hunt_id for s in summaries) == ["h0", "h0", "h1", "h1", "h2", "h2"]
            for _ in range(5):  # the other searches so far
                assert entries.acquire(timeout=10)
            searcher.release.clear()
            clock.advance(minutes=5)
            scheduler.tick()
            scheduler.wait_finished(3)
            assert entries.acquire(timeout=10) and entries.acquire(timeout=10)  # two hold the threads
            service.stopping.set()
            searcher.release.set()
            service.close_runs()
            assert service.wait_for_runs(1) and runtime.metrics.runs_queued._value.get() == 0
            assert len(summaries) == 8  # the queued run was dropped
    finally:
        searcher.release.set()
        runtime.close()
