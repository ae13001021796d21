"""The field capabilities API: per field name, its type families across indices and what they allow.

A field is ``searchable`` when indexed or (numbers, dates, keywords, booleans, IPs, points) when it
has doc values; ``aggregatable`` when it has doc values (text: ``fielddata``). Objects and nested
fields are listed as such (never searchable); metadata fields are flagged. ``filters``
(``+metadata``, ``-metadata``, ``-nested``, ``-multifield``, ``-parent``), ``types``,
``include_unmapped``, ``include_empty_fields`` and field metadata (``meta``) behave as in
Elasticsearch's ``FieldCapabilitiesFetcher`` and response merging.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .es_errors import illegal_argument
from .es_mapping import OBJECTS, TEXTS, FieldRef, type_of

METADATA: dict[str, tuple[bool, bool]] = {
    "_id": (True, False),
    "_index": (True, True),
    "_source": (False, False),
    "_seq_no": (True, True),
    "_version": (False, True),
    "_ignored": (True, True),
    "_routing": (True, False),
    "_tier": (True, True),
    "_doc_count": (False, False),
    "_data_stream_timestamp": (False, False),
    "_feature": (False, False),
    "_field_names": (False, False),
    "_nested_path": (False, False),
}
_FAMILY = {"constant_keyword": "keyword", "wildcard": "keyword", "match_only_text": "text"}
_DOC_VALUE_SEARCH = frozenset(
    [
        "long",
        "integer",
        "short",
        "byte",
        "unsigned_long",
        "double",
        "float",
        "half_float",
        "scaled_float",
        "date",
        "date_nanos",
        "keyword",
        "constant_keyword",
        "boolean",
        "ip",
        "geo_point",
        "version",
    ]
)
_FILTERS = frozenset({"+metadata", "-metadata", "-nested", "-multifield", "-parent"})


@dataclass
class IndexView:
    """What field caps need of one index: its fields, which have values, its ``_routing`` mapping."""

    name: str
    fields: Mapping[str, FieldRef]
    non_empty: set[str] = field(default_factory=set)
    routing_doc_values: bool = False


@dataclass
class _Caps:
    family: str
    metadata: bool
    searchable: dict[str, bool] = field(default_factory=dict)
    aggregatable: dict[str, bool] = field(default_factory=dict)
    meta: dict[str, set[str]] = field(default_factory=dict)
    passthrough: dict[str, bool] = field(default_factory=dict)
    dimension: dict[str, bool] = field(default_factory=dict)
    metric: dict[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class CapsRequest:
    """The options of one field caps request."""

    patterns: tuple[str, ...]
    include_unmapped: bool = False
    include_empty: bool = True
    filters: frozenset[str] = frozenset()
    types: frozenset[str] = frozenset()


def parse_filters(text: str | None) -> frozenset[str]:
    """The ``filters`` parameter, checked."""
    chosen = frozenset(part.strip() for part in (text or "").split(",") if part.strip())
    for name in chosen:
        if name not in _FILTERS:
            raise illegal_argument(f"Unknown field caps filter [{name}]")
    return chosen


def field_caps(indices: Iterable[IndexView], request: CapsRequest) -> dict[str, Any]:
    """The body of a ``_field_caps`` answer over ``indices``."""
    views = sorted(indices, key=lambda v: v.name)
    names = [v.name for v in views]
    per_field: dict[str, dict[str, _Caps]] = {}
    for view in views:
        for name, (family, searchable, aggregatable, metadata, spec) in _index_fields(view, request).items():
            caps = per_field.setdefault(name, {}).setdefault(family, _Caps(family, metadata))
            caps.searchable[view.name] = searchable
            caps.aggregatable[view.name] = aggregatable
            for key, value in (spec.get("meta") or {}).items():
                caps.meta.setdefault(str(key), set()).add(str(value))
            if family in ("object", "flattened"):
                caps.passthrough[view.name] = type_of(spec) == "passthrough" or "passthrough" in spec
            caps.dimension[view.name] = spec.get("time_series_dimension") in (True, "true")
            caps.metric[view.name] = spec.get("time_series_metric")
    out: dict[str, Any] = {}
    for name in sorted(per_field):
        families = per_field[name]
        mapped_in = {index for caps in families.values() for index in caps.searchable}
        unmapped = [index for index in names if index not in mapped_in]
        if request.include_unmapped and unmapped:
            families["unmapped"] = _Caps(
                "unmapped", False, dict.fromkeys(unmapped, False), dict.fromkeys(unmapped, False)
            )
        out[name] = {family: _render(caps, len(families) > 1) for family, caps in families.items()}
    return {"indices": names, "fields": out}


def _render(caps: _Caps, several: bool) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": caps.family,
        "metadata_field": caps.metadata,
        "searchable": all(caps.searchable.values()),
        "aggregatable": all(caps.aggregatable.values()),
    }
    if several:
        item["indices"] = sorted(caps.searchable)
    if not item["searchable"] and any(caps.searchable.values()):
        item["non_searchable_indices"] = sorted(i for i, s in caps.searchable.items() if not s)
    if not item["aggregatable"] and any(caps.aggregatable.values()):
        item["non_aggregatable_indices"] = sorted(i for i, a in caps.aggregatable.items() if not a)
    if any(caps.dimension.values()):
        if all(caps.dimension.values()):
            item["time_series_dimension"] = True
        else:
            item["non_dimension_indices"] = sorted(i for i, d in caps.dimension.items() if not d)
    metrics = set(caps.metric.values())
    if metrics != {None}:
        if len(metrics) == 1:
            item["time_series_metric"] = metrics.pop()
        else:
            item["metric_conflicts_indices"] = sorted(caps.metric)
    if caps.meta:
        item["meta"] = {key: sorted(values) for key, values in caps.meta.items()}
    if caps.passthrough:
        item["passthrough"] = all(caps.passthrough.values())
        if not item["passthrough"] and any(caps.passthrough.values()):
            item["non_passthrough_indices"] = sorted(i for i, p in caps.passthrough.items() if not p)
    return item


def _index_fields(
    view: IndexView, request: CapsRequest
) -> dict[str, tuple[str, bool, bool, bool, dict[str, Any]]]:
    found: dict[str, tuple[str, bool, bool, bool, dict[str, Any]]] = {}
    nested = {
        name for name, ref in view.fields.items() if type_of(ref.spec) == "nested" and ref.kind == "object"
    }
    filters, types = request.filters, request.types
    for name, ref in view.fields.items():
        family, searchable, aggregatable = capabilities(ref.spec, ref.kind)
        is_object = ref.kind == "object"
        if "+metadata" in filters:
            continue
        if is_object and "-parent" in filters:
            continue
        if ref.kind == "multi" and "-multifield" in filters:
            continue
        if "-nested" in filters and (name in nested or any(name.startswith(n + ".") for n in nested)):
            continue
        if types and family not in types:
            continue
        if not request.include_empty and not is_object and name not in view.non_empty:
            continue
        found[name] = (family, searchable, aggregatable, False, ref.spec)
    if not request.include_empty:
        found = {n: v for n, v in found.items() if v[0] not in ("object", "nested") or _has_child(n, found)}
    if "-metadata" not in filters:
        for name, (searchable, aggregatable) in METADATA.items():
            if types and name not in types:
                continue
            routed = name == "_routing" and view.routing_doc_values
            found[name] = (name, searchable, aggregatable or routed, True, {})
    chosen = {name for name in found if any(fnmatch.fnmatchcase(name, p) for p in request.patterns)}
    for name in list(chosen):  # a matched field brings its parent objects along
        parts = name.split(".")
        for end in range(1, len(parts)):
            parent = ".".join(parts[:end])
            if parent in found and found[parent][0] in ("object", "nested"):
                chosen.add(parent)
    return {name: found[name] for name in found if name in chosen}


def _has_child(name: str, found: Mapping[str, Any]) -> bool:
    prefix = name + "."
    return any(other.startswith(prefix) for other in found)


def capabilities(spec: Mapping[str, Any], kind: str = "field") -> tuple[str, bool, bool]:
    """(family type, searchable, aggregatable) of one mapped field."""
    ftype = type_of(spec)
    if ftype == "passthrough":
        return "object", False, False
    family = _FAMILY.get(ftype, ftype)
    if ftype in OBJECTS:
        return family, False, False
    if kind == "runtime":
        return family, True, True
    indexed = spec.get("index", True) is not False
    doc_values = spec.get("doc_values", True) is not False
    if ftype in TEXTS:
        return family, indexed, bool(spec.get("fielddata", False))
    if ftype in ("flattened",):
        return family, indexed, doc_values
    searchable = indexed or (doc_values and ftype in _DOC_VALUE_SEARCH)
    return family, searchable, doc_values
