"""The stash and the response paths of Elasticsearch's YAML runner (``ObjectPath``, ``Stash``).

``set: {path: name}`` stashes a response value; ``$name`` (the whole string) or ``${name}``
(inside a string) use it in request parameters, bodies, expected values and paths. A path is
split on ``.``; a backslash makes the following dot part of the key (``object\\.nested1``).
"""

from __future__ import annotations

import re
from typing import Any

_EXTENDED = re.compile(r"\$\{([^}]+)\}")


class PathError(AssertionError):
    """A path step that cannot be taken (a list index that is not a number or out of range)."""


def split_path(path: str) -> list[str]:
    """``a.b\\.c..d`` -> ``["a", "b.c", "d"]`` (empty parts are dropped, as Java's ObjectPath does)."""
    parts: list[str] = []
    current: list[str] = []
    escape = False
    for char in path:
        if char == "\\":
            escape = True
            continue
        if char == ".":
            if not escape:
                if current:
                    parts.append("".join(current))
                    current = []
                continue
            escape = False
        current.append(char)
    if current:
        parts.append("".join(current))
    return parts


class Stash:
    """Values kept by ``set``; ``body`` is the last response."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.body: Any = None

    @staticmethod
    def is_stashed(key: Any) -> bool:
        """Does ``key`` name a stashed value (``$x`` or something with ``${x}`` in it)?"""
        return isinstance(key, str) and bool(key) and (key.startswith("$") or bool(_EXTENDED.search(key)))

    def get(self, key: str) -> Any:
        """The value ``$name`` stands for, or ``key`` with each ``${name}`` replaced by its text."""
        if key.startswith("$") and not key.startswith("${"):
            return self._lookup(key[1:])
        return _EXTENDED.sub(lambda m: java_string(self._lookup(m.group(1))), key)

    def _lookup(self, name: str) -> Any:
        if name == "body":
            return self.body
        parts = split_path(name)
        if not parts or parts[0] not in self.values:
            raise AssertionError(f"nothing is stashed under [{name}]")
        return evaluate(self.values[parts[0]], parts[1:], self)

    def replace(self, value: Any) -> Any:
        """``value`` with every stashed reference (in keys and values, at any depth) resolved."""
        if isinstance(value, dict):
            return {
                (java_string(self.get(k)) if self.is_stashed(k) else k): self.replace(v)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.replace(item) for item in value]
        if self.is_stashed(value):
            return self.get(value)
        return value


def evaluate(root: Any, parts: list[str], stash: Stash) -> Any:
    """The value at ``parts`` under ``root`` (None once a step finds nothing)."""
    current = root
    for part in parts:
        key = java_string(stash.get(part)) if stash.is_stashed(part) else part
        if isinstance(current, dict):
            current = current.get(key)
        elif isinstance(current, list):
            try:
                current = current[int(key)]
            except ValueError as error:
                raise PathError(f"element was a list, but [{key}] was not numeric") from error
            except IndexError as error:
                raise PathError(
                    f"element was a list with {len(current)} elements, but [{key}] was out of bounds"
                ) from error
        elif current is None:
            return None
        else:
            raise PathError(f"no object found for [{key}] within [{java_string(current)}]")
        if current is None:
            return None
    return current


def response_value(body: Any, path: str, stash: Stash) -> Any:
    """What an assertion's ``path`` designates in the last response (``$body`` or ``""``: all of it)."""
    if path in ("$body", ""):
        return body
    return evaluate(body, split_path(path), stash)


def java_string(value: Any) -> str:
    """``value`` as Java's ``toString`` renders the parsed JSON (maps ``{k=v}``, lists ``[a, b]``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if not value.is_integer() or abs(value) >= 1e7 else f"{value:.1f}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={java_string(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(java_string(v) for v in value) + "]"
    return str(value)
