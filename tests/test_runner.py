"""The runner: search -> dedup -> alerts -> store -> notify -> checkpoint, over successive ticks."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog

from hunter.config import ScheduleSettings, Settings, parse_duration
from hunter.errors import StoreError, TransientSearchError
from hunter.hunts import Hunt, Suppression
from hunter.results import QueryResult, Window
from hunter.runner import Runner
from hunter.service import build_runtime
from hunter.store import SaveResult
from hunter.store.sqlite import SqliteStore
from tests.conftest import (
    OS_EXECUTE,
    OS_EXECUTE_LUA,
    SAMPLES,
    FakeClock,
    RunnerFactory,
    append_ndjson,
    lua_exec,
    lua_fork,
    notice_lines,
    ns,
    sample,
    tmp_write,
    utc,
    write_ndjson,
)

T = utc("2026-11-20T10:00:00Z")
MINUTE = timedelta(minutes=1)
# A Lua start that only the sequence's first stage matches (no temp path or code-running argument).
QUIET_ARGS = ["lua5.4", "/home/dana/jobs/report.lua"]


def queries(alerts: list[dict[str, Any]]) -> list[list[str]]:
    """hunter.queries of each alert."""
    return [alert["hunter"]["queries"] for alert in alerts]


class FailingSaveStore(SqliteStore):
    """A SqliteStore whose save fails while ``failing`` is set (a store outage)."""

    failing = True

    def save(self, hunt_id: str, created: Any, updated: Any, **options: Any) -> SaveResult:
        """Fail like an unwritable database, or save normally."""
        if self.failing:
            raise StoreError("disk I/O error")
        return super().save(hunt_id, created, updated, **options)


class ConflictingStore(SqliteStore):
    """A SqliteStore where another writer changes an alert just before our first update of it."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.raced = False

    def save(self, hunt_id: str, created: Any, updated: Any, **options: Any) -> SaveResult:
        """On the first update, let a concurrent writer add a marker and report our update as a conflict."""
        if updated and not self.raced:
            self.raced = True
            doc = dict(updated[0])
            alert_id = doc["hunter"]["alert_id"]
            stored = self.get([alert_id])[alert_id]
            stored["hunter"]["queries"] = sorted({*stored["hunter"]["queries"], "other_writer"})
            super().save(hunt_id, [], [stored])
            return SaveResult((), (), (alert_id,))
        return super().save(hunt_id, created, updated, **options)


class FlakySearcher:
    """Wraps a searcher; raises TransientSearchError while ``failing`` is set."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.failing = True
        self.windows: list[Window | None] = []

    def search(self, hunt: Hunt, window: Window | None) -> list[QueryResult]:
        """Fail like a timed-out cluster, or search."""
        self.windows.append(window)
        if self.failing:
            raise TransientSearchError("timed out")
        result: list[QueryResult] = self.inner.search(hunt, window)
        return result


def test_samples_give_four_alerts_and_four_notices_once(
    make_runner: RunnerFactory, lua_hunt: Hunt, clock: FakeClock
) -> None:
    """One run over samples/events stores 4 alerts and prints 4 notices; a second run adds nothing."""
    parts = make_runner([SAMPLES])
    first = parts.runner.run_hunt(lua_hunt)
    assert first.outcome == "ok"
    assert len(first.created) == 4
    assert len(notice_lines(parts.notices.getvalue())) == 4
    second = parts.runner.run_hunt(lua_hunt)
    assert second.created == []
    assert len(parts.alerts()) == 4
    assert len(notice_lines(parts.notices.getvalue())) == 4
    assert parts.store.notice_counts()["sent"] == 4
    assert sorted(queries(parts.alerts())) == [
        ["fallback"],
        ["fallback"],
        ["fallback"],
        ["fallback", "sequence"],
    ]


def test_sequence_straddling_two_ticks_is_found(
    make_runner: RunnerFactory, lua_hunt: Hunt, clock: FakeClock, tmp_path: Path
) -> None:
    """Lua exec in tick 1, its child's /tmp write (4 min later) arriving for tick 2: one sequence alert."""
    events = write_ndjson(tmp_path / "e.ndjson", [lua_exec(T, doc_id="exec", entity_id="L", args=QUIET_ARGS)])
    parts = make_runner([events])
    clock.set(T + 2 * MINUTE)
    assert parts.runner.run_hunt(lua_hunt).created == []
    append_ndjson(events, [tmp_write(T + 4 * MINUTE, doc_id="write", parent_entity_id="L")])
    clock.set(T + 7 * MINUTE)
    second = parts.runner.run_hunt(lua_hunt)
    assert len(second.created) == 1
    (alert,) = parts.alerts()
    assert alert["hunter"]["queries"] == ["sequence"]
    assert [ref["_id"] for ref in alert["hunter"]["events"]] == ["exec", "write"]
    assert alert["process"]["entity_id"] == "L"


def test_sequence_whose_second_event_is_past_the_first_window_is_found(
    make_runner: RunnerFactory, lua_hunt: Hunt, clock: FakeClock, tmp_path: Path
) -> None:
    """Both events already in the file, the write after tick 1's window end: tick 2 finds the sequence."""
    events = write_ndjson(
        tmp_path / "e.ndjson",
        [
            lua_exec(T, doc_id="exec", entity_id="L", args=QUIET_ARGS),
            tmp_write(T + 4 * MINUTE, doc_id="write", parent_entity_id="L"),
        ],
    )
    parts = make_runner([events])
    clock.set(T + 2 * MINUTE)  # window ends at T + 1 min
    assert parts.runner.run_hunt(lua_hunt).created == []
    clock.set(T + 10 * MINUTE)
    assert len(parts.runner.run_hunt(lua_hunt).created) == 1
    assert queries(parts.alerts()) == [["sequence"]]


def test_repeated_tick_and_restart_add_no_alert_and_no_notice(
    make_runner: RunnerFactory, lua_hunt: Hunt, clock: FakeClock, tmp_path: Path
) -> None:
    """The same tick twice, then a new runner over the same SQLite file: still one alert, one notice."""
    events = write_ndjson(
        tmp_path / "e.ndjson",
        [
            lua_exec(T, doc_id="exec", entity_id="L", args=QUIET_ARGS),
            tmp_write(T + 4 * MINUTE, doc_id="write", parent_entity_id="L"),
        ],
    )
    state = tmp_path / "state.sqlite3"
    parts = make_runner([events], state=state)
    clock.set(T + 2 * MINUTE)
    parts.runner.run_hunt(lua_hunt)
    clock.set(T + 7 * MINUTE)
    parts.runner.run_hunt(lua_hunt)
    again = parts.runner.run_hunt(lua_hunt)
    assert again.created == []
    assert len(notice_lines(parts.notices.getvalue())) == 1
    parts.store.close()

    restarted = make_runner([events], state=state, owner="after-restart")
    clock.set(T + 9 * MINUTE)
    summary = restarted.runner.run_hunt(lua_hunt)
    assert summary.outcome == "ok"
    assert summary.created == []
    assert notice_lines(restarted.notices.getvalue()) == []
    assert len(restarted.alerts()) == 1
    assert restarted.store.notice_counts()["sent"] == 1


def test_later_hits_update_the_alert_instead_of_adding_one(
    make_runner: RunnerFactory, lua_hunt: Hunt, clock: FakeClock
) -> None:
    """os-execute split over two ticks: fallback first, then the sequence joins the same alert."""
    parts = make_runner([SAMPLES / OS_EXECUTE])
    clock.set(utc("2026-11-20T09:15:03.600000Z"))  # window ends between the fork record and the write
    first = parts.runner.run_hunt(lua_hunt)
    assert len(first.created) == 1
    (before,) = parts.alerts()
    assert before["hunter"]["queries"] == ["fallback"]
    clock.set(utc("2026-11-20T09:25:00Z"))
    second = parts.runner.run_hunt(lua_hunt)
    assert second.created == []
    assert second.updated == 1
    (after,) = parts.alerts()
    assert after["hunter"]["alert_id"] == before["hunter"]["alert_id"]
    assert after["hunter"]["queries"] == ["fallback", "sequence"]
    assert {ref["_id"] for ref in after["hunter"]["events"]} == {
        "Oq3L1FOtjHjj4EfCngyu",
        "cRnL1FOtjHjj4EfCngyu",
        "E4jL1FOtjHjj4EfCngyu",
    }
    assert after["hunter"]["first_seen"] == before["hunter"]["first_seen"]
    assert after["hunter"]["last_seen"] == "2026-11-20T09:14:03.929656700Z"
    assert after["hunter"]["version"] == 2
    assert after["hunter"]["created"] == before["hunter"]["created"]
    assert len(notice_lines(parts.notices.getvalue())) == 1


def test_an_update_lost_to_a_concurrent_writer_is_merged_again(
    make_runner: RunnerFactory, lua_hunt: Hunt, clock: FakeClock, tmp_path: Path
) -> None:
    """A conflict on an update makes the runner re-read, re-merge and write: both changes survive."""
    store = ConflictingStore(tmp_path / "state.sqlite3")
    parts = make_runner([SAMPLES / OS_EXECUTE], store=store)
    clock.set(utc("2026-11-20T09:15:03.600000Z"))
    parts.runner.run_hunt(lua_hunt)
    clock.set(utc("2026-11-20T09:25:00Z"))
    summary = parts.runner.run_hunt(lua_hunt)
    assert summary.outcome == "ok"
    assert store.raced
    (alert,) = parts.alerts()
    assert alert["hunter"]["queries"] == ["fallback", "other_writer", "sequence"]


def test_an_alert_with_more_members_than_it_lists_is_stable_and_never_counts_down(
    make_runner: RunnerFactory, lua_hunt: Hunt, clock: FakeClock, tmp_path: Path
) -> None:
    """A Lua process with 600 fork records (each matched by the fallback, each standing for it): one
    alert listing 500 member events and counting 601. A run that re-sees only the last 50 changes
    nothing (it rewrote the alert every run and set the count to 550), a new member adds one."""
    early = [
        lua_fork(T + timedelta(seconds=i), doc_id=f"f{i}", parent_entity_id="L", entity_id=f"C{i}")
        for i in range(550)
    ]
    late = [
        lua_fork(
            T + timedelta(minutes=50, seconds=i), doc_id=f"g{i}", parent_entity_id="L", entity_id=f"D{i}"
        )
        for i in range(50)
    ]
    events = write_ndjson(tmp_path / "e.ndjson", [lua_exec(T, doc_id="exec", entity_id="L"), *early, *late])
    parts = make_runner([events])
    clock.set(T + 52 * MINUTE)
    assert len(parts.runner.run_hunt(lua_hunt).created) == 1
    (alert,) = parts.alerts()
    assert (len(alert["hunter"]["events"]), alert["hunter"]["event_count"]) == (500, 601)
    clock.set(T + 53 * MINUTE)  # window 10:46..10:52: the last 50 fork records only
    again = parts.runner.run_hunt(lua_hunt)
    assert again.hits["fallback"] == 50
    assert again.updated == 0
    (same,) = parts.alerts()
    assert same == alert
    append_ndjson(
        events,
        [lua_fork(T + 55 * MINUTE, doc_id="new", parent_entity_id="L", entity_id="N")],
    )
    clock.set(T + 57 * MINUTE)
    assert parts.runner.run_hunt(lua_hunt).updated == 1
    (grown,) = parts.alerts()
    assert grown["hunter"]["event_count"] == 602
    assert grown["hunter"]["version"] == alert["hunter"]["version"] + 1
    assert len(notice_lines(parts.notices.getvalue())) == 1


@pytest.mark.parametrize("notices_on", [False, True])
def test_building_block_hunts_alert_without_a_notice_unless_asked(
    make_runner: RunnerFactory, lua_hunt: Hunt, clock: FakeClock, tmp_path: Path, notices_on: bool
) -> None:
    """A building-block hunt (Elastic's building_block_type) writes its alerts, marked as such, but
    queues no notice; [slack] building_block_notices = true turns its notices on."""
    hunt = dataclasses.replace(lua_hunt, building_block=True)
    events = write_ndjson(tmp_path / "e.ndjson", [lua_exec(T, doc_id="exec", entity_id="L")])
    parts = make_runner([events])
    parts.runner.building_block_notices = notices_on
    clock.set(T + 5 * MINUTE)
    assert len(parts.runner.run_hunt(hunt).created) == 1
    (alert,) = parts.alerts()
    assert alert["hunter"]["hunt"]["building_block"] is True
    assert len(notice_lines(parts.notices.getvalue())) == (1 if notices_on else 0)
    assert parts.store.notice_counts()["pending"] == 0


class OtherConnectionWritesFirst(SqliteStore):
    """Our store; just before our first update, a writer on another connection to the same file
    (``hunter backfill`` beside ``hunter run``) updates the same alert."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.other = SqliteStore(path)
        self.raced = False

    def save(self, hunt_id: str, created: Any, updated: Any, **options: Any) -> SaveResult:
        """Let the other writer read, change and save the alert first; then save ours."""
        if updated and not self.raced:
            self.raced = True
            alert_id = updated[0]["hunter"]["alert_id"]
            theirs = self.other.get([alert_id])[alert_id]
            hunter = theirs["hunter"]
            hunter["queries"] = sorted({*hunter["queries"], "other_writer"})
            hunter["version"] += 1
            assert self.other.save(hunt_id, [], [theirs]).updated == (alert_id,)
        return super().save(hunt_id, created, updated, **options)


def test_two_writers_on_one_state_file_never_lose_a_merge(
    make_runner: RunnerFactory, lua_hunt: Hunt, clock: FakeClock, tmp_path: Path
) -> None:
    """Writer B's update lands between writer A's read and write: A's write is refused (it replaced
    B's change before), A reads again and merges, and both changes are in the alert."""
    store = OtherConnectionWritesFirst(tmp_path / "state.sqlite3")
    parts = make_runner([SAMPLES / OS_EXECUTE], store=store)
    clock.set(utc("2026-11-20T09:15:03.600000Z"))
    parts.runner.run_hunt(lua_hunt)
    clock.set(utc("2026-11-20T09:25:00Z"))
    summary = parts.runner.run_hunt(lua_hunt)
    assert summary.outcome == "ok" and store.raced and summary.updated == 1
    (alert,) = parts.alerts()
    assert alert["hunter"]["queries"] == ["fallback", "other_writer", "sequence"]
    assert alert["hunter"]["version"] == 3
    store.other.close()


def test_late_start_event_upgrades_an_alert_first_seen_through_a_fork_record(
    make_runner: RunnerFactory, lua_hunt: Hunt, clock: FakeClock, tmp_path: Path
) -> None:
    """An alert first built from the fork record takes Lua's own exec event once it arrives."""
    folder = tmp_path / "events"
    write_ndjson(
        folder / "forks.ndjson",
        [lua_fork(T + MINUTE, doc_id="fork", parent_entity_id=OS_EXECUTE_LUA, entity_id="C")],
    )
    parts = make_runner([folder])
    clock.set(T + 3 * MINUTE)
    parts.runner.run_hunt(lua_hunt)
    (before,) = parts.alerts()
    assert before["hunter"]["subject"] == "fork"
    assert before["process"]["entity_id"] == OS_EXECUTE_LUA
    exec_hit = lua_exec(T, doc_id="exec", entity_id=OS_EXECUTE_LUA)
    write_ndjson(folder / "late.ndjson", [exec_hit])
    clock.set(T + 5 * MINUTE)
    parts.runner.run_hunt(lua_hunt)
    (after,) = parts.alerts()
    assert after["hunter"]["alert_id"] == before["hunter"]["alert_id"]
    assert after["hunter"]["subject"] == "start"
    assert after["process"]["executable"] == exec_hit["_source"]["process"]["executable"]
    assert after["process"]["parent"]["entity_id"] == exec_hit["_source"]["process"]["parent"]["entity_id"]
    assert after["hunter"]["first_seen"].startswith("2026-11-20T10:00:00")


def test_maxspan_is_inclusive_through_the_pipeline(
    make_runner: RunnerFactory, lua_hunt: Hunt, clock: FakeClock, tmp_path: Path
) -> None:
    """A child write exactly 5 min after the Lua start alerts; 5 min + 1 ms does not."""
    ms = timedelta(milliseconds=1)
    events = write_ndjson(
        tmp_path / "e.ndjson",
        [
            lua_exec(T, doc_id="exec-a", entity_id="A", host_id="host-a", args=QUIET_ARGS),
            lua_exec(T, doc_id="exec-b", entity_id="B", host_id="host-b", args=QUIET_ARGS),
            tmp_write(T + 5 * MINUTE, doc_id="write-a", parent_entity_id="A", host_id="host-a"),
            tmp_write(T + 5 * MINUTE + ms, doc_id="write-b", parent_entity_id="B", host_id="host-b"),
        ],
    )
    parts = make_runner([events])
    clock.set(T + 5 * MINUTE + MINUTE - ms)  # tick 1 ends 1 ms before the first write
    parts.runner.run_hunt(lua_hunt)
    clock.set(T + 20 * MINUTE)
    parts.runner.run_hunt(lua_hunt)
    clock.set(T + 60 * MINUTE)
    parts.runner.run_hunt(lua_hunt)
    (alert,) = parts.alerts()
    assert alert["host"]["id"] == "host-a"
    assert alert["hunter"]["queries"] == ["sequence"]


def test_checkpoint_waits_for_the_store(
    make_runner: RunnerFactory, lua_hunt: Hunt, clock: FakeClock, tmp_path: Path
) -> None:
    """A failed save leaves the checkpoint where it was; the next run finds everything."""
    state = tmp_path / "state.sqlite3"
    events = write_ndjson(tmp_path / "e.ndjson", [sample((OS_EXECUTE, 2))])  # a plain `ls`: no hit
    store = FailingSaveStore(state)
    store.failing = False
    parts = make_runner([events], store=store)
    clock.set(T)
    parts.runner.run_hunt(lua_hunt)
    checkpoint = store.checkpoint(lua_hunt.id)
    assert checkpoint == ns(T - MINUTE)

    append_ndjson(events, [lua_exec(T + MINUTE, doc_id="exec", entity_id="L")])
    store.failing = True
    clock.set(T + 5 * MINUTE)
    failed = parts.runner.run_hunt(lua_hunt)
    assert failed.outcome == "failed"
    assert "disk I/O error" in failed.error
    assert store.checkpoint(lua_hunt.id) == checkpoint
    assert parts.alerts() == []

    store.failing = False
    clock.set(T + 10 * MINUTE)
    recovered = parts.runner.run_hunt(lua_hunt)
    assert recovered.outcome == "ok"
    assert len(recovered.created) == 1
    assert store.checkpoint(lua_hunt.id) == ns(T + 9 * MINUTE)
    assert len(notice_lines(parts.notices.getvalue())) == 1


def test_transient_search_failure_keeps_the_checkpoint_and_the_range(
    make_runner: RunnerFactory, lua_hunt: Hunt, clock: FakeClock, tmp_path: Path
) -> None:
    """A TransientSearchError fails the run without moving the checkpoint; the retry covers the same start."""
    events = write_ndjson(tmp_path / "e.ndjson", [lua_exec(T, doc_id="exec", entity_id="L")])
    plain = make_runner([events])
    clock.set(T - 10 * MINUTE)
    plain.runner.run_hunt(lua_hunt)  # checkpoint at T - 11 min, nothing found yet
    checkpoint = plain.store.checkpoint(lua_hunt.id)
    plain.store.close()

    flaky = FlakySearcher(plain.runner.searcher)
    parts = make_runner([events], state=plain.store.path, searcher=flaky)
    clock.set(T + 5 * MINUTE)
    failed = parts.runner.run_hunt(lua_hunt)
    assert failed.outcome == "failed"
    assert parts.store.checkpoint(lua_hunt.id) == checkpoint
    flaky.failing = False
    clock.set(T + 10 * MINUTE)
    assert len(parts.runner.run_hunt(lua_hunt).created) == 1
    assert flaky.windows[0] is not None
    assert flaky.windows[1] is not None
    assert flaky.windows[0].start_ns == flaky.windows[1].start_ns


def test_downtime_is_worked_off_in_chunks_and_the_gap_reported(
    make_runner: RunnerFactory, lua_hunt: Hunt, clock: FakeClock, tmp_path: Path
) -> None:
    """After 3 h down: at most windows_per_tick chunks per run, gap logged and exported, nothing skipped."""
    events = write_ndjson(tmp_path / "e.ndjson", [lua_exec(T + 150 * MINUTE, doc_id="exec", entity_id="L")])
    parts = make_runner([events], schedule=ScheduleSettings(windows_per_tick=3))
    clock.set(T)
    parts.runner.run_hunt(lua_hunt)
    clock.set(T + 3 * 60 * MINUTE)
    with structlog.testing.capture_logs() as logs:
        first = parts.runner.run_hunt(lua_hunt)
    assert len(first.windows) == 3
    assert all(w.end_ns - w.start_ns == lua_hunt.interval_ns + lua_hunt.overlap_ns for w in first.windows)
    assert first.gap_ns == ns(T + 179 * MINUTE) - ns(T + 14 * MINUTE)
    assert any("gap_s" in entry and entry["log_level"] == "warning" for entry in logs)
    gauge = parts.runner.metrics.registry.get_sample_value("hunter_gap_seconds", {"hunt": lua_hunt.id})
    assert gauge == first.gap_ns / 1e9
    assert first.created == []
    runs = 1
    while parts.runner.run_hunt(lua_hunt).gap_ns:
        runs += 1
        assert runs < 20
    assert len(parts.alerts()) == 1
    assert parts.store.checkpoint(lua_hunt.id) == ns(T + 179 * MINUTE)


def test_a_lease_held_elsewhere_skips_the_run(
    make_runner: RunnerFactory, lua_hunt: Hunt, clock: FakeClock
) -> None:
    """While another owner holds the hunt's lease, the run searches nothing and moves no checkpoint."""
    parts = make_runner([SAMPLES])
    assert parts.store.acquire_lease(lua_hunt.id, "other-replica", ns(clock()), 600 * 1_000_000_000)
    summary = parts.runner.run_hunt(lua_hunt)
    assert summary.outcome == "skipped"
    assert parts.store.checkpoint(lua_hunt.id) is None
    assert parts.alerts() == []


def test_a_bad_event_line_does_not_stop_the_run(
    make_runner: RunnerFactory, lua_hunt: Hunt, clock: FakeClock, tmp_path: Path
) -> None:
    """A bad line is skipped and logged with file and line; the events around it are still hunted."""
    events = tmp_path / "e.ndjson"
    events.write_text("this is not json\n", encoding="utf-8")
    append_ndjson(events, [lua_exec(T, doc_id="exec", entity_id="L")])
    parts = make_runner([events])
    clock.set(T + 5 * MINUTE)
    with structlog.testing.capture_logs() as logs:
        summary = parts.runner.run_hunt(lua_hunt)
    assert summary.outcome == "ok"
    assert len(summary.created) == 1
    (bad,) = [entry for entry in logs if entry["event"] == "bad event line skipped"]
    assert (bad["file"], bad["line"]) == (str(events), 1)


def test_bad_event_lines_are_counted_in_the_metrics(
    settings: Callable[..., Settings], lua_hunt: Hunt, tmp_path: Path, clock: FakeClock
) -> None:
    """The service exports the bad lines it skipped (hunter_bad_event_lines_total)."""
    events = tmp_path / "e.ndjson"
    write_ndjson(events, [lua_exec(T, doc_id="exec", entity_id="L")])
    with events.open("a", encoding="utf-8") as handle:
        handle.write("this is not json\n")
    runtime = build_runtime(settings(events=[events]), [lua_hunt], clock=clock, owner="test")
    try:
        (summary,) = runtime.run_once(now=clock())
        assert summary.outcome == "ok"
        assert runtime.metrics.registry.get_sample_value("hunter_bad_event_lines_total") == 1
    finally:
        runtime.close()


def test_first_run_covers_the_initial_lookback_only(
    make_runner: RunnerFactory, lua_hunt: Hunt, clock: FakeClock, tmp_path: Path
) -> None:
    """An event older than now - initial_lookback is not searched by the first run; a newer one is."""
    events = write_ndjson(
        tmp_path / "e.ndjson",
        [
            lua_exec(T - timedelta(hours=25), doc_id="old", entity_id="OLD"),
            lua_exec(T - timedelta(hours=23), doc_id="new", entity_id="NEW"),
        ],
    )
    parts = make_runner([events])
    clock.set(T)
    parts.runner.run_hunt(lua_hunt)
    assert [alert["process"]["entity_id"] for alert in parts.alerts()] == ["NEW"]


@pytest.mark.parametrize("lookback", ["0s", "1m"])
def test_a_first_run_with_nothing_to_search_starts_the_hunt(
    make_runner: RunnerFactory, lua_hunt: Hunt, clock: FakeClock, tmp_path: Path, lookback: str
) -> None:
    """initial_lookback <= ingest_delay: the first run searches nothing but sets the checkpoint to
    now - ingest_delay, so the next run searches forward and finds what arrived (it used to plan no
    window for ever while reporting ok)."""
    events = write_ndjson(tmp_path / "e.ndjson", [])
    parts = make_runner([events], schedule=ScheduleSettings(initial_lookback=parse_duration(lookback)))
    clock.set(T)
    first = parts.runner.run_hunt(lua_hunt)
    assert first.outcome == "ok" and first.windows == []
    assert parts.store.checkpoint(lua_hunt.id) == ns(T - MINUTE)
    append_ndjson(events, [lua_exec(T + 2 * MINUTE, doc_id="exec", entity_id="L")])
    clock.set(T + 5 * MINUTE)
    second = parts.runner.run_hunt(lua_hunt)
    assert len(second.windows) == 1 and len(second.created) == 1


class LeaseTakenAfterFirstWindow:
    """Wraps a searcher; after the first window, another replica takes the hunt's (expired) lease."""

    def __init__(self, inner: Any, store: SqliteStore, clock: FakeClock) -> None:
        self.inner = inner
        self.store = store
        self.clock = clock
        self.windows: list[Window | None] = []

    def search(self, hunt: Hunt, window: Window | None) -> list[QueryResult]:
        """Search; the first time, let the lease expire and another owner take it."""
        self.windows.append(window)
        if len(self.windows) == 1:
            self.clock.set(self.clock.now + timedelta(minutes=11))  # past the 10-minute lease
            assert self.store.acquire_lease(hunt.id, "other-replica", ns(self.clock.now), 10**12)
        result: list[QueryResult] = self.inner.search(hunt, window)
        return result


def test_a_catch_up_run_stops_when_another_replica_took_its_lease(
    make_runner: RunnerFactory, lua_hunt: Hunt, clock: FakeClock, tmp_path: Path
) -> None:
    """The lease is renewed before each window; once another replica holds it, the run stops after
    the window in hand (its checkpoint stored) and leaves the rest to that replica."""
    state = tmp_path / "state.sqlite3"
    plain = make_runner([SAMPLES], state=state)
    plain.store.set_checkpoint(lua_hunt.id, ns(clock.now - timedelta(hours=2)))
    searcher = LeaseTakenAfterFirstWindow(plain.runner.searcher, plain.store, clock)
    parts = make_runner([SAMPLES], state=state, searcher=searcher)
    summary = parts.runner.run_hunt(lua_hunt)
    assert summary.outcome == "ok" and len(searcher.windows) == 1 and len(summary.windows) == 1
    first = searcher.windows[0]
    assert first is not None and parts.store.checkpoint(lua_hunt.id) == first.end_ns
    assert not parts.store.acquire_lease(lua_hunt.id, "test-owner", ns(clock.now), 10**9)  # still theirs


class RivalCreatesFirst(SqliteStore):
    """Another replica creates the first alert of our first batch (without our folds) just before we do."""

    raced = False

    def save(self, hunt_id: str, created: Any, updated: Any, **options: Any) -> SaveResult:
        """Let the rival write its bare copy of created[0], then save ours (that create conflicts)."""
        if created and not self.raced:
            self.raced = True
            theirs = dict(created[0])
            theirs["hunter"] = {k: v for k, v in theirs["hunter"].items() if k != "suppressed"}
            super().save(hunt_id, [theirs], [])
        return super().save(hunt_id, created, updated, **options)


def test_findings_folded_into_a_suppressor_that_lost_a_create_race_are_kept(
    make_runner: RunnerFactory, lua_hunt: Hunt, tmp_path: Path
) -> None:
    """Suppression folds findings into the batch's first alert; when another writer created that
    alert first, the retry merges the whole batch, so the folds are not lost."""
    hunt = dataclasses.replace(lua_hunt, suppression=Suppression(("host.os.type",), 10**15))

    def folds(store: SqliteStore) -> list[tuple[str, Any]]:
        parts = make_runner([SAMPLES], store=store)
        assert parts.runner.run_hunt(hunt).outcome == "ok"
        return sorted(
            (alert["hunter"]["alert_id"], (alert["hunter"].get("suppressed") or {}).get("count"))
            for alert in parts.alerts()
        )

    undisturbed = folds(SqliteStore(tmp_path / "plain.sqlite3"))
    assert any(count for _, count in undisturbed)
    assert folds(RivalCreatesFirst(tmp_path / "raced.sqlite3")) == undisturbed


def test_done_state_is_removed_after_its_retention(
    make_runner: RunnerFactory, lua_hunt: Hunt, clock: FakeClock
) -> None:
    """Sent notices are deleted once they are older than the state retention (at most hourly)."""
    parts = make_runner([SAMPLES])
    clock.set(utc("2026-11-20T15:00:00Z"))
    parts.runner.run_hunt(lua_hunt)
    assert parts.store.notice_counts()["sent"] == 4
    clock.set(utc("2026-12-25T15:00:00Z"))  # past the default 30 days
    parts.runner.run_hunt(lua_hunt)
    assert parts.store.notice_counts()["sent"] == 0
    assert len(parts.alerts()) == 4  # alerts themselves stay (they are the dedup state)


class CrashingNotifier:
    """A notifier whose process dies mid-send (the claims stay as they are)."""

    def send(self, notices: Any, on_delivery: Any = None) -> Any:
        """Die before Slack answers."""
        raise KeyboardInterrupt


def test_a_fixed_clock_plans_windows_but_claims_and_leases_keep_the_real_time(
    make_runner: RunnerFactory, lua_hunt: Hunt, clock: FakeClock, tmp_path: Path
) -> None:
    """`run --once --now <past>` beside a live runner: its notice claims carry the real time, so
    the live runner does not take them for abandoned and post them a second time (65 of 90 were)."""
    state = tmp_path / "state.sqlite3"
    live = make_runner([SAMPLES], state=state)  # the real time is clock.now (2026-11-20T15:00)
    past = Runner(
        searcher=live.runner.searcher,
        store=SqliteStore(state),
        notifier=CrashingNotifier(),
        renderer=live.runner.renderer,
        schedule=ScheduleSettings(),
        owner="past",
        clock=lambda: utc("2026-11-20T12:00:00Z"),
        wall_clock=clock,
    )
    with pytest.raises(KeyboardInterrupt):
        past.run_hunt(lua_hunt, now=utc("2026-11-20T15:00:00Z"))
    assert live.store.notice_counts()["sending"] == 4
    assert live.runner.deliver() == {}  # fresh claims of another process: not taken
    clock.advance(timedelta(minutes=6))
    assert live.runner.deliver() == {"sent": 4}  # abandoned once they are older than the claim TTL
    past.store.close()
