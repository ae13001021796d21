"""``_eql/search`` answered by hunter's embedded engine over the resolved indices, and async EQL.

The request is read as ``EqlSearchRequest`` reads it (an ObjectParser named ``eql/search``:
unknown fields refused); sequences need a single date timestamp (and a single tiebreaker) per
event, as ``SequenceCriterion`` checks; ``fields`` are fetched per event; shard failures injected
by a fault are reported as ``shard_failures`` (a sequence or sample query then returns nothing
unless ``allow_partial_sequence_results``). With ``keep_on_completion`` the result is kept and
served by ``GET/DELETE /_eql/search/{id}`` and ``/_eql/search/status/{id}``.
"""

from __future__ import annotations

import base64
import copy
import re
import time
import uuid
from collections.abc import Mapping
from typing import Any

from hunter.eql import EqlSemanticError, EqlSyntaxError, Schema
from hunter.eql import ast as eql_ast
from hunter.eql import compile_query as compile_eql

from .es_cluster import Cluster, IndicesOptions, flag
from .es_errors import NODE_ID, EsError, index_not_found, location_of, not_found, similarity, validation
from .es_fetch import fetch_fields, parse_fields
from .es_mapping import DATES, TEXTS, IndexFields, java_text, type_of
from .es_painless import ScriptError, script_failure, script_source
from .es_request import Answer, Request
from .es_search import failed_shards, refuse_partial, shard_failure_entry, snapshot
from .query_dsl import compile_query

EQL_FIELDS = [
    "query",
    "filter",
    "timestamp_field",
    "tiebreaker_field",
    "event_category_field",
    "size",
    "fetch_size",
    "wait_for_completion_timeout",
    "keep_alive",
    "keep_on_completion",
    "result_position",
    "fields",
    "runtime_mappings",
    "max_samples_per_key",
    "allow_partial_search_results",
    "allow_partial_sequence_results",
]
KEEP_ALIVE_MS = 5 * 24 * 3600 * 1000


def _invalid(reason: str) -> EsError:
    return EsError(400, "invalid_argument_exception", reason)


def _check_runtime(mappings: Any) -> None:
    if mappings is None:
        return
    for name, spec in dict(mappings).items():
        if not isinstance(spec, Mapping):
            raise validation(f"Expected map for runtime field [{name}] definition but got [String]")
        if "type" not in spec:
            raise validation(f"No type specified for runtime field [{name}]")


def eql_search(c: Cluster, r: Request) -> Answer:
    """``POST /{index}/_eql/search``: takes the lock only to snapshot; the engine runs outside it."""
    started = time.monotonic()
    body = r.json
    r.check_fields("eql/search", EQL_FIELDS)
    text = body.get("query")
    if not isinstance(text, str) or not text.strip():
        raise validation("query is null or empty")
    size = body.get("size", 10)
    if not isinstance(size, int | float) or size < 0:
        raise validation("size must be greater than or equal to 0")
    position = body.get("result_position", "tail")
    if position not in ("head", "tail"):
        raise EsError(
            400,
            "x_content_parse_exception",
            f"{location_of(r.raw, 'result_position')} [eql/search] failed to parse field [result_position]",
            caused_by={
                "type": "illegal_argument_exception",
                "reason": f"result position needs to be 'head' or 'tail', received '{position}'",
            },
        )
    _check_runtime(body.get("runtime_mappings"))
    try:
        query = compile_eql(text)
    except EqlSyntaxError as error:
        raise EsError(400, "parsing_exception", str(error)) from error
    except EqlSemanticError as error:
        raise EsError(400, "verification_exception", f"Found 1 problem\n{error}") from error
    timestamp_field = str(body.get("timestamp_field", "@timestamp"))
    tiebreaker = body.get("tiebreaker_field")
    runtime = dict(body.get("runtime_mappings") or {})
    with c.lock:
        names = c.resolve(r.parts["index"], IndicesOptions.read(r.params, ignore_unavailable=True))
        if not names:
            raise index_not_found(r.parts["index"])
        filters = body.get("filter") or []
        predicates = [
            compile_query(f, time.time_ns()) for f in (filters if isinstance(filters, list) else [filters])
        ]
        docs = [d for d in snapshot(c, names) if all(p(d) for p in predicates)]
        mappings = {name: _with_runtime(c.indices[name].mappings, runtime) for name in names}
        schemas = {name: Schema.from_mapping(mappings[name]) for name in names}
        fields_of = {
            name: IndexFields(mappings[name], c.indices[name].settings)
            if runtime
            else c.indices[name].fields()
            for name in names
        }
        failed = failed_shards(c, names, r.fault)
        sourceless = {
            n for n in names if (c.indices[n].mappings.get("_source") or {}).get("enabled") is False
        }
        wanted_fields = parse_fields(body.get("fields"))
    _check_exact(query.statement, fields_of)
    sources, script_failures = _runtime_sources(text, docs, fields_of, failed)
    partial_ok = flag(
        body.get("allow_partial_search_results", r.params.get("allow_partial_search_results")), True
    )
    refuse_partial(names, failed, r.fault, partial_ok)
    if script_failures and not partial_ok:
        raise EsError(
            503,
            "search_phase_execution_exception",
            "Partial shards failure",
            {"phase": "query", "grouped": True, "failed_shards": list(script_failures.values())},
        )
    if query.kind == "sequence":
        _check_sequence_values(docs, fields_of, timestamp_field, tiebreaker, sourceless)
    try:
        hits = query.search(
            [
                {"_index": d.index, "_id": d.id, "_source": sources[(d.index, d.id)]}
                for d in docs
                if d.index not in failed and d.index not in script_failures
            ],
            size=int(size),
            timestamp_field=timestamp_field,
            event_category_field=body.get("event_category_field", "event.category"),
            tiebreaker_field=tiebreaker,
            result_position=position,
            max_samples_per_key=int(body.get("max_samples_per_key", 1)),
            schema=schemas,
        )
    except EqlSemanticError as error:
        raise EsError(
            400, "verification_exception", f"Found 1 problem\n{_suggest(str(error), text, schemas)}"
        ) from error
    with c.lock:
        _restore_sources(hits, {(d.index, d.id): _shown(c, d) for d in docs})
    sequences_ok = flag(
        body.get("allow_partial_sequence_results", r.params.get("allow_partial_sequence_results")), False
    )
    if (failed or script_failures) and query.kind != "event" and not sequences_ok:
        hits = {"total": {"value": 0, "relation": "eq"}, "sequences": []}
    if wanted_fields:
        _add_fields(hits, fields_of, wanted_fields)
    response: dict[str, Any] = {
        "is_partial": bool(r.fault and r.fault.is_partial),
        "is_running": False,
        "took": int((time.monotonic() - started) * 1000),
        "timed_out": False,
    }
    if failed or script_failures:
        entries = [shard_failure_entry(name, r.fault) for name in failed]
        response["shard_failures"] = entries + list(script_failures.values())
    response["hits"] = hits
    keep = flag(body.get("keep_on_completion", r.params.get("keep_on_completion")), False)
    if keep or "wait_for_completion_timeout" in body or "wait_for_completion_timeout" in r.params:
        search_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        now = int(time.time() * 1000)
        with c.lock:
            c.eql_results[search_id] = {
                "response": copy.deepcopy(response),
                "start": now,
                "expiration": now + KEEP_ALIVE_MS,
            }
        response = {"id": search_id, **response}
    return 200, response


def _with_runtime(mappings: Mapping[str, Any], runtime: Mapping[str, Any]) -> dict[str, Any]:
    if not runtime:
        return dict(mappings)
    return {**mappings, "runtime": {**(mappings.get("runtime") or {}), **runtime}}


def _runtime_sources(
    text: str, docs: list[Any], fields_of: Mapping[str, IndexFields], failed: list[str]
) -> tuple[dict[tuple[str, str], Mapping[str, Any]], dict[str, dict[str, Any]]]:
    """Each document's source with the runtime fields the query reads set in it, and the indices whose
    scripts threw (as shard failures)."""
    sources: dict[tuple[str, str], Mapping[str, Any]] = {}
    script_failures: dict[str, dict[str, Any]] = {}
    for doc in docs:
        fields = fields_of[doc.index]
        source: Mapping[str, Any] = doc.source
        if doc.index in failed or doc.index in script_failures:
            sources[(doc.index, doc.id)] = source
            continue
        for name in sorted(fields.runtime):
            spec = fields.spec(name) or {}
            if "script" not in spec or not re.search(rf"(?<![\w.]){re.escape(name)}(?![\w])", text):
                continue
            try:
                values = fields.raw(name, doc.source)
            except ScriptError as error:
                reason = script_failure(error, script_source(spec["script"]))
                script_failures[doc.index] = {
                    "shard": 0,
                    "index": doc.index,
                    "node": NODE_ID,
                    "reason": reason,
                }
                break
            if values:
                source = _set_path(source, name.split("."), values[0] if len(values) == 1 else values)
        sources[(doc.index, doc.id)] = source
    return sources, script_failures


def _set_path(source: Mapping[str, Any], path: list[str], value: Any) -> dict[str, Any]:
    out = dict(source)
    if len(path) == 1:
        out[path[0]] = value
    else:
        inner = out.get(path[0])
        out[path[0]] = _set_path(inner if isinstance(inner, Mapping) else {}, path[1:], value)
    return out


def _restore_sources(hits: Mapping[str, Any], originals: Mapping[tuple[str, str], Mapping[str, Any]]) -> None:
    events = list(hits.get("events") or [])
    for sequence in hits.get("sequences") or []:
        events.extend(sequence.get("events") or [])
    for event in events:
        original = originals.get((event.get("_index"), event.get("_id")))
        if original is not None and "_source" in event:
            event["_source"] = original


def _shown(c: Cluster, doc: Any) -> Mapping[str, Any]:
    index = c.indices.get(doc.index)
    stored = index.visible.get(doc.id) if index is not None else None
    return index.source_of(stored) if index is not None and stored is not None else doc.source


def _suggest(message: str, text: str, schemas: Mapping[str, Schema]) -> str:
    """``Unknown column [x]`` with "did you mean" among the fields the query names (``findSimilar``)."""
    found = re.search(r"Unknown column \[([^\]]+)\]$", message)
    if found is None:
        return message
    unknown = found.group(1)
    named = set(re.findall(r"[A-Za-z_@][\w.@]*", text))
    known = {n for n in named if any(n in schema for schema in schemas.values()) and n != unknown}
    scored = sorted(((similarity(unknown, n), n) for n in known), key=lambda t: (-t[0], t[1]))
    close = [n for score, n in scored if score >= 0.5]
    if not close:
        return message
    if len(close) == 1:
        return f"{message}, did you mean [{close[0]}]?"
    return f"{message}, did you mean any of [{', '.join(close)}]?"


def _check_exact(node: Any, fields_of: Mapping[str, IndexFields]) -> None:
    """String comparisons need an exact (keyword) field: a ``text`` field without one is refused."""
    operand = None
    label = None
    if isinstance(node, eql_ast.Match):
        operand, label = node.value, ":" if node.insensitive and node.kind == "wildcard" else node.kind
    elif isinstance(node, eql_ast.Comparison) and node.op in ("==", "!="):
        operand, label = node.left, node.op
    if isinstance(operand, eql_ast.Field):
        for fields in fields_of.values():
            spec = fields.spec(operand.name)
            if (
                spec is not None
                and type_of(spec) in TEXTS
                and not any(type_of(sub) == "keyword" for sub in (spec.get("fields") or {}).values())
            ):
                raise EsError(
                    400,
                    "verification_exception",
                    f"Found 1 problem\nline {operand.pos.line}:{operand.pos.column}: [{label}] cannot "
                    "operate on first argument field of data type [text]: No keyword/multi-field "
                    f"defined exact matches for [{operand.name}]; define one or use MATCH/QUERY instead",
                )
    for name in getattr(node, "__slots__", ()):
        child = getattr(node, name, None)
        if isinstance(child, tuple):
            for item in child:
                _check_exact(item, fields_of)
        elif hasattr(child, "__slots__") and name != "pos":
            _check_exact(child, fields_of)


def _check_sequence_values(
    docs: list[Any], fields_of: Mapping[str, Any], timestamp: str, tiebreaker: Any, sourceless: set[str]
) -> None:
    for doc in docs:
        fields = fields_of[doc.index]
        if doc.index in sourceless:
            raise _invalid(
                f"Expected timestamp field [{timestamp}] to have a value but got none; check that "
                "[_source] is enabled and includes the field"
            )
        spec = fields.spec(timestamp)
        raw = fields.getter(tuple(timestamp.split(".")))(doc.source)
        if raw is None:
            continue
        if spec is None or type_of(spec) not in DATES or isinstance(raw, list):
            raise _invalid(
                f"Expected timestamp field [{timestamp}] to be mapped as [date] or [date_nanos] and to "
                f"hold a single value but got [{java_text(raw)}]"
            )
        if tiebreaker:
            value = fields.getter(tuple(str(tiebreaker).split(".")))(doc.source)
            if isinstance(value, list | Mapping):
                raise _invalid(
                    f"Expected tiebreaker field [{tiebreaker}] to hold a single comparable value but got "
                    f"[{java_text(value)}]"
                )


def _add_fields(hits: Mapping[str, Any], fields_of: Mapping[str, Any], wanted: list[Any]) -> None:
    events = list(hits.get("events") or [])
    for sequence in hits.get("sequences") or []:
        events.extend(sequence.get("events") or [])
    for event in events:
        if event.get("missing") or event.get("_index") not in fields_of:
            continue
        fields, _ = fetch_fields(fields_of[event["_index"]], event.get("_source") or {}, wanted)
        event["fields"] = fields


def _stored(c: Cluster, search_id: str) -> dict[str, Any]:
    found = c.eql_results.get(search_id)
    if found is None:
        raise not_found(search_id)
    return found


def eql_get(c: Cluster, r: Request) -> Answer:
    """``GET /_eql/search/{id}``."""
    found = _stored(c, r.parts["id"])
    return 200, {"id": r.parts["id"], **copy.deepcopy(found["response"])}


def eql_status(c: Cluster, r: Request) -> Answer:
    """``GET /_eql/search/status/{id}``."""
    found = _stored(c, r.parts["id"])
    return 200, {
        "id": r.parts["id"],
        "is_running": False,
        "is_partial": False,
        "expiration_time_in_millis": found["expiration"],
        "completion_status": 200,
    }


def eql_delete(c: Cluster, r: Request) -> Answer:
    """``DELETE /_eql/search/{id}``."""
    _stored(c, r.parts["id"])
    del c.eql_results[r.parts["id"]]
    return 200, {"acknowledged": True}


HANDLERS = {
    "eql.search": eql_search,
    "eql.get": eql_get,
    "eql.get_status": eql_status,
    "eql.delete": eql_delete,
}
