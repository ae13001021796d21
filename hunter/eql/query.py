"""``CompiledQuery``: run a parsed EQL statement over an iterable of events, as Elasticsearch would.

Events are read once, in a single pass; only events that match a stage, an ``until`` or a
missing-event stage are kept, so memory follows the candidates, not the input. Results have the
shape of the ``hits`` object of Elasticsearch's EQL search response.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from . import ast
from .analyzer import Analyzer, Node
from .compiler import Compiler, Pred, ValuesFn, sort_key
from .errors import EqlSemanticError
from .parser import parse
from .samples import build_samples
from .schema import Schema, merge
from .sequences import Candidate, MissingChecker, MissingStage, SequenceMatcher
from .values import DateValue, NanosDateValue

ResultPosition = Literal["head", "tail"]
SchemaArg = Schema | Mapping[str, Schema] | None

MISSING_EVENT: dict[str, Any] = {"_index": "", "_id": "", "_source": {}, "missing": True}


def compile_query(text: str) -> CompiledQuery:
    """Parse and check ``text``; raise :class:`EqlSyntaxError`/:class:`EqlSemanticError` with line/column."""
    statement = parse(text)
    compiled = CompiledQuery(text, statement)
    compiled.plan(None, "@timestamp", "event.category", None)  # schema-free verification
    return compiled


@dataclass(frozen=True, slots=True)
class FieldUse:
    """Where a query reads a field: ``stage`` (which term, or None for an event query) and ``role``."""

    field: str
    role: str  # "condition", "join_key", "until", "missing"
    stage: int | None
    optional: bool = False


@dataclass(slots=True)
class _Stage:
    category: str | None
    pred: Pred
    keys: list[ValuesFn]


@dataclass(slots=True)
class _Plan:
    kind: str
    stages: list[_Stage]
    until: _Stage | None
    timestamp: Callable[[Mapping[str, Any]], Any]
    tiebreaker: Callable[[Mapping[str, Any]], Any] | None
    category_values: Callable[[Mapping[str, Any]], Any]
    category_raw: Callable[[Mapping[str, Any]], Any]
    category_dynamic: bool
    extra: dict[str, Any] = field(default_factory=dict)


class CompiledQuery:
    """A checked EQL statement, ready to :meth:`search` event collections."""

    def __init__(self, text: str, statement: ast.Statement) -> None:
        self.text = text
        self.statement = statement
        self._plans: dict[tuple[Any, ...], _Plan] = {}

    # ---- facts about the query ---------------------------------------------------------------

    @property
    def kind(self) -> str:
        """``event``, ``sequence`` or ``sample``."""
        query = self.statement.query
        if isinstance(query, ast.SequenceQuery):
            return "sequence"
        if isinstance(query, ast.SampleQuery):
            return "sample"
        return "event"

    @property
    def maxspan_ns(self) -> int | None:
        """The sequence's ``maxspan`` in nanoseconds, if any."""
        query = self.statement.query
        return query.maxspan_ns if isinstance(query, ast.SequenceQuery) else None

    def field_uses(self) -> list[FieldUse]:
        """Every field the query reads, with the stage and role it is read for."""
        uses: list[FieldUse] = []
        query = self.statement.query
        if isinstance(query, ast.EventQuery):
            _collect(query.filter.condition, "condition", None, uses)
            return uses
        terms = list(query.terms)
        for index, term in enumerate(terms):
            role = "missing" if term.missing else "condition"
            _collect(term.filter.condition, role, index, uses)
            for key in (*query.keys, *term.keys):
                _collect(key, "join_key", index, uses)
        if isinstance(query, ast.SequenceQuery) and query.until is not None:
            _collect(query.until.filter.condition, "until", None, uses)
        return uses

    def categories(self) -> list[str | None]:
        """Event category of each stage (None for ``any``)."""
        query = self.statement.query
        if isinstance(query, ast.EventQuery):
            return [query.filter.category]
        return [term.filter.category for term in query.terms]

    # ---- planning ------------------------------------------------------------------------------

    def plan(
        self,
        schema: Schema | None,
        timestamp_field: str,
        category_field: str,
        tiebreaker_field: str | None,
        *,
        resolve_with: Schema | None = None,
    ) -> _Plan:
        """Analyse and compile the statement for one schema (cached).

        Fields are resolved against ``resolve_with`` (all searched indices together, as
        Elasticsearch's field capabilities) and typed by ``schema`` (the event's own index).
        """
        cache_key = (id(schema), id(resolve_with), timestamp_field, category_field, tiebreaker_field)
        found = self._plans.get(cache_key)
        if found is not None:
            return found
        resolution = resolve_with if resolve_with is not None else schema
        analyzer = Analyzer(resolution)
        compiler = Compiler(schema, timestamp_field)
        if resolution is not None:
            needed = [tiebreaker_field] if self.kind == "sample" else [timestamp_field, tiebreaker_field]
            for name in filter(None, needed):
                if resolution.lookup(name) is None:
                    raise EqlSemanticError(f"Unknown column [{name}]")
        query = self.statement.query
        category_access = compiler.access(category_field)

        def stage(term_filter: ast.EventFilter, keys: tuple[ast.Expr, ...]) -> _Stage:
            condition: Node = analyzer.condition(term_filter.condition)
            key_fns = []
            for key in keys:
                resolved = analyzer.key(key)
                optional = isinstance(key, ast.Field) and key.optional
                key_fns.append(compiler.key_values(resolved, optional))
            return _Stage(term_filter.category, compiler.condition(condition), key_fns)

        if isinstance(query, ast.EventQuery):
            stages = [stage(query.filter, ())]
            until = None
        else:
            stages = [stage(term.filter, (*query.keys, *term.keys)) for term in query.terms]
            until = None
            if isinstance(query, ast.SequenceQuery) and query.until is not None:
                until = stage(query.until.filter, (*query.keys, *query.until.keys))
        timestamp = compiler.access(timestamp_field)
        tiebreaker = compiler.access(tiebreaker_field).first if tiebreaker_field else None
        plan = _Plan(
            kind=self.kind,
            stages=stages,
            until=until,
            timestamp=timestamp.first,
            tiebreaker=tiebreaker,
            category_values=category_access.values,
            category_raw=category_access.raw,
            category_dynamic=category_access.dynamic,
            extra={"nanos": timestamp.info is not None and timestamp.info.type == "date_nanos"},
        )
        self._plans[cache_key] = plan
        return plan

    # ---- search ----------------------------------------------------------------------------------

    def search(
        self,
        events: Iterable[Mapping[str, Any]],
        *,
        size: int = 10,
        timestamp_field: str = "@timestamp",
        event_category_field: str = "event.category",
        tiebreaker_field: str | None = None,
        result_position: ResultPosition = "tail",
        max_samples_per_key: int = 1,
        schema: SchemaArg = None,
    ) -> dict[str, Any]:
        """Run the query over ``events`` and return Elasticsearch's ``hits`` object.

        ``events`` yields hits (``{"_index", "_id", "_source"}``) or plain documents (given
        ``_index`` ``""`` and ``_id`` their position). ``schema`` is a :class:`Schema` for all
        events, a mapping of index name to schema, or None to read values as they come.
        """
        if result_position not in ("head", "tail"):
            raise ValueError("result_position must be 'head' or 'tail'")
        resolver = _PlanResolver(self, schema, timestamp_field, event_category_field, tiebreaker_field)
        kind = self.kind
        if kind == "event":
            return self._search_events(events, resolver, self._limits(size, result_position))
        if kind == "sequence":
            return self._search_sequences(events, resolver, self._limits(size, result_position))
        return self._search_samples(events, resolver, size, max_samples_per_key)

    def _limits(self, size: int, result_position: ResultPosition) -> list[tuple[str, int]]:
        # Elasticsearch inserts the default limit (size, in the result_position direction) below
        # the first head/tail pipe, taking the pipe's direction; without pipes it applies alone.
        limits: list[tuple[str, int]] = []
        pipes = self.statement.pipes
        if pipes:
            limits.append((pipes[0].kind, size))
            limits.extend((pipe.kind, pipe.count) for pipe in pipes)
        else:
            limits.append((result_position, size))
        return limits

    def _search_events(
        self, events: Iterable[Mapping[str, Any]], resolver: _PlanResolver, limits: list[tuple[str, int]]
    ) -> dict[str, Any]:
        first_kind, window = limits[0]
        heap: list[tuple[Any, ...]] = []
        keep_latest = first_kind == "tail"
        for position, item in enumerate(events):
            source, _index, plan = resolver.resolve(item)
            stage = plan.stages[0]
            if not _category_matches(plan, stage.category, source):
                continue
            if not stage.pred(source):
                continue
            ordinal = _ordinal(plan, source, position, null_tiebreaker=0)
            if ordinal is None:
                continue
            entry_key = ordinal if keep_latest else _Reversed(ordinal)
            entry = (entry_key, position, item)
            if len(heap) < window:
                heapq.heappush(heap, entry)
            elif window > 0 and entry_key > heap[0][0]:
                heapq.heapreplace(heap, entry)
        chosen = sorted(heap, key=lambda e: e[0] if keep_latest else e[0].inner)
        selected = _apply_limits([(entry[2], entry[1]) for entry in chosen], limits[1:])
        hits = [_hit(item, position) for item, position in selected]
        return {"total": {"value": len(hits), "relation": "eq"}, "events": hits}

    def _search_sequences(
        self, events: Iterable[Mapping[str, Any]], resolver: _PlanResolver, limits: list[tuple[str, int]]
    ) -> dict[str, Any]:
        query = self.statement.query
        assert isinstance(query, ast.SequenceQuery)
        terms = query.terms
        positive = [index for index, term in enumerate(terms) if not term.missing]
        missing_stages: list[MissingStage] = []
        for index, term in enumerate(terms):
            if term.missing:
                before = sum(1 for p in positive if p < index)
                missing_stages.append(MissingStage(index, before))
        candidates: list[Candidate] = []
        for position, item in enumerate(events):
            source, _index, plan = resolver.resolve(item)
            stage_keys: dict[int, list[tuple[Any, ...]]] = {}
            for term_index, stage in enumerate(plan.stages):
                if not _category_matches(plan, stage.category, source) or not stage.pred(source):
                    continue
                keys = _composite_keys(stage.keys, source)
                if keys:
                    stage_keys[term_index] = keys
            until_keys: list[tuple[Any, ...]] = []
            until = plan.until
            if until is not None and _category_matches(plan, until.category, source) and until.pred(source):
                until_keys = _composite_keys(until.keys, source)
            if not stage_keys and not until_keys:
                continue
            ordinal = _ordinal(plan, source, position)
            if ordinal is None:
                continue
            candidates.append(Candidate(ordinal, ordinal[0], (item, position), stage_keys, until_keys))
        candidates.sort(key=lambda c: c.ordinal)
        matcher = SequenceMatcher(positive, query.maxspan_ns, query.until is not None)
        checker = (
            MissingChecker(missing_stages, len(positive), query.maxspan_ns or 0) if missing_stages else None
        )
        for candidate in candidates:
            matcher.feed(candidate)
            if checker is not None:
                for missing in missing_stages:
                    for key in candidate.stage_keys.get(missing.term_index, ()):
                        checker.add(missing.term_index, key, candidate.ts)
        completed = matcher.completed
        if checker is not None:
            completed = [match for match in completed if checker.keeps(match)]
        completed.sort(key=lambda m: (m.events[-1].ordinal, tuple(sort_key(v) for v in m.key)))
        selected = _apply_limits(completed, limits)
        nanos = resolver.nanos
        sequences = []
        for match in selected:
            hits: list[dict[str, Any]] = []
            positive_events = iter(match.events)
            for term in terms:
                if term.missing:
                    hits.append(dict(MISSING_EVENT))
                else:
                    item, position = next(positive_events).hit
                    hits.append(_hit(item, position))
            sequences.append(
                {"join_keys": [_key_json(v, sample=False, nanos=nanos) for v in match.key], "events": hits}
            )
        return {"total": {"value": len(sequences), "relation": "eq"}, "sequences": sequences}

    def _search_samples(
        self, events: Iterable[Mapping[str, Any]], resolver: _PlanResolver, size: int, max_per_key: int
    ) -> dict[str, Any]:
        query = self.statement.query
        assert isinstance(query, ast.SampleQuery)
        filters = len(query.terms)
        per_key: dict[tuple[Any, ...], list[list[tuple[int, Any]]]] = {}
        for position, item in enumerate(events):
            source, _index, plan = resolver.resolve(item)
            for term_index, stage in enumerate(plan.stages):
                if not _category_matches(plan, stage.category, source) or not stage.pred(source):
                    continue
                for key in _composite_keys(stage.keys, source):
                    slots = per_key.setdefault(key, [[] for _ in range(filters)])
                    slots[term_index].append((position, (item, position)))
        samples = build_samples(
            per_key, filters, max_per_key, size, key_order=lambda key: tuple(sort_key(v) for v in key)
        )
        result = []
        for key, chosen in samples:
            result.append(
                {
                    "join_keys": [_key_json(v, sample=True, nanos=False) for v in key],
                    "events": [_hit(item, position) for item, position in chosen],
                }
            )
        return {"total": {"value": len(result), "relation": "eq"}, "sequences": result}


class _PlanResolver:
    """Picks the compiled plan for each event (per-index schemas) and splits hits from documents."""

    def __init__(
        self,
        query: CompiledQuery,
        schema: SchemaArg,
        timestamp_field: str,
        category_field: str,
        tiebreaker_field: str | None,
    ) -> None:
        self.query = query
        self.args = (timestamp_field, category_field, tiebreaker_field)
        self.by_index: dict[str, _Plan] = {}
        if schema is None or isinstance(schema, Schema):
            self.default = query.plan(schema, *self.args)
        else:
            merged = merge(schema.values())
            self.default = query.plan(merged, *self.args)
            for name, index_schema in schema.items():
                self.by_index[name] = query.plan(index_schema, *self.args, resolve_with=merged)
        self.nanos = bool(self.default.extra.get("nanos"))

    def resolve(self, item: Mapping[str, Any]) -> tuple[Mapping[str, Any], str, _Plan]:
        source = item.get("_source")
        if source is None:
            return item, "", self.default
        index = item.get("_index", "")
        if self.by_index:
            return source, index, self.by_index.get(index, self.default)
        return source, index, self.default


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


def _category_matches(plan: _Plan, category: str | None, source: Mapping[str, Any]) -> bool:
    if category is None:
        return True
    if plan.category_dynamic:
        value = plan.category_raw(source)
        if value.__class__ is str:
            return bool(value == category)
        if value.__class__ is list:
            return category in value
        return False
    return category in plan.category_values(source)


def _ordinal(
    plan: _Plan, source: Mapping[str, Any], position: int, *, null_tiebreaker: int = 1
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


def _composite_keys(key_fns: list[ValuesFn], source: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    if not key_fns:
        return [()]
    parts = []
    for key_fn in key_fns:
        values = key_fn(source)
        if not values:
            return []
        parts.append(values)
    if all(len(p) == 1 for p in parts):
        return [tuple(p[0] for p in parts)]
    return list(itertools.product(*parts))


def _apply_limits(items: list[Any], limits: list[tuple[str, int]]) -> list[Any]:
    for kind, count in limits:
        items = items[:count] if kind == "head" else (items[-count:] if count > 0 else [])
    return items


def _hit(item: Mapping[str, Any], position: int) -> dict[str, Any]:
    source = item.get("_source")
    if source is None:
        return {"_index": "", "_id": str(position), "_source": item}
    return {"_index": item.get("_index", ""), "_id": item.get("_id", str(position)), "_source": source}


def _key_json(value: Any, *, sample: bool, nanos: bool) -> Any:
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


def _collect(node: Any, role: str, stage: int | None, out: list[FieldUse]) -> None:
    if isinstance(node, ast.Field):
        out.append(FieldUse(node.name, role, stage, node.optional))
        return
    if isinstance(node, tuple):
        for item in node:
            _collect(item, role, stage, out)
        return
    for name in getattr(node, "__slots__", ()):
        if name == "pos":
            continue
        child = getattr(node, name, None)
        if isinstance(child, ast.Field | tuple) or hasattr(child, "__slots__"):
            _collect(child, role, stage, out)


_ = NanosDateValue
