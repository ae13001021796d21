"""The EQL function library (Elasticsearch's EQL function reference), evaluated on single values.

Every function returns null when a required argument is null, like Elasticsearch's processors.
"""

from __future__ import annotations

import bisect
import functools
import ipaddress
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .values import (
    DateValue,
    java_int_div,
    java_int_mod,
    parse_ip,
    to_display_string,
    wrap_long,
)

BOOLEAN = "boolean"
STRING = "string"
NUMBER = "number"


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """A function's name as documented, its arity, result type and implementation."""

    name: str
    min_args: int
    max_args: int | None
    result: str
    impl: Callable[..., Any]
    insensitive_variant: bool = False
    string_args: tuple[int, ...] = ()
    numeric_args: tuple[int, ...] = ()


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _arith(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def run(left: Any, right: Any) -> Any:
        if left is None or right is None or not _is_number(left) or not _is_number(right):
            return None
        return op(left, right)

    return run


def _add(left: Any, right: Any) -> Any:
    result = left + right
    return wrap_long(result) if isinstance(result, int) else result


def _subtract(left: Any, right: Any) -> Any:
    result = left - right
    return wrap_long(result) if isinstance(result, int) else result


def _multiply(left: Any, right: Any) -> Any:
    result = left * right
    return wrap_long(result) if isinstance(result, int) else result


def _divide(left: Any, right: Any) -> Any:
    if right == 0:
        return None
    if isinstance(left, int) and isinstance(right, int):
        return wrap_long(java_int_div(left, right))
    return left / right


def _modulo(left: Any, right: Any) -> Any:
    if right == 0:
        return None
    if isinstance(left, int) and isinstance(right, int):
        return java_int_mod(left, right)
    return math.fmod(left, right)


def _fold_case(value: str, insensitive: bool) -> str:
    return value.lower() if insensitive else value


def between(source: Any, left: Any, right: Any, greedy: Any = False, *, insensitive: bool = False) -> Any:
    """Text of ``source`` between ``left`` and ``right`` ("" when either is not found)."""
    if source is None or left is None or right is None:
        return None
    if greedy is None:
        greedy = False
    text, lhs, rhs = str(source), str(left), str(right)
    haystack = _fold_case(text, insensitive)
    start = haystack.find(_fold_case(lhs, insensitive))
    if start < 0:
        return ""
    start += len(lhs)
    needle = _fold_case(rhs, insensitive)
    end = haystack.rfind(needle) if greedy else haystack.find(needle, start)
    if end < start:
        return ""
    return text[start:end]


def cidr_match(source: Any, *networks: Any) -> Any:
    """True when the IP ``source`` falls in any of the CIDR blocks."""
    if source is None:
        return None
    address = (
        source if isinstance(source, ipaddress.IPv4Address | ipaddress.IPv6Address) else parse_ip(source)
    )
    if address is None:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for network in networks:
        if network is None:
            continue
        try:
            block = ipaddress.ip_network(str(network), strict=False)
        except ValueError:
            continue
        if address.version == block.version and address in block:
            return True
    return False


_SEEN_LIMIT = 4_096  # distinct addresses remembered per cidrMatch call site


def cidr_matcher(networks: Sequence[Any]) -> Callable[[Any], Any]:
    """``cidr_match(value, *networks)`` with the blocks parsed once and recent values remembered.

    Call sites with the same blocks share one matcher (a rule library repeats the private ranges in
    a hundred rules), so an address is looked up once for all of them.
    """
    return _cidr_matcher(tuple(str(network) for network in networks if network is not None))


@functools.lru_cache(maxsize=1_024)
def _cidr_matcher(networks: tuple[str, ...]) -> Callable[[Any], Any]:
    # per IP version, the blocks as merged [first, last] address ranges, found by bisection
    spans: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
    for network in networks:
        try:
            block = ipaddress.ip_network(network, strict=False)
        except ValueError:
            continue
        spans[block.version].append((int(block.network_address), int(block.broadcast_address)))
    firsts: dict[int, list[int]] = {}
    lasts: dict[int, list[int]] = {}
    for version, ranges in spans.items():
        merged: list[list[int]] = []
        for first, last in sorted(ranges):
            if merged and first <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], last)
            else:
                merged.append([first, last])
        firsts[version] = [first for first, _last in merged]
        lasts[version] = [last for _first, last in merged]
    seen: dict[Any, Any] = {}

    def inside(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        number = int(address)
        starts = firsts[address.version]
        at = bisect.bisect_right(starts, number) - 1
        return at >= 0 and number <= lasts[address.version][at]

    def match(source: Any) -> Any:
        if source.__class__ is str:
            found = seen.get(source, seen)
            if found is not seen:
                return found
        if source is None:
            return None
        address = (
            source if isinstance(source, ipaddress.IPv4Address | ipaddress.IPv6Address) else parse_ip(source)
        )
        if address is None:
            result = None
        else:
            if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
                address = address.ipv4_mapped
            result = inside(address)
        if source.__class__ is str:
            if len(seen) >= _SEEN_LIMIT:
                seen.clear()
            seen[source] = result
        return result

    return match


def concat(*values: Any) -> Any:
    """All arguments as text, joined; null if any is null."""
    if any(value is None for value in values):
        return None
    return "".join(to_display_string(value) for value in values)


def ends_with(source: Any, suffix: Any, *, insensitive: bool = False) -> Any:
    """True when ``source`` ends with ``suffix``."""
    if source is None or suffix is None:
        return None
    return _fold_case(str(source), insensitive).endswith(_fold_case(str(suffix), insensitive))


def index_of(source: Any, substring: Any, start: Any = 0, *, insensitive: bool = False) -> Any:
    """First position of ``substring`` in ``source`` at or after ``start``, null when absent."""
    if source is None or substring is None:
        return None
    if start is None:
        start = 0
    if not _is_number(start):
        return None
    found = _fold_case(str(source), insensitive).find(
        _fold_case(str(substring), insensitive), max(int(start), 0)
    )
    return found if found >= 0 else None


def length(source: Any) -> Any:
    """Number of characters of ``source``."""
    if source is None:
        return None
    return len(str(source))


_DECIMAL_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def number(source: Any, base: Any = None) -> Any:
    """``source`` parsed as a number in ``base`` (default 10; ``0x`` accepted in base 16)."""
    if source is None:
        return None
    if _is_number(source):
        return source
    text = str(source).strip()
    hexadecimal = text.lower().startswith(("0x", "-0x", "+0x"))
    radix = (16 if hexadecimal else 10) if base is None else base
    if not isinstance(radix, int) or isinstance(radix, bool) or not 2 <= radix <= 36:
        return None
    if radix == 10:
        try:
            return int(text)
        except ValueError:
            pass
        if _DECIMAL_RE.fullmatch(text):
            return float(text)
        return None
    if radix == 16 and hexadecimal:
        text = text.replace("0x", "", 1).replace("0X", "", 1)
    try:
        return int(text, radix)
    except ValueError:
        return None


def starts_with(source: Any, prefix: Any, *, insensitive: bool = False) -> Any:
    """True when ``source`` starts with ``prefix``."""
    if source is None or prefix is None:
        return None
    return _fold_case(str(source), insensitive).startswith(_fold_case(str(prefix), insensitive))


def to_string(value: Any) -> Any:
    """``value`` as text."""
    if value is None:
        return None
    if isinstance(value, ipaddress.IPv6Address) and value.ipv4_mapped is not None:
        return str(value.ipv4_mapped)
    if isinstance(value, DateValue):
        return value.iso()
    return to_display_string(value)


def string_contains(source: Any, substring: Any, *, insensitive: bool = False) -> Any:
    """True when ``substring`` occurs in ``source``."""
    if source is None or substring is None:
        return None
    return _fold_case(str(substring), insensitive) in _fold_case(str(source), insensitive)


def substring(source: Any, start: Any, end: Any = None) -> Any:
    """Python-slice ``source[start:end]`` (negative positions count from the end)."""
    if source is None:
        return None
    if start is None:
        start = 0
    if not _is_number(start) or (end is not None and not _is_number(end)):
        return None
    text = str(source)
    return text[int(start) : None if end is None else int(end)]


FUNCTIONS: dict[str, FunctionSpec] = {
    spec.name.lower(): spec
    for spec in (
        FunctionSpec("add", 2, 2, NUMBER, _arith(_add), numeric_args=(0, 1)),
        FunctionSpec("between", 3, 4, STRING, between, True, string_args=(0, 1, 2)),
        FunctionSpec("cidrMatch", 2, None, BOOLEAN, cidr_match),
        FunctionSpec("concat", 1, None, STRING, concat),
        FunctionSpec("divide", 2, 2, NUMBER, _arith(_divide), numeric_args=(0, 1)),
        FunctionSpec("endsWith", 2, 2, BOOLEAN, ends_with, True, string_args=(0, 1)),
        FunctionSpec("indexOf", 2, 3, NUMBER, index_of, True, string_args=(0, 1)),
        FunctionSpec("length", 1, 1, NUMBER, length, string_args=(0,)),
        FunctionSpec("modulo", 2, 2, NUMBER, _arith(_modulo), numeric_args=(0, 1)),
        FunctionSpec("multiply", 2, 2, NUMBER, _arith(_multiply), numeric_args=(0, 1)),
        FunctionSpec("number", 1, 2, NUMBER, number, string_args=(0,)),
        FunctionSpec("startsWith", 2, 2, BOOLEAN, starts_with, True, string_args=(0, 1)),
        FunctionSpec("string", 1, 1, STRING, to_string),
        FunctionSpec("stringContains", 2, 2, BOOLEAN, string_contains, True, string_args=(0, 1)),
        FunctionSpec("substring", 2, 3, STRING, substring, string_args=(0,)),
        FunctionSpec("subtract", 2, 2, NUMBER, _arith(_subtract), numeric_args=(0, 1)),
    )
}

ARITHMETIC = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide", "%": "modulo"}


def lookup(name: str) -> FunctionSpec | None:
    """The function called ``name`` (case-insensitive, as Elasticsearch resolves names)."""
    return FUNCTIONS.get(name.lower())
