"""Turn analysed expressions into fast Python predicates with Elasticsearch's evaluation rules.

Elasticsearch evaluates a where-clause in two ways, and the difference is visible:

* a comparison, ``in``, ``:``/``like``/``regex`` or ``startsWith`` whose subject is a *field* is
  pushed down as a Lucene query (term, terms, range, wildcard, regexp, prefix, exists). It matches
  a document when **any** value of a multi-valued field matches, and ``not``/``!=`` over such a
  query is a plain complement (a document without the field matches ``field != "x"``);
* anything else (functions, arithmetic, comparisons of computed values) runs as a script with
  three-valued logic over the field's *first* doc value (the smallest, doc values being sorted);
  a script that yields null does not match, and ``not null`` is null.

``compile_condition`` returns a ``doc -> bool`` predicate reproducing that split.
"""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Callable, Mapping
from typing import Any

from . import ast
from .analyzer import IsNull, Node, arithmetic, call_function, comparable, compare_values, in_values
from .fields import flatten, strings
from .functions import cidr_matcher
from .patterns import WildcardSet, lucene_wildcard_matcher, regex_matcher, wildcard_matcher
from .schema import (
    BOOLEAN,
    DATE,
    DATE_NANOS,
    DOUBLE,
    IP,
    KEYWORD,
    LONG,
    VERSION,
    FieldInfo,
    Schema,
    implied_multi_field,
    normalize,
    value_getter,
)
from .values import (
    NS_PER_MS,
    DateValue,
    NanosDateValue,
    Version,
    fast_iso_ns,
    parse_date_ns,
    parse_epoch_millis_ns,
    parse_ip,
    to_display_string,
)

Doc = Mapping[str, Any]
Pred = Callable[[Doc], bool]
ValuesFn = Callable[[Doc], list[Any]]


def _is_number(value: Any) -> bool:
    return (value.__class__ is int or value.__class__ is float) or (
        isinstance(value, int | float) and not isinstance(value, bool)
    )


# ---- typed values ---------------------------------------------------------------------------


def _to_keyword(value: Any) -> Any:
    if value.__class__ is str:
        return value
    if isinstance(value, bool | int | float):
        return to_display_string(value)
    return None


def _to_long(value: Any) -> Any:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            try:
                return int(float(value.strip()))
            except ValueError:
                return None
    return None


def _to_double(value: Any) -> Any:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _to_boolean(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if value == "true":
        return True
    if value == "false":
        return False
    return None


def to_ip(value: Any) -> ipaddress.IPv6Address | None:
    """An IP value as the 16-byte form Elasticsearch stores (IPv4 mapped into IPv6)."""
    if isinstance(value, ipaddress.IPv6Address):
        return value
    address = value if isinstance(value, ipaddress.IPv4Address) else parse_ip(value)
    if address is None:
        return None
    if isinstance(address, ipaddress.IPv4Address):
        return ipaddress.IPv6Address("::ffff:" + str(address))
    return address


def converter(info: FieldInfo | None) -> Callable[[Any], Any] | None:
    """A function turning one raw JSON value into the typed value the field's type holds."""
    if info is None:
        return None
    kind = info.type
    if kind == KEYWORD:
        limit = info.ignore_above
        if info.normalizer is not None:  # doc values hold the normalized value

            def keyword_normalized(value: Any) -> Any:
                text = _to_keyword(value)
                if text is None or (limit is not None and len(text) > limit):
                    return None
                return normalize(info, text)

            return keyword_normalized
        if limit is None:
            return _to_keyword

        def keyword_limited(value: Any) -> Any:
            text = _to_keyword(value)
            return text if text is not None and len(text) <= limit else None

        return keyword_limited
    if kind == LONG:
        return _to_long
    if kind == DOUBLE:
        return _to_double
    if kind == BOOLEAN:
        return _to_boolean
    if kind in (DATE, DATE_NANOS):
        formats = info.date_format
        nanos = kind == DATE_NANOS

        def to_date(value: Any) -> Any:
            ns = parse_date_ns(value, formats)
            if ns is None:
                return None
            if nanos:
                return NanosDateValue(ns)
            return DateValue(ns - ns % NS_PER_MS)

        return to_date
    if kind == IP:
        return to_ip
    if kind == VERSION:
        return lambda value: Version(value) if isinstance(value, str) else None
    return None


def coerce_literal(value: Any, info: FieldInfo | None) -> Any:
    """A query literal converted to the type of the field it is compared with (as Elasticsearch does)."""
    if value is None or info is None:
        return value
    kind = info.type
    if kind in (DATE, DATE_NANOS):
        ns = parse_date_ns(value)
        if ns is None:
            return _Incomparable(value)
        return NanosDateValue(ns) if kind == DATE_NANOS else DateValue(ns)
    if kind == KEYWORD:
        return _to_keyword(value) if not isinstance(value, str) else value
    if kind == IP:
        return to_ip(value) if isinstance(value, str) else _Incomparable(value)
    if kind == VERSION:
        return Version(value) if isinstance(value, str) else _Incomparable(value)
    if kind in (LONG, DOUBLE) and isinstance(value, str):
        number = _to_double(value)
        return _Incomparable(value) if number is None else number
    if kind == BOOLEAN and isinstance(value, str):
        converted = _to_boolean(value)
        return _Incomparable(value) if converted is None else converted
    return value


def _search_value(info: FieldInfo | None, value: Any) -> Any:
    """A term, terms or range query's value as Elasticsearch searches a normalized keyword with it."""
    return normalize(info, value) if value.__class__ is str else value


class _Incomparable:
    """A literal that cannot be compared with the field's values (never equal, never ordered)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return False

    def __hash__(self) -> int:
        return 0


class FieldAccess:
    """Reads one field of a document as a list of typed values and as its first doc value."""

    def __init__(self, name: str, info: FieldInfo | None, default_info: FieldInfo | None = None) -> None:
        self.name = name
        self.info = info if info is not None else default_info
        path = info.source_path if info is not None else tuple(name.split("."))
        self.raw = value_getter(name, info)
        self.conv = converter(self.info)
        self.null_value = self.info.null_value if self.info is not None else None
        if self.null_value is not None:
            self.null_conv = self.conv(self.null_value) if self.conv else self.null_value
            self.raw = _null_value_getter(path, self.null_conv)

    @property
    def own(self) -> bool:
        """True when the field is read under its own name (not a multi-field or alias reading another
        field), so an event holds a value for it exactly when that name has one."""
        return self.info is None or self.info.source_path == tuple(self.name.split("."))

    @property
    def dynamic(self) -> bool:
        """True when values are used as they come: read under the field's own name (:attr:`own`),
        without a type conversion."""
        return self.conv is None and self.own

    def values(self, doc: Doc) -> list[Any]:
        """All non-null values of the field, flattened and typed."""
        raw = self.raw(doc)
        if raw is None:
            return []
        flat = flatten(raw)
        conv = self.conv
        if conv is None:
            return flat
        out = []
        for item in flat:
            converted = conv(item)
            if converted is not None:
                out.append(converted)
        return out

    def first(self, doc: Doc) -> Any:
        """The first doc value (smallest), as a script reads the field; None when absent."""
        values = self.values(doc)
        if not values:
            return None
        if len(values) == 1:
            return values[0]
        try:
            return min(values)
        except TypeError:
            return min(values, key=_mixed_sort_key)


_MISSING = object()


def _null_value_getter(path: tuple[str, ...], replacement: Any) -> Callable[[Doc], Any]:
    """A getter that substitutes a mapping's ``null_value`` for explicit JSON nulls."""

    def walk(obj: Any, rest: tuple[str, ...]) -> list[Any]:
        if not rest:
            if obj is None:
                return [replacement]
            if isinstance(obj, list):
                return [replacement if item is None else item for item in obj] if obj else []
            return [obj]
        found: list[Any] = []
        if isinstance(obj, list):
            for item in obj:
                found.extend(walk(item, rest))
            return found
        if not isinstance(obj, Mapping):
            return found
        for split in range(1, len(rest) + 1):
            key = ".".join(rest[:split])
            value = obj.get(key, _MISSING)
            if value is _MISSING:
                continue
            found.extend(walk(value, rest[split:]))
        return found

    def get(doc: Doc) -> Any:
        values = walk(doc, path)
        return values or None

    return get


def _mixed_sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, bool):
        return (0, value)
    if isinstance(value, int | float):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    return (3, str(value))


def sort_key(value: Any) -> tuple[int, Any]:
    """A total order over join-key values of any type, nulls first (for ordering results)."""
    if value is None:
        return (-1, 0)
    if isinstance(value, ipaddress.IPv6Address):
        return (4, int(value))
    if isinstance(value, Version):
        return (5, value)
    if isinstance(value, str):
        return (2, value.encode("utf-8"))
    return _mixed_sort_key(value)


# ---- the compiler -----------------------------------------------------------------------------


class Compiler:
    """Compiles analysed expressions for one schema (or none: values as they come)."""

    def __init__(
        self,
        schema: Schema | None,
        timestamp_field: str,
        *,
        multi_fields: Mapping[str, FieldInfo] | None = None,
    ) -> None:
        self.schema = schema
        self.timestamp_field = timestamp_field
        self.multi_fields = multi_fields or {}  # without a schema: multi-fields a mapping defines
        self._access: dict[str, FieldAccess] = {}

    def access(self, name: str) -> FieldAccess:
        """The (cached) accessor of a field."""
        found = self._access.get(name)
        if found is None:
            # without a schema, a multi-field a given mapping defines reads its parent as it says;
            # <field>.caseless and <field>.text read <field> as Elastic's mappings define them
            if self.schema is not None:
                info = self.schema.lookup(name)
            else:
                info = self.multi_fields.get(name) or implied_multi_field(name)
            default = None
            if info is None and name == self.timestamp_field:
                default = FieldInfo(DATE_NANOS, tuple(name.split(".")), "date_nanos")
            found = FieldAccess(name, info, default)
            self._access[name] = found
        return found

    def timestamp_reader(self, access: FieldAccess) -> Callable[[Doc], int | None]:
        """Epoch nanoseconds of an event's timestamp (milliseconds precision for ``date`` fields)."""
        info = access.info
        if info is None or info.date_format is not None or info.type not in (DATE, DATE_NANOS):
            first = access.first
            return lambda doc: None if (value := first(doc)) is None else int(value)
        raw = access.raw
        first = access.first
        millis = info.type == DATE

        def read(doc: Doc) -> int | None:
            value = raw(doc)
            if value.__class__ is str:
                ns = fast_iso_ns(value)
                if ns is None:
                    ns = parse_epoch_millis_ns(value)
            elif value.__class__ is int:
                ns = value * NS_PER_MS
            else:
                found = first(doc)
                return None if found is None else int(found)
            if ns is None:
                return None
            return ns - ns % NS_PER_MS if millis else ns

        return read

    def _literal_for(self, node: Node, value: Any) -> Any:
        if isinstance(node, ast.Field):
            return coerce_literal(value, self.access(node.name).info)
        return value

    # ---- where-clause predicates (query semantics) --------------------------------------

    def condition(self, node: Node) -> Pred:
        """A predicate that is True where the document matches the where-clause."""
        pred, _script = self._pred(node)
        return pred

    def _pred(self, node: Node) -> tuple[Pred, bool]:
        """The predicate of a node and whether Elasticsearch would run it as a script."""
        if isinstance(node, ast.Literal):
            return (_always if node.value is True else _never), False
        if isinstance(node, ast.And | ast.Or):
            is_and = isinstance(node, ast.And)
            parts = [self._pred(child)[0] for child in _flatten_logic(node, ast.And if is_and else ast.Or)]
            return (_all_of(parts) if is_and else _any_of(parts)), False
        if isinstance(node, ast.Not):
            inner, script = self._pred(node.expr)
            if script:
                return self._script(node), True
            return (lambda doc: not inner(doc)), False
        if isinstance(node, ast.Field):
            access = self.access(node.name)
            return (lambda doc: True in access.values(doc)), False
        if (
            isinstance(node, ast.Comparison)
            and isinstance(node.left, ast.Field)
            and isinstance(node.right, ast.Literal)
        ):
            return self._field_comparison(node.op, node.left, node.right.value), False
        if isinstance(node, IsNull) and isinstance(node.expr, ast.Field):
            access = self.access(node.expr.name)
            if node.negated:
                return (lambda doc: bool(access.values(doc))), False
            return (lambda doc: not access.values(doc)), False
        if isinstance(node, ast.InList) and isinstance(node.value, ast.Field):
            return self._field_in(node), False
        if isinstance(node, ast.Match) and isinstance(node.value, ast.Field):
            return self._field_match(node), False
        if isinstance(node, ast.FunctionCall):
            pushed = self._pushed_function(node)
            if pushed is not None:
                return pushed, False
        return self._script(node), True

    def _pushed_function(self, node: ast.FunctionCall) -> Pred | None:
        """Functions Elasticsearch turns into Lucene queries when applied to a field."""
        if not node.args or not isinstance(node.args[0], ast.Field):
            return None
        field = node.args[0]
        rest = node.args[1:]
        if not all(isinstance(arg, ast.Literal) and isinstance(arg.value, str) for arg in rest):
            return None
        access = self.access(field.name)
        texts = [
            normalize(access.info, arg.value)  # prefix and wildcard queries normalize their text
            for arg in rest
            if isinstance(arg, ast.Literal) and isinstance(arg.value, str)
        ]
        if node.name == "startsWith" and len(texts) == 1:
            prefix = texts[0]
            if node.insensitive:
                lowered = prefix.lower()
                return _any_string(access, lambda value: value.lower().startswith(lowered))
            return _any_string(access, lambda value: value.startswith(prefix))
        if node.name == "endsWith" and len(texts) == 1:
            return _any_string(access, lucene_wildcard_matcher("*" + texts[0], node.insensitive))
        if node.name == "stringContains" and len(texts) == 1:
            return _any_string(access, lucene_wildcard_matcher("*" + texts[0] + "*", node.insensitive))
        if node.name == "cidrMatch":
            values = access.values
            in_blocks = cidr_matcher(texts)

            def in_networks(doc: Doc) -> bool:
                return any(in_blocks(value) is True for value in values(doc))

            return in_networks
        return None

    def _script(self, node: Node) -> Pred:
        """A multi-value-aware script: true when some binding of field values makes it true.

        Each distinct field is bound to one of its values (an absent field to null), every
        combination is tried, and the same field keeps one value across the whole expression.
        """
        slots: dict[str, int] = {}
        _collect_fields(node, slots)
        evaluate = self._eval(node, slots)
        accesses = [self.access(name).values for name in slots]
        if not accesses:
            return lambda doc: evaluate(()) is True

        def run(doc: Doc) -> bool:
            lists = [values(doc) or _NULL_ONLY for values in accesses]
            if all(len(items) == 1 for items in lists):
                return evaluate(tuple(items[0] for items in lists)) is True
            return any(evaluate(env) is True for env in itertools.product(*lists))

        return run

    def _field_comparison(self, op: str, field: ast.Field, literal: Any) -> Pred:
        access = self.access(field.name)
        target = _search_value(access.info, coerce_literal(literal, access.info))
        if op == "==":
            return _equals_pred(access, target)
        if op == "!=":
            equals = _equals_pred(access, target)
            return lambda doc: not equals(doc)
        compare = _RANGE_OPS[op]
        values = access.values

        def in_range(doc: Doc) -> bool:
            return any(comparable(value, target) and compare(value, target) for value in values(doc))

        return in_range

    def _field_in(self, node: ast.InList) -> Pred:
        assert isinstance(node.value, ast.Field)
        access = self.access(node.value.name)
        targets = [
            _search_value(access.info, coerce_literal(item.value, access.info))
            for item in node.items
            if isinstance(item, ast.Literal)
        ]
        targets = [t for t in targets if t is not None and not isinstance(t, _Incomparable)]
        values = access.values
        if node.insensitive:
            lowered = {t.lower() for t in targets if isinstance(t, str)}

            def contains(doc: Doc) -> bool:
                return any(isinstance(value, str) and value.lower() in lowered for value in values(doc))

        else:
            texts = frozenset(t for t in targets if isinstance(t, str))
            others = [t for t in targets if not isinstance(t, str)]

            def contains_typed(doc: Doc) -> bool:
                for value in values(doc):
                    if value.__class__ is str:
                        if value in texts:
                            return True
                    elif any(comparable(value, other) and value == other for other in others):
                        return True
                return False

            contains = contains_typed
            if access.dynamic and not others:
                raw = access.raw

                def contains(doc: Doc) -> bool:
                    value = raw(doc)
                    if value.__class__ is str:
                        return value in texts
                    if value.__class__ is list:
                        try:
                            if not texts.isdisjoint(value):
                                return True
                        except TypeError:
                            return contains_typed(doc)
                        return list in map(type, value) and contains_typed(doc)
                    return False

        if node.negated:
            return lambda doc: not contains(doc)
        return contains

    def _field_match(self, node: ast.Match) -> Pred:
        assert isinstance(node.value, ast.Field)
        access = self.access(node.value.name)
        # regexp and wildcard queries normalize their pattern (Lucene's \W becomes \w under lowercase)
        texts = [normalize(access.info, pattern) for pattern in node.patterns]
        if node.kind == "regex":
            return _any_string(access, regex_matcher(texts, node.insensitive))
        patterns = WildcardSet(texts, node.insensitive)
        one, any_of = patterns.one, patterns.any_of
        if access.dynamic:
            raw = access.raw

            def match_raw(doc: Doc) -> bool:
                value = raw(doc)
                if value.__class__ is str:
                    return one(value)
                if value.__class__ is list:
                    return any_of(strings(value))
                return False

            return match_raw
        values = access.values
        return lambda doc: any_of([value for value in values(doc) if value.__class__ is str])

    # ---- script expressions (three-valued, over bound field values) ----------------------

    def _eval(self, node: Node, slots: dict[str, int]) -> EnvFn:
        """A function of the bound field values computing the expression, as a script would."""
        if isinstance(node, ast.Literal):
            constant = node.value
            return lambda env: constant
        if isinstance(node, ast.Field):
            slot = slots[node.name]
            return lambda env: env[slot]
        if isinstance(node, ast.Arithmetic):
            left, right, op = self._eval(node.left, slots), self._eval(node.right, slots), node.op
            return lambda env: arithmetic(op, left(env), right(env))
        if isinstance(node, ast.Negate):
            inner = self._eval(node.expr, slots)
            return lambda env: arithmetic("-", 0, inner(env))
        if isinstance(node, ast.FunctionCall):
            args = [self._eval(arg, slots) for arg in node.args]
            call = node
            return lambda env: call_function(call, [arg(env) for arg in args])
        if isinstance(node, ast.Comparison):
            left = self._eval(node.left, slots)
            op = node.op
            if isinstance(node.right, ast.Literal):
                constant = self._literal_for(node.left, node.right.value)
                return lambda env: compare_values(op, left(env), constant)
            right = self._eval(node.right, slots)
            return lambda env: compare_values(op, left(env), right(env))
        if isinstance(node, IsNull):
            inner = self._eval(node.expr, slots)
            if node.negated:
                return lambda env: inner(env) is not None
            return lambda env: inner(env) is None
        if isinstance(node, ast.Not):
            inner = self._eval(node.expr, slots)
            return lambda env: _not3(inner(env))
        if isinstance(node, ast.And):
            left, right = self._eval(node.left, slots), self._eval(node.right, slots)
            return lambda env: _and3(left(env), right(env))
        if isinstance(node, ast.Or):
            left, right = self._eval(node.left, slots), self._eval(node.right, slots)
            return lambda env: _or3(left(env), right(env))
        if isinstance(node, ast.InList):
            subject = self._eval(node.value, slots)
            items = [
                self._literal_for(node.value, item.value)
                for item in node.items
                if isinstance(item, ast.Literal)
            ]
            insensitive, negated = node.insensitive, node.negated

            def in_list(env: tuple[Any, ...]) -> Any:
                result = in_values(subject(env), items, insensitive)
                return _not3(result) if negated else result

            return in_list
        if isinstance(node, ast.Match):
            subject = self._eval(node.value, slots)
            matcher = (
                regex_matcher(node.patterns, node.insensitive)
                if node.kind == "regex"
                else wildcard_matcher(node.patterns, node.insensitive)
            )

            def match(env: tuple[Any, ...]) -> Any:
                value = subject(env)
                if value is None:
                    return None
                return matcher(value if isinstance(value, str) else to_display_string(value))

            return match
        raise TypeError(f"cannot compile {node!r}")

    # ---- join keys ------------------------------------------------------------------------

    def key_values(self, node: Node, optional: bool) -> ValuesFn:
        """Distinct non-null key values of an event; ``[None]`` for a null optional key, ``[]`` to skip."""
        if isinstance(node, ast.Literal):
            return (lambda doc: [None]) if optional else (lambda doc: [])
        assert isinstance(node, ast.Field)
        values = self.access(node.name).values

        def field_keys(doc: Doc) -> list[Any]:
            found = values(doc)
            if not found:
                return [None] if optional else []
            if len(found) == 1:
                return found
            distinct: list[Any] = []
            seen: set[Any] = set()
            for item in found:
                marker = _hashable(item)
                if marker not in seen:
                    seen.add(marker)
                    distinct.append(item)
            return distinct

        return field_keys


_NULL_ONLY: list[Any] = [None]
EnvFn = Callable[[tuple[Any, ...]], Any]


def field_names(node: Any) -> list[str]:
    """The names of the fields ``node`` reads, each once, in the order they come."""
    slots: dict[str, int] = {}
    _collect_fields(node, slots)
    return list(slots)


def _collect_fields(node: Any, slots: dict[str, int]) -> None:
    if isinstance(node, ast.Field):
        slots.setdefault(node.name, len(slots))
        return
    if isinstance(node, tuple):
        for item in node:
            _collect_fields(item, slots)
        return
    for name in ast.child_slots(node.__class__):
        _collect_fields(getattr(node, name, None), slots)


def _hashable(value: Any) -> Any:
    if isinstance(value, bool):
        return ("b", value)
    return value


def _always(doc: Doc) -> bool:
    return True


def _never(doc: Doc) -> bool:
    return False


def _not3(value: Any) -> Any:
    return None if value is None else not value


def _and3(left: Any, right: Any) -> Any:
    if left is False or right is False:
        return False
    if left is None or right is None:
        return None
    return bool(left) and bool(right)


def _or3(left: Any, right: Any) -> Any:
    if left is True or right is True:
        return True
    if left is None or right is None:
        return None
    return bool(left) or bool(right)


_RANGE_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: bool(a < b),
    "<=": lambda a, b: bool(a <= b),
    ">": lambda a, b: bool(a > b),
    ">=": lambda a, b: bool(a >= b),
}


def _equals_pred(access: FieldAccess, target: Any) -> Pred:
    if target is None or isinstance(target, _Incomparable):
        return _never
    values = access.values

    def equals(doc: Doc) -> bool:
        return any(value == target and comparable(value, target) for value in values(doc))

    if access.dynamic and isinstance(target, str):
        raw = access.raw

        def equals_str(doc: Doc) -> bool:
            value = raw(doc)
            if value.__class__ is str:
                return bool(value == target)
            return holds_string(value, target)

        return equals_str
    if access.dynamic and target.__class__ in (int, float):
        raw = access.raw

        def equals_number(doc: Doc) -> bool:
            # a single number (ports, pids, event codes): compared at once; a list or another type
            # of value the general way (a string or a boolean never equals a number)
            value = raw(doc)
            if value.__class__ is int or value.__class__ is float:
                return bool(value == target)
            return value is not None and equals(doc)

        return equals_number
    return equals


def holds_string(raw: Any, text: str) -> bool:
    """Whether a raw field value that is not a string holds the string ``text``: a list holding it
    (nested lists flattened); a number, an object or None never does."""
    if raw.__class__ is not list:
        return False
    return text in raw or (list in map(type, raw) and text in flatten(raw))


def _any_string(access: FieldAccess, matcher: Callable[[str], bool]) -> Pred:
    if access.dynamic:
        raw = access.raw

        def any_raw(doc: Doc) -> bool:
            value = raw(doc)
            if value.__class__ is str:
                return matcher(value)
            if value.__class__ is list:
                return any(matcher(item) for item in strings(value))
            return False

        return any_raw
    values = access.values

    def any_typed(doc: Doc) -> bool:
        return any(value.__class__ is str and matcher(value) for value in values(doc))

    return any_typed


def _flatten_logic(node: Any, kind: type) -> list[Node]:
    if isinstance(node, kind):
        return [*_flatten_logic(node.left, kind), *_flatten_logic(node.right, kind)]  # type: ignore[attr-defined]
    return [node]


def _all_of(parts: list[Pred]) -> Pred:
    if len(parts) == 2:
        first, second = parts
        return lambda doc: first(doc) and second(doc)
    if len(parts) == 3:
        first, second, third = parts
        return lambda doc: first(doc) and second(doc) and third(doc)

    def all_parts(doc: Doc) -> bool:
        return all(part(doc) for part in parts)

    return all_parts


def _any_of(parts: list[Pred]) -> Pred:
    if len(parts) == 2:
        first, second = parts
        return lambda doc: first(doc) or second(doc)
    if len(parts) == 3:
        first, second, third = parts
        return lambda doc: first(doc) or second(doc) or third(doc)

    def any_part(doc: Doc) -> bool:
        return any(part(doc) for part in parts)

    return any_part
