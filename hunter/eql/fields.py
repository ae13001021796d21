"""Read a field from a JSON document the way Elasticsearch indexes it.

``{"process": {"name": "a"}}``, ``{"process.name": "a"}`` and ``{"process": [{"name": "a"}]}``
all give ``process.name`` the value ``a``; values found at several places are merged, and
nested arrays are flattened. Getters are specialised by path length because they run for every
event and every field a query reads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Getter = Callable[[Mapping[str, Any]], Any]

SCALARS = frozenset({str, int, float, bool})


def make_getter(path: tuple[str, ...]) -> Getter:
    """A function returning the raw value (scalar, list, or None when absent) of ``path``."""
    if len(path) == 1:
        key = path[0]

        def get_leaf(doc: Mapping[str, Any]) -> Any:
            return doc.get(key)

        return get_leaf
    head = path[0]
    sub = make_getter(path[1:])
    if len(path) == 2:
        leaf = path[1]
        dotted = f"{head}.{leaf}"

        def get_pair(doc: Mapping[str, Any]) -> Any:
            value = doc.get(head)
            if value is None:
                found = None
            elif value.__class__ is dict:
                found = value.get(leaf)
            else:
                found = _descend(value, sub)
            other = doc.get(dotted)
            if other is None:
                return found
            return other if found is None else _as_list(found) + _as_list(other)

        return get_pair
    routes: list[tuple[str, Getter | None]] = []
    for split in range(2, len(path) + 1):
        rest = path[split:]
        routes.append((".".join(path[:split]), make_getter(rest) if rest else None))

    def get(doc: Mapping[str, Any]) -> Any:
        value = doc.get(head)
        if value is None:
            found = None
        elif value.__class__ is dict:
            found = sub(value)
        else:
            found = _descend(value, sub)
        for key, rest_getter in routes:
            value = doc.get(key)
            if value is None:
                continue
            got = value if rest_getter is None else _descend(value, rest_getter)
            if got is not None:
                found = got if found is None else _as_list(found) + _as_list(got)
        return found

    return get


def _descend(value: Any, rest: Getter) -> Any:
    cls = value.__class__
    if cls is dict:
        return rest(value)
    if cls is list:
        collected: list[Any] = []
        for item in value:
            if isinstance(item, Mapping):
                got = rest(item)
                if got is not None:
                    collected.extend(_as_list(got))
        return collected or None
    if isinstance(value, Mapping):
        return rest(value)
    return None


def _as_list(value: Any) -> list[Any]:
    return value if value.__class__ is list else [value]


def flatten(value: Any) -> list[Any]:
    """All non-null leaf values of a raw field value, nested lists flattened, objects dropped."""
    if value is None:
        return []
    cls = value.__class__
    if cls is not list:
        return [value] if cls in SCALARS or not isinstance(value, Mapping) else []
    items: list[Any] = value
    for item in items:
        if item.__class__ not in SCALARS:
            break
    else:
        return items
    out: list[Any] = []
    _flatten_into(value, out)
    return out


def _flatten_into(value: list[Any], out: list[Any]) -> None:
    for item in value:
        if item is None or isinstance(item, Mapping):
            continue
        if item.__class__ is list:
            _flatten_into(item, out)
        else:
            out.append(item)


def strings(value: Any) -> list[str]:
    """The string values of a raw field value (for pattern matching), flattened."""
    if value.__class__ is str:
        return [value]
    if value.__class__ is list:
        for item in value:
            if item.__class__ is not str:
                return [item for item in flatten(value) if item.__class__ is str]
        return value
    return []
