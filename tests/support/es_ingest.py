"""Ingest pipelines as the test server runs them on index and create writes.

A write runs the ``pipeline`` it names, or its index's ``index.default_pipeline``, then
``index.final_pipeline``. Stored pipelines run their processors (``set``, ``remove``,
``rename``, ``pipeline``); the pipelines a cluster installs by itself for ``logs-*-*`` run as
their definitions in x-pack do: ``logs@default-pipeline`` sets a missing ``@timestamp`` to the
ingest time and calls ``logs@custom`` if there is one, ``logs@json-message`` parses a JSON
``message`` into the document.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from .es_cluster import Cluster, Index
from .es_errors import EsError, illegal_argument

Document = dict[str, Any]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _logs_default(c: Cluster, doc: Document) -> Document:
    if "@timestamp" not in doc:
        doc["@timestamp"] = _now()
    if "logs@custom" in c.pipelines or "logs@custom" in BUILTIN:
        doc = run_pipeline(c, "logs@custom", doc)
    return doc


def _json_message(c: Cluster, doc: Document) -> Document:
    message = doc.get("message")
    if not (isinstance(message, str) and message.startswith("{") and message.endswith("}")):
        return doc
    try:
        parsed = json.loads(message)
    except ValueError:
        return doc
    if not isinstance(parsed, dict):
        return doc
    del doc["message"]
    merged = _merge(doc, parsed)
    return _expand_dots(merged)


def _merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> Document:
    out = copy.deepcopy(dict(base))
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _expand_dots(doc: Mapping[str, Any]) -> Document:
    out: Document = {}
    for key, value in doc.items():
        parts = key.split(".")
        holder = out
        for part in parts[:-1]:
            child = holder.get(part)
            if not isinstance(child, dict):
                child = holder[part] = {}
            holder = child
        leaf = parts[-1]
        if isinstance(value, Mapping) and isinstance(holder.get(leaf), dict):
            holder[leaf] = _merge(holder[leaf], _expand_dots(value))
        else:
            holder[leaf] = _expand_dots(value) if isinstance(value, Mapping) else value
    return out


BUILTIN: dict[str, Callable[[Cluster, Document], Document]] = {
    "logs@default-pipeline": _logs_default,
    "logs@json-message": _json_message,
}


def exists(c: Cluster, name: str) -> bool:
    """Is there a pipeline called ``name``?"""
    return name in c.pipelines or name in BUILTIN


def run_pipeline(c: Cluster, name: str, doc: Document) -> Document:
    """``doc`` after pipeline ``name``."""
    stored = c.pipelines.get(name)
    if stored is None:
        builtin = BUILTIN.get(name)
        if builtin is None:
            raise illegal_argument(f"pipeline with id [{name}] does not exist")
        return builtin(c, doc)
    for processor in stored.get("processors") or []:
        ((kind, options),) = processor.items()
        doc = _processor(c, kind, options, doc)
    return doc


def _processor(c: Cluster, kind: str, options: Mapping[str, Any], doc: Document) -> Document:
    if kind == "set":
        field = str(options["field"])
        if options.get("override", True) is not False or field not in doc:
            doc[field] = (
                _now()
                if options.get("copy_from") == "_ingest.timestamp"
                else copy.deepcopy(options.get("value"))
            )
        return doc
    if kind == "remove":
        for field in options["field"] if isinstance(options["field"], list) else [options["field"]]:
            if field not in doc and not options.get("ignore_missing"):
                raise illegal_argument(f"field [{field}] not present as part of path [{field}]")
            doc.pop(field, None)
        return doc
    if kind == "rename":
        field, target = str(options["field"]), str(options["target_field"])
        if field in doc:
            doc[target] = doc.pop(field)
        elif not options.get("ignore_missing"):
            raise illegal_argument(f"field [{field}] doesn't exist")
        return doc
    if kind == "pipeline":
        name = str(options["name"])
        if not exists(c, name):
            if options.get("ignore_missing_pipeline"):
                return doc
            raise illegal_argument(f"Pipeline processor configured for non-existent pipeline [{name}]")
        return run_pipeline(c, name, doc)
    raise EsError(400, "illegal_argument_exception", f"the test server does not run [{kind}] processors")


def pipelines_for(index: Index, requested: str | None) -> list[str]:
    """The pipelines a write to ``index`` goes through, in order."""
    chosen: list[str] = []
    first = requested if requested is not None else index.setting("default_pipeline")
    if first and first != "_none":
        chosen.append(str(first))
    final = index.setting("final_pipeline")
    if final and final != "_none":
        chosen.append(str(final))
    return chosen


def ingest(c: Cluster, index: Index, requested: str | None, source: Document) -> Document:
    """``source`` after the write's pipelines (a copy; the request is left untouched)."""
    names = pipelines_for(index, requested)
    if not names:
        return source
    doc = copy.deepcopy(source)
    for name in names:
        doc = run_pipeline(c, name, doc)
    return doc
