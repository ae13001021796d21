"""Mappings as Elasticsearch keeps them: checked, composed, grown by dynamic mapping, read back.

:func:`normalize_mappings` checks a mapping (known field types, non-empty names) and expands dotted
field names into objects (not under ``subobjects: false``); :func:`merge_mappings` lays one
template's mapping over another's; :func:`add_dynamic_fields` maps a document's new fields as
dynamic mapping would (``dynamic``, ``dynamic_templates`` incl. those a bulk item names,
``date_detection``, ``subobjects``, the field name length limit). :class:`IndexFields` reads a
document through the mapping: typed values, ``ignore_malformed``/``ignore_above`` (recorded in
``_ignored``) and the document parsing errors Elasticsearch answers.
"""

from __future__ import annotations

import copy
import fnmatch
import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from hunter.eql.fields import flatten, make_getter
from hunter.eql.schema import first_non_null, looks_like_date
from hunter.eql.values import DateFormats, parse_date_ns

from .es_errors import EsError, illegal_argument

LONG_MAX = 9_223_372_036_854_775_807
LONG_MIN = -9_223_372_036_854_775_808
KEYWORDS = frozenset({"keyword", "constant_keyword", "wildcard"})
TEXTS = frozenset({"text", "match_only_text"})
INTEGERS = frozenset({"long", "integer", "short", "byte", "unsigned_long"})
FLOATS = frozenset({"double", "float", "half_float", "scaled_float"})
DATES = frozenset({"date", "date_nanos"})
OBJECTS = frozenset({"object", "nested", "passthrough"})
FIELD_TYPES = (
    KEYWORDS
    | TEXTS
    | INTEGERS
    | FLOATS
    | DATES
    | OBJECTS
    | frozenset(
        [
            "boolean",
            "ip",
            "geo_point",
            "geo_shape",
            "point",
            "shape",
            "flattened",
            "alias",
            "version",
            "dense_vector",
            "sparse_vector",
            "binary",
            "search_as_you_type",
            "completion",
            "token_count",
            "rank_feature",
            "rank_features",
            "histogram",
            "integer_range",
            "long_range",
            "float_range",
            "double_range",
            "date_range",
            "ip_range",
            "join",
            "percolator",
            "aggregate_metric_double",
            "counted_keyword",
            "semantic_text",
        ]
    )
)
RUNTIME_TYPES = frozenset(
    {"keyword", "long", "double", "date", "ip", "boolean", "geo_point", "composite", "lookup"}
)
NANOS_MIN = 0
NANOS_MAX = LONG_MAX


def type_of(spec: Mapping[str, Any]) -> str:
    """The mapping ``type`` of a field spec (``object`` when it only has ``properties``)."""
    return str(spec.get("type", "object"))


def splits_dots(spec: Mapping[str, Any]) -> bool:
    """Does this object (or root) map dotted names as objects (``subobjects`` true, the default)?"""
    return str(spec.get("subobjects", "true")).lower() == "true"


def _mapping_error(reason: str, cause: str | None = None) -> EsError:
    caused = {"type": "illegal_argument_exception", "reason": cause} if cause else None
    return EsError(400, "mapper_parsing_exception", f"Failed to parse mapping: {reason}", caused_by=caused)


# ---- checking and composing mappings --------------------------------------------------------------


def normalize_mappings(body: Any) -> dict[str, Any]:
    """A checked copy of a ``mappings`` body with dotted field names expanded into objects."""
    if body is None:
        return {}
    if not isinstance(body, Mapping):
        raise EsError(
            400,
            "mapper_parsing_exception",
            f"Failed to parse mapping: Expected map for property [mappings] but got [{body}]",
        )
    if len(body) == 1 and "_doc" in body and isinstance(body["_doc"], Mapping):
        body = body["_doc"]
    out: dict[str, Any] = {}
    for key, value in body.items():
        if key == "properties":
            out[key] = _properties(value, subobjects=splits_dots(body))
        elif key == "runtime":
            out[key] = _runtime(value)
        else:
            out[key] = copy.deepcopy(value)
    _check_source(out)
    return out


def _properties(properties: Any, *, subobjects: bool) -> dict[str, Any]:
    if not isinstance(properties, Mapping):
        raise EsError(
            400,
            "mapper_parsing_exception",
            f"Failed to parse mapping: Expected map for property [properties] but got [{properties}]",
        )
    out: dict[str, Any] = {}
    for name, spec in properties.items():
        if name == "" or (subobjects and any(part == "" for part in name.split("."))):
            message = "field name cannot be an empty string"
            raise EsError(
                400,
                "mapper_parsing_exception",
                f"Failed to parse mapping: {message}",
                caused_by={"type": "illegal_argument_exception", "reason": message},
            )
        if not isinstance(spec, Mapping):
            raise _mapping_error(
                f"Expected map for property [fields] on field [{name}] but got a {type(spec).__name__}"
            )
        field_spec = _field(name.split(".")[-1] if subobjects else name, spec)
        parts = name.split(".") if subobjects else [name]
        holder = out
        for part in parts[:-1]:
            parent = holder.setdefault(part, {"properties": {}})
            holder = parent.setdefault("properties", {})
        existing = holder.get(parts[-1])
        holder[parts[-1]] = merge_field(existing, field_spec) if existing else field_spec
    return out


def _field(name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    ftype = spec.get("type")
    if ftype is not None and ftype not in FIELD_TYPES:
        raise EsError(
            400,
            "mapper_parsing_exception",
            f"Failed to parse mapping: The mapper type [{ftype}] declared on field [{name}] does not "
            "exist. It might have been created within a future version or requires a plugin to be "
            "installed. Check the documentation.",
        )
    out = copy.deepcopy(dict(spec))
    if "properties" in spec:
        out["properties"] = _properties(spec["properties"], subobjects=splits_dots(spec))
    for sub, sub_spec in (spec.get("fields") or {}).items():
        if isinstance(sub_spec, Mapping):
            _field(sub, sub_spec)
    return out


def _runtime(runtime: Any) -> dict[str, Any]:
    if not isinstance(runtime, Mapping):
        raise _mapping_error("Expected map for property [runtime]")
    for name, spec in runtime.items():
        ftype = spec.get("type") if isinstance(spec, Mapping) else None
        if ftype not in RUNTIME_TYPES:
            raise EsError(
                400,
                "mapper_parsing_exception",
                f"Failed to parse mapping: The mapper type [{ftype}] declared on runtime field [{name}] "
                "does not exist. It might have been created within a future version or requires a "
                "plugin to be installed. Check the documentation.",
            )
    return copy.deepcopy(dict(runtime))


def _check_source(mapping: Mapping[str, Any]) -> None:
    if (mapping.get("_source") or {}).get("mode") != "synthetic":
        return
    for name, ref in flat_fields(mapping).items():
        if type_of(ref.spec) == "flattened" and ref.spec.get("doc_values") is False:
            raise _mapping_error(
                f"field [{name}] of type [flattened] doesn't support synthetic source because it doesn't "
                "have doc values"
            )


def merge_field(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """One field laid over another: objects merge parameters and properties, leaf fields are replaced."""
    if (
        type_of(base) in OBJECTS
        and type_of(override) in OBJECTS
        and ("properties" in base or "properties" in override)
    ):
        merged = {
            **copy.deepcopy(dict(base)),
            **copy.deepcopy({k: v for k, v in override.items() if k != "properties"}),
        }
        merged["properties"] = _merge_properties(base.get("properties", {}), override.get("properties", {}))
        return merged
    if type_of(base) in OBJECTS and type_of(override) in OBJECTS:
        return {**copy.deepcopy(dict(base)), **copy.deepcopy(dict(override))}
    return copy.deepcopy(dict(override))


def _merge_properties(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(base))
    for name, spec in override.items():
        out[name] = merge_field(out[name], spec) if name in out else copy.deepcopy(spec)
    return out


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
        elif key in ("runtime", "_meta") and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **copy.deepcopy(value)}
        else:
            merged[key] = copy.deepcopy(value)
    return merged


# ---- the fields of a mapping ----------------------------------------------------------------------


@dataclass(frozen=True)
class FieldRef:
    """A mapped field: where its value is read in ``_source``, its mapping, and what kind it is."""

    path: tuple[str, ...]
    spec: dict[str, Any]
    kind: str = "field"  # field, object, multi, runtime, alias
    parent: str | None = None


def flat_fields(mapping: Mapping[str, Any]) -> dict[str, FieldRef]:
    """Every mapped field by dotted name (objects, multi-fields, runtime fields and aliases included)."""
    out: dict[str, FieldRef] = {}
    aliases: list[tuple[str, str]] = []
    passthrough: list[tuple[int, str, str]] = []  # (priority, container, field)

    def walk(
        properties: Mapping[str, Any], prefix: tuple[str, ...], container: tuple[int, str] | None
    ) -> None:
        for key, spec in properties.items():
            path = (*prefix, *key.split("."))
            name = ".".join(path)
            if spec.get("type") == "alias":
                aliases.append((name, str(spec.get("path", ""))))
                continue
            is_object = type_of(spec) in OBJECTS
            out[name] = FieldRef(path, spec, "object" if is_object else "field")
            if container is not None and not is_object:
                passthrough.append((container[0], container[1], name))
            if spec.get("enabled") is False:
                continue  # nothing under a disabled object is indexed
            inner = container
            if type_of(spec) == "passthrough":
                inner = (int(spec.get("priority", 0)), name)
            elif isinstance(spec.get("passthrough"), Mapping):
                inner = (int(spec["passthrough"].get("priority", 0)), name)
            walk(spec.get("properties", {}), path, inner)
            for sub, sub_spec in spec.get("fields", {}).items():
                out[f"{name}.{sub}"] = FieldRef(path, sub_spec, "multi", name)

    body = mapping.get("mappings", mapping)
    walk(body.get("properties", {}), (), None)
    for _, container, name in sorted(passthrough, reverse=True):
        short = name[len(container) + 1 :]
        if (
            short not in out
        ):  # a passthrough container's fields also answer at the root (highest priority wins)
            found = out[name]
            out[short] = FieldRef(found.path, found.spec, "field")
    for name, spec in body.get("runtime", {}).items():
        out[name] = FieldRef(tuple(name.split(".")), spec, "runtime")
    for name, target in aliases:
        if target in out:
            found = out[target]
            out[name] = FieldRef(found.path, found.spec, "alias", target)
    return out


# ---- dynamic mapping ------------------------------------------------------------------------------


@dataclass
class DynamicOptions:
    """What an index's settings and a write request add to dynamic mapping."""

    auto_text: bool = True
    name_limit: int | None = None
    ignore_long_names: bool = False
    named_templates: Mapping[str, str] = field(default_factory=dict)


def add_dynamic_fields(
    mapping: dict[str, Any], source: Mapping[str, Any], options: DynamicOptions | None = None
) -> tuple[bool, list[str]]:
    """Add to ``mapping`` what dynamic mapping makes of ``source``: (something added?, ignored names).

    Raises ``strict_dynamic_mapping_exception`` where ``dynamic: strict`` forbids a new field and
    ``document_parsing_exception`` for a dynamic template a bulk item names that does not exist.
    """
    templates = [next(iter(entry.items())) for entry in mapping.get("dynamic_templates", [])]
    state = _Dynamic(templates, bool(mapping.get("date_detection", True)), options or DynamicOptions())
    state.object(source, mapping, (), mapping.get("dynamic", True), splits_dots(mapping))
    return state.changed, state.ignored


@dataclass
class _Dynamic:
    templates: list[tuple[str, dict[str, Any]]]
    date_detection: bool
    options: DynamicOptions
    changed: bool = False
    ignored: list[str] = field(default_factory=list)

    def object(
        self,
        obj: Mapping[str, Any],
        holder: dict[str, Any],
        path: tuple[str, ...],
        dyn: Any,
        subobjects: bool,
    ) -> None:
        for key, value in obj.items():
            if not subobjects:
                self.value(key, value, holder, path, dyn, subobjects=False)
                continue
            parts = key.split(".")
            node, node_dyn, prefix, node_sub = holder, dyn, path, True
            for part in parts[:-1]:
                prefix = (*prefix, part)
                spec = node.get("properties", {}).get(part)
                if spec is None:
                    if not self.may_add(node_dyn, prefix):
                        break
                    chosen = self.template(part, ".".join(prefix), "object")
                    spec = self.add(node, part, chosen if chosen is not None else {"properties": {}})
                if type_of(spec) not in OBJECTS:
                    break
                node, node_dyn = spec, spec.get("dynamic", node_dyn)
                node_sub = splits_dots(spec)
                if not node_sub:
                    self.value(
                        ".".join(parts[len(prefix) - len(path) :]),
                        value,
                        node,
                        prefix,
                        node_dyn,
                        subobjects=False,
                    )
                    break
            else:
                self.value(parts[-1], value, node, prefix, node_dyn, subobjects=node_sub)

    def value(
        self,
        name: str,
        value: Any,
        holder: dict[str, Any],
        prefix: tuple[str, ...],
        dyn: Any,
        *,
        subobjects: bool,
    ) -> None:
        path = (*prefix, name)
        dotted = ".".join(path)
        sample = first_non_null(value)
        if sample is None:
            return
        spec = holder.get("properties", {}).get(name)
        if isinstance(sample, Mapping):
            if spec is None:
                if not self.may_add(dyn, path):
                    return
                chosen = self.template(name, dotted, "object")
                spec = self.add(holder, name, chosen if chosen is not None else {"properties": {}})
            if type_of(spec) in OBJECTS:
                inner_sub = subobjects and splits_dots(spec)
                for item in value if isinstance(value, list) else [value]:
                    if isinstance(item, Mapping):
                        self.object(item, spec, path, spec.get("dynamic", dyn), inner_sub)
            return
        if spec is not None or not self.may_add(dyn, path):
            return
        limit = self.options.name_limit
        if limit is not None and len(name) > limit and self.options.ignore_long_names:
            self.ignored.append(dotted)
            return
        kind = self.detect(sample)
        chosen = self.template(name, dotted, kind)
        self.add(holder, name, chosen if chosen is not None else self.default(kind))

    def default(self, kind: str) -> dict[str, Any]:
        if kind == "string" and not self.options.auto_text:
            return {"type": "keyword", "ignore_above": 256}
        return copy.deepcopy(_DEFAULT_DYNAMIC[kind])

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
                f"[1:2] mapping set to strict, dynamic introduction of [{path[-1]}] within [{parent}] is not "
                "allowed",
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

    def template(self, name: str, dotted: str, kind: str) -> dict[str, Any] | None:
        wanted = self.options.named_templates.get(dotted)
        if wanted is not None:
            for template_name, spec in self.templates:
                if template_name == wanted:
                    return self._mapping(spec, name, kind)
            raise EsError(
                400,
                "document_parsing_exception",
                "[1:2] failed to parse: Can't find dynamic template for dynamic template name "
                f"[{wanted}] of field [{dotted}]",
            )
        for _, spec in self.templates:
            if _template_matches(spec, name, dotted, kind):
                return self._mapping(spec, name, kind)
        return None

    @staticmethod
    def _mapping(spec: Mapping[str, Any], name: str, kind: str) -> dict[str, Any]:
        mapping: dict[str, Any] = _substitute(copy.deepcopy(spec.get("mapping", {})), name, kind)
        if "type" not in mapping and kind != "object":
            mapping["type"] = _DYNAMIC_TYPE[kind]
        return mapping


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

    criteria = (
        "match",
        "path_match",
        "match_mapping_type",
        "unmatch",
        "path_unmatch",
        "unmatch_mapping_type",
    )
    if not any(spec.get(key) is not None for key in criteria):
        return False  # a template without criteria applies only where a bulk item names it
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


# ---- reading documents through a mapping ----------------------------------------------------------


@dataclass
class Parsed:
    """What indexing one document recorded besides its source: ignored fields and their values."""

    ignored: list[str] = field(default_factory=list)
    ignored_values: dict[str, list[Any]] = field(default_factory=dict)


class IndexFields:
    """The fields of one index's mapping and how their values read from a document."""

    # Runs a runtime field's script: set by tests.support.es_painless (kept apart to keep this module small).
    script_runner: ClassVar[
        Callable[[IndexFields, str, Mapping[str, Any], Mapping[str, Any]], list[Any]] | None
    ] = None

    def __init__(self, mapping: Mapping[str, Any], settings: Mapping[str, Any] | None = None) -> None:
        self.mapping = mapping
        self.fields = flat_fields(mapping)
        self.runtime = frozenset(mapping.get("runtime", {}))
        self.ignore_malformed = str((settings or {}).get("index.mapping.ignore_malformed", "false")) == "true"
        default = (settings or {}).get("index.query.default_field")
        self.default_fields: list[str] = [default] if isinstance(default, str) else list(default or ["*"])
        self._getters: dict[tuple[str, ...], Callable[[Mapping[str, Any]], Any]] = {}

    def spec(self, name: str) -> dict[str, Any] | None:
        """The mapping of field ``name``, or None when this index does not map it."""
        found = self.fields.get(name)
        return None if found is None else found.spec

    def getter(self, path: tuple[str, ...]) -> Callable[[Mapping[str, Any]], Any]:
        """A reader of the value at ``path`` (nested objects and dotted keys alike)."""
        getter = self._getters.get(path)
        if getter is None:
            getter = self._getters[path] = make_getter(path)
        return getter

    def raw(self, name: str, source: Mapping[str, Any]) -> list[Any]:
        """The non-null leaf values of ``name`` in ``source`` (nested lists flattened)."""
        found = self.fields.get(name)
        if found is None:
            return []
        if found.kind == "runtime" and found.spec.get("script") is not None:
            return self.runtime_values(name, found.spec, source)
        return flatten(self.getter(found.path)(source))

    def runtime_values(self, name: str, spec: Mapping[str, Any], source: Mapping[str, Any]) -> list[Any]:
        """The values a runtime field's script emits for ``source`` (through :attr:`script_runner`)."""
        runner = IndexFields.script_runner
        return [] if runner is None else runner(self, name, spec, source)

    def terms(self, name: str, source: Mapping[str, Any]) -> list[Any]:
        """The values of ``name`` as its field type indexes them (tokens, numbers, ns dates...)."""
        spec = self.spec(name)
        if spec is None:
            return []
        if type_of(spec) == "constant_keyword" and spec.get("value") is not None:
            return [keyword_string(spec["value"])]
        out: list[Any] = []
        for value in self.raw(name, source):
            out.extend(index_terms(spec, value))
        return out

    def parse(
        self, source: Mapping[str, Any], doc_id: str, dotted_keys: frozenset[str] = frozenset()
    ) -> Parsed:
        """Check ``source`` against the mapping; raise ``document_parsing_exception`` as Elasticsearch does.

        Values a field ignores (``ignore_malformed``, ``ignore_above``) are recorded in the result.
        ``dotted_keys`` are the fields written with dots in their name (their errors carry no location).
        """
        parsed = Parsed()
        for name, ref in self.fields.items():
            if ref.kind in ("multi", "alias", "runtime") or ".".join(ref.path) != name:
                continue
            raw = self.getter(ref.path)(source)
            items = raw if isinstance(raw, list) else [raw]
            self._check_field(name, ref.spec, items, doc_id, parsed, name in dotted_keys)
        return parsed

    def _check_field(
        self, name: str, spec: dict[str, Any], items: list[Any], doc_id: str, parsed: Parsed, dotted: bool
    ) -> None:
        ftype = type_of(spec)
        flat: list[Any] = []
        for value in items:
            if isinstance(value, list) and ftype not in ("dense_vector",):
                flat.extend(flatten(value))
            else:
                flat.append(value)
        for value in flat:
            if value is None:
                continue
            if ftype in OBJECTS:
                if not isinstance(value, Mapping):
                    raise _doc_error(
                        f"object mapping for [{name}] tried to parse field [{name}] as object, but found a "
                        "concrete value"
                    )
                continue
            if ftype in (
                "flattened",
                "dense_vector",
                "sparse_vector",
                "geo_point",
                "geo_shape",
                "completion",
            ):
                continue
            constant = spec.get("value") if ftype == "constant_keyword" else None
            if constant is not None and keyword_string(value) != keyword_string(constant):
                raise _doc_error(
                    f"[constant_keyword] field [{name}] only accepts values that are equal to the value "
                    f"defined in the mappings [{constant}], but got [{value}]"
                )
            if ftype == "date_nanos" and not isinstance(value, Mapping):
                self._check_nanos(name, value, doc_id)
            if isinstance(value, Mapping):
                raise _doc_error(
                    f"failed to parse field [{name}] of type [{ftype}] in document with id '{doc_id}'. "
                    f"Preview of field's value: '{java_text(value)}'",
                    located=not dotted,
                )
            if ftype in KEYWORDS:
                limit = spec.get("ignore_above")
                if limit is not None and len(keyword_string(value)) > int(limit):
                    _ignore(parsed, name, value)
                continue
            if ftype in TEXTS or index_terms(spec, value):
                continue
            if spec.get("ignore_malformed", self.ignore_malformed) in (True, "true"):
                _ignore(parsed, name, value)
                continue
            raise _doc_error(
                f"failed to parse field [{name}] of type [{ftype}] in document with id '{doc_id}'. "
                f"Preview of field's value: '{java_text(value)}'",
                located=not dotted,
            )

    @staticmethod
    def _check_nanos(name: str, value: Any, doc_id: str) -> None:
        ns = parse_date_ns(value)
        if ns is None:
            return
        text = str(value)
        if ns < NANOS_MIN:
            cause = f"date[{text}] is before the epoch in 1970 and cannot be stored in nanosecond resolution"
        elif ns > NANOS_MAX:
            cause = (
                f"date[{text}] is after 2262-04-11T23:47:16.854775807 and cannot be stored in nanosecond "
                "resolution"
            )
        else:
            return
        raise EsError(
            400,
            "document_parsing_exception",
            f"[1:2] failed to parse field [{name}] of type [date_nanos] in document with id '{doc_id}'. "
            f"Preview of field's value: '{text}'",
            caused_by={"type": "illegal_argument_exception", "reason": cause},
        )


def _ignore(parsed: Parsed, name: str, value: Any) -> None:
    if name not in parsed.ignored:
        parsed.ignored.append(name)
    parsed.ignored_values.setdefault(name, []).append(value)


def _doc_error(reason: str, *, located: bool = True) -> EsError:
    return EsError(400, "document_parsing_exception", f"[1:2] {reason}" if located else reason)


def java_text(value: Any) -> str:
    """A parsed JSON value as Java's ``toString`` shows it (``{object=wow}``, ``[a, b]``)."""
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}={java_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(java_text(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else str(value)


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
        if not isinstance(value, str):
            return None
        try:
            return ipaddress.ip_address(value.strip())
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


def check_alias_target(name: str, spec: Mapping[str, Any], fields: Mapping[str, FieldRef]) -> None:
    """An alias must point at an existing concrete field."""
    target = spec.get("path")
    if target not in fields:
        raise illegal_argument(
            f"Invalid [path] value [{target}] for field alias [{name}]: an alias must refer to an existing "
            "field in the mappings."
        )
