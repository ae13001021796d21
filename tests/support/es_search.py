"""``_search``, ``_count``, ``_field_caps`` and ``_rank_eval`` over the searchable (refreshed) documents.

Request bodies are read as ``SearchSourceBuilder`` reads them (an unknown key is a
``parsing_exception``); ``q`` is a query string; hits carry ``_ignored`` and, with ``fields``,
``ignored_field_values``. Shard failures injected by a fault leave those indices out and are
reported, or fail the search with a 503 under ``allow_partial_search_results=false``.
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Iterable, Mapping
from typing import Any

from .es_cluster import Cluster, IndicesOptions
from .es_errors import NODE_ID, EsError, illegal_argument, parsing_error, shard_failure, validation
from .es_faults import Fault
from .es_fetch import fetch_fields, parse_fields, points
from .es_fieldcaps import CapsRequest, IndexView, field_caps, parse_filters
from .es_mapping import FieldRef, flat_fields
from .es_painless import run_script, script_source
from .es_request import Answer, Request
from .es_text import QueryString, bm25_scores
from .query_dsl import (
    DocRef,
    check_sort,
    compare_sort,
    compile_query,
    filter_source,
    parse_sort,
    sort_docs,
    source_filter,
)

MAX_RESULT_WINDOW = 10_000
_SEARCH_KEYS = frozenset(
    [
        "query",
        "size",
        "from",
        "sort",
        "_source",
        "seq_no_primary_term",
        "version",
        "track_total_hits",
        "search_after",
        "timeout",
        "fields",
        "script_fields",
        "runtime_mappings",
        "min_score",
        "stored_fields",
        "docvalue_fields",
        "aggs",
        "aggregations",
        "track_scores",
        "terminate_after",
        "explain",
        "post_filter",
        "highlight",
        "collapse",
        "indices_boost",
        "stats",
        "profile",
        "ext",
        "slice",
        "pit",
        "knn",
        "rescore",
        "suggest",
        "rank",
        "retriever",
    ]
)
# Known to Elasticsearch, not implemented here: refused rather than silently ignored.
_UNSUPPORTED = frozenset(
    [
        "highlight",
        "collapse",
        "post_filter",
        "suggest",
        "rescore",
        "knn",
        "pit",
        "slice",
        "retriever",
        "rank",
        "min_score",
        "explain",
        "stored_fields",
        "docvalue_fields",
        "terminate_after",
        "runtime_mappings",
        "indices_boost",
        "profile",
        "ext",
    ]
)


def snapshot(c: Cluster, names: Iterable[str]) -> list[DocRef]:
    """The searchable documents of ``names``, in the order they were first written."""
    docs: list[DocRef] = []
    for name in names:
        index = c.indices[name]
        fields = index.fields()
        for doc_id, doc in index.visible.items():
            docs.append(
                DocRef(
                    name,
                    doc_id,
                    doc.source,
                    fields,
                    doc.order,
                    doc.seq_no,
                    doc.version,
                    index.mode,
                    doc.routing,
                )
            )
    docs.sort(key=lambda d: d.order)
    return docs


def _token(value: Any) -> str:
    if isinstance(value, Mapping):
        return "START_OBJECT"
    if isinstance(value, list):
        return "START_ARRAY"
    if isinstance(value, bool):
        return "VALUE_BOOLEAN"
    if isinstance(value, int | float):
        return "VALUE_NUMBER"
    return "VALUE_NULL" if value is None else "VALUE_STRING"


def _query(r: Request, body: Mapping[str, Any]) -> Any:
    if "q" in r.params:
        options: dict[str, Any] = {"query": r.params["q"]}
        if "df" in r.params:
            options["default_field"] = r.params["df"]
        if "default_operator" in r.params:
            options["default_operator"] = r.params["default_operator"]
        if "lenient" in r.params:
            options["lenient"] = r.flag("lenient", False)
        return {"query_string": options}
    return body.get("query") or {"match_all": {}}


def failed_shards(c: Cluster, names: list[str], fault: Fault | None) -> list[str]:
    """The indices whose shards ``fault`` fails (patterns name backing indices or data streams)."""
    if fault is None or not fault.shard_failures:
        return []
    return [
        name
        for name in names
        if any(
            fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(c.indices[name].data_stream or "", p)
            for p in fault.shard_failures
        )
    ]


def shard_failure_entry(index: str, fault: Fault | None) -> dict[str, Any]:
    """One entry of ``_shards.failures`` / EQL ``shard_failures``."""
    error_type = (fault.error_type if fault else None) or "no_shard_available_action_exception"
    reason = {"type": error_type, "reason": fault.reason if fault else None}
    return {"shard": 0, "index": index, "node": NODE_ID, "reason": reason}


def refuse_partial(names: list[str], failed: list[str], fault: Fault | None, partial_ok: bool) -> None:
    """With ``allow_partial_search_results`` false, failed shards fail the whole search (503)."""
    if failed and not partial_ok:
        failures = [shard_failure_entry(name, fault) for name in failed]
        reason = "all shards failed" if len(failed) == len(names) else "Partial shards failure"
        raise EsError(
            503,
            "search_phase_execution_exception",
            reason,
            {"phase": "query", "grouped": True, "failed_shards": failures},
            root_cause=[failures[0]["reason"]],
        )


def _source_param(value: str | None) -> Any:
    if value is None or value in ("true", "false"):
        return None if value is None else value == "true"
    return value.split(",")


def search(c: Cluster, r: Request) -> Answer:
    """``POST /{index}/_search``."""
    started = time.monotonic()
    body = r.json
    for key, value in body.items():
        if key not in _SEARCH_KEYS:
            raise parsing_error(f"Unknown key for a {_token(value)} in [{key}].")
    unsupported = sorted(k for k in body if k in _UNSUPPORTED)
    aggs = body.get("aggs", body.get("aggregations"))
    if unsupported:
        raise illegal_argument(f"the test server does not implement {unsupported} in _search")
    names = c.resolve(r.parts.get("index"), IndicesOptions.read(r.params))
    size = int(body.get("size", r.params.get("size", 10)))
    start = int(body.get("from", r.params.get("from", 0)))
    if start + size > MAX_RESULT_WINDOW:
        reason = (
            "Result window is too large, from + size must be less than or equal to: "
            f"[{MAX_RESULT_WINDOW}] but was [{start + size}]. See the scroll api for a more efficient "
            "way to request large data sets. This limit can be set by changing the "
            "[index.max_result_window] index level setting."
        )
        raise shard_failure(
            400, {"type": "illegal_argument_exception", "reason": reason}, names[0] if names else ""
        )
    predicate = compile_query(_query(r, body), time.time_ns())
    criteria = parse_sort(body["sort"]) if body.get("sort") else []
    check_sort(criteria, [(n, c.indices[n].fields()) for n in names])
    fetch, includes, excludes = source_filter(body.get("_source", _source_param(r.params.get("_source"))))
    includes += [p for p in r.params.get("_source_includes", "").split(",") if p]
    excludes += [p for p in r.params.get("_source_excludes", "").split(",") if p]
    wanted_fields = parse_fields(body.get("fields"))
    failed = failed_shards(c, names, r.fault)
    refuse_partial(
        names,
        failed,
        r.fault,
        flag_value(
            body.get("allow_partial_search_results", r.params.get("allow_partial_search_results")), True
        ),
    )
    matched = [doc for doc in snapshot(c, names) if doc.index not in failed and predicate(doc)]
    keyed = sort_docs(matched, criteria) if criteria else [(doc, []) for doc in matched]
    after = body.get("search_after")
    if after is not None:
        if not criteria:
            raise illegal_argument("Sort must contain at least one field.")
        keyed = [(doc, values) for doc, values in keyed if compare_sort(values, list(after), criteria) > 0]
    hits = [
        _hit(c, doc, values, body, criteria, fetch, includes, excludes, wanted_fields)
        for doc, values in keyed[start : start + size]
    ]
    result: dict[str, Any] = {}
    if r.flag("rest_total_hits_as_int", False):
        result["total"] = len(matched)
    else:
        track = body.get("track_total_hits", MAX_RESULT_WINDOW)
        if track is not False:
            limit = len(matched) if track is True else int(track)
            capped = len(matched) > limit
            result["total"] = {
                "value": limit if capped else len(matched),
                "relation": "gte" if capped else "eq",
            }
    result["max_score"] = None if criteria or not hits else 1.0
    result["hits"] = hits
    shards: dict[str, Any] = {
        "total": len(names),
        "successful": len(names) - len(failed),
        "skipped": 0,
        "failed": len(failed),
    }
    if failed:
        shards["failures"] = [shard_failure_entry(name, r.fault) for name in failed]
    answer: dict[str, Any] = {
        "took": int((time.monotonic() - started) * 1000),
        "timed_out": False,
        "_shards": shards,
        "hits": result,
    }
    if aggs:
        answer["aggregations"] = aggregate(matched, aggs)
    return 200, answer


def flag_value(value: Any, default: bool) -> bool:
    """A boolean from a body value or URL parameter."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("", "true")


def _hit(
    c: Cluster,
    doc: DocRef,
    values: list[Any],
    body: Mapping[str, Any],
    criteria: list[Any],
    fetch: bool,
    includes: list[str],
    excludes: list[str],
    wanted_fields: list[Any],
) -> dict[str, Any]:
    stored = c.indices[doc.index].visible.get(doc.id) or c.indices[doc.index].docs.get(doc.id)
    hit: dict[str, Any] = {"_index": doc.index, "_id": doc.id}
    if body.get("version"):
        hit["_version"] = doc.version
    if body.get("seq_no_primary_term"):
        hit.update({"_seq_no": doc.seq_no, "_primary_term": 1})
    hit["_score"] = None if criteria else 1.0
    if doc.routing is not None:
        hit["_routing"] = doc.routing
    if stored is not None and stored.ignored:
        hit["_ignored"] = list(stored.ignored)
    if fetch:
        source = c.indices[doc.index].source_of(stored) if stored is not None else doc.source
        hit["_source"] = filter_source(source, includes, excludes) if includes or excludes else source
    fields: dict[str, list[Any]] = {}
    ignored: dict[str, list[Any]] = {}
    if wanted_fields:
        fields, ignored = fetch_fields(
            doc.fields, doc.source, wanted_fields, stored.ignored_values if stored else None
        )
    for name, spec in (body.get("script_fields") or {}).items():
        emitted, returned = run_script(
            script_source(spec.get("script")), doc.fields, doc.source, spec.get("params")
        )
        value = returned if returned is not None else (emitted or None)
        if value is not None:
            fields[name] = value if isinstance(value, list) else [value]
    if fields:
        hit["fields"] = fields
    if ignored:
        hit["ignored_field_values"] = ignored
    if criteria:
        hit["sort"] = values
    return hit


def count(c: Cluster, r: Request) -> Answer:
    """``POST /{index}/_count`` (``q``, ``min_score`` and ``terminate_after`` as Elasticsearch reads them)."""
    terminate = r.params.get("terminate_after")
    if terminate is not None and int(terminate) <= 0:
        raise validation("terminateAfter must be > 0")
    body = r.json
    for key in body:
        if key != "query":
            raise parsing_error(f"request does not support [{key}]")
    names = c.resolve(r.parts.get("index"), IndicesOptions.read(r.params))
    query = _query(r, body)
    predicate = compile_query(query, time.time_ns())
    docs = snapshot(c, names)
    matched = [doc for doc in docs if predicate(doc)]
    min_score = r.params.get("min_score")
    if min_score is not None and "query_string" in query:
        scores = bm25_scores(QueryString(query["query_string"]), docs)
        by_doc = {(d.index, d.id): s for d, s in zip(docs, scores, strict=True)}
        matched = [d for d in matched if by_doc[(d.index, d.id)] >= float(min_score)]
    shards = {"total": len(names), "successful": len(names), "skipped": 0, "failed": 0}
    return 200, {"count": len(matched), "_shards": shards}


_CAPS_FIELDS = ("fields", "index_filter", "runtime_mappings", "project_routing")


def field_capabilities(c: Cluster, r: Request) -> Answer:
    """``POST /{index}/_field_caps?fields=...``."""
    r.check_fields("field_caps_request", _CAPS_FIELDS)
    body = r.json
    requested = body.get("fields", r.params.get("fields"))
    patterns = requested.split(",") if isinstance(requested, str) else list(requested or [])
    patterns = [p.strip() for p in patterns if p and p.strip()]
    if not patterns:
        raise validation("specified fields can't be null or empty")
    names = c.resolve(r.parts.get("index"), IndicesOptions.read(r.params))
    index_filter = body.get("index_filter")
    if index_filter is not None:
        predicate = compile_query(index_filter, time.time_ns())
        names = [n for n in names if _index_matches(c, n, predicate)]
    runtime = flat_fields({"runtime": body.get("runtime_mappings") or {}})
    views = [_view(c, n, runtime) for n in names]
    request = CapsRequest(
        tuple(patterns),
        r.flag("include_unmapped", False),
        r.flag("include_empty_fields", True),
        parse_filters(r.params.get("filters")),
        frozenset(t.strip() for t in r.params.get("types", "").split(",") if t.strip()),
    )
    return 200, field_caps(views, request)


def _index_matches(c: Cluster, name: str, predicate: Any) -> bool:
    index = c.indices[name]
    empty = DocRef(name, "", {}, index.fields(), index_mode=index.mode)
    docs = snapshot(c, [name])
    if not docs:
        return bool(predicate(empty))
    return any(predicate(doc) for doc in docs)


def _view(c: Cluster, name: str, runtime: Mapping[str, FieldRef]) -> IndexView:
    index = c.indices[name]
    fields = dict(index.fields().fields)
    fields.update(runtime)
    non_empty = {
        field_name
        for field_name, ref in fields.items()
        if any(index.fields().raw(field_name, doc.source) for doc in index.docs.values())
        or ref.kind == "runtime"
    }
    routing = (index.mappings.get("_routing") or {}).get("doc_values") is True
    return IndexView(name, fields, non_empty, routing)


def rank_eval(c: Cluster, r: Request) -> Answer:
    """``POST /{index}/_rank_eval`` with the ``precision`` metric."""
    names = c.resolve(r.parts.get("index"), IndicesOptions.read(r.params))
    metric = r.json.get("metric") or {"precision": {}}
    options = metric.get("precision")
    if options is None:
        raise illegal_argument(f"the test server implements only the precision metric, not {sorted(metric)}")
    ignore_unlabeled = bool(options.get("ignore_unlabeled", False))
    threshold = int(options.get("relevant_rating_threshold", 1))
    details: dict[str, Any] = {}
    scores = []
    for spec in r.json.get("requests") or []:
        request = spec.get("request") or {}
        predicate = compile_query(request.get("query") or {"match_all": {}}, time.time_ns())
        hits = [d for d in snapshot(c, names) if predicate(d)][: int(request.get("size", 10))]
        ratings = {(x["_index"], x["_id"]): int(x["rating"]) for x in spec.get("ratings") or []}
        rated = [h for h in hits if (h.index, h.id) in ratings]
        considered = rated if ignore_unlabeled else hits
        relevant = [h for h in considered if ratings.get((h.index, h.id), 0) >= threshold]
        score = len(relevant) / len(considered) if considered else 0.0
        scores.append(score)
        details[spec["id"]] = {
            "metric_score": score,
            "unrated_docs": [
                {"_index": h.index, "_id": h.id} for h in hits if (h.index, h.id) not in ratings
            ],
            "hits": [
                {
                    "hit": {"_index": h.index, "_id": h.id, "_score": 1.0},
                    "rating": ratings.get((h.index, h.id)),
                }
                for h in hits
            ],
            "metric_details": {
                "precision": {"relevant_docs_retrieved": len(relevant), "docs_retrieved": len(considered)}
            },
        }
    return 200, {
        "metric_score": sum(scores) / len(scores) if scores else 0.0,
        "details": details,
        "failures": {},
    }


HANDLERS = {
    "search": search,
    "count": count,
    "field_caps": field_capabilities,
    "rank_eval": rank_eval,
}


# ---- aggregations -----------------------------------------------------------------------------------------

_BASE32 = "0123456789bcdefghjkmnpqrstuvwxyz"


def geohash(lat: float, lon: float, precision: int) -> str:
    """The geohash of a point (``precision`` characters)."""
    lat_range, lon_range = [-90.0, 90.0], [-180.0, 180.0]
    bits, value, even = 0, 0, True
    out: list[str] = []
    while len(out) < precision:
        span = lon_range if even else lat_range
        coordinate = lon if even else lat
        middle = (span[0] + span[1]) / 2
        value <<= 1
        if coordinate >= middle:
            value |= 1
            span[0] = middle
        else:
            span[1] = middle
        even = not even
        bits += 1
        if bits == 5:
            out.append(_BASE32[value])
            bits, value = 0, 0
    return "".join(out)


def aggregate(docs: list[DocRef], aggs: Mapping[str, Any]) -> dict[str, Any]:
    """The ``aggregations`` of a search (``geohash_grid`` only)."""
    out: dict[str, Any] = {}
    for name, spec in aggs.items():
        kinds = [k for k in spec if k not in ("aggs", "aggregations", "meta")]
        if kinds != ["geohash_grid"]:
            raise illegal_argument(f"the test server does not implement the aggregations {kinds}")
        options = spec["geohash_grid"]
        field, precision = str(options["field"]), int(options.get("precision", 5))
        counts: dict[str, int] = {}
        for doc in docs:
            ref = doc.fields.fields.get(field)
            if ref is None:
                continue
            found = points(doc.fields.getter(ref.path)(doc.source), ref.spec.get("null_value"))
            for cell in {geohash(lat, lon, precision) for lat, lon in found}:
                counts[cell] = counts.get(cell, 0) + 1
        ordered = sorted(counts.items(), key=lambda item: (-item[1], [-_BASE32.index(ch) for ch in item[0]]))
        buckets = [
            {"key": key, "doc_count": count} for key, count in ordered[: int(options.get("size", 10_000))]
        ]
        out[name] = {"buckets": buckets}
    return out
