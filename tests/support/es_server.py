"""An Elasticsearch-compatible test server: real HTTP on 127.0.0.1, indices in memory, faults on demand.

hunter's Elasticsearch path is tested against this server through the real ``elasticsearch``
client, since no Elasticsearch can run where the tests run::

    with EsTestServer() as server:
        es = Elasticsearch(hosts=[server.url], request_timeout=5, max_retries=0)
        server.faults.error(503, path_regex=r"/_eql/search")   # the next EQL search gets a 503
        ...
        server.stop()    # clients now see "connection refused"
        server.start()   # the same port, the same data

It answers the endpoints hunter uses (cluster info and health; indices, mappings and refresh;
composable index templates, data streams and rollover; single-document writes and reads with
``if_seq_no``/``if_primary_term``; ``_bulk``; ``_search`` and ``_count``; ``_field_caps``;
``_eql/search`` run by hunter.eql) with Elasticsearch's response bodies and error bodies, and
every response carries ``X-Elastic-Product: Elasticsearch``. Mappings, typed values and the
query DSL live in :mod:`tests.support.query_dsl`.

``server.faults`` injects misbehaviour (error statuses with ES error bodies, ``Retry-After``,
delays beyond the client's timeout, dropped connections, partial ``_bulk`` failures, EQL shard
failures); ``server.requests`` records what clients sent. One lock guards the state; injected
delays never hold it. Request options it does not implement (aggregations, ``q``, async EQL,
EQL ``fields``/``runtime_mappings``) are refused with a 400 rather than silently ignored.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import fnmatch
import functools
import gzip
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from elasticsearch import Elasticsearch

from hunter.eql import EqlSemanticError, EqlSyntaxError, Schema
from hunter.eql import compile_query as compile_eql

from .query_dsl import (
    BUILTIN_COMPONENTS,
    BUILTIN_TEMPLATES,
    NODE_ID,
    DocRef,
    EsError,
    IndexFields,
    add_dynamic_fields,
    check_sort,
    compare_sort,
    compile_query,
    field_caps,
    filter_source,
    flat_settings,
    illegal_argument,
    merge_mappings,
    parse_sort,
    shard_failure,
    sort_docs,
    source_filter,
)

VERSION = "9.1.5"
MAX_RESULT_WINDOW = 10_000
SHARDS = {"total": 2, "successful": 1, "failed": 0}
_DEFAULT_ERRORS = {
    400: ("illegal_argument_exception", "injected bad request"),
    429: (
        "es_rejected_execution_exception",
        "rejected execution of coordinating operation [coordinating_and_primary_bytes=0, replica_bytes=0, "
        "all_bytes=0, coordinating_operation_bytes=1048576, max_coordinating_and_primary_bytes=0]",
    ),
    500: ("exception", "injected internal server error"),
    502: ("exception", "injected bad gateway"),
    503: (
        "cluster_block_exception",
        "blocked by: [SERVICE_UNAVAILABLE/1/state not recovered / initialized];",
    ),
    504: ("timeout_exception", "injected gateway timeout"),
}


def error_for(status: int, error_type: str | None = None, reason: str | None = None) -> EsError:
    """An :class:`EsError` for ``status`` with a realistic default type and reason."""
    default_type, default_reason = _DEFAULT_ERRORS.get(status, ("exception", f"injected status {status}"))
    return EsError(status, error_type or default_type, reason or default_reason)


def index_not_found(name: str) -> EsError:
    """404 ``index_not_found_exception`` for ``name``."""
    extra = {"resource.type": "index_or_alias", "resource.id": name, "index_uuid": "_na_", "index": name}
    return EsError(404, "index_not_found_exception", f"no such index [{name}]", extra)


def _new_uuid() -> str:
    return base64.urlsafe_b64encode(uuid.uuid4().bytes)[:22].decode()


def _validation(message: str) -> EsError:
    return EsError(400, "action_request_validation_exception", f"Validation Failed: 1: {message};")


# ---- faults and the request log ------------------------------------------------------------


@dataclass
class Fault:
    """One injected misbehaviour, for the next ``times`` requests it matches (None: every one).

    ``delay`` sleeps before anything else (without the state lock), or, with ``delay_response``,
    after the request was handled and before the answer is sent; then ``drop_connection``
    closes the socket with no answer, ``status`` answers with that status and ``body`` (an ES
    error body by default; ``retry_after`` sets the header), and otherwise the request is
    handled normally, with ``bulk_items`` (position -> (status, error type)) failing those
    ``_bulk`` items and ``shard_failures`` (index patterns) failing those indices' shards in an
    EQL search.
    """

    method: str | None = None
    path_regex: str = ".*"
    times: int | None = 1
    status: int | None = None
    body: Any = None
    error_type: str | None = None
    reason: str | None = None
    retry_after: float | None = None
    delay: float | None = None
    drop_connection: bool = False
    delay_response: bool = False
    bulk_items: Mapping[int, tuple[int, str]] | None = None
    shard_failures: Sequence[str] | None = None
    is_partial: bool = False
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        """Does this fault apply to ``method`` ``path`` (and has it uses left)?"""
        if self.times is not None and self.fired >= self.times:
            return False
        if self.method is not None and self.method.upper() != method:
            return False
        return re.search(self.path_regex, path) is not None


class FaultPlan:
    """The faults waiting for requests, consumed in the order they were added."""

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self._faults: list[Fault] = []

    def add(
        self,
        method: str | None = None,
        path_regex: str = ".*",
        times: int | None = 1,
        status: int | None = None,
        body: Any = None,
        retry_after: float | None = None,
        delay: float | None = None,
        drop_connection: bool = False,
        **options: Any,
    ) -> Fault:
        """Queue a fault (see :class:`Fault` for the fields) and return it."""
        fault = Fault(
            method,
            path_regex,
            times,
            status,
            body,
            retry_after=retry_after,
            delay=delay,
            drop_connection=drop_connection,
            **options,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def error(
        self,
        status: int,
        *,
        path_regex: str = ".*",
        method: str | None = None,
        error_type: str | None = None,
        reason: str | None = None,
        retry_after: float | None = None,
        times: int | None = 1,
    ) -> Fault:
        """Answer ``status`` with an ES error body (``error_type``/``reason`` or a realistic default)."""
        return self.add(
            method, path_regex, times, status, retry_after=retry_after, error_type=error_type, reason=reason
        )

    def rejected(
        self, *, path_regex: str = ".*", retry_after: float | None = 1, times: int | None = 1
    ) -> Fault:
        """429 ``es_rejected_execution_exception`` with ``Retry-After``."""
        return self.error(429, path_regex=path_regex, retry_after=retry_after, times=times)

    def slow(
        self,
        seconds: float,
        *,
        path_regex: str = ".*",
        method: str | None = None,
        times: int | None = 1,
        before: bool = False,
    ) -> Fault:
        """Answer ``seconds`` late: applied at once, answered late (``before``: held, then handled)."""
        return self.add(method, path_regex, times, delay=seconds, delay_response=not before)

    def drop(self, *, path_regex: str = ".*", method: str | None = None, times: int | None = 1) -> Fault:
        """Close the connection without answering."""
        return self.add(method, path_regex, times, drop_connection=True)

    def bulk_failures(
        self,
        items: Mapping[int, tuple[int, str]] | Iterable[int],
        *,
        status: int = 429,
        error_type: str = "es_rejected_execution_exception",
        times: int | None = 1,
    ) -> Fault:
        """Fail the ``_bulk`` items at these positions (0-based); the others are applied."""
        chosen = dict(items) if isinstance(items, Mapping) else dict.fromkeys(items, (status, error_type))
        return self.add(None, r"/_bulk$", times, bulk_items=chosen)

    def eql_shard_failures(
        self,
        indices: Sequence[str] = ("*",),
        *,
        error_type: str = "no_shard_available_action_exception",
        reason: str | None = None,
        is_partial: bool = False,
        times: int | None = 1,
    ) -> Fault:
        """Fail the shards of the (backing) indices matching ``indices`` in the next EQL searches.

        As Elasticsearch 9: with ``allow_partial_search_results`` (default true) the answer is
        200 with ``shard_failures`` and the events of the other indices; sequence and sample
        queries return nothing unless ``allow_partial_sequence_results``; with
        ``allow_partial_search_results: false`` it is a 503 ``search_phase_execution_exception``.
        A synchronous search reports ``is_partial: false`` (``is_partial`` overrides that).
        """
        return self.add(
            None,
            r"/_eql/search$",
            times,
            shard_failures=list(indices),
            error_type=error_type,
            reason=reason,
            is_partial=is_partial,
        )

    def search_shard_failures(
        self,
        indices: Sequence[str] = ("*",),
        *,
        error_type: str = "no_shard_available_action_exception",
        reason: str | None = None,
        times: int | None = 1,
    ) -> Fault:
        """Fail the shards of the (backing) indices matching ``indices`` in the next ``_search`` calls:
        200 with ``_shards.failed`` and ``_shards.failures`` and the other indices' hits, or a 503
        ``search_phase_execution_exception`` when the request sets ``allow_partial_search_results=false``."""
        return self.add(
            None, r"/_search$", times, shard_failures=list(indices), error_type=error_type, reason=reason
        )

    def take(self, method: str, path: str) -> Fault | None:
        """The first queued fault matching this request, counted as used."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.fired += 1
                    return fault
        return None

    def pending(self) -> list[Fault]:
        """Faults with uses left."""
        with self._lock:
            return [f for f in self._faults if f.times is None or f.fired < f.times]

    def clear(self) -> None:
        """Forget every fault."""
        with self._lock:
            self._faults.clear()


@dataclass(frozen=True)
class RecordedRequest:
    """What a client sent: ``body`` is parsed JSON, a list for NDJSON, text otherwise, None if empty.

    ``headers`` are keyed in lower case.
    """

    method: str
    path: str
    params: dict[str, str]
    body: Any
    headers: dict[str, str]


# ---- state ---------------------------------------------------------------------------------


@dataclass
class _Doc:
    source: dict[str, Any]
    seq_no: int
    version: int
    order: int


@dataclass
class _Index:
    name: str
    mappings: dict[str, Any]
    settings: dict[str, Any]
    data_stream: str | None = None
    uuid: str = field(default_factory=_new_uuid)
    created_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    docs: dict[str, _Doc] = field(default_factory=dict)
    visible: dict[str, _Doc] = field(default_factory=dict)
    seq_no: int = -1
    tombstones: dict[str, int] = field(default_factory=dict)
    _fields: IndexFields | None = None

    def fields(self) -> IndexFields:
        if self._fields is None:
            self._fields = IndexFields(self.mappings, self.settings)
        return self._fields

    def set_mappings(self, mappings: dict[str, Any]) -> None:
        self.mappings, self._fields = mappings, None

    def engine_error(self, status: int, type_: str, reason: str) -> EsError:
        return EsError(status, type_, reason, {"index_uuid": self.uuid, "shard": "0", "index": self.name})


@dataclass
class _DataStream:
    name: str
    template: str
    indices: list[str]
    generation: int = 1


@dataclass
class _Write:
    """One write operation, from a document endpoint or a ``_bulk`` item."""

    op: str  # create, index, update, delete
    target: str
    doc_id: str | None
    payload: Any = None
    if_seq_no: int | None = None
    if_primary_term: int | None = None


class Cluster:
    """Indices, templates and data streams in memory, with Elasticsearch's rules; one lock guards them."""

    def __init__(self, lock: threading.RLock, *, auto_refresh: bool = True) -> None:
        self.lock = lock
        self.auto_refresh = auto_refresh
        self.cluster_uuid = _new_uuid()
        self.indices: dict[str, _Index] = {}
        self.data_streams: dict[str, _DataStream] = {}
        self.templates: dict[str, dict[str, Any]] = copy.deepcopy(BUILTIN_TEMPLATES)
        self.components: dict[str, dict[str, Any]] = copy.deepcopy(BUILTIN_COMPONENTS)
        self._order = 0

    # ---- cluster ---------------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """``GET /``."""
        version = {
            "number": VERSION,
            "build_flavor": "default",
            "build_type": "docker",
            "build_hash": "0" * 40,
            "build_date": "2025-10-01T00:00:00.000000000Z",
            "build_snapshot": False,
            "lucene_version": "10.2.2",
            "minimum_wire_compatibility_version": "8.19.0",
            "minimum_index_compatibility_version": "8.0.0",
        }
        return {
            "name": "hunter-test-node",
            "cluster_name": "hunter-test",
            "cluster_uuid": self.cluster_uuid,
            "version": version,
            "tagline": "You Know, for Search",
        }

    def health(self) -> dict[str, Any]:
        """``GET /_cluster/health``: one green node, one primary shard per index."""
        shards = len(self.indices)
        return {
            "cluster_name": "hunter-test",
            "status": "green",
            "timed_out": False,
            "number_of_nodes": 1,
            "number_of_data_nodes": 1,
            "active_primary_shards": shards,
            "active_shards": shards,
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

    # ---- index expressions -----------------------------------------------------------------

    def resolve(
        self, expression: str | None, *, ignore_unavailable: bool, allow_no_indices: bool
    ) -> list[str]:
        """Concrete index names of ``a,b*,-c`` (data streams give their backing indices)."""
        chosen: list[str] = []
        parts = [p.strip() for p in (expression or "_all").split(",") if p.strip()]
        for position, part in enumerate(parts):
            if part.startswith("-") and position > 0:
                excluded = set(self._expand(part[1:]))
                chosen = [name for name in chosen if name not in excluded]
                continue
            if part == "_all" or "*" in part:
                found = self._expand("*" if part == "_all" else part)
                if not found and not allow_no_indices:
                    raise index_not_found(part)
            elif part in self.data_streams:
                found = list(self.data_streams[part].indices)
            elif part in self.indices:
                found = [part]
            elif ignore_unavailable:
                found = []
            else:
                raise index_not_found(part)
            chosen.extend(name for name in found if name not in chosen)
        if not chosen and not allow_no_indices:
            raise index_not_found(expression or "_all")
        return chosen

    def _expand(self, pattern: str) -> list[str]:
        hidden_ok = pattern.startswith(".")
        names: list[str] = []
        for stream in sorted(self.data_streams):
            if fnmatch.fnmatchcase(stream, pattern):
                names.extend(self.data_streams[stream].indices)
        for name in sorted(self.indices):
            index = self.indices[name]
            hidden = index.settings.get("index.hidden") == "true" or name.startswith(".")
            if fnmatch.fnmatchcase(name, pattern) and (hidden_ok or not hidden) and name not in names:
                names.append(name)
        return names

    # ---- templates -------------------------------------------------------------------------

    def put_template(self, name: str, body: Mapping[str, Any], create: bool) -> dict[str, Any]:
        """``PUT /_index_template/{name}``: Elasticsearch refuses equal priorities on overlapping patterns."""
        if create and name in self.templates:
            raise illegal_argument(f"index template [{name}] already exists")
        patterns = body.get("index_patterns")
        if not patterns:
            raise _validation("index patterns are missing")
        template = copy.deepcopy(dict(body))
        template["index_patterns"] = [patterns] if isinstance(patterns, str) else list(patterns)
        template.setdefault("composed_of", [])
        if "data_stream" in template:
            template["data_stream"] = {
                "hidden": False,
                "allow_custom_routing": False,
                **template["data_stream"],
            }
        missing = [
            c
            for c in template["composed_of"]
            if c not in self.components and c not in template.get("ignore_missing_component_templates", [])
        ]
        if missing:
            cause = f"index template [{name}] specifies component templates {_java_list(missing)} "
            cause += "that do not exist"
            raise EsError(
                400, "invalid_index_template_exception", f"index_template [{name}] invalid, cause [{cause}]"
            )
        priority = int(template.get("priority") or 0)
        clashes = {
            other: spec["index_patterns"]
            for other, spec in self.templates.items()
            if other != name
            and int(spec.get("priority") or 0) == priority
            and any(_globs_overlap(a, b) for a in template["index_patterns"] for b in spec["index_patterns"])
        }
        if clashes:
            listed = ",".join(f"{other} => {_java_list(p)}" for other, p in clashes.items())
            raise illegal_argument(
                f"index template [{name}] has index patterns {_java_list(template['index_patterns'])} "
                f"matching patterns from existing templates [{','.join(clashes)}] with patterns ({listed}) "
                f"that have the same priority [{priority}], multiple index templates may not match during "
                "index creation, please use a different priority"
            )
        self.templates[name] = template
        return {"acknowledged": True}

    def get_templates(self, name: str | None) -> dict[str, Any]:
        """``GET /_index_template[/{name}]``."""
        names = [
            n
            for n in sorted(self.templates)
            if name is None or any(fnmatch.fnmatchcase(n, p) for p in name.split(","))
        ]
        if name is not None and not names and "*" not in name:
            raise EsError(404, "resource_not_found_exception", f"index template matching [{name}] not found")
        return {
            "index_templates": [
                {"name": n, "index_template": copy.deepcopy(self.templates[n])} for n in names
            ]
        }

    def _template_for(self, name: str) -> tuple[str, dict[str, Any]] | None:
        matching = [
            (int(spec.get("priority") or 0), tname, spec)
            for tname, spec in self.templates.items()
            if any(fnmatch.fnmatchcase(name, p) for p in spec["index_patterns"])
        ]
        if not matching:
            return None
        _, tname, spec = max(matching, key=lambda item: item[0])
        return tname, spec

    def _compose(self, template: Mapping[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
        mappings: dict[str, Any] = {}
        settings: dict[str, Any] = {}
        parts = [self.components[c] for c in (template or {}).get("composed_of", []) if c in self.components]
        for part in [*parts, template or {}]:
            inner = part.get("template", {})
            mappings = merge_mappings(mappings, inner.get("mappings", {}))
            settings.update(flat_settings(inner.get("settings", {})))
        return mappings, settings

    # ---- indices and data streams ----------------------------------------------------------

    def create_index(self, name: str, body: Mapping[str, Any], *, data_stream: str | None = None) -> _Index:
        """Create ``name`` with the matching template's mappings/settings under ``body``'s."""
        _check_index_name(name)
        if name in self.indices or name in self.data_streams:
            existing = self.indices.get(name)
            reason = (
                f"index [{name}/{existing.uuid}] already exists"
                if existing
                else f"data_stream [{name}] exists"
            )
            extra = {"index_uuid": existing.uuid if existing else "_na_", "index": name}
            raise EsError(400, "resource_already_exists_exception", reason, extra)
        found = self._template_for(data_stream or name)
        if found and "data_stream" in found[1] and data_stream is None:
            raise illegal_argument(
                f"cannot create index with name [{name}], because it matches with template [{found[0]}] "
                "that creates data streams only, use create data stream api instead"
            )
        mappings, settings = self._compose(found[1] if found else None)
        mappings = merge_mappings(mappings, body.get("mappings", {}))
        settings.update(flat_settings(body.get("settings", {})))
        if data_stream is not None:
            mappings = {"_data_stream_timestamp": {"enabled": True}, **mappings}
            mappings.setdefault("properties", {}).setdefault("@timestamp", {"type": "date"})
            settings["index.hidden"] = "true"
        index = _Index(name, mappings, settings, data_stream)
        self.indices[name] = index
        return index

    def create_data_stream(self, name: str) -> _DataStream:
        """Create data stream ``name`` and its first backing index from the matching template."""
        _check_index_name(name)
        if name in self.data_streams:
            raise EsError(400, "resource_already_exists_exception", f"data_stream [{name}] already exists")
        found = self._template_for(name)
        if found is None or "data_stream" not in found[1]:
            raise illegal_argument(f"no matching index template found for data stream [{name}]")
        stream = _DataStream(name, found[0], [])
        self.create_index(_backing_name(name, 1), {}, data_stream=name)
        stream.indices.append(_backing_name(name, 1))
        self.data_streams[name] = stream
        return stream

    def get_data_streams(self, expression: str | None) -> dict[str, Any]:
        """``GET /_data_stream[/{name}]``."""
        names: list[str] = []
        for part in (expression or "*").split(","):
            found = [n for n in sorted(self.data_streams) if fnmatch.fnmatchcase(n, part)]
            if not found and "*" not in part:
                raise index_not_found(part)
            names.extend(n for n in found if n not in names)
        streams = []
        for name in names:
            stream = self.data_streams[name]
            backing = [
                {
                    "index_name": index,
                    "index_uuid": self.indices[index].uuid,
                    "prefer_ilm": True,
                    "managed_by": "Unmanaged",
                }
                for index in stream.indices
            ]
            streams.append(
                {
                    "name": name,
                    "timestamp_field": {"name": "@timestamp"},
                    "indices": backing,
                    "generation": stream.generation,
                    "status": "GREEN",
                    "template": stream.template,
                    "next_generation_managed_by": "Unmanaged",
                    "prefer_ilm": True,
                    "hidden": False,
                    "system": False,
                    "allow_custom_routing": False,
                    "replicated": False,
                    "rollover_on_write": False,
                }
            )
        return {"data_streams": streams}

    def rollover(self, target: str) -> dict[str, Any]:
        """``POST /{data_stream}/_rollover``: a new write index; the old ones stay searchable."""
        stream = self.data_streams.get(target)
        if stream is None:
            raise illegal_argument(f"rollover target [{target}] does not exist")
        old = stream.indices[-1]
        stream.generation += 1
        new = _backing_name(target, stream.generation)
        self.create_index(new, {}, data_stream=target)
        stream.indices.append(new)
        return {
            "acknowledged": True,
            "shards_acknowledged": True,
            "old_index": old,
            "new_index": new,
            "rolled_over": True,
            "dry_run": False,
            "conditions": {},
        }

    def refresh(self, expression: str | None, params: Mapping[str, str]) -> dict[str, Any]:
        """``POST /{index}/_refresh``: make every write searchable."""
        names = self.resolve(expression, **_options(params, False, True))
        for name in names:
            self._refresh_index(self.indices[name])
        return {"_shards": {"total": 2 * len(names), "successful": len(names), "failed": 0}}

    def _refresh_index(self, index: _Index) -> None:
        index.visible = dict(index.docs)

    def get_mapping(self, expression: str | None, params: Mapping[str, str]) -> dict[str, Any]:
        """``GET /{index}/_mapping``, keyed by concrete (backing) index."""
        names = self.resolve(expression, **_options(params, False, True))
        return {name: {"mappings": self.indices[name].mappings} for name in names}

    # ---- documents -------------------------------------------------------------------------

    def write(self, request: _Write) -> tuple[int, dict[str, Any]]:
        """Apply one write; return its status and result (``_index``, ``_id``, ``result``...)."""
        index = self._write_index(request)
        doc_id = request.doc_id
        if doc_id is None:
            if request.op not in ("create", "index"):
                raise _validation("id is missing")
            doc_id = base64.urlsafe_b64encode(uuid.uuid4().bytes[:15]).decode()
        current = index.docs.get(doc_id)
        self._check_cas(index, request, doc_id, current)
        if request.op == "delete":
            return self._delete(index, doc_id, current)
        if request.op == "update":
            source, created = self._updated_source(index, request.payload, doc_id, current)
            if source is None:
                assert current is not None
                noop = {"_index": index.name, "_id": doc_id, "_version": current.version, "result": "noop"}
                shards = {"total": 0, "successful": 0, "failed": 0}
                return 200, {**noop, "_shards": shards, "_seq_no": current.seq_no, "_primary_term": 1}
        else:
            if not isinstance(request.payload, dict):
                raise EsError(400, "mapper_parsing_exception", "failed to parse, document is empty")
            if request.op == "create" and current is not None:
                raise index.engine_error(
                    409,
                    "version_conflict_engine_exception",
                    f"[{doc_id}]: version conflict, document already exists "
                    f"(current version [{current.version}])",
                )
            source, created = request.payload, current is None
        self._index_source(index, source, doc_id)
        return self._store(index, doc_id, source, current, "created" if created else "updated")

    def _write_index(self, request: _Write) -> _Index:
        target, op = request.target, request.op
        stream = self.data_streams.get(target)
        if stream is not None:
            if op != "create":
                raise illegal_argument("only write ops with an op_type of create are allowed in data streams")
            return self.indices[stream.indices[-1]]
        index = self.indices.get(target)
        if index is not None:
            if index.data_stream and op == "create":
                raise illegal_argument(
                    "index request with op_type=create targeting backing indices is disallowed, "
                    f"target corresponding data stream [{index.data_stream}] instead"
                )
            if index.data_stream and op == "index" and request.if_seq_no is None:
                raise illegal_argument(
                    "index request with op_type=index and no if_primary_term and if_seq_no set targeting "
                    f"backing indices is disallowed, target corresponding data stream [{index.data_stream}] "
                    "instead"
                )
            return index
        if op == "delete":
            raise index_not_found(target)
        found = self._template_for(target)
        if found is not None and "data_stream" in found[1]:
            if op != "create":
                raise illegal_argument("only write ops with an op_type of create are allowed in data streams")
            return self.indices[self.create_data_stream(target).indices[-1]]
        return self.create_index(target, {})

    def _check_cas(self, index: _Index, request: _Write, doc_id: str, current: _Doc | None) -> None:
        if request.if_seq_no is None:
            if request.if_primary_term is not None:
                raise _validation(f"ifSeqNo is unassigned, but primary term is [{request.if_primary_term}]")
            return
        if request.op == "create":
            raise _validation("create operations do not support compare and set. use index instead")
        if request.if_primary_term is None:
            raise _validation("ifSeqNo is set, but primary term is [0]")
        required = f"required seqNo [{request.if_seq_no}], primary term [{request.if_primary_term}]"
        if current is None and request.op == "update":
            return  # the update itself answers document_missing_exception
        if current is None:
            reason = f"[{doc_id}]: version conflict, {required}. but no document was found"
            raise index.engine_error(409, "version_conflict_engine_exception", reason)
        if current.seq_no != request.if_seq_no or request.if_primary_term != 1:
            reason = (
                f"[{doc_id}]: version conflict, {required}. current document has seqNo [{current.seq_no}] "
                "and primary term [1]"
            )
            raise index.engine_error(409, "version_conflict_engine_exception", reason)

    def _updated_source(
        self, index: _Index, body: Any, doc_id: str, current: _Doc | None
    ) -> tuple[dict[str, Any] | None, bool]:
        """(new source or None for a no-op, created?) of an update request body."""
        if not isinstance(body, Mapping):
            raise _validation("script or doc is missing")
        if "script" in body:
            raise illegal_argument("the test server does not run scripts")
        partial = body.get("doc")
        if current is None:
            if body.get("doc_as_upsert") and isinstance(partial, dict):
                return copy.deepcopy(partial), True
            if isinstance(body.get("upsert"), dict):
                return copy.deepcopy(body["upsert"]), True
            raise index.engine_error(404, "document_missing_exception", f"[{doc_id}]: document missing")
        if not isinstance(partial, dict):
            raise _validation("script or doc is missing")
        merged = _deep_merge(current.source, partial)
        if merged == current.source and body.get("detect_noop", True):
            return None, False
        return merged, False

    def _index_source(self, index: _Index, source: dict[str, Any], doc_id: str) -> None:
        """Grow the mapping for ``source`` and refuse what it cannot hold (the mapping stays if refused)."""
        if index.data_stream:
            stamp = IndexFields({"properties": {"@timestamp": {"type": "date"}}}).raw("@timestamp", source)
            if not stamp:
                raise EsError(
                    400,
                    "document_parsing_exception",
                    "[1:2] failed to parse: data stream timestamp field [@timestamp] is missing",
                )
            if len(stamp) > 1:
                raise EsError(
                    400,
                    "document_parsing_exception",
                    "[1:2] failed to parse: data stream timestamp field [@timestamp] encountered multiple "
                    "values",
                )
        mappings = copy.deepcopy(index.mappings)
        if add_dynamic_fields(mappings, source):
            IndexFields(mappings, index.settings).check(source, doc_id)
            index.set_mappings(mappings)
        else:
            index.fields().check(source, doc_id)

    def _store(
        self, index: _Index, doc_id: str, source: dict[str, Any], current: _Doc | None, result: str
    ) -> tuple[int, dict[str, Any]]:
        index.seq_no += 1
        if current is None:
            version = index.tombstones.pop(doc_id, 0) + 1
            self._order += 1
            order = self._order
        else:
            version, order = current.version + 1, current.order
        index.docs[doc_id] = _Doc(source, index.seq_no, version, order)
        if self.auto_refresh:
            index.visible = index.docs
        return (201 if result == "created" else 200), self._result(index, doc_id, version, result)

    def _delete(self, index: _Index, doc_id: str, current: _Doc | None) -> tuple[int, dict[str, Any]]:
        index.seq_no += 1
        if current is None:
            version = index.tombstones.get(doc_id, 0) + 1
            return 404, self._result(index, doc_id, version, "not_found")
        del index.docs[doc_id]
        index.tombstones[doc_id] = current.version + 1
        if self.auto_refresh:
            index.visible = index.docs
        return 200, self._result(index, doc_id, current.version + 1, "deleted")

    @staticmethod
    def _result(index: _Index, doc_id: str, version: int, result: str) -> dict[str, Any]:
        return {
            "_index": index.name,
            "_id": doc_id,
            "_version": version,
            "result": result,
            "_shards": dict(SHARDS),
            "_seq_no": index.seq_no,
            "_primary_term": 1,
        }

    def refresh_after(self, names: Iterable[str], policy: str | None) -> bool:
        """Apply a write's ``refresh`` parameter; True when it forced a refresh."""
        if policy is None or policy == "false":
            return False
        for name in names:
            if name in self.indices:
                self._refresh_index(self.indices[name])
        return policy in ("", "true")

    def get_doc(self, target: str, doc_id: str) -> tuple[int, dict[str, Any]]:
        """``GET /{index}/_doc/{id}`` (realtime: unrefreshed writes are seen)."""
        names = self.resolve(target, ignore_unavailable=False, allow_no_indices=False)
        if len(names) > 1:
            raise illegal_argument(
                "unable to return a single index as the index and options provided got resolved to "
                "multiple indices"
            )
        index = self.indices[names[0]]
        doc = index.docs.get(doc_id)
        if doc is None:
            return 404, {"_index": index.name, "_id": doc_id, "found": False}
        return 200, {
            "_index": index.name,
            "_id": doc_id,
            "_version": doc.version,
            "_seq_no": doc.seq_no,
            "_primary_term": 1,
            "found": True,
            "_source": doc.source,
        }

    # ---- bulk ------------------------------------------------------------------------------

    def bulk(
        self, default_index: str | None, lines: list[Any], fault: Fault | None
    ) -> tuple[dict[str, Any], set[str]]:
        """``POST /_bulk``: each item applied on its own; returns the body and the indices written."""
        started = time.monotonic()
        operations = _bulk_operations(default_index, lines)
        items: list[dict[str, Any]] = []
        touched: set[str] = set()
        failing = dict(fault.bulk_items or {}) if fault else {}
        for position, request in enumerate(operations):
            try:
                if position in failing:
                    status, error_type = failing[position]
                    raise self._item_fault(request, status, error_type)
                status, result = self.write(request)
                touched.add(result["_index"])
                items.append({request.op: {**result, "status": status}})
            except EsError as error:
                index = self._item_index(request.target) if position in failing else error.extra.get("index")
                item = {"_index": index or request.target, "_id": request.doc_id}
                items.append({request.op: {**item, "status": error.status, "error": error.cause()}})
        took = int((time.monotonic() - started) * 1000)
        errors = any("error" in next(iter(item.values())) for item in items)
        return {"errors": errors, "took": took, "items": items}, touched

    def _item_index(self, target: str) -> str:
        stream = self.data_streams.get(target)
        return stream.indices[-1] if stream else target

    def _item_fault(self, request: _Write, status: int, error_type: str) -> EsError:
        if error_type in ("mapper_parsing_exception", "document_parsing_exception"):
            reason = "[1:2] failed to parse field [injected] of type [long] in document with id "
            reason += f"'{request.doc_id}'"
            return EsError(status, error_type, reason)
        index = self.indices.get(self._item_index(request.target))
        error = error_for(status, error_type)
        if index is not None and status != 429:
            return index.engine_error(status, error.type, error.reason)
        return error

    # ---- search ----------------------------------------------------------------------------

    def snapshot(self, names: Iterable[str]) -> list[DocRef]:
        """The searchable documents of ``names``, in the order they were first written."""
        docs: list[DocRef] = []
        for name in names:
            index = self.indices[name]
            fields = index.fields()
            for doc_id, doc in index.visible.items():
                docs.append(DocRef(name, doc_id, doc.source, fields, doc.order, doc.seq_no, doc.version))
        docs.sort(key=lambda d: d.order)
        return docs

    def search(
        self,
        expression: str | None,
        body: Mapping[str, Any],
        params: Mapping[str, str],
        fault: Fault | None = None,
    ) -> dict[str, Any]:
        """``POST /{index}/_search``; shards failed by ``fault`` are left out and reported, or with
        ``allow_partial_search_results=false`` fail the search with a 503, as Elasticsearch does."""
        started = time.monotonic()
        _refuse_unsupported({**body, **({"q": 1} if "q" in params else {})}, _SEARCH_KEYS, "_search")
        names = self.resolve(expression, **_options(params, False, True))
        size = int(body.get("size", params.get("size", 10)))
        start = int(body.get("from", params.get("from", 0)))
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
        predicate = compile_query(body.get("query", {"match_all": {}}), time.time_ns())
        criteria = parse_sort(body["sort"]) if body.get("sort") else []
        check_sort(criteria, [(n, self.indices[n].fields()) for n in names])
        fetch, includes, excludes = source_filter(body.get("_source", _source_param(params.get("_source"))))
        includes += [p for p in params.get("_source_includes", "").split(",") if p]
        excludes += [p for p in params.get("_source_excludes", "").split(",") if p]
        failed = self._failed_shards(names, fault)
        self._refuse_partial(names, failed, fault, body, params)
        matched = [doc for doc in self.snapshot(names) if doc.index not in failed and predicate(doc)]
        keyed = sort_docs(matched, criteria) if criteria else [(doc, []) for doc in matched]
        after = body.get("search_after")
        if after is not None:
            if not criteria:
                raise illegal_argument("Sort must contain at least one field.")
            keyed = [
                (doc, values) for doc, values in keyed if compare_sort(values, list(after), criteria) > 0
            ]
        hits = []
        for doc, values in keyed[start : start + size]:
            hit: dict[str, Any] = {"_index": doc.index, "_id": doc.id}
            if body.get("version"):
                hit["_version"] = doc.version
            if body.get("seq_no_primary_term"):
                hit.update({"_seq_no": doc.seq_no, "_primary_term": 1})
            hit["_score"] = None if criteria else 1.0
            if fetch:
                hit["_source"] = (
                    filter_source(doc.source, includes, excludes) if includes or excludes else doc.source
                )
            if criteria:
                hit["sort"] = values
            hits.append(hit)
        result: dict[str, Any] = {}
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
            shards["failures"] = [_shard_failure(name, fault) for name in failed]
        return {
            "took": int((time.monotonic() - started) * 1000),
            "timed_out": False,
            "_shards": shards,
            "hits": result,
        }

    def count(
        self, expression: str | None, body: Mapping[str, Any], params: Mapping[str, str]
    ) -> dict[str, Any]:
        """``POST /{index}/_count``."""
        names = self.resolve(expression, **_options(params, False, True))
        predicate = compile_query(body.get("query", {"match_all": {}}), time.time_ns())
        total = sum(1 for doc in self.snapshot(names) if predicate(doc))
        shards = {"total": len(names), "successful": len(names), "skipped": 0, "failed": 0}
        return {"count": total, "_shards": shards}

    def field_caps(
        self, expression: str | None, body: Mapping[str, Any], params: Mapping[str, str]
    ) -> dict[str, Any]:
        """``POST /{index}/_field_caps?fields=...``."""
        requested = body.get("fields", params.get("fields"))
        patterns = requested.split(",") if isinstance(requested, str) else list(requested or [])
        if not [p for p in patterns if p]:
            raise _validation("specified fields can't be null or empty")
        names = self.resolve(expression, **_options(params, False, True))
        unmapped = _flag(params.get("include_unmapped"), False)
        return field_caps(
            [(n, self.indices[n].fields()) for n in names], [p.strip() for p in patterns], unmapped
        )

    # ---- EQL -------------------------------------------------------------------------------

    def eql(
        self, expression: str, body: Mapping[str, Any], params: Mapping[str, str], fault: Fault | None
    ) -> dict[str, Any]:
        """``POST /{index}/_eql/search``, answered by hunter.eql over the resolved indices."""
        started = time.monotonic()
        _refuse_unsupported(body, _EQL_KEYS, "_eql/search")
        text = body.get("query")
        if not isinstance(text, str) or not text.strip():
            raise _validation("query is null or empty")
        size = body.get("size", 10)
        if not isinstance(size, int | float) or size < 0:
            raise _validation("size must be greater than or equal to 0")
        position = body.get("result_position", "tail")
        if position not in ("head", "tail"):
            raise illegal_argument(f"result_position must be [head] or [tail], got [{position}]")
        try:
            query = compile_eql(text)
        except EqlSyntaxError as error:
            raise EsError(400, "parsing_exception", str(error)) from error
        except EqlSemanticError as error:
            raise EsError(400, "verification_exception", f"Found 1 problem\n{error}") from error
        with self.lock:
            names = self.resolve(expression, **_options(params, True, True))
            if not names:
                raise index_not_found(expression)
            filters = body.get("filter") or []
            predicates = [
                compile_query(f, time.time_ns())
                for f in (filters if isinstance(filters, list) else [filters])
            ]
            docs = [d for d in self.snapshot(names) if all(p(d) for p in predicates)]
            schemas = {name: Schema.from_mapping(self.indices[name].mappings) for name in names}
            failed = self._failed_shards(names, fault)
        self._refuse_partial(names, failed, fault, body, params)
        try:
            hits = query.search(
                [
                    {"_index": d.index, "_id": d.id, "_source": d.source}
                    for d in docs
                    if d.index not in failed
                ],
                size=int(size),
                timestamp_field=body.get("timestamp_field", "@timestamp"),
                event_category_field=body.get("event_category_field", "event.category"),
                tiebreaker_field=body.get("tiebreaker_field"),
                result_position=position,
                max_samples_per_key=int(body.get("max_samples_per_key", 1)),
                schema=schemas,
            )
        except EqlSemanticError as error:
            raise EsError(400, "verification_exception", f"Found 1 problem\n{error}") from error
        sequences_ok = _flag(
            body.get("allow_partial_sequence_results", params.get("allow_partial_sequence_results")), False
        )
        if failed and query.kind != "event" and not sequences_ok:
            hits = {"total": {"value": 0, "relation": "eq"}, "sequences": []}
        response: dict[str, Any] = {
            "is_partial": bool(fault and fault.is_partial),
            "is_running": False,
            "took": int((time.monotonic() - started) * 1000),
            "timed_out": False,
        }
        if failed:
            response["shard_failures"] = [_shard_failure(name, fault) for name in failed]
        response["hits"] = hits
        return response

    @staticmethod
    def _refuse_partial(
        names: list[str],
        failed: list[str],
        fault: Fault | None,
        body: Mapping[str, Any],
        params: Mapping[str, str],
    ) -> None:
        """With ``allow_partial_search_results`` false, failed shards fail the whole search (503)."""
        partial_ok = _flag(
            body.get("allow_partial_search_results", params.get("allow_partial_search_results")), True
        )
        if failed and not partial_ok:
            failures = [_shard_failure(name, fault) for name in failed]
            reason = "all shards failed" if len(failed) == len(names) else "Partial shards failure"
            raise EsError(
                503,
                "search_phase_execution_exception",
                reason,
                {"phase": "query", "grouped": True, "failed_shards": failures},
                root_cause=[failures[0]["reason"]],
            )

    def _failed_shards(self, names: list[str], fault: Fault | None) -> list[str]:
        """The indices whose shards ``fault`` fails (patterns name backing indices or data streams)."""
        if fault is None or not fault.shard_failures:
            return []
        return [
            name
            for name in names
            if any(
                fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(self.indices[name].data_stream or "", p)
                for p in fault.shard_failures
            )
        ]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_SEARCH_KEYS = _words(
    "query size from sort _source seq_no_primary_term version track_total_hits search_after timeout"
)
_EQL_KEYS = _words(
    "query filter size fetch_size timestamp_field event_category_field tiebreaker_field result_position "
    "max_samples_per_key allow_partial_search_results allow_partial_sequence_results keep_alive "
    "keep_on_completion"
)


def _refuse_unsupported(body: Mapping[str, Any], allowed: frozenset[str], api: str) -> None:
    """Fail loudly on request options this server does not implement, rather than ignore them."""
    unknown = sorted(key for key in body if key not in allowed)
    if unknown or body.get("keep_on_completion"):
        raise illegal_argument(
            f"the test server does not implement {unknown or ['keep_on_completion']} in {api}"
        )


def _source_param(value: str | None) -> Any:
    if value is None or value in ("true", "false"):
        return None if value is None else value == "true"
    return value.split(",")


def _shard_failure(index: str, fault: Fault | None) -> dict[str, Any]:
    error_type = (fault.error_type if fault else None) or "no_shard_available_action_exception"
    reason = {"type": error_type, "reason": fault.reason if fault else None}
    return {"shard": 0, "index": index, "node": NODE_ID, "reason": reason}


def _bulk_operations(default_index: str | None, lines: list[Any]) -> list[_Write]:
    operations: list[_Write] = []
    position = 0
    while position < len(lines):
        action = lines[position]
        if (
            not isinstance(action, dict)
            or len(action) != 1
            or next(iter(action)) not in ("index", "create", "update", "delete")
        ):
            raise illegal_argument(
                f"Malformed action/metadata line [{position + 1}], expected a simple value for field [_index]"
            )
        op, meta = next(iter(action.items()))
        position += 1
        payload = None
        if op != "delete":
            if position >= len(lines):
                raise illegal_argument("The bulk request must be terminated by a newline [\\n]")
            payload, position = lines[position], position + 1
        target = meta.get("_index") or default_index
        if not target:
            raise _validation("index is missing")
        doc_id = meta.get("_id")
        operations.append(
            _Write(
                op,
                target,
                None if doc_id is None else str(doc_id),
                payload,
                meta.get("if_seq_no"),
                meta.get("if_primary_term"),
            )
        )
    return operations


def _deep_merge(base: Mapping[str, Any], partial: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(dict(base))
    for key, value in partial.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _backing_name(stream: str, generation: int) -> str:
    return f".ds-{stream}-{datetime.now(UTC):%Y.%m.%d}-{generation:06d}"


def _check_index_name(name: str) -> None:
    problem = None
    if name != name.lower():
        problem = "must be lowercase"
    elif name.startswith(("_", "-", "+")):
        problem = "must not start with '_', '-', or '+'"
    elif any(c in name for c in '\\/*?"<>| ,#:') or name in (".", ".."):
        problem = (
            "must not contain the following characters [' ', '\"', '*', ',', '/', '<', '>', '?', '\\\\', '|']"
        )
    if problem:
        extra = {"index_uuid": "_na_", "index": name}
        raise EsError(400, "invalid_index_name_exception", f"Invalid index name [{name}], {problem}", extra)


def _globs_overlap(left: str, right: str) -> bool:
    """Can some index name match both ``*``-patterns?"""

    @functools.cache
    def overlap(i: int, j: int) -> bool:
        if i == len(left) and j == len(right):
            return True
        if i < len(left) and left[i] == "*" and (overlap(i + 1, j) or (j < len(right) and overlap(i, j + 1))):
            return True
        if (
            j < len(right)
            and right[j] == "*"
            and (overlap(i, j + 1) or (i < len(left) and overlap(i + 1, j)))
        ):
            return True
        return i < len(left) and j < len(right) and left[i] == right[j] != "*" and overlap(i + 1, j + 1)

    return overlap(0, 0)


def _java_list(items: Iterable[str]) -> str:
    return "[" + ", ".join(items) + "]"


def _flag(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("", "true")


def _options(params: Mapping[str, str], ignore_unavailable: bool, allow_no_indices: bool) -> dict[str, bool]:
    return {
        "ignore_unavailable": _flag(params.get("ignore_unavailable"), ignore_unavailable),
        "allow_no_indices": _flag(params.get("allow_no_indices"), allow_no_indices),
    }


# ---- HTTP ----------------------------------------------------------------------------------

Answer = tuple[int, Any]
_NAME = r"(?P<index>_all|[^/_][^/]*)"
_ID = r"(?P<id>[^/]+)"


class _Routes:
    """Which cluster operation answers which method and path."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        c = cluster
        self.table: list[tuple[set[str], re.Pattern[str], Callable[..., Answer]]] = []
        add = self._add
        add("GET HEAD", r"/", lambda r: (200, c.info()))
        add("GET", r"/_cluster/health(?:/(?P<index>[^/]+))?", lambda r: (200, c.health()))
        add(
            "GET", r"/_index_template(?:/(?P<name>[^/]+))?", lambda r: (200, c.get_templates(r.group("name")))
        )
        add("HEAD", r"/_index_template/(?P<name>[^/]+)", self._template_exists)
        add("PUT POST", r"/_index_template/(?P<name>[^/]+)", self._put_template)
        add("PUT", r"/_data_stream/(?P<name>[^/]+)", self._put_data_stream)
        add(
            "GET", r"/_data_stream(?:/(?P<name>[^/]+))?", lambda r: (200, c.get_data_streams(r.group("name")))
        )
        add("POST PUT", rf"(?:/{_NAME})?/_bulk", self._bulk)
        add(
            "GET POST",
            rf"(?:/{_NAME})?/_search",
            lambda r: (200, c.search(r.group("index"), r.json, r.params, r.fault)),
        )
        add(
            "GET POST", rf"(?:/{_NAME})?/_count", lambda r: (200, c.count(r.group("index"), r.json, r.params))
        )
        add(
            "GET POST",
            rf"(?:/{_NAME})?/_field_caps",
            lambda r: (200, c.field_caps(r.group("index"), r.json, r.params)),
        )
        add(
            "GET POST",
            rf"/{_NAME}/_eql/search",
            lambda r: (200, c.eql(r.group("index"), r.json, r.params, r.fault)),
        )
        add("GET POST", rf"(?:/{_NAME})?/_refresh", lambda r: (200, c.refresh(r.group("index"), r.params)))
        add("GET", rf"(?:/{_NAME})?/_mapping", lambda r: (200, c.get_mapping(r.group("index"), r.params)))
        add("POST", rf"/{_NAME}/_rollover", lambda r: (200, c.rollover(r.group("index"))))
        add("PUT POST", rf"/{_NAME}/_doc(?:/{_ID})?", self._index_doc)
        add("PUT POST", rf"/{_NAME}/_create/{_ID}", lambda r: self._doc_write(r, "create", r.json))
        add("POST", rf"/{_NAME}/_update/{_ID}", lambda r: self._doc_write(r, "update", r.json))
        add("DELETE", rf"/{_NAME}/_doc/{_ID}", lambda r: self._doc_write(r, "delete", None))
        add("GET HEAD", rf"/{_NAME}/_doc/{_ID}", lambda r: c.get_doc(r.group("index"), r.group("id")))
        add("PUT", rf"/{_NAME}", self._create_index)
        add("HEAD", rf"/{_NAME}", self._index_exists)

    def _add(self, methods: str, pattern: str, handler: Callable[..., Answer]) -> None:
        self.table.append((set(methods.split()), re.compile(pattern), handler))

    def dispatch(self, request: _Request) -> Answer:
        allowed: set[str] = set()
        for methods, pattern, handler in self.table:
            match = pattern.fullmatch(request.path)
            if match is None:
                continue
            if request.method not in methods:
                allowed |= methods
                continue
            request.match = match
            if request.path.endswith("/_eql/search"):
                return handler(request)  # takes the lock only to snapshot; the engine runs outside it
            with self.cluster.lock:
                return handler(request)
        if allowed:
            reason = f"Incorrect HTTP method for uri [{request.path}] and method [{request.method}], "
            reason += f"allowed: {sorted(allowed)}"
            raise EsError(405, "method_not_allowed", reason)
        raise illegal_argument(f"no handler found for uri [{request.path}] and method [{request.method}]")

    def _template_exists(self, r: _Request) -> Answer:
        return (200 if r.group("name") in self.cluster.templates else 404), None

    def _put_template(self, r: _Request) -> Answer:
        return 200, self.cluster.put_template(r.group("name"), r.json, _flag(r.params.get("create"), False))

    def _put_data_stream(self, r: _Request) -> Answer:
        self.cluster.create_data_stream(r.group("name"))
        return 200, {"acknowledged": True}

    def _create_index(self, r: _Request) -> Answer:
        name = r.group("index")
        self.cluster.create_index(name, r.json)
        return 200, {"acknowledged": True, "shards_acknowledged": True, "index": name}

    def _index_exists(self, r: _Request) -> Answer:
        try:
            names = self.cluster.resolve(r.group("index"), **_options(r.params, False, True))
        except EsError:
            return 404, None
        return (200 if names else 404), None

    def _index_doc(self, r: _Request) -> Answer:
        op = r.params.get("op_type", "index" if r.group("id") else "create")
        return self._doc_write(r, op, r.json)

    def _doc_write(self, r: _Request, op: str, payload: Any) -> Answer:
        def number(name: str) -> int | None:
            value = r.params.get(name)
            return None if value is None else int(value)

        request = _Write(
            op, r.group("index"), r.group("id"), payload, number("if_seq_no"), number("if_primary_term")
        )
        status, result = self.cluster.write(request)
        if self.cluster.refresh_after([result["_index"]], r.params.get("refresh")):
            result["forced_refresh"] = True
        return status, result

    def _bulk(self, r: _Request) -> Answer:
        body, touched = self.cluster.bulk(
            r.group("index"), r.body if isinstance(r.body, list) else [], r.fault
        )
        self.cluster.refresh_after(touched, r.params.get("refresh"))
        return 200, body


@dataclass
class _Request:
    method: str
    path: str
    params: dict[str, str]
    body: Any
    fault: Fault | None
    match: re.Match[str] | None = None

    @property
    def json(self) -> dict[str, Any]:
        return self.body if isinstance(self.body, dict) else {}

    def group(self, name: str) -> Any:
        assert self.match is not None
        value = self.match.groupdict().get(name)
        return None if value is None else unquote(value)


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    owner: EsTestServer

    def __init__(self, address: tuple[str, int], owner: EsTestServer) -> None:
        self.owner = owner
        self.connections: set[socket.socket] = set()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        self.connections.discard(request)
        super().shutdown_request(request)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall
    server: _HttpServer

    def do_GET(self) -> None:
        """Answer a GET."""
        self._handle()

    def do_POST(self) -> None:
        """Answer a POST."""
        self._handle()

    def do_PUT(self) -> None:
        """Answer a PUT."""
        self._handle()

    def do_DELETE(self) -> None:
        """Answer a DELETE."""
        self._handle()

    def do_HEAD(self) -> None:
        """Answer a HEAD."""
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def _handle(self) -> None:
        owner = self.server.owner
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/") or "/"
        params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        parse_error: str | None = None
        try:
            body = _parse_body(raw, path.endswith("/_bulk"))
        except ValueError as error:
            body, parse_error = raw.decode("utf-8", "replace"), str(error)
        headers = {key.lower(): value for key, value in self.headers.items()}
        owner.record(RecordedRequest(self.command, path, params, body, headers))
        fault = owner.faults.take(self.command, path)
        if fault is not None and fault.delay and not fault.delay_response and owner.pause(fault.delay):
            self._drop()
            return
        if fault is not None and fault.drop_connection:
            self._drop()
            return
        if fault is not None and fault.status is not None:
            payload = (
                fault.body
                if fault.body is not None
                else error_for(fault.status, fault.error_type, fault.reason).body()
            )
            self._send(fault.status, payload, fault.retry_after)
            return
        try:
            if parse_error is not None:
                raise EsError(400, "x_content_parse_exception", f"[1:1] {parse_error}")
            status, payload = owner.routes.dispatch(_Request(self.command, path, params, body, fault))
        except EsError as error:
            status, payload = error.status, error.body()
        except Exception as error:  # noqa: BLE001 - a server bug must still answer like ES would
            status, payload = 500, EsError(500, "exception", f"{type(error).__name__}: {error}").body()
        if fault is not None and fault.delay and fault.delay_response and owner.pause(fault.delay):
            self._drop()
            return
        self._send(status, payload)

    def _send(self, status: int, payload: Any, retry_after: float | None = None) -> None:
        accept = self.headers.get("Accept", "")
        if isinstance(payload, bytes | str):
            data, ctype = (
                (payload.encode() if isinstance(payload, str) else payload),
                "text/plain; charset=UTF-8",
            )
        else:
            data = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
            compat = "vnd.elasticsearch" in accept
            ctype = "application/vnd.elasticsearch+json;compatible-with=9" if compat else "application/json"
        if self.command == "HEAD":
            data = b""
        try:
            self.send_response(status)
            self.send_header("X-Elastic-Product", "Elasticsearch")
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            if retry_after is not None:
                self.send_header("Retry-After", f"{retry_after:g}")
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            self.close_connection = True  # the client gave up (timeout) or the server is stopping

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


def _parse_body(raw: bytes, ndjson: bool) -> Any:
    if not raw.strip():
        return [] if ndjson else None
    text = raw.decode("utf-8")
    if ndjson:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return json.loads(text)


class EsTestServer:
    """An Elasticsearch-compatible server on 127.0.0.1 for tests; ``with`` starts and stops it.

    ``url`` is what clients connect to; ``faults`` (:class:`FaultPlan`) injects misbehaviour;
    ``requests`` lists what clients sent; ``stop()`` makes clients see connection refused and
    ``start()`` serves again on the same port with the same data. ``auto_refresh=False`` makes
    writes searchable only after a refresh (``refresh`` parameter or ``_refresh``), as a real
    cluster between its periodic refreshes; reads by id always see them.
    """

    def __init__(self, port: int = 0, *, auto_refresh: bool = True) -> None:
        self.lock = threading.RLock()
        self.cluster = Cluster(self.lock, auto_refresh=auto_refresh)
        self.routes = _Routes(self.cluster)
        self.faults = FaultPlan(self.lock)
        self.requests: list[RecordedRequest] = []
        self.port = port
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:{port}``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        """Is the server accepting connections?"""
        return self._httpd is not None

    def start(self) -> EsTestServer:
        """Listen (again) on ``port`` (a free one the first time when 0)."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = _HttpServer(("127.0.0.1", self.port), self)
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut open connections; the data stays for :meth:`start`."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        for connection in list(httpd.connections):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def restart(self) -> None:
        """Stop, then start on the same port."""
        self.stop()
        self.start()

    def __enter__(self) -> EsTestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client(self, **options: Any) -> Elasticsearch:
        """An ``Elasticsearch`` client for this server (``request_timeout=5, max_retries=0`` unless given)."""
        options.setdefault("request_timeout", 5)
        options.setdefault("max_retries", 0)
        return Elasticsearch(hosts=[self.url], **options)

    def record(self, request: RecordedRequest) -> None:
        """Log a request (called by the handler)."""
        with self.lock:
            self.requests.append(request)

    def requests_to(self, path_regex: str, method: str | None = None) -> list[RecordedRequest]:
        """The logged requests whose path matches ``path_regex`` (and ``method``)."""
        with self.lock:
            return [
                r
                for r in self.requests
                if re.search(path_regex, r.path) and (method is None or r.method == method.upper())
            ]

    def pause(self, seconds: float) -> bool:
        """Sleep without the lock; True when the server was stopped meanwhile."""
        return self._stopping.wait(seconds)


def serve(**options: Any) -> Iterator[EsTestServer]:
    """A started server for a pytest fixture: ``yield from serve()``; stopped afterwards."""
    server = EsTestServer(**options).start()
    try:
        yield server
    finally:
        server.stop()
