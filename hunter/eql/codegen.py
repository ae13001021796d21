"""Generate one Python function per where-clause for the hot path (documents read as they come).

The closures of :mod:`hunter.eql.compiler` cost a Python call per node and per field read. For
schema-less searches, the common pushed-down checks (category, ``==``/``!=`` against a string,
``in``, ``:``/``like``/``like~`` wildcards, ``and``/``or``/``not``) are emitted as inline
statements instead: fields are read lazily (only on the branch that needs them) and at most once
per path, and parent objects are looked up once. Everything else (typed fields, scripts,
regexes) is embedded as a call to the compiler's closure, so semantics stay in one place.

Python's ``compile`` of the generated source is most of the cost of generating it, and a search
calls few of a rule library's functions (the dispatcher hands each event to the few rules that can
match it). So a generated function is compiled when it is first called: until then it runs a stub
that compiles the source and puts the code in place, so every holder of the function runs the
generated code from then on, at no cost per call. Its source is written at once, or (``defer``) on
that first call too, for clauses :mod:`.query` has found cannot fail while being written.
"""

from __future__ import annotations

import functools
import itertools
import threading
from collections.abc import Callable
from types import FunctionType
from typing import Any

from . import ast
from .analyzer import Node
from .codecache import compiled
from .compiler import Compiler, Pred, field_names, holds_string
from .fields import _as_list, _descend, flatten, make_getter, strings
from .patterns import WildcardSet

_Category = tuple[str, str, str]  # ("category", field, value)
_MAX_INDENT = 4 * 60  # nested blocks of generated code, well under Python's limit of 100


class _Emitter:
    """Collects the generated statements, their constants, and which variables hold which fields."""

    def __init__(self, compiler: Compiler, *, unwrap: bool = True) -> None:
        self.compiler = compiler
        self.unwrap = unwrap  # field variables feed only any-value tests (not join keys)
        self.namespace: dict[str, Any] = {
            "_strings": strings,
            "_in_list": _in_list,
            "_in_raw": _in_raw,
            "_equals_raw": holds_string,
            "_as_list": _as_list,
            "_descend": _descend,
            "_KEY_SCALARS": frozenset({str, int, float}),
        }
        self.fields: dict[str, str] = {}
        self.used: dict[str, None] = {}  # fields referenced by the expression being emitted
        self._names = itertools.count()
        self._parents: dict[str, str] = {}  # the variable of the object under each top-level key

    def constant(self, value: Any, prefix: str = "k") -> str:
        name = f"_{prefix}{next(self._names)}"
        self.namespace[name] = value
        return name

    def temp(self) -> str:
        return f"r{next(self._names)}"

    def field_var(self, name: str) -> str:
        var = self.fields.get(name)
        if var is None:
            var = f"v{len(self.fields)}"
            self.fields[name] = var
        self.used[name] = None
        return var

    def reads(self, read: set[str], indent: str) -> list[str]:
        """Statements reading the fields used since the last call that this path has not read."""
        lines: list[str] = []
        for name in self.used:
            if name in read:
                continue
            read.add(name)
            var = self.fields[name]
            path = tuple(name.split("."))
            # A one-value array tests exactly as its value (any-value matching), and the scalar
            # tests are the fast branch of every generated comparison: unwrap it once here.
            unwrap = f"{indent}if {var}.__class__ is list and len({var}) == 1: {var} = {var}[0]"
            if len(path) == 1:
                lines.append(f"{indent}{var} = doc.get({path[0]!r})")
                if self.unwrap:
                    lines.append(unwrap)
                continue
            if len(path) > 2:  # a getter call: fewer instructions than the same reads in place
                lines.append(f"{indent}{var} = {self.constant(make_getter(path), 'g')}(doc)")
                if self.unwrap:
                    lines.append(unwrap)
                continue
            head, leaf = path
            parent = self._parents.get(head)
            if parent is None:
                parent = self._parents[head] = f"p_{head}" if head.isidentifier() else f"p{next(self._names)}"
            marker = f"@{head}"
            if marker not in read:
                read.add(marker)
                lines.append(f"{indent}{parent} = doc.get({head!r})")
            sub = self.constant(make_getter((leaf,)), "g")
            lines += [
                f"{indent}{var} = {parent}.get({leaf!r}) if {parent}.__class__ is dict else "
                f"(None if {parent} is None else _descend({parent}, {sub}))",
                f"{indent}_t = doc.get({name!r})",
                f"{indent}if _t is not None: {var} = _t if {var} is None else _as_list({var}) + _as_list(_t)",
            ]
            if self.unwrap:
                lines.append(unwrap)
        self.used.clear()
        return lines

    def test(self, node: Any, read: set[str], indent: str) -> tuple[list[str], str]:
        """Statements that leave the truth of ``node`` in a variable, reading fields lazily."""
        if isinstance(node, _AllOf):
            return self._logic(list(node.parts), True, read, indent)
        if isinstance(node, ast.And | ast.Or):
            return self._logic(_parts(node, type(node)), isinstance(node, ast.And), read, indent)
        if isinstance(node, ast.Not) and not self.compiler._pred(node.expr)[1]:
            lines, inner = self.test(node.expr, read, indent)  # a variable of its own: reused
            return [*lines, f"{indent}{inner} = not {inner}"], inner
        expr = _leaf(self, node)
        result = self.temp()
        return [*self.reads(read, indent), f"{indent}{result} = {expr}"], result

    def _logic(self, parts: list[Any], is_and: bool, read: set[str], indent: str) -> tuple[list[str], str]:
        if len(indent) > _MAX_INDENT and not any(isinstance(part, tuple) for part in parts):
            # Python refuses more than 100 nested blocks: the rest of a long chain is one closure
            node = functools.reduce(ast.And if is_and else ast.Or, parts)
            result = self.temp()
            pred = self.constant(self.compiler._pred(node)[0], "p")
            return [f"{indent}{result} = {pred}(doc)"], result
        lines, result = self.test(parts[0], read, indent)  # its variable holds the whole result
        if len(parts) == 1:
            return lines, result
        branch_read = set(read)
        rest_lines, rest = self._logic(parts[1:], is_and, branch_read, indent + "    ")
        lines.append(f"{indent}if {'' if is_and else 'not '}{result}:")
        lines += rest_lines
        lines.append(f"{indent}    {result} = {rest}")
        return lines, result


def generate(
    compiler: Compiler, node: Node, category: str | None, category_field: str, *, defer: bool = False
) -> Pred:
    """One function testing the event category and the where-clause ``node``.

    Its source is written now, or with ``defer`` when it is first called (see the module doc).
    """
    emitter = _Emitter(compiler)

    def write() -> list[str]:
        lines, result = emitter.test(_with_category(node, category, category_field), set(), "    ")
        return ["def _pred(doc):", *lines, f"    return {result}"]

    function: Callable[[Any], bool] = _build(emitter, write, "_pred", defer=defer)
    return function


def generate_mask(
    compiler: Compiler, stages: list[tuple[Node, str | None]], category_field: str, *, defer: bool = False
) -> Callable[[Any], int]:
    """One function returning a bit mask of the stages (where-clause and category) an event matches.

    The category field is read once for all stages; other fields are read again by a later stage
    when an earlier stage read them only on some branch. ``defer`` as for :func:`generate`.
    """
    emitter = _Emitter(compiler)

    def write() -> list[str]:
        lines = ["def _mask(doc):", "    m = 0"]
        shared: set[str] = set()
        if any(category is not None for _node, category in stages):
            emitter.field_var(category_field)
            lines += emitter.reads(shared, "    ")
        bits: dict[int, int] = {}  # first stage of each distinct condition -> the bits of all its stages
        for bit, stage in enumerate(stages):
            first = next(number for number in range(bit + 1) if stages[number] == stage)
            bits[first] = bits.get(first, 0) | 1 << bit
        for first, stage_bits in bits.items():  # a repeated stage (``with runs=N``) is tested once
            node, category = stages[first]
            with_category = _with_category(node, category, category_field)
            test_lines, result = emitter.test(with_category, set(shared), "    ")
            lines += test_lines
            lines.append(f"    if {result}: m |= {stage_bits}")
        lines.append("    return m")
        return lines

    function: Callable[[Any], int] = _build(emitter, write, "_mask", defer=defer)
    return function


def generate_keys(
    compiler: Compiler, fields: list[str], fallback: Callable[[Any], list[Any]], *, defer: bool = False
) -> Callable[[Any], Any]:
    """Join-key tuples of an event: inline for the usual single scalar values, else ``fallback``.

    Only for non-optional keys: an absent one excludes the event (``[]``). ``defer`` as for
    :func:`generate`.
    """
    if not fields or not all(compiler.access(name).dynamic for name in fields):
        return fallback
    emitter = _Emitter(compiler, unwrap=False)

    def write() -> list[str]:
        variables = [emitter.field_var(name) for name in fields]
        lines = ["def _keys(doc):", *emitter.reads(set(), "    ")]
        test = " and ".join(f"{var}.__class__ in _KEY_SCALARS" for var in variables)
        lines.append(f"    if {test}: return [({', '.join(variables)},)]")
        lines.append(f"    if {' or '.join(f'{var} is None' for var in variables)}: return []")
        lines.append(f"    return {emitter.constant(fallback, 'f')}(doc)")
        return lines

    function: Callable[[Any], Any] = _build(emitter, write, "_keys", defer=defer)
    return function


# ECS's categorization fields (their values are ECS's own short lists) and the operating system's
# type: a rule library's dispatcher routes events by these (:mod:`.dispatch`), so an event a rule is
# given has mostly the values the rule asks there
CATEGORIZATION = frozenset({"event.kind", "event.category", "event.type", "event.outcome", "host.os.type"})


def _with_category(node: Node, category: str | None, category_field: str) -> Any:
    """The stage's conjunction: the where-clause's own conjuncts first, in their order, then the
    category and the conjuncts reading only categorization fields. A rule of a library is mostly
    given events of its category and operating system, which the rule's own conditions then reject:
    testing those first rejects such an event at once. Tests have no side effects and never fail,
    so the order changes no result."""
    parts: list[Any] = _parts(node, ast.And)
    late = [part for part in parts if _categorizes(part)]
    parts = [part for part in parts if not _categorizes(part)]
    parts += [("category", category_field, category)] if category is not None else []
    parts += late
    parts = [part for part in parts if not (isinstance(part, ast.Literal) and part.value is True)]
    if not parts:
        return ast.Literal(True)
    return _AllOf(tuple(parts)) if len(parts) > 1 else parts[0]


def _categorizes(part: Any) -> bool:
    """Whether ``part`` reads fields, all of them categorization fields."""
    names = field_names(part)
    return bool(names) and all(name in CATEGORIZATION for name in names)


class _AllOf:
    """A flattened conjunction (the categorization last)."""

    __slots__ = ("parts",)

    def __init__(self, parts: tuple[Any, ...]) -> None:
        self.parts = parts


def _parts(node: Any, kind: type[ast.And] | type[ast.Or]) -> list[Any]:
    if isinstance(node, _AllOf) and kind is ast.And:
        return list(node.parts)
    if isinstance(node, ast.And | ast.Or) and isinstance(node, kind):
        return [*_parts(node.left, kind), *_parts(node.right, kind)]
    return [node]


def _build(emitter: _Emitter, write: Callable[[], list[str]], name: str, *, defer: bool) -> Any:
    """The function ``name`` whose source ``write`` returns, compiled when it is first called.

    The source is written now (so whatever can go wrong while writing it happens here), or also
    when first called with ``defer``, for statements :mod:`.query` has found cannot go wrong there.
    """
    namespace = emitter.namespace
    function = FunctionType(_stub.__code__, namespace, name)
    function.__qualname__ = name
    namespace[_COMPILE] = _Deferred(function, write if defer else write())
    return function


_COMPILE = "_compile_"  # the name a stub calls, in the namespace of its generated code
_LOCK = threading.Lock()  # one thread compiles a function; another waits and runs the result


def _stub(doc: Any) -> Any:
    """The code of a generated function before its first call: compile it, then run it."""
    return _compile_()(doc)  # type: ignore[name-defined]  # noqa: F821 - a name of the namespace


class _Deferred:
    """Writes (when deferred) and compiles one generated function, and gives the function that code."""

    __slots__ = ("function", "source")

    def __init__(self, function: FunctionType, source: list[str] | Callable[[], list[str]]) -> None:
        self.function = function
        self.source: list[str] | Callable[[], list[str]] | None = source

    def __call__(self) -> FunctionType:
        with _LOCK:
            source = self.source
            if source is not None:
                lines = source() if callable(source) else source
                function = self.function
                namespace = function.__globals__
                name = function.__name__
                exec(compiled("\n".join(lines), f"<eql {name}>"), namespace)  # noqa: S102
                function.__code__ = namespace[name].__code__
                namespace[name] = function
                self.source = None
        return self.function


def _dynamic(compiler: Compiler, field: ast.Field) -> bool:
    return compiler.access(field.name).dynamic


def _leaf(emitter: _Emitter, node: Any) -> str:
    """An expression for one test that is not and/or/pushed-down not."""
    compiler = emitter.compiler
    if isinstance(node, _AllOf):
        raise AssertionError("conjunctions are emitted as statements")
    if isinstance(node, tuple) and node[0] == "category":
        _kind, field_name, category = node
        access = compiler.access(field_name)
        if not access.dynamic:
            return f"({emitter.constant(category)} in {emitter.constant(access.values)}(doc))"
        return _string_equals(emitter.field_var(field_name), emitter.constant(category))
    if isinstance(node, ast.Literal):
        return "True" if node.value is True else "False"
    if (
        isinstance(node, ast.Comparison)
        and node.op in ("==", "!=")
        and isinstance(node.left, ast.Field)
        and isinstance(node.right, ast.Literal)
        and isinstance(node.right.value, str)
        and _dynamic(compiler, node.left)
    ):
        test = _string_equals(emitter.field_var(node.left.name), emitter.constant(node.right.value))
        return test if node.op == "==" else f"(not {test})"
    if (
        isinstance(node, ast.InList)
        and isinstance(node.value, ast.Field)
        and not node.insensitive
        and _dynamic(compiler, node.value)
        and all(isinstance(item, ast.Literal) and isinstance(item.value, str) for item in node.items)
    ):
        var = emitter.field_var(node.value.name)
        texts = emitter.constant(
            frozenset(item.value for item in node.items if isinstance(item, ast.Literal))
        )
        test = f"({var} in {texts} if {var}.__class__ is str else _in_raw({var}, {texts}))"
        return f"(not {test})" if node.negated else test
    if (
        isinstance(node, ast.Match)
        and node.kind == "wildcard"
        and isinstance(node.value, ast.Field)
        and _dynamic(compiler, node.value)
    ):
        var = emitter.field_var(node.value.name)
        patterns = WildcardSet(node.patterns, node.insensitive)
        one, any_of = emitter.constant(patterns.one, "m"), emitter.constant(patterns.any_of, "m")
        known = emitter.constant(patterns.remembered, "m")  # a value seen lately: no call
        single = f"(_w if (_w := {known}.get({var})) is not None else {one}({var}))"
        return f"({single} if {var}.__class__ is str else ({var}.__class__ is list and {any_of}({var})))"
    pred, _script = compiler._pred(node)
    return f"{emitter.constant(pred, 'p')}(doc)"


def _string_equals(var: str, value: str) -> str:
    # the usual single string inline, anything else (a list, a number) in a call: less code to compile
    return f"({var} == {value} if {var}.__class__ is str else _equals_raw({var}, {value}))"


def _in_raw(raw: Any, texts: frozenset[str]) -> bool:
    """Whether a raw value that is not a string holds one of ``texts``."""
    if raw.__class__ is not list:
        return False
    if len(raw) == 1 and raw[0].__class__ is str:
        return raw[0] in texts
    return _in_list(raw, texts)


def _in_list(values: list[Any], texts: frozenset[str]) -> bool:
    """True when a raw list holds one of ``texts`` (nested lists flattened, unhashables skipped)."""
    try:
        if not texts.isdisjoint(values):
            return True
    except TypeError:
        return any(item in texts for item in flatten(values) if item.__class__ is str)
    return list in map(type, values) and any(
        item in texts for item in flatten(values) if item.__class__ is str
    )
