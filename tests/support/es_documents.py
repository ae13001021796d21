"""Single-document writes and reads, and ``_bulk``, with Elasticsearch's rules.

Where a write goes (index, alias write index, data stream and its write backing index, or an index
or data stream created by the write), versioning (``if_seq_no``/``if_primary_term``, ``external``
and ``external_gte`` versions), routing (a document lives on the shard its routing hashes to, as
``Murmur3HashFunction`` computes it), partial updates and upserts, and the errors of each step
follow ``TransportBulkAction``, ``InternalEngine`` and ``UpdateHelper``.
"""

from __future__ import annotations

import base64
import copy
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .es_cluster import Cluster, DataStream, Doc, Index, IndicesOptions, backing_name, flag, shard_of
from .es_errors import EsError, illegal_argument, index_not_found, location_of, unknown_field, validation
from .es_faults import Fault, error_for
from .es_ingest import exists, ingest
from .es_mapping import (
    TEXTS,
    DynamicOptions,
    IndexFields,
    Parsed,
    add_dynamic_fields,
    analyze,
    keyword_string,
    type_of,
)
from .es_request import Answer, Request
from .es_streams import create_data_stream
from .query_dsl import filter_source, source_filter

_UPDATE_FIELDS = (
    "doc",
    "upsert",
    "doc_as_upsert",
    "detect_noop",
    "script",
    "scripted_upsert",
    "_source",
    "lang",
    "params",
)


@dataclass
class Write:
    """One write operation, from a document endpoint or a ``_bulk`` item."""

    op: str  # create, index, update, delete
    target: str
    doc_id: str | None
    payload: Any = None
    if_seq_no: int | None = None
    if_primary_term: int | None = None
    version: int | None = None
    version_type: str | None = None
    routing: str | None = None
    require_alias: bool = False
    require_data_stream: bool = False
    pipeline: str | None = None
    dynamic_templates: Mapping[str, str] = field(default_factory=dict)
    fetch: Any = None
    hide_vectors: bool = False


# ---- where a write goes --------------------------------------------------------------------------------


def _write_index(c: Cluster, w: Write) -> Index:
    target, op = w.target, w.op
    stream = c.data_streams.get(target)
    if stream is not None:
        if op != "create":
            raise illegal_argument("only write ops with an op_type of create are allowed in data streams")
        return c.indices[stream.indices[-1]]
    index = c.indices.get(target)
    if index is not None:
        if w.require_alias:
            raise index_not_found(
                target,
                f"no such index [{target}] and [require_alias] request flag is [true] and [{target}] is "
                "not an alias",
            )
        if w.require_data_stream:
            raise illegal_argument(
                "only write ops to a data stream are allowed when [require_data_stream] is set, "
                f"[{target}] is not a data stream"
            )
        if index.data_stream and op == "create":
            raise illegal_argument(
                "index request with op_type=create targeting backing indices is disallowed, "
                f"target corresponding data stream [{index.data_stream}] instead"
            )
        if index.data_stream and op == "index" and w.if_seq_no is None:
            raise illegal_argument(
                "index request with op_type=index and no if_primary_term and if_seq_no set targeting "
                f"backing indices is disallowed, target corresponding data stream [{index.data_stream}] "
                "instead"
            )
        if index.closed:
            raise EsError(
                400, "index_closed_exception", "closed", {"index_uuid": index.uuid, "index": index.name}
            )
        return index
    aliases = c.aliases()
    if target in aliases:
        holders = aliases[target]
        writers = [n for n in holders if c.indices[n].aliases[target].get("is_write_index") is True]
        if (
            not writers
            and len(holders) == 1
            and c.indices[holders[0]].aliases[target].get("is_write_index") is not False
        ):
            writers = holders
        if not writers:
            raise illegal_argument(
                f"no write index is defined for alias [{target}]. The write index may be explicitly "
                "disabled using is_write_index=false or the alias points to multiple indices without "
                "one being designated as a write index"
            )
        alias_routing = c.indices[writers[0]].aliases[target].get("index_routing")
        if alias_routing is not None and w.routing is None:
            w.routing = str(alias_routing)
        return c.indices[writers[0]]
    if w.require_alias:
        raise index_not_found(
            target,
            f"no such index [{target}] and [require_alias] request flag is [true] and [{target}] is not an "
            "alias",
        )
    if op == "delete":
        raise index_not_found(target)
    found = c.template_for(target)
    if found is not None and "data_stream" in found[1]:
        if op != "create":
            raise illegal_argument("only write ops with an op_type of create are allowed in data streams")
        return c.indices[create_data_stream(c, target).indices[-1]]
    if w.require_data_stream:
        raise index_not_found(
            target,
            f"no such index [{target}] and the index creation request requires a data stream, but no "
            "matching index template with data stream template was found for it",
        )
    return c.create_index(target, {})


# ---- applying one write ---------------------------------------------------------------------------------


def _check_request(w: Write) -> None:
    if w.doc_id == "":
        raise illegal_argument("if _id is specified it must not be empty")
    if w.doc_id is not None and len(w.doc_id.encode()) > 512:
        raise validation(
            f"id [{w.doc_id}] is too long, must be no longer than 512 bytes but was: {len(w.doc_id.encode())}"
        )
    if w.op == "create" and w.version_type in ("external", "external_gte"):
        raise validation("create operations only support internal versioning. use index instead")
    if w.op == "create" and w.if_seq_no is not None:
        raise validation("create operations do not support compare and set. use index instead")
    if w.version is not None and w.version_type in (None, "internal") and w.op in ("index", "delete"):
        raise validation(
            "internal versioning can not be used for optimistic concurrency control. Please use `if_seq_no` "
            "and `if_primary_term` instead"
        )
    if w.version_type not in (None, "internal", "external", "external_gte", "force"):
        raise illegal_argument(f"No version type match [{w.version_type}]")
    if w.if_seq_no is None and w.if_primary_term is not None:
        raise validation(f"ifSeqNo is unassigned, but primary term is [{w.if_primary_term}]")
    if w.if_seq_no is not None and w.if_primary_term is None:
        raise validation("ifSeqNo is set, but primary term is [0]")


def write(c: Cluster, w: Write) -> tuple[int, dict[str, Any]]:
    """Apply one write; return its status and result (``_index``, ``_id``, ``result``...)."""
    _check_request(w)
    if w.op in ("delete", "update") and w.doc_id is None:
        raise validation("id is missing")
    if w.pipeline is not None and w.pipeline != "_none" and not exists(c, w.pipeline):
        raise illegal_argument(f"pipeline with id [{w.pipeline}] does not exist")
    index = _write_index(c, w)
    doc_id = w.doc_id
    if doc_id is None:
        doc_id = base64.urlsafe_b64encode(uuid.uuid4().bytes[:15]).decode()
    routing_spec = index.mappings.get("_routing") or {}
    if routing_spec.get("required") and w.routing is None:
        raise EsError(
            400,
            "routing_missing_exception",
            f"routing is required for [{index.name}]/[{doc_id}]",
            {"index_uuid": "_na_", "index": index.name},
        )
    current = index.docs.get(doc_id)
    if current is not None and not _same_shard(index, current.routing or doc_id, w.routing or doc_id):
        current = None
    _check_versions(index, w, doc_id, current)
    if w.op == "delete":
        return _delete(c, index, w, doc_id, current)
    if w.op == "update":
        if str(index.setting("disable_sequence_numbers", "false")) == "true":
            raise EsError(
                400,
                "update_not_supported_exception",
                "Updates are not supported on indices with sequence numbers disabled",
            )
        source, created, noop = _updated_source(index, w.payload, doc_id, current)
        if noop:
            assert current is not None
            index.stats["noop_update_total"] += 1
            result = _result(index, doc_id, current.version, "noop", current.seq_no)
            result["_shards"] = {"total": 0, "successful": 0, "failed": 0}
            _add_get(result, index.source_of(current), current, w.fetch, _vectors(index, w))
            return 200, result
    else:
        if not isinstance(w.payload, dict):
            raise EsError(400, "mapper_parsing_exception", "failed to parse, document is empty")
        if w.op == "create" and current is not None:
            raise index.engine_error(
                409,
                "version_conflict_engine_exception",
                f"[{doc_id}]: version conflict, document already exists (current version "
                f"[{current.version}])",
            )
        source, created = w.payload, current is None
    stream = c.data_streams.get(index.data_stream) if index.data_stream else None
    try:
        if w.op != "update":
            source = ingest(c, index, w.pipeline, source)
        parsed = _index_source(c, index, source, doc_id, w)
    except EsError as error:
        if stream is None or not stream.failure_store or error.status != 400:
            raise
        return _to_failure_store(c, stream, w, doc_id, w.payload, error)
    version = _next_version(index, w, doc_id, current)
    status, result = _store(
        c, index, doc_id, source, current, version, w.routing, parsed, "created" if created else "updated"
    )
    if w.op == "update":
        stored = index.docs[doc_id]
        _add_get(result, index.source_of(stored), stored, w.fetch, _vectors(index, w))
    return status, result


def _to_failure_store(
    c: Cluster, stream: DataStream, w: Write, doc_id: str, source: Any, error: EsError
) -> tuple[int, dict[str, Any]]:
    """Keep a document the data stream refused in its failure store (created at the first failure)."""
    if not stream.failure_indices:
        stream.generation += 1
        name = backing_name(stream.name, stream.generation, ".fs")
        mappings = {"properties": {"@timestamp": {"type": "date", "ignore_malformed": False}}}
        c.create_index(name, {"mappings": mappings, "settings": {"index.hidden": True}})
        c.indices[name].data_stream = stream.name
        stream.failure_indices.append(name)
    index = c.indices[stream.failure_indices[-1]]
    failure = {
        "@timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "document": {"id": doc_id, "routing": w.routing, "index": w.target, "source": source},
        "error": {"type": error.type, "message": error.reason},
    }
    status, result = _store(c, index, doc_id, failure, None, 1, None, Parsed(), "created")
    result["failure_store"] = "used"
    return status, result


def _same_shard(index: Index, stored: str, wanted: str) -> bool:
    return index.shards == 1 or stored == wanted or shard_of(index, stored) == shard_of(index, wanted)


def _check_versions(index: Index, w: Write, doc_id: str, current: Doc | None) -> None:
    if w.if_seq_no is not None:
        required = f"required seqNo [{w.if_seq_no}], primary term [{w.if_primary_term}]"
        if current is None and w.op == "update":
            return  # the update itself answers document_missing_exception
        if current is None:
            raise index.engine_error(
                409,
                "version_conflict_engine_exception",
                f"[{doc_id}]: version conflict, {required}. but no document was found",
            )
        if current.seq_no != w.if_seq_no or w.if_primary_term != 1:
            reason = (
                f"[{doc_id}]: version conflict, {required}. current document has seqNo "
                f"[{current.seq_no}] and primary term [1]"
            )
            raise index.engine_error(409, "version_conflict_engine_exception", reason)
        return
    if w.version is None or w.version_type not in ("external", "external_gte"):
        return
    if current is None:
        return
    if w.version_type == "external" and current.version >= w.version:
        reason = (
            f"[{doc_id}]: version conflict, current version [{current.version}] is higher or equal to "
            f"the one provided [{w.version}]"
        )
        raise index.engine_error(409, "version_conflict_engine_exception", reason)
    if w.version_type == "external_gte" and current.version > w.version:
        reason = (
            f"[{doc_id}]: version conflict, current version [{current.version}] is higher than the one "
            f"provided [{w.version}]"
        )
        raise index.engine_error(409, "version_conflict_engine_exception", reason)


def _next_version(index: Index, w: Write, doc_id: str, current: Doc | None) -> int:
    if w.version is not None and w.version_type in ("external", "external_gte"):
        return w.version
    if current is None:
        return index.tombstones.pop(doc_id, 0) + 1
    return current.version + 1


def _updated_source(
    index: Index, body: Any, doc_id: str, current: Doc | None
) -> tuple[dict[str, Any], bool, bool]:
    """(new source, created?, no-op?) of an update request body."""
    if not isinstance(body, Mapping):
        raise validation("script or doc is missing")
    for key in body:
        if key not in _UPDATE_FIELDS:
            raise unknown_field("UpdateRequest", key, _UPDATE_FIELDS)
    if "script" in body:
        raise illegal_argument("the test server does not run scripts")
    partial = body.get("doc")
    if current is None:
        if body.get("doc_as_upsert") and isinstance(partial, dict):
            return copy.deepcopy(partial), True, False
        if isinstance(body.get("upsert"), dict):
            return copy.deepcopy(body["upsert"]), True, False
        raise index.engine_error(404, "document_missing_exception", f"[{doc_id}]: document missing")
    if not isinstance(partial, dict):
        raise validation("script or doc is missing")
    merged = deep_merge(current.source, partial)
    noop = merged == current.source and body.get("detect_noop", True) is not False
    return merged, False, noop


def deep_merge(base: Mapping[str, Any], partial: Mapping[str, Any]) -> dict[str, Any]:
    """``partial`` laid over ``base`` as an update's ``doc`` is (objects merge, the rest is replaced)."""
    merged = copy.deepcopy(dict(base))
    for key, value in partial.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _dotted(source: Mapping[str, Any], prefix: str = "") -> frozenset[str]:
    found: set[str] = set()
    for key, value in source.items():
        name = f"{prefix}{key}"
        if "." in key:
            found.add(name)
        if isinstance(value, Mapping):
            found |= _dotted(value, name + ".")
    return frozenset(found)


def _index_source(c: Cluster, index: Index, source: dict[str, Any], doc_id: str, w: Write) -> Parsed:
    """Grow the mapping for ``source`` and refuse what it cannot hold (the mapping stays if refused)."""
    if index.data_stream:
        stamps = index.fields().raw("@timestamp", source) if "@timestamp" in index.fields().fields else []
        if not stamps:
            raise _stream_error("data stream timestamp field [@timestamp] is missing")
        if len(stamps) > 1:
            raise _stream_error("data stream timestamp field [@timestamp] encountered multiple values")
    options = DynamicOptions(
        auto_text=str(index.setting("mapping.dynamic_strings.auto_text", "true")) == "true",
        name_limit=int(index.setting("mapping.field_name_length.limit", 0)) or None,
        ignore_long_names=str(index.setting("mapping.field_name_length.ignore_dynamic_beyond_limit", "false"))
        == "true",
        named_templates=w.dynamic_templates,
    )
    _check_array_objects(index, source)
    mappings = copy.deepcopy(index.mappings)
    changed, ignored = add_dynamic_fields(mappings, source, options)
    if changed:
        parsed = IndexFields(mappings, index.settings).parse(source, doc_id, _dotted(source))
        index.set_mappings(mappings)
    else:
        parsed = index.fields().parse(source, doc_id, _dotted(source))
    for name in ignored:
        if name not in parsed.ignored:
            parsed.ignored.append(name)
    _check_tokens(index, IndexFields(mappings, index.settings) if changed else index.fields(), source)
    return parsed


def _check_array_objects(index: Index, source: Mapping[str, Any]) -> None:
    limit = int(index.setting("mapping.array_objects.limit", 20_000))

    def count(value: Any, in_array: bool) -> int:
        if isinstance(value, Mapping):
            return int(in_array) + sum(count(v, False) for v in value.values())
        if isinstance(value, list):
            return sum(count(v, True) for v in value)
        return 0

    if count(source, False) > limit:
        raise EsError(
            400,
            "document_parsing_exception",
            "[1:2] The total number of objects across all arrays in the document has exceeded the "
            f"allowed limit of [{limit}]. This limit can be set by changing the "
            "[index.mapping.array_objects.limit] index level setting.",
        )


def _check_tokens(index: Index, fields: IndexFields, source: Mapping[str, Any]) -> None:
    limit = int(index.setting("mapping.total_tokens_per_document.limit", -1))
    if limit < 0:
        return
    total = sum(
        len(analyze(keyword_string(v)))
        for name, ref in fields.fields.items()
        if type_of(ref.spec) in TEXTS and ref.kind in ("field", "multi")
        for v in fields.raw(name, source)
        if not isinstance(v, Mapping | list)
    )
    if total > limit:
        cause = (
            "The number of tokens produced while indexing this document has exceeded the allowed "
            f"maximum of [{limit}]. This limit can be set by changing the "
            "[index.mapping.total_tokens_per_document.limit] index level setting."
        )
        raise EsError(
            400,
            "document_parsing_exception",
            f"[1:2] {cause}",
            caused_by={"type": "illegal_argument_exception", "reason": cause},
        )


def _stream_error(cause: str) -> EsError:
    return EsError(
        400,
        "document_parsing_exception",
        f"[1:2] failed to parse: {cause}",
        caused_by={"type": "illegal_argument_exception", "reason": cause},
    )


def _store(
    c: Cluster,
    index: Index,
    doc_id: str,
    source: dict[str, Any],
    current: Doc | None,
    version: int,
    routing: str | None,
    parsed: Parsed,
    result: str,
) -> tuple[int, dict[str, Any]]:
    index.seq_no += 1
    order = current.order if current is not None else c.next_order()
    index.docs[doc_id] = Doc(
        source, index.seq_no, version, order, routing, sorted(parsed.ignored), parsed.ignored_values
    )
    index.stats["index_total"] += 1
    c.after_write(index)
    return (201 if result == "created" else 200), _result(index, doc_id, version, result, index.seq_no)


def _delete(
    c: Cluster, index: Index, w: Write, doc_id: str, current: Doc | None
) -> tuple[int, dict[str, Any]]:
    index.seq_no += 1
    external = w.version is not None and w.version_type in ("external", "external_gte")
    if current is None:
        version = w.version if external and w.version is not None else index.tombstones.get(doc_id, 0) + 1
        return 404, _result(index, doc_id, version, "not_found", index.seq_no)
    version = w.version if external and w.version is not None else current.version + 1
    del index.docs[doc_id]
    index.tombstones[doc_id] = version
    index.stats["delete_total"] += 1
    c.after_write(index)
    return 200, _result(index, doc_id, version, "deleted", index.seq_no)


def _result(index: Index, doc_id: str, version: int, result: str, seq_no: int) -> dict[str, Any]:
    copies = 1 + (0 if str(index.setting("auto_expand_replicas", "false")) != "false" else index.replicas)
    return {
        "_index": index.name,
        "_id": doc_id,
        "_version": version,
        "result": result,
        "_shards": {"total": copies, "successful": 1, "failed": 0},
        "_seq_no": seq_no,
        "_primary_term": 1,
    }


def _vectors(index: Index, w: Write) -> list[str]:
    if not w.hide_vectors:
        return []
    kinds = ("dense_vector", "sparse_vector")
    return [name for name, ref in index.fields().fields.items() if ref.spec.get("type") in kinds]


def _add_get(
    result: dict[str, Any], source: Mapping[str, Any], doc: Doc, fetch: Any, hidden: list[str] | None = None
) -> None:
    if fetch is None:
        return
    wanted, includes, excludes = fetch
    if not wanted:
        return
    excludes = [*excludes, *(hidden or [])]
    shown = filter_source(source, includes, excludes) if includes or excludes else copy.deepcopy(dict(source))
    result["get"] = {"_seq_no": doc.seq_no, "_primary_term": 1, "found": True, "_source": shown}


# ---- endpoints ------------------------------------------------------------------------------------------


def _number(value: Any) -> int | None:
    return None if value is None else int(value)


def _fetch(spec: Any, includes: str | None = None, excludes: str | None = None) -> Any:
    if spec is None and not includes and not excludes:
        return None
    fetch, inc, exc = source_filter(_source_value(spec) if spec is not None else True)
    inc += [p for p in (includes or "").split(",") if p]
    exc += [p for p in (excludes or "").split(",") if p]
    return (fetch, inc, exc)


def _source_value(value: Any) -> Any:
    if isinstance(value, str):
        if value in ("true", "false"):
            return value == "true"
        return value.split(",")
    return value


def _request_write(r: Request, op: str, payload: Any) -> Write:
    p = r.params
    fetch = None
    if op == "update":
        body_source = r.json.get("_source") if isinstance(r.body, dict) else None
        fetch = _fetch(
            body_source if body_source is not None else p.get("_source"),
            p.get("_source_includes"),
            p.get("_source_excludes"),
        )
    return Write(
        op,
        r.parts["index"],
        r.parts.get("id"),
        payload,
        _number(p.get("if_seq_no")),
        _number(p.get("if_primary_term")),
        _number(p.get("version")),
        p.get("version_type"),
        p.get("routing"),
        r.flag("require_alias", False),
        r.flag("require_data_stream", False),
        p.get("pipeline"),
        fetch=fetch,
    )


def _answer(c: Cluster, r: Request, w: Write) -> Answer:
    status, result = write(c, w)
    if c.refresh_after([(result["_index"], w.routing or result["_id"])], r.params.get("refresh")):
        result["forced_refresh"] = True
    return status, result


def index_doc(c: Cluster, r: Request) -> Answer:
    """``PUT /{index}/_doc/{id}`` and ``POST /{index}/_doc``."""
    op = r.params.get("op_type", "index" if r.parts.get("id") else "create")
    if op not in ("index", "create"):
        raise illegal_argument(f"opType must be 'create' or 'index', found: [{op}]")
    return _answer(c, r, _request_write(r, op, r.body))


def create_doc(c: Cluster, r: Request) -> Answer:
    """``PUT /{index}/_create/{id}``."""
    return _answer(c, r, _request_write(r, "create", r.body))


def update_doc(c: Cluster, r: Request) -> Answer:
    """``POST /{index}/_update/{id}``."""
    if isinstance(r.body, dict):
        for key in r.body:
            if key not in _UPDATE_FIELDS:
                raise unknown_field("UpdateRequest", key, _UPDATE_FIELDS, location_of(r.raw, key))
    return _answer(c, r, _request_write(r, "update", r.body))


def delete_doc(c: Cluster, r: Request) -> Answer:
    """``DELETE /{index}/_doc/{id}``."""
    return _answer(c, r, _request_write(r, "delete", None))


def get_doc(c: Cluster, r: Request) -> Answer:
    """``GET /{index}/_doc/{id}``: realtime by default; routing, versions, stored fields, source filtering."""
    names = c.resolve(r.parts["index"], IndicesOptions(False, False))
    if len(names) > 1:
        raise illegal_argument(
            "unable to return a single index as the index and options provided got resolved to multiple "
            "indices"
        )
    index = c.indices[names[0]]
    doc_id = r.parts["id"]
    routing = r.params.get("routing")
    if (index.mappings.get("_routing") or {}).get("required") and routing is None:
        raise EsError(
            400,
            "routing_missing_exception",
            f"routing is required for [{index.name}]/[{doc_id}]",
            {"index_uuid": "_na_", "index": index.name},
        )
    if r.flag("refresh", False):
        c.refresh_index(index)
    docs = index.docs if r.flag("realtime", True) else index.visible
    doc = docs.get(doc_id)
    if doc is not None and not _same_shard(index, doc.routing or doc_id, routing or doc_id):
        doc = None
    if doc is None:
        return 404, {"_index": index.name, "_id": doc_id, "found": False}
    wanted = _number(r.params.get("version"))
    if wanted is not None and doc.version != wanted:
        reason = (
            f"[{doc_id}]: version conflict, current version [{doc.version}] is different than the one "
            f"provided [{wanted}]"
        )
        raise index.engine_error(409, "version_conflict_engine_exception", reason)
    body: dict[str, Any] = {
        "_index": index.name,
        "_id": doc_id,
        "_version": doc.version,
        "_seq_no": doc.seq_no,
        "_primary_term": 1,
    }
    stored = [s for s in r.params.get("stored_fields", "").split(",") if s]
    routing_doc_values = (index.mappings.get("_routing") or {}).get("doc_values") is True
    if doc.routing is not None and not routing_doc_values:
        body["_routing"] = doc.routing
    if "_ignored" in stored and doc.ignored:
        body["_ignored"] = list(doc.ignored)
    body["found"] = True
    fetch = _fetch(
        r.params.get("_source"), r.params.get("_source_includes"), r.params.get("_source_excludes")
    )
    if fetch is None:
        fetch = (not stored, [], [])
    wanted_source, includes, excludes = fetch
    if wanted_source:
        source = index.source_of(doc, force_synthetic=r.flag("force_synthetic_source", False))
        body["_source"] = filter_source(source, includes, excludes) if includes or excludes else source
    fields = _stored_fields(index, doc, [s for s in stored if not s.startswith("_")])
    if fields:
        body["fields"] = fields
    return 200, body


def _stored_fields(index: Index, doc: Doc, names: list[str]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    fields = index.fields()
    for name in names:
        spec = fields.spec(name)
        if spec is not None and spec.get("store") in (True, "true"):
            values = fields.raw(name, doc.source)
            if values:
                out[name] = values
    return out


def doc_exists(c: Cluster, r: Request) -> Answer:
    """``HEAD /{index}/_doc/{id}``."""
    status, _ = get_doc(c, r)
    return status, None


def get_source(c: Cluster, r: Request) -> Answer:
    """``GET /{index}/_source/{id}``."""
    status, body = get_doc(c, r)
    if status != 200:
        raise EsError(
            404, "resource_not_found_exception", f"Document not found [{body['_index']}]/[{r.parts['id']}]"
        )
    return 200, body.get("_source")


# ---- bulk -------------------------------------------------------------------------------------------------

_ACTIONS = ("index", "create", "update", "delete")
_META = frozenset(
    [
        "_index",
        "_id",
        "routing",
        "version",
        "version_type",
        "if_seq_no",
        "if_primary_term",
        "pipeline",
        "require_alias",
        "require_data_stream",
        "op_type",
        "dynamic_templates",
        "retry_on_conflict",
        "_source",
        "list_executed_pipelines",
    ]
)


def bulk(c: Cluster, r: Request) -> Answer:
    """``POST /_bulk``: each item applied on its own; item failures are reported, not raised."""
    started = time.monotonic()
    lines = r.body if isinstance(r.body, list) else []
    operations = _bulk_operations(r, lines)
    failing = dict(r.fault.bulk_items or {}) if r.fault else {}
    items: list[dict[str, Any]] = []
    touched: list[tuple[str, str]] = []
    for position, w in enumerate(operations):
        try:
            if position in failing:
                status, error_type = failing[position]
                raise _item_fault(c, w, status, error_type)
            status, result = write(c, w)
            touched.append((result["_index"], w.routing or result["_id"]))
            items.append({w.op: {**result, "status": status}})
        except EsError as error:
            target = _item_index(c, w.target) if position in failing else error.extra.get("index")
            item = {
                "_index": target or w.target,
                "_id": w.doc_id,
                "status": error.status,
                "error": error.cause(),
            }
            items.append({w.op: item})
    c.refresh_after(touched, r.params.get("refresh"))
    took = int((time.monotonic() - started) * 1000)
    errors = any("error" in next(iter(item.values())) for item in items)
    return 200, {"errors": errors, "took": took, "items": items}


def _item_index(c: Cluster, target: str) -> str:
    stream = c.data_streams.get(target)
    return stream.indices[-1] if stream else target


def _item_fault(c: Cluster, w: Write, status: int, error_type: str) -> EsError:
    if error_type in ("mapper_parsing_exception", "document_parsing_exception"):
        reason = f"[1:2] failed to parse field [injected] of type [long] in document with id '{w.doc_id}'"
        return EsError(status, error_type, reason)
    index = c.indices.get(_item_index(c, w.target))
    error = error_for(status, error_type)
    if index is not None and status != 429:
        return index.engine_error(status, error.type, error.reason)
    return error


def _bulk_operations(r: Request, lines: list[Any]) -> list[Write]:
    default_index = r.parts.get("index")
    p = r.params
    operations: list[Write] = []
    position = 0
    while position < len(lines):
        action = lines[position]
        line = position + 1
        if not isinstance(action, dict):
            raise illegal_argument(
                f"Malformed action/metadata line [{line}], expected START_OBJECT or END_OBJECT but found "
                "[VALUE_STRING]"
            )
        if not action:
            raise illegal_argument(
                f"Malformed action/metadata line [{line}], expected FIELD_NAME but found [END_OBJECT]"
            )
        op, meta = next(iter(action.items()))
        if op not in _ACTIONS or len(action) != 1:
            raise illegal_argument(
                f"Malformed action/metadata line [{line}], expected field [create], [delete], [index] or "
                f"[update] but found [{op}]"
            )
        if not isinstance(meta, dict):
            raise illegal_argument(
                f"Malformed action/metadata line [{line}], expected START_OBJECT but found "
                f"[{type(meta).__name__}]"
            )
        for key in meta:
            if key not in _META:
                raise illegal_argument(f"Action/metadata line [{line}] contains an unknown parameter [{key}]")
        position += 1
        payload = None
        if op != "delete":
            if position >= len(lines):
                raise illegal_argument("The bulk request must be terminated by a newline [\\n]")
            payload, position = lines[position], position + 1
        if op == "index" and meta.get("op_type") == "create":
            op = "create"
        target = meta.get("_index") or default_index
        if not target:
            raise validation("index is missing")
        doc_id = meta.get("_id")
        fetch = None
        if op == "update":
            body_source = payload.get("_source") if isinstance(payload, dict) else None
            chosen = meta.get("_source", body_source if body_source is not None else p.get("_source"))
            if chosen is None and "_source_include_vectors" in p:
                chosen = True  # asking how vectors show implies showing the source
            fetch = _fetch(chosen, p.get("_source_includes"), p.get("_source_excludes"))
            if isinstance(payload, dict):
                payload = {k: v for k, v in payload.items() if k != "_source"}
        operations.append(
            Write(
                op,
                target,
                None if doc_id is None else str(doc_id),
                payload,
                _number(meta.get("if_seq_no")),
                _number(meta.get("if_primary_term")),
                _number(meta.get("version")),
                meta.get("version_type"),
                meta.get("routing", p.get("routing")),
                flag(meta.get("require_alias", p.get("require_alias")), False),
                flag(meta.get("require_data_stream", p.get("require_data_stream")), False),
                meta.get("pipeline", p.get("pipeline")),
                dict(meta.get("dynamic_templates") or {}),
                fetch,
                p.get("_source_include_vectors") == "false",
            )
        )
    return operations


def parse_bulk(raw: str) -> list[Any]:
    """The NDJSON lines of a ``_bulk`` body."""
    return [json.loads(line) for line in raw.splitlines() if line.strip()]


HANDLERS = {
    "index": index_doc,
    "create": create_doc,
    "update": update_doc,
    "delete": delete_doc,
    "get": get_doc,
    "exists": doc_exists,
    "get_source": get_source,
    "bulk": bulk,
}
_ = Fault
