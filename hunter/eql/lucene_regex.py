"""Lucene's ``RegExp`` syntax, which Elasticsearch's ``regexp`` query and EQL ``regex``/``regex~`` run.

The parser follows ``org.apache.lucene.util.automaton.RegExp`` of Lucene 10 (what Elasticsearch 9.x
ships) step by step, with the syntax flags Elasticsearch's ``regexp`` query passes by default:
``RegexpFlag.ALL`` = ``RegExp.ALL | RegExp.DEPRECATED_COMPLEMENT``, so ``&`` (intersection), ``~``
(complement), ``#`` (empty language), ``@`` (any string), ``<n-m>`` (numeric interval) and
``<name>`` (named automaton, which never exists there) are all operators. ``regex~`` adds the
``CASE_INSENSITIVE`` match flag. Everything is anchored: a pattern matches a whole value.

Every pattern becomes one Python ``re`` (fast) unless it intersects or complements, which ``re``
cannot express; those run on :func:`_ends`, an exact matcher over sets of end positions.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from .errors import EqlSemanticError

MAX_CODE_POINT = sys.maxunicode

Ranges = tuple[tuple[int, int], ...]


# ---- syntax tree ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Chars:
    """One character out of ``ranges`` (inclusive code point ranges); ``negated``: any other."""

    ranges: Ranges
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Text:
    """A literal string (``""`` is the empty string)."""

    text: str


@dataclass(frozen=True, slots=True)
class Special:
    """``.`` (``any_char``), ``@`` (``any_string``) or ``#`` (``empty``, matches nothing)."""

    kind: str


@dataclass(frozen=True, slots=True)
class Interval:
    """``<min-max>``: decimal numbers in the range, ``digits`` long when ``digits`` > 0."""

    low: int
    high: int
    digits: int


@dataclass(frozen=True, slots=True)
class Repeat:
    """``node`` between ``low`` and ``high`` times (``high`` None: no upper bound)."""

    node: Node
    low: int
    high: int | None


@dataclass(frozen=True, slots=True)
class Op:
    """``concat``, ``union`` or ``inter`` of ``parts``, or ``compl`` of its single part."""

    kind: str
    parts: tuple[Node, ...]


Node = Chars | Text | Special | Interval | Repeat | Op

_ANY_CHAR = Special("any_char")


# ---- case folding (Lucene's RegExp.toCaseInsensitiveChar) ------------------------------------

# Characters whose case forms are more than a lower/upper pair (CaseFolding.lookupAlternates in
# Lucene; the groups of Unicode's simple case folding with more than two members, and the pairs
# that str.lower/str.upper only reach one way).
_CASE_GROUP_TEXT = (
    "\u0049\u0069\u0130\u0131 \u004b\u006b\u212a \u0053\u0073\u017f \u00b5\u039c\u03bc "
    "\u00c5\u00e5\u212b \u00df\u1e9e \u01c4\u01c5\u01c6 \u01c7\u01c8\u01c9 \u01ca\u01cb\u01cc "
    "\u01f1\u01f2\u01f3 \u0345\u0399\u03b9\u1fbe \u0392\u03b2\u03d0 \u0395\u03b5\u03f5 "
    "\u0398\u03b8\u03d1\u03f4 \u039a\u03ba\u03f0 \u03a0\u03c0\u03d6 \u03a1\u03c1\u03f1 "
    "\u03a3\u03c2\u03c3 \u03a6\u03c6\u03d5 \u03a9\u03c9\u2126 \u0412\u0432\u1c80 "
    "\u0414\u0434\u1c81 \u041e\u043e\u1c82 \u0421\u0441\u1c83 \u0422\u0442\u1c84\u1c85 "
    "\u042a\u044a\u1c86 \u0462\u0463\u1c87 \u1c88\ua64a\ua64b \u1e60\u1e61\u1e9b \u1fb3\u1fbc "
    "\u1fc3\u1fcc \u1ff3\u1ffc "
)
_CASE_GROUPS = (
    *_CASE_GROUP_TEXT.split(),
    *(chr(base + i) + chr(base + 8 + i) for base in (0x1F80, 0x1F90, 0x1FA0) for i in range(8)),
)
_GROUP_OF = {ch: group for group in _CASE_GROUPS for ch in group}


def case_forms(ch: str) -> str:
    """``ch`` and the characters a case-insensitive Lucene regexp also accepts for it."""
    group = _GROUP_OF.get(ch)
    if group is not None:
        return group
    other = ch.upper() if ch.islower() else ch.lower()
    return ch + other if len(other) == 1 and other != ch else ch


# ---- parser (RegExp.parseUnionExp and below) -------------------------------------------------


class _Parser:
    """Recursive descent over the pattern, one method per RegExp.parseXxx method."""

    def __init__(self, pattern: str, insensitive: bool) -> None:
        self.s = pattern
        self.pos = 0
        self.insensitive = insensitive

    def error(self, message: str) -> EqlSemanticError:
        return EqlSemanticError(f"Invalid regular expression [{self.s}]: {message}")

    def at(self) -> int:
        """The position as Java counts it (UTF-16 code units)."""
        head = self.s[: self.pos]
        return len(head) + sum(1 for ch in head if ord(ch) > 0xFFFF)

    def more(self) -> bool:
        return self.pos < len(self.s)

    def peek(self, chars: str) -> bool:
        return self.more() and self.s[self.pos] in chars

    def match(self, ch: str) -> bool:
        if self.more() and self.s[self.pos] == ch:
            self.pos += 1
            return True
        return False

    def next(self) -> str:
        if not self.more():
            raise self.error("unexpected end-of-string")
        self.pos += 1
        return self.s[self.pos - 1]

    def parse(self) -> Node:
        if not self.s:
            return Text("")
        node = self.union()
        if self.more():
            raise self.error(f"end-of-string expected at position {self.at()}")
        return node

    def union(self) -> Node:
        parts = [self.inter()]
        while self.match("|"):
            parts.append(self.inter())
        return parts[0] if len(parts) == 1 else Op("union", tuple(parts))

    def inter(self) -> Node:
        parts = [self.concat()]
        while self.match("&"):
            parts.append(self.concat())
        return parts[0] if len(parts) == 1 else Op("inter", tuple(parts))

    def concat(self) -> Node:
        parts = [self.repeat()]
        while self.more() and not self.peek(")|&"):
            parts.append(self.repeat())
        return parts[0] if len(parts) == 1 else Op("concat", tuple(parts))

    def repeat(self) -> Node:
        node = self.complement()
        while self.peek("?*+{"):
            op = self.next()
            if op == "?":
                node = Repeat(node, 0, 1)
            elif op == "*":
                node = Repeat(node, 0, None)
            elif op == "+":
                node = Repeat(node, 1, None)
            else:
                low = self.integer()
                if low is None:
                    raise self.error(f"integer expected at position {self.at()}")
                high: int | None = low
                if self.match(","):
                    high = self.integer()
                if not self.match("}"):
                    raise self.error(f"expected '}}' at position {self.at()}")
                if high is not None and low > high:
                    raise self.error(f"invalid repetition range(out of order): {low}..{high}")
                node = Repeat(node, low, high)
        return node

    def integer(self) -> int | None:
        start = self.pos
        while self.peek("0123456789"):
            self.pos += 1
        if start == self.pos:
            return None
        return _java_int(self.s[start : self.pos], self)

    def complement(self) -> Node:
        if self.match("~"):
            return Op("compl", (self.complement(),))
        return self.char_class()

    def char_class(self) -> Node:
        if not self.match("["):
            return self.simple()
        negated = self.match("^")
        ranges = self.class_items()
        if not self.match("]"):
            raise self.error(f"expected ']' at position {self.at()}")
        return Chars(ranges, negated)

    def class_items(self) -> Ranges:
        items: list[tuple[int, int]] = []
        while True:
            if self.match("\\"):
                if self.peek("\\" + _LETTERS):
                    items.extend(self.predefined())
                else:  # an escaped character: no range, no case forms (RegExp.parseCharClasses)
                    code = ord(self.next())
                    items.append((code, code))
            else:
                low = ord(self.char_exp())
                if self.match("-"):
                    items.append((low, ord(self.char_exp())))
                elif self.insensitive:
                    items.extend((ord(ch), ord(ch)) for ch in case_forms(chr(low)))
                else:
                    items.append((low, low))
            if not (self.more() and not self.peek("]")):
                break
        for low, high in items:
            if low > high:
                raise self.error(f"invalid range: from ({low}) cannot be > to ({high})")
        if len(items) == 1 and items[0][0] == items[0][1] and self.insensitive:
            # a one-character class becomes a char node, which the automaton case-folds
            return tuple((ord(ch), ord(ch)) for ch in case_forms(chr(items[0][0])))
        return tuple(items)

    def predefined(self) -> Ranges:
        """After a backslash, before ``\\`` or a letter: RegExp.expandPreDefined."""
        ch = self.next()
        if ch in _PREDEFINED:
            return _PREDEFINED[ch]
        raise self.error(f"invalid character class \\{ch}")

    def simple(self) -> Node:
        if self.match("."):
            return _ANY_CHAR
        if self.match("#"):
            return Special("empty")
        if self.match("@"):
            return Special("any_string")
        if self.match('"'):
            start = self.pos
            while self.more() and not self.peek('"'):
                self.pos += 1
            if not self.match('"'):
                raise self.error(f"expected '\"' at position {self.at()}")
            return self.text(self.s[start : self.pos - 1])
        if self.match("("):
            if self.match(")"):
                return Text("")
            node = self.union()
            if not self.match(")"):
                raise self.error(f"expected ')' at position {self.at()}")
            return node
        if self.match("<"):
            return self.angle()
        if self.match("\\") and self.peek("\\" + _LETTERS):
            return Chars(self.predefined())
        return self.text(self.char_exp())

    def angle(self) -> Node:
        start = self.pos
        while self.more() and not self.peek(">"):
            self.pos += 1
        if not self.match(">"):
            raise self.error(f"expected '>' at position {self.at()}")
        body = self.s[start : self.pos - 1]
        dash = body.find("-")
        if dash == -1:
            # a named automaton: Elasticsearch's regexp query provides none
            raise self.error(f"'{body}' not found")
        where = f"interval syntax error at position {self.at() - 1}"
        if dash == 0 or dash == len(body) - 1 or dash != body.rfind("-"):
            raise self.error(where)
        low_text, high_text = body[:dash], body[dash + 1 :]
        low, high = _java_int(low_text, self, where), _java_int(high_text, self, where)
        digits = len(low_text) if len(low_text) == len(high_text) else 0
        return Interval(min(low, high), max(low, high), digits)

    def char_exp(self) -> str:
        self.match("\\")
        return self.next()

    def text(self, text: str) -> Node:
        if not self.insensitive:
            return Text(text)
        parts: list[Node] = []
        for ch in text:
            forms = case_forms(ch)
            parts.append(Text(ch) if len(forms) == 1 else Chars(tuple((ord(f), ord(f)) for f in forms)))
        return parts[0] if len(parts) == 1 else Op("concat", tuple(parts))


_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_WORD = ((48, 57), (65, 90), (95, 95), (97, 122))
_PREDEFINED: dict[str, Ranges] = {
    "\\": ((92, 92),),
    "d": ((48, 57),),
    "D": ((0, 47), (58, MAX_CODE_POINT)),
    "s": ((9, 10), (13, 13), (32, 32)),
    "S": ((0, 8), (11, 12), (14, 31), (33, MAX_CODE_POINT)),
    "w": _WORD,
    "W": ((0, 47), (58, 64), (91, 94), (96, 96), (123, MAX_CODE_POINT)),
}


def _java_int(text: str, parser: _Parser, message: str | None = None) -> int:
    """Integer.parseInt: an optional sign and decimal digits (any script), within 32 bits."""
    body = text[1:] if text[:1] in "+-" else text
    value = int(body) if body and body.isdecimal() else None
    if value is not None and text[:1] == "-":
        value = -value
    if value is None or not -(2**31) <= value < 2**31:
        raise parser.error(message or f'For input string: "{text}"')
    return value


@lru_cache(maxsize=4096)
def parse(pattern: str, insensitive: bool = False) -> Node:
    """The syntax tree of a Lucene regexp; :class:`EqlSemanticError` where Lucene would throw."""
    try:
        return _Parser(pattern, insensitive).parse()
    except RecursionError:
        raise EqlSemanticError(f"Invalid regular expression [{pattern}]: nested too deeply") from None


# ---- translation to Python re ----------------------------------------------------------------


def _needs_sets(node: Node) -> bool:
    if isinstance(node, Op):
        return node.kind in ("inter", "compl") or any(_needs_sets(part) for part in node.parts)
    return isinstance(node, Repeat) and _needs_sets(node.node)


def _char(code: int) -> str:
    return f"\\U{code:08x}"


def _python(node: Node) -> str:
    if isinstance(node, Chars):
        body = "".join(_char(lo) if lo == hi else f"{_char(lo)}-{_char(hi)}" for lo, hi in node.ranges)
        return f"[{'^' if node.negated else ''}{body}]"
    if isinstance(node, Text):
        return re.escape(node.text)
    if isinstance(node, Special):
        return {"any_char": "(?s:.)", "any_string": "(?s:.*)", "empty": "(?!)"}[node.kind]
    if isinstance(node, Interval):
        return _interval(node)
    if isinstance(node, Repeat):
        high = "" if node.high is None else str(node.high)
        return f"(?:{_python(node.node)}){{{node.low},{high}}}"
    joiner = "|" if node.kind == "union" else ""
    return "(?:" + joiner.join(_python(part) for part in node.parts) + ")"


def _interval(node: Interval) -> str:
    """Automata.makeDecimalInterval: fixed width when ``digits`` > 0, else any leading zeros."""
    if node.digits > 0:
        if len(str(node.high)) > node.digits:
            return "(?!)"
        return _fixed_width(node.low, node.high, node.digits)
    parts = []
    for width in range(len(str(node.low)), len(str(node.high)) + 1):
        low = max(node.low, 10 ** (width - 1) if width > 1 else 0)
        high = min(node.high, 10**width - 1)
        if low <= high:
            parts.append(_fixed_width(low, high, width))
    return "0*(?:" + "|".join(parts) + ")"


def _fixed_width(low: int, high: int, width: int) -> str:
    """Strings of exactly ``width`` ASCII digits whose value is in [low, high]."""
    if width == 0:
        return ""
    if low == 0 and high == 10**width - 1:
        return f"[0-9]{{{width}}}"
    unit = 10 ** (width - 1)
    first_low, rest_low = divmod(low, unit)
    first_high, rest_high = divmod(high, unit)
    if first_low == first_high:
        return f"{first_low}{_fixed_width(rest_low, rest_high, width - 1)}"
    parts = [f"{first_low}{_fixed_width(rest_low, unit - 1, width - 1)}"]
    if first_high - first_low > 1:
        parts.append(f"[{first_low + 1}-{first_high - 1}]" + (f"[0-9]{{{width - 1}}}" if width > 1 else ""))
    parts.append(f"{first_high}{_fixed_width(0, rest_high, width - 1)}")
    return "(?:" + "|".join(parts) + ")"


# ---- exact matcher for intersection and complement -------------------------------------------


def _ends(node: Node, text: str, start: int, memo: dict[tuple[int, int], frozenset[int]]) -> frozenset[int]:
    """Every ``end`` such that ``node`` matches ``text[start:end]`` exactly."""
    key = (id(node), start)
    found = memo.get(key)
    if found is None:
        found = frozenset(_ends_of(node, text, start, memo))
        memo[key] = found
    return found


def _ends_of(node: Node, text: str, start: int, memo: dict[tuple[int, int], frozenset[int]]) -> Iterator[int]:
    size = len(text)
    if isinstance(node, Chars):
        if start < size:
            code = ord(text[start])
            if any(lo <= code <= hi for lo, hi in node.ranges) != node.negated:
                yield start + 1
    elif isinstance(node, Text):
        if text.startswith(node.text, start):
            yield start + len(node.text)
    elif isinstance(node, Special):
        if node.kind == "any_char" and start < size:
            yield start + 1
        elif node.kind == "any_string":
            yield from range(start, size + 1)
    elif isinstance(node, Interval):
        matcher = _compiled(_interval(node)).fullmatch
        end = start
        while end < size and "0" <= text[end] <= "9":
            end += 1
            if matcher(text, start, end):
                yield end
    elif isinstance(node, Repeat):
        yield from _repeat_ends(node, text, start, memo)
    elif node.kind == "concat":
        ends = {start}
        for part in node.parts:
            ends = {end for at in ends for end in _ends(part, text, at, memo)}
        yield from ends
    elif node.kind == "union":
        for part in node.parts:
            yield from _ends(part, text, start, memo)
    elif node.kind == "inter":
        ends = set(_ends(node.parts[0], text, start, memo))
        for part in node.parts[1:]:
            ends &= _ends(part, text, start, memo)
        yield from ends
    else:  # compl
        yield from set(range(start, size + 1)) - _ends(node.parts[0], text, start, memo)


def _repeat_ends(
    node: Repeat, text: str, start: int, memo: dict[tuple[int, int], frozenset[int]]
) -> set[int]:
    def step(positions: frozenset[int]) -> frozenset[int]:
        return frozenset(end for at in positions for end in _ends(node.node, text, at, memo))

    current = frozenset({start})
    seen: dict[frozenset[int], int] = {}
    count = 0
    while count < node.low:  # the reach after exactly `low` steps; the sets cycle, so skip ahead
        if current in seen:
            period = count - seen[current]
            for _ in range((node.low - count) % period):
                current = step(current)
            break
        seen[current] = count
        current = step(current)
        count += 1
    reached = set(current)
    frontier = current
    budget = None if node.high is None else node.high - node.low
    while frontier and (budget is None or budget > 0):
        frontier = frozenset(step(frontier) - reached)
        reached |= frontier
        if budget is not None:
            budget -= 1
    return reached


# ---- matchers --------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _compiled(source: str) -> re.Pattern[str]:
    try:
        return re.compile(source)
    except (re.error, OverflowError, RecursionError) as exc:  # pragma: no cover - a translation bug
        raise EqlSemanticError(f"Regular expression too complex for the embedded engine: {exc}") from None


def matcher(patterns: tuple[str, ...], insensitive: bool) -> Callable[[str], bool]:
    """A test for "some pattern matches the whole string"."""
    trees = [parse(pattern, insensitive) for pattern in patterns]
    exact = [tree for tree in trees if _needs_sets(tree)]
    plain = [tree for tree in trees if not _needs_sets(tree)]
    fullmatch = _compiled("|".join(f"(?:{_python(tree)})" for tree in plain)).fullmatch if plain else None
    if not exact:
        assert fullmatch is not None

        def match(value: str) -> bool:
            return fullmatch(value) is not None

        return match

    def match_exact(value: str) -> bool:
        if fullmatch is not None and fullmatch(value) is not None:
            return True
        memo: dict[tuple[int, int], frozenset[int]] = {}
        return any(len(value) in _ends(tree, value, 0, memo) for tree in exact)

    return match_exact
