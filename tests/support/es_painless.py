"""A small Painless interpreter for the scripts of runtime fields and ``script_fields``.

It reads the Java-like subset such scripts use: ``if``/``else``, blocks, ``return``, ``throw new
X("...")``, local declarations (``Matcher m = ...``), ``emit(...)``, ``doc['field']`` doc values
(``.value``, ``.size()``, ``.get(i)``; dates as UTC date-times with ``dayOfWeekEnum``), regex
literals (``/.../.matcher(s)``, ``find()``, ``group()``), comparisons and boolean operators.
A script that throws fails the shard it ran on, as in Elasticsearch (``script_exception``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from .es_errors import EsError
from .es_mapping import (
    DATES,
    FLOATS,
    INTEGERS,
    KEYWORDS,
    IndexFields,
    coerce,
    index_terms,
    keyword_string,
    type_of,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class ScriptError(Exception):
    """A script threw (``throw new X(...)``) or failed at run time."""

    def __init__(self, java_type: str, message: str) -> None:
        super().__init__(message)
        self.java_type = java_type
        self.message = message


def script_failure(error: ScriptError, source: str) -> dict[str, Any]:
    """The ``reason`` of a shard failure caused by a script, as Elasticsearch renders it."""
    return {
        "type": "script_exception",
        "reason": "runtime error",
        "script_stack": [],
        "script": source,
        "lang": "painless",
        "caused_by": {"type": _snake(error.java_type), "reason": error.message},
    }


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


# ---- values scripts see ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayOfWeek:
    """``java.time.DayOfWeek``."""

    number: int

    def getValue(self) -> int:  # noqa: N802 - Java's name
        """1 (Monday) to 7 (Sunday)."""
        return self.number

    def getDisplayName(self, style: Any, locale: Any) -> str:  # noqa: N802 - Java's name
        """The English day name (``TextStyle.FULL``)."""
        name = _DAYS[self.number - 1]
        return name if style == "FULL" else name[:3]


@dataclass(frozen=True)
class DateTime:
    """A UTC ``ZonedDateTime`` of a date doc value."""

    ns: int

    @property
    def moment(self) -> datetime:
        """The date-time."""
        return _EPOCH + timedelta(microseconds=self.ns // 1000)

    def getDayOfWeekEnum(self) -> DayOfWeek:  # noqa: N802 - Java's name
        """The day of the week."""
        return DayOfWeek(self.moment.isoweekday())

    def getYear(self) -> int:  # noqa: N802 - Java's name
        """The year."""
        return self.moment.year

    def getMillis(self) -> int:  # noqa: N802 - Java's name
        """Epoch milliseconds."""
        return self.ns // 1_000_000

    def toEpochMilli(self) -> int:  # noqa: N802 - Java's name
        """Epoch milliseconds."""
        return self.ns // 1_000_000

    def toInstant(self) -> DateTime:  # noqa: N802 - Java's name
        """Itself (an instant in UTC)."""
        return self


@dataclass
class DocValues:
    """``doc['field']``: the field's doc values, sorted."""

    name: str
    values: list[Any]

    def getValue(self) -> Any:  # noqa: N802 - Java's name
        """The first value (missing: the error Painless raises)."""
        if not self.values:
            raise ScriptError(
                "IllegalStateException",
                "A document doesn't have a value for a field! Use doc[<field>].size()==0 to check if a "
                "document is missing a field!",
            )
        return self.values[0]

    def size(self) -> int:
        """How many values."""
        return len(self.values)

    def get(self, position: int) -> Any:
        """The value at ``position``."""
        return self.values[position]

    def isEmpty(self) -> bool:  # noqa: N802 - Java's name
        """No values?"""
        return not self.values


@dataclass
class Matcher:
    """``java.util.regex.Matcher`` over one text."""

    pattern: re.Pattern[str]
    text: str
    position: int = 0
    last: re.Match[str] | None = None

    def find(self) -> bool:
        """Find the next match."""
        self.last = self.pattern.search(self.text, self.position)
        if self.last is None:
            return False
        self.position = max(self.last.end(), self.position + 1)
        return True

    def group(self, number: int = 0) -> str | None:
        """The last match (or one of its groups)."""
        if self.last is None:
            raise ScriptError("IllegalStateException", "No match found")
        return self.last.group(number)

    def matches(self) -> bool:
        """Does the whole text match?"""
        return self.pattern.fullmatch(self.text) is not None


@dataclass(frozen=True)
class Pattern:
    """A regex literal."""

    regex: re.Pattern[str]

    def matcher(self, text: Any) -> Matcher:
        """A matcher over ``text``."""
        return Matcher(self.regex, str(text))


class DocAccess:
    """``doc``: doc values of the document's mapped fields."""

    def __init__(self, fields: IndexFields, source: Mapping[str, Any]) -> None:
        self.fields = fields
        self.source = source

    def __getitem__(self, name: str) -> DocValues:
        spec = self.fields.spec(name)
        if spec is None:
            raise ScriptError("IllegalArgumentException", f"No field found for [{name}] in mapping")
        ftype = type_of(spec)
        raw = (
            [spec["value"]]
            if ftype == "constant_keyword" and "value" in spec
            else self.fields.raw(name, self.source)
        )
        values: list[Any] = []
        for value in raw:
            if ftype in DATES:
                ns = coerce(ftype, value, spec.get("format"))
                if ns is not None:
                    values.append(DateTime(ns))
            elif ftype in KEYWORDS or ftype == "ip":
                values.extend(str(t) for t in index_terms(spec, value))
            elif ftype in INTEGERS or ftype in FLOATS or ftype == "boolean":
                converted = coerce(ftype, value)
                if converted is not None:
                    values.append(converted)
            else:
                raise ScriptError(
                    "IllegalArgumentException", f"Field [{name}] of type [{ftype}] doesn't support doc values"
                )
        if ftype in KEYWORDS:
            values = sorted(set(values))
        elif values and not isinstance(values[0], DateTime):
            values.sort()
        else:
            values.sort(key=lambda v: v.ns if isinstance(v, DateTime) else v)
        return DocValues(name, values)


# ---- the interpreter ---------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>\d+(?:\.\d+)?)
      | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<name>[A-Za-z_][A-Za-z_0-9]*)
      | (?P<op>==|!=|<=|>=|&&|\|\||[-+*%<>!=(){}\[\];,.?:])
      | (?P<regex>/(?:[^/\\\n]|\\.)+/)
      | (?P<slash>/)
    )""",
    re.VERBOSE,
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    position = 0
    previous_value = False
    while position < len(text):
        if not text[position:].strip():
            break
        found = _TOKEN.match(text, position)
        if found is None:
            raise EsError(
                400, "script_exception", f"compile error: unexpected character at {position} in [{text}]"
            )
        kind = found.lastgroup or ""
        value = found.group(kind)
        if kind == "regex" and previous_value:
            kind, value = "op", "/"
            position = found.start("regex") + 1
        else:
            position = found.end()
        if kind == "slash":
            kind = "op"
        out.append((kind, value))
        previous_value = kind in ("number", "string", "name") or value in (")", "]")
    return out


@dataclass
class _Context:
    doc: DocAccess
    params: Mapping[str, Any]
    emitted: list[Any] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)


class _ReturnValue(Exception):  # noqa: N818 - control flow (a script's return), not an error
    def __init__(self, value: Any) -> None:
        self.value = value


_STATICS: dict[str, Any] = {
    "TextStyle": {"FULL": "FULL", "SHORT": "SHORT"},
    "Locale": {"ENGLISH": "en", "ROOT": "", "US": "en_US"},
}


class _Parser:
    """Recursive descent over the tokens; each parse method returns a closure over a context."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.position = 0

    def peek(self, offset: int = 0) -> tuple[str, str]:
        index = self.position + offset
        return self.tokens[index] if index < len(self.tokens) else ("end", "")

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if value is not None and token[1] != value:
            raise EsError(
                400, "script_exception", f"compile error: expected [{value}] but found [{token[1]}]"
            )
        self.position += 1
        return token

    def accept(self, value: str) -> bool:
        if self.peek()[1] == value:
            self.position += 1
            return True
        return False

    def program(self) -> Callable[[_Context], None]:
        statements = []
        last_start = 0
        while self.peek()[0] != "end":
            last_start = self.position
            statements.append(self.statement())
        if statements and self._is_expression(last_start):
            self.position = last_start
            value = self.expression()
            leading = statements[:-1]

            def run(ctx: _Context) -> None:
                for statement in leading:
                    statement(ctx)
                raise _ReturnValue(value(ctx))

            return run
        return _sequence(statements)

    def _is_expression(self, start: int) -> bool:
        kind, value = self.tokens[start]
        keywords = ("if", "return", "throw", "emit", "new")
        declaration = kind == "name" and start + 2 < len(self.tokens) and self.tokens[start + 1][0] == "name"
        return not (value in ("{", ";") or (kind == "name" and value in keywords) or declaration)

    def statement(self) -> Callable[[_Context], None]:
        kind, value = self.peek()
        if value == "{":
            self.take("{")
            inner = []
            while not self.accept("}"):
                inner.append(self.statement())
            return _sequence(inner)
        if value == ";":
            self.take(";")
            return lambda ctx: None
        if kind == "name" and value == "if":
            return self._if()
        if kind == "name" and value == "return":
            self.take()
            if self.accept(";") or self.peek()[1] in ("}", "else") or self.peek()[0] == "end":
                return _raise_return(lambda ctx: None)
            expr = self.expression()
            self.accept(";")
            return _raise_return(expr)
        if kind == "name" and value == "throw":
            self.take()
            expr = self.expression()
            self.accept(";")

            def throw(ctx: _Context) -> None:
                error = expr(ctx)
                raise error if isinstance(error, ScriptError) else ScriptError("RuntimeException", str(error))

            return throw
        if kind == "name" and self.peek(1)[0] == "name" and self.peek(2)[1] == "=":
            self.take()
            target = self.take()[1]
            self.take("=")
            expr = self.expression()
            self.accept(";")

            def declare(ctx: _Context) -> None:
                ctx.variables[target] = expr(ctx)

            return declare
        expr = self.expression()
        self.accept(";")
        return lambda ctx: expr(ctx) and None

    def _if(self) -> Callable[[_Context], None]:
        self.take("if")
        self.take("(")
        condition = self.expression()
        self.take(")")
        then = self.statement()
        otherwise = self.statement() if self.accept("else") else None

        def run(ctx: _Context) -> None:
            if condition(ctx):
                then(ctx)
            elif otherwise is not None:
                otherwise(ctx)

        return run

    def expression(self) -> Callable[[_Context], Any]:
        return self._binary(0)

    _LEVELS = (("||",), ("&&",), ("==", "!="), ("<", ">", "<=", ">="), ("+", "-"), ("*", "/", "%"))

    def _binary(self, level: int) -> Callable[[_Context], Any]:
        if level == len(self._LEVELS):
            return self._unary()
        left = self._binary(level + 1)
        while self.peek()[0] == "op" and self.peek()[1] in self._LEVELS[level]:
            op = self.take()[1]
            right = self._binary(level + 1)
            left = _combine(op, left, right)
        return left

    def _unary(self) -> Callable[[_Context], Any]:
        if self.accept("!"):
            inner = self._unary()
            return lambda ctx: not inner(ctx)
        if self.accept("-"):
            inner = self._unary()
            return lambda ctx: -inner(ctx)
        return self._postfix(self._primary())

    def _postfix(self, base: Callable[[_Context], Any]) -> Callable[[_Context], Any]:
        while True:
            if self.accept("."):
                name = self.take()[1]
                if self.accept("("):
                    args = self._arguments()
                    base = _method(base, name, args)
                else:
                    base = _member(base, name)
            elif self.accept("["):
                key = self.expression()
                self.take("]")
                base = _index(base, key)
            else:
                return base

    def _arguments(self) -> list[Callable[[_Context], Any]]:
        args = []
        while not self.accept(")"):
            args.append(self.expression())
            self.accept(",")
        return args

    def _primary(self) -> Callable[[_Context], Any]:
        kind, value = self.take()
        if kind == "number":
            number = float(value) if "." in value else int(value)
            return lambda ctx: number
        if kind == "string":
            text = re.sub(r"\\(.)", r"\1", value[1:-1])
            return lambda ctx: text
        if kind == "regex":
            compiled = Pattern(re.compile(value[1:-1]))
            return lambda ctx: compiled
        if value == "(":
            inner = self.expression()
            self.take(")")
            return inner
        if kind == "name":
            return self._name(value)
        raise EsError(400, "script_exception", f"compile error: unexpected [{value}]")

    def _name(self, value: str) -> Callable[[_Context], Any]:
        if value in ("true", "false"):
            flag = value == "true"
            return lambda ctx: flag
        if value == "null":
            return lambda ctx: None
        if value == "new":
            java_type = self.take()[1]
            self.take("(")
            args = self._arguments()
            return lambda ctx: ScriptError(java_type, str(args[0](ctx)) if args else "")
        if value == "emit":
            self.take("(")
            args = self._arguments()

            def emit(ctx: _Context) -> None:
                ctx.emitted.extend(a(ctx) for a in args)

            return emit
        if value == "doc":
            return lambda ctx: ctx.doc
        if value == "params":
            return lambda ctx: ctx.params
        if value in _STATICS:
            static = _STATICS[value]
            return lambda ctx: static
        return lambda ctx: _variable(ctx, value)


def _sequence(statements: list[Callable[[_Context], None]]) -> Callable[[_Context], None]:
    def run(ctx: _Context) -> None:
        for statement in statements:
            statement(ctx)

    return run


def _variable(ctx: _Context, name: str) -> Any:
    if name not in ctx.variables:
        raise ScriptError("IllegalArgumentException", f"cannot resolve symbol [{name}]")
    return ctx.variables[name]


def _raise_return(expr: Callable[[_Context], Any]) -> Callable[[_Context], None]:
    def run(ctx: _Context) -> None:
        raise _ReturnValue(expr(ctx))

    return run


def _combine(
    op: str, left: Callable[[_Context], Any], right: Callable[[_Context], Any]
) -> Callable[[_Context], Any]:
    if op == "||":
        return lambda ctx: bool(left(ctx)) or bool(right(ctx))
    if op == "&&":
        return lambda ctx: bool(left(ctx)) and bool(right(ctx))
    operations: dict[str, Callable[[Any, Any], Any]] = {
        "==": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        "<": lambda a, b: a < b,
        ">": lambda a, b: a > b,
        "<=": lambda a, b: a <= b,
        ">=": lambda a, b: a >= b,
        "+": lambda a, b: (
            (keyword_string(a) + keyword_string(b)) if isinstance(a, str) or isinstance(b, str) else a + b
        ),
        "-": lambda a, b: a - b,
        "*": lambda a, b: a * b,
        "/": lambda a, b: a // b if isinstance(a, int) and isinstance(b, int) else a / b,
        "%": lambda a, b: a % b,
    }
    function = operations[op]
    return lambda ctx: function(left(ctx), right(ctx))


def _member(base: Callable[[_Context], Any], name: str) -> Callable[[_Context], Any]:
    def get(ctx: _Context) -> Any:
        target = base(ctx)
        if isinstance(target, Mapping):
            return target.get(name)
        getter = getattr(target, "get" + name[:1].upper() + name[1:], None)
        if callable(getter):
            return getter()
        if hasattr(target, name):
            return getattr(target, name)
        raise ScriptError(
            "IllegalArgumentException", f"dynamic getter [{type(target).__name__}, {name}] not found"
        )

    return get


def _method(
    base: Callable[[_Context], Any], name: str, args: list[Callable[[_Context], Any]]
) -> Callable[[_Context], Any]:
    def call(ctx: _Context) -> Any:
        target = base(ctx)
        method = getattr(target, name, None)
        if not callable(method):
            raise ScriptError(
                "IllegalArgumentException",
                f"dynamic method [{type(target).__name__}, {name}/{len(args)}] not found",
            )
        return method(*(a(ctx) for a in args))

    return call


def _index(base: Callable[[_Context], Any], key: Callable[[_Context], Any]) -> Callable[[_Context], Any]:
    return lambda ctx: base(ctx)[key(ctx)]


@cache
def compile_script(source: str) -> Callable[[_Context], None]:
    """The compiled script (compile errors are ``script_exception``)."""
    return _Parser(source).program()


def script_source(spec: Any) -> str:
    """The source of a ``script`` value (a string or ``{"source": ...}``)."""
    if isinstance(spec, str):
        return spec
    if isinstance(spec, Mapping) and isinstance(spec.get("source"), str):
        return str(spec["source"])
    raise EsError(400, "parsing_exception", "[script] must be a string or an object with [source]")


def run_script(
    source: str, fields: IndexFields, doc: Mapping[str, Any], params: Mapping[str, Any] | None = None
) -> tuple[list[Any], Any]:
    """(emitted values, returned value) of running ``source`` against one document."""
    context = _Context(DocAccess(fields, doc), params or {})
    program = compile_script(source)
    returned: Any = None
    try:
        program(context)
    except _ReturnValue as done:
        returned = done.value
    except (TypeError, IndexError, KeyError, ZeroDivisionError) as error:
        raise ScriptError("IllegalArgumentException", str(error)) from error
    return context.emitted, returned


def runtime_values(
    fields: IndexFields, name: str, spec: Mapping[str, Any], source: Mapping[str, Any]
) -> list[Any]:
    """The values a runtime field's script emits for one document, typed by the field's type."""
    emitted, _ = run_script(script_source(spec["script"]), fields, source)
    ftype = type_of(spec)
    out: list[Any] = []
    for value in emitted:
        if isinstance(value, DateTime):
            out.append(value.ns // 1_000_000)
        elif ftype == "keyword":
            out.append(keyword_string(value))
        else:
            out.append(value)
    return out


IndexFields.script_runner = runtime_values
