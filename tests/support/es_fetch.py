"""The fields API (``fields`` of search and EQL requests): each mapped field's values, typed and formatted.

Dates print with the requested or mapped ``format`` (``strict_date_optional_time`` by default,
``epoch_millis`` as text), numbers and booleans as numbers and booleans, IPs canonically, points
as GeoJSON; values a field ignored (``ignore_above``, ``ignore_malformed``) are left out and, for
malformed ones, reported in ``ignored_field_values``.
"""

from __future__ import annotations

import fnmatch
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hunter.eql.values import format_date_ns

from .es_errors import EsError, parsing_error
from .es_mapping import (
    DATES,
    FLOATS,
    INTEGERS,
    KEYWORDS,
    OBJECTS,
    TEXTS,
    IndexFields,
    coerce,
    keyword_string,
    type_of,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class FieldFormat:
    """One ``fields`` entry: a name pattern and an optional format."""

    pattern: str
    format: str | None = None
    include_unmapped: bool = False


def parse_fields(value: Any) -> list[FieldFormat]:
    """The ``fields`` of a request (strings or ``{"field", "format"}`` objects)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise parsing_error("[fields] must be an array")
    out: list[FieldFormat] = []
    for item in value:
        if isinstance(item, str):
            out.append(FieldFormat(item))
        elif isinstance(item, Mapping) and isinstance(item.get("field"), str):
            out.append(
                FieldFormat(item["field"], item.get("format"), bool(item.get("include_unmapped", False)))
            )
        else:
            raise parsing_error("Expected [VALUE_STRING] or [START_OBJECT] but found " + type(item).__name__)
    return out


def fetch_fields(
    fields: IndexFields,
    source: Mapping[str, Any],
    wanted: Sequence[FieldFormat],
    ignored_values: Mapping[str, list[Any]] | None = None,
) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    """(``fields``, ``ignored_field_values``) of one hit."""
    out: dict[str, list[Any]] = {}
    ignored: dict[str, list[Any]] = {}
    for entry in wanted:
        for name, ref in fields.fields.items():
            if ref.kind == "object" or type_of(ref.spec) in OBJECTS or name in out:
                continue
            if not fnmatch.fnmatchcase(name, entry.pattern):
                continue
            if ref.kind == "alias" and entry.pattern != name:
                continue
            values = [
                v
                for v in (
                    _format(ref.spec, raw, entry.format) for raw in _values(fields, name, ref.spec, source)
                )
                if v is not None
            ]
            if values:
                out[name] = values
            bad = (ignored_values or {}).get(name)
            if bad:
                ignored[name] = list(bad)
    return out, ignored


def _values(fields: IndexFields, name: str, spec: Mapping[str, Any], source: Mapping[str, Any]) -> list[Any]:
    if type_of(spec) == "constant_keyword" and spec.get("value") is not None:
        return [spec["value"]]
    return fields.raw(name, source)


def _format(spec: Mapping[str, Any], value: Any, fmt: str | None) -> Any:
    ftype = type_of(spec)
    if ftype in KEYWORDS or ftype in ("version", "flattened"):
        if isinstance(value, Mapping | list):
            return None
        text = keyword_string(value)
        limit = spec.get("ignore_above")
        return None if limit is not None and len(text) > int(limit) else text
    if ftype in TEXTS:
        return keyword_string(value) if not isinstance(value, Mapping | list) else None
    if ftype in INTEGERS:
        return coerce(ftype, value)
    if ftype in FLOATS:
        number = coerce(ftype, value)
        return None if number is None else float(number)
    if ftype in DATES:
        ns = coerce(ftype, value, spec.get("format"))
        return (
            None if ns is None else format_date(ns, fmt or _default_format(spec), nanos=ftype == "date_nanos")
        )
    if ftype == "boolean":
        return coerce(ftype, value)
    if ftype == "ip":
        address = coerce(ftype, value)
        return None if address is None else str(address)
    if ftype == "geo_point":
        point = parse_point(value)
        return None if point is None else {"type": "Point", "coordinates": [point[1], point[0]]}
    return value


def _default_format(spec: Mapping[str, Any]) -> str:
    fmt = spec.get("format")
    if isinstance(fmt, str):
        return fmt.split("||")[0]
    return "strict_date_optional_time_nanos" if type_of(spec) == "date_nanos" else "strict_date_optional_time"


def format_date(ns: int, fmt: str, *, nanos: bool = False) -> str:
    """Epoch nanoseconds printed in a named or Java-pattern date format."""
    if fmt == "epoch_millis":
        return str(ns // 1_000_000)
    if fmt == "epoch_second":
        return str(ns // 1_000_000_000)
    if fmt in ("strict_date_optional_time", "date_optional_time", "strict_date_time", "date_time", "iso8601"):
        return format_date_ns(ns)
    if fmt == "strict_date_optional_time_nanos":
        return format_date_ns(ns, nanos=True) if nanos else format_date_ns(ns)
    moment = _EPOCH + timedelta(microseconds=ns // 1000)
    return _java_format(moment, fmt)


def _java_format(moment: datetime, pattern: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        letter = pattern[i]
        j = i
        while j < len(pattern) and pattern[j] == letter:
            j += 1
        width = j - i
        if letter == "'":
            end = pattern.index("'", i + 1)
            out.append(pattern[i + 1 : end])
            i = end + 1
            continue
        values = {
            "y": moment.year,
            "M": moment.month,
            "d": moment.day,
            "H": moment.hour,
            "m": moment.minute,
            "s": moment.second,
        }
        if letter in values:
            out.append(
                str(values[letter]).zfill(width)
                if letter != "y" or width != 2
                else f"{moment.year % 100:02d}"
            )
        elif letter == "S":
            out.append(f"{moment.microsecond:06d}"[:width].ljust(width, "0"))
        else:
            out.append(letter * width)
        i = j
    return "".join(out)


def parse_point(value: Any) -> tuple[float, float] | None:
    """(lat, lon) of a geo_point value: ``"lat,lon"``, ``[lon, lat]``, ``{"lat", "lon"}`` or GeoJSON."""
    try:
        if isinstance(value, str):
            lat_text, lon_text = value.split(",")
            return float(lat_text), float(lon_text)
        if isinstance(value, list) and len(value) >= 2 and all(isinstance(v, int | float) for v in value[:2]):
            return float(value[1]), float(value[0])
        if isinstance(value, Mapping):
            if "coordinates" in value:
                lon, lat = value["coordinates"][:2]
                return float(lat), float(lon)
            return float(value["lat"]), float(value["lon"])
    except (ValueError, KeyError, TypeError):
        return None
    return None


def points(value: Any, null_value: Any = None) -> list[tuple[float, float]]:
    """Every point of a geo_point field's value (a single point or an array; nulls as ``null_value``)."""
    if value is None:
        return points(null_value) if null_value is not None else []
    single = parse_point(value)
    if single is not None:
        return [single]
    if isinstance(value, list):
        return [p for item in value for p in points(item, null_value)]
    return []


def ip_text(value: Any) -> str | None:
    """An IP address in canonical form, or None."""
    try:
        return str(ipaddress.ip_address(str(value)))
    except ValueError:
        return None


def check_format(fmt: str | None) -> None:
    """Refuse formats that cannot print dates."""
    if fmt is not None and not fmt.strip():
        raise EsError(400, "illegal_argument_exception", "format must not be empty")
