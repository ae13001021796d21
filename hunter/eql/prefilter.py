"""Skip a raw NDJSON line before parsing it when no run can use the event it holds.

Every stage of every run has *needs* (:mod:`.gates`): sets of literal keys of which a matching
event carries at least one. A key's text (an exact value, a prefix, a suffix or a fragment of a
string value) appears in the event's JSON text, written as JSON writes it. So a line that contains,
for one need of every stage of every run, none of its texts holds no event any run could use, and
need not be parsed. :class:`LinePrefilter` checks lines for those texts:

* texts are searched as JSON encodes them (``\\`` as ``\\\\``, ``"`` as ``\\"``, control characters as
  ``\\n`` and the like). That encoding is the only one a line can use unless it has a ``\\uXXXX`` or
  ``\\/`` escape, so a line with one of those (a real escape, not an escaped backslash before a ``u``)
  is always parsed;
* case-insensitive texts (``:``, ``in~``, ``like~``) are searched in the line lowercased. ASCII text
  lowercases the same way in a line as in a value; other characters may not (``str.lower`` maps the
  Kelvin sign to ``k``), so a line with a non-ASCII byte is always parsed when such texts exist.

Every stage counts, not only the first: a line that only a sequence's second stage (or its
``until``, or a missing-event stage) could use is parsed too. Skipping it while no sequence is
waiting would depend on the order of the lines, and a file out of time order is found out only by
reading its timestamps, which a skipped line never shows. The filter only ever narrows: results are
those of parsing every line, which tests/eql/test_dispatch.py checks over the whole rule library.

A run without gates, a stage with no textual need (a regex, a range, a ``not``), or more texts than
are worth searching (a whole rule library) leave no filter: every line is parsed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import orjson

from . import ast
from .codecache import compiled
from .dispatch import COMMON_WEIGHT
from .gates import Need
from .runs import Run

MAX_TEXTS = 24  # more texts than this cost more to look for than parsing the line does
# ECS categorization and source fields: few values, found in nearly every line (``process`` is in
# every process event's event.category and data_stream.dataset), so a poor choice of text
COMMON_PREFIXES = ("event.", "data_stream.", "host.os.", "agent.", "ecs.")
RAW_FACTOR = 4  # texts before dropping those that hold another: beyond this many times MAX_TEXTS, give up
# bytes few event lines hold: a text holding one is looked for only in lines holding it (rarest first;
# Linux events hold no backslash, Windows events many)
ANCHORS = "()|;$%!&'<>^`~#+*=?\\"
_REAL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\[u/]")  # a \u or \/ escape, not "\\" then "u"


class LinePrefilter:
    """Whether a raw line may hold an event some run uses (False: it surely holds none)."""

    def __init__(self, texts: Iterable[str], folded: Iterable[str]) -> None:
        self.folded = _minimal(_encoded(text) for text in folded)  # case-insensitive, lowercased
        self.texts = _minimal(
            encoded
            for encoded in (_encoded(text) for text in texts)
            if not any(other in encoded.lower() for other in self.folded)
        )
        self.wants: Callable[[bytes], bool] = _compile(self.texts, self.folded)

    @classmethod
    def for_runs(cls, runs: Iterable[Run], *, max_texts: int = MAX_TEXTS) -> LinePrefilter | None:
        """The filter for ``runs`` (None when some stage gives nothing to look for, or too much)."""
        # an ``or`` keeps the texts of one side's need: the cheapest side not on a common field
        # each run's gate planned in turn: a rule library gives up long before its last rule
        texts: set[str] = set()
        folded: set[str] = set()
        for run in runs:
            gate = run.gate(lambda name: COMMON_WEIGHT if _common(name) else 1.0)
            if not gate:  # unknown (per-index schemas) or no stages
                return None
            for needs in gate:
                chosen = _cheapest(needs)
                if chosen is None:
                    return None
                for _field, mode, text in chosen:
                    (folded if mode.startswith("l") else texts).add(text)
                if len(texts) + len(folded) > RAW_FACTOR * max_texts:  # a rule library: not worth it
                    return None
        found = cls(texts, folded)
        if len(found.texts) + len(found.folded) > max_texts:
            return None
        return found

    def __call__(self, line: bytes) -> bool:
        """True when ``line`` may hold an event some run uses."""
        return self.wants(line)


def _common(name: str) -> bool:
    """Whether a field takes few values over all events (its values are in most lines)."""
    return name.startswith(COMMON_PREFIXES)


def _cheapest(needs: list[Need]) -> Need | None:
    """The need of a stage that lets fewest lines through: none of its texts on a field most stages
    constrain (an event category is in nearly every line), then fewest and longest texts (None: no
    need is all text: each has a key that only asks for a field to be present)."""
    textual = [need for need in needs if all(mode != "present" and text for _f, mode, text in need)]
    if not textual:
        return None

    def cost(need: Need) -> tuple[bool, float, list[tuple[str, str, str]]]:
        searched = _minimal(_encoded(text) for _name, _mode, text in need)
        on_common = any(_common(name) for name, _mode, _text in need)
        return on_common, sum(1.0 + 6.0 / len(text) for text in searched), sorted(need)

    return min(textual, key=cost)


def _encoded(text: str) -> bytes:
    """``text`` as a JSON string writes it, without the quotes."""
    return orjson.dumps(text)[1:-1]


def _minimal(texts: Iterable[bytes]) -> tuple[bytes, ...]:
    """The texts that contain no other (a line holding a longer one holds the shorter too)."""
    ordered = sorted(set(texts), key=lambda text: (len(text), text))
    kept: list[bytes] = []
    for text in ordered:
        if not any(shorter in text for shorter in kept):
            kept.append(text)
    return tuple(kept)


def _compile(texts: tuple[bytes, ...], folded: tuple[bytes, ...]) -> Callable[[bytes], bool]:
    """A straight-line function testing a line for the texts.

    The line is searched as ``latin-1`` text (one character per byte, so a text is in the line
    exactly when its bytes are; searching text is faster than bytes). Each ``in`` scans the line,
    so texts holding a character few lines hold (a parenthesis, a backslash) are looked for only
    in lines that hold it.
    """
    namespace: dict[str, object] = {"_escape": _REAL_ESCAPE.search}
    anchors: dict[str, str] = {}

    def any_of(group: tuple[bytes, ...], prefix: str, subject: str) -> str:
        plain: list[str] = []
        anchored: dict[str, list[str]] = {}
        for number, encoded in enumerate(group):
            name = f"{prefix}{number}"
            text = namespace[name] = encoded.decode("latin-1")
            anchor = next((char for char in ANCHORS if char in text), None)
            (plain if anchor is None else anchored.setdefault(anchor, [])).append(f"{name} in {subject}")
        parts = list(plain)
        for anchor, tests in anchored.items():
            flag = anchors.setdefault(anchor, f"a{len(anchors)}")
            parts.append(f"({flag} and ({' or '.join(tests)}))")
        return " or ".join(parts)

    searched = any_of(texts, "t", "text") if texts else ""
    lowered = any_of(folded, "f", "low") if folded else ""
    lines = [
        "def wants(line):",
        "    if b'\\\\' in line and (b'\\\\u' in line or b'\\\\/' in line) and _escape(line) is not None:",
        "        return True",
        "    text = line.decode('latin-1')",
    ]
    lines += [f"    {flag} = {anchor!r} in text" for anchor, flag in anchors.items()]
    if searched:
        lines += [f"    if {searched}:", "        return True"]
    if lowered:
        lines += ["    if not line.isascii():", "        return True", "    low = text.lower()"]
        lines.append(f"    return {lowered}")
    else:
        lines.append("    return False")
    exec(compiled("\n".join(lines), "<line prefilter>"), namespace)  # noqa: S102
    wants: Callable[[bytes], bool] = namespace["wants"]  # type: ignore[assignment]
    return wants


CATEGORY_FIELD = "event.category"


def query_categories(statement: ast.Statement) -> frozenset[str] | None:
    """The event categories a query's stages name (the until clause's and missing stages' with
    them): every event it can use has one of them in its category field, or None when a stage is
    ``any``. (Said of the default category field read as it comes, which a caller checks.)"""
    query = statement.query
    if isinstance(query, ast.EventQuery):
        filters = [query.filter]
    else:
        filters = [term.filter for term in query.terms]
        until = getattr(query, "until", None)
        if until is not None:
            filters.append(until.filter)
    categories = {event_filter.category for event_filter in filters}
    if None in categories:
        return None
    return frozenset(category for category in categories if category is not None)


def category_filter(categories: Iterable[str]) -> Callable[[bytes], bool]:
    """Whether a raw line may hold an event whose ``event.category`` has one of ``categories``
    (False: it surely holds none). A line is refused only when every value of a key ending in
    ``category`` (``"category"`` under ``event``, or ``"event.category"``, or any other so named) is
    a string, or a list of strings, none of them one of ``categories`` as JSON writes it. Any other
    value (null, a number, an object, a list holding anything but strings: the engine looks into
    nested lists) lets the line through, as does a ``\\u`` or ``\\/`` escape (a value could be
    written so)."""
    texts = b"|".join(re.escape(orjson.dumps(text)) for text in sorted(set(categories)))
    string = rb'"(?:[^"\\]|\\.)*"'  # a JSON string, escapes and all
    key = rb'category"\s*:\s*'
    wanted = re.compile(key + rb"(?:\[\s*(?:" + string + rb"\s*,\s*)*)?(?:" + texts + rb")")
    strings = rb"\[\s*(?:" + string + rb"\s*(?:,\s*" + string + rb"\s*)*)?\]"
    # not a string, nor strings (the spaces looked past inside: backing off them would find neither)
    other = re.compile(rb'category"\s*:(?!\s*(?:' + string + rb"|" + strings + rb"))")
    search, odd, escape = wanted.search, other.search, _REAL_ESCAPE.search

    def wants(line: bytes) -> bool:
        if search(line) is not None or odd(line) is not None:
            return True
        # (the escape's own search is slow over the backslashes of Windows paths: looked for first)
        return (b"\\u" in line or b"\\/" in line) and escape(line) is not None

    return wants
