"""Synthetic ``_source``: a document rebuilt from what its fields keep, as Elasticsearch rebuilds it.

In ``synthetic`` source mode (``_source.mode``, ``index.mapping.source.mode``, and the ``logsdb``
and ``time_series`` index modes) a document is read back from its fields: dotted names become
objects (not under ``subobjects: false``), keyword values come back sorted and de-duplicated (values
past ``ignore_above`` after them, in their original order), numbers sorted, IPs sorted with
malformed values last, ``flattened`` fields as sorted text per key, stored fields in their order;
unmapped fields are kept as sent. Arrays of objects become objects of arrays. Under
``index.mapping.synthetic_source_keep: arrays`` (``logsdb``'s default) arrays are kept as sent.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from hunter.eql.fields import flatten

from .es_errors import illegal_argument
from .es_mapping import (
    DATES,
    FLOATS,
    INTEGERS,
    KEYWORDS,
    OBJECTS,
    TEXTS,
    coerce,
    keyword_string,
    splits_dots,
    type_of,
)

_ABSENT = object()


def is_synthetic(mappings: Mapping[str, Any], settings: Mapping[str, Any]) -> bool:
    """Does this index keep a synthetic ``_source``?"""
    mode = settings.get("index.mapping.source.mode") or (mappings.get("_source") or {}).get("mode")
    if mode is not None:
        return str(mode) == "synthetic"
    return settings.get("index.mode") in ("logsdb", "time_series")


def check_synthetic(mappings: Mapping[str, Any]) -> None:
    """Refuse to rebuild a document whose text fields keep nothing (``force_synthetic_source``)."""
    for name, spec in _leaves(mappings.get("properties", {}), ""):
        if type_of(spec) in TEXTS and spec.get("store") not in (True, "true"):
            keyword = any(type_of(s) == "keyword" for s in (spec.get("fields") or {}).values())
            if not keyword:
                raise illegal_argument(
                    f"field [{name}] of type [text] doesn't support synthetic source unless it is stored "
                    "or has a sub-field of type [keyword] with doc values or stored and without a "
                    "normalizer"
                )


def _leaves(properties: Mapping[str, Any], prefix: str) -> list[tuple[str, Mapping[str, Any]]]:
    out: list[tuple[str, Mapping[str, Any]]] = []
    for key, spec in properties.items():
        name = f"{prefix}{key}"
        if type_of(spec) in OBJECTS:
            out.extend(_leaves(spec.get("properties", {}), name + "."))
        else:
            out.append((name, spec))
    return out


def synthesize(
    mappings: Mapping[str, Any], settings: Mapping[str, Any], source: Mapping[str, Any]
) -> dict[str, Any]:
    """``source`` as the index's fields give it back."""
    keep_arrays = str(settings.get("index.mapping.synthetic_source_keep", "none")) == "arrays"
    rebuilt = _object(source, mappings.get("properties", {}), splits_dots(mappings), keep_arrays)
    return rebuilt if isinstance(rebuilt, dict) else {}


def _gather(source: Any, key: str) -> list[tuple[str, Any]]:
    """(remaining dotted suffix, value) pairs under ``key``'s first part, from nested and dotted keys."""
    out: list[tuple[str, Any]] = []
    items = source if isinstance(source, list) else [source]
    for item in items:
        if not isinstance(item, Mapping):
            continue
        for name, value in item.items():
            if name == key:
                out.append(("", value))
            elif name.startswith(key + "."):
                out.append((name[len(key) + 1 :], value))
    return out


def _object(
    source: Any, properties: Mapping[str, Any], subobjects: bool, keep_arrays: bool
) -> dict[str, Any]:
    """Rebuild an object: mapped fields from their values, unmapped keys as sent."""
    out: dict[str, Any] = {}
    mapped_keys: set[str] = set()
    items = source if isinstance(source, list) else [source]
    for name, spec in properties.items():
        found = _values_for(items, name, subobjects)
        if not found:
            continue
        mapped_keys.add(name)
        value = _field(spec, found, keep_arrays)
        if value is not _ABSENT:
            out[name] = value
    for item in items:
        if not isinstance(item, Mapping):
            continue
        for key, value in item.items():
            head = key.split(".")[0] if subobjects else key
            if head in properties or key in properties or any(key.startswith(m + ".") for m in mapped_keys):
                continue
            out.setdefault(key, value)
    return out


def _values_for(items: list[Any], name: str, subobjects: bool) -> list[Any]:
    found: list[Any] = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        for key, value in item.items():
            if key == name:
                found.append(value)
            elif subobjects and key.startswith(name + "."):
                found.append({key[len(name) + 1 :]: value})
    return found


def _field(spec: Mapping[str, Any], found: list[Any], keep_arrays: bool) -> Any:
    ftype = type_of(spec)
    if ftype in OBJECTS:
        if spec.get("enabled") is False:
            return found[0] if len(found) == 1 else found
        if keep_arrays and len(found) == 1 and isinstance(found[0], list):
            return found[0]
        parts: list[Any] = []
        for value in found:
            parts.extend(value if isinstance(value, list) else [value])
        return _object(parts, spec.get("properties", {}), splits_dots(spec), keep_arrays)
    if keep_arrays and len(found) == 1 and isinstance(found[0], list):
        return found[0]
    if ftype == "flattened":
        return _flattened(spec, found)
    values = [
        v for item in found for v in (flatten(item) if isinstance(item, list) else [item]) if v is not None
    ]
    if ftype in ("dense_vector", "sparse_vector", "geo_point", "geo_shape"):
        return found[0] if len(found) == 1 else found
    rebuilt = _leaf(spec, values)
    if not rebuilt:
        return _ABSENT
    return rebuilt[0] if len(rebuilt) == 1 else rebuilt


def _leaf(spec: Mapping[str, Any], values: list[Any]) -> list[Any]:
    ftype = type_of(spec)
    stored = spec.get("store") in (True, "true") and spec.get("doc_values") is False
    if ftype in KEYWORDS:
        limit = spec.get("ignore_above")
        texts = [keyword_string(v) for v in values]
        kept = [t for t in texts if limit is None or len(t) <= int(limit)]
        extra = [t for t in texts if limit is not None and len(t) > int(limit)]
        return (kept if stored else sorted(set(kept))) + extra
    if ftype in TEXTS:
        return [keyword_string(v) for v in values]
    if ftype in INTEGERS or ftype in FLOATS:
        numbers = [coerce(ftype, v) for v in values]
        good = sorted(n for n in numbers if n is not None)
        bad = [v for v, n in zip(values, numbers, strict=True) if n is None]
        return [float(n) if ftype in FLOATS else n for n in good] + bad
    if ftype == "ip":
        addresses: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
        bad = []
        for value in values:
            address = _address(value)
            if address is None:
                bad.append(value)
            else:
                addresses.append(address)
        unique = sorted(set(addresses), key=lambda a: (a.version, int(a)))
        return [str(a) for a in unique] + bad
    if ftype == "boolean":
        return sorted(v for v in (coerce(ftype, v) for v in values) if v is not None)
    if ftype in DATES:
        return sorted(values, key=lambda v: coerce(ftype, v, spec.get("format")) or 0)
    return values


def _address(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not isinstance(value, str):
        return None
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _flattened(spec: Mapping[str, Any], values: list[Any]) -> Any:
    limit = spec.get("ignore_above")
    per_key: dict[tuple[str, ...], set[str]] = {}

    def walk(value: Any, path: tuple[str, ...]) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                walk(item, (*path, *str(key).split(".")))
        elif isinstance(value, list):
            for item in value:
                walk(item, path)
        elif value is not None:
            text = keyword_string(value)
            if limit is None or len(text) <= int(limit):
                per_key.setdefault(path, set()).add(text)

    for value in values:
        walk(value, ())
    out: dict[str, Any] = {}
    for path, texts in sorted(per_key.items()):
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        ordered = sorted(texts)
        node[path[-1]] = ordered[0] if len(ordered) == 1 else ordered
    return out if out else _ABSENT
