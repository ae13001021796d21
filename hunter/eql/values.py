"""Typed values the way Elasticsearch reads them: dates (integer nanoseconds), versions, IPs, numbers."""

from __future__ import annotations

import ipaddress
import math
import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache, total_ordering
from typing import Any

NS_PER_MS = 1_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# strict_date_optional_time(_nanos): yyyy[-MM[-dd]][THH[:mm[:ss[.fraction]]]][zone]
_ISO_RE = re.compile(
    r"""
    (?P<year>[+-]?\d{4,9})
    (?:-(?P<month>\d{2})
      (?:-(?P<day>\d{2})
        (?:[Tt ](?P<hour>\d{2})
          (?::(?P<minute>\d{2})
            (?::(?P<second>\d{2})
              (?:[.,](?P<fraction>\d{1,9}))?
            )?
          )?
          (?P<zone>[Zz]|[+-]\d{2}(?::?\d{2})?)?
        )?
      )?
    )?
    """,
    re.VERBOSE | re.ASCII,
)
_EPOCH_RE = re.compile(r"[+-]?\d+(?:\.\d+)?", re.ASCII)
# The dates hunter can represent (and format back): 0001-01-01 to 9999-12-31, to the nanosecond.
MIN_DATE_NS = -62_135_596_800 * 1_000_000_000
MAX_DATE_NS = 253_402_300_800 * 1_000_000_000 - 1


def _in_range(ns: int) -> int | None:
    return ns if MIN_DATE_NS <= ns <= MAX_DATE_NS else None


def parse_iso_ns(text: str) -> int | None:
    """Epoch nanoseconds of an ISO-8601 date (Elasticsearch's strict_date_optional_time_nanos), else None."""
    match = _ISO_RE.fullmatch(text.strip())
    if match is None:
        return None
    parts = match.groupdict()
    try:
        base = datetime(
            int(parts["year"]),
            int(parts["month"] or 1),
            int(parts["day"] or 1),
            int(parts["hour"] or 0),
            int(parts["minute"] or 0),
            int(parts["second"] or 0),
            tzinfo=UTC,
        )
    except ValueError:
        return None
    delta = base - _EPOCH
    ns = (delta.days * 86_400 + delta.seconds) * 1_000_000_000
    fraction = parts["fraction"]
    if fraction:
        ns += int(fraction.ljust(9, "0"))
    zone = parts["zone"]
    if zone and zone not in ("Z", "z"):
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = int(digits[:2]) * 3600 + (int(digits[2:4]) if len(digits) > 2 else 0) * 60
        ns -= sign * offset * 1_000_000_000
    return _in_range(ns)


_MINUTE_NS: dict[str, int] = {}
# the last text parsed and its answer: the runs a pass feeds one event all read its one timestamp
# string (the same object), so all but the first find it here (one tuple, rebound whole: threads
# never see one text with another's answer)
_LAST: tuple[object, int | None] = (None, None)


def fast_iso_ns(text: str) -> int | None:
    """:func:`parse_iso_ns` for the usual ``YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z`` form, else the full parser.

    The start of each minute is remembered, so most timestamps cost one dictionary lookup and
    one integer conversion of seconds and fraction together; the same string asked again at once
    costs an identity check.
    """
    global _LAST  # noqa: PLW0603 - a one-entry cache
    last = _LAST
    if last[0] is text:
        return last[1]
    ns: int | None = None
    size = len(text)
    if text[-1:] == "Z" and (size == 20 or (22 <= size <= 30 and text[19] == ".")) and text[16] == ":":
        minute = text[:16]
        base = _MINUTE_NS.get(minute)
        if base is None:
            base = parse_iso_ns(minute + "Z") if minute[10] == "T" else None
            if base is not None:
                if len(_MINUTE_NS) >= 100_000:
                    _MINUTE_NS.clear()
                _MINUTE_NS[minute] = base
        if base is not None:
            digits = text[17:19] + text[20:-1]
            if digits.isascii() and digits.isdigit() and digits[0] < "6":
                ns = base + int(digits.ljust(11, "0"))
    if ns is None:
        ns = parse_iso_ns(text)
    _LAST = (text, ns)
    return ns


def parse_epoch_millis_ns(value: int | float | str) -> int | None:
    """Epoch nanoseconds of an epoch-milliseconds number or numeric string, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return _in_range(value * NS_PER_MS)
    if isinstance(value, float):
        if not math.isfinite(value) or abs(value) > 1e15:  # beyond year 9999 either way
            return None
        whole = int(value)
        return _in_range(whole * NS_PER_MS + round((value - whole) * NS_PER_MS))
    text = value.strip()
    if not _EPOCH_RE.fullmatch(text):
        return None
    if "." in text:
        whole_text, frac_text = text.split(".", 1)
        whole = int(whole_text)
        frac = int(frac_text[:6].ljust(6, "0"))
        return _in_range(whole * NS_PER_MS + (-frac if text.startswith("-") else frac))
    return _in_range(int(text) * NS_PER_MS) if len(text) < 25 else None


def parse_date_ns(value: Any, formats: DateFormats | None = None) -> int | None:
    """Epoch nanoseconds of a date as Elasticsearch's default ``strict_date_optional_time||epoch_millis``."""
    if formats is not None:
        return formats.parse(value)
    if isinstance(value, str):
        parsed = parse_iso_ns(value)
        if parsed is not None:
            return parsed
        return parse_epoch_millis_ns(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return parse_epoch_millis_ns(value)
    return None


def timestamp_ns(value: Any) -> int | None:
    """Epoch nanoseconds of an event's timestamp field value (of an array, its first value) as
    :func:`parse_date_ns` reads it, the usual ISO form through :func:`fast_iso_ns`."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, str):
        ns = fast_iso_ns(value)
        return ns if ns is not None else parse_date_ns(value)
    return parse_date_ns(value)


def format_date_ns(ns: int, *, nanos: bool = False) -> str:
    """ISO-8601 UTC text of epoch nanoseconds: milliseconds, or nine fraction digits when ``nanos``."""
    seconds, rest = divmod(ns, 1_000_000_000)
    fraction = f"{rest:09d}" if nanos else f"{rest // NS_PER_MS:03d}"
    return f"{_second_text(seconds)}.{fraction}Z"


@lru_cache(maxsize=1_024)
def _second_text(seconds: int) -> str:
    """``YYYY-MM-DDTHH:MM:SS`` of an epoch second (an alert writes its event's time three times)."""
    m = _EPOCH + timedelta(seconds=seconds)
    # not strftime: its %Y drops the leading zeros of years before 1000 on glibc
    return f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}"


def _epoch_second(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    millis = parse_epoch_millis_ns(value)
    return None if millis is None else millis * 1000


_JAVA_TOKEN_RE = re.compile(r"(y+|M+|d+|H+|h+|m+|s+|S+|'[^']*'|[A-Za-z]+|.)")


class DateFormats:
    """A mapping's ``format``: ``||``-separated named formats and Java-style patterns."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self._parsers: list[Any] = [self._compile(part.strip()) for part in spec.split("||") if part.strip()]

    def parse(self, value: Any) -> int | None:
        """Epoch nanoseconds of ``value`` under the first format that reads it, else None."""
        for parser in self._parsers:
            result = parser(value)
            if result is not None:
                return int(result)
        return None

    @staticmethod
    def _compile(name: str) -> Any:
        if name in ("epoch_millis",):
            return lambda v: parse_epoch_millis_ns(v) if isinstance(v, int | float | str) else None
        if name == "epoch_second":
            return _epoch_second
        if name in (
            "strict_date_optional_time",
            "date_optional_time",
            "strict_date_optional_time_nanos",
            "strict_date_time",
            "date_time",
            "strict_date",
            "date",
            "iso8601",
        ):
            return lambda v: parse_iso_ns(v) if isinstance(v, str) else None
        regex, fields = _java_pattern(name)

        def parse_pattern(value: Any) -> int | None:
            if not isinstance(value, str):
                return None
            match = regex.fullmatch(value)
            if match is None:
                return None
            got = {key: int(match.group(group)) for key, group in fields.items()}
            fraction = match.groupdict().get("S")
            try:
                moment = datetime(
                    got.get("y", 1970),
                    got.get("M", 1),
                    got.get("d", 1),
                    got.get("H", 0),
                    got.get("m", 0),
                    got.get("s", 0),
                    tzinfo=UTC,
                )
            except ValueError:
                return None
            delta = moment - _EPOCH
            ns = (delta.days * 86_400 + delta.seconds) * 1_000_000_000
            if fraction:
                ns += int(fraction.ljust(9, "0")[:9])
            return ns

        return parse_pattern


def _java_pattern(pattern: str) -> tuple[re.Pattern[str], dict[str, str]]:
    out: list[str] = []
    fields: dict[str, str] = {}
    for token in _JAVA_TOKEN_RE.findall(pattern):
        letter = token[0]
        if letter in "yMdHhms" and set(token) == {letter}:
            key = "H" if letter == "h" else letter
            fields[key] = key
            width = (
                "{4}"
                if letter == "y" and len(token) >= 4
                else "{1,2}"
                if len(token) <= 2
                else f"{{{len(token)}}}"
            )
            out.append(f"(?P<{key}>\\d{width})")
        elif letter == "S" and set(token) == {"S"}:
            out.append(f"(?P<S>\\d{{1,{len(token)}}})")
        elif token.startswith("'"):
            out.append(re.escape(token[1:-1]))
        else:
            out.append(re.escape(token))
    return re.compile("".join(out)), fields


# ---- versions ------------------------------------------------------------------------------

_VERSION_RE = re.compile(r"(\d+(?:\.\d+)*)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?")


@total_ordering
class Version:
    """A value of Elasticsearch's ``version`` field type (semver ordering; invalid ones sort last)."""

    __slots__ = ("_key", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._key = _version_key(text)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self._key == other._key

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key < other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Version({self.text!r})"


def _version_key(text: str) -> tuple[Any, ...]:
    match = _VERSION_RE.fullmatch(text)
    if match is None or any(len(p) > 1 and p.startswith("0") for p in match.group(1).split(".")):
        return (1, text)
    main = tuple(int(p) for p in match.group(1).split("."))
    pre = match.group(2)
    if pre is None:
        return (0, main, 1, ())
    ids: list[tuple[int, int | str]] = []
    for part in pre.split("."):
        ids.append((0, int(part)) if part.isdigit() else (1, part))
    return (0, main, 0, tuple(ids))


# ---- IP addresses --------------------------------------------------------------------------


def parse_ip(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address of a string, else None."""
    if not isinstance(value, str):
        return None
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


# ---- numbers -------------------------------------------------------------------------------


def java_double_str(value: float) -> str:
    """``Double.toString``: ``5.0``, ``1.0E20``, ``1.0E-5``, ``NaN``, ``Infinity``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    sign = "-" if value < 0 else ""
    text = repr(abs(value))
    mantissa, _, exp_text = text.partition("e")
    int_part, _, frac_part = mantissa.partition(".")
    all_digits = int_part + frac_part
    zeros = len(all_digits) - len(all_digits.lstrip("0"))
    digits = all_digits.strip("0") or "0"
    exponent = len(int_part) - 1 + int(exp_text or 0) - zeros
    if 1e-3 <= abs(value) < 1e7:
        if exponent >= 0:
            whole = digits[: exponent + 1].ljust(exponent + 1, "0")
            return f"{sign}{whole}.{digits[exponent + 1 :] or '0'}"
        return f"{sign}0.{'0' * (-exponent - 1)}{digits}"
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{exponent}"


def to_display_string(value: Any) -> str:
    """A value as Elasticsearch's ``string()``/``concat()`` print it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return java_double_str(value)
    if isinstance(value, DateValue):
        return value.iso()
    return str(value)


class DateValue(int):
    """Epoch nanoseconds that remember whether the field holds nanoseconds (for printing)."""

    nanos: bool = False

    def iso(self) -> str:
        """ISO-8601 text as Elasticsearch prints this date."""
        return format_date_ns(int(self), nanos=self.nanos)


class NanosDateValue(DateValue):
    """A ``date_nanos`` value."""

    nanos = True


def java_int_div(left: int, right: int) -> int:
    """Java's integer division (truncates toward zero)."""
    quotient = abs(left) // abs(right)
    return quotient if (left >= 0) == (right >= 0) else -quotient


def java_int_mod(left: int, right: int) -> int:
    """Java's ``%`` on integers (the sign follows the dividend)."""
    return left - right * java_int_div(left, right)


def wrap_long(value: int) -> int:
    """Wrap an integer to a signed 64-bit long as Java arithmetic does."""
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value
