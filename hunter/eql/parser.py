"""Parse EQL text into the syntax tree of :mod:`hunter.eql.ast` (Lark, LALR, basic lexer).

Two ways through one grammar, one result. The plain way is Lark's: a parse tree with positions
(``propagate_positions``), then :class:`_Builder` over it. The fast way (:class:`_FastParser`) runs
Lark's own LALR table and terminals in a lean loop that builds the syntax tree as it reduces: each
rule's children are shaped as Lark's tree builder shapes them, its start is the position Lark would
give it (that of its first child, counting the tokens the tree leaves out, such as ``(`` and ``[``),
and :class:`_Builder`'s method for the rule makes its node. That is about twice as fast. Only a
fast parse that succeeds is used, and only for a statement no deeper than :data:`_FAST_MAX_DEPTH`;
anything else (a syntax or semantic error, a deep statement) is parsed again the plain way, so
errors, their order and the "statement is too large" limit are exactly the plain way's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

from lark import Lark, Token, Transformer, v_args
from lark import visitors as lark_visitors
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError
from lark.grammar import Rule, Terminal
from lark.lexer import BasicLexer, PatternStr, UnlessCallback
from lark.parsers.lalr_analysis import Shift
from lark.tree import Meta

from . import ast, codecache, lucene_regex
from .errors import EqlError, EqlSemanticError, EqlSyntaxError

_HERE = Path(__file__).parent  # the engine's code: what a kept syntax tree was made by

_TIME_UNITS_NS = {
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
    "d": 86_400_000_000_000,
}
_SUPPORTED_PIPES = ("head", "tail")
_UNSUPPORTED_PIPES = ("count", "filter", "sort", "unique", "unique_count")
_MAX_RUNS = 100  # LogicalPlanBuilder.visitSequence: "cannot be repeated more than 100 times"
_MAX_SEQUENCE_QUERIES = 256
_MAX_SAMPLE_QUERIES = 5
# Deeper statements take the plain way, whose tree walk recurses about twice per level: at 100 levels
# that is far from Python's recursion limit, so below it both ways succeed or fail alike.
_FAST_MAX_DEPTH = 100

_TOKEN_NAMES = {
    "LSQB": "'['",
    "RSQB": "']'",
    "LPAR": "'('",
    "RPAR": "')'",
    "COMMA": "','",
    "DOT": "'.'",
    "VBAR": "'|'",
    "MISSING_OPEN": "'!['",
    "COMPARISON": "comparison operator",
    "ASGN": "'='",
    "SEQ": "':'",
    "$END": "end of query",
}


@cache
def _grammar() -> str:
    return resources.files(__package__).joinpath("eql.lark").read_text(encoding="utf-8")


@cache
def _parser() -> Lark:
    return Lark(_grammar(), parser="lalr", lexer="basic", propagate_positions=True, maybe_placeholders=False)


def parse(text: str) -> ast.Statement:
    """Parse a whole EQL statement; raise :class:`EqlSyntaxError` or :class:`EqlSemanticError`.
    A statement parsed before is read back from the code cache (:mod:`.codecache`), when in use."""
    return codecache.remembered("eql", text, _HERE, lambda: _parse(text))


def _parse(text: str) -> ast.Statement:
    statement = _fast_parse(text)
    if statement is not None:
        return statement
    return parse_plain(text)


def parse_plain(text: str) -> ast.Statement:
    """:func:`parse` the plain way only: a Lark parse tree, then :class:`_Builder` over it."""
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, text) from None
    try:
        statement = _Builder().transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, EqlError):
            raise exc.orig_exc from None
        raise
    assert isinstance(statement, ast.Statement)
    return statement


def _syntax_error(exc: UnexpectedInput, text: str) -> EqlSyntaxError:
    line, column = exc.line, exc.column
    if isinstance(exc, UnexpectedCharacters):
        at = exc.pos_in_stream or 0
        char = text[at] if at < len(text) else ""
        return EqlSyntaxError(f"token recognition error at: '{char}'", line, column)
    if isinstance(exc, UnexpectedToken):
        token = exc.token
        shown = "<EOF>" if token.type == "$END" else str(token)
        expected = sorted({_TOKEN_NAMES.get(name, name.lower()) for name in exc.accepts or exc.expected})
        hint = f", expecting {{{', '.join(expected)}}}" if 0 < len(expected) <= 12 else ""
        if token.type == "$END":
            lines = text.split("\n")
            return EqlSyntaxError(f"mismatched input '<EOF>'{hint}", len(lines), len(lines[-1]) + 1)
        return EqlSyntaxError(f"mismatched input '{shown}'{hint}", line, column)
    if isinstance(exc, UnexpectedEOF):
        return EqlSyntaxError("mismatched input '<EOF>'", line, column)
    return EqlSyntaxError(str(exc), line, column)


def _pos(item: Meta | Token) -> ast.Pos:
    if isinstance(item, Token):
        return ast.Pos(item.line or 0, item.column or 0)
    if getattr(item, "empty", True):
        return ast.NO_POS
    return ast.Pos(item.line, item.column)


_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_ESCAPE_RE = re.compile(r"\\(u\{([0-9A-Fa-f]*)\}|.)", re.DOTALL)


def unescape_string(token: Token) -> str:
    """Turn the text of a double-quoted EQL string literal into its value."""
    body = str(token)[1:-1]

    def replace(match: re.Match[str]) -> str:
        escape = match.group(1)
        if escape.startswith("u{"):
            digits = match.group(2)
            if not 2 <= len(digits) <= 8:
                raise EqlSyntaxError(
                    f"Unicode sequence should use [2-8] hex digits; [{digits}] has [{len(digits)}]",
                    token.line or 0,
                    token.column or 0,
                )
            code = int(digits, 16)
            if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
                raise EqlSyntaxError(
                    f"Invalid unicode character code [{digits}]", token.line or 0, token.column or 0
                )
            return chr(code)
        if escape in _ESCAPES:
            return _ESCAPES[escape]
        raise EqlSyntaxError(f"Illegal escape sequence [\\{escape}]", token.line or 0, token.column or 0)

    return _ESCAPE_RE.sub(replace, body)


def _time_ns(value: ast.Literal, unit: Token | None, pos: ast.Pos) -> int:
    number = value.value
    if not isinstance(number, int) or isinstance(number, bool):
        raise EqlSemanticError(
            f"Decimal time interval [{number}] not supported; please use an positive integer",
            pos.line,
            pos.column,
        )
    if unit is None:
        raise EqlSemanticError(
            f"No time unit specified, did you mean [s] as in [{number}s]?", pos.line, pos.column
        )
    name = str(unit)
    if name not in _TIME_UNITS_NS:
        raise EqlSemanticError(
            f"Unrecognized time unit [{name}] in [{number}{name}], please specify one of "
            f"[{', '.join(_TIME_UNITS_NS)}]",
            unit.line or 0,
            unit.column or 0,
        )
    if number < 0:
        raise EqlSemanticError(
            f"A positive maxspan value is required; found [{number}{name}]", pos.line, pos.column
        )
    return number * _TIME_UNITS_NS[name]


def _identifier(token: Token) -> str:
    text = str(token)
    if token.type == "QUOTED_IDENTIFIER":
        return text[1:-1].replace("``", "`")
    return text


class _Builder(Transformer[Token, Any]):
    """Turns Lark's parse tree into :mod:`hunter.eql.ast` nodes."""

    # ---- statements ----------------------------------------------------------------------

    def start(self, children: list[Any]) -> ast.Statement:
        result = children[0]
        assert isinstance(result, ast.Statement)
        return result

    def statement(self, children: list[Any]) -> ast.Statement:
        query, *pipes = children
        if isinstance(query, ast.SampleQuery) and pipes:
            pipe = pipes[0]
            raise EqlSemanticError("Samples do not support pipes yet", pipe.pos.line, pipe.pos.column)
        return ast.Statement(query, tuple(pipes))

    @v_args(meta=True)
    def pipe(self, meta: Meta, children: list[Any]) -> ast.Pipe:
        name_token, *args = children
        name = str(name_token)
        pos = _pos(name_token)
        if name in _UNSUPPORTED_PIPES:
            raise EqlSemanticError(f"Pipe [{name}] is not supported", pos.line, pos.column)
        if name not in _SUPPORTED_PIPES:
            raise EqlSemanticError(f"Unrecognized pipe [{name}]", pos.line, pos.column)
        if len(args) != 1:
            raise EqlSemanticError(
                f"Pipe [{name}] expects exactly one argument but found [{len(args)}]", pos.line, pos.column
            )
        arg = args[0]
        if not (
            isinstance(arg, ast.Literal) and isinstance(arg.value, int) and not isinstance(arg.value, bool)
        ) or (arg.value < 0):
            shown = arg.value if isinstance(arg, ast.Literal) else type(arg).__name__
            raise EqlSemanticError(
                f"Pipe [{name}] expects a positive integer but found [{shown}]", pos.line, pos.column
            )
        return ast.Pipe(name, arg.value, pos)

    @v_args(meta=True)
    def event_query(self, meta: Meta, children: list[Any]) -> ast.EventQuery:
        return ast.EventQuery(children[0], _pos(meta))

    @v_args(meta=True)
    def event_filter(self, meta: Meta, children: list[Any]) -> ast.EventFilter:
        category, _where, condition = children
        return ast.EventFilter(category, condition, _pos(meta))

    def any_category(self, children: list[Token]) -> None:
        return None

    def named_category(self, children: list[Token]) -> str:
        return str(children[0])

    def quoted_category(self, children: list[Token]) -> str:
        return _identifier(children[0])

    def string_category(self, children: list[ast.Literal]) -> str:
        value = children[0].value
        assert isinstance(value, str)
        return value

    # ---- sequences, samples, joins -------------------------------------------------------

    @v_args(meta=True)
    def sequence(self, meta: Meta, children: list[Any]) -> ast.SequenceQuery:
        """Elasticsearch's LogicalPlanBuilder.visitSequence, check for check and in its order."""
        keys: tuple[ast.Expr, ...] = ()
        maxspan: int | None = None
        stages: list[_Stage] = []
        has_until = False
        for child in children[1:]:
            if isinstance(child, tuple) and child and child[0] == "head":
                keys, maxspan = child[1], child[2]
            elif isinstance(child, _Stage):
                stages.append(child)
            elif isinstance(child, tuple) and child and child[0] == "until":
                stages.append(child[1])
                has_until = True
        pos = _pos(meta)
        queries: list[ast.Term] = []
        for stage in stages:  # the until stage is the last one, and is counted and repeated too
            _check_key_count(stages[0].term, stage)
            runs = _runs_value(stage.runs)
            if len(queries) + runs > _MAX_SEQUENCE_QUERIES:
                raise EqlSemanticError(
                    f"Sequence cannot contain more than {_MAX_SEQUENCE_QUERIES} queries; "
                    f"found [{len(queries) + runs}]",
                    stage.term.pos.line,
                    stage.term.pos.column,
                )
            queries.extend([stage.term] * runs)
        if len(queries) < 2:
            raise EqlSemanticError(
                f"A sequence requires a minimum of 2 queries, found [{len(queries)}]", pos.line, pos.column
            )
        until: ast.Term | None = None
        if has_until:
            if len(queries) == 2:  # ES #132638: the until query does not count towards the two
                raise EqlSemanticError(
                    "A sequence requires a minimum of 2 queries (not counting [until]), found [1]",
                    pos.line,
                    pos.column,
                )
            until = queries.pop()
            if until.missing:
                raise EqlSemanticError(
                    "Missing events are not allowed in [until]", until.pos.line, until.pos.column
                )
        if maxspan is None and any(term.missing for term in queries):
            raise EqlSemanticError(
                "[maxspan] is required for sequences with missing events queries; found none",
                pos.line,
                pos.column,
            )
        if all(term.missing for term in queries):
            raise EqlSemanticError(
                "A sequence requires at least one positive event query; found none", pos.line, pos.column
            )
        return ast.SequenceQuery(keys, maxspan, tuple(queries), until, pos)

    def seq_by_params(self, children: list[Any]) -> tuple[str, tuple[ast.Expr, ...], int | None]:
        keys = children[0]
        maxspan = children[1] if len(children) > 1 else None
        return ("head", keys, maxspan)

    def seq_params_by(self, children: list[Any]) -> tuple[str, tuple[ast.Expr, ...], int | None]:
        if len(children) > 1:
            keys = children[1]
            first = keys[0] if keys else None
            pos = _expr_pos(first) if first is not None else ast.NO_POS
            raise EqlSemanticError(
                "Please specify sequence [by] before [with] not after", pos.line, pos.column
            )
        return ("head", (), children[0])

    def sequence_params(self, children: list[Any]) -> int:
        return int(children[-1])

    @v_args(meta=True)
    def time_unit(self, meta: Meta, children: list[Any]) -> int:
        value = children[0]
        unit = children[1] if len(children) > 1 else None
        return _time_ns(value, unit, _pos(meta))

    def until_term(self, children: list[Any]) -> tuple[str, _Stage]:
        return ("until", children[1])

    @v_args(meta=True)
    def sample(self, meta: Meta, children: list[Any]) -> ast.SampleQuery:
        """Elasticsearch's LogicalPlanBuilder.visitSample, check for check and in its order."""
        keys: tuple[ast.Expr, ...] = ()
        stages: list[_Stage] = []
        for child in children[1:]:
            if isinstance(child, _Stage):
                stages.append(child)
            else:
                keys = child
        pos = _pos(meta)
        keyless: ast.Pos | None = None
        for number, stage in enumerate(stages, start=1):
            _check_key_count(stages[0].term, stage)
            if not keys and not stage.term.keys and keyless is None:
                keyless = stage.term.pos
            if number > _MAX_SAMPLE_QUERIES:
                raise EqlSemanticError(
                    f"A sample cannot contain more than {_MAX_SAMPLE_QUERIES} queries, found [{number}]",
                    stage.term.pos.line,
                    stage.term.pos.column,
                )
            names = [_show(key) for key in (*keys, *stage.term.keys)]
            duplicates = [name for n, name in enumerate(names) if name in names[:n]]
            if duplicates:
                where = stage.keys_pos or stage.term.pos
                shown = ",".join(dict.fromkeys(duplicates))
                raise EqlSemanticError(
                    f"Join keys must be used only once, found duplicates: [{shown}]",
                    where.line,
                    where.column,
                )
        if len(stages) < 2:
            raise EqlSemanticError(
                f"A sample requires a minimum of 2 queries, found [{len(stages)}]", pos.line, pos.column
            )
        if keyless is not None:
            raise EqlSemanticError(
                "A sample must have at least one join key, found none", keyless.line, keyless.column
            )
        return ast.SampleQuery(keys, tuple(stage.term for stage in stages), pos)

    @v_args(meta=True)
    def join(self, meta: Meta, children: list[Any]) -> None:
        pos = _pos(meta)
        raise EqlSemanticError("JOIN command is not supported", pos.line, pos.column)

    def until_join(self, children: list[Any]) -> None:  # pragma: no cover - join always fails first
        return None

    def join_keys(self, children: list[Any]) -> _Keys:
        keys = _Keys(children[1:])
        keys.pos = _pos(children[0])
        for key in keys:
            if not isinstance(key, ast.Field):
                pos = key.pos
                raise EqlSemanticError(
                    "Unsupported join key; only fields can be join keys", pos.line, pos.column
                )
        return keys

    @v_args(meta=True)
    def join_term(self, meta: Meta, children: list[Any]) -> _Stage:
        event_filter = children[0]
        keys = children[1] if len(children) > 1 else _Keys()
        return _Stage(ast.Term(event_filter, tuple(keys), 1, False, _pos(meta)), keys.pos, None)

    @v_args(meta=True)
    def sequence_term(self, meta: Meta, children: list[Any]) -> _Stage:
        head = children[0]
        missing = isinstance(head, tuple)
        event_filter = head[1] if missing else head
        keys = _Keys()
        runs: tuple[Token, ast.Literal] | None = None
        for child in children[1:]:
            if isinstance(child, _Keys):
                keys = child
            else:
                runs = child
        return _Stage(ast.Term(event_filter, tuple(keys), 1, missing, _pos(meta)), keys.pos, runs)

    def runs(self, children: list[Any]) -> tuple[Token, ast.Literal]:
        _with, key, _asgn, value = children
        return (key, value)

    def subquery(self, children: list[Any]) -> ast.EventFilter:
        result = children[0]
        assert isinstance(result, ast.EventFilter)
        return result

    def missing_subquery(self, children: list[Any]) -> tuple[str, ast.EventFilter]:
        return ("missing", children[1])

    # ---- expressions ---------------------------------------------------------------------

    @v_args(meta=True)
    def logical_or(self, meta: Meta, children: list[Any]) -> ast.Or:
        return ast.Or(children[0], children[2], _pos(meta))

    @v_args(meta=True)
    def logical_and(self, meta: Meta, children: list[Any]) -> ast.And:
        return ast.And(children[0], children[2], _pos(meta))

    @v_args(meta=True)
    def logical_not(self, meta: Meta, children: list[Any]) -> ast.Not:
        return ast.Not(children[1], _pos(meta))

    @v_args(meta=True)
    def process_check(self, meta: Meta, children: list[Any]) -> None:
        pos = _pos(meta)
        raise EqlSemanticError("Process relationships are not supported", pos.line, pos.column)

    @v_args(meta=True)
    def comparison(self, meta: Meta, children: list[Any]) -> ast.Comparison:
        left, op, right = children
        return ast.Comparison(str(op), left, right, _pos(meta))

    def bad_assignment(self, children: list[Any]) -> None:
        pos = _pos(children[1])
        raise EqlSyntaxError("Use == instead of = for comparisons", pos.line, pos.column)

    @v_args(meta=True)
    def arithmetic(self, meta: Meta, children: list[Any]) -> ast.Arithmetic:
        left, op, right = children
        return ast.Arithmetic(str(op), left, right, _pos(meta))

    @v_args(meta=True)
    def negate(self, meta: Meta, children: list[Any]) -> ast.Expr:
        inner = children[1]
        if (
            isinstance(inner, ast.Literal)
            and isinstance(inner.value, int | float)
            and not isinstance(inner.value, bool)
        ):
            return ast.Literal(-inner.value, _pos(meta))
        return ast.Negate(inner, _pos(meta))

    def unary_plus(self, children: list[Any]) -> ast.Expr:
        result: ast.Expr = children[1]
        return result

    @v_args(meta=True)
    def in_list(self, meta: Meta, children: list[Any]) -> ast.InList:
        value = children[0]
        rest = children[1:]
        negated = False
        if isinstance(rest[0], Token) and rest[0].type == "NOT":
            negated = True
            rest = rest[1:]
        op = rest[0]
        items = tuple(rest[1:])
        return ast.InList(value, items, op.type == "IN_INSENSITIVE", negated, _pos(meta))

    @v_args(meta=True)
    def match_one(self, meta: Meta, children: list[Any]) -> ast.Match:
        return self._match(meta, children[0], children[1], children[2:])

    @v_args(meta=True)
    def match_many(self, meta: Meta, children: list[Any]) -> ast.Match:
        return self._match(meta, children[0], children[1], children[2:])

    def match_kind(self, children: list[Token]) -> Token:
        return children[0]

    def _match(self, meta: Meta, value: ast.Expr, op: Token, constants: list[Any]) -> ast.Match:
        patterns: list[str] = []
        for constant in constants:
            if not (isinstance(constant, ast.Literal) and isinstance(constant.value, str)):
                pos = constant.pos if isinstance(constant, ast.Literal) else _pos(meta)
                raise EqlSemanticError(
                    f"[{op}] requires string patterns; found [{_show(constant)}]", pos.line, pos.column
                )
            patterns.append(constant.value)
        kind = "regex" if op.type in ("REGEX", "REGEX_INSENSITIVE") else "wildcard"
        insensitive = op.type in ("SEQ", "LIKE_INSENSITIVE", "REGEX_INSENSITIVE")
        if kind == "regex":
            for constant, pattern in zip(constants, patterns, strict=True):
                try:
                    lucene_regex.parse(pattern, insensitive)
                except EqlSemanticError as exc:
                    pos = constant.pos
                    raise EqlSemanticError(exc.message, pos.line, pos.column) from None
        return ast.Match(value, kind, tuple(patterns), insensitive, _pos(meta))

    @v_args(meta=True)
    def function_call(self, meta: Meta, children: list[Any]) -> ast.FunctionCall:
        name_token, *args = children
        name = str(name_token)
        insensitive = name.endswith("~")
        if insensitive:
            name = name[:-1]
        return ast.FunctionCall(name, tuple(args), insensitive, _pos(meta))

    @v_args(meta=True)
    def field(self, meta: Meta, children: list[Any]) -> ast.Field:
        optional = False
        if isinstance(children[0], Token) and children[0].type == "OPTIONAL":
            optional = True
            children = children[1:]
        return ast.Field(tuple(children), optional, _pos(meta))

    def name_part(self, children: list[Token]) -> str:
        return _identifier(children[0])

    # ---- constants -----------------------------------------------------------------------

    def null_literal(self, children: list[Token]) -> ast.Literal:
        return ast.Literal(None, _pos(children[0]))

    def true_literal(self, children: list[Token]) -> ast.Literal:
        return ast.Literal(True, _pos(children[0]))

    def false_literal(self, children: list[Token]) -> ast.Literal:
        return ast.Literal(False, _pos(children[0]))

    def integer_literal(self, children: list[Token]) -> ast.Literal:
        token = children[0]
        value = int(str(token))
        if value > 2**63 - 1:
            raise EqlSemanticError(f"Number [{token}] is too large", token.line or 0, token.column or 0)
        return ast.Literal(value, _pos(token))

    def decimal_literal(self, children: list[Token]) -> ast.Literal:
        token = children[0]
        return ast.Literal(float(str(token)), _pos(token))

    def string_literal(self, children: list[Token]) -> ast.Literal:
        token = children[0]
        return ast.Literal(unescape_string(token), _pos(token))

    def raw_string_literal(self, children: list[Token]) -> ast.Literal:
        token = children[0]
        return ast.Literal(str(token)[3:-3], _pos(token))

    def single_quoted_string(self, children: list[Token]) -> ast.Literal:
        token = children[0]
        raise EqlSyntaxError(
            "Use double quotes [\"] to define string literals, not single quotes [']",
            token.line or 0,
            token.column or 0,
        )


def _expr_pos(expr: ast.Expr) -> ast.Pos:
    return expr.pos


def _show(node: Any) -> str:
    if isinstance(node, ast.Field):
        return node.name
    if isinstance(node, ast.Literal):
        return repr(node.value)
    return type(node).__name__


class _Keys(tuple):  # type: ignore[type-arg]
    """The join keys of one ``by`` clause, with where that clause starts."""

    pos: ast.Pos | None = None


class _Stage(NamedTuple):
    """One bracketed stage as written: the term, where its ``by`` starts, its ``with`` option."""

    term: ast.Term
    keys_pos: ast.Pos | None
    runs: tuple[Token, ast.Literal] | None


def _check_key_count(first: ast.Term, stage: _Stage) -> None:
    """Every stage has as many join keys as the first (counted without the shared ``by`` keys)."""
    if len(stage.term.keys) != len(first.keys):
        where = stage.keys_pos or stage.term.pos
        raise EqlSemanticError(
            f"Inconsistent number of join keys specified; expected [{len(first.keys)}] but found "
            f"[{len(stage.term.keys)}]",
            where.line,
            where.column,
        )


def _runs_value(option: tuple[Token, ast.Literal] | None) -> int:
    """The ``with runs=N`` of a stage (1 without one; a decimal N is ignored, as in Elasticsearch)."""
    if option is None:
        return 1
    key, value = option
    if str(key) != "runs":
        pos = _pos(key)
        raise EqlSemanticError(f"Unrecognized option [{key}], expecting [runs]", pos.line, pos.column)
    number = value.value
    if not isinstance(number, int) or isinstance(number, bool):
        return 1
    if number < 1:
        raise EqlSemanticError(
            f"A positive runs value is required; found [{number}]", value.pos.line, value.pos.column
        )
    if number > _MAX_RUNS:
        raise EqlSemanticError(
            f"A query cannot be repeated more than {_MAX_RUNS} times; found [{number}]",
            value.pos.line,
            value.pos.column,
        )
    return number


# ---- the fast way: the syntax tree built during the parse -------------------------------------


class _Node:
    """A rule's value while Lark parses: the built node (or an inlined rule's children) and positions.

    ``line``/``column`` are where the rule starts, ``container_*`` where the text it was reduced from
    starts (an inlined ``( expression )`` starts at its ``(``), as Lark's ``propagate_positions`` keeps
    them; ``depth`` is the height of the parse tree the plain way would build and walk.
    """

    __slots__ = ("children", "column", "container_column", "container_line", "depth", "line", "value")

    def __init__(self, value: Any, children: list[Any] | None, line: int, column: int, depth: int) -> None:
        self.value = value
        self.children = children
        self.line = line
        self.column = column
        self.container_line = line
        self.container_column = column
        self.depth = depth


def _fast_callback(rule: Rule, builder: _Builder) -> Any:
    """What the parser calls on reducing ``rule``: Lark's tree shaping and positions, then the builder."""
    keep_tokens = rule.options.keep_all_tokens
    include = [
        (index, not symbol.is_term and symbol.name.startswith("_"))  # an inlined _rule: splice its children
        for index, symbol in enumerate(rule.expansion)
        if keep_tokens or not (isinstance(symbol, Terminal) and symbol.filter_out)
    ]
    expand_single = rule.options.expand1 and not rule.alias  # a ?rule with one child is that child
    if expand_single and len(rule.expansion) == 1 and include == [(0, False)]:
        # a link of a chain such as expression -> or_expr -> ... -> primary: its one child keeps
        # its positions (its start is the rule's start), so the value is the child as it is
        return _only_child
    name = rule.alias or rule.options.template_source or rule.origin.name
    inlined = name.startswith("_")
    method = None if inlined else getattr(builder, name, None)
    wrapper = getattr(method, "visit_wrapper", None)
    # @v_args(meta=True): Lark calls the method with (meta, children) through two wrappers of its own
    with_meta = None
    if _VARGS_META is not None and wrapper is _VARGS_META:
        with_meta = getattr(method, "base_func", None)  # the bound method itself

    def reduce(children: list[Any]) -> Any:
        line = column = 0
        positioned = False
        for child in children:  # Lark's PropagatePositions: the first child that has a position
            if child.__class__ is _Node:
                if child.container_line:
                    line, column, positioned = child.container_line, child.container_column, True
                    break
            else:
                line, column, positioned = child.line, child.column, True
                break
        shaped: list[Any] = []
        for index, splice in include:
            if splice:
                shaped += children[index].children
            else:
                shaped.append(children[index])
        if expand_single and len(shaped) == 1:
            only = shaped[0]
            if only.__class__ is _Node and positioned:
                if not only.line:
                    only.line, only.column = line, column
                only.container_line, only.container_column = line, column
            return only
        depth = 0
        for child in shaped:
            if child.__class__ is _Node and child.depth > depth:
                depth = child.depth
        if inlined:
            return _Node(None, shaped, line, column, depth)
        if method is None:
            raise LookupError(f"no builder method for rule {name}")  # the plain way decides
        values = [child.value if child.__class__ is _Node else child for child in shaped]
        if wrapper is None:
            return _Node(method(values), None, line, column, depth + 1)
        meta = Meta()  # type: ignore[no-untyped-call]  # lark's own class is untyped
        if positioned:
            meta.line, meta.column, meta.empty = line, column, False
        value = with_meta(meta, values) if with_meta is not None else wrapper(method, name, values, meta)
        return _Node(value, None, line, column, depth + 1)

    return reduce


_new_str = str.__new__
_VARGS_META = getattr(lark_visitors, "_vargs_meta", None)


def _only_child(children: list[Any]) -> Any:
    return children[0]


class _FastParser:
    """Lark's LALR(1) tables and terminals for this grammar, run by a lean loop of its own.

    The tokens are those of Lark's basic lexer (the same regex over the same terminals in the same
    order, keywords retyped the same way, the same line and column counting); the loop shifts and
    reduces by Lark's parse table as Lark's parser does, calling :func:`_fast_callback` functions.
    It only has to be right where it succeeds: on any failure the plain way parses again.
    """

    def __init__(self, lark: Lark) -> None:
        lexer = lark.parser.lexer
        if not isinstance(lexer, BasicLexer):
            raise TypeError("not Lark's basic lexer")
        scanner = lexer.scanner  # also makes lexer.callback: keywords an identifier's regex matches
        self.regex = re.compile(
            "|".join(
                f"(?P<{terminal.name}>{terminal.pattern.to_regexp()})" for terminal in scanner.terminals
            ),
            lexer.g_regex_flags,
        )
        self.ignore = lexer.ignore_types
        self.multiline = lexer.newline_types
        # keywords an identifier's regex also matches: Lark retypes such a token when its whole text
        # is one of them (a full match of their plain strings, so a lookup of the text)
        self.retype: dict[str, dict[str, str]] = {}
        for kind, callback in lexer.callback.items():
            if not isinstance(callback, UnlessCallback) or lexer.g_regex_flags:
                raise TypeError(f"a lexer callback other than Lark's keyword check for {kind}")
            keywords = self.retype[kind] = {}
            for terminal in callback.scanner.terminals:
                if not isinstance(terminal.pattern, PatternStr) or terminal.pattern.flags:
                    raise TypeError(f"keyword {terminal.name} is not a plain string")
                keywords[terminal.pattern.value] = terminal.name
        table = lark.parser.parser.parser.parse_table
        self.start = table.start_states["start"]
        self.end = table.end_states["start"]
        builder = _Builder(visit_tokens=False)
        reductions = {
            rule: (len(rule.expansion), _fast_callback(rule, builder), str(rule.origin.name))
            for rule in lark.rules
        }
        # per state and symbol: (True, next state) to shift, (False, (size, callback, rule name)) to
        # reduce; names as plain strings (Lark's are Tokens, whose == is a Python call per lookup)
        self.states: dict[Any, dict[str, tuple[bool, Any]]] = {
            state: {
                str(symbol): (True, arg) if action is Shift else (False, reductions[arg])
                for symbol, (action, arg) in actions.items()
            }
            for state, actions in table.states.items()
        }

    def tokens(self, text: str) -> Iterator[Token]:
        """Lark's basic lexer's tokens of ``text`` (ignored ones left out); raises where it would."""
        match, ignore, multiline, retype = self.regex.match, self.ignore, self.multiline, self.retype
        at, line, line_start, size = 0, 1, 0, len(text)
        while at < size:
            found = match(text, at)
            if found is None:
                raise ValueError(f"no token at {at}")
            value = found.group(0)
            kind = found.lastgroup or ""
            end = at + len(value)
            end_line, end_line_start = line, line_start
            if kind in multiline and (newlines := value.count("\n")):
                end_line, end_line_start = line + newlines, at + value.rindex("\n") + 1
            if kind not in ignore:
                token = _new_str(Token, value)  # what Token(...) does, without its two Python calls
                token.type, token.value, token.start_pos, token.end_pos = kind, value, at, end
                token.line, token.column = line, at - line_start + 1
                token.end_line, token.end_column = end_line, end - end_line_start + 1
                if kind in retype and (keyword := retype[kind].get(value)) is not None:
                    token.type = keyword
                yield token
            at, line, line_start = end, end_line, end_line_start

    def parse(self, text: str) -> Any:
        """The start rule's value for ``text``; raises (anything) where Lark's parser would fail."""
        states = self.states
        state_stack: list[Any] = [self.start]
        value_stack: list[Any] = []
        for token in self.tokens(text):
            while True:
                shift, arg = states[state_stack[-1]][token.type]
                if shift:
                    state_stack.append(arg)
                    value_stack.append(token)
                    break
                self._reduce(arg, state_stack, value_stack)
        while True:
            shift, arg = states[state_stack[-1]]["$END"]
            if shift:
                raise ValueError("shift at the end of the input")
            self._reduce(arg, state_stack, value_stack)
            if state_stack[-1] == self.end:
                return value_stack[-1]

    def _reduce(
        self, reduction: tuple[int, Any, str], state_stack: list[Any], value_stack: list[Any]
    ) -> None:
        size, callback, name = reduction
        if callback is _only_child:  # a link of a ?rule chain: the value stays, the state changes
            del state_stack[-1]
        else:
            if size:
                children = value_stack[-size:]
                del state_stack[-size:]
                del value_stack[-size:]
            else:
                children = []
            value_stack.append(callback(children))
        shift, state = self.states[state_stack[-1]][name]
        if not shift:
            raise ValueError(f"no goto for {name}")
        state_stack.append(state)


@cache
def _fast_parser() -> _FastParser | None:
    """The fast way's parser; None (the plain way only) if this version of Lark does not allow it."""
    try:
        lark = Lark(
            _grammar(), parser="lalr", lexer="basic", propagate_positions=False, maybe_placeholders=False
        )
        fast = _FastParser(lark)
        probe = fast.parse("any where true")
    except Exception:  # noqa: BLE001 - Lark's inner workings changed: the plain way only
        return None
    if not (isinstance(probe, _Node) and isinstance(probe.value, ast.Statement)):
        return None
    return fast


def _fast_parse(text: str) -> ast.Statement | None:
    """The statement, when the fast way parses it without error and it is shallow; else None."""
    fast = _fast_parser()
    if fast is None:
        return None
    try:
        node = fast.parse(text)
    except Exception:  # noqa: BLE001 - every error is reported by the plain way, in its order
        return None
    if not isinstance(node, _Node) or node.depth > _FAST_MAX_DEPTH:
        return None
    statement = node.value
    return statement if isinstance(statement, ast.Statement) else None
