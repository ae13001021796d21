"""Read a field from a JSON document the way Elasticsearch indexes it.

``{"process": {"name": "a"}}``, ``{"process.name": "a"}`` and ``{"process": [{"name": "a"}]}``
all give ``process.name`` the value ``a``; values found at several places are merged, and
nested arrays are flattened.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Getter = Callable[[Mapping[str, Any]], Any]


def make_getter(path: tuple[str, ...]) -> Getter:
    """A function returning the raw value (scalar, list, or None when absent) of ``path``."""
    if len(path) == 1:
        key = path[0]

        def get_leaf(doc: Mapping[str, Any]) -> Any:
            return doc.get(key)

        return get_leaf
    routes: list[tuple[str, Getter | None]] = []
    for split in range(1, len(path) + 1):
        key = ".".join(path[:split])
        rest = path[split:]
        routes.append((key, make_getter(rest) if rest else None))
    head_key, head_rest = routes[0]
    assert head_rest is not None
    others = routes[1:]

    def get(doc: Mapping[str, Any]) -> Any:
        found: Any = None
        value = doc.get(head_key)
        if value is not None:
            found = _descend(value, head_rest)
        for key, rest in others:
            value = doc.get(key)
            if value is None:
                continue
            got = value if rest is None else _descend(value, rest)
            if got is None:
                continue
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
    if value.__class__ is not list:
        return [] if isinstance(value, Mapping) else [value]
    for item in value:
        if item is None or item.__class__ is list or isinstance(item, Mapping):
            break
    else:
        return value
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


def has_explicit_null(value: Any) -> bool:
    """True when a raw value is, or contains, an explicit JSON null."""
    if value is None:
        return True
    if value.__class__ is list:
        return any(has_explicit_null(item) for item in value) if value else False
    return False
