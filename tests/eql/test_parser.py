"""Parsing and verification errors carry Elasticsearch's wording and a line and column.

The parser's fast way (its own loop over Lark's tables) must give exactly the plain way's (Lark's
parse tree, then the builder) trees, positions and errors: the last tests compare the two.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings

from hunter.eql import EqlError, EqlSemanticError, EqlSyntaxError, ast, compile_query, parser
from tests.eql.test_detection_rules import RULES, eql_queries
from tests.eql.test_fuzz import _BUILT_IN, mutated
from tests.support import eql_spec


@pytest.mark.parametrize(
    ("query", "error", "line", "column", "fragment"),
    [
        ("process where process.name ==", EqlSyntaxError, 1, 30, "mismatched input '<EOF>'"),
        ("process where\n  process.name == 'lua'", EqlSyntaxError, 2, 19, "Use double quotes"),
        ('process where process.name = "lua"', EqlSyntaxError, 1, 28, "Use == instead of ="),
        ("process where foo(process.name)", EqlSemanticError, 1, 15, "Unknown function [foo]"),
        ("process where startsWith(process.name)", EqlSemanticError, 1, 15, "error building [startsWith]"),
        (
            "process where length~(process.name) > 1",
            EqlSemanticError,
            1,
            15,
            "does not support case-insensitive",
        ),
        (
            "process where true | unique process.name",
            EqlSemanticError,
            1,
            22,
            "Pipe [unique] is not supported",
        ),
        ("process where true | first 3", EqlSemanticError, 1, 22, "Unrecognized pipe [first]"),
        ("process where true | head -1", EqlSemanticError, 1, 22, "expects a positive integer"),
        ("join [a where true] [b where true]", EqlSemanticError, 1, 1, "JOIN command is not supported"),
        (
            "sequence [a where true] ![b where true] [c where true]",
            EqlSemanticError,
            1,
            1,
            "[maxspan] is required for sequences with missing events queries; found none",
        ),
        (
            "sequence with maxspan=5 [a where true] [b where true]",
            EqlSemanticError,
            1,
            23,
            "No time unit specified",
        ),
        (
            "sequence with maxspan=5y [a where true] [b where true]",
            EqlSemanticError,
            1,
            24,
            "Unrecognized time unit",
        ),
        (
            "sequence [a where true] with runs=101 [b where true]",
            EqlSemanticError,
            1,
            35,
            "A query cannot be repeated more than 100 times; found [101]",
        ),
        (
            "sequence [a where true]",
            EqlSemanticError,
            1,
            1,
            "A sequence requires a minimum of 2 queries, found [1]",
        ),
        (
            "sequence with maxspan=1m by x [a where true] [b where true]",
            EqlSemanticError,
            1,
            29,
            "[by] before [with]",
        ),
        (
            "sequence [a where true] by x [b where true] by x, y",
            EqlSemanticError,
            1,
            45,
            "Inconsistent number",
        ),
        (
            "process where descendant of [process where true]",
            EqlSemanticError,
            1,
            15,
            "Process relationships",
        ),
        (
            "process where process.name == process.executable",
            EqlSemanticError,
            1,
            31,
            "Comparisons against fields",
        ),
        ("process where 1", EqlSemanticError, 1, 15, "Condition expression needs to be boolean"),
        ('process where process.name == "\\q"', EqlSyntaxError, 1, 31, "Illegal escape sequence"),
        ("process where process.name == ~", EqlSyntaxError, 1, 31, "token recognition error"),
        ("sample [a where true] [b where true]", EqlSemanticError, 1, 8, "at least one join key, found none"),
        (
            "sample by x [a where true] [b where true] | head 1",
            EqlSemanticError,
            1,
            45,
            "Samples do not support pipes",
        ),
    ],
)
def test_errors_have_line_column_and_message(
    query: str, error: type[Exception], line: int, column: int, fragment: str
) -> None:
    """Each bad query raises the right error class with its position and ES's wording."""
    with pytest.raises(error) as caught:
        compile_query(query)
    assert fragment in str(caught.value)
    assert (caught.value.line, caught.value.column) == (line, column)  # type: ignore[attr-defined]


def test_error_text_starts_with_position() -> None:
    """The message reads like Elasticsearch's: `line L:C: message`."""
    with pytest.raises(EqlSemanticError, match=r"^line 1:15: Unknown function \[nope\]$"):
        compile_query("process where nope()")


def test_comments_and_raw_strings_parse() -> None:
    """Line and block comments are ignored; triple-quoted strings keep backslashes."""
    query = compile_query('// hunt\nprocess where /* inline */ process.name : """C:\\lua.exe"""')
    hits = query.search(
        [{"@timestamp": 1, "event": {"category": "process"}, "process": {"name": "c:\\LUA.exe"}}]
    )
    assert hits["total"]["value"] == 1


def test_keywords_are_lowercase_only() -> None:
    """`AND` is not a keyword, so it cannot join conditions (as in Elasticsearch)."""
    with pytest.raises(EqlSyntaxError):
        compile_query('process where a == "x" AND b == "y"')


def test_function_names_are_case_insensitive() -> None:
    """Elasticsearch resolves function names regardless of case (CONCAT, startswith~)."""
    compile_query('process where CONCAT(a, "") == "x" and startswith~(b, "y")')


def test_unicode_escape() -> None:
    """`\\u{...}` escapes decode to the code point; bad lengths are rejected."""
    query = compile_query('any where x == "caf\\u{e9}"')
    assert query.search([{"@timestamp": 1, "x": "café"}])["total"]["value"] == 1
    with pytest.raises(EqlSyntaxError, match="2-8"):
        compile_query('any where x == "\\u{1}"')


# ---- the fast way and the plain way give one result -------------------------------------------------


def _outcome(parse: Callable[[str], ast.Statement], text: str) -> object:
    """The statement with every position (nodes compare without them), or the error it raised."""
    try:
        return _with_positions(parse(text))
    except EqlError as exc:
        return (type(exc).__name__, exc.message, exc.line, exc.column)
    except RecursionError:
        return "RecursionError"


def _with_positions(node: object) -> object:
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        fields = [
            (field.name, _with_positions(getattr(node, field.name))) for field in dataclasses.fields(node)
        ]
        return (type(node).__name__, *fields)
    if isinstance(node, tuple):
        return tuple(_with_positions(item) for item in node)
    return node


def _real_queries() -> list[str]:
    queries = list(_BUILT_IN)
    if RULES.is_dir():
        queries += list(eql_queries().values())
    if eql_spec.available():
        queries += [case.query for case in eql_spec.cases()]
    return queries


def test_fast_and_plain_parse_agree_on_real_queries() -> None:
    """Every detection rule and spec query parses the fast way, to the plain way's tree and positions."""
    for text in _real_queries():
        assert parser._fast_parse(text) is not None, text
        assert _outcome(parser.parse, text) == _outcome(parser.parse_plain, text), text


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_fast_and_plain_parse_agree_on_damaged_queries(text: str) -> None:
    """Damaged real queries give the plain way's tree, or its error with its position, either way."""
    assert _outcome(parser.parse, text) == _outcome(parser.parse_plain, text)


def test_positions_count_the_tokens_the_tree_leaves_out() -> None:
    """A parenthesised left side starts its `and` at `(`, and a sequence term starts at its `[`."""
    condition = parser.parse("process where (a == 1) and b").query.filter.condition  # type: ignore[union-attr]
    assert isinstance(condition, ast.And)
    assert (condition.pos, condition.left.pos) == (ast.Pos(1, 15), ast.Pos(1, 16))
    sequence = parser.parse("sequence [a where true] [b where true]").query
    assert isinstance(sequence, ast.SequenceQuery)
    assert [term.pos for term in sequence.terms] == [ast.Pos(1, 10), ast.Pos(1, 25)]
    assert sequence.terms[0].filter.pos == ast.Pos(1, 11)


def test_a_syntax_error_wins_over_an_earlier_builder_error() -> None:
    """`=` before a truncated end is reported as the truncation, as Lark's tree is checked first."""
    with pytest.raises(EqlSyntaxError, match=r"^line 1:26: mismatched input '<EOF>'"):
        compile_query("process where a = 1 and (")
    with pytest.raises(EqlSyntaxError, match=r"^line 1:17: Use == instead of ="):
        compile_query("process where a = 1 and b == 2")


def test_deep_statements_take_the_plain_way() -> None:
    """Past the fast way's depth limit the plain way parses, to the same tree; far past it, its error."""
    deep = "any where " + "not " * (parser._FAST_MAX_DEPTH + 5) + "true"
    assert parser._fast_parse(deep) is None
    assert _outcome(parser.parse, deep) == _outcome(parser.parse_plain, deep) != "RecursionError"
    shallow = "any where " + "not " * (parser._FAST_MAX_DEPTH - 10) + "true"
    assert parser._fast_parse(shallow) is not None
