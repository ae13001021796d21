"""Elasticsearch's sequence state machine, missing-event checks included.

Events arrive in ordinal order (timestamp, tiebreaker, input position). For each join key and
stage there is at most one pending sequence that matters: an event matching stage *k* takes the
most recent sequence of its key waiting at stage *k-1* (older ones are discarded, as in
Elasticsearch's ``OrdinalGroup.trimBefore``), so only the newest is kept. ``maxspan`` is
inclusive and measured from the first event; ``until`` drops a pending sequence once an until
event of its key has occurred at or after the sequence's last event. An event that matches several
stages is applied to the later stages first.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

Key = tuple[Any, ...]
Ordinal = tuple[Any, ...]


@dataclass(slots=True)
class Candidate:
    """One event that matched at least one stage, with its keys per stage."""

    ordinal: Ordinal
    ts: int
    hit: Any
    stage_keys: dict[int, list[Key]]
    until_keys: list[Key]


@dataclass(slots=True)
class Match:
    """A completed sequence: its key and the candidate of each positive stage."""

    key: Key
    events: tuple[Candidate, ...]


@dataclass(frozen=True, slots=True)
class _Pending:
    first_ts: int
    last_ordinal: Ordinal
    events: tuple[Candidate, ...]


class SequenceMatcher:
    """Runs the state machine over candidates of the positive stages (``positive`` term indexes)."""

    def __init__(self, positive: Sequence[int], maxspan_ns: int | None, has_until: bool) -> None:
        self.positive = list(positive)
        self.maxspan = maxspan_ns
        self.has_until = has_until
        self.pending: list[dict[Key, _Pending]] = [{} for _ in self.positive[:-1]]
        self.until: dict[Key, Ordinal] = {}
        self.completed: list[Match] = []
        self._pruned_at: int | None = None

    def feed(self, candidate: Candidate) -> None:
        """Advance the machine with the next event in ordinal order."""
        last = len(self.positive) - 1
        for stage in range(last, -1, -1):
            keys = candidate.stage_keys.get(self.positive[stage])
            if not keys:
                continue
            for key in keys:
                if stage == 0:
                    if last == 0:
                        self.completed.append(Match(key, (candidate,)))
                    else:
                        self.pending[0][key] = _Pending(candidate.ts, candidate.ordinal, (candidate,))
                    continue
                previous = self.pending[stage - 1].pop(key, None)
                if previous is None:
                    continue
                if self.maxspan is not None and candidate.ts - previous.first_ts > self.maxspan:
                    continue
                if self.has_until:
                    marker = self.until.get(key)
                    if marker is not None and marker >= previous.last_ordinal:
                        continue
                events = (*previous.events, candidate)
                if stage == last:
                    self.completed.append(Match(key, events))
                else:
                    self.pending[stage][key] = _Pending(previous.first_ts, candidate.ordinal, events)
        for key in candidate.until_keys:
            # Like Elasticsearch, remember until events only for keys with sequences in flight.
            if any(key in stage for stage in self.pending):
                self.until[key] = candidate.ordinal
        if self.maxspan is not None:
            # Sequences older than maxspan can never complete: forget them once per maxspan of
            # event time, so memory follows the window, not the input.
            if self._pruned_at is None:
                self._pruned_at = candidate.ts
            elif candidate.ts - self._pruned_at > self.maxspan:
                self._pruned_at = candidate.ts
                self._prune(candidate.ts)

    def _prune(self, now_ts: int) -> None:
        assert self.maxspan is not None
        horizon = now_ts - self.maxspan
        for stage in self.pending:
            stale = [key for key, seq in stage.items() if seq.first_ts < horizon]
            for key in stale:
                del stage[key]
        for key in [key for key in self.until if not any(key in stage for stage in self.pending)]:
            del self.until[key]


@dataclass(frozen=True, slots=True)
class MissingStage:
    """A ``![...]`` stage: where it sits between positive stages, and its matching events per key."""

    term_index: int
    before_positive: int  # index (among positive stages) of the next positive stage; len() if trailing


class MissingChecker:
    """Decides whether a completed sequence survives its missing-event stages."""

    def __init__(self, stages: Sequence[MissingStage], positive_count: int, maxspan_ns: int) -> None:
        self.stages = list(stages)
        self.positive_count = positive_count
        self.maxspan = maxspan_ns
        self.times: dict[int, dict[Key, list[int]]] = {stage.term_index: {} for stage in self.stages}
        self.has_leading = any(stage.before_positive == 0 for stage in self.stages)
        self.has_trailing = any(stage.before_positive == positive_count for stage in self.stages)

    def add(self, term_index: int, key: Key, ts: int) -> None:
        """Record an event matching missing stage ``term_index`` (events arrive in time order)."""
        self.times[term_index].setdefault(key, []).append(ts)

    def keeps(self, match: Match) -> bool:
        """True when no missing stage rules the sequence out."""
        times = [event.ts for event in match.events]
        last_leading: int | None = None
        first_trailing: int | None = None
        for stage in self.stages:
            found = self.times[stage.term_index].get(match.key)
            if not found:
                continue
            position = stage.before_positive
            if position == 0:
                index = bisect.bisect_left(found, times[0]) - 1
                if index >= 0 and (last_leading is None or found[index] > last_leading):
                    last_leading = found[index]
            elif position == self.positive_count:
                index = bisect.bisect_right(found, times[-1])
                if index < len(found) and (first_trailing is None or found[index] < first_trailing):
                    first_trailing = found[index]
            else:
                low, high = times[position - 1], times[position]
                index = bisect.bisect_right(found, low)
                if index < len(found) and found[index] < high:
                    return False
        if last_leading is None and first_trailing is None:
            return True
        if self.has_leading and last_leading is None:
            return True
        if self.has_trailing and first_trailing is None:
            return True
        if self.has_leading and self.has_trailing:
            assert last_leading is not None and first_trailing is not None
            return first_trailing - last_leading > self.maxspan
        if self.has_leading:
            assert last_leading is not None
            return times[-1] - last_leading > self.maxspan
        assert first_trailing is not None
        return first_trailing - times[0] > self.maxspan
