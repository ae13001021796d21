"""String patterns: EQL wildcards (``*`` and ``?``, no escapes) and Lucene regular expressions."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from . import lucene_regex
from .fields import strings

StrMatcher = Callable[[str], bool]


_SEP = "\x00"
_CACHE_LIMIT = 4_096  # distinct single values remembered per pattern set (process names repeat a lot)


class WildcardSet:
    """Tests for "matches any of these EQL wildcard patterns" (``*`` any run, ``?`` one character).

    Plain strings, ``prefix*``, ``*suffix`` and ``*infix*`` patterns (nearly all patterns in
    detection rules) become substrings to look for in the values joined by a NUL separator, so a
    multi-valued field is tested with a few C-level ``in`` checks; other patterns use a regex.
    """

    __slots__ = ("_needles", "_regex", "always", "insensitive", "remembered")

    def __init__(self, patterns: Iterable[str], insensitive: bool) -> None:
        self.insensitive = insensitive
        self.always = False
        # :meth:`one`'s results of recent values (emptied when full, never replaced: generated code
        # looks values up in it before calling :meth:`one`)
        self.remembered: dict[str, bool] = {}
        needles: list[str] = []
        general: list[str] = []
        for raw in patterns:
            pattern = raw.lower() if insensitive else raw
            stars = pattern.count("*")
            core = pattern.strip("*")
            if "?" in pattern or _SEP in pattern or ("*" in core):
                general.append(pattern)
            elif stars and not core:
                self.always = True
            elif stars == 0:
                needles.append(_SEP + pattern + _SEP)
            elif pattern.startswith("*") and pattern.endswith("*"):
                needles.append(core)
            elif pattern.endswith("*"):
                needles.append(_SEP + core)
            else:
                needles.append(core + _SEP)
        self._needles = tuple(dict.fromkeys(needles))
        self._regex = (
            re.compile("|".join(f"(?:{_wildcard_regex(p)})" for p in general), re.DOTALL).fullmatch
            if general
            else None
        )

    def one(self, value: str) -> bool:
        """True when the string matches a pattern (results of recent values are remembered)."""
        cache = self.remembered
        found = cache.get(value)
        if found is not None:
            return found
        result = self._one(value)
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[value] = result
        return result

    def _one(self, value: str) -> bool:
        if self.always:
            return True
        joined = _SEP + value + _SEP
        if self.insensitive:
            joined = joined.lower()
        for needle in self._needles:
            if needle in joined:
                return _SEP not in value or self._slow(joined[1:-1])
        regex = self._regex
        return regex is not None and regex(joined[1:-1]) is not None

    def any_of(self, values: list[Any]) -> bool:
        """True when one of the string values matches a pattern (other values are ignored)."""
        if not values:
            return False
        try:
            joined = _SEP + _SEP.join(values) + _SEP
        except TypeError:
            values = strings(values)
            if not values:
                return False
            joined = _SEP + _SEP.join(values) + _SEP
        if self.always:
            return True
        if self.insensitive:
            joined = joined.lower()
        if joined.count(_SEP) != len(values) + 1:
            return any(self._slow(value.lower() if self.insensitive else value) for value in values)
        for needle in self._needles:
            if needle in joined:
                return True
        regex = self._regex
        if regex is not None:
            return any(regex(part) is not None for part in joined[1:-1].split(_SEP))
        return False

    def _slow(self, value: str) -> bool:
        """Exact test of one (already case-folded) value, for values that contain a NUL."""
        for needle in self._needles:
            body = needle.strip(_SEP)
            if needle.startswith(_SEP) and needle.endswith(_SEP):
                ok = value == body
            elif needle.startswith(_SEP):
                ok = value.startswith(body)
            elif needle.endswith(_SEP):
                ok = value.endswith(body)
            else:
                ok = body in value
            if ok:
                return True
        return self._regex is not None and self._regex(value) is not None


def wildcard_matcher(patterns: Iterable[str], insensitive: bool) -> StrMatcher:
    """A test for "one string matches any of ``patterns``"."""
    return WildcardSet(patterns, insensitive).one


def regex_matcher(patterns: Iterable[str], insensitive: bool) -> StrMatcher:
    """A test for "fully matches any of the Lucene regular expressions ``patterns``".

    The syntax and its meaning are Lucene's (see :mod:`hunter.eql.lucene_regex`), not Python's:
    ``\\s`` is ``[ \\t\\n\\r]``, ``(?i)`` is a group of the two characters ``?i``, ``~`` complements.
    """
    return lucene_regex.matcher(tuple(patterns), insensitive)


def lucene_wildcard_matcher(pattern: str, insensitive: bool) -> StrMatcher:
    """A raw Lucene ``wildcard`` query pattern: ``*``, ``?`` and ``\\`` escaping the next character.

    Elasticsearch pushes ``endsWith`` and ``stringContains`` on a field down as such a query
    without escaping the argument, so these characters keep their wildcard meaning there.
    """
    parts: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            parts.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        parts.append(".*" if ch == "*" else "." if ch == "?" else re.escape(ch))
        i += 1
    compiled = re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if insensitive else 0))
    fullmatch = compiled.fullmatch
    return lambda value: fullmatch(value) is not None


def _wildcard_regex(pattern: str) -> str:
    return "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
