"""Read a field from a JSON document the way Elasticsearch indexes it.

``{"process": {"name": "a"}}``, ``{"process.name": "a"}`` and ``{"process": [{"name": "a"}]}``
all give ``process.name`` the value ``a``; values found at several places are merged, and
nested arrays are flattened. Getters are specialised by path length because they run for every
event and every field a query reads.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from .codecache import compiled

Getter = Callable[[Mapping[str, Any]], Any]

SCALARS = frozenset({str, int, float, bool})
MAX_GENERATED_PATH = 32  # longer field paths are read by a loop, not generated code


@functools.lru_cache(maxsize=4096)
def make_getter(path: tuple[str, ...]) -> Getter:
    """A function returning the raw value (scalar, list, or None when absent) of ``path``.

    Getters are generated as straight-line code (nested objects read inline, dotted keys checked
    at every level) and shared by every query that reads the same path.
    """
    if len(path) == 1:
        key = path[0]

        def get_leaf(doc: Mapping[str, Any]) -> Any:
            return doc.get(key)

        return get_leaf
    if len(path) > MAX_GENERATED_PATH:  # generated code nests a block per part: Python allows 100
        return _looping_getter(path)
    namespace: dict[str, Any] = {"_descend": _descend, "_as_list": _as_list}
    lines = [
        "def get(doc):",
        *_emit(path, "doc", "found", "    ", namespace=namespace, counter=[0]),
        "    return found",
    ]
    exec(compiled("\n".join(lines), f"<getter {'.'.join(path)}>"), namespace)  # noqa: S102
    getter: Getter = namespace["get"]
    return getter


def _looping_getter(path: tuple[str, ...]) -> Getter:
    """The getter of a long ``path`` as a loop: what the generated one reads, in the same order (the
    object under the first part, then the dotted keys of two, three... parts, each followed down)."""
    splits = [
        (".".join(path[:split]), make_getter(path[split:]) if split < len(path) else None)
        for split in range(1, len(path) + 1)
    ]

    def get(doc: Mapping[str, Any]) -> Any:
        found = None
        for key, rest in splits:
            value = doc.get(key)
            if value is not None and rest is not None:
                value = _descend(value, rest)
            if value is not None:
                found = value if found is None else _as_list(found) + _as_list(value)
        return found

    return get


class InlineReads:
    """Statements for generated code to read fields in place (no call per field), each giving what
    :func:`make_getter`'s getter of the field gives for the document ``doc``. The object under each
    top-level key is looked up once, at the first read under it, so every read must be written at
    the generated function's top level. Names it adds: ``t``, ``x``, ``g`` and ``r`` and a number,
    in the code and in ``namespace``, and ``dk`` (unless ``dotted`` names the variable that already
    holds :func:`dotted_keys` of the document)."""

    def __init__(self, namespace: dict[str, Any], *, dotted: str | None = None) -> None:
        namespace.setdefault("_descend", _descend)
        namespace.setdefault("_as_list", _as_list)
        namespace.setdefault("_dotted_keys", dotted_keys)
        self.namespace = namespace
        self._counter = [0]
        self._roots: dict[str, str] = {}
        self._guard = dotted  # the variable telling whether ``doc`` has a dotted key

    def _looked_up(self, head: str, dotted: bool, indent: str) -> tuple[list[str], str]:
        """Statements (the first time) looking up the object under ``head`` and, with ``dotted``,
        whether the document has a dotted top-level key; the variable holding that object."""
        lines = []
        if dotted and self._guard is None:
            # whether the document has a dotted key at its top level, looked at once: without one,
            # the reads skip their look-ups of ``a.b`` and the like there (most documents)
            self._guard = "dk"
            lines.append(f"{indent}dk = _dotted_keys(doc)")
        first = self._roots.get(head)
        if first is None:
            first = self._roots[head] = f"t{len(self._roots)}"
            lines.append(f"{indent}{first} = doc.get({head!r})")
        return lines, first

    def root(self, head: str, dotted: bool, indent: str = "    ") -> tuple[list[str], str]:
        """Statements looking up the object under the top-level key ``head`` now, and a condition
        false when no field under it has a value: the key is absent and (``dotted``: for fields of
        more than one part) the document has no dotted top-level key. Reads under ``head`` written
        after these statements may sit in a block under the condition."""
        lines, first = self._looked_up(head, dotted, indent)
        return lines, f"{first} is not None or {self._guard}" if dotted else f"{first} is not None"

    def read(self, path: tuple[str, ...], out: str, indent: str = "    ") -> list[str]:
        """Statements leaving the raw value of ``path`` in the variable ``out``."""
        if len(path) > MAX_GENERATED_PATH:
            self._counter[0] += 1
            name = f"g{self._counter[0]}"
            self.namespace[name] = make_getter(path)
            return [f"{indent}{out} = {name}(doc)"]
        lines, first = self._looked_up(path[0], len(path) > 1, indent)
        return lines + _emit(
            path,
            "doc",
            out,
            indent,
            namespace=self.namespace,
            counter=self._counter,
            first=first,
            guard=self._guard,
        )


def _emit(
    path: tuple[str, ...],
    source: str,
    out: str,
    indent: str,
    *,
    namespace: dict[str, Any],
    counter: list[int],
    first: str | None = None,
    guard: str | None = None,
) -> list[str]:
    """Statements leaving in ``out`` what the getter of ``path`` returns for the object ``source``
    (``first``: a variable holding ``source.get(path[0])``; ``guard``: a variable false when
    ``source`` has no dotted key, so that its dotted keys need not be looked up)."""
    head = first if first is not None else f"{source}.get({path[0]!r})"
    if len(path) == 1:
        return [f"{indent}{out} = {head}"]
    counter[0] += 1
    level = counter[0]
    value = f"x{level}"
    rest_name = f"g{level}"
    namespace[rest_name] = make_getter(path[1:])
    lines = [
        f"{indent}{value} = {head}",
        f"{indent}if {value} is None: {out} = None",
        f"{indent}elif {value}.__class__ is dict:",
        *_emit(path[1:], value, out, indent + "    ", namespace=namespace, counter=counter),
        f"{indent}else: {out} = _descend({value}, {rest_name})",
    ]
    dotted: list[str] = []
    inner = indent if guard is None else indent + "    "
    for split in range(2, len(path) + 1):
        rest = path[split:]
        dotted.append(f"{inner}{value} = {source}.get({'.'.join(path[:split])!r})")
        if rest:
            route = f"r{level}_{split}"
            namespace[route] = make_getter(rest)
            dotted.append(f"{inner}if {value} is not None: {value} = _descend({value}, {route})")
        dotted.append(
            f"{inner}if {value} is not None: {out} = {value} if {out} is None else "
            f"_as_list({out}) + _as_list({value})"
        )
    if guard is not None:
        lines.append(f"{indent}if {guard}:")
    return lines + dotted


def dotted_keys(document: Mapping[str, Any]) -> bool:
    """Whether a key of ``document`` (not of the objects under it) holds a dot (or is not text)."""
    try:
        return "." in "".join(document)
    except TypeError:
        return True


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
