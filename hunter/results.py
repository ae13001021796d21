"""What a search returns: matched events and sequences of one query over one time window."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .eql.fields import make_getter
from .eql.values import timestamp_ns
from .hunts import Hunt


@dataclass(frozen=True, slots=True)
class Window:
    """A time range of events, both ends included (epoch nanoseconds)."""

    start_ns: int
    end_ns: int

    def __post_init__(self) -> None:
        if self.end_ns < self.start_ns:
            raise ValueError("a window cannot end before it starts")


@dataclass(frozen=True, slots=True)
class Event:
    """One matched event: where it is stored, its document, and its timestamp."""

    index: str
    id: str
    source: Mapping[str, Any]
    timestamp_ns: int

    @property
    def ref(self) -> tuple[str, str]:
        """The event's identity (index, id)."""
        return (self.index, self.id)


@dataclass(frozen=True, slots=True)
class Match:
    """One hit of a query: a single event, or the events of a sequence in stage order."""

    query: str
    events: tuple[Event, ...]
    join_keys: tuple[Any, ...] = ()


@dataclass
class QueryResult:
    """Every match of one hunt query over one window, and how the search went."""

    query: str
    matches: list[Match] = field(default_factory=list)
    requests: int = 0  # searches sent (more than one when capped windows were split)
    truncated: int = 0  # windows still capped at the narrowest split: hits may be missing there
    error: str | None = None  # a permanent error of this query (the other queries still ran)
    # Shards failed even after retries: their hits are missing (a sequence or sample query's
    # partial answer is dropped whole, as Kibana does); the runner keeps the checkpoint for a while.
    incomplete: str | None = None


class Searcher(Protocol):
    """Runs a hunt's queries over a window (Elasticsearch or the embedded engine)."""

    def search(self, hunt: Hunt, window: Window | None) -> list[QueryResult]:
        """One result per enabled query; ``window`` None means every event there is."""
        ...


def window_bounds(windows: Sequence[Window]) -> Window | None:
    """The smallest window covering all of ``windows``."""
    if not windows:
        return None
    return Window(min(w.start_ns for w in windows), max(w.end_ns for w in windows))


def matches_of(query: str, hits: Mapping[str, Any], timestamp_field: str) -> list[Match]:
    """The matches of an EQL search's ``hits`` (Elasticsearch's shape, which the embedded engine
    answers too): one per event, or one per sequence without its missing events."""
    timestamp = make_getter(tuple(timestamp_field.split(".")))

    def event(hit: Mapping[str, Any]) -> Event:
        source = hit.get("_source") or {}
        ns = timestamp_ns(timestamp(source)) or 0
        return Event(str(hit.get("_index", "")), str(hit.get("_id", "")), source, ns)

    if "sequences" in hits:
        return [
            Match(
                query,
                tuple(event(hit) for hit in sequence.get("events", []) if not hit.get("missing")),
                tuple(sequence.get("join_keys") or ()),
            )
            for sequence in hits["sequences"]
        ]
    return [Match(query, (event(hit),)) for hit in hits.get("events", [])]
