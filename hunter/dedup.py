"""Turn query matches into findings: one finding, and one alert, per (hunt, anchor process).

The anchor event is the first event of a sequence or the event of a single-event hit. Its
process is identified by ``host.id`` + ``process.entity_id``; a fork record (``event.action:
fork``, written by Elastic Endpoint on Linux) is a copy of its parent before exec, so it stands for
its parent (``process.parent.entity_id``). Without an entity id (Auditbeat) the anchor is the
event itself (``_index``, ``_id``). The alert id is the hex sha256 of the hunt id and that identity,
so the same process found by several queries, in several runs or by two replicas is one alert.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .eql.fields import flatten, make_getter
from .exceptions import ExceptionItem
from .hunts import Hunt
from .results import Event, QueryResult

_HOST_ID = make_getter(("host", "id"))
_ENTITY_ID = make_getter(("process", "entity_id"))
_PARENT_ENTITY_ID = make_getter(("process", "parent", "entity_id"))
_ACTION = make_getter(("event", "action"))
_TYPE = make_getter(("event", "type"))
_CATEGORY = make_getter(("event", "category"))


@dataclass(frozen=True, slots=True)
class Anchor:
    """The identity of the process an alert is about."""

    kind: str  # "process" (host + entity id) or "event" (index + id)
    host_id: str = ""
    entity_id: str = ""
    index: str = ""
    id: str = ""

    def parts(self) -> tuple[str, ...]:
        """The values hashed into the alert id."""
        if self.kind == "process":
            return ("process", self.host_id, self.entity_id)
        return ("event", self.index, self.id)

    def as_dict(self) -> dict[str, str]:
        """For the alert document (``hunter.anchor``)."""
        if self.kind == "process":
            return {"kind": self.kind, "host_id": self.host_id, "entity_id": self.entity_id}
        return {"kind": self.kind, "index": self.index, "id": self.id}


@dataclass(frozen=True, slots=True)
class EventRef:
    """A member event of a finding, as the alert lists it."""

    index: str
    id: str
    timestamp_ns: int
    category: tuple[str, ...]


@dataclass
class Finding:
    """Everything found about one anchor process by one hunt (in one run, or merged over runs)."""

    alert_id: str
    hunt_id: str
    anchor: Anchor
    queries: set[str] = field(default_factory=set)
    events: dict[tuple[str, str], EventRef] = field(default_factory=dict)
    sequences: list[tuple[tuple[str, str], ...]] = field(default_factory=list)
    subject: Mapping[str, Any] = field(default_factory=dict)  # the event describing the anchor process
    subject_kind: str = (
        "event"  # "start" (the process's own start event), "fork" (from a fork record), "event"
    )
    first_seen_ns: int = 0
    last_seen_ns: int = 0
    # The source of each member event seen in this run (or its stored evidence, once merged): what
    # the alert copies its evidence from (hunter.alerts); never stored as such.
    sources: dict[tuple[str, str], Mapping[str, Any]] = field(default_factory=dict)
    # Merged with a stored alert that lists only some of its members (the first MAX_LISTED of each):
    # the true counts, and the digests of every member, by which a re-seen member is known as one.
    event_count: int | None = None
    sequence_count: int | None = None
    members: Members | None = None

    @property
    def total_events(self) -> int:
        """How many distinct events the finding has (more than ``events`` holds once merged)."""
        return len(self.events) if self.event_count is None else self.event_count

    @property
    def total_sequences(self) -> int:
        """How many distinct sequences the finding has."""
        return len(self.sequences) if self.sequence_count is None else self.sequence_count

    def add(self, query: str, events: Sequence[Event]) -> None:
        """Fold in one match of ``query``."""
        self.queries.add(query)
        for event in events:
            if event.ref not in self.events:
                category = tuple(str(c) for c in flatten(_CATEGORY(event.source)))
                self.events[event.ref] = EventRef(event.index, event.id, event.timestamp_ns, category)
                self.sources[event.ref] = event.source
        if len(events) > 1:
            refs = tuple(event.ref for event in events)
            if refs not in self.sequences:
                self.sequences.append(refs)
        times = [event.timestamp_ns for event in events]
        self.first_seen_ns = min(times) if not self.first_seen_ns else min(self.first_seen_ns, *times)
        self.last_seen_ns = max(self.last_seen_ns, *times)


@dataclass
class Members:
    """Every member event and sequence of an alert as short digests (8 bytes of sha256 each), kept in
    the alert once it has more members than it lists, so a member seen again is not counted again."""

    events: set[bytes] = field(default_factory=set)
    sequences: set[bytes] = field(default_factory=set)

    @staticmethod
    def event_digest(ref: tuple[str, str]) -> bytes:
        """The digest of an event ``(index, id)``."""
        return hashlib.sha256("\x1f".join(ref).encode("utf-8")).digest()[:8]

    @staticmethod
    def sequence_digest(refs: Sequence[tuple[str, str]]) -> bytes:
        """The digest of a sequence (its events' refs in order)."""
        text = "\x1e".join("\x1f".join(ref) for ref in refs)
        return hashlib.sha256(text.encode("utf-8")).digest()[:8]

    @classmethod
    def of(cls, events: Iterable[tuple[str, str]], sequences: Iterable[Sequence[tuple[str, str]]]) -> Members:
        """The digests of these event refs and sequences."""
        return cls({cls.event_digest(ref) for ref in events}, {cls.sequence_digest(seq) for seq in sequences})

    def encode(self) -> dict[str, str]:
        """As stored in the alert (``hunter.members``): sorted digests, base64, one string per kind."""
        return {
            "events": base64.b64encode(b"".join(sorted(self.events))).decode("ascii"),
            "sequences": base64.b64encode(b"".join(sorted(self.sequences))).decode("ascii"),
        }

    @classmethod
    def decode(cls, stored: Mapping[str, Any]) -> Members:
        """From ``hunter.members`` (what :meth:`encode` wrote)."""

        def digests(text: Any) -> set[bytes]:
            raw = base64.b64decode(str(text or ""))
            return {raw[start : start + 8] for start in range(0, len(raw) - 7, 8)}

        return cls(digests(stored.get("events")), digests(stored.get("sequences")))


def alert_id(hunt_id: str, anchor: Anchor) -> str:
    """The deterministic alert id: hex sha256 of the hunt id and the anchor identity."""
    return hashlib.sha256("\x1f".join((hunt_id, *anchor.parts())).encode("utf-8")).hexdigest()


def anchor_of(event: Event) -> Anchor:
    """The anchor process of an event (a fork record stands for its parent)."""
    source = event.source
    entity = _single(_ENTITY_ID(source))
    if entity:
        host = _single(_HOST_ID(source)) or ""
        if _is_fork(source):
            parent = _single(_PARENT_ENTITY_ID(source))
            if parent:
                return Anchor("process", host_id=host, entity_id=parent)
        return Anchor("process", host_id=host, entity_id=entity)
    return Anchor("event", index=event.index, id=event.id)


def findings(hunt: Hunt, results: Iterable[QueryResult]) -> list[Finding]:
    """One finding per anchor process, across all queries' matches (sorted by first seen)."""
    by_id: dict[str, Finding] = {}
    members: dict[str, list[Event]] = {}
    for result in results:
        for match in result.matches:
            if not match.events:
                continue
            anchor = anchor_of(match.events[0])
            identity = alert_id(hunt.id, anchor)
            finding = by_id.get(identity)
            if finding is None:
                finding = by_id[identity] = Finding(identity, hunt.id, anchor)
            finding.add(match.query, match.events)
            members.setdefault(identity, []).extend(match.events)
    for identity, finding in by_id.items():
        finding.subject, finding.subject_kind = _subject(finding.anchor, members[identity])
    return sorted(by_id.values(), key=lambda f: (f.first_seen_ns, f.alert_id))


def _subject(anchor: Anchor, events: Sequence[Event]) -> tuple[Mapping[str, Any], str]:
    """The event that best describes the anchor process: its own start event if among the hits."""
    ordered = sorted(events, key=lambda e: e.timestamp_ns)
    if anchor.kind == "process":
        for event in ordered:
            source = event.source
            if (
                _single(_ENTITY_ID(source)) == anchor.entity_id
                and "start" in flatten(_TYPE(source))
                and not _is_fork(source)
            ):
                return source, "start"
        for event in ordered:
            if _single(_ENTITY_ID(source := event.source)) == anchor.entity_id:
                return source, "event"
        for event in ordered:
            source = event.source
            if _is_fork(source) and _single(_PARENT_ENTITY_ID(source)) == anchor.entity_id:
                return _parent_view(source), "fork"
    for event in ordered:
        if event.ref == (anchor.index, anchor.id):
            return event.source, "event"
    return ordered[0].source, "event"


def _parent_view(fork: Mapping[str, Any]) -> dict[str, Any]:
    """A fork record seen as its parent: the parent's ids, the (shared) image and arguments."""
    view = dict(fork)
    process = dict(fork.get("process") or {})
    parent = dict(process.pop("parent", None) or {})
    for key in ("entity_id", "pid", "start"):
        if key in parent:
            process[key] = parent[key]
        else:
            process.pop(key, None)
    view["process"] = process
    return view


def _is_fork(source: Mapping[str, Any]) -> bool:
    return "fork" in flatten(_ACTION(source))


def _single(value: Any) -> str | None:
    values = flatten(value)
    return str(values[0]) if values else None


def suppression_key(hunt: Hunt, finding: Finding) -> tuple[str, dict[str, Any]] | None:
    """The hunt's suppression key for a finding (hash, and the field values it hashes), if any."""
    if hunt.suppression is None:
        return None
    values: dict[str, Any] = {}
    # the event describing the anchor process first, then the members oldest first: a field of a
    # later stage (destination.ip of a sequence's connection) is the finding's too
    members = sorted(finding.sources.items(), key=lambda item: finding.events[item[0]].timestamp_ns)
    sources = [finding.subject, *(source for _ref, source in members)]
    for name in hunt.suppression.by:
        getter = make_getter(tuple(name.split(".")))
        found = next((values for values in (flatten(getter(source)) for source in sources) if values), [])
        values[name] = (
            sorted(str(value) for value in found) if len(found) > 1 else (str(found[0]) if found else None)
        )
    text = "\x1f".join([hunt.id, *(f"{name}={values[name]}" for name in hunt.suppression.by)])
    return hashlib.sha256(text.encode("utf-8")).hexdigest(), values


def apply_exceptions(
    items: Sequence[ExceptionItem], results: Sequence[QueryResult]
) -> tuple[list[QueryResult], int]:
    """The results without the matches any of whose events an item holds for, and how many went."""
    if not items:
        return list(results), 0
    kept: list[QueryResult] = []
    dropped = 0
    for result in results:
        matches = [
            match
            for match in result.matches
            if not any(item.holds(event.source) for event in match.events for item in items)
        ]
        dropped += len(result.matches) - len(matches)
        kept.append(
            QueryResult(
                result.query, matches, result.requests, result.truncated, result.error, result.incomplete
            )
        )
    return kept, dropped
