"""Where a hunt is blind: per hunt, query, stage and index pattern, the fields that are missing.

A stage can never match in an index that lacks a field its condition needs (a term, range or
wildcard query on an absent field matches nothing), and a sequence stage can never join there when
a non-optional join key is absent (null keys never join). Fields come from ``_field_caps`` on a
cluster, or from the event files themselves in embedded mode. Event files have no mapping, so there
a multi-field such as ``process.executable.caseless`` is present where its parent field is (the
engine reads it as the lowercased parent); the rows that rely on that say so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from .config import Settings
from .eql import ast as eql_ast
from .eql.analyzer import Analyzer, IsNull
from .eql.schema import IMPLIED_MULTI_FIELDS, FieldInfo, implied_multi_field
from .errors import SearchError
from .hunts import Hunt, HuntQuery
from .indices import matches as index_matches
from .indices import search_targets


class FieldSource(Protocol):
    """What the data holds: fields per index pattern, and whether events of some kind carry fields."""

    def present(self, pattern: str, wanted: list[str]) -> set[str] | None:
        """The ``wanted`` fields mapped in the pattern's indices (None when no index matches)."""
        ...

    def has_events(self, pattern: str, field: str, categories: list[str] | None, required: list[str]) -> bool:
        """Whether some event of ``categories`` (None: any) in the pattern has every ``required`` field."""
        ...

    def implied(self, wanted: list[str]) -> dict[str, str]:
        """Of ``wanted``, the multi-fields answered by hunter's rule, not a mapping (name -> how)."""
        ...


def coverage_report(settings: Settings, hunts: Sequence[Hunt]) -> dict[str, Any]:
    """The coverage of every hunt over the configured source (cluster or event files)."""
    if settings.mode == "elasticsearch":
        from .esclient import build_client

        client = build_client(settings)
        try:
            source: FieldSource = _ClusterFields(client)
            return {
                "source": "elasticsearch",
                "hunts": [hunt_coverage(hunt, settings, source) for hunt in hunts],
            }
        finally:
            client.close()
    from .search.local import load_multi_fields

    local = _LocalFields(
        settings.embedded.events,
        settings.search.timestamp_field,
        settings.search.event_category_field,
        load_multi_fields(settings),
    )
    return {"source": "event files", "hunts": [hunt_coverage(hunt, settings, local) for hunt in hunts]}


class _ClusterFields:
    """Field capabilities and counts from a cluster (transient errors retried, then one-line errors)."""

    def __init__(self, client: Any) -> None:
        from .esclient import Retrier

        self.client = client
        self.retrier = Retrier()

    def _call(self, what: str, function: Callable[[], Any]) -> Any:
        from .esclient import describe

        try:
            return self.retrier.call(what, function)
        except Exception as exc:
            raise SearchError(f"coverage: {what}: {describe(exc)}") from exc

    def present(self, pattern: str, wanted: list[str]) -> set[str] | None:
        response = self._call(
            f"field_caps {pattern}",
            lambda: self.client.field_caps(
                index=pattern, fields=",".join(wanted), allow_no_indices=True, ignore_unavailable=True
            ),
        )
        if not response.body.get("indices"):
            return None
        return {name for name, types in response.body.get("fields", {}).items() if "unmapped" not in types}

    def has_events(self, pattern: str, field: str, categories: list[str] | None, required: list[str]) -> bool:
        filters: list[dict[str, Any]] = [{"exists": {"field": name}} for name in required]
        if categories:
            filters.append({"terms": {field: categories}})
        response = self._call(
            f"count {pattern}",
            lambda: self.client.count(
                index=pattern,
                query={"bool": {"filter": filters}},
                allow_no_indices=True,
                ignore_unavailable=True,
            ),
        )
        return int(response.body.get("count", 0)) > 0

    def implied(self, wanted: list[str]) -> dict[str, str]:
        return {}  # the cluster answers multi-fields from its mappings


class _LocalFields:
    """Field presence per index and event category, read from the event files."""

    def __init__(
        self,
        paths: Iterable[Path],
        timestamp_field: str,
        category_field: str,
        multi_fields: Mapping[str, FieldInfo] | None = None,
    ) -> None:
        from .eql.fields import flatten, make_getter
        from .search.local import EventFiles

        self.multi_fields = dict(multi_fields or {})  # from [embedded] mappings

        category = make_getter(tuple(category_field.split(".")))
        self.shapes: dict[str, dict[str, set[frozenset[str]]]] = {}
        for hit in EventFiles(list(paths), timestamp_field).hits():
            fields: set[str] = set()
            _collect_paths(hit["_source"], "", fields)
            per_category = self.shapes.setdefault(hit["_index"], {})
            for value in flatten(category(hit["_source"])) or [""]:
                per_category.setdefault(str(value), set()).add(frozenset(fields))

    def _indices(self, pattern: str) -> list[str]:
        return [index for index in self.shapes if index_matches(pattern, index)]

    def implied(self, wanted: list[str]) -> dict[str, str]:
        found = {}
        for name in wanted:
            info = implied_multi_field(name)
            if info is not None and name not in self.multi_fields:
                parent, suffix = name.rsplit(".", 1)
                found[name] = f"{name} read as {IMPLIED_MULTI_FIELDS[suffix]} {parent} (no mapping)"
        return found

    def _has(self, shape: frozenset[str], name: str) -> bool:
        if name in shape:
            return True
        info = self.multi_fields.get(name) or implied_multi_field(name)
        return info is not None and ".".join(info.source_path) in shape

    def present(self, pattern: str, wanted: list[str]) -> set[str] | None:
        indices = self._indices(pattern)
        if not indices:
            return None
        found: set[str] = set()
        for index in indices:
            for shapes in self.shapes[index].values():
                for shape in shapes:
                    found |= shape
        return {name for name in wanted if self._has(frozenset(found), name)}

    def has_events(self, pattern: str, field: str, categories: list[str] | None, required: list[str]) -> bool:
        for index in self._indices(pattern):
            for category, shapes in self.shapes[index].items():
                if categories is not None and category not in categories:
                    continue
                if any(all(self._has(shape, name) for name in required) for shape in shapes):
                    return True
        return False


def hunt_coverage(hunt: Hunt, settings: Settings, source: FieldSource) -> dict[str, Any]:
    """Rows for one hunt: each query stage against each index pattern, and a verdict per query."""
    category_field = settings.search.event_category_field
    queries = []
    for query in hunt.queries:
        stages = _stages(query, category_field)
        wanted = sorted(
            {category_field, *(name for stage in stages for name in (*stage["fields"], *stage["keys"]))}
        )
        rows = []
        implied = source.implied(wanted)
        targets = search_targets(hunt.indices)  # exclusions (-pattern) apply to the patterns before them
        for pattern, target in targets:
            present = source.present(target, wanted)
            for number, stage in enumerate(stages, start=1):
                row = _row(
                    number,
                    stage,
                    pattern,
                    target,
                    present=present,
                    source=source,
                    category_field=category_field,
                )
                notes = [implied[name] for name in (*stage["fields"], *stage["keys"]) if name in implied]
                if notes and present is not None:
                    row["detail"] = "; ".join(filter(None, [row["detail"], *notes]))
                rows.append(row)
        positive = [n for n, stage in enumerate(stages, start=1) if not stage["missing"]]
        can_fire = all(any(r["stage"] == n and r["status"] == "ok" for r in rows) for n in positive)
        fires_in = sorted(
            pattern
            for pattern, _target in targets
            if all(
                any(r["stage"] == n and r["index"] == pattern and r["status"] == "ok" for r in rows)
                for n in positive
            )
        )
        queries.append(
            {
                "query": query.name,
                "kind": query.compiled.kind,
                "can_match": can_fire,
                "fires_in": fires_in,
                "stages": rows,
            }
        )
    return {"hunt": hunt.id, "queries": queries}


def _row(
    number: int,
    stage: Mapping[str, Any],
    pattern: str,
    target: str,
    *,
    present: set[str] | None,
    source: FieldSource,
    category_field: str,
) -> dict[str, Any]:
    row: dict[str, Any] = {"stage": number, "index": pattern, "category": stage["category"]}
    if present is None:
        return {**row, "status": "no data", "detail": "no index matches this pattern"}
    categories = stage["categories"]
    keys = sorted(set(stage["keys"]) - present)
    if keys:
        # Reported first: a missing join key is a property of the source, whatever events are there now.
        return {
            **row,
            "status": "blind",
            "detail": "join key(s) missing, events never join: " + ", ".join(keys),
        }
    if not source.has_events(target, category_field, categories, []):
        kinds = " or ".join(categories) if categories else "any"
        return {**row, "status": "no data", "detail": f"no {kinds} events here"}
    missing = sorted(set(stage["fields"]) - present)
    if not _can_match(stage["condition"], set(missing)):
        return {**row, "status": "blind", "detail": "condition needs missing field(s): " + ", ".join(missing)}
    if stage["keys"] and not source.has_events(target, category_field, categories, list(stage["keys"])):
        kinds = " or ".join(categories) if categories else "its"
        lacking = [
            key for key in stage["keys"] if not source.has_events(target, category_field, categories, [key])
        ]
        what = ", ".join(lacking) if lacking else "all of " + ", ".join(stage["keys"]) + " together"
        return {**row, "status": "blind", "detail": f"{kinds} events here never carry join key(s) {what}"}
    detail = ("absent here, other branches can still match: " + ", ".join(missing)) if missing else ""
    return {**row, "status": "ok", "detail": detail}


def _stages(query: HuntQuery, category_field: str) -> list[dict[str, Any]]:
    statement = query.compiled.statement
    analyzer = Analyzer(None)
    body = statement.query
    terms: list[tuple[eql_ast.EventFilter, tuple[eql_ast.Expr, ...], bool]]
    if isinstance(body, eql_ast.EventQuery):
        terms = [(body.filter, (), False)]
    else:
        shared = body.keys
        terms = [(term.filter, (*shared, *term.keys), term.missing) for term in body.terms]
    stages = []
    for event_filter, keys, missing in terms:
        condition = analyzer.condition(event_filter.condition)
        stages.append(
            {
                "category": event_filter.category or "any",
                "categories": [event_filter.category]
                if event_filter.category
                else _category_constraint(condition, category_field),
                "condition": condition,
                "fields": sorted(_fields(condition)),
                "keys": sorted(
                    key.name for key in keys if isinstance(key, eql_ast.Field) and not key.optional
                ),
                "missing": missing,
            }
        )
    return stages


def _category_constraint(condition: Any, category_field: str) -> list[str] | None:
    """Categories an ``any`` stage is limited to by a top-level ``category in (...)`` / ``==`` test."""
    parts = [condition]
    while parts:
        node = parts.pop()
        if isinstance(node, eql_ast.And):
            parts += [node.left, node.right]
        elif (
            isinstance(node, eql_ast.InList)
            and not node.negated
            and isinstance(node.value, eql_ast.Field)
            and node.value.name == category_field
        ):
            return [str(item.value) for item in node.items if isinstance(item, eql_ast.Literal)]
        elif (
            isinstance(node, eql_ast.Comparison)
            and node.op == "=="
            and isinstance(node.left, eql_ast.Field)
            and node.left.name == category_field
            and isinstance(node.right, eql_ast.Literal)
        ):
            return [str(node.right.value)]
    return None


def _fields(node: Any) -> set[str]:
    if isinstance(node, eql_ast.Field):
        return {node.name}
    found: set[str] = set()
    if isinstance(node, tuple):
        for item in node:
            found |= _fields(item)
        return found
    for name in getattr(node, "__slots__", ()):
        if name != "pos":
            found |= _fields(getattr(node, name, None))
    return found


def _can_match(node: Any, missing: set[str]) -> bool:
    """Whether a condition can be true when the ``missing`` fields are absent from every event."""
    if isinstance(node, eql_ast.Literal):
        return node.value is True
    if isinstance(node, eql_ast.And):
        return _can_match(node.left, missing) and _can_match(node.right, missing)
    if isinstance(node, eql_ast.Or):
        return _can_match(node.left, missing) or _can_match(node.right, missing)
    if isinstance(node, eql_ast.Not):
        return True  # the complement of a query on an absent field matches every event
    if not (_fields(node) & missing):
        return True
    if isinstance(node, IsNull):
        return not node.negated
    if isinstance(node, eql_ast.Comparison) and node.op == "!=":
        return True
    return isinstance(node, eql_ast.InList) and node.negated


def _collect_paths(value: Any, prefix: str, out: set[str]) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            _collect_paths(item, f"{prefix}{key}.", out)
        return
    if isinstance(value, list):
        for item in value:
            if isinstance(item, Mapping):
                _collect_paths(item, prefix, out)
            elif item is not None:
                out.add(prefix.rstrip("."))
        return
    if value is not None:
        out.add(prefix.rstrip("."))


def render_table(report: Mapping[str, Any]) -> str:
    """The report as a plain-text table, one line per stage and index pattern."""
    lines = [f"coverage from {report['source']}"]
    header = ("HUNT", "QUERY", "STAGE", "INDEX", "STATUS", "DETAIL")
    rows: list[tuple[str, ...]] = []
    for hunt in report["hunts"]:
        for query in hunt["queries"]:
            for row in query["stages"]:
                stage = f"{row['stage']} ({row['category']})"
                rows.append((hunt["hunt"], query["query"], stage, row["index"], row["status"], row["detail"]))
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=False)]
    for line in (header, *rows):
        lines.append(
            "  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=False)).rstrip()
        )
    lines.append("")
    for hunt in report["hunts"]:
        for query in hunt["queries"]:
            verdict = "can match" if query["can_match"] else "CANNOT match anywhere (blind)"
            served = "; ".join(
                f"stage {number}: "
                + (
                    ", ".join(
                        r["index"] for r in query["stages"] if r["stage"] == number and r["status"] == "ok"
                    )
                    or "none"
                )
                for number in sorted({r["stage"] for r in query["stages"]})
            )
            lines.append(f"{hunt['hunt']}/{query['query']} ({query['kind']}): {verdict}; {served}")
    return "\n".join(lines) + "\n"
