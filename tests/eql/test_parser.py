"""Parsing and verification errors carry Elasticsearch's wording and a line and column."""

from __future__ import annotations

import pytest

from hunter.eql import EqlSemanticError, EqlSyntaxError, compile_query


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
