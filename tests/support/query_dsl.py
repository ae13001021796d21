"""How the Elasticsearch test server reads documents: mappings, typed values and the query DSL.

An index's mapping grows as Elasticsearch's dynamic mapping would grow it (``dynamic``,
``dynamic_templates``, ``date_detection``); values are read through it with hunter.eql's
nested/dotted field rules; queries (``match_all``, ``match_none``, ``ids``, ``term``, ``terms``,
``range``, ``exists``, ``prefix``, ``match``, ``bool``) match by field type; hits sort and
filter ``_source`` as Elasticsearch's do; ``field_caps`` reports the type families of the
mapped fields.
"""

from __future__ import annotations

import calendar
import copy
import fnmatch
import functools
import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hunter.eql.fields import flatten, make_getter
from hunter.eql.schema import first_non_null, looks_like_date
from hunter.eql.values import DateFormats, parse_date_ns

LONG_MAX = 9_223_372_036_854_775_807
LONG_MIN = -9_223_372_036_854_775_808
KEYWORDS = frozenset({"keyword", "constant_keyword", "wildcard"})
TEXTS = frozenset({"text", "match_only_text"})
INTEGERS = frozenset({"long", "integer", "short", "byte", "unsigned_long"})
FLOATS = frozenset({"double", "float", "half_float", "scaled_float"})
DATES = frozenset({"date", "date_nanos"})
OBJECTS = frozenset({"object", "nested"})
NODE_ID = "hunterTestNode00000000"


class EsError(Exception):
    """An Elasticsearch error answer: HTTP ``status``, error ``type``, ``reason`` and extra keys."""

    def __init__(
        self,
        status: int,
        type_: str,
        reason: str,
        extra: Mapping[str, Any] | None = None,
        *,
        root_cause: list[dict[str, Any]] | None = None,
        caused_by: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.type = type_
        self.reason = reason
        self.extra = dict(extra or {})
        self.root_cause = root_cause
        self.caused_by = caused_by

    def cause(self) -> dict[str, Any]:
        """The error object as it appears in ``root_cause`` and in bulk items."""
        return {"type": self.type, "reason": self.reason, **self.extra}

    def body(self) -> dict[str, Any]:
        """The response body: ``{"error": {"root_cause": [...], "type", "reason", ...}, "status"}``."""
        error: dict[str, Any] = {"root_cause": self.root_cause or [self.cause()], **self.cause()}
        if self.caused_by is not None:
            error["caused_by"] = self.caused_by
        return {"error": error, "status": self.status}


def illegal_argument(reason: str) -> EsError:
    """400 ``illegal_argument_exception``."""
    return EsError(400, "illegal_argument_exception", reason)


def parsing_error(reason: str) -> EsError:
    """400 ``parsing_exception`` (a malformed query)."""
    return EsError(400, "parsing_exception", reason)


def shard_failure(status: int, cause: Mapping[str, Any], index: str) -> EsError:
    """A search that failed on every shard: ``search_phase_execution_exception`` around ``cause``."""
    failed = {"shard": 0, "index": index, "node": NODE_ID, "reason": dict(cause)}
    return EsError(
        status,
        "search_phase_execution_exception",
        "all shards failed",
        {"phase": "query", "grouped": True, "failed_shards": [failed]},
        root_cause=[dict(cause)],
        caused_by=dict(cause),
    )


# ---- mappings --------------------------------------------------------------------------------


def merge_mappings(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` laid over ``base`` as template composition does (properties merge deeply)."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if key == "properties" and isinstance(merged.get(key), dict):
            merged[key] = _merge_properties(merged[key], value)
        elif key == "dynamic_templates" and isinstance(merged.get(key), list):
            # the later template's dynamic templates are tried first (a cluster composing logs@mappings
            # and ecs@mappings lists ecs's before strings_as_keyword)
            names = {next(iter(entry)) for entry in value}
            kept = [entry for entry in merged[key] if next(iter(entry)) not in names]
            merged[key] = copy.deepcopy(list(value)) + kept
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _merge_properties(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for name, spec in override.items():
        old = out.get(name)
        if isinstance(old, dict) and "properties" in old and "properties" in spec:
            out[name] = merge_mappings(old, spec)
        else:
            out[name] = copy.deepcopy(spec)
    return out


def flat_fields(mapping: Mapping[str, Any]) -> dict[str, tuple[tuple[str, ...], dict[str, Any]]]:
    """Every mapped field by dotted name: (where its value is read in ``_source``, its mapping).

    Objects, multi-fields (read from their parent's value) and runtime fields are included;
    an ``alias`` is reported with its target's mapping.
    """
    out: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {}
    aliases: list[tuple[str, str]] = []

    def walk(properties: Mapping[str, Any], prefix: tuple[str, ...]) -> None:
        for key, spec in properties.items():
            path = (*prefix, *key.split("."))
            name = ".".join(path)
            if spec.get("type") == "alias":
                aliases.append((name, str(spec.get("path", ""))))
                continue
            out[name] = (path, spec)
            walk(spec.get("properties", {}), path)
            for sub, sub_spec in spec.get("fields", {}).items():
                out[f"{name}.{sub}"] = (path, sub_spec)

    body = mapping.get("mappings", mapping)
    walk(body.get("properties", {}), ())
    for name, spec in body.get("runtime", {}).items():
        out.setdefault(name, (tuple(name.split(".")), spec))
    for name, target in aliases:
        if target in out:
            out[name] = out[target]
    return out


def type_of(spec: Mapping[str, Any]) -> str:
    """The mapping ``type`` of a field spec (``object`` when it only has ``properties``)."""
    return str(spec.get("type", "object"))


def add_dynamic_fields(mapping: dict[str, Any], source: Mapping[str, Any]) -> bool:
    """Add to ``mapping`` what dynamic mapping makes of ``source``; True when something was added.

    Raises ``strict_dynamic_mapping_exception`` where ``dynamic: strict`` forbids a new field.
    """
    templates = [next(iter(entry.items())) for entry in mapping.get("dynamic_templates", [])]
    state = _Dynamic(templates, bool(mapping.get("date_detection", True)))
    state.object(source, mapping, (), mapping.get("dynamic", True))
    return state.changed


@dataclass
class _Dynamic:
    templates: list[tuple[str, dict[str, Any]]]
    date_detection: bool
    changed: bool = False

    def object(self, obj: Mapping[str, Any], holder: dict[str, Any], path: tuple[str, ...], dyn: Any) -> None:
        for key, value in obj.items():
            parts = key.split(".")
            node, node_dyn, prefix = holder, dyn, path
            for part in parts[:-1]:
                prefix = (*prefix, part)
                spec = node.get("properties", {}).get(part)
                if spec is None:
                    if not self.may_add(node_dyn, prefix):
                        break
                    spec = self.add(node, part, {"properties": {}})
                if type_of(spec) not in OBJECTS:
                    break
                node, node_dyn = spec, spec.get("dynamic", node_dyn)
            else:
                self.value(parts[-1], value, node, prefix, node_dyn)

    def value(self, name: str, value: Any, holder: dict[str, Any], prefix: tuple[str, ...], dyn: Any) -> None:
        path = (*prefix, name)
        sample = first_non_null(value)
        if sample is None:
            return
        spec = holder.get("properties", {}).get(name)
        if isinstance(sample, Mapping):
            if spec is None:
                if not self.may_add(dyn, path):
                    return
                spec = self.add(holder, name, self.template(name, path, "object") or {"properties": {}})
            if type_of(spec) in OBJECTS:
                for item in value if isinstance(value, list) else [value]:
                    if isinstance(item, Mapping):
                        self.object(item, spec, path, spec.get("dynamic", dyn))
            return
        if spec is not None or not self.may_add(dyn, path):
            return
        kind = self.detect(sample)
        self.add(holder, name, self.template(name, path, kind) or copy.deepcopy(_DEFAULT_DYNAMIC[kind]))

    def add(self, holder: dict[str, Any], name: str, spec: dict[str, Any]) -> dict[str, Any]:
        holder.setdefault("properties", {})[name] = spec
        self.changed = True
        return spec

    @staticmethod
    def may_add(dyn: Any, path: tuple[str, ...]) -> bool:
        if str(dyn).lower() == "strict":
            parent = ".".join(path[:-1]) or "_doc"
            raise EsError(
                400,
                "strict_dynamic_mapping_exception",
                f"[1:2] mapping set to strict, dynamic introduction of [{path[-1]}] "
                f"within [{parent}] is not allowed",
            )
        return str(dyn).lower() not in ("false", "runtime")

    def detect(self, sample: Any) -> str:
        if isinstance(sample, bool):
            return "boolean"
        if isinstance(sample, int):
            return "long"
        if isinstance(sample, float):
            return "double"
        if self.date_detection and isinstance(sample, str) and looks_like_date(sample):
            return "date"
        return "string"

    def template(self, name: str, path: tuple[str, ...], kind: str) -> dict[str, Any] | None:
        dotted = ".".join(path)
        for _, spec in self.templates:
            if not _template_matches(spec, name, dotted, kind):
                continue
            mapping: dict[str, Any] = _substitute(copy.deepcopy(spec.get("mapping", {})), name, kind)
            if "type" not in mapping and kind != "object":
                mapping["type"] = _DYNAMIC_TYPE[kind]
            return mapping
        return None


_DEFAULT_DYNAMIC: dict[str, dict[str, Any]] = {
    "string": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}},
    "long": {"type": "long"},
    "double": {"type": "float"},
    "boolean": {"type": "boolean"},
    "date": {"type": "date"},
}
_DYNAMIC_TYPE = {"string": "keyword", "long": "long", "double": "float", "boolean": "boolean", "date": "date"}


def _template_matches(spec: Mapping[str, Any], name: str, dotted: str, kind: str) -> bool:
    def listed(key: str) -> list[str]:
        value = spec.get(key)
        return [] if value is None else [value] if isinstance(value, str) else list(value)

    regex = spec.get("match_pattern") == "regex"

    def hit(patterns: list[str], text: str) -> bool:
        return any(re.fullmatch(p, text) if regex else fnmatch.fnmatchcase(text, p) for p in patterns)

    types = listed("match_mapping_type")
    if types and "*" not in types and kind not in types:
        return False
    if kind in listed("unmatch_mapping_type"):
        return False
    if listed("match") and not hit(listed("match"), name):
        return False
    if hit(listed("unmatch"), name):
        return False
    if listed("path_match") and not hit(listed("path_match"), dotted):
        return False
    return not hit(listed("path_unmatch"), dotted)


def _substitute(value: Any, name: str, kind: str) -> Any:
    if isinstance(value, str):
        return value.replace("{name}", name).replace("{dynamic_type}", _DYNAMIC_TYPE.get(kind, kind))
    if isinstance(value, dict):
        return {key: _substitute(item, name, kind) for key, item in value.items()}
    if isinstance(value, list):
        return [_substitute(item, name, kind) for item in value]
    return value


def _ecs(name: str, key: str, patterns: str, mapping: dict[str, Any], **more: Any) -> dict[str, Any]:
    listed = patterns.split()
    return {name: {key: listed[0] if len(listed) == 1 else listed, **more, "mapping": mapping}}


_TEXT = {"fields": {"text": {"type": "match_only_text"}}}
_NOT_OBJECT = {"unmatch_mapping_type": "object"}
# ecs@mappings, as a 9.x cluster composes it into logs-*-* data streams (geo and usage templates left out)
_ECS_TEMPLATES: list[dict[str, Any]] = [
    _ecs("ecs_timestamp", "match", "@timestamp", {"ignore_malformed": False, "type": "date"}),
    _ecs(
        "ecs_message_match_only_text",
        "path_match",
        "message *.message",
        {"type": "match_only_text"},
        **_NOT_OBJECT,
    ),
    _ecs(
        "ecs_non_indexed_keyword",
        "path_match",
        "event.original",
        {"doc_values": False, "index": False, "type": "keyword"},
    ),
    _ecs("ecs_ip", "path_match", "ip *.ip *_ip", {"type": "ip"}, match_mapping_type="string"),
    _ecs(
        "ecs_wildcard",
        "path_match",
        "*.io.text *.message_id *registry.data.strings *url.path",
        {"type": "wildcard"},
        **_NOT_OBJECT,
    ),
    _ecs(
        "ecs_path_match_wildcard_and_match_only_text",
        "path_match",
        "*.body.content *url.full *url.original",
        {**_TEXT, "type": "wildcard"},
        **_NOT_OBJECT,
    ),
    _ecs(
        "ecs_match_wildcard_and_match_only_text",
        "match",
        "*command_line *stack_trace",
        {**_TEXT, "type": "wildcard"},
        **_NOT_OBJECT,
    ),
    _ecs(
        "ecs_path_match_keyword_and_match_only_text",
        "path_match",
        "*.title *.executable *.name *.working_directory *.full_name *file.path *file.target_path *os.full "
        "email.subject vulnerability.description user_agent.original",
        {**_TEXT, "type": "keyword"},
        **_NOT_OBJECT,
    ),
    _ecs(
        "ecs_date",
        "path_match",
        "*.timestamp *_timestamp *.not_after *.not_before *.accessed created *.created *.installed "
        "*.creation_date *.ctime *.mtime ingested *.ingested *.start *.end",
        {"type": "date"},
        **_NOT_OBJECT,
    ),
    _ecs(
        "ecs_path_match_float",
        "path_match",
        "*.score.* *_score*",
        {"type": "float"},
        path_unmatch="*.version",
        **_NOT_OBJECT,
    ),
    _ecs(
        "ecs_flattened",
        "path_match",
        "*structured_data *exports *imports",
        {"type": "flattened"},
        match_mapping_type="object",
    ),
    _ecs(
        "all_strings_to_keywords", "match_mapping_type", "string", {"ignore_above": 1024, "type": "keyword"}
    ),
]


def _stream_mappings(kind: str) -> dict[str, Any]:
    data_stream = {
        "type": {"type": "constant_keyword", "value": kind},
        "dataset": {"type": "constant_keyword"},
        "namespace": {"type": "constant_keyword"},
    }
    strings = {
        "strings_as_keyword": {
            "match_mapping_type": "string",
            "mapping": {"ignore_above": 1024, "type": "keyword"},
        }
    }
    return {
        "template": {
            "mappings": {
                "dynamic_templates": [strings],
                "date_detection": False,
                "properties": {
                    "@timestamp": {"type": "date", "ignore_malformed": False},
                    "data_stream": {"properties": data_stream},
                },
            }
        }
    }


def _stream_settings(kind: str) -> dict[str, Any]:
    index = {"lifecycle": {"name": kind}, "codec": "best_compression", "mapping": {"ignore_malformed": True}}
    return {"template": {"settings": {"index": index}}}


BUILTIN_COMPONENTS: dict[str, dict[str, Any]] = {
    "ecs@mappings": {"template": {"mappings": {"dynamic_templates": _ECS_TEMPLATES}}},
    **{f"{kind}@mappings": _stream_mappings(kind) for kind in ("logs", "metrics", "synthetics")},
    **{f"{kind}@settings": _stream_settings(kind) for kind in ("logs", "metrics", "synthetics")},
}


def _builtin_template(kind: str) -> dict[str, Any]:
    composed = [f"{kind}@mappings", f"{kind}@settings", f"{kind}@custom"]
    if kind == "logs":
        composed.append("ecs@mappings")
    return {
        "index_patterns": [f"{kind}-*-*"],
        "composed_of": composed,
        "priority": 100,
        "version": 15,
        "_meta": {"description": f"default {kind} template installed by x-pack", "managed": True},
        "data_stream": {"hidden": False, "allow_custom_routing": False},
        "allow_auto_create": True,
        "ignore_missing_component_templates": [f"{kind}@custom"],
    }


BUILTIN_TEMPLATES: dict[str, dict[str, Any]] = {
    kind: _builtin_template(kind) for kind in ("logs", "metrics", "synthetics")
}


def flat_settings(settings: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Index settings as dotted ``index.*`` keys (``number_of_shards`` becomes ``index.number_of_shards``)."""
    out: dict[str, Any] = {}
    for key, value in settings.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flat_settings(value, name + "."))
        else:
            full = name if name.startswith("index.") else f"index.{name}"
            out[full] = value if isinstance(value, list) else keyword_string(value)
    return out


# ---- typed field values --------------------------------------------------------------------


class IndexFields:
    """The fields of one index's mapping and how their values read from a document."""

    def __init__(self, mapping: Mapping[str, Any], settings: Mapping[str, Any] | None = None) -> None:
        self.mapping = mapping
        self.fields = flat_fields(mapping)
        self.runtime = frozenset(mapping.get("runtime", {}))
        self.ignore_malformed = str((settings or {}).get("index.mapping.ignore_malformed", "false")) == "true"
        self._getters: dict[tuple[str, ...], Callable[[Mapping[str, Any]], Any]] = {}

    def spec(self, name: str) -> dict[str, Any] | None:
        """The mapping of field ``name``, or None when this index does not map it."""
        found = self.fields.get(name)
        return None if found is None else found[1]

    def raw(self, name: str, source: Mapping[str, Any]) -> list[Any]:
        """The non-null leaf values of ``name`` in ``source`` (nested lists flattened)."""
        found = self.fields.get(name)
        if found is None:
            return []
        getter = self._getters.get(found[0])
        if getter is None:
            getter = self._getters[found[0]] = make_getter(found[0])
        return flatten(getter(source))

    def terms(self, name: str, source: Mapping[str, Any]) -> list[Any]:
        """The values of ``name`` as its field type indexes them (tokens, numbers, ns dates...)."""
        spec = self.spec(name)
        if spec is None:
            return []
        out: list[Any] = []
        for value in self.raw(name, source):
            out.extend(index_terms(spec, value))
        return out

    def check(self, source: Mapping[str, Any], doc_id: str) -> None:
        """Refuse ``source`` where a mapped field cannot hold its value (``document_parsing_exception``)."""
        for name, (path, spec) in self.fields.items():
            if ".".join(path) != name or name in self.runtime:
                continue  # multi-fields and aliases read another field's value; runtime fields none
            ftype = type_of(spec)
            getter = self._getters.get(path) or self._getters.setdefault(path, make_getter(path))
            raw = getter(source)
            items = raw if isinstance(raw, list) else [raw]
            for value in items:
                if value is None:
                    continue
                constant = spec.get("value") if ftype == "constant_keyword" else None
                if constant is not None and keyword_string(value) != keyword_string(constant):
                    raise _doc_error(
                        f"[constant_keyword] field [{name}] only accepts values that are equal to the value "
                        f"defined in the mappings [{constant}], but got [{value}]"
                    )
                if ftype in OBJECTS:
                    if not isinstance(value, Mapping):
                        raise _doc_error(
                            f"object mapping for [{name}] tried to parse field [{name}] as object, "
                            "but found a concrete value"
                        )
                    continue
                malformed = isinstance(value, Mapping) or (
                    ftype not in KEYWORDS | TEXTS
                    and not isinstance(value, list)
                    and not index_terms(spec, value)
                    and not (spec.get("ignore_malformed") or self.ignore_malformed)
                )
                if malformed and ftype != "flattened":
                    preview = value if not isinstance(value, Mapping) else "{...}"
                    raise _doc_error(
                        f"failed to parse field [{name}] of type [{ftype}] in document with id '{doc_id}'. "
                        f"Preview of field's value: '{preview}'"
                    )


def _doc_error(reason: str) -> EsError:
    return EsError(400, "document_parsing_exception", f"[1:2] {reason}")


def index_terms(spec: Mapping[str, Any], value: Any) -> list[Any]:
    """What a field of mapping ``spec`` indexes for one source value (empty when it cannot)."""
    ftype = type_of(spec)
    if isinstance(value, Mapping | list):
        return []
    if ftype in KEYWORDS or ftype in ("version", "flattened"):
        text = keyword_string(value)
        limit = spec.get("ignore_above")
        return [] if limit is not None and len(text) > int(limit) else [text]
    if ftype in TEXTS:
        return analyze(keyword_string(value))
    converted = coerce(ftype, value, spec.get("format"))
    if converted is None:
        return []
    return [converted // 1_000_000 * 1_000_000] if ftype == "date" else [converted]


def keyword_string(value: Any) -> str:
    """A scalar as a keyword field stores it (``true``, ``5``, ``1.5``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def analyze(text: str) -> list[str]:
    """The standard analyzer, roughly: lower-cased word tokens."""
    return re.findall(r"\w+", text.lower())


def coerce(ftype: str, value: Any, fmt: str | None = None) -> Any:
    """``value`` as a field of type ``ftype`` reads it (ns for dates), or None when it cannot."""
    if isinstance(value, Mapping | list):
        return None
    if ftype in INTEGERS or ftype in FLOATS:
        return _number(value, integer=ftype in INTEGERS)
    if ftype in DATES:
        return parse_date_ns(value, DateFormats(fmt) if fmt else None)
    if ftype == "boolean":
        if isinstance(value, bool):
            return value
        return {"true": True, "false": False, "": False}.get(str(value)) if isinstance(value, str) else None
    if ftype == "ip":
        try:
            return ipaddress.ip_address(str(value).strip())
        except ValueError:
            return None
    return keyword_string(value)


def _number(value: Any, *, integer: bool) -> float | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value) if integer else value
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return int(number) if integer else number


# ---- documents and queries -----------------------------------------------------------------


@dataclass(frozen=True)
class DocRef:
    """One stored document as a query sees it."""

    index: str
    id: str
    source: Mapping[str, Any]
    fields: IndexFields
    order: int = 0
    seq_no: int = 0
    version: int = 1


Predicate = Callable[[DocRef], bool]


def compile_query(query: Any, now_ns: int) -> Predicate:
    """A predicate for a query DSL object; raises ``parsing_exception`` for a malformed one."""
    if not isinstance(query, Mapping) or len(query) != 1:
        raise parsing_error("query malformed, must start with start_object and contain exactly one query")
    kind, body = next(iter(query.items()))
    compiler = _COMPILERS.get(kind)
    if compiler is None:
        raise parsing_error(f"unknown query [{kind}]")
    return compiler(body, now_ns)


def _match_all(body: Any, now_ns: int) -> Predicate:
    return lambda doc: True


def _match_none(body: Any, now_ns: int) -> Predicate:
    return lambda doc: False


def _ids(body: Any, now_ns: int) -> Predicate:
    values = {str(v) for v in (body or {}).get("values", [])}
    return lambda doc: doc.id in values


def _field_body(kind: str, body: Any, value_key: str = "value") -> tuple[str, dict[str, Any]]:
    """The field name and options of ``{"field": value}`` or ``{"field": {"value": ..., ...}}``."""
    if not isinstance(body, Mapping):
        raise parsing_error(f"[{kind}] query malformed, no start_object after query name")
    names = [key for key in body if key not in ("boost", "_name")]
    if len(names) != 1:
        raise parsing_error(f"[{kind}] query doesn't support multiple fields, found [{', '.join(names)}]")
    name = names[0]
    options = body[name]
    if isinstance(options, Mapping):
        return name, dict(options)
    return name, {value_key: options}


def _terms_of(doc: DocRef, name: str) -> list[Any]:
    if name == "_id":
        return [doc.id]
    if name == "_index":
        return [doc.index]
    return doc.fields.terms(name, doc.source)


def _spec_of(doc: DocRef, name: str) -> dict[str, Any] | None:
    if name in ("_id", "_index"):
        return {"type": "keyword"}
    return doc.fields.spec(name)


class _PerIndex:
    """Query values converted once per index (the same query value reads differently per mapping)."""

    def __init__(self, convert: Callable[[dict[str, Any] | None, str], Any]) -> None:
        self.convert = convert
        self.cache: dict[int, Any] = {}

    def get(self, doc: DocRef, name: str) -> Any:
        key = id(doc.fields)
        if key not in self.cache:
            self.cache[key] = self.convert(_spec_of(doc, name), doc.index)
        return self.cache[key]


def _query_term(spec: dict[str, Any] | None, value: Any, index: str, *, insensitive: bool = False) -> Any:
    """A query value as the field's type compares it (None: matches nothing)."""
    if spec is None:
        return None
    ftype = type_of(spec)
    if ftype in KEYWORDS | TEXTS or ftype in ("version", "flattened"):
        text = keyword_string(value)
        return text.lower() if insensitive else text
    if ftype == "ip" and isinstance(value, str) and "/" in value:
        try:
            return ipaddress.ip_network(value, strict=False)
        except ValueError:
            pass
    converted = coerce(ftype, value, spec.get("format"))
    if converted is None and ftype not in OBJECTS:
        cause = {
            "type": "query_shard_exception",
            "reason": f'failed to create query: For input string: "{value}"',
        }
        raise shard_failure(400, {**cause, "index_uuid": "_na_", "index": index}, index)
    return converted


def _equal(term: Any, wanted: Any, insensitive: bool) -> bool:
    if isinstance(wanted, ipaddress.IPv4Network | ipaddress.IPv6Network):
        return isinstance(term, ipaddress.IPv4Address | ipaddress.IPv6Address) and bool(term in wanted)
    if insensitive and isinstance(term, str):
        return bool(term.lower() == wanted)
    return bool(term == wanted)


def _term(body: Any, now_ns: int) -> Predicate:
    name, options = _field_body("term", body)
    insensitive = bool(options.get("case_insensitive", False))
    wanted = _PerIndex(
        lambda spec, index: _query_term(spec, options.get("value"), index, insensitive=insensitive)
    )

    def test(doc: DocRef) -> bool:
        value = wanted.get(doc, name)
        return value is not None and any(_equal(t, value, insensitive) for t in _terms_of(doc, name))

    return test


def _terms(body: Any, now_ns: int) -> Predicate:
    if not isinstance(body, Mapping):
        raise parsing_error("[terms] query malformed, no start_object after query name")
    names = [key for key in body if key not in ("boost", "_name")]
    if len(names) != 1 or not isinstance(body[names[0]], list):
        raise parsing_error("[terms] query requires exactly one field with an array of values")
    name, values = names[0], body[names[0]]
    wanted = _PerIndex(lambda spec, index: [_query_term(spec, v, index) for v in values])

    def test(doc: DocRef) -> bool:
        options = [v for v in wanted.get(doc, name) if v is not None]
        return any(_equal(t, v, False) for t in _terms_of(doc, name) for v in options)

    return test


def _range(body: Any, now_ns: int) -> Predicate:
    name, options = _field_body("range", body)
    bounds = {key: options[key] for key in ("gt", "gte", "lt", "lte") if options.get(key) is not None}
    for old, new in (("from", "gte"), ("to", "lte")):
        if options.get(old) is not None:
            bounds.setdefault(new, options[old])

    def convert(spec: dict[str, Any] | None, index: str) -> dict[str, Any] | None:
        if spec is None:
            return None
        ftype = type_of(spec)
        if ftype in DATES:
            fmt = options.get("format") or spec.get("format")
            nanos = ftype == "date_nanos"
            return {op: _date_bound(v, op, fmt, now_ns, index, nanos=nanos) for op, v in bounds.items()}
        return {op: _query_term(spec, v, index) for op, v in bounds.items()}

    limits = _PerIndex(convert)

    def test(doc: DocRef) -> bool:
        converted = limits.get(doc, name)
        if converted is None:
            return False
        return any(_within(term, converted) for term in _terms_of(doc, name))

    return test


def _within(term: Any, bounds: Mapping[str, Any]) -> bool:
    try:
        return (
            ("gt" not in bounds or term > bounds["gt"])
            and ("gte" not in bounds or term >= bounds["gte"])
            and ("lt" not in bounds or term < bounds["lt"])
            and ("lte" not in bounds or term <= bounds["lte"])
        )
    except TypeError:
        return False


_MATH_RE = re.compile(r"([+-])(\d+)([yMwdhHms])|/([yMwdhHms])")
_PRECISION_RE = re.compile(r"\d{4}(-(\d{2})(-(\d{2})([Tt ](\d{2})(:(\d{2})(:(\d{2})([.,]\d+)?)?)?)?)?)?")


def _date_bound(value: Any, op: str, fmt: str | None, now_ns: int, index: str, *, nanos: bool) -> int:
    """A range bound on a date field in ns: formats, ``now``, ``||`` date math and rounding.

    As Elasticsearch's round-up parser, ``gt``/``lte`` fill what the date leaves out with its
    maximum (``lte: "2024-01-01"`` covers the whole day, ``lte: "...T10:00:00Z"`` all of that
    second); ``date`` fields then compare in milliseconds.
    """
    up = op in ("gt", "lte")
    formats = DateFormats(fmt) if fmt else None
    text = value if isinstance(value, str) else None
    math_part = ""
    base: int | None
    if text is not None and text.startswith("now"):
        base, math_part = now_ns, text[3:]
    else:
        anchor = value
        if text is not None and "||" in text:
            anchor, math_part = text.split("||", 1)
        base = parse_date_ns(anchor, formats)
        if base is not None and up and isinstance(anchor, str):
            base = _round_up_fill(anchor, base)
    if base is None:
        fmt_text = fmt or "strict_date_optional_time||epoch_millis"
        reason = f"failed to parse date field [{value}] with format [{fmt_text}]"
        raise shard_failure(400, {"type": "parse_exception", "reason": reason}, index)
    moment = _EPOCH + timedelta(microseconds=base // 1000)
    rounded = False
    for sign, amount, unit, round_unit in _MATH_RE.findall(math_part):
        if round_unit:
            moment, rounded = _round(moment, round_unit, up=up), True
        else:
            moment = _shift(moment, int(amount) * (1 if sign == "+" else -1), unit)
    delta = moment - _EPOCH
    ns = (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
    ns += (999 if up else 0) if rounded else base % 1000
    return ns if nanos else ns // 1_000_000 * 1_000_000


def _round_up_fill(text: str, base: int) -> int:
    """``base`` moved to the last nanosecond that ``text`` (a reduced-precision ISO date) covers."""
    match = _PRECISION_RE.match(text.strip())
    if match is None or match.group(11):
        return base
    spans = ((10, 1), (8, 60), (6, 3_600), (4, 86_400))
    for group, seconds in spans:
        if match.group(group):
            return base + seconds * 1_000_000_000 - 1
    moment = _EPOCH + timedelta(microseconds=base // 1000)
    end = _shift(moment, 1, "M" if match.group(2) else "y")
    delta = end - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 - 1


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _shift(moment: datetime, amount: int, unit: str) -> datetime:
    if unit in "yM":
        months = moment.month - 1 + amount * (12 if unit == "y" else 1)
        year, month = moment.year + months // 12, months % 12 + 1
        day = min(moment.day, calendar.monthrange(year, month)[1])
        return moment.replace(year=year, month=month, day=day)
    seconds = {"w": 604_800, "d": 86_400, "h": 3_600, "H": 3_600, "m": 60, "s": 1}[unit]
    return moment + timedelta(seconds=amount * seconds)


def _round(moment: datetime, unit: str, *, up: bool) -> datetime:
    start = {
        "y": moment.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0),
        "M": moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0),
        "w": (moment - timedelta(days=moment.weekday())).replace(hour=0, minute=0, second=0, microsecond=0),
        "d": moment.replace(hour=0, minute=0, second=0, microsecond=0),
        "h": moment.replace(minute=0, second=0, microsecond=0),
        "H": moment.replace(minute=0, second=0, microsecond=0),
        "m": moment.replace(second=0, microsecond=0),
        "s": moment.replace(microsecond=0),
    }[unit]
    if not up:
        return start
    return _shift(start, 1, unit) - timedelta(microseconds=1)


def _exists(body: Any, now_ns: int) -> Predicate:
    name = (body or {}).get("field") if isinstance(body, Mapping) else None
    if not isinstance(name, str):
        raise parsing_error("[exists] must be provided with a [field]")

    def test(doc: DocRef) -> bool:
        if name in ("_id", "_index"):
            return True
        spec = doc.fields.spec(name)
        if spec is not None and type_of(spec) in OBJECTS:
            prefix = name + "."
            return any(key.startswith(prefix) and _leaf_exists(doc, key) for key in doc.fields.fields)
        return spec is not None and _leaf_exists(doc, name)

    return test


def _leaf_exists(doc: DocRef, name: str) -> bool:
    spec = doc.fields.spec(name)
    return spec is not None and type_of(spec) not in OBJECTS and bool(doc.fields.terms(name, doc.source))


def _prefix(body: Any, now_ns: int) -> Predicate:
    name, options = _field_body("prefix", body)
    insensitive = bool(options.get("case_insensitive", False))
    wanted = keyword_string(options.get("value", ""))
    if insensitive:
        wanted = wanted.lower()

    def test(doc: DocRef) -> bool:
        terms = [t for t in _terms_of(doc, name) if isinstance(t, str)]
        return any((t.lower() if insensitive else t).startswith(wanted) for t in terms)

    return test


def _match(body: Any, now_ns: int) -> Predicate:
    name, options = _field_body("match", body, "query")
    query = options.get("query")
    conjunctive = str(options.get("operator", "or")).lower() == "and"

    def convert(spec: dict[str, Any] | None, index: str) -> list[Any] | None:
        if spec is None:
            return None
        if type_of(spec) in TEXTS:
            return analyze(keyword_string(query))
        return [_query_term(spec, query, index)]

    wanted = _PerIndex(convert)

    def test(doc: DocRef) -> bool:
        values = wanted.get(doc, name)
        if not values:
            return False
        terms = _terms_of(doc, name)
        found = [any(_equal(t, v, False) for t in terms) for v in values]
        return all(found) if conjunctive else any(found)

    return test


def _bool(body: Any, now_ns: int) -> Predicate:
    if not isinstance(body, Mapping):
        raise parsing_error("[bool] query malformed, no start_object after query name")

    def clauses(key: str) -> list[Predicate]:
        value = body.get(key, [])
        items = value if isinstance(value, list) else [value]
        return [compile_query(item, now_ns) for item in items]

    must = clauses("must") + clauses("filter")
    should, must_not = clauses("should"), clauses("must_not")
    wanted = _minimum_should_match(body.get("minimum_should_match"), len(should), bool(must))

    def test(doc: DocRef) -> bool:
        if not all(p(doc) for p in must) or any(p(doc) for p in must_not):
            return False
        return wanted <= 0 or sum(1 for p in should if p(doc)) >= wanted

    return test


def _minimum_should_match(value: Any, optional: int, has_required: bool) -> int:
    if value is None:
        return 1 if optional and not has_required else 0
    text = str(value).strip()
    if text.endswith("%"):
        percent = int(text[:-1])
        count = optional * abs(percent) // 100
        return count if percent >= 0 else optional - count
    number = int(text)
    return number if number >= 0 else optional + number


_COMPILERS: dict[str, Callable[[Any, int], Predicate]] = {
    "match_all": _match_all,
    "match_none": _match_none,
    "ids": _ids,
    "term": _term,
    "terms": _terms,
    "range": _range,
    "exists": _exists,
    "prefix": _prefix,
    "match": _match,
    "bool": _bool,
}

# ---- sorting -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SortField:
    """One ``sort`` criterion."""

    name: str
    descending: bool
    missing_first: bool
    unmapped_type: str | None = None
    mode: str | None = None


def parse_sort(sort: Any) -> list[SortField]:
    """The criteria of a ``sort`` value (string, object or list of them)."""
    items = sort if isinstance(sort, list) else [sort]
    out: list[SortField] = []
    for item in items:
        if isinstance(item, str):
            name, options = item, {}
        elif isinstance(item, Mapping) and len(item) == 1:
            name, raw = next(iter(item.items()))
            options = dict(raw) if isinstance(raw, Mapping) else {"order": raw}
        else:
            raise parsing_error("malformed sort")
        order = str(options.get("order", "desc" if name == "_score" else "asc")).lower()
        if order not in ("asc", "desc"):
            raise illegal_argument(f"Unknown SortOrder [{order}]")
        missing = str(options.get("missing", "_last"))
        out.append(
            SortField(
                name, order == "desc", missing == "_first", options.get("unmapped_type"), options.get("mode")
            )
        )
    return out


def check_sort(criteria: list[SortField], indices: Iterable[tuple[str, IndexFields]]) -> None:
    """Refuse sorts Elasticsearch refuses: text fields, and fields no searched index maps."""
    listed = list(indices)
    for criterion in criteria:
        if criterion.name in ("_doc", "_score", "_seq_no") or criterion.unmapped_type or not listed:
            continue
        specs = [(name, fields.spec(criterion.name)) for name, fields in listed]
        for index, spec in specs:
            if spec is not None and type_of(spec) in TEXTS and not spec.get("fielddata"):
                name = criterion.name
                reason = (
                    f"Fielddata is disabled on [{name}] in [{index}]. Text fields are not optimised for "
                    "operations that require per-document field data like aggregations and sorting, so these "
                    "operations are disabled by default. Please use a keyword field instead. Alternatively, "
                    f"set fielddata=true on [{name}] in order to load field data by uninverting the inverted "
                    "index. Note that this can use significant memory."
                )
                raise shard_failure(400, {"type": "illegal_argument_exception", "reason": reason}, index)
        if all(spec is None for _, spec in specs):
            index = listed[0][0]
            cause = {
                "type": "query_shard_exception",
                "reason": f"No mapping found for [{criterion.name}] in order to sort on",
                "index_uuid": "_na_",
                "index": index,
            }
            raise shard_failure(400, cause, index)


def sort_values(doc: DocRef, criteria: list[SortField]) -> list[Any]:
    """A hit's ``sort`` array: dates in epoch ms, numbers, keywords; Long.MIN/MAX or null for missing."""
    out: list[Any] = []
    for criterion in criteria:
        if criterion.name == "_doc":
            out.append(doc.order)
            continue
        if criterion.name in ("_score", "_seq_no"):
            out.append(1.0 if criterion.name == "_score" else doc.seq_no)
            continue
        spec = doc.fields.spec(criterion.name)
        terms = _sortable(spec, doc.fields.terms(criterion.name, doc.source)) if spec else []
        if terms:
            use_max = criterion.mode == "max" or (criterion.mode is None and criterion.descending)
            out.append(max(terms) if use_max else min(terms))
        elif (spec is not None and type_of(spec) in KEYWORDS) or criterion.unmapped_type in KEYWORDS:
            out.append(None)
        else:
            out.append(LONG_MIN if criterion.descending != criterion.missing_first else LONG_MAX)
    return out


def _sortable(spec: Mapping[str, Any], terms: list[Any]) -> list[Any]:
    ftype = type_of(spec)
    if ftype == "date":
        return [t // 1_000_000 for t in terms]
    if ftype == "boolean":
        return [int(t) for t in terms]
    if ftype == "ip":
        return [str(t) for t in terms]
    return terms


def compare_sort(left: list[Any], right: list[Any], criteria: list[SortField]) -> int:
    """-1/0/1 ordering of two ``sort`` arrays under ``criteria`` (null keywords follow ``missing``)."""
    for a, b, criterion in zip(left, right, criteria, strict=False):
        if a == b:
            continue
        if a is None or b is None:
            first = criterion.missing_first
            return (-1 if first else 1) if a is None else (1 if first else -1)
        try:
            result = -1 if a < b else 1
        except TypeError:
            result = -1 if str(a) < str(b) else 1
        return -result if criterion.descending else result
    return 0


def sort_docs(docs: list[DocRef], criteria: list[SortField]) -> list[tuple[DocRef, list[Any]]]:
    """``docs`` with their sort values, in sort order (ties keep input order)."""
    keyed = [(doc, sort_values(doc, criteria)) for doc in docs]

    def order(left: tuple[DocRef, list[Any]], right: tuple[DocRef, list[Any]]) -> int:
        return compare_sort(left[1], right[1], criteria)

    keyed.sort(key=functools.cmp_to_key(order))
    return keyed


# ---- _source filtering ---------------------------------------------------------------------


def source_filter(spec: Any) -> tuple[bool, list[str], list[str]]:
    """(fetch?, includes, excludes) from a ``_source`` request value."""
    if spec is None or spec is True:
        return True, [], []
    if spec is False:
        return False, [], []
    if isinstance(spec, str):
        return True, [spec], []
    if isinstance(spec, list):
        return True, [str(s) for s in spec], []
    if isinstance(spec, Mapping):
        return True, _listed(spec, "includes", "include"), _listed(spec, "excludes", "exclude")
    raise parsing_error("[_source] must be a boolean, string, array or object")


def _listed(spec: Mapping[str, Any], *keys: str) -> list[str]:
    value: Any = next((spec[k] for k in keys if k in spec), [])
    return [value] if isinstance(value, str) else [str(v) for v in value]


def filter_source(source: Mapping[str, Any], includes: list[str], excludes: list[str]) -> dict[str, Any]:
    """``source`` keeping the fields ``includes`` match (all when empty), minus those ``excludes`` match."""

    def hit(patterns: list[str], path: str) -> bool:
        return any(fnmatch.fnmatchcase(path, p) or path.startswith(p + ".") for p in patterns)

    def may_hold(path: str) -> bool:
        return any("*" in p or p.startswith(path + ".") for p in includes)

    def keep(value: Any, path: str, inside: bool) -> Any:
        if isinstance(value, list):
            kept = [keep(item, path, inside) for item in value]
            return [item for item in kept if item is not _DROP]
        if not isinstance(value, Mapping):
            return value if inside else _DROP
        out: dict[str, Any] = {}
        for key, item in value.items():
            sub = f"{path}.{key}" if path else key
            if hit(excludes, sub):
                continue
            now_inside = inside or hit(includes, sub)
            if not now_inside and not may_hold(sub):
                continue
            kept = keep(item, sub, now_inside)
            if kept is not _DROP and (now_inside or kept not in ({}, [])):
                out[key] = kept
        return out

    result = keep(source, "", not includes)
    return result if isinstance(result, dict) else {}


_DROP = object()


# ---- field capabilities --------------------------------------------------------------------

_METADATA = {
    "_id": ("_id", True, False),
    "_index": ("_index", True, True),
    "_source": ("_source", False, False),
    "_seq_no": ("_seq_no", True, True),
    "_version": ("_version", False, True),
    "_ignored": ("_ignored", True, True),
    "_routing": ("_routing", True, False),
    "_tier": ("_tier", True, True),
    "_doc_count": ("_doc_count", False, False),
}
_FAMILY = {"constant_keyword": "keyword", "wildcard": "keyword", "match_only_text": "text"}


@dataclass
class _Caps:
    family: str
    searchable: dict[str, bool] = field(default_factory=dict)
    aggregatable: dict[str, bool] = field(default_factory=dict)
    metadata: bool = False


def field_caps(
    indices: list[tuple[str, IndexFields]], patterns: list[str], include_unmapped: bool
) -> dict[str, Any]:
    """The body of a ``_field_caps`` answer over ``indices`` for the field name ``patterns``."""
    names = sorted(name for name, _ in indices)
    per_field: dict[str, dict[str, _Caps]] = {}
    for index, fields in indices:
        found: dict[str, tuple[str, bool, bool, bool]] = {}
        for name, (_, spec) in fields.fields.items():
            family, searchable, aggregatable = _capabilities(spec)
            found[name] = (family, searchable, aggregatable, False)
        for name, (family, searchable, aggregatable) in _METADATA.items():
            found[name] = (family, searchable, aggregatable, True)
        for name, (family, searchable, aggregatable, metadata) in found.items():
            if not any(fnmatch.fnmatchcase(name, p) for p in patterns):
                continue
            caps = per_field.setdefault(name, {}).setdefault(family, _Caps(family, metadata=metadata))
            caps.searchable[index] = searchable
            caps.aggregatable[index] = aggregatable
    out: dict[str, Any] = {}
    for name in sorted(per_field):
        families = per_field[name]
        mapped_in = {index for caps in families.values() for index in caps.searchable}
        unmapped = [index for index in names if index not in mapped_in]
        if include_unmapped and unmapped:
            families["unmapped"] = _Caps(
                "unmapped", dict.fromkeys(unmapped, False), dict.fromkeys(unmapped, False)
            )
        entry: dict[str, Any] = {}
        for family, caps in families.items():
            item: dict[str, Any] = {
                "type": family,
                "metadata_field": caps.metadata,
                "searchable": all(caps.searchable.values()),
                "aggregatable": all(caps.aggregatable.values()),
            }
            if len(families) > 1:
                item["indices"] = sorted(caps.searchable)
            if not item["searchable"] and any(caps.searchable.values()):
                item["non_searchable_indices"] = sorted(i for i, s in caps.searchable.items() if not s)
            if not item["aggregatable"] and any(caps.aggregatable.values()):
                item["non_aggregatable_indices"] = sorted(i for i, a in caps.aggregatable.items() if not a)
            entry[family] = item
        out[name] = entry
    return {"indices": names, "fields": out}


def _capabilities(spec: Mapping[str, Any]) -> tuple[str, bool, bool]:
    ftype = type_of(spec)
    family = _FAMILY.get(ftype, ftype)
    if ftype in OBJECTS:
        return family, False, False
    searchable = spec.get("index", True) is not False
    if ftype in TEXTS:
        return family, searchable, bool(spec.get("fielddata", False))
    return family, searchable, spec.get("doc_values", True) is not False
