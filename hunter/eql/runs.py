"""One pass over the events for one or several compiled queries ("runs").

Each run consumes events one at a time (``accept``) and produces Elasticsearch's ``hits``
object at the end (``finish``), so several queries share a single read of the input.
Only events that match a stage, an ``until`` or a missing-event stage are kept.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from . import ast
from .compiler import sort_key
from .errors import UnsortedInputError
from .gates import Gate, Weight, plan_gate
from .plan import Plan, PlanResolver, Stage
from .samples import build_samples
from .sequences import Candidate, MissingChecker, MissingStage, SequenceMatcher
from .values import DateValue

ResultPosition = Literal["head", "tail"]
Keys = list[tuple[Any, ...]]
Accept = Callable[[int, Mapping[str, Any], Mapping[str, Any]], None]  # position, item, source
Target = tuple[Gate | None, Accept]  # what a dispatcher routes by, and what it then calls

MISSING_EVENT: dict[str, Any] = {"_index": "", "_id": "", "_source": {}, "missing": True}


def source_of(item: Mapping[str, Any]) -> Mapping[str, Any]:
    """The document of a hit (its ``_source``), or the document itself."""
    source = item.get("_source")
    return item if source is None else source


class Run:
    """Consumes events for one query and returns its hits."""

    def accept(self, position: int, item: Mapping[str, Any], source: Mapping[str, Any]) -> None:
        """Take the next event (``position`` counts from 0 in input order): ``item``, a hit or a
        document, and ``source``, its document (:func:`source_of`: the caller has it at hand)."""
        raise NotImplementedError

    def consume(self, events: Iterable[Mapping[str, Any]]) -> None:
        """Take every event of ``events`` (a run fed alone; subclasses inline their hot path)."""
        accept = self.accept
        for position, item in enumerate(events):
            accept(position, item, source_of(item))

    def finish(self) -> dict[str, Any]:
        """Elasticsearch's ``hits`` object for everything accepted."""
        raise NotImplementedError

    def gate(self, weight: Weight | None = None) -> Gate | None:
        """What an event must carry for this run to use it (:mod:`.gates`); None: unknown, feed all."""
        resolver: PlanResolver | None = getattr(self, "resolver", None)
        if resolver is None or resolver.by_index:
            return None
        return plan_gate(resolver.default, weight)

    def targets(self, weight: Weight | None = None) -> list[Target]:
        """What a dispatcher files this run under: gates, each with the function an event meeting it
        goes to. One (the run's gate, :meth:`accept`) unless the run can do better (a sequence)."""
        return [(self.gate(weight), self.accept)]


def limits_for(statement: ast.Statement, size: int, result_position: ResultPosition) -> list[tuple[str, int]]:
    """The head/tail limits to apply, in order.

    Elasticsearch inserts the default limit (``size``) below the first head/tail pipe, taking
    that pipe's direction; without pipes it applies alone, in the ``result_position`` direction.
    """
    pipes = statement.pipes
    if pipes:
        return [(pipes[0].kind, size), *((pipe.kind, pipe.count) for pipe in pipes)]
    return [(result_position, size)]


class EventRun(Run):
    """An event query: keeps only the ``size`` earliest or latest matches (a bounded heap)."""

    def __init__(self, resolver: PlanResolver, limits: list[tuple[str, int]]) -> None:
        self.resolver = resolver
        self.limits = limits
        first_kind, self.window = limits[0]
        self.keep_latest = first_kind == "tail"
        self.heap: list[tuple[Any, ...]] = []
        self.default = resolver.default
        self.test = resolver.default.stages[0].test
        self.by_index = resolver.by_index

    def accept(self, position: int, item: Mapping[str, Any], source: Mapping[str, Any]) -> None:
        plan, test = self.default, self.test
        if self.by_index and item is not source:  # a hit: the plan of its index
            plan = self.by_index.get(item.get("_index", ""), plan)
            test = plan.stages[0].test
        if not test(source):
            return
        ordinal = ordinal_of(plan, source, position, null_tiebreaker=0)
        if ordinal is None:
            return
        entry_key = ordinal if self.keep_latest else _Reversed(ordinal)
        entry = (entry_key, position, item)
        heap = self.heap
        if len(heap) < self.window:
            heapq.heappush(heap, entry)
        elif self.window > 0 and entry_key > heap[0][0]:
            heapq.heapreplace(heap, entry)

    def consume(self, events: Iterable[Mapping[str, Any]]) -> None:
        """Take every event; the usual case (one schema) tests each event without a method call."""
        if self.by_index:
            super().consume(events)
            return
        test = self.test
        accept = self.accept
        for position, item in enumerate(events):
            source = item.get("_source")
            if source is None:
                source = item
            if test(source):
                accept(position, item, source)

    def finish(self) -> dict[str, Any]:
        keep_latest = self.keep_latest
        chosen = sorted(self.heap, key=lambda e: e[0] if keep_latest else e[0].inner)
        selected = apply_limits([(entry[2], entry[1]) for entry in chosen], self.limits[1:])
        hits = [hit_of(item, position) for item, position in selected]
        return {"total": {"value": len(hits), "relation": "eq"}, "events": hits}


class SequenceRun(Run):
    """A sequence query: candidates feed the state machine, sorted at the end or streamed."""

    def __init__(
        self,
        query: ast.SequenceQuery,
        resolver: PlanResolver,
        limits: list[tuple[str, int]],
        presorted: bool,
        *,
        ordered_upstream: bool = False,
    ) -> None:
        self.query = query
        self.resolver = resolver
        self.limits = limits
        self.presorted = presorted
        terms = query.terms
        self.positive = [index for index, term in enumerate(terms) if not term.missing]
        self.missing_stages = [
            MissingStage(index, sum(1 for p in self.positive if p < index))
            for index, term in enumerate(terms)
            if term.missing
        ]
        self.matcher = SequenceMatcher(self.positive, query.maxspan_ns, query.until is not None)
        self.checker = (
            MissingChecker(self.missing_stages, len(self.positive), query.maxspan_ns or 0)
            if self.missing_stages
            else None
        )
        self.raws: list[_Raw] = []
        self.orderer = _Orderer()
        self.latest_ts = -(2**63)
        self.useful = (
            _usefulness(self.matcher, self.orderer, self.positive, self.missing_stages) if presorted else None
        )
        # With a tiebreaker, events of one timestamp sort otherwise than they come: one that comes
        # later may sort first and make an earlier one useful. Whether a streamed event is of use is
        # then decided as the held events of its timestamp are released in order, not as it comes.
        self.reorders = resolver.default.tiebreaker is not None or any(
            plan.tiebreaker is not None for plan in resolver.by_index.values()
        )
        # an event of other stages than the opening ones is kept only when some sequence is under
        # way (:meth:`_idle`)
        opening, trailing = _opening_and_trailing(self.positive, self.missing_stages)
        self.opening_bits = sum(1 << term for term in opening)
        self.trailing_bits = sum(1 << term for term in trailing)
        self.later_bits = ((1 << (len(terms) + 1)) - 1) & ~self.opening_bits  # the until bit too
        self.later_trailing = self.later_bits & self.trailing_bits
        # Where the caller checks the events' order on this query's timestamp (the local reader, on
        # its own timestamp field), an event no sequence under way could use needs no check here:
        # while none is, only the opening stages are tested (most events match a later stage or none).
        self.opening_mask = (
            stages_mask(resolver.default.stages, opening)
            if presorted and ordered_upstream and not resolver.by_index and not self.reorders
            else None
        )
        # whether an event matches an opening stage, for :meth:`_accept_opening`: that stage's own
        # test when the opening stages are one
        tests = {id(test): test for test in (resolver.default.stages[term].test for term in opening)}
        self.opening_test = (
            next(iter(tests.values())) if len(tests) == 1 else stages_mask(resolver.default.stages, opening)
        )
        self.taken = -1  # the position of the last event taken through :meth:`targets`' functions

    def accept(self, position: int, item: Mapping[str, Any], source: Mapping[str, Any]) -> None:
        plan = self.resolver.default
        if self.resolver.by_index and item is not source:
            plan = self.resolver.by_index.get(item.get("_index", ""), plan)
        opening_mask = self.opening_mask
        if opening_mask is not None and self._idle(self.later_bits):
            # an opening event is then tested in full, so that it reaches the state machine as it
            # always did (its keys for other stages change nothing while nothing is under way)
            mask = plan.mask(source) if opening_mask(source) else 0
        else:
            mask = plan.mask(source)
        if mask:
            self._accept_matching(position, item, source, plan, mask)

    def targets(self, weight: Weight | None = None) -> list[Target]:
        """Where only opening stages are tested while nothing is under way (``opening_mask``), two:
        the opening stages' needs, and the later stages' (``until`` too). An event meeting only
        the later ones is then skipped without a test while the run is idle; one meeting both is
        taken once (the two are called with the same position, and the second does nothing)."""
        gate = self.gate(weight)
        bits = self.opening_bits
        later = [] if gate is None else [needs for term, needs in enumerate(gate) if not bits >> term & 1]
        if gate is None or self.opening_mask is None or not later:
            return [(gate, self.accept)]
        opening = [needs for term, needs in enumerate(gate) if bits >> term & 1]
        return [(opening, self._accept_opening), (later, self._accept_later)]

    def _accept_opening(self, position: int, item: Mapping[str, Any], source: Mapping[str, Any]) -> None:
        """:meth:`accept` written out for the case it serves (one schema, ``opening_mask`` set): an
        opening stage's target is called for a few events in every hundred."""
        if position == self.taken:
            return
        self.taken = position
        plan = self.resolver.default
        matcher = self.matcher
        if self.orderer.group or any(matcher.pending) or (self.later_trailing and matcher.completed):
            mask = plan.mask(source)  # under way: every stage tested
        else:  # idle (:meth:`_idle`): the opening stages first
            mask = plan.mask(source) if self.opening_test(source) else 0
        if mask:
            self._accept_matching(position, item, source, plan, mask)

    def _accept_later(self, position: int, item: Mapping[str, Any], source: Mapping[str, Any]) -> None:
        if position == self.taken:
            return  # taken already
        matcher = self.matcher
        if not (self.orderer.group or any(matcher.pending) or (self.later_trailing and matcher.completed)):
            return  # of no use (its opening stages' needs unmet, nothing under way): _idle, inline
        self.taken = position
        self.accept(position, item, source)  # under way: every stage tested

    def consume(self, events: Iterable[Mapping[str, Any]]) -> None:
        """Take every event; with one schema the events matching no stage (most) cost no method call."""
        if self.resolver.by_index:
            super().consume(events)
            return
        plan = self.resolver.default
        mask_of = plan.mask
        accept = self._accept_matching
        for position, item in enumerate(events):
            source = item.get("_source")
            if source is None:
                source = item
            mask = mask_of(source)
            if mask:
                accept(position, item, source, plan, mask)

    def _idle(self, mask: int) -> bool:
        """Streaming, whether no sequence could use an event matching the stages of ``mask``: none
        opens one, none is pending or held, and (for a trailing missing stage) none has completed."""
        if mask & self.opening_bits or self.orderer.group:
            return False
        matcher = self.matcher
        if any(matcher.pending):
            return False
        return not (mask & self.trailing_bits and matcher.completed)

    def _accept_matching(
        self, position: int, item: Mapping[str, Any], source: Mapping[str, Any], plan: Any, mask: int
    ) -> None:
        if self.useful is not None and not self.reorders and self._idle(mask):
            # nothing can use it: only its order is checked (a later, older event would have needed it)
            ts = plan.timestamp(source)
            if ts is not None:
                if ts < self.latest_ts:
                    raise UnsortedInputError(
                        f"events are not in timestamp order: {ts} ns after {self.latest_ts} ns"
                    )
                self.latest_ts = ts
            return
        stage_keys: dict[int, Keys] = {}
        read: Any = None  # the stage whose keys ``keys`` are (a stage ``with runs=N`` repeats)
        keys: Keys = []
        for term_index, stage in enumerate(plan.stages):
            if mask & (1 << term_index):
                if stage is not read:
                    read, keys = stage, stage.keys(source)
                if keys:
                    stage_keys[term_index] = keys
        until_keys: Keys = []
        until = plan.until
        if until is not None and mask & (1 << len(plan.stages)):
            until_keys = until.keys(source)
        if not stage_keys and not until_keys:
            return
        useful = self.useful
        if useful is None:
            self.raws.append(_Raw(position, item, source, plan, stage_keys, until_keys))
            return
        ordinal = ordinal_of(plan, source, position)
        if ordinal is None:
            return
        # Every candidate is checked for order, also those the state machine does not need now: a
        # later event that is older would have needed them.
        if ordinal[0] < self.latest_ts:
            raise UnsortedInputError(
                f"events are not in timestamp order: {ordinal[0]} ns after {self.latest_ts} ns"
            )
        self.latest_ts = ordinal[0]
        if not self.reorders and not useful(stage_keys, until_keys, ordinal[0]):
            return
        candidate = Candidate(ordinal, ordinal[0], (item, position), stage_keys, until_keys)
        self._release(self.orderer.push(candidate))

    def _release(self, ready: list[Candidate]) -> None:
        """Feed candidates released in order; with a tiebreaker, each only if of use as things stand."""
        useful = self.useful if self.reorders else None
        for candidate in ready:
            if useful is None or useful(candidate.stage_keys, candidate.until_keys, candidate.ts):
                self._feed(candidate)

    def _feed(self, candidate: Candidate) -> None:
        self.matcher.feed(candidate)
        if self.checker is not None:
            for missing in self.missing_stages:
                for key in candidate.stage_keys.get(missing.term_index, ()):
                    self.checker.add(missing.term_index, key, candidate.ts)

    def finish(self) -> dict[str, Any]:
        if self.presorted:
            self._release(self.orderer.flush())
        else:
            kept = _prune_unreachable(self.raws, self.positive, self.missing_stages)
            self.raws = []
            candidates = [c for c in (raw.candidate() for raw in kept) if c is not None]
            for candidate in sorted(candidates, key=lambda c: c.ordinal):
                self._feed(candidate)
        completed = self.matcher.completed
        if self.checker is not None:
            completed = [match for match in completed if self.checker.keeps(match)]
        completed.sort(key=lambda m: (m.events[-1].ordinal, tuple(sort_key(v) for v in m.key)))
        sequences = []
        for match in apply_limits(completed, self.limits):
            hits: list[dict[str, Any]] = []
            positive_events = iter(match.events)
            for term in self.query.terms:
                if term.missing:
                    hits.append(dict(MISSING_EVENT))
                else:
                    item, position = next(positive_events).hit
                    hits.append(hit_of(item, position))
            sequences.append({"join_keys": [key_json(v, sample=False) for v in match.key], "events": hits})
        return {"total": {"value": len(sequences), "relation": "eq"}, "sequences": sequences}


class SampleRun(Run):
    """A sample query: candidates grouped by key, combined into samples at the end."""

    def __init__(self, query: ast.SampleQuery, resolver: PlanResolver, size: int, max_per_key: int) -> None:
        self.filters = len(query.terms)
        self.resolver = resolver
        self.size = size
        self.max_per_key = max_per_key
        self.per_key: dict[tuple[Any, ...], list[list[tuple[int, Any]]]] = {}

    def accept(self, position: int, item: Mapping[str, Any], source: Mapping[str, Any]) -> None:
        _source, _index, plan = self.resolver.resolve(item)
        for term_index, stage in enumerate(plan.stages):
            if not stage.test(source):
                continue
            for key in stage.keys(source):
                slots = self.per_key.setdefault(key, [[] for _ in range(self.filters)])
                slots[term_index].append((position, (item, position)))

    def finish(self) -> dict[str, Any]:
        samples = build_samples(
            self.per_key,
            self.filters,
            self.max_per_key,
            self.size,
            key_order=lambda key: tuple(sort_key(v) for v in key),
        )
        result = [
            {
                "join_keys": [key_json(v, sample=True) for v in key],
                "events": [hit_of(item, position) for item, position in chosen],
            }
            for key, chosen in samples
        ]
        return {"total": {"value": len(result), "relation": "eq"}, "sequences": result}


class _Reversed:
    """Inverts the ordering of an ordinal, so a min-heap keeps the earliest entries."""

    __slots__ = ("inner",)

    def __init__(self, inner: tuple[Any, ...]) -> None:
        self.inner = inner

    def __lt__(self, other: _Reversed) -> bool:
        return self.inner > other.inner

    def __gt__(self, other: _Reversed) -> bool:
        return self.inner < other.inner

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reversed) and self.inner == other.inner

    def __hash__(self) -> int:
        return hash(self.inner)


def ordinal_of(
    plan: Plan, source: Mapping[str, Any], position: int, *, null_tiebreaker: int = 1
) -> tuple[Any, ...] | None:
    """(timestamp, tiebreaker presence, tiebreaker, input position).

    Sequences order events without a tiebreaker after those with one (``Ordinal.compareTo``);
    event queries sort them first (the search sorts with ``missing: _first`` ascending).
    """
    ts = plan.timestamp(source)
    if ts is None:
        return None
    tiebreaker = plan.tiebreaker
    if tiebreaker is None:
        return (int(ts), 0, 0, position)
    value = tiebreaker(source)
    if value is None:
        return (int(ts), null_tiebreaker, 0, position)
    return (int(ts), 1 - null_tiebreaker, sort_key(value), position)


@dataclass(slots=True)
class _Raw:
    """An event that matched some stage, before its ordinal (timestamp) is computed."""

    position: int
    item: Mapping[str, Any]
    source: Mapping[str, Any]
    plan: Plan
    stage_keys: dict[int, list[tuple[Any, ...]]]
    until_keys: list[tuple[Any, ...]]

    def candidate(self) -> Candidate | None:
        """The candidate for the state machine, or None when the event has no timestamp."""
        ordinal = ordinal_of(self.plan, self.source, self.position)
        if ordinal is None:
            return None
        return Candidate(ordinal, ordinal[0], (self.item, self.position), self.stage_keys, self.until_keys)


def _prune_unreachable(raws: list[_Raw], positive: list[int], missing: list[MissingStage]) -> list[_Raw]:
    """Drop join keys no sequence can reach, before anything is sorted.

    All stages of a sequence share one composite key, so a key at positive stage *j* that never
    occurs at stage *j-1* can never extend a sequence; nor can until or missing-stage events of
    keys that never start one. Removing them changes no result.
    """
    reachable: list[set[tuple[Any, ...]]] = []
    for index, term in enumerate(positive):
        found: set[tuple[Any, ...]] = set()
        for raw in raws:
            keys = raw.stage_keys.get(term)
            if keys is None:
                continue
            if index:
                previous = reachable[-1]
                keys = [key for key in keys if key in previous]
                if keys:
                    raw.stage_keys[term] = keys
                else:
                    del raw.stage_keys[term]
                    continue
            found.update(keys)
        reachable.append(found)
    starts = reachable[0] if reachable else set()
    in_flight = set().union(*reachable[:-1]) if len(reachable) > 1 else starts
    missing_terms = [stage.term_index for stage in missing]
    kept: list[_Raw] = []
    for raw in raws:
        for term in missing_terms:
            keys = raw.stage_keys.get(term)
            if keys is not None:
                keys = [key for key in keys if key in starts]
                if keys:
                    raw.stage_keys[term] = keys
                else:
                    del raw.stage_keys[term]
        if raw.until_keys:
            raw.until_keys = [key for key in raw.until_keys if key in in_flight]
        if raw.stage_keys or raw.until_keys:
            kept.append(raw)
    return kept


class _Orderer:
    """Passes on candidates of non-decreasing timestamps; a run of equal timestamps is released
    sorted by ordinal (tiebreaker, then input position) once a later timestamp arrives."""

    def __init__(self) -> None:
        self.group: list[Candidate] = []
        self.group_ts: int | None = None

    def push(self, candidate: Candidate) -> list[Candidate]:
        """Accept a candidate; return those now ready, in ordinal order."""
        ready: list[Candidate] = []
        if self.group_ts is not None and candidate.ts != self.group_ts:
            if candidate.ts < self.group_ts:
                raise UnsortedInputError(
                    f"events are not in timestamp order: {candidate.ts} ns after {self.group_ts} ns"
                )
            ready = self.flush()
        self.group_ts = candidate.ts
        self.group.append(candidate)
        return ready

    def flush(self) -> list[Candidate]:
        """Release every held candidate."""
        ready = sorted(self.group, key=lambda c: c.ordinal)
        self.group = []
        return ready


def stages_mask(stages: Sequence[Stage], terms: Iterable[int]) -> Callable[[Mapping[str, Any]], int]:
    """A plan's ``mask`` reduced to the stages ``terms`` (one test each)."""
    tests = [(1 << term, stages[term].test) for term in sorted(terms)]
    if len(tests) == 1:
        ((bit, test),) = tests
        return lambda source: bit if test(source) else 0
    return lambda source: sum(bit for bit, test in tests if test(source))


def _opening_and_trailing(positive: list[int], missing: list[MissingStage]) -> tuple[set[int], set[int]]:
    """The terms an event is always kept for (the first positive stage, missing stages before it),
    and the missing stages after the last positive one."""
    opening = {positive[0], *(stage.term_index for stage in missing if stage.before_positive == 0)}
    trailing = {stage.term_index for stage in missing if stage.before_positive == len(positive)}
    return opening, trailing


def _usefulness(
    matcher: SequenceMatcher, orderer: _Orderer, positive: list[int], missing: list[MissingStage]
) -> Callable[[dict[int, list[tuple[Any, ...]]], list[tuple[Any, ...]], int], bool]:
    """For streamed input: does an event matter to the state machine as it stands?

    A later-stage event matters only if its key has a sequence waiting at the previous stage
    (fed already, or held among candidates of the same timestamp); an until event only if its key
    has any sequence in flight. First-stage events always matter, and so do events of a missing
    stage before the first positive one (a later sequence looks back at them). A missing-stage event
    between two positive stages matters only if its key waits at the stage before it; one after the
    last positive stage only if a sequence of its key completed within ``maxspan`` before it (only
    the first such event after a sequence decides, and any earlier one is kept), or may complete now
    among the held candidates.
    """
    previous = {term: positive[index - 1] for index, term in enumerate(positive) if index > 0}
    stage_of = {term: index for index, term in enumerate(positive)}
    always, trailing = _opening_and_trailing(positive, missing)
    middle = {
        stage.term_index: stage.before_positive - 1
        for stage in missing
        if 0 < stage.before_positive < len(positive)
    }
    maxspan = matcher.maxspan
    started: dict[tuple[Any, ...], int] = {}  # key -> latest first timestamp of a completed sequence
    seen = [0]  # completed sequences already read into ``started``

    def waiting_at(stage: int, key: tuple[Any, ...]) -> bool:
        if key in matcher.pending[stage]:
            return True
        term = positive[stage]
        return any(key in candidate.stage_keys.get(term, ()) for candidate in orderer.group)

    def waiting(term: int, key: tuple[Any, ...]) -> bool:
        return waiting_at(stage_of[previous[term]], key)

    def after_completed(key: tuple[Any, ...], ts: int) -> bool:
        completed = matcher.completed
        for match in completed[seen[0] :]:
            first = match.events[0].ts
            if first > started.get(match.key, first - 1):
                started[match.key] = first
        seen[0] = len(completed)
        latest = started.get(key)
        if latest is not None and (maxspan is None or ts - latest <= maxspan):
            return True
        return any(key in keys for candidate in orderer.group for keys in candidate.stage_keys.values())

    def useful(
        stage_keys: dict[int, list[tuple[Any, ...]]], until_keys: list[tuple[Any, ...]], ts: int
    ) -> bool:
        for term, keys in stage_keys.items():
            if term in always:
                return True
            if term in middle:
                if any(waiting_at(middle[term], key) for key in keys):
                    return True
            elif term in trailing:
                if any(after_completed(key, ts) for key in keys):
                    return True
            elif any(waiting(term, key) for key in keys):
                return True
        for key in until_keys:
            if any(key in stage for stage in matcher.pending):
                return True
            if any(key in keys for candidate in orderer.group for keys in candidate.stage_keys.values()):
                return True
        return False

    return useful


def apply_limits(items: list[Any], limits: list[tuple[str, int]]) -> list[Any]:
    for kind, count in limits:
        items = items[:count] if kind == "head" else (items[-count:] if count > 0 else [])
    return items


def hit_of(item: Mapping[str, Any], position: int) -> dict[str, Any]:
    source = item.get("_source")
    if source is None:
        return {"_index": "", "_id": str(position), "_source": item}
    return {"_index": item.get("_index", ""), "_id": item.get("_id", str(position)), "_source": source}


def key_json(value: Any, *, sample: bool) -> Any:
    if isinstance(value, DateValue):
        if sample:
            return str(int(value) // 1_000_000)
        return value.iso()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    ipv4 = getattr(value, "ipv4_mapped", None)
    if ipv4 is not None:
        return str(ipv4)
    return str(value)
