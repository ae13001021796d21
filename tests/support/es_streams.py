"""Data streams and rollover, as ``MetadataCreateDataStreamService`` and ``MetadataRolloverService``.

A data stream is created from a composable template with a ``data_stream`` section (explicitly or
by the first write); its backing indices are hidden ``.ds-<name>-<date>-<generation>`` indices.
Rollover adds a backing index (data streams) or a new index behind an alias, when no conditions are
given or when a ``max_*`` condition is met and every ``min_*`` one is.
"""

from __future__ import annotations

import copy
import fnmatch
import re
import time
from collections.abc import Mapping
from typing import Any

from .es_cluster import (
    Cluster,
    DataStream,
    Index,
    IndicesOptions,
    backing_name,
    check_index_name,
    check_stream_name,
    resolve_date_math,
)
from .es_errors import EsError, already_exists, illegal_argument, index_not_found, not_found, validation
from .es_request import Answer, Request

MAX_SIZE_DEPRECATION = (
    "Use of the [max_size] rollover condition has been deprecated in favour of the [max_primary_shard_size] "
    "condition and will be removed in a later version"
)


def create_data_stream(c: Cluster, name: str) -> DataStream:
    """Create data stream ``name`` and its first backing index from the matching template."""
    check_stream_name(name)
    if name in c.data_streams:
        raise already_exists(f"data_stream [{name}] already exists", name)
    if name in c.indices:
        raise already_exists(
            f"index [{name}/{c.indices[name].uuid}] already exists", name, c.indices[name].uuid
        )
    found = c.template_for(name)
    if found is None:
        raise illegal_argument(f"no matching index template found for data stream [{name}]")
    if "data_stream" not in found[1]:
        raise illegal_argument(
            f"matching index template [{found[0]}] for data stream [{name}] has no data stream template"
        )
    template = found[1]
    options = template["data_stream"]
    lifecycle = (template.get("template") or {}).get("lifecycle")
    stream = DataStream(
        name,
        found[0],
        [],
        hidden=bool(options.get("hidden", False)),
        meta=copy.deepcopy(template.get("_meta")),
        lifecycle=copy.deepcopy(lifecycle),
        failure_store=_failure_store(template),
        allow_custom_routing=bool(options.get("allow_custom_routing", False)),
    )
    first = backing_name(name, 1)
    c.create_index(first, {}, data_stream=stream, template=found)
    stream.indices.append(first)
    c.data_streams[name] = stream
    return stream


def _failure_store(template: Mapping[str, Any]) -> bool:
    options = ((template.get("template") or {}).get("data_stream_options") or {}).get("failure_store") or {}
    return bool(options.get("enabled", False)) or bool(template["data_stream"].get("failure_store", False))


def _managed_by(stream: DataStream, index: Index) -> str:
    policy = index.setting("lifecycle.name")
    prefer_ilm = str(index.setting("lifecycle.prefer_ilm", "true")) == "true"
    lifecycle = stream.lifecycle is not None and stream.lifecycle.get("enabled", True) is not False
    if lifecycle and (not policy or not prefer_ilm):
        return "Data stream lifecycle"
    if policy:
        return "Index Lifecycle Management"
    return "Unmanaged"


def describe(c: Cluster, stream: DataStream) -> dict[str, Any]:
    """One entry of ``GET /_data_stream``."""
    write = c.indices[stream.indices[-1]]
    backing = []
    for name in stream.indices:
        index = c.indices[name]
        entry: dict[str, Any] = {"index_name": name, "index_uuid": index.uuid}
        policy = index.setting("lifecycle.name")
        if policy:
            entry["ilm_policy"] = policy
        entry["prefer_ilm"] = str(index.setting("lifecycle.prefer_ilm", "true")) == "true"
        entry["managed_by"] = _managed_by(stream, index)
        entry["index_mode"] = index.mode
        backing.append(entry)
    out: dict[str, Any] = {
        "name": stream.name,
        "timestamp_field": {"name": "@timestamp"},
        "indices": backing,
        "generation": stream.generation,
    }
    if stream.meta is not None:
        out["_meta"] = copy.deepcopy(stream.meta)
    out["status"] = "GREEN"
    out["template"] = stream.template
    if stream.lifecycle is not None:
        out["lifecycle"] = {"enabled": True, **copy.deepcopy(stream.lifecycle)}
    policy = write.setting("lifecycle.name")
    if policy:
        out["ilm_policy"] = policy
    out["next_generation_managed_by"] = _managed_by(stream, write)
    out["prefer_ilm"] = str(write.setting("lifecycle.prefer_ilm", "true")) == "true"
    out.update(
        {
            "hidden": stream.hidden,
            "system": False,
            "allow_custom_routing": stream.allow_custom_routing,
            "replicated": False,
            "rollover_on_write": False,
            "index_mode": write.mode,
            "failure_store": {
                "enabled": stream.failure_store,
                "rollover_on_write": not stream.failure_indices,
                "indices": [
                    {
                        "index_name": n,
                        "index_uuid": c.indices[n].uuid,
                        "prefer_ilm": True,
                        "managed_by": "Unmanaged",
                    }
                    for n in stream.failure_indices
                ],
            },
            "settings": {},
            "mappings": {},
        }
    )
    return out


def _stream_names(
    c: Cluster, expression: str | None, options: IndicesOptions, *, missing_ok: bool = False
) -> list[str]:
    names: list[str] = []
    for raw in (expression or "*").split(","):
        part = raw.strip()
        if part.startswith("-") and names:
            names = [n for n in names if not fnmatch.fnmatchcase(n, part[1:])]
            continue
        if "*" in part:
            found = [
                n
                for n in sorted(c.data_streams)
                if fnmatch.fnmatchcase(n, part)
                and ("hidden" in options.expand or not c.data_streams[n].hidden or part.startswith("."))
            ]
        elif part in c.data_streams:
            found = [part]
        elif missing_ok:
            found = []
        else:
            raise index_not_found(part)
        names.extend(n for n in found if n not in names)
    return names


def put_data_stream(c: Cluster, r: Request) -> Answer:
    """``PUT /_data_stream/{name}``."""
    create_data_stream(c, r.parts["name"])
    return 200, {"acknowledged": True}


def get_data_streams(c: Cluster, r: Request) -> Answer:
    """``GET /_data_stream[/{name}]``."""
    options = IndicesOptions.read(r.params)
    names = _stream_names(c, r.parts.get("name"), options)
    return 200, {"data_streams": [describe(c, c.data_streams[n]) for n in names]}


def delete_data_stream(c: Cluster, r: Request) -> Answer:
    """``DELETE /_data_stream/{name}``: the stream and its backing indices."""
    options = IndicesOptions.read(r.params, expand="open,closed")
    for name in _stream_names(c, r.parts["name"], options):
        stream = c.data_streams.pop(name)
        for index in [*stream.indices, *stream.failure_indices]:
            c.indices.pop(index, None)
    return 200, {"acknowledged": True}


def put_data_lifecycle(c: Cluster, r: Request) -> Answer:
    """``PUT /_data_stream/{name}/_lifecycle``."""
    r.check_fields("lifecycle", ("data_retention", "enabled", "downsampling"))
    options = IndicesOptions.read(r.params)
    for name in _stream_names(c, r.parts["name"], options):
        c.data_streams[name].lifecycle = {
            "enabled": bool(r.json.get("enabled", True)),
            **{k: v for k, v in r.json.items() if k != "enabled"},
        }
    return 200, {"acknowledged": True}


# ---- rollover --------------------------------------------------------------------------------------------

_CONDITIONS = [
    "max_age",
    "max_docs",
    "max_size",
    "max_primary_shard_size",
    "max_primary_shard_docs",
    "min_age",
    "min_docs",
    "min_size",
    "min_primary_shard_size",
    "min_primary_shard_docs",
]
_UNITS = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3, "tb": 1024**4, "pb": 1024**5}
_TIMES = {"nanos": 1e-9, "micros": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400}


def _bytes(text: Any) -> int:
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*", str(text).lower())
    if found is None or found.group(2) not in _UNITS:
        raise EsError(
            400,
            "parse_exception",
            f"failed to parse setting [max_size] with value [{text}] as a size in bytes",
        )
    return int(float(found.group(1)) * _UNITS[found.group(2)])


def _seconds(text: Any) -> float:
    found = re.fullmatch(r"\s*(\d+)\s*([a-z]+)\s*", str(text).lower())
    if found is None or found.group(2) not in _TIMES:
        raise EsError(400, "parse_exception", f"failed to parse [{text}] as a time value")
    return int(found.group(1)) * _TIMES[found.group(2)]


def _met(name: str, value: Any, index: Index) -> bool:
    docs = len(index.visible)
    size = index.store_bytes()
    age = time.time() - index.created_ms / 1000
    checks = {
        "max_age": lambda: age >= _seconds(value),
        "min_age": lambda: age >= _seconds(value),
        "max_docs": lambda: docs >= int(value),
        "min_docs": lambda: docs >= int(value),
        "max_primary_shard_docs": lambda: docs >= int(value),
        "min_primary_shard_docs": lambda: docs >= int(value),
        "max_size": lambda: docs > 0 and size >= _bytes(value),
        "min_size": lambda: size >= _bytes(value),
        "max_primary_shard_size": lambda: docs > 0 and size >= _bytes(value),
        "min_primary_shard_size": lambda: size >= _bytes(value),
    }
    return bool(checks[name]())


def rollover(c: Cluster, r: Request) -> Answer:
    """``POST /{alias-or-data-stream}/_rollover[/{new_index}]``."""
    target = r.parts["alias"]
    r.check_fields("rollover", ("conditions", "settings", "mappings", "aliases"))
    conditions = r.json.get("conditions") or {}
    for name in conditions:
        if name not in _CONDITIONS:
            raise EsError(400, "x_content_parse_exception", f"[1:2] [conditions] unknown field [{name}]")
    if "max_size" in conditions:
        r.warn(MAX_SIZE_DEPRECATION)
    if conditions and not any(n.startswith("max_") for n in conditions):
        raise validation("at least one max_* rollover condition must be set when using min_* conditions")
    dry_run = r.flag("dry_run", False)
    stream = c.data_streams.get(target)
    if stream is not None:
        old = stream.indices[-1]
        new = backing_name(target, stream.generation + 1)
    else:
        old = _write_index(c, target)
        new = r.parts.get("new_index") or _next_name(old)
        new = resolve_date_math(new)
        check_index_name(new)
    if new in c.indices:
        raise already_exists(f"index [{new}/{c.indices[new].uuid}] already exists", new, c.indices[new].uuid)
    results = {f"[{name}: {value}]": _met(name, value, c.indices[old]) for name, value in conditions.items()}
    maxes = [met for key, met in results.items() if key.startswith("[max_")]
    mins = [met for key, met in results.items() if key.startswith("[min_")]
    rolled = not results or (any(maxes) and all(mins))
    answer = {
        "acknowledged": rolled and not dry_run,
        "shards_acknowledged": rolled and not dry_run,
        "old_index": old,
        "new_index": new,
        "rolled_over": rolled and not dry_run,
        "dry_run": dry_run,
        "lazy": False,
        "conditions": results,
    }
    if not rolled or dry_run:
        return 200, answer
    if stream is not None:
        stream.generation += 1
        c.create_index(new, {}, data_stream=stream)
        stream.indices.append(new)
    else:
        _roll_alias(c, target, old, new, r.json)
    return 200, answer


def _write_index(c: Cluster, alias: str) -> str:
    holders = [name for name, index in sorted(c.indices.items()) if alias in index.aliases]
    if not holders:
        if alias in c.indices:
            raise illegal_argument(
                "rollover target is a [concrete index] but one of [alias,data_stream] was expected"
            )
        raise not_found(f"rollover target [{alias}] does not exist")
    writers = [n for n in holders if c.indices[n].aliases[alias].get("is_write_index") is True]
    if writers:
        return writers[0]
    if len(holders) > 1:
        raise illegal_argument(f"rollover target [{alias}] does not point to a write index")
    return holders[0]


def _next_name(old: str) -> str:
    found = re.fullmatch(r"(.*)-(\d+)", old)
    if found is None:
        raise illegal_argument(f"index name [{old}] does not match pattern '^.*-\\d+$'")
    return f"{found.group(1)}-{int(found.group(2)) + 1:06d}"


def _roll_alias(c: Cluster, alias: str, old: str, new: str, body: Mapping[str, Any]) -> None:
    old_index = c.indices[old]
    spec = dict(old_index.aliases[alias])
    explicit = spec.get("is_write_index") is True
    c.create_index(new, {k: body[k] for k in ("settings", "mappings", "aliases") if k in body})
    if explicit:
        old_index.aliases[alias]["is_write_index"] = False
        c.indices[new].aliases[alias] = {**spec, "is_write_index": True}
    else:
        del old_index.aliases[alias]
        c.indices[new].aliases[alias] = spec


HANDLERS = {
    "indices.create_data_stream": put_data_stream,
    "indices.get_data_stream": get_data_streams,
    "indices.delete_data_stream": delete_data_stream,
    "indices.put_data_lifecycle": put_data_lifecycle,
    "indices.rollover": rollover,
}
