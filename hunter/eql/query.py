"""``CompiledQuery``: a checked EQL statement, planned per schema and run over events.

Planning turns the analysed where-clauses into generated predicates (:mod:`.codegen`) and join
key readers; running (:mod:`.runs`) makes one pass over the events and returns the shape of the
``hits`` object of Elasticsearch's EQL search response.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from . import ast
from .analyzer import Analyzer, Node
from .codegen import generate, generate_keys, generate_mask
from .collector import paused_collector
from .compiler import Compiler, ValuesFn
from .errors import EqlSemanticError, EqlSyntaxError
from .parser import parse
from .plan import Plan, PlanResolver, SchemaArg, Stage
from .runs import EventRun, ResultPosition, Run, SampleRun, SequenceRun, limits_for, stages_mask
from .schema import FieldInfo, Schema


def compile_query(text: str) -> CompiledQuery:
    """Parse and check ``text``; raise :class:`EqlSyntaxError`/:class:`EqlSemanticError` with line/column."""
    try:
        statement = parse(text)
        compiled = CompiledQuery(text, statement)
        compiled.plan(None, "@timestamp", "event.category", None)  # schema-free verification
    except RecursionError:
        # Elasticsearch's EqlParser turns a StackOverflowError into the same ParsingException
        raise EqlSyntaxError(
            f"EQL statement is too large, causing stack overflow when generating the parsing tree: [{text}]"
        ) from None
    return compiled


@dataclass(frozen=True, slots=True)
class FieldUse:
    """Where a query reads a field: ``stage`` (which term, or None for an event query) and ``role``."""

    field: str
    role: str  # "condition", "join_key", "until", "missing"
    stage: int | None
    optional: bool = False


class CompiledQuery:
    """A checked EQL statement, ready to :meth:`search` event collections."""

    def __init__(self, text: str, statement: ast.Statement) -> None:
        self.text = text
        self.statement = statement
        self._plans: dict[tuple[Any, ...], Plan] = {}

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
        multi_fields: Mapping[str, FieldInfo] | None = None,
    ) -> Plan:
        """Analyse and compile the statement for one schema (cached).

        Fields are resolved against ``resolve_with`` (all searched indices together, as
        Elasticsearch's field capabilities) and typed by ``schema`` (the event's own index).
        Without a schema, ``multi_fields`` (from a mapping: ``process.executable.caseless``) say how
        those names read their parent field; other fields are read as they come.
        """
        cache_key = (
            id(schema),
            id(resolve_with),
            id(multi_fields),
            timestamp_field,
            category_field,
            tiebreaker_field,
        )
        found = self._plans.get(cache_key)
        if found is not None:
            return found
        resolution = resolve_with if resolve_with is not None else schema
        analyzer = Analyzer(resolution)
        compiler = Compiler(schema, timestamp_field, multi_fields=multi_fields)
        if resolution is not None:
            needed = [tiebreaker_field] if self.kind == "sample" else [timestamp_field, tiebreaker_field]
            for name in filter(None, needed):
                if resolution.lookup(name) is None:
                    raise EqlSemanticError(f"Unknown column [{name}]")
        query = self.statement.query

        conditions: list[tuple[Node, str | None]] = []
        deferred: list[bool] = []

        def stage(term_filter: ast.EventFilter, keys: tuple[ast.Expr, ...]) -> Stage:
            condition: Node = analyzer.condition(term_filter.condition)
            conditions.append((condition, term_filter.category))
            defer = _writes_safely_later(condition, category_field)
            deferred.append(defer)
            key_fns = []
            key_fields = []
            for key in keys:
                resolved = analyzer.key(key)
                optional = isinstance(key, ast.Field) and key.optional
                key_fns.append(compiler.key_values(resolved, optional))
                key_fields.append(resolved.name if isinstance(resolved, ast.Field) and not optional else "")

            def composite(source: Mapping[str, Any]) -> list[tuple[Any, ...]]:
                return _composite_keys(key_fns, source)

            keys_fn = (
                generate_keys(compiler, key_fields, composite, defer=defer) if all(key_fields) else composite
            )
            test = generate(compiler, condition, term_filter.category, category_field, defer=defer)
            return Stage(test, keys_fn)

        if isinstance(query, ast.EventQuery):
            stages = [stage(query.filter, ())]
            until = None
        else:
            # a stage ``with runs=N`` is one term N times: compiled once, the same Stage N times
            made: dict[int, Stage] = {}
            stages = []
            for term in query.terms:
                compiled = made.get(id(term))
                if compiled is None:
                    compiled = made[id(term)] = stage(term.filter, (*query.keys, *term.keys))
                else:
                    first = stages.index(compiled)
                    conditions.append(conditions[first])
                    deferred.append(deferred[first])
                stages.append(compiled)
            until = None
            if isinstance(query, ast.SequenceQuery) and query.until is not None:
                until = stage(query.until.filter, (*query.keys, *query.until.keys))
        timestamp = compiler.access(timestamp_field)
        mask = (
            generate_mask(compiler, conditions, category_field, defer=all(deferred))
            if len(conditions) > 1
            else stages_mask(stages, [0])
        )
        tiebreaker = compiler.access(tiebreaker_field).first if tiebreaker_field else None
        plan = Plan(
            kind=self.kind,
            stages=stages,
            until=until,
            mask=mask,
            timestamp=compiler.timestamp_reader(timestamp),
            tiebreaker=tiebreaker,
            compiler=compiler,
            category_field=category_field,
            conditions=conditions,
            nanos=timestamp.info is not None and timestamp.info.type == "date_nanos",
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
        presorted: bool = False,
    ) -> dict[str, Any]:
        """Run the query over ``events`` and return Elasticsearch's ``hits`` object.

        ``events`` yields hits (``{"_index", "_id", "_source"}``) or plain documents (given
        ``_index`` ``""`` and ``_id`` their position). ``schema`` is a :class:`Schema` for all
        events, a mapping of index name to schema, or None to read values as they come.

        Sequence queries keep every candidate event (one that matches some stage) until the end
        and then sort them, which is exact for input in any order. With ``presorted=True`` the
        caller promises non-decreasing timestamps; candidates then stream through the state
        machine as they come, so memory stays bounded by the pending sequences, and an event
        older than an earlier candidate raises :class:`UnsortedInputError` rather than give a
        wrong answer.
        """
        run = self.run(
            size=size,
            timestamp_field=timestamp_field,
            event_category_field=event_category_field,
            tiebreaker_field=tiebreaker_field,
            result_position=result_position,
            max_samples_per_key=max_samples_per_key,
            schema=schema,
            presorted=presorted,
        )
        with paused_collector():
            run.consume(events)
            return run.finish()

    def run(
        self,
        *,
        size: int = 10,
        timestamp_field: str = "@timestamp",
        event_category_field: str = "event.category",
        tiebreaker_field: str | None = None,
        result_position: ResultPosition = "tail",
        max_samples_per_key: int = 1,
        schema: SchemaArg = None,
        presorted: bool = False,
        multi_fields: Mapping[str, FieldInfo] | None = None,
        ordered_upstream: bool = False,
    ) -> Run:
        """A consumer of events for this query (see :func:`search_many`); same options as :meth:`search`,
        ``multi_fields`` for events without a schema (see :meth:`plan`), and ``ordered_upstream``
        when the caller raises :class:`UnsortedInputError` itself on an event older than an earlier
        one on ``timestamp_field`` (with ``presorted``: a sequence then tests only its opening stages
        while no sequence is under way)."""
        if result_position not in ("head", "tail"):
            raise ValueError("result_position must be 'head' or 'tail'")
        resolver = PlanResolver(
            self.plan,
            schema,
            timestamp_field,
            event_category_field,
            tiebreaker_field,
            multi_fields=multi_fields,
        )
        query = self.statement.query
        if isinstance(query, ast.SequenceQuery):
            return SequenceRun(
                query,
                resolver,
                limits_for(self.statement, size, result_position),
                presorted,
                ordered_upstream=ordered_upstream,
            )
        if isinstance(query, ast.SampleQuery):
            return SampleRun(query, resolver, size, max_samples_per_key)
        return EventRun(resolver, limits_for(self.statement, size, result_position))


# Generating a where-clause's code recurses about three times per level of the clause, and reads
# of a field path are generated as one nested block per part: well within Python's limits up to these.
_DEFER_MAX_DEPTH = 64
_DEFER_MAX_PATH = 16


def _writes_safely_later(condition: Node, category_field: str) -> bool:
    """Whether the code of an analysed where-clause can be written when an event first needs it.

    Writing it cannot fail then, as it did not fail before: analysis (done now) raises every
    error a query can have, and what writing adds can only fail on a clause so deep that Python
    runs out of stack, a field path so long that Python refuses its nesting, or a regex Python's
    ``re`` refuses. A clause that could meet one of those has its code written at once, as ever.
    """
    if len(category_field.split(".")) > _DEFER_MAX_PATH:
        return False
    pending: list[tuple[Any, int]] = [(condition, 1)]
    while pending:
        node, depth = pending.pop()
        kind = node.__class__
        if kind is ast.Field:
            if len(node.path) > _DEFER_MAX_PATH:
                return False
            continue
        if depth > _DEFER_MAX_DEPTH or (kind is ast.Match and node.kind == "regex"):
            return False
        children = node if kind is tuple else [getattr(node, name) for name in ast.child_slots(kind)]
        pending.extend(
            (child, depth + 1)
            for child in children
            if child.__class__ is not ast.Literal
            and (child.__class__ is tuple or ast.child_slots(child.__class__))
        )
    return True


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


def _collect(node: Any, role: str, stage: int | None, out: list[FieldUse]) -> None:
    if isinstance(node, ast.Field):
        out.append(FieldUse(node.name, role, stage, node.optional))
        return
    if isinstance(node, tuple):
        for item in node:
            _collect(item, role, stage, out)
        return
    for name in ast.child_slots(node.__class__):
        child = getattr(node, name, None)
        if isinstance(child, ast.Field | tuple) or hasattr(child, "__slots__"):
            _collect(child, role, stage, out)
