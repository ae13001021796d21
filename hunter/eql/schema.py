"""Field types from Elasticsearch mappings (explicit and dynamic), so comparisons follow the index.

A keyword field (or multi-field) may have a ``normalizer``: Elasticsearch indexes its values
normalized, and normalizes the text of every query it runs against the field (term, terms, range,
prefix, wildcard and regexp alike); only ``lowercase``, the built-in one, is known here. Without a
mapping, :func:`implied_multi_field` answers the multi-fields that Elastic's integrations define on
ECS keyword fields: ``<field>.caseless`` (lowercase normalizer) and ``<field>.text``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .fields import Getter, make_getter
from .values import DateFormats, parse_iso_ns

KEYWORD = "keyword"
LONG = "long"
DOUBLE = "double"
BOOLEAN = "boolean"
DATE = "date"
DATE_NANOS = "date_nanos"
IP = "ip"
VERSION = "version"
OBJECT = "object"
UNSUPPORTED = "unsupported"

_TYPE_MAP = {
    "keyword": KEYWORD,
    "constant_keyword": KEYWORD,
    "wildcard": KEYWORD,
    "text": KEYWORD,
    "match_only_text": KEYWORD,
    "long": LONG,
    "integer": LONG,
    "short": LONG,
    "byte": LONG,
    "unsigned_long": LONG,
    "double": DOUBLE,
    "float": DOUBLE,
    "half_float": DOUBLE,
    "scaled_float": DOUBLE,
    "boolean": BOOLEAN,
    "date": DATE,
    "date_nanos": DATE_NANOS,
    "ip": IP,
    "version": VERSION,
    "object": OBJECT,
    "nested": OBJECT,
    "flattened": OBJECT,
}

STRING_TYPES = frozenset({KEYWORD})
NUMERIC_TYPES = frozenset({LONG, DOUBLE})
DATE_TYPES = frozenset({DATE, DATE_NANOS})


@dataclass(frozen=True, slots=True)
class FieldInfo:
    """What a mapping says of one field: its type, where its value is read from, and its options."""

    type: str
    source_path: tuple[str, ...]
    es_type: str = ""
    null_value: Any = None
    ignore_above: int | None = None
    date_format: DateFormats | None = None
    normalizer: str | None = None  # a keyword normalizer's name (``lowercase``)
    implied: bool = False  # a multi-field assumed without a mapping (see implied_multi_field)


class Schema:
    """The fields of one index (or several merged), by dotted name."""

    def __init__(self, fields: Mapping[str, FieldInfo] | None = None) -> None:
        self.fields: dict[str, FieldInfo] = dict(fields or {})

    def lookup(self, name: str) -> FieldInfo | None:
        """The field named ``name`` (dotted), or None when unmapped."""
        return self.fields.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self.fields

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> Schema:
        """Read an index mapping (``{"properties": ...}``, optionally under ``"mappings"``)."""
        schema = cls()
        body = mapping.get("mappings", mapping)
        aliases: list[tuple[str, str]] = []
        schema._walk(body.get("properties", {}), (), aliases)
        schema._walk(body.get("runtime", {}), (), aliases)
        for name, target in aliases:
            info = schema.fields.get(target)
            if info is not None:
                schema.fields[name] = info
        return schema

    def _walk(
        self, properties: Mapping[str, Any], prefix: tuple[str, ...], aliases: list[tuple[str, str]]
    ) -> None:
        for key, spec in properties.items():
            path = (*prefix, *key.split("."))
            name = ".".join(path)
            es_type = spec.get("type", "object" if "properties" in spec else "")
            if es_type == "alias":
                aliases.append((name, str(spec.get("path", ""))))
                continue
            ftype = _TYPE_MAP.get(es_type, UNSUPPORTED)
            fmt = spec.get("format")
            self.fields[name] = FieldInfo(
                type=ftype,
                source_path=path,
                es_type=es_type,
                null_value=spec.get("null_value"),
                ignore_above=spec.get("ignore_above"),
                date_format=DateFormats(str(fmt)) if fmt and ftype in DATE_TYPES else None,
                normalizer=spec.get("normalizer"),
            )
            if "properties" in spec:
                self._walk(spec["properties"], path, aliases)
            for sub_name, sub_spec in spec.get("fields", {}).items():
                sub_type = sub_spec.get("type", "")
                self.fields[f"{name}.{sub_name}"] = FieldInfo(
                    type=_TYPE_MAP.get(sub_type, UNSUPPORTED),
                    source_path=path,
                    es_type=sub_type,
                    null_value=sub_spec.get("null_value"),
                    ignore_above=sub_spec.get("ignore_above"),
                    normalizer=sub_spec.get("normalizer"),
                )

    def add_dynamic(self, documents: Iterable[Mapping[str, Any]]) -> Schema:
        """Add the fields Elasticsearch's default dynamic mapping would create for ``documents``."""
        for document in documents:
            self._dynamic(document, ())
        return self

    def _dynamic(self, obj: Mapping[str, Any], prefix: tuple[str, ...]) -> None:
        for key, value in obj.items():
            path = (*prefix, *key.split("."))
            for index in range(1, len(path)):
                parent = ".".join(path[:index])
                if parent not in self.fields:
                    self.fields[parent] = FieldInfo(OBJECT, path[:index], "object")
            name = ".".join(path)
            sample = first_non_null(value)
            if sample is None:
                continue
            if isinstance(sample, Mapping):
                if name not in self.fields:
                    self.fields[name] = FieldInfo(OBJECT, path, "object")
                for item in value if isinstance(value, list) else [value]:
                    if isinstance(item, Mapping):
                        self._dynamic(item, path)
                continue
            if name in self.fields:
                continue
            if isinstance(sample, bool):
                self.fields[name] = FieldInfo(BOOLEAN, path, "boolean")
            elif isinstance(sample, int):
                self.fields[name] = FieldInfo(LONG, path, "long")
            elif isinstance(sample, float):
                self.fields[name] = FieldInfo(DOUBLE, path, "float")
            elif isinstance(sample, str) and looks_like_date(sample):
                self.fields[name] = FieldInfo(DATE, path, "date")
            else:
                self.fields[name] = FieldInfo(KEYWORD, path, "text")
                self.fields[f"{name}.keyword"] = FieldInfo(KEYWORD, path, "keyword", ignore_above=256)


LOWERCASE = "lowercase"
# Multi-fields that Elastic's integrations (Elastic Defend, Windows, ...) define on ECS keyword fields,
# read without a mapping as what their mapping makes of the parent field's value.
IMPLIED_MULTI_FIELDS = {
    "caseless": "the lowercased value of",  # keyword, normalizer: lowercase
    "text": "the value of",  # match_only_text
}


def multi_fields_of(mapping: Mapping[str, Any]) -> dict[str, FieldInfo]:
    """The multi-fields an index mapping defines (``process.executable.caseless``: a keyword with the
    lowercase normalizer over ``process.executable``), for searches that otherwise have no mapping.
    Takes ``{"properties": ...}``, ``{"mappings": ...}`` or ``GET <index>/_mapping``'s answer."""
    bodies = [mapping]
    if "properties" not in mapping and "mappings" not in mapping:
        bodies = [body for body in mapping.values() if isinstance(body, Mapping)]
    found: dict[str, FieldInfo] = {}
    for body in bodies:
        for name, info in Schema.from_mapping(body).fields.items():
            if info.source_path != tuple(name.split(".")):
                found.setdefault(name, info)
    return found


def implied_multi_field(name: str) -> FieldInfo | None:
    """``<field>.caseless`` (``<field>`` lowercased) or ``<field>.text`` (``<field>``); None for others.

    The rule for searches without a mapping: Elasticsearch answers these from the index mapping.
    """
    parent, _dot, suffix = name.rpartition(".")
    if not parent or suffix not in IMPLIED_MULTI_FIELDS:
        return None
    path = tuple(parent.split("."))
    if suffix == "caseless":
        return FieldInfo(KEYWORD, path, "keyword", normalizer=LOWERCASE, implied=True)
    return FieldInfo(KEYWORD, path, "match_only_text", implied=True)


def value_getter(name: str, info: FieldInfo | None) -> Getter:
    """A reader of the field's raw value: at its source path (a multi-field's is its parent field's).

    An implied multi-field prefers a value stored under its own name, so a real field that happens
    to be called ``*.text`` (ECS ``process.io.text``) still reads as itself.
    """
    own = make_getter(tuple(name.split(".")))
    if info is None or info.source_path == tuple(name.split(".")):
        return own
    source = make_getter(info.source_path)
    if not info.implied:
        return source

    def own_else_source(doc: Mapping[str, Any]) -> Any:
        found = own(doc)
        return source(doc) if found is None else found

    return own_else_source


def normalize(info: FieldInfo | None, text: str) -> str:
    """``text`` as the field's normalizer makes it (values indexed, and query text searched with)."""
    if info is None or info.normalizer != LOWERCASE:
        return text
    if text.isascii():
        return text.lower()
    # Lucene's LowerCaseFilter maps each code point to one (Character.toLowerCase): U+0130 is "i"
    return "".join(char.lower()[0] for char in text)


def merge(schemas: Iterable[Schema]) -> Schema:
    """One schema with the fields of all (the first definition of a name wins)."""
    merged = Schema()
    for schema in schemas:
        for name, info in schema.fields.items():
            merged.fields.setdefault(name, info)
    return merged


def first_non_null(value: Any) -> Any:
    """The value dynamic mapping decides a field's type by: the first non-null in (nested) arrays."""
    if isinstance(value, list):
        for item in value:
            found = first_non_null(item)
            if found is not None:
                return found
        return None
    return value


def looks_like_date(text: str) -> bool:
    """Whether dynamic mapping's date detection maps this string to ``date``."""
    # Elasticsearch's default dynamic_date_formats: strict_date_optional_time and yyyy/MM/dd forms.
    if len(text) < 8 or not text[:4].isdigit():
        return False
    if text[4] == "-":
        return parse_iso_ns(text) is not None and text.count("-") >= 2
    return text[4] == "/" and len(text) >= 10 and text[7] == "/"
