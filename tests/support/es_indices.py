"""Cluster and index administration endpoints: info, health, state, capabilities; create, get, delete,
mappings, settings, aliases, refresh, flush, stats, open/close and the shard-level views.
"""

from __future__ import annotations

import copy
import fnmatch
from collections.abc import Mapping
from typing import Any

from .es_api import ROUTES
from .es_cluster import (
    CLUSTER_NAME,
    LUCENE_VERSION,
    VERSION,
    Cluster,
    Index,
    IndicesOptions,
    check_aliases,
    flat_settings,
    nested_settings,
)
from .es_errors import NODE_ID, EsError, illegal_argument, index_not_found
from .es_mapping import merge_mappings, normalize_mappings
from .es_request import Answer, Request
from .es_synthetic import is_synthetic

# Named cluster features this server implements (``gte_vX.Y.Z`` features follow VERSION).
CLUSTER_FEATURES = frozenset(
    {
        "bulk_pipeline_validate",
        "field_caps_index_filter",
        "search.count.stats_parameter",
        "indices_rollover_conditions",
        "index.throw_exception_on_index_creation_if_unsupported_value_type_in_alias",
        "mapper.unknown_field_mapping_update_error_message",
        "mapper.source.mode_from_index_setting",
        "mapper.ignore_dynamic_field_names_beyond_limit",
        "ingest.dynamic_strings.auto_text_setting",
        "mapper.fix_sorted_numeric_with_offsets_empty_array",
        "mapper.array_objects_limit",
        "mapper.tokens_per_field_limit",
        "search.hide_vectors_in_source",
        "field_caps.passthrough",
        "mapper.routing_as_doc_values",
    }
)
# Capabilities this server declares (``GET /_capabilities``).
CAPABILITIES = frozenset(
    {
        "filters_on_keys_fix",
        "invalid_timestamp_tiebreaker_4xx",
        "return-404-on-missing-target",
        "max_size_deprecation",
        "index_template_managed_field",
        "index_template_registry_installed_field",
        "index_template_tracking_info",
        "lookup_index_mode",
        "poorly_formatted_bad_request",
        "hunspell_dict_400",
        "disable_sequence_numbers",
        "failure_store_in_template",
    }
)


def info(c: Cluster, r: Request) -> Answer:
    """``GET /``."""
    version = {
        "number": VERSION,
        "build_flavor": "default",
        "build_type": "docker",
        "build_hash": "0" * 40,
        "build_date": "2025-10-01T00:00:00.000000000Z",
        "build_snapshot": False,
        "lucene_version": LUCENE_VERSION,
        "minimum_wire_compatibility_version": "8.19.0",
        "minimum_index_compatibility_version": "8.0.0",
    }
    body = {
        "name": "hunter-test-node",
        "cluster_name": CLUSTER_NAME,
        "cluster_uuid": c.cluster_uuid,
        "version": version,
        "tagline": "You Know, for Search",
    }
    return 200, (None if r.method == "HEAD" else body)


def health(c: Cluster, r: Request) -> Answer:
    """``GET /_cluster/health``: green (as a cluster with room for every replica would be)."""
    names = c.resolve(r.parts.get("index"), IndicesOptions(True, True, frozenset({"open", "hidden"})))
    primaries = sum(c.indices[n].shards for n in names)
    return 200, {
        "cluster_name": CLUSTER_NAME,
        "status": "green",
        "timed_out": False,
        "number_of_nodes": 1,
        "number_of_data_nodes": 1,
        "active_primary_shards": primaries,
        "active_shards": primaries,
        "relocating_shards": 0,
        "initializing_shards": 0,
        "unassigned_shards": 0,
        "unassigned_primary_shards": 0,
        "delayed_unassigned_shards": 0,
        "number_of_pending_tasks": 0,
        "number_of_in_flight_fetch": 0,
        "task_max_waiting_in_queue_millis": 0,
        "active_shards_percent_as_number": 100.0,
    }


def state(c: Cluster, r: Request) -> Answer:
    """``GET /_cluster/state[/{metric}]``: the cluster name and uuid, and the nodes' features."""
    metrics = set((r.parts.get("metric") or "_all").split(","))
    body: dict[str, Any] = {"cluster_name": CLUSTER_NAME, "cluster_uuid": c.cluster_uuid}
    if metrics & {"_all", "nodes_features"}:
        body["nodes_features"] = [{"node_id": NODE_ID, "features": sorted(CLUSTER_FEATURES)}]
    return 200, body


def capabilities(c: Cluster, r: Request) -> Answer:
    """``GET /_capabilities``: are these capabilities of this endpoint supported?"""
    method = r.params.get("method", "GET").upper()
    path = r.params.get("path", "/")
    known = any(route.template == path and method in route.methods for route in ROUTES) or any(
        route.regex.fullmatch(path) and method in route.methods for route in ROUTES
    )
    wanted = {c_.strip() for c_ in r.params.get("capabilities", "").split(",") if c_.strip()}
    supported = known and wanted <= CAPABILITIES
    return 200, {
        "_nodes": {"total": 1, "successful": 1, "failed": 0},
        "cluster_name": CLUSTER_NAME,
        "supported": supported,
    }


# ---- indices ---------------------------------------------------------------------------------------------

_CREATE_KEYS = ("settings", "mappings", "aliases")


def create_index(c: Cluster, r: Request) -> Answer:
    """``PUT /{index}``."""
    body = r.json
    if r.body is not None and not isinstance(r.body, dict):
        raise EsError(400, "parse_exception", "request body is required")
    for key, value in body.items():
        if key not in _CREATE_KEYS:
            raise EsError(400, "parse_exception", f"unknown key [{key}] for create index")
        if not isinstance(value, Mapping):
            raise EsError(400, "parse_exception", f"key [{key}] must be an object")
    if len(c.legacy_for(r.parts["index"])) > 1 and c.template_for(r.parts["index"]) is None:
        _warn_legacy(c, r, r.parts["index"])
    index = c.create_index(r.parts["index"], body)
    return 200, {"acknowledged": True, "shards_acknowledged": True, "index": index.name}


def _warn_legacy(c: Cluster, r: Request, name: str) -> None:
    names = [n for n, _ in c.legacy_for(name)]
    r.warn(
        f"index [{name}] matches multiple legacy templates [{', '.join(sorted(names))}], composable "
        "templates will only match a single template"
    )


def delete_index(c: Cluster, r: Request) -> Answer:
    """``DELETE /{index}``: data stream names are not indices (and backing write indices are refused)."""
    options = IndicesOptions.read(
        r.params, ignore_unavailable=False, allow_no_indices=True, expand="open,closed"
    )
    expression = r.parts["index"]
    for part in expression.split(","):
        if part in c.data_streams or (
            part not in c.indices
            and "*" not in part
            and not options.ignore_unavailable
            and part not in c.aliases()
        ):
            raise index_not_found(part)
    names = c.resolve(expression, options, streams=False)
    for name in names:
        index = c.indices[name]
        if index.data_stream and c.data_streams[index.data_stream].indices[-1] == name:
            raise illegal_argument(
                f"index [{name}] is the write index for data stream [{index.data_stream}] and cannot be "
                "deleted"
            )
    for name in names:
        index = c.indices.pop(name)
        if index.data_stream:
            c.data_streams[index.data_stream].indices.remove(name)
    return 200, {"acknowledged": True}


def index_exists(c: Cluster, r: Request) -> Answer:
    """``HEAD /{index}``."""
    if "local" in r.params:
        r.warn(
            "the [?local] query parameter to this API has no effect, is now deprecated, and will be "
            "removed in a future version"
        )
    try:
        names = c.resolve(r.parts["index"], IndicesOptions.read(r.params, allow_no_indices=False))
    except EsError:
        return 404, None
    return (200 if names else 404), None


def _index_settings(index: Index, r: Request) -> dict[str, Any]:
    flat = dict(index.settings)
    return flat if r.flag("flat_settings", False) else nested_settings(flat)


_DEFAULTS = {
    "index.mapping.dynamic_strings.auto_text": "true",
    "index.refresh_interval": "1s",
    "index.hidden": "false",
}


def get_index(c: Cluster, r: Request) -> Answer:
    """``GET /{index}``: aliases, mappings and settings of each concrete index."""
    names = c.resolve(
        r.parts["index"], IndicesOptions.read(r.params, allow_no_indices=True, expand="open,closed")
    )
    if not names and "*" not in r.parts["index"]:
        raise index_not_found(r.parts["index"])
    out: dict[str, Any] = {}
    for name in names:
        index = c.indices[name]
        entry: dict[str, Any] = {
            "aliases": copy.deepcopy(index.aliases),
            "mappings": copy.deepcopy(index.mappings),
            "settings": _index_settings(index, r),
        }
        if index.data_stream:
            entry["data_stream"] = index.data_stream
        out[name] = entry
    return 200, out


def get_mapping(c: Cluster, r: Request) -> Answer:
    """``GET /{index}/_mapping``, keyed by concrete (backing) index."""
    names = c.resolve(r.parts.get("index"), IndicesOptions.read(r.params))
    return 200, {name: {"mappings": copy.deepcopy(c.indices[name].mappings)} for name in names}


def put_mapping(c: Cluster, r: Request) -> Answer:
    """``PUT /{index}/_mapping``: merged into each index's mapping."""
    names = c.resolve(r.parts["index"], IndicesOptions.read(r.params, allow_no_indices=False))
    update = normalize_mappings(r.json)
    for name in names:
        index = c.indices[name]
        index.set_mappings(merge_mappings(index.mappings, update))
    return 200, {"acknowledged": True}


def get_field_mapping(c: Cluster, r: Request) -> Answer:
    """``GET /{index}/_mapping/field/{fields}``."""
    names = c.resolve(r.parts.get("index"), IndicesOptions.read(r.params))
    patterns = r.parts["fields"].split(",")
    out: dict[str, Any] = {}
    for name in names:
        fields = c.indices[name].fields().fields
        chosen = {f: ref for f, ref in fields.items() if any(fnmatch.fnmatchcase(f, p) for p in patterns)}
        out[name] = {
            "mappings": {
                f: {"full_name": f, "mapping": {f.split(".")[-1]: copy.deepcopy(ref.spec)}}
                for f, ref in chosen.items()
            }
        }
    return 200, out


def get_settings(c: Cluster, r: Request) -> Answer:
    """``GET /{index}/_settings[/{name}]`` (``include_defaults`` adds what was not set)."""
    names = c.resolve(r.parts.get("index"), IndicesOptions.read(r.params, expand="open,closed"))
    wanted = [p for p in (r.parts.get("name") or "").split(",") if p]
    out: dict[str, Any] = {}
    for name in names:
        index = c.indices[name]
        flat = {
            k: v
            for k, v in index.settings.items()
            if not wanted or any(fnmatch.fnmatchcase(k, w) for w in wanted)
        }
        entry: dict[str, Any] = {
            "settings": flat if r.flag("flat_settings", False) else nested_settings(flat)
        }
        if r.flag("include_defaults", False):
            defaults = {k: v for k, v in _DEFAULTS.items() if k not in index.settings}
            entry["defaults"] = defaults if r.flag("flat_settings", False) else nested_settings(defaults)
        out[name] = entry
    return 200, out


_STATIC = (
    "index.number_of_shards",
    "index.mode",
    "index.routing_partition_size",
    "index.number_of_routing_shards",
)


def put_settings(c: Cluster, r: Request) -> Answer:
    """``PUT /{index}/_settings``: dynamic settings only (null resets a setting)."""
    names = c.resolve(r.parts.get("index"), IndicesOptions.read(r.params, allow_no_indices=False))
    body = r.json.get("settings", r.json) if isinstance(r.json.get("settings"), Mapping) else r.json
    update = flat_settings(body)
    static = sorted(k for k in update if k in _STATIC)
    Cluster.check_limits(update)
    for name in names:
        index = c.indices[name]
        if static and not index.closed:
            raise illegal_argument(
                f"Can't update non dynamic settings [{static}] for open indices [[{name}/{index.uuid}]]"
            )
        for key, value in update.items():
            if value is None:
                index.settings.pop(key, None)
            else:
                index.settings[key] = value
        index.set_mappings(index.mappings)
    return 200, {"acknowledged": True}


def refresh(c: Cluster, r: Request) -> Answer:
    """``POST /{index}/_refresh``: make every write searchable."""
    names = c.resolve(r.parts.get("index"), IndicesOptions.read(r.params))
    total = 0
    successful = 0
    for name in names:
        index = c.indices[name]
        c.refresh_index(index)
        total += index.shards * (1 + index.replicas)
        successful += index.shards
    return 200, {"_shards": {"total": total, "successful": successful, "failed": 0}}


def flush(c: Cluster, r: Request) -> Answer:
    """``POST /{index}/_flush``."""
    return refresh(c, r)


def stats(c: Cluster, r: Request) -> Answer:
    """``GET /{index}/_stats``: document counts, store size and indexing counters."""
    names = c.resolve(r.parts.get("index"), IndicesOptions.read(r.params, expand="open,hidden"))
    indices: dict[str, Any] = {}
    for name in names:
        index = c.indices[name]
        numbers = {
            "docs": {"count": len(index.visible), "deleted": 0},
            "store": {"size_in_bytes": index.store_bytes()},
            "indexing": {
                "index_total": index.stats["index_total"],
                "delete_total": index.stats["delete_total"],
                "noop_update_total": index.stats["noop_update_total"],
            },
        }
        indices[name] = {
            "uuid": index.uuid,
            "health": "green",
            "status": "close" if index.closed else "open",
            "primaries": numbers,
            "total": copy.deepcopy(numbers),
        }
    return 200, {"_shards": {"total": len(names), "successful": len(names), "failed": 0}, "indices": indices}


def close_index(c: Cluster, r: Request) -> Answer:
    """``POST /{index}/_close`` (data stream write indices cannot be closed)."""
    names = c.resolve(
        r.parts["index"], IndicesOptions.read(r.params, expand="open", allow_no_indices=True), streams=False
    )
    closed: dict[str, Any] = {}
    for name in names:
        c.indices[name].closed = True
        closed[name] = {"closed": True}
    return 200, {"acknowledged": True, "shards_acknowledged": True, "indices": closed}


def open_index(c: Cluster, r: Request) -> Answer:
    """``POST /{index}/_open`` (a data stream opens all its backing indices)."""
    names = c.resolve(r.parts["index"], IndicesOptions.read(r.params, expand="closed"))
    for part in r.parts["index"].split(","):
        if part in c.data_streams:
            names.extend(n for n in c.data_streams[part].indices if n not in names)
    for name in names:
        c.indices[name].closed = False
    return 200, {"acknowledged": True, "shards_acknowledged": True}


# ---- aliases --------------------------------------------------------------------------------------------


def put_alias(c: Cluster, r: Request) -> Answer:
    """``PUT /{index}/_alias/{name}``."""
    names = c.resolve(r.parts["index"], IndicesOptions.read(r.params, allow_no_indices=False))
    spec = check_aliases({r.parts["name"]: r.json})
    for name in names:
        c.indices[name].aliases.update(copy.deepcopy(spec))
    return 200, {"acknowledged": True}


def get_alias(c: Cluster, r: Request) -> Answer:
    """``GET /{index}/_alias[/{name}]``."""
    names = c.resolve(r.parts.get("index"), IndicesOptions.read(r.params, expand="open,hidden"))
    wanted = [p for p in (r.parts.get("name") or "*").split(",") if p]
    out: dict[str, Any] = {}
    found_any = False
    for name in names:
        aliases = {
            a: copy.deepcopy(s)
            for a, s in c.indices[name].aliases.items()
            if any(fnmatch.fnmatchcase(a, w) for w in wanted)
        }
        found_any = found_any or bool(aliases)
        if aliases or r.parts.get("name") is None:
            out[name] = {"aliases": aliases}
    if r.parts.get("name") is not None and not found_any:
        return 404, {"error": f"alias [{r.parts['name']}] missing", "status": 404}
    return 200, out


def alias_exists(c: Cluster, r: Request) -> Answer:
    """``HEAD /_alias/{name}``."""
    status, _ = get_alias(c, r)
    return status, None


def delete_alias(c: Cluster, r: Request) -> Answer:
    """``DELETE /{index}/_alias/{name}``."""
    names = c.resolve(r.parts["index"], IndicesOptions.read(r.params))
    removed = False
    for name in names:
        for alias in [a for a in c.indices[name].aliases if fnmatch.fnmatchcase(a, r.parts["name"])]:
            del c.indices[name].aliases[alias]
            removed = True
    if not removed:
        raise EsError(
            404,
            "aliases_not_found_exception",
            f"aliases [{r.parts['name']}] missing",
            {"resource.type": "aliases", "resource.id": r.parts["name"]},
        )
    return 200, {"acknowledged": True}


# ---- shard-level views and resizing ------------------------------------------------------------------


def shard_stores(c: Cluster, r: Request) -> Answer:
    """``GET /{index}/_shard_stores``: each primary on the one node."""
    names = c.resolve(r.parts.get("index"), IndicesOptions.read(r.params))
    store = {"allocation_id": "hunterAllocation0000000", "allocation": "primary"}
    return 200, {
        "indices": {
            n: {
                "shards": {
                    str(s): {"stores": [{NODE_ID: {"name": "hunter-test-node"}, **store}]}
                    for s in range(c.indices[n].shards)
                }
            }
            for n in names
        }
    }


def search_shards(c: Cluster, r: Request) -> Answer:
    """``GET /{index}/_search_shards``."""
    names = c.resolve(r.parts.get("index"), IndicesOptions.read(r.params))
    shards = [
        [
            {
                "state": "STARTED",
                "primary": True,
                "node": NODE_ID,
                "shard": s,
                "index": n,
                "allocation_id": {"id": "hunterAllocation0000000"},
            }
        ]
        for n in names
        for s in range(c.indices[n].shards)
    ]
    return 200, {
        "nodes": {NODE_ID: {"name": "hunter-test-node"}},
        "indices": {n: {} for n in names},
        "shards": shards,
    }


def resize(c: Cluster, r: Request) -> Answer:
    """``POST /{index}/_clone|_shrink|_split/{target}``: never on a data stream's write index."""
    source = c.index(r.parts["index"])
    if source.data_stream and c.data_streams[source.data_stream].indices[-1] == source.name:
        raise illegal_argument(
            f"cannot resize the write index [{source.name}] for data stream [{source.data_stream}]"
        )
    body = {
        "settings": r.json.get("settings") or {},
        "aliases": r.json.get("aliases") or {},
        "mappings": copy.deepcopy(source.mappings),
    }
    target = c.create_index(r.parts["target"], body)
    target.docs = copy.deepcopy(source.docs)
    target.visible = dict(target.docs)
    return 200, {"acknowledged": True, "shards_acknowledged": True, "index": target.name}


def disk_usage(c: Cluster, r: Request) -> Answer:
    """``POST /{index}/_disk_usage?run_expensive_tasks=true``: bytes per field, roughly (a synthetic-source
    index keeps no ``_source``, only the ``_recovery_source`` it replays from)."""
    if not r.flag("run_expensive_tasks", False):
        raise EsError(
            400,
            "action_request_validation_exception",
            "Validation Failed: 1: analyzing the disk usage of an index is expensive and "
            "resource-intensive, the parameter [run_expensive_tasks] must be set to [true] in order for "
            "the task to be performed.;",
        )
    names = c.resolve(r.parts["index"], IndicesOptions.read(r.params))
    out: dict[str, Any] = {"_shards": {"total": len(names), "successful": len(names), "failed": 0}}
    for name in names:
        index = c.indices[name]
        size = index.store_bytes()
        source = "_recovery_source" if is_synthetic(index.mappings, index.settings) else "_source"
        fields = {
            field: {"total_in_bytes": size}
            for field in ("_id", "_seq_no", "_version", "_primary_term", source)
        }
        fields.update(
            {
                field: {"total_in_bytes": size}
                for field, ref in index.fields().fields.items()
                if ref.kind != "object"
            }
        )
        out[name] = {"store_size_in_bytes": size, "all_fields": {"total_in_bytes": size}, "fields": fields}
    return 200, out


# ---- ingest pipelines (stored, never run) ---------------------------------------------------------------


def put_pipeline(c: Cluster, r: Request) -> Answer:
    """``PUT /_ingest/pipeline/{id}`` (kept so a write naming it is accepted; processors do not run)."""
    r.check_fields(
        "pipeline",
        ("description", "processors", "on_failure", "version", "_meta", "deprecated", "field_access_pattern"),
    )
    if not isinstance(r.json.get("processors"), list):
        raise EsError(
            400,
            "parse_exception",
            "[processors] required property is missing",
            {"property_name": "processors"},
        )
    c.pipelines[r.parts["id"]] = copy.deepcopy(r.json)
    return 200, {"acknowledged": True}


def get_pipeline(c: Cluster, r: Request) -> Answer:
    """``GET /_ingest/pipeline[/{id}]``."""
    wanted = r.parts.get("id") or "*"
    found = {
        k: v for k, v in c.pipelines.items() if any(fnmatch.fnmatchcase(k, w) for w in wanted.split(","))
    }
    return (200 if found or wanted == "*" else 404), found


def delete_pipeline(c: Cluster, r: Request) -> Answer:
    """``DELETE /_ingest/pipeline/{id}``."""
    if r.parts["id"] not in c.pipelines:
        raise EsError(404, "resource_not_found_exception", f"pipeline [{r.parts['id']}] is missing")
    del c.pipelines[r.parts["id"]]
    return 200, {"acknowledged": True}


HANDLERS = {
    "info": info,
    "cluster.health": health,
    "cluster.state": state,
    "capabilities": capabilities,
    "indices.create": create_index,
    "indices.delete": delete_index,
    "indices.exists": index_exists,
    "indices.get": get_index,
    "indices.get_mapping": get_mapping,
    "indices.put_mapping": put_mapping,
    "indices.get_field_mapping": get_field_mapping,
    "indices.get_settings": get_settings,
    "indices.put_settings": put_settings,
    "indices.refresh": refresh,
    "indices.flush": flush,
    "indices.stats": stats,
    "indices.close": close_index,
    "indices.open": open_index,
    "indices.put_alias": put_alias,
    "indices.get_alias": get_alias,
    "indices.exists_alias": alias_exists,
    "indices.delete_alias": delete_alias,
    "indices.shard_stores": shard_stores,
    "search_shards": search_shards,
    "indices.clone": resize,
    "indices.shrink": resize,
    "indices.split": resize,
    "indices.disk_usage": disk_usage,
    "ingest.put_pipeline": put_pipeline,
    "ingest.get_pipeline": get_pipeline,
    "ingest.delete_pipeline": delete_pipeline,
}
