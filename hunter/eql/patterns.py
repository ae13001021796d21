"""String patterns: EQL wildcards (``*`` and ``?``, no escapes) and Lucene regular expressions."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from .errors import EqlSemanticError

StrMatcher = Callable[[str], bool]


def wildcard_matcher(patterns: Iterable[str], insensitive: bool) -> StrMatcher:
    """A test for "matches any of ``patterns``"; ``*`` is any run of characters, ``?`` one character.

    Plain strings, ``prefix*``, ``*suffix`` and ``*infix*`` patterns are checked with ``str``
    methods; everything else with one compiled regular expression.
    """
    exact: set[str] = set()
    prefixes: list[str] = []
    suffixes: list[str] = []
    infixes: list[str] = []
    general: list[str] = []
    for raw in patterns:
        pattern = raw.lower() if insensitive else raw
        if "?" in pattern:
            general.append(pattern)
            continue
        stars = pattern.count("*")
        core = pattern.strip("*")
        if stars == 0:
            exact.add(pattern)
        elif "*" in core:
            general.append(pattern)
        elif pattern == "*" * stars:
            return _always
        elif pattern.startswith("*") and pattern.endswith("*"):
            infixes.append(core)
        elif pattern.endswith("*") and not pattern.startswith("*"):
            prefixes.append(core)
        elif pattern.startswith("*"):
            suffixes.append(core)
        else:
            general.append(pattern)
    prefix_t = tuple(prefixes)
    suffix_t = tuple(suffixes)
    infix_t = tuple(infixes)
    regex = re.compile("|".join(f"(?:{_wildcard_regex(p)})" for p in general), re.DOTALL) if general else None
    fullmatch = regex.fullmatch if regex is not None else None

    def match(value: str) -> bool:
        if insensitive:
            value = value.lower()
        if value in exact:
            return True
        if prefix_t and value.startswith(prefix_t):
            return True
        if suffix_t and value.endswith(suffix_t):
            return True
        for infix in infix_t:
            if infix in value:
                return True
        return fullmatch is not None and fullmatch(value) is not None

    return match


def _always(value: str) -> bool:
    return True


def _wildcard_regex(pattern: str) -> str:
    return "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)


def regex_matcher(patterns: Iterable[str], insensitive: bool) -> StrMatcher:
    """A test for "fully matches any of the Lucene regular expressions ``patterns``"."""
    parts = [f"(?:{lucene_to_python(p)})" for p in patterns]
    flags = re.DOTALL | (re.IGNORECASE if insensitive else 0)
    compiled = re.compile("|".join(parts), flags)
    fullmatch = compiled.fullmatch

    def match(value: str) -> bool:
        return fullmatch(value) is not None

    return match


_META = set('.?+*|{}[]()"\\#@&<>~')


def lucene_to_python(pattern: str) -> str:
    """Translate Lucene ``RegExp`` syntax (Elasticsearch's ``regexp`` query) to Python ``re``.

    Supported: literals, ``\\`` escapes (any character, so ``\\s`` is a plain ``s``), ``.``,
    ``? * + {n} {n,} {n,m}`` (with ``*?``-style repeats meaning the same language), ``|``,
    groups, character classes with ranges and ``^``, ``"quoted"`` literals, ``@`` (any string),
    ``#`` (empty language) and ``<n-m>`` numeric intervals. ``~`` complement and ``&``
    intersection cannot be expressed in Python and are rejected.
    """
    out: list[str] = []
    i = 0
    n = len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= n:
                raise EqlSemanticError(f"Invalid regex [{pattern}]: trailing backslash")
            out.append(re.escape(pattern[i + 1]))
            i += 2
        elif ch == "[":
            end, cls = _char_class(pattern, i)
            out.append(cls)
            i = end
        elif ch == '"':
            end = pattern.find('"', i + 1)
            if end < 0:
                raise EqlSemanticError(f"Invalid regex [{pattern}]: unterminated quoted string")
            out.append(re.escape(pattern[i + 1 : end]))
            i = end + 1
        elif ch == "@":
            out.append("(?:.*)")
            i += 1
        elif ch == "#":
            out.append("(?!)")
            i += 1
        elif ch == "<":
            end = pattern.find(">", i)
            match = re.fullmatch(r"(\d+)-(\d+)", pattern[i + 1 : end]) if end > 0 else None
            if match is None:
                raise EqlSemanticError(f"Invalid regex [{pattern}]: bad numeric interval")
            low, high = int(match.group(1)), int(match.group(2))
            out.append(
                "(?:0*(?:" + "|".join(str(v) for v in range(min(low, high), max(low, high) + 1)) + "))"
            )
            i = end + 1
        elif ch in "~&":
            raise EqlSemanticError(
                f"Regex operator [{ch}] is not supported by the embedded engine in [{pattern}]"
            )
        elif ch in "{":
            end = pattern.find("}", i)
            if end < 0:
                raise EqlSemanticError(f"Invalid regex [{pattern}]: unterminated repeat")
            out.append(pattern[i : end + 1])
            i = end + 1
        elif ch in ".|()*+?":
            if ch == "?" and out and (out[-1] in ("*", "+", "?") or out[-1].endswith("}")):
                out.append("?")  # lazy form: same language under full matching
            else:
                out.append(ch)
            i += 1
        else:
            out.append(re.escape(ch))
            i += 1
    return "".join(out)


def _char_class(pattern: str, start: int) -> tuple[int, str]:
    i = start + 1
    parts = ["["]
    if i < len(pattern) and pattern[i] == "^":
        parts.append("^")
        i += 1
    first = True
    while i < len(pattern):
        ch = pattern[i]
        if ch == "]" and not first:
            parts.append("]")
            return i + 1, "".join(parts)
        if ch == "\\" and i + 1 < len(pattern):
            parts.append(re.escape(pattern[i + 1]))
            i += 2
        elif ch == "-" and not first and i + 1 < len(pattern) and pattern[i + 1] != "]":
            parts.append("-")
            i += 1
        else:
            parts.append(re.escape(ch))
            i += 1
        first = False
    raise EqlSemanticError(f"Invalid regex [{pattern}]: unterminated character class")


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
