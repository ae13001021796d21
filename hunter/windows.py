"""Which time range each run of a hunt covers.

``start = checkpoint - overlap`` and ``end = now - ingest_delay``, where the overlap is
``max(largest sequence maxspan, lookback)``, so a sequence that straddles two runs is seen whole
by the second. The first run covers ``now - initial_lookback`` to ``end`` in one window. New time
longer than ``max_catchup`` (after downtime) is worked off oldest first in chunks of one interval,
at most ``windows_per_tick`` per run; what remains is reported as the gap, never skipped.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

from .config import ScheduleSettings
from .hunts import Hunt
from .results import Window

NS = 1_000_000_000


@dataclass(frozen=True)
class WindowPlan:
    """The windows to search now, oldest first, and the time still left behind after them."""

    windows: tuple[Window, ...]
    gap_ns: int  # new time not covered by this plan (work for the next ticks)
    end_ns: int  # where the checkpoint should be once every window is done


def plan_windows(
    hunt: Hunt, checkpoint_ns: int | None, now_ns: int, schedule: ScheduleSettings
) -> WindowPlan:
    """The windows one run of ``hunt`` should search, given its checkpoint and the time now."""
    end = now_ns - _ns(schedule.ingest_delay.total_seconds())
    if checkpoint_ns is None:
        start = now_ns - _ns(schedule.initial_lookback.total_seconds())
        if end <= start:
            # initial_lookback <= ingest_delay: nothing to search yet, but the hunt starts here (the
            # runner sets the checkpoint to ``end``), so the next runs search forward from it
            return WindowPlan((), 0, end)
        return WindowPlan((Window(start, end),), 0, end)
    if end <= checkpoint_ns:
        return WindowPlan((), 0, checkpoint_ns)
    overlap = hunt.overlap_ns
    if end - checkpoint_ns <= _ns(schedule.max_catchup.total_seconds()):
        return WindowPlan((Window(checkpoint_ns - overlap, end),), 0, end)
    windows = tuple(itertools.islice(chunk_windows(hunt, checkpoint_ns, end), schedule.windows_per_tick))
    position = windows[-1].end_ns
    return WindowPlan(windows, end - position, position)


def chunk_windows(
    hunt: Hunt, start_ns: int, end_ns: int, *, floor_ns: int | None = None, chunk_ns: int | None = None
) -> Iterator[Window]:
    """New time ``start_ns..end_ns`` in chunks of one interval (or ``chunk_ns``), oldest first, each
    reaching back by the hunt's overlap (but not before ``floor_ns``, when given)."""
    chunk = max(chunk_ns or hunt.interval_ns, NS)
    position = start_ns
    while position < end_ns:
        chunk_end = min(position + chunk, end_ns)
        reach = position - hunt.overlap_ns
        yield Window(reach if floor_ns is None else max(floor_ns, reach), chunk_end)
        position = chunk_end


def _ns(seconds: float) -> int:
    return int(seconds * NS)
