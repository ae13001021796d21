"""Check and simplify a parsed query: resolve fields against a schema, fold constants, verify.

Mirrors Elasticsearch's analyzer, optimizer and verifier where they change results or raise
errors: ``?field`` missing from the mapping becomes ``null``; ``x == null`` becomes an is-null
test; literals move to the right of comparisons; constant sub-expressions are evaluated once.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from . import ast
from . import functions as fn
from .errors import EqlSemanticError
from .patterns import regex_matcher, wildcard_matcher
from .schema import BOOLEAN, DATE_TYPES, KEYWORD, NUMERIC_TYPES, OBJECT, UNSUPPORTED, Schema
from .values import java_int_div, java_int_mod, wrap_long

STRING_TYPES = frozenset({KEYWORD, fn.STRING})


@dataclass(frozen=True, slots=True)
class IsNull:
    """``expr == null`` after rewriting."""

    expr: ast.Expr
    negated: bool = False
    pos: ast.Pos = field(default=ast.NO_POS, compare=False)


Node = Any  # ast.Expr | IsNull

_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


def _err(message: str, pos: ast.Pos) -> EqlSemanticError:
    return EqlSemanticError(message, pos.line, pos.column)


class Analyzer:
    """Resolves one statement's expressions against an optional schema."""

    def __init__(self, schema: Schema | None) -> None:
        self.schema = schema

    # ---- entry points ----------------------------------------------------------------------

    def condition(self, expr: ast.Expr) -> Node:
        """A where-clause: resolved, folded, and checked to be boolean."""
        node = self.expr(expr, where=True)
        if isinstance(node, ast.Literal):
            if node.value is not None and not isinstance(node.value, bool):
                raise _err(
                    f"Condition expression needs to be boolean, found [{_literal_type(node.value)}]", expr.pos
                )
            return node
        kind = self.result_type(node)
        if kind not in (BOOLEAN, None):
            raise _err(f"Condition expression needs to be boolean, found [{kind.upper()}]", _pos(node))
        return node

    def key(self, expr: ast.Expr) -> Node:
        """A join key expression."""
        return self.expr(expr, where=False)

    # ---- expressions -----------------------------------------------------------------------

    def expr(self, e: Node, *, where: bool) -> Node:
        """Resolve and fold one expression; ``where`` marks the boolean structure of a filter."""
        if isinstance(e, ast.Literal):
            return e
        if isinstance(e, ast.Field):
            return self._field(e)
        if isinstance(e, ast.Not):
            inner = self.expr(e.expr, where=where)
            if isinstance(inner, ast.Literal):
                return ast.Literal(_not(inner.value), e.pos)
            return ast.Not(inner, e.pos)
        if isinstance(e, ast.And | ast.Or):
            return self._logic(e, where)
        if isinstance(e, ast.Comparison):
            return self._comparison(e, where)
        if isinstance(e, ast.InList):
            return self._in(e)
        if isinstance(e, ast.Match):
            return self._match(e)
        if isinstance(e, ast.Arithmetic):
            return self._arith(e)
        if isinstance(e, ast.Negate):
            inner = self.expr(e.expr, where=False)
            if isinstance(inner, ast.Literal):
                value = inner.value
                if value is None:
                    return ast.Literal(None, e.pos)
                if not _is_number(value):
                    raise _err(f"Cannot negate a non-numeric value [{value!r}]", e.pos)
                return ast.Literal(-value, e.pos)  # type: ignore[operator]
            return ast.Negate(inner, e.pos)
        if isinstance(e, ast.FunctionCall):
            return self._function(e)
        if isinstance(e, IsNull):
            return e
        raise _err(f"Unsupported expression [{type(e).__name__}]", ast.NO_POS)

    def _field(self, f: ast.Field) -> Node:
        if self.schema is None:
            return f
        info = self.schema.lookup(f.name)
        if info is None:
            if f.optional:
                return ast.Literal(None, f.pos)
            raise _err(f"Unknown column [{f.name}]", f.pos)
        if info.type == UNSUPPORTED:
            raise _err(f"Cannot use field [{f.name}] with unsupported type [{info.es_type}]", f.pos)
        if info.type == OBJECT:
            raise _err(f"Cannot use field [{f.name}] type [object] only its subfields", f.pos)
        return f

    def _logic(self, e: ast.And | ast.Or, where: bool) -> Node:
        left = self.expr(e.left, where=where)
        right = self.expr(e.right, where=where)
        is_and = isinstance(e, ast.And)
        absorbing = not is_and
        for side in (left, right):
            if isinstance(side, ast.Literal) and side.value is absorbing:
                return ast.Literal(absorbing, e.pos)
        if isinstance(left, ast.Literal) and isinstance(right, ast.Literal):
            return ast.Literal(
                _and(left.value, right.value) if is_and else _or(left.value, right.value), e.pos
            )
        identity = not absorbing
        if isinstance(left, ast.Literal) and left.value is identity:
            return right
        if isinstance(right, ast.Literal) and right.value is identity:
            return left
        return ast.And(left, right, e.pos) if is_and else ast.Or(left, right, e.pos)

    def _comparison(self, e: ast.Comparison, where: bool) -> Node:
        left = self.expr(e.left, where=False)
        right = self.expr(e.right, where=False)
        op = e.op
        if isinstance(left, ast.Literal) and not isinstance(right, ast.Literal):
            left, right, op = right, left, _FLIP[op]
        if op in ("==", "!=") and isinstance(right, ast.Literal) and right.value is None:
            if isinstance(left, ast.Literal):
                is_null = left.value is None
                return ast.Literal(is_null if op == "==" else not is_null, e.pos)
            return IsNull(left, negated=op == "!=", pos=e.pos)
        if isinstance(left, ast.Literal) and isinstance(right, ast.Literal):
            return ast.Literal(compare_values(op, left.value, right.value), e.pos)
        if where and not isinstance(right, ast.Literal) and not (_optional(left) or _optional(right)):
            raise _err(
                "Comparisons against fields are not (currently) supported; "
                f"offender [{_show(right)}] in [{op}]",
                _pos(right),
            )
        return ast.Comparison(op, left, right, e.pos)

    def _in(self, e: ast.InList) -> Node:
        value = self.expr(e.value, where=False)
        items = tuple(self.expr(item, where=False) for item in e.items)
        for item in items:
            if not isinstance(item, ast.Literal):
                raise _err(
                    "Comparisons against fields are not (currently) supported; "
                    f"offender [{_show(item)}] in [in]",
                    _pos(item),
                )
        if isinstance(value, ast.Literal):
            literals = [item.value for item in items]
            result = in_values(value.value, literals, e.insensitive)
            return ast.Literal(_not(result) if e.negated else result, e.pos)
        return ast.InList(value, items, e.insensitive, e.negated, e.pos)

    def _match(self, e: ast.Match) -> Node:
        value = self.expr(e.value, where=False)
        kind = self.result_type(value)
        if kind is not None and kind not in STRING_TYPES:
            raise _err(
                f"first argument of [{_show(value)}] must be [string], "
                f"found value [{_show(value)}] type [{kind}]",
                _pos(value),
            )
        if isinstance(value, ast.Literal):
            if value.value is None:
                return ast.Literal(None, e.pos)
            matcher = (
                regex_matcher(e.patterns, e.insensitive)
                if e.kind == "regex"
                else wildcard_matcher(e.patterns, e.insensitive)
            )
            return ast.Literal(matcher(str(value.value)), e.pos)
        return ast.Match(value, e.kind, e.patterns, e.insensitive, e.pos)

    def _arith(self, e: ast.Arithmetic) -> Node:
        left = self.expr(e.left, where=False)
        right = self.expr(e.right, where=False)
        for side in (left, right):
            kind = self.result_type(side)
            if kind is not None and kind not in NUMERIC_TYPES and kind != fn.NUMBER:
                raise _err(
                    f"{'first' if side is left else 'second'} argument of [{_show(e)}] must be [numeric], "
                    f"found value [{_show(side)}] type [{kind}]",
                    _pos(side),
                )
        if isinstance(left, ast.Literal) and isinstance(right, ast.Literal):
            return ast.Literal(arithmetic(e.op, left.value, right.value), e.pos)
        return ast.Arithmetic(e.op, left, right, e.pos)

    def _function(self, e: ast.FunctionCall) -> Node:
        spec = fn.lookup(e.name)
        if spec is None:
            raise _err(f"Unknown function [{e.name}{'~' if e.insensitive else ''}]", e.pos)
        if e.insensitive and not spec.insensitive_variant:
            raise _err(f"Function [{spec.name}] does not support case-insensitive matching (~)", e.pos)
        count = len(e.args)
        if count < spec.min_args or (spec.max_args is not None and count > spec.max_args):
            raise _err(_arity_message(spec, count), e.pos)
        args = tuple(self.expr(arg, where=False) for arg in e.args)
        for index in spec.string_args:
            kind = self.result_type(args[index])
            if kind is not None and kind not in STRING_TYPES:
                raise _err(
                    f"{_ordinal(index)} argument of [{_show(e)}] must be [string], found value "
                    f"[{_show(args[index])}] type [{kind}]",
                    _pos(args[index]),
                )
        for index in spec.numeric_args:
            kind = self.result_type(args[index])
            if kind is not None and kind not in NUMERIC_TYPES and kind != fn.NUMBER:
                raise _err(
                    f"{_ordinal(index)} argument of [{_show(e)}] must be [numeric], found value "
                    f"[{_show(args[index])}] type [{kind}]",
                    _pos(args[index]),
                )
        name = spec.name.lower()
        if (
            name == "between"
            and count == 4
            and not (isinstance(args[3], ast.Literal) and isinstance(args[3].value, bool | None))
        ):
            raise _err(f"fourth argument of [{_show(e)}] must be a boolean constant", _pos(args[3]))
        if name == "cidrmatch":
            for arg in args[1:]:
                if not (isinstance(arg, ast.Literal) and isinstance(arg.value, str)):
                    raise _err(
                        f"second argument of [{_show(e)}] must be a constant, received [{_show(arg)}]",
                        _pos(arg),
                    )
        call = ast.FunctionCall(spec.name, args, e.insensitive, e.pos)
        if all(isinstance(arg, ast.Literal) for arg in args):
            return ast.Literal(
                call_function(call, [arg.value for arg in args if isinstance(arg, ast.Literal)]), e.pos
            )
        return call

    # ---- types -----------------------------------------------------------------------------

    def result_type(self, node: Node) -> str | None:
        """The type an expression yields: a schema type, a function result type, or None if unknown."""
        if isinstance(node, ast.Literal):
            return None
        if isinstance(node, ast.Field):
            if self.schema is None:
                return None
            info = self.schema.lookup(node.name)
            if info is None:
                return None
            if info.type in DATE_TYPES:
                return None
            return info.type
        if isinstance(node, ast.Comparison | ast.InList | ast.Match | ast.Not | ast.And | ast.Or | IsNull):
            return BOOLEAN
        if isinstance(node, ast.Arithmetic | ast.Negate):
            return fn.NUMBER
        if isinstance(node, ast.FunctionCall):
            spec = fn.lookup(node.name)
            return spec.result if spec else None
        return None


# ---- value semantics shared with the compiler ------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def comparable(left: Any, right: Any) -> bool:
    """True when two non-null values can be ordered or compared for equality."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool)
    if _is_number(left):
        return _is_number(right)
    return type(left) is type(right) or (isinstance(left, str) and isinstance(right, str))


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: bool(a == b),
    "!=": lambda a, b: bool(a != b),
    "<": lambda a, b: bool(a < b),
    "<=": lambda a, b: bool(a <= b),
    ">": lambda a, b: bool(a > b),
    ">=": lambda a, b: bool(a >= b),
}


def compare_values(op: str, left: Any, right: Any) -> bool | None:
    """Three-valued comparison of two single values (null when either is null or they don't compare)."""
    if left is None or right is None:
        return None
    if not comparable(left, right):
        if op == "==":
            return False
        if op == "!=":
            return True
        return None
    return _OPS[op](left, right)


def in_values(value: Any, items: list[Any], insensitive: bool) -> bool | None:
    """Three-valued ``value in (items)``."""
    if value is None:
        return None
    if insensitive and isinstance(value, str):
        lowered = value.lower()
        return any(isinstance(item, str) and item.lower() == lowered for item in items)
    return any(item is not None and comparable(value, item) and value == item for item in items)


def arithmetic(op: str, left: Any, right: Any) -> Any:
    """Java-like arithmetic on numbers (integer division truncates; null in, null out)."""
    if left is None or right is None or not _is_number(left) or not _is_number(right):
        return None
    if op == "+":
        result = left + right
    elif op == "-":
        result = left - right
    elif op == "*":
        result = left * right
    elif op == "/":
        if right == 0:
            return None
        if isinstance(left, int) and isinstance(right, int):
            return wrap_long(java_int_div(left, right))
        result = left / right
    else:
        if right == 0:
            return None
        if isinstance(left, int) and isinstance(right, int):
            return java_int_mod(left, right)
        return math.fmod(left, right)
    return wrap_long(result) if isinstance(result, int) else result


def call_function(call: ast.FunctionCall, args: list[Any]) -> Any:
    """Evaluate a function call on already-evaluated argument values."""
    spec = fn.lookup(call.name)
    assert spec is not None
    if spec.insensitive_variant:
        return spec.impl(*args, insensitive=call.insensitive)
    return spec.impl(*args)


def _not(value: Any) -> Any:
    return None if value is None else not value


def _and(left: Any, right: Any) -> Any:
    if left is False or right is False:
        return False
    if left is None or right is None:
        return None
    return True


def _or(left: Any, right: Any) -> Any:
    if left is True or right is True:
        return True
    if left is None or right is None:
        return None
    return False


def _optional(node: Node) -> bool:
    if isinstance(node, ast.Field):
        return node.optional
    return False


def _pos(node: Node) -> ast.Pos:
    pos = getattr(node, "pos", ast.NO_POS)
    return pos if isinstance(pos, ast.Pos) else ast.NO_POS


def _literal_type(value: Any) -> str:
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int):
        return "INTEGER"
    if isinstance(value, float):
        return "DOUBLE"
    if isinstance(value, str):
        return "KEYWORD"
    return "NULL"


def _ordinal(index: int) -> str:
    return ("first", "second", "third", "fourth", "fifth")[index] if index < 5 else f"argument {index + 1}"


def _arity_message(spec: fn.FunctionSpec, count: int) -> str:
    if spec.max_args is None:
        expected = f"at least {spec.min_args}"
    elif spec.min_args == spec.max_args:
        expected = f"exactly {spec.min_args}"
    else:
        expected = f"between {spec.min_args} and {spec.max_args}"
    plural = "" if expected.endswith(" 1") else "s"
    return f"error building [{spec.name}]: expects {expected} argument{plural}, found [{count}]"


def _show(node: Node) -> str:
    if isinstance(node, ast.Field):
        return ("?" if node.optional else "") + node.name
    if isinstance(node, ast.Literal):
        if isinstance(node.value, str):
            return f'"{node.value}"'
        if node.value is None:
            return "null"
        if isinstance(node.value, bool):
            return "true" if node.value else "false"
        return str(node.value)
    if isinstance(node, ast.FunctionCall):
        return f"{node.name}{'~' if node.insensitive else ''}({', '.join(_show(a) for a in node.args)})"
    if isinstance(node, ast.Arithmetic):
        return f"{_show(node.left)} {node.op} {_show(node.right)}"
    if isinstance(node, ast.Comparison):
        return f"{_show(node.left)} {node.op} {_show(node.right)}"
    return type(node).__name__


def _source(e: ast.Comparison) -> str:
    return f"{_show(e.left)} {e.op} {_show(e.right)}"


def with_pos(node: ast.Literal, pos: ast.Pos) -> ast.Literal:
    """The literal with another position."""
    return replace(node, pos=pos)
