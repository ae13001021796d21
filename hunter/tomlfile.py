"""TOML files hunter reads (hunts, rules, exception lists): key positions and located problems.

A problem is reported at the line of the key it is about (``file:line:col: message``); a missing
key at its nearest enclosing table.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import HuntError


def read_toml(path: Path) -> tuple[str, dict[str, Any]] | HuntError:
    """A TOML file's text and data, or the located problem that stops it being read."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return HuntError(path, 0, 0, f"cannot read: {exc}")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, column = _toml_position(str(exc))
        return HuntError(path, line, column, f"invalid TOML: {_toml_message(str(exc))}")
    return text, data


class LocatedChecker:
    """Checks values of one parsed TOML file, collecting problems and warnings located at their keys."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.text = text
        self._lines: dict[str, int] | None = None
        self.problems: list[HuntError] = []
        self.warnings: list[str] = []

    @property
    def lines(self) -> dict[str, int]:
        """The line of each key (:func:`key_lines`), found when first asked: a file that reads
        cleanly and whose id is used once is never scanned for them."""
        if self._lines is None:
            self._lines = key_lines(self.text)
        return self._lines

    def line_of(self, key: str) -> int:
        """The key's line, else its nearest enclosing table's or inline table's (a missing key)."""
        parts = key.split(".")
        while parts:
            found = self.lines.get(".".join(parts))
            if found is not None:
                return found
            parts.pop()
        return 1

    def problem(self, key: str, message: str, line: int | None = None, column: int = 1) -> None:
        """Record a problem located at ``key`` (or at ``line``:``column``)."""
        self.problems.append(HuntError(self.path, line or self.line_of(key), column, message))

    def warn(self, key: str, message: str) -> None:
        """Record a warning located at ``key``: allowed, but worth the author's attention."""
        self.warnings.append(f"{self.path}:{self.line_of(key)}:1: {message}")

    def string(self, key: str, value: Any, *, required: bool = False) -> str:
        """``value`` as a string ('' when absent; a problem when required or not a string)."""
        if value is None:
            if required:
                self.problem(key, f"missing required key {key!r}")
            return ""
        if not isinstance(value, str):
            self.problem(key, f"{key} must be a string")
            return ""
        return value

    def strings(self, key: str, value: Any) -> tuple[str, ...]:
        """``value`` as a tuple of strings (() when absent; a problem when not a list of strings)."""
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self.problem(key, f"{key} must be a list of strings")
            return ()
        return tuple(value)

    def boolean(self, key: str, value: Any, default: bool) -> bool:
        """``value`` as true/false (``default`` when absent or wrong, the latter a problem)."""
        if value is None:
            return default
        if not isinstance(value, bool):
            self.problem(key, f"{key} must be true or false")
            return default
        return value

    def unknown(self, table: str, data: Mapping[str, Any], allowed: set[str], *, warn: bool = False) -> None:
        """Report keys of ``table`` that are not ``allowed`` (as warnings with ``warn``, else problems)."""
        for key in data:
            if key not in allowed:
                path = f"{table}.{key}" if table else key
                if warn:
                    self.warn(path, f"unknown key {path!r} ignored")
                else:
                    self.problem(path, f"unknown key {path!r}")


def key_lines(text: str) -> dict[str, int]:
    """The line of each table header and key of a TOML text, not in multi-line strings.

    Keys are dotted paths (``queries.sequence.query`` -> 42); an array of tables counts its
    elements, so the second ``[[rule.threat]]`` and its ``tactic`` are ``rule.threat.1`` and
    ``rule.threat.1.tactic``.
    """
    lines: dict[str, int] = {}
    table: tuple[str, ...] = ()
    arrays: dict[tuple[str, ...], int] = {}  # array-of-tables path (parents resolved) -> last element

    def resolve(parts: Sequence[str]) -> tuple[str, ...]:
        resolved: list[str] = []
        for part in parts:
            resolved.append(part)
            if tuple(resolved) in arrays:
                resolved.append(str(arrays[tuple(resolved)]))
        return tuple(resolved)

    in_string: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if in_string is not None:
            if line.count(in_string) % 2 == 1:
                in_string = None
            continue
        header = re.match(r"^(\[\[?)\s*([^\[\]]+?)\s*\]", line)
        if header:
            parts = tuple(part.strip().strip('"') for part in header.group(2).split("."))
            if header.group(1) == "[[":
                array = (*resolve(parts[:-1]), parts[-1])
                arrays[array] = arrays.get(array, -1) + 1
                lines.setdefault(".".join(array), number)
                table = (*array, str(arrays[array]))
            else:
                table = resolve(parts)
            lines.setdefault(".".join(table), number)
            continue
        key = re.match(r'^("[^"]*"|[A-Za-z0-9_.-]+)\s*=\s*(.*)$', line)
        if key:
            written = key.group(1)
            parts = (written.strip('"'),) if written.startswith('"') else tuple(written.split("."))
            for depth in range(1, len(parts) + 1):  # a dotted key also locates its parents
                lines.setdefault(".".join((*table, *parts[:depth])), number)
            rest = key.group(2)
            for quote in ("'''", '"""'):
                if rest.startswith(quote) and rest.count(quote) == 1:
                    in_string = quote
    return lines


def _toml_position(message: str) -> tuple[int, int]:
    match = re.search(r"at line (\d+), column (\d+)", message)
    return (int(match.group(1)), int(match.group(2))) if match else (1, 1)


def _toml_message(message: str) -> str:
    return re.sub(r"\s*\(at line \d+, column \d+\)", "", message)
