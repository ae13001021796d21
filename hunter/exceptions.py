"""Exceptions: matches a hunt should not alert on, as Kibana's rule exception items describe them.

An exception item is a list of entries that must all hold (AND); a match is dropped when any of
the hunt's items holds (OR) for any of its events. Each entry names a field and an operator, as
Kibana's exception builder offers them, and is evaluated as the query Kibana builds for it
(``build_exception_filter.ts``):

* ``is`` / ``is not``: the field has (has not) the value (``match_phrase``: exact, case-sensitive
  on keyword fields; a number matches its text form);
* ``is one of`` / ``is not one of``: the field has (has none of) the values;
* ``exists`` / ``does not exist``: the field has (has no) non-null value;
* ``matches`` / ``does not match``: a value of the field matches the wildcard pattern (``wildcard``
  query: ``*`` any run of characters, ``?`` one character, ``\\`` escapes; case-sensitive).

A "not" operator holds when no value of the field satisfies the positive one (so a missing field
"is not" anything), as Elasticsearch's ``must_not`` does. A hunt file lists items as
``[[exceptions]]`` tables and may name shared files with ``exception_lists = ["path.toml"]``
(relative to the hunt file), each holding ``[[exceptions]]`` tables. Kibana applies exceptions as
a filter on the events it searches; hunter applies them to what the queries matched, in both modes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from .eql.fields import flatten, make_getter
from .errors import HuntError
from .tomlfile import LocatedChecker, read_toml

# operator as written -> (kind, negated)
OPERATORS: dict[str, tuple[str, bool]] = {
    "is": ("is", False),
    "is not": ("is", True),
    "is one of": ("is one of", False),
    "is not one of": ("is one of", True),
    "exists": ("exists", False),
    "does not exist": ("exists", True),
    "matches": ("matches", False),
    "does not match": ("matches", True),
}
_ITEM_KEYS = {"name", "description", "entries"}
_ENTRY_KEYS = {"field", "operator", "value", "values"}
_LIST_KEYS = {"exceptions"}


@dataclass(frozen=True)
class ExceptionEntry:
    """One condition of an exception item: ``field`` ``operator`` ``values``."""

    field: str
    kind: str  # is, is one of, exists, matches
    values: tuple[str, ...] = ()
    negated: bool = False

    @property
    def operator(self) -> str:
        """The operator as written in the hunt file (``is not one of``)."""
        return next(text for text, spec in OPERATORS.items() if spec == (self.kind, self.negated))

    def holds(self, source: Mapping[str, Any]) -> bool:
        """Whether the event ``source`` satisfies this entry."""
        found = [value for value in flatten(_getter(self.field)(source)) if value is not None]
        if self.kind == "exists":
            positive = bool(found)
        elif self.kind == "matches":
            pattern = _wildcard(self.values[0])
            positive = any(pattern.fullmatch(_text(value)) is not None for value in found)
        else:
            wanted = set(self.values)
            positive = any(_text(value) in wanted for value in found)
        return positive != self.negated

    def describe(self) -> str:
        """``process.name is one of [lua, luajit]``."""
        if self.kind == "exists":
            return f"{self.field} {self.operator}"
        shown = self.values[0] if len(self.values) == 1 and self.kind != "is one of" else list(self.values)
        return f"{self.field} {self.operator} {shown!r}"


@dataclass(frozen=True)
class ExceptionItem:
    """An exception item: it holds for an event when every entry does."""

    name: str
    entries: tuple[ExceptionEntry, ...]
    source: Path  # the file it was written in (the hunt file, or a shared list)

    def holds(self, source: Mapping[str, Any]) -> bool:
        """Whether the event ``source`` satisfies every entry."""
        return all(entry.holds(source) for entry in self.entries)

    def describe(self) -> str:
        """The item in one line, for ``hunter validate``."""
        return f"{self.name or 'unnamed'}: " + " and ".join(entry.describe() for entry in self.entries)


def read_items(checker: LocatedChecker, key: str, value: Any) -> list[ExceptionItem]:
    """The ``[[exceptions]]`` tables at ``key`` of a checked file (problems located by ``checker``)."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        checker.problem(key, f"{key} must be an array of tables ([[{key}]]) with entries")
        return []
    items = []
    for number, table in enumerate(value):
        at = f"{key}.{number}"
        checker.unknown(at, table, _ITEM_KEYS)
        name = checker.string(f"{at}.name", table.get("name"))
        checker.string(f"{at}.description", table.get("description"))
        raw = table.get("entries")
        if not isinstance(raw, list) or not raw or not all(isinstance(entry, dict) for entry in raw):
            checker.problem(at, f"{at}.entries must be a non-empty array of tables (field, operator, value)")
            continue
        entries = [_entry(checker, f"{at}.entries.{index}", entry) for index, entry in enumerate(raw)]
        if all(entry is not None for entry in entries):
            items.append(ExceptionItem(name, tuple(e for e in entries if e is not None), checker.path))
    return items


def load_exception_list(path: Path) -> tuple[list[ExceptionItem], list[HuntError]]:
    """The items of a shared exception list file, and every problem in it."""
    read = read_toml(path)
    if isinstance(read, HuntError):
        return [], [read]
    text, data = read
    checker = LocatedChecker(path, text)
    checker.unknown("", data, _LIST_KEYS)
    if "exceptions" not in data:
        checker.problem("", "an exception list holds [[exceptions]] tables")
    items = read_items(checker, "exceptions", data.get("exceptions"))
    return items, checker.problems


def _entry(checker: LocatedChecker, key: str, table: Mapping[str, Any]) -> ExceptionEntry | None:
    checker.unknown(key, table, _ENTRY_KEYS)
    field = checker.string(f"{key}.field", table.get("field"), required=True)
    operator = checker.string(f"{key}.operator", table.get("operator"), required=True)
    if operator and operator not in OPERATORS:
        checker.problem(f"{key}.operator", f"{key}.operator must be one of: {', '.join(OPERATORS)}")
        return None
    if not field or not operator:
        return None
    kind, negated = OPERATORS[operator]
    values: tuple[str, ...] = ()
    if kind == "is one of":
        raw = table.get("values")
        values = tuple(_text(v) for v in _scalars(checker, f"{key}.values", raw)) if raw is not None else ()
        if not values:
            if raw is None or raw == []:
                checker.problem(f"{key}.values", f"{key}: '{operator}' needs values = [...]")
            return None
    elif kind in ("is", "matches"):
        value = table.get("value")
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            checker.problem(f"{key}.value", f"{key}: '{operator}' needs one value = ...")
            return None
        values = (_text(value),)
    elif "value" in table or "values" in table:
        checker.problem(key, f"{key}: '{operator}' takes no value")
        return None
    return ExceptionEntry(field, kind, values, negated)


def _scalars(checker: LocatedChecker, key: str, value: Any) -> list[Any]:
    if not isinstance(value, list) or not all(
        isinstance(item, str | int | float) and not isinstance(item, bool) for item in value
    ):
        checker.problem(key, f"{key} must be a list of strings or numbers")
        return []
    return value


def _text(value: Any) -> str:
    """A value as Elasticsearch compares it to query text (numbers without a needless ``.0``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@lru_cache(maxsize=1024)
def _getter(field: str) -> Any:
    return make_getter(tuple(field.split(".")))


@lru_cache(maxsize=1024)
def _wildcard(pattern: str) -> re.Pattern[str]:
    """Elasticsearch's wildcard query pattern: ``*``, ``?``, and ``\\`` escaping the next character."""
    out: list[str] = []
    escaped = False
    for char in pattern:
        if escaped:
            out.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        else:
            out.append(re.escape(char))
    if escaped:
        out.append(re.escape("\\"))
    return re.compile("".join(out), re.DOTALL)
