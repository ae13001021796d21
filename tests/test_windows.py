"""Window planning: first run, overlap, ingest delay, catch-up in chunks after downtime, gap."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from hunter.config import ScheduleSettings
from hunter.hunts import Hunt
from hunter.results import Window
from hunter.windows import plan_windows
from tests.conftest import ns, utc

NOW = ns(utc("2026-11-20T15:00:00Z"))
S = 1_000_000_000
M = 60 * S
H = 60 * M


def test_first_run_covers_the_initial_lookback(lua_hunt: Hunt) -> None:
    """With no checkpoint, one window from now - initial_lookback to now - ingest_delay."""
    plan = plan_windows(lua_hunt, None, NOW, ScheduleSettings())
    assert plan.windows == (Window(NOW - 24 * H, NOW - M),)
    assert plan.end_ns == NOW - M
    assert plan.gap_ns == 0


def test_first_run_follows_the_configured_lookback_and_delay(lua_hunt: Hunt) -> None:
    """initial_lookback and ingest_delay come from the schedule settings."""
    schedule = ScheduleSettings(initial_lookback=timedelta(hours=2), ingest_delay=timedelta(seconds=30))
    plan = plan_windows(lua_hunt, None, NOW, schedule)
    assert plan.windows == (Window(NOW - 2 * H, NOW - 30 * S),)


@pytest.mark.parametrize("lookback", [timedelta(0), timedelta(minutes=1)])
def test_first_run_without_room_to_search_still_starts_the_hunt(lua_hunt: Hunt, lookback: timedelta) -> None:
    """initial_lookback <= ingest_delay: no window, but the plan ends at now - ingest_delay (where the
    checkpoint goes), not before it, so the next run searches forward instead of starting over."""
    schedule = ScheduleSettings(initial_lookback=lookback)
    plan = plan_windows(lua_hunt, None, NOW, schedule)
    assert plan.windows == ()
    assert plan.end_ns == NOW - M
    (window,) = plan_windows(lua_hunt, plan.end_ns, NOW + 5 * M, schedule).windows
    assert window == Window(NOW - M - lua_hunt.overlap_ns, NOW + 4 * M)


def test_next_run_starts_overlap_before_the_checkpoint(lua_hunt: Hunt) -> None:
    """A regular run covers checkpoint - overlap .. now - ingest_delay."""
    checkpoint = NOW - 6 * M
    plan = plan_windows(lua_hunt, checkpoint, NOW, ScheduleSettings())
    assert plan.windows == (Window(checkpoint - lua_hunt.overlap_ns, NOW - M),)
    assert plan.end_ns == NOW - M


@pytest.mark.parametrize("lookback_ns", [0, M, 4 * M])
def test_overlap_is_at_least_the_largest_maxspan(lua_hunt: Hunt, lookback_ns: int) -> None:
    """Whatever the lookback, each window reaches back at least the sequence maxspan (5m)."""
    hunt = dataclasses.replace(lua_hunt, lookback_ns=lookback_ns)
    checkpoint = NOW - 6 * M
    (window,) = plan_windows(hunt, checkpoint, NOW, ScheduleSettings()).windows
    assert checkpoint - window.start_ns >= 5 * M


def test_a_longer_lookback_widens_the_overlap(lua_hunt: Hunt) -> None:
    """A lookback longer than the maxspan is the overlap."""
    hunt = dataclasses.replace(lua_hunt, lookback_ns=30 * M)
    checkpoint = NOW - 6 * M
    (window,) = plan_windows(hunt, checkpoint, NOW, ScheduleSettings()).windows
    assert window.start_ns == checkpoint - 30 * M


def test_nothing_to_do_when_the_checkpoint_is_current(lua_hunt: Hunt) -> None:
    """A run whose end is not past the checkpoint plans no window and keeps the checkpoint."""
    checkpoint = NOW - M
    plan = plan_windows(lua_hunt, checkpoint, NOW, ScheduleSettings())
    assert plan.windows == ()
    assert plan.end_ns == checkpoint


def test_downtime_is_worked_off_in_interval_chunks(lua_hunt: Hunt) -> None:
    """Downtime over max_catchup: interval chunks, oldest first, at most windows_per_tick."""
    checkpoint = NOW - 3 * H
    schedule = ScheduleSettings(windows_per_tick=4)
    plan = plan_windows(lua_hunt, checkpoint, NOW, schedule)
    assert len(plan.windows) == 4
    ends = [window.end_ns for window in plan.windows]
    assert ends == [checkpoint + (i + 1) * lua_hunt.interval_ns for i in range(4)]
    starts = [window.start_ns for window in plan.windows]
    assert starts == [checkpoint + i * lua_hunt.interval_ns - lua_hunt.overlap_ns for i in range(4)]
    assert plan.end_ns == ends[-1]
    assert plan.gap_ns == (NOW - M) - ends[-1]


def test_the_gap_closes_over_successive_runs(lua_hunt: Hunt) -> None:
    """Planning again from each plan's end covers the whole downtime, contiguously, and ends with no gap."""
    schedule = ScheduleSettings(windows_per_tick=6)
    checkpoint = NOW - 3 * H
    covered_until = checkpoint
    runs = 0
    while True:
        plan = plan_windows(lua_hunt, checkpoint, NOW, schedule)
        for window in plan.windows:
            assert window.start_ns + lua_hunt.overlap_ns <= covered_until
            covered_until = window.end_ns
        checkpoint = plan.end_ns
        runs += 1
        if plan.gap_ns == 0:
            break
        assert len(plan.windows) == 6
    assert covered_until == NOW - M
    assert runs == 6


def test_a_short_gap_is_one_window(lua_hunt: Hunt) -> None:
    """Up to max_catchup of new time is searched in one window, with no gap."""
    checkpoint = NOW - 31 * M  # 30 minutes of new time with the 1-minute ingest delay
    plan = plan_windows(lua_hunt, checkpoint, NOW, ScheduleSettings())
    assert len(plan.windows) == 1
    assert plan.gap_ns == 0
