"""The query DSL of the Elasticsearch test server: queries, sorting and ``_source`` filtering.

Queries (``match_all``, ``match_none``, ``ids``, ``term``, ``terms``, ``range``, ``exists``,
``prefix``, ``wildcard``, ``match``, ``bool``, ``query_string``, ``geo_bounding_box``) match by
field type through :class:`~tests.support.es_mapping.IndexFields`; hits sort and filter
``_source`` as Elasticsearch's do.
"""

from __future__ import annotations

import calendar
import fnmatch
import functools
import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hunter.eql.values import DateFormats, parse_date_ns

from .es_errors import illegal_argument, parsing_error, shard_failure
from .es_mapping import (
    DATES,
    KEYWORDS,
    LONG_MAX,
    LONG_MIN,
    OBJECTS,
    TEXTS,
    IndexFields,
    analyze,
    coerce,
    keyword_string,
    type_of,
)

# ---- documents and queries -----------------------------------------------------------------


@dataclass(frozen=True)
class DocRef:
    """One stored document as a query sees it."""

    index: str
    id: str
    source: Mapping[str, Any]
    fields: IndexFields
    order: int = 0
    seq_no: int = 0
    version: int = 1
    index_mode: str = "standard"
    routing: str | None = None


Predicate = Callable[[DocRef], bool]


def compile_query(query: Any, now_ns: int) -> Predicate:
    """A predicate for a query DSL object; raises ``parsing_exception`` for a malformed one."""
    if not isinstance(query, Mapping) or len(query) != 1:
        raise parsing_error("query malformed, must start with start_object and contain exactly one query")
    kind, body = next(iter(query.items()))
    compiler = _COMPILERS.get(kind)
    if compiler is None:
        raise parsing_error(f"unknown query [{kind}]")
    return compiler(body, now_ns)


def _match_all(body: Any, now_ns: int) -> Predicate:
    return lambda doc: True


def _match_none(body: Any, now_ns: int) -> Predicate:
    return lambda doc: False


def _ids(body: Any, now_ns: int) -> Predicate:
    if not isinstance(body, Mapping):
        raise parsing_error("[ids] query malformed, no start_object after query name")
    values = {keyword_string(v) for v in body.get("values", [])}
    return lambda doc: doc.id in values


def _field_body(kind: str, body: Any, value_key: str = "value") -> tuple[str, dict[str, Any]]:
    """The field name and options of ``{"field": value}`` or ``{"field": {"value": ..., ...}}``."""
    if not isinstance(body, Mapping):
        raise parsing_error(f"[{kind}] query malformed, no start_object after query name")
    names = [key for key in body if key not in ("boost", "_name")]
    if len(names) != 1:
        raise parsing_error(f"[{kind}] query doesn't support multiple fields, found [{', '.join(names)}]")
    name = names[0]
    options = body[name]
    if isinstance(options, Mapping):
        return name, dict(options)
    return name, {value_key: options}


_META_TERMS: dict[str, Callable[[DocRef], list[Any]]] = {
    "_id": lambda doc: [doc.id],
    "_index": lambda doc: [doc.index],
    "_index_mode": lambda doc: [doc.index_mode],
    "_routing": lambda doc: [doc.routing] if doc.routing is not None else [],
    "_tier": lambda doc: ["data_content"],
}


def _terms_of(doc: DocRef, name: str) -> list[Any]:
    meta = _META_TERMS.get(name)
    if meta is not None:
        return meta(doc)
    return doc.fields.terms(name, doc.source)


def _spec_of(doc: DocRef, name: str) -> dict[str, Any] | None:
    if name in _META_TERMS:
        return {"type": "keyword"}
    return doc.fields.spec(name)


class _PerIndex:
    """Query values converted once per index (the same query value reads differently per mapping)."""

    def __init__(self, convert: Callable[[dict[str, Any] | None, str], Any]) -> None:
        self.convert = convert
        self.cache: dict[int, Any] = {}

    def get(self, doc: DocRef, name: str) -> Any:
        key = id(doc.fields)
        if key not in self.cache:
            self.cache[key] = self.convert(_spec_of(doc, name), doc.index)
        return self.cache[key]


def _query_term(spec: dict[str, Any] | None, value: Any, index: str, *, insensitive: bool = False) -> Any:
    """A query value as the field's type compares it (None: matches nothing)."""
    if spec is None:
        return None
    ftype = type_of(spec)
    if ftype in KEYWORDS | TEXTS or ftype in ("version", "flattened"):
        text = keyword_string(value)
        return text.lower() if insensitive else text
    if ftype == "ip" and isinstance(value, str) and "/" in value:
        try:
            return ipaddress.ip_network(value, strict=False)
        except ValueError:
            pass
    converted = coerce(ftype, value, spec.get("format"))
    if converted is None and ftype not in OBJECTS:
        cause = {
            "type": "query_shard_exception",
            "reason": f'failed to create query: For input string: "{value}"',
        }
        raise shard_failure(400, {**cause, "index_uuid": "_na_", "index": index}, index)
    return converted


def _equal(term: Any, wanted: Any, insensitive: bool) -> bool:
    if isinstance(wanted, ipaddress.IPv4Network | ipaddress.IPv6Network):
        return isinstance(term, ipaddress.IPv4Address | ipaddress.IPv6Address) and bool(term in wanted)
    if insensitive and isinstance(term, str):
        return bool(term.lower() == wanted)
    return bool(term == wanted)


def _term(body: Any, now_ns: int) -> Predicate:
    name, options = _field_body("term", body)
    insensitive = bool(options.get("case_insensitive", False))
    wanted = _PerIndex(
        lambda spec, index: _query_term(spec, options.get("value"), index, insensitive=insensitive)
    )

    def test(doc: DocRef) -> bool:
        value = wanted.get(doc, name)
        return value is not None and any(_equal(t, value, insensitive) for t in _terms_of(doc, name))

    return test


def _terms(body: Any, now_ns: int) -> Predicate:
    if not isinstance(body, Mapping):
        raise parsing_error("[terms] query malformed, no start_object after query name")
    names = [key for key in body if key not in ("boost", "_name")]
    if len(names) != 1 or not isinstance(body[names[0]], list):
        raise parsing_error("[terms] query requires exactly one field with an array of values")
    name, values = names[0], body[names[0]]
    wanted = _PerIndex(lambda spec, index: [_query_term(spec, v, index) for v in values])

    def test(doc: DocRef) -> bool:
        options = [v for v in wanted.get(doc, name) if v is not None]
        return any(_equal(t, v, False) for t in _terms_of(doc, name) for v in options)

    return test


def _range(body: Any, now_ns: int) -> Predicate:
    name, options = _field_body("range", body)
    bounds = {key: options[key] for key in ("gt", "gte", "lt", "lte") if options.get(key) is not None}
    for old, new in (("from", "gte"), ("to", "lte")):
        if options.get(old) is not None:
            bounds.setdefault(new, options[old])

    def convert(spec: dict[str, Any] | None, index: str) -> dict[str, Any] | None:
        if spec is None:
            return None
        ftype = type_of(spec)
        if ftype in DATES:
            fmt = options.get("format") or spec.get("format")
            nanos = ftype == "date_nanos"
            return {op: _date_bound(v, op, fmt, now_ns, index, nanos=nanos) for op, v in bounds.items()}
        return {op: _query_term(spec, v, index) for op, v in bounds.items()}

    limits = _PerIndex(convert)

    def test(doc: DocRef) -> bool:
        converted = limits.get(doc, name)
        if converted is None:
            return False
        return any(_within(term, converted) for term in _terms_of(doc, name))

    return test


def _within(term: Any, bounds: Mapping[str, Any]) -> bool:
    try:
        return (
            ("gt" not in bounds or term > bounds["gt"])
            and ("gte" not in bounds or term >= bounds["gte"])
            and ("lt" not in bounds or term < bounds["lt"])
            and ("lte" not in bounds or term <= bounds["lte"])
        )
    except TypeError:
        return False


_MATH_RE = re.compile(r"([+-])(\d+)([yMwdhHms])|/([yMwdhHms])")
_PRECISION_RE = re.compile(r"\d{4}(-(\d{2})(-(\d{2})([Tt ](\d{2})(:(\d{2})(:(\d{2})([.,]\d+)?)?)?)?)?)?")


def _date_bound(value: Any, op: str, fmt: str | None, now_ns: int, index: str, *, nanos: bool) -> int:
    """A range bound on a date field in ns: formats, ``now``, ``||`` date math and rounding.

    As Elasticsearch's round-up parser, ``gt``/``lte`` fill what the date leaves out with its
    maximum (``lte: "2024-01-01"`` covers the whole day, ``lte: "...T10:00:00Z"`` all of that
    second); ``date`` fields then compare in milliseconds.
    """
    up = op in ("gt", "lte")
    formats = DateFormats(fmt) if fmt else None
    text = value if isinstance(value, str) else None
    math_part = ""
    base: int | None
    if text is not None and text.startswith("now"):
        base, math_part = now_ns, text[3:]
    else:
        anchor = value
        if text is not None and "||" in text:
            anchor, math_part = text.split("||", 1)
        base = parse_date_ns(anchor, formats)
        if base is not None and up and isinstance(anchor, str):
            base = _round_up_fill(anchor, base)
    if base is None:
        fmt_text = fmt or "strict_date_optional_time||epoch_millis"
        reason = f"failed to parse date field [{value}] with format [{fmt_text}]"
        raise shard_failure(400, {"type": "parse_exception", "reason": reason}, index)
    moment = _EPOCH + timedelta(microseconds=base // 1000)
    rounded = False
    for sign, amount, unit, round_unit in _MATH_RE.findall(math_part):
        if round_unit:
            moment, rounded = _round(moment, round_unit, up=up), True
        else:
            moment = _shift(moment, int(amount) * (1 if sign == "+" else -1), unit)
    delta = moment - _EPOCH
    ns = (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
    ns += (999 if up else 0) if rounded else base % 1000
    return ns if nanos else ns // 1_000_000 * 1_000_000


def _round_up_fill(text: str, base: int) -> int:
    """``base`` moved to the last nanosecond that ``text`` (a reduced-precision ISO date) covers."""
    match = _PRECISION_RE.match(text.strip())
    if match is None or match.group(11):
        return base
    spans = ((10, 1), (8, 60), (6, 3_600), (4, 86_400))
    for group, seconds in spans:
        if match.group(group):
            return base + seconds * 1_000_000_000 - 1
    moment = _EPOCH + timedelta(microseconds=base // 1000)
    end = _shift(moment, 1, "M" if match.group(2) else "y")
    delta = end - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 - 1


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _shift(moment: datetime, amount: int, unit: str) -> datetime:
    if unit in "yM":
        months = moment.month - 1 + amount * (12 if unit == "y" else 1)
        year, month = moment.year + months // 12, months % 12 + 1
        day = min(moment.day, calendar.monthrange(year, month)[1])
        return moment.replace(year=year, month=month, day=day)
    seconds = {"w": 604_800, "d": 86_400, "h": 3_600, "H": 3_600, "m": 60, "s": 1}[unit]
    return moment + timedelta(seconds=amount * seconds)


def _round(moment: datetime, unit: str, *, up: bool) -> datetime:
    start = {
        "y": moment.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0),
        "M": moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0),
        "w": (moment - timedelta(days=moment.weekday())).replace(hour=0, minute=0, second=0, microsecond=0),
        "d": moment.replace(hour=0, minute=0, second=0, microsecond=0),
        "h": moment.replace(minute=0, second=0, microsecond=0),
        "H": moment.replace(minute=0, second=0, microsecond=0),
        "m": moment.replace(second=0, microsecond=0),
        "s": moment.replace(microsecond=0),
    }[unit]
    if not up:
        return start
    return _shift(start, 1, unit) - timedelta(microseconds=1)


def _exists(body: Any, now_ns: int) -> Predicate:
    name = (body or {}).get("field") if isinstance(body, Mapping) else None
    if not isinstance(name, str):
        raise parsing_error("[exists] must be provided with a [field]")

    def test(doc: DocRef) -> bool:
        if name in ("_id", "_index"):
            return True
        spec = doc.fields.spec(name)
        if spec is not None and type_of(spec) in OBJECTS:
            prefix = name + "."
            return any(key.startswith(prefix) and _leaf_exists(doc, key) for key in doc.fields.fields)
        return spec is not None and _leaf_exists(doc, name)

    return test


def _leaf_exists(doc: DocRef, name: str) -> bool:
    spec = doc.fields.spec(name)
    return spec is not None and type_of(spec) not in OBJECTS and bool(doc.fields.terms(name, doc.source))


def _prefix(body: Any, now_ns: int) -> Predicate:
    name, options = _field_body("prefix", body)
    insensitive = bool(options.get("case_insensitive", False))
    wanted = keyword_string(options.get("value", ""))
    if insensitive:
        wanted = wanted.lower()

    def test(doc: DocRef) -> bool:
        terms = [t for t in _terms_of(doc, name) if isinstance(t, str)]
        return any((t.lower() if insensitive else t).startswith(wanted) for t in terms)

    return test


def _wildcard(body: Any, now_ns: int) -> Predicate:
    name, options = _field_body("wildcard", body)
    insensitive = bool(options.get("case_insensitive", False))
    pattern = keyword_string(options.get("value", options.get("wildcard", "")))
    regex = re.compile(fnmatch.translate(pattern), re.IGNORECASE if insensitive else 0)

    def test(doc: DocRef) -> bool:
        return any(isinstance(t, str) and regex.match(t) for t in _terms_of(doc, name))

    return test


def _match(body: Any, now_ns: int) -> Predicate:
    name, options = _field_body("match", body, "query")
    query = options.get("query")
    conjunctive = str(options.get("operator", "or")).lower() == "and"

    def convert(spec: dict[str, Any] | None, index: str) -> list[Any] | None:
        if spec is None:
            return None
        if type_of(spec) in TEXTS:
            return analyze(keyword_string(query))
        return [_query_term(spec, query, index)]

    wanted = _PerIndex(convert)

    def test(doc: DocRef) -> bool:
        values = wanted.get(doc, name)
        if not values:
            return False
        terms = _terms_of(doc, name)
        found = [any(_equal(t, v, False) for t in terms) for v in values]
        return all(found) if conjunctive else any(found)

    return test


def _bool(body: Any, now_ns: int) -> Predicate:
    if not isinstance(body, Mapping):
        raise parsing_error("[bool] query malformed, no start_object after query name")

    def clauses(key: str) -> list[Predicate]:
        value = body.get(key, [])
        items = value if isinstance(value, list) else [value]
        return [compile_query(item, now_ns) for item in items]

    must = clauses("must") + clauses("filter")
    should, must_not = clauses("should"), clauses("must_not")
    wanted = _minimum_should_match(body.get("minimum_should_match"), len(should), bool(must))

    def test(doc: DocRef) -> bool:
        if not all(p(doc) for p in must) or any(p(doc) for p in must_not):
            return False
        return wanted <= 0 or sum(1 for p in should if p(doc)) >= wanted

    return test


def _minimum_should_match(value: Any, optional: int, has_required: bool) -> int:
    if value is None:
        return 1 if optional and not has_required else 0
    text = str(value).strip()
    if text.endswith("%"):
        percent = int(text[:-1])
        count = optional * abs(percent) // 100
        return count if percent >= 0 else optional - count
    number = int(text)
    return number if number >= 0 else optional + number


_COMPILERS: dict[str, Callable[[Any, int], Predicate]] = {
    "match_all": _match_all,
    "match_none": _match_none,
    "ids": _ids,
    "term": _term,
    "terms": _terms,
    "range": _range,
    "exists": _exists,
    "prefix": _prefix,
    "wildcard": _wildcard,
    "match": _match,
    "bool": _bool,
}


def register(kind: str, compiler: Callable[[Any, int], Predicate]) -> None:
    """Add a query type (the text queries of :mod:`tests.support.es_text` register themselves)."""
    _COMPILERS[kind] = compiler


def terms_of(doc: DocRef, name: str) -> list[Any]:
    """The indexed values of field ``name`` (or a metadata field) in ``doc``."""
    return _terms_of(doc, name)


def field_body(kind: str, body: Any, value_key: str = "value") -> tuple[str, dict[str, Any]]:
    """The field name and options of ``{"field": value}`` or ``{"field": {"value": ..., ...}}``."""
    return _field_body(kind, body, value_key)


# ---- sorting -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SortField:
    """One ``sort`` criterion."""

    name: str
    descending: bool
    missing_first: bool
    unmapped_type: str | None = None
    mode: str | None = None


def parse_sort(sort: Any) -> list[SortField]:
    """The criteria of a ``sort`` value (string, object or list of them)."""
    items = sort if isinstance(sort, list) else [sort]
    out: list[SortField] = []
    for item in items:
        if isinstance(item, str):
            name, options = item, {}
        elif isinstance(item, Mapping) and len(item) == 1:
            name, raw = next(iter(item.items()))
            options = dict(raw) if isinstance(raw, Mapping) else {"order": raw}
        else:
            raise parsing_error("malformed sort")
        order = str(options.get("order", "desc" if name == "_score" else "asc")).lower()
        if order not in ("asc", "desc"):
            raise illegal_argument(f"Unknown SortOrder [{order}]")
        missing = str(options.get("missing", "_last"))
        out.append(
            SortField(
                name, order == "desc", missing == "_first", options.get("unmapped_type"), options.get("mode")
            )
        )
    return out


def check_sort(criteria: list[SortField], indices: Iterable[tuple[str, IndexFields]]) -> None:
    """Refuse sorts Elasticsearch refuses: text fields, and fields no searched index maps."""
    listed = list(indices)
    for criterion in criteria:
        if criterion.name in ("_doc", "_score", "_seq_no") or criterion.unmapped_type or not listed:
            continue
        specs = [(name, fields.spec(criterion.name)) for name, fields in listed]
        for index, spec in specs:
            if spec is not None and type_of(spec) in TEXTS and not spec.get("fielddata"):
                name = criterion.name
                reason = (
                    f"Fielddata is disabled on [{name}] in [{index}]. Text fields are not optimised for "
                    "operations that require per-document field data like aggregations and sorting, so these "
                    "operations are disabled by default. Please use a keyword field instead. Alternatively, "
                    f"set fielddata=true on [{name}] in order to load field data by uninverting the inverted "
                    "index. Note that this can use significant memory."
                )
                raise shard_failure(400, {"type": "illegal_argument_exception", "reason": reason}, index)
        if all(spec is None for _, spec in specs):
            index = listed[0][0]
            cause = {
                "type": "query_shard_exception",
                "reason": f"No mapping found for [{criterion.name}] in order to sort on",
                "index_uuid": "_na_",
                "index": index,
            }
            raise shard_failure(400, cause, index)


def sort_values(doc: DocRef, criteria: list[SortField]) -> list[Any]:
    """A hit's ``sort`` array: dates in epoch ms, numbers, keywords; Long.MIN/MAX or null for missing."""
    out: list[Any] = []
    for criterion in criteria:
        if criterion.name == "_doc":
            out.append(doc.order)
            continue
        if criterion.name in ("_score", "_seq_no"):
            out.append(1.0 if criterion.name == "_score" else doc.seq_no)
            continue
        spec = doc.fields.spec(criterion.name)
        terms = _sortable(spec, doc.fields.terms(criterion.name, doc.source)) if spec else []
        if terms:
            use_max = criterion.mode == "max" or (criterion.mode is None and criterion.descending)
            out.append(max(terms) if use_max else min(terms))
        elif (spec is not None and type_of(spec) in KEYWORDS) or criterion.unmapped_type in KEYWORDS:
            out.append(None)
        else:
            out.append(LONG_MIN if criterion.descending != criterion.missing_first else LONG_MAX)
    return out


def _sortable(spec: Mapping[str, Any], terms: list[Any]) -> list[Any]:
    ftype = type_of(spec)
    if ftype == "date":
        return [t // 1_000_000 for t in terms]
    if ftype == "boolean":
        return [int(t) for t in terms]
    if ftype == "ip":
        return [str(t) for t in terms]
    return terms


def compare_sort(left: list[Any], right: list[Any], criteria: list[SortField]) -> int:
    """-1/0/1 ordering of two ``sort`` arrays under ``criteria`` (null keywords follow ``missing``)."""
    for a, b, criterion in zip(left, right, criteria, strict=False):
        if a == b:
            continue
        if a is None or b is None:
            first = criterion.missing_first
            return (-1 if first else 1) if a is None else (1 if first else -1)
        try:
            result = -1 if a < b else 1
        except TypeError:
            result = -1 if str(a) < str(b) else 1
        return -result if criterion.descending else result
    return 0


def sort_docs(docs: list[DocRef], criteria: list[SortField]) -> list[tuple[DocRef, list[Any]]]:
    """``docs`` with their sort values, in sort order (ties keep input order)."""
    keyed = [(doc, sort_values(doc, criteria)) for doc in docs]

    def order(left: tuple[DocRef, list[Any]], right: tuple[DocRef, list[Any]]) -> int:
        return compare_sort(left[1], right[1], criteria)

    keyed.sort(key=functools.cmp_to_key(order))
    return keyed


# ---- _source filtering ---------------------------------------------------------------------


def source_filter(spec: Any) -> tuple[bool, list[str], list[str]]:
    """(fetch?, includes, excludes) from a ``_source`` request value."""
    if spec is None or spec is True:
        return True, [], []
    if spec is False:
        return False, [], []
    if isinstance(spec, str):
        return True, [spec], []
    if isinstance(spec, list):
        return True, [str(s) for s in spec], []
    if isinstance(spec, Mapping):
        return True, _listed(spec, "includes", "include"), _listed(spec, "excludes", "exclude")
    raise parsing_error("[_source] must be a boolean, string, array or object")


def _listed(spec: Mapping[str, Any], *keys: str) -> list[str]:
    value: Any = next((spec[k] for k in keys if k in spec), [])
    return [value] if isinstance(value, str) else [str(v) for v in value]


def filter_source(source: Mapping[str, Any], includes: list[str], excludes: list[str]) -> dict[str, Any]:
    """``source`` keeping the fields ``includes`` match (all when empty), minus those ``excludes`` match."""

    def hit(patterns: list[str], path: str) -> bool:
        return any(fnmatch.fnmatchcase(path, p) or path.startswith(p + ".") for p in patterns)

    def may_hold(path: str) -> bool:
        return any("*" in p or p.startswith(path + ".") for p in includes)

    def keep(value: Any, path: str, inside: bool) -> Any:
        if isinstance(value, list):
            kept = [keep(item, path, inside) for item in value]
            return [item for item in kept if item is not _DROP]
        if not isinstance(value, Mapping):
            return value if inside else _DROP
        out: dict[str, Any] = {}
        for key, item in value.items():
            sub = f"{path}.{key}" if path else key
            if hit(excludes, sub):
                continue
            now_inside = inside or hit(includes, sub)
            if not now_inside and not may_hold(sub):
                continue
            kept = keep(item, sub, now_inside)
            if kept is not _DROP and (now_inside or kept not in ({}, [])):
                out[key] = kept
        return out

    result = keep(source, "", not includes)
    return result if isinstance(result, dict) else {}


_DROP = object()
