"""A query compiled for one schema (``Plan``), and picking the plan of each event (``PlanResolver``).

:mod:`.query` makes plans; :mod:`.runs` and :mod:`.dispatch` use them. Neither needs the other:
a run receives a :class:`Planner` (the query's ``plan`` method), which keeps the import one way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .analyzer import Node
from .compiler import Compiler, Pred
from .schema import FieldInfo, Schema, merge

SchemaArg = Schema | Mapping[str, Schema] | None
Keys = list[tuple[Any, ...]]


@dataclass(slots=True)
class Stage:
    """One term of a query: its test (category and where-clause) and its join-key reader."""

    test: Pred
    keys: Callable[[Mapping[str, Any]], Keys]


@dataclass(slots=True)
class Plan:
    """A statement compiled for one schema: stage tests, join keys, timestamp and tiebreaker readers.

    ``conditions`` keeps each stage's analysed where-clause and category (the ``until`` clause last,
    when there is one) for those that reason about what an event must carry (:mod:`.gates`).
    """

    kind: str
    stages: list[Stage]
    until: Stage | None
    mask: Callable[[Mapping[str, Any]], int]  # bit i: stage i matches; bit len(stages): until
    timestamp: Callable[[Mapping[str, Any]], Any]
    tiebreaker: Callable[[Mapping[str, Any]], Any] | None
    compiler: Compiler
    category_field: str
    conditions: list[tuple[Node, str | None]] = field(default_factory=list)
    nanos: bool = False
    # the literal keys of each leaf of ``conditions`` (by the leaf's id), found once for every gate
    # planned from this plan (:mod:`.gates`: a pass plans each run's gate twice, every pass again)
    leaf_keys: dict[int, Any] = field(default_factory=dict)


class Planner(Protocol):
    """What a run needs of its query: a (cached) plan per schema and field names."""

    def __call__(
        self,
        schema: Schema | None,
        timestamp_field: str,
        category_field: str,
        tiebreaker_field: str | None,
        *,
        resolve_with: Schema | None = None,
        multi_fields: Mapping[str, FieldInfo] | None = None,
    ) -> Plan:
        """The plan of the query for ``schema``, fields resolved against ``resolve_with``."""
        ...


class PlanResolver:
    """Picks the compiled plan for each event (per-index schemas) and splits hits from documents."""

    def __init__(
        self,
        planner: Planner,
        schema: SchemaArg,
        timestamp_field: str,
        category_field: str,
        tiebreaker_field: str | None,
        *,
        multi_fields: Mapping[str, FieldInfo] | None = None,
    ) -> None:
        self.args = (timestamp_field, category_field, tiebreaker_field)
        self.by_index: dict[str, Plan] = {}
        if schema is None or isinstance(schema, Schema):
            self.default = planner(schema, *self.args, multi_fields=multi_fields)
        else:
            merged = merge(schema.values())
            self.default = planner(merged, *self.args)
            for name, index_schema in schema.items():
                self.by_index[name] = planner(index_schema, *self.args, resolve_with=merged)

    def resolve(self, item: Mapping[str, Any]) -> tuple[Mapping[str, Any], str, Plan]:
        """The event's source, its index name and the plan for that index."""
        source = item.get("_source")
        if source is None:
            return item, "", self.default
        index = item.get("_index", "")
        if self.by_index:
            return source, index, self.by_index.get(index, self.default)
        return source, index, self.default
