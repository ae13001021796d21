"""Properties over generated input: only EqlError leaves the engine, and Lucene regexes agree with re.

Query text is random, or real queries (Elastic's detection rules and Elasticsearch's spec suite,
when ../shared is present, else a few built-in ones) with slices deleted, duplicated, swapped or
replaced. Regexes are drawn from the syntax Lucene and Python share, written once in each dialect.
"""

from __future__ import annotations

import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hunter.eql import EqlError, compile_query
from hunter.eql.patterns import regex_matcher
from tests.eql.test_detection_rules import RULES, eql_queries
from tests.support import eql_spec

_BUILT_IN = [
    'process where process.name == "lua" and process.args : ("-e", "*.lua")',
    "sequence by host.id with maxspan=5s [process where true] by process.pid "
    "[file where true] by process.pid",
    'sequence with maxspan=1m [a where x regex~ "[a-z]+\\\\s"] with runs=2 until [b where y like "z*"]',
    "sample by host.id [process where true] [network where true]",
    'any where startsWith~(a, "x") or length(b) > 3 | tail 2',
]


def _seed_queries() -> list[str]:
    queries = list(_BUILT_IN)
    if RULES.is_dir():
        queries += list(eql_queries().values())[::7]
    if eql_spec.available():
        queries += [case.query for case in eql_spec.cases()][::3]
    return queries


SEEDS = _seed_queries()
EVENTS: list[dict[str, Any]] = [
    {
        "@timestamp": 1000 * n,
        "event": {"category": ["process", "file"][n % 2], "type": "start"},
        "host": {"id": f"h{n % 2}", "os": {"type": "linux"}},
        "process": {
            "name": ["lua", "bash", "x y"][n % 3],
            "pid": n,
            "args": ["-e", "a.lua"],
            "executable": "/bin/x ",
        },
        "a": "abc",
        "x": n,
    }
    for n in range(6)
]
TOKENS = [
    " ", "[", "]", "(", ")", "\"", "'", "\\", "`", "?", "!", "~", ":", "==", "!=", "<", ">=", "|", ",", ".",
    "by", "with", "runs=", "maxspan=", "until", "where", "and", "or", "not", "in", "regex", "regex~",
    "like~", "sequence", "sample", "any", "process", "head", "tail", "1", "-1", "1.5", "9" * 25, "\"\"\"",
    "(?i)", "\\s", "*", "\n", "\u00e9", "\U0001f600",
]  # fmt: skip


def _check(text: str) -> None:
    """compile_query and search raise nothing but EqlError."""
    try:
        query = compile_query(text)
    except EqlError:
        return
    query.search(EVENTS, size=5)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A real query with one to three random edits."""
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 3))):
        size = len(text)
        start = draw(st.integers(0, size))
        end = draw(st.integers(start, min(size, start + 12)))
        edit = draw(st.sampled_from(["delete", "insert", "duplicate", "replace"]))
        if edit == "delete":
            text = text[:start] + text[end:]
        elif edit == "duplicate":
            text = text[:end] + text[start:end] + text[end:]
        else:
            token = draw(st.sampled_from(TOKENS))
            text = text[:start] + token + text[end if edit == "replace" else start :]
    return text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_queries_raise_only_eql_errors(text: str) -> None:
    """Damaged real queries either compile and run, or fail with an EqlError."""
    _check(text)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=25).map("".join) | st.text(max_size=40))
def test_random_text_raises_only_eql_errors(text: str) -> None:
    """Arbitrary text either compiles and runs, or fails with an EqlError."""
    _check(text)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet='ab.|()[]^-*+?{},0123456789\\"#@&~<>dswDSWqn ', max_size=14))
def test_random_regex_patterns_raise_only_eql_errors(pattern: str) -> None:
    """Any pattern inside `regex` and `regex~` compiles, or fails with an EqlError."""
    literal = pattern.replace("\\", "\\\\").replace('"', '\\"')
    for op in ("regex", "regex~"):
        _check(f'any where a {op} "{literal}"')


# ---- Lucene against Python where their syntax means the same -----------------------------------

_ATOMS = [
    ("a", "a"),
    ("b", "b"),
    ("1", "1"),
    (".", "."),
    ("[ab]", "[ab]"),
    ("[^a]", "[^a]"),
    ("\\d", "[0-9]"),
    ("\\s", "[ \\t\\n\\r]"),
    ("\\w", "[0-9A-Za-z_]"),
    ("\\W", "[^0-9A-Za-z_]"),
    ("\\.", "\\."),
]
_RANGES = [("[a-c]", "[a-c]"), ("[0-9a]", "[0-9a]")]


def _regexes(atoms: list[tuple[str, str]]) -> st.SearchStrategy[tuple[str, str]]:
    def extend(inner: st.SearchStrategy[tuple[str, str]]) -> st.SearchStrategy[tuple[str, str]]:
        def concat(parts: list[tuple[str, str]]) -> tuple[str, str]:
            return "".join(p[0] for p in parts), "".join(p[1] for p in parts)

        def union(pair: tuple[tuple[str, str], tuple[str, str]]) -> tuple[str, str]:
            (la, pa), (lb, pb) = pair
            return f"({la}|{lb})", f"(?:{pa}|{pb})"

        def repeat(item: tuple[tuple[str, str], str]) -> tuple[str, str]:
            (lucene, python), op = item
            return f"({lucene}){op}", f"(?:{python}){op}"

        return st.one_of(
            st.lists(inner, min_size=2, max_size=4).map(concat),
            st.tuples(inner, inner).map(union),
            st.tuples(inner, st.sampled_from(["*", "+", "?", "{2}", "{1,3}", "{0,}"])).map(repeat),
        )

    return st.recursive(st.sampled_from(atoms), extend, max_leaves=8)


_VALUES = st.text(alphabet="abAB1_ .\t\n-", max_size=8)


@settings(max_examples=300, deadline=None)
@given(_regexes(_ATOMS + _RANGES), _VALUES)
def test_lucene_agrees_with_python_on_shared_syntax(pair: tuple[str, str], value: str) -> None:
    """Case-sensitive: a Lucene pattern matches exactly what its Python twin fully matches."""
    lucene, python = pair
    assert regex_matcher([lucene], False)(value) is bool(re.fullmatch(python, value, re.DOTALL))


@settings(max_examples=300, deadline=None)
@given(_regexes(_ATOMS), _VALUES)
def test_lucene_case_insensitive_agrees_with_python(pair: tuple[str, str], value: str) -> None:
    """`regex~` without ranges (which Lucene does not fold) agrees with re.IGNORECASE."""
    lucene, python = pair
    expected = bool(re.fullmatch(python, value, re.DOTALL | re.IGNORECASE))
    assert regex_matcher([lucene], True)(value) is expected


@settings(max_examples=200, deadline=None)
@given(_regexes(_ATOMS + _RANGES), _regexes(_ATOMS + _RANGES), _VALUES)
def test_intersection_and_complement_are_exact(
    left: tuple[str, str], right: tuple[str, str], value: str
) -> None:
    """`A&B` is both and `~A` is not A: checked against Python matching A and B separately."""
    in_left = bool(re.fullmatch(left[1], value, re.DOTALL))
    in_right = bool(re.fullmatch(right[1], value, re.DOTALL))
    assert regex_matcher([f"({left[0]})&({right[0]})"], False)(value) is (in_left and in_right)
    assert regex_matcher([f"~({left[0]})"], False)(value) is (not in_left)


def test_long_or_chains_compile_and_match() -> None:
    """150 `or`ed clauses (over Python's 100 nested blocks in generated code) compile and match."""
    query = compile_query("any where " + " or ".join(f'a == "{n}"' for n in range(150)))
    events = [{"@timestamp": 1, "a": "149"}, {"@timestamp": 2, "a": "150"}]
    assert [hit["_source"]["a"] for hit in query.search(events)["events"]] == ["149"]


def test_statement_too_deep_is_a_syntax_error() -> None:
    """Nesting deeper than the parser's stack is Elasticsearch's "statement is too large" error."""
    try:
        compile_query("any where " + "not " * 3000 + "true")
    except EqlError as exc:
        assert "EQL statement is too large" in exc.message
    else:
        raise AssertionError("a 3000-deep statement compiled")
