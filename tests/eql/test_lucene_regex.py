"""`regex`/`regex~` follow Lucene's RegExp (Lucene 10, as Elasticsearch 9.x runs it), not Python's re.

Each case quotes the line of ``lucene/core/src/java/org/apache/lucene/util/automaton/RegExp.java``
(apache/lucene, Lucene 10) that decides it, and Elasticsearch's flags: ``RegexpFlag.ALL`` is
``RegExp.ALL | RegExp.DEPRECATED_COMPLEMENT`` (server/.../index/query/RegexpFlag.java), so every
optional operator is on.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from hunter.eql import EqlError, EqlSemanticError, compile_query
from hunter.eql.patterns import regex_matcher


def matches(pattern: str, value: str, insensitive: bool = False) -> bool:
    """Whether the Lucene ``pattern`` matches the whole ``value``."""
    return regex_matcher([pattern], insensitive)(value)


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        # expandPreDefined: `} else if (peek("s")) { // whitespace: [\t-\n\r ]`
        (r"a\sb", "a b", True),
        (r"a\sb", "a\tb", True),
        (r"a\sb", "a\nb", True),
        (r"a\sb", "a\rb", True),
        (r"a\sb", "asb", False),
        (r"a\sb", "a\x0bb", False),  # vertical tab is not in Lucene's \s (Java's \s has it)
        (r"a\sb", "a\u00a0b", False),
        # `// non-whitespace: [^\t-\n\r ]`
        (r"\S", "\u00a0", True),
        (r"\S", " ", False),
        # `// digit: [0-9]` (ASCII only: Arabic-Indic digits are not \d)
        (r"\d\d", "42", True),
        (r"\d", "\u0664", False),
        (r"\D", "\u0664", True),
        (r"\D", "7", False),
        # `// word: [0-9A-Z_a-z]` (é is not a word character)
        (r"\w+", "Ab_09", True),
        (r"\w", "é", False),
        (r"\W", "é", True),
        (r"\W", "_", False),
        # inside a class: parseCharClasses `if (match('\\')) { if (peek("\\ABC...xyz")) expandPreDefined`
        (r"[\s_]+", " _\t", True),
        (r"[\d-z]", "-", True),  # `[\d-z]` is digits, '-' and 'z': no range starts at a class
        (r"[\d-z]", "m", False),
        # `} else { // escaped character, don't parse it` (no range after an escaped character)
        (r"[\.-z]", "-", True),
        (r"[\.-z]", "m", False),
        (r"[\\]", "\\", True),
        # parseSimpleExp falls through to `return makeChar(flags, parseCharExp());` for any other
        # character, so operators where an atom is expected are literals
        ("*a", "*a", True),
        ("|a", "|a", True),
        (")", ")", True),
        ("a||b", "|b", True),
        ("a{2}{3}", "aaaaaa", True),  # a repeat of a repeat
        ("a+?", "", True),  # `?` after `+` is optional, not lazy: (a+)?
        ('"a.b"', "a.b", True),  # `else if (match('"'))` quoted literal
        ('"a.b"', "axb", False),
        ("()", "", True),  # `if (match(')')) return makeString(flags, "");`
        ("[]a]", "]", True),  # do-while: the first character of a class may be ']'
        (".", "\n", True),  # `.` is any code point, line breaks too
        ("", "", True),
        ("", "a", False),
        # optional operators under RegexpFlag.ALL
        ("@", "anything at all", True),  # `check(ANYSTRING) && match('@')`
        ("a#", "a", False),  # `check(EMPTY) && match('#')`: the empty language
        ("a.*&.*b", "ab", True),  # `check(INTERSECTION) && match('&')`
        ("a.*&.*b", "ba", False),
        ("(a|b)*&~(.*aa.*)", "abab", True),
        ("(a|b)*&~(.*aa.*)", "abaa", False),
        ("~(a)", "b", True),  # `check(DEPRECATED_COMPLEMENT) && match('~')`
        ("~(a)", "a", False),
        ("~(a)", "", True),
        ("a~b", "ac", True),
        ("~(ab)*", "ab", True),  # parseRepeatExp calls parseComplExp: `*` repeats the complement
        ("~((ab)*)", "abab", False),
        ("<1-10>", "007", True),  # `digits = 0`: any leading zeros
        ("<1-10>", "11", False),
        ("<01-10>", "7", False),  # same length: `digits = smin.length()`, zero-padded
        ("<01-10>", "07", True),
        ("<10-1>", "5", True),  # `if (imin > imax)` swaps the ends
        ("<0-1000000>", "999999", True),
        ("<0-1000000>", "1000001", False),
    ],
)
def test_lucene_semantics(pattern: str, value: str, expected: bool) -> None:
    """Each pattern means what Lucene's RegExp makes of it."""
    assert matches(pattern, value) is expected


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        # REGEXP_CHAR/REGEXP_STRING: `if (check(ASCII_CASE_INSENSITIVE | CASE_INSENSITIVE))`
        ("abc", "AbC", True),
        ('"abc"', "ABC", True),
        ("[a]", "A", True),  # `} else if (check(ASCII_CASE_INSENSITIVE | CASE_INSENSITIVE)) {`
        ("[^a]", "A", False),
        ("[a-c]", "B", False),  # a range is `starts.add(c); ends.add(parseCharExp());`: not folded
        (r"\w", "A", True),
        ("k", "\u212a", True),  # CaseFolding: Kelvin sign K, k, K
        ("i", "\u0130", True),  # i, I, İ, ı
        ("\u03c3", "\u03c2", True),  # σ, ς, Σ
        ("é", "É", True),  # Unicode, not only ASCII, in Lucene 10
        ("(?i)abc", "?IABC", True),
    ],
)
def test_case_insensitive(pattern: str, value: str, expected: bool) -> None:
    """`regex~` folds single characters and strings, never ranges, with Unicode case folding."""
    assert matches(pattern, value, insensitive=True) is expected


def test_inline_flag_group_is_two_literal_characters() -> None:
    """`(?i)abc` is `(` + `?i` + `)` + `abc`: parseSimpleExp reads `?` and `i` as characters."""
    assert matches("(?i)abc", "?iabc")
    assert not matches("(?i)abc", "abc")
    assert not matches("(?i)abc", "ABC")


def test_inline_flag_query_compiles_and_matches_like_elasticsearch() -> None:
    """`regex~ "(?i)abc"` compiles (it used to raise re.error) and matches only `?iabc` in any case."""
    query = compile_query('any where a regex~ "(?i)abc"')
    events = [{"@timestamp": n, "a": value} for n, value in enumerate(["abc", "?IABC", "?iabc", "(?i)abc"])]
    hits = query.search(events)
    assert [hit["_source"]["a"] for hit in hits["events"]] == ["?IABC", "?iabc"]


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("a|", "unexpected end-of-string"),  # parseCharExp -> next()
        ("[", "unexpected end-of-string"),
        ("a{", "integer expected at position 2"),
        ("a{2", "expected '}' at position 3"),
        ("a{3,2}", "invalid repetition range(out of order): 3..2"),
        ("a{99999999999}", 'For input string: "99999999999"'),  # Integer.parseInt
        ("[z-a]", "invalid range: from (122) cannot be > to (97)"),
        ("[ab", "expected ']' at position 3"),
        ("(a", "expected ')' at position 2"),
        ("a)", "end-of-string expected at position 1"),
        ('"ab', "expected '\"' at position 3"),
        ("<1-x>", "interval syntax error at position 4"),
        ("<1-2", "expected '>' at position 4"),
        ("<foo>", "'foo' not found"),  # a named automaton; the regexp query provides none
        (r"\q", "invalid character class \\q"),  # `It is an error to use a backslash prior to...`
        (r"[\n]", "invalid character class \\n"),
        ("\\", "unexpected end-of-string"),
    ],
)
def test_lucene_errors(pattern: str, message: str) -> None:
    """Patterns Lucene refuses are EqlSemanticErrors with Lucene's message, at the pattern's position."""
    escaped = pattern.replace("\\", "\\\\").replace('"', '\\"')
    with pytest.raises(EqlSemanticError) as caught:
        compile_query(f'any where field regex "{escaped}"')
    assert message in caught.value.message
    assert (caught.value.line, caught.value.column) == (1, 23)


def _process(executable: str) -> dict[str, Any]:
    return {
        "@timestamp": 1,
        "event": {"category": "process", "type": "start"},
        "host": {"os": {"type": "linux"}},
        "process": {"executable": executable, "name": executable.rsplit("/", 1)[-1]},
    }


def test_masquerading_space_after_filename_rule() -> None:
    """Elastic's rule `/[a-z0-9\\s_\\-\\\\./]+\\s` fires on a trailing space, not on a trailing `s`."""
    query = compile_query(
        'process where host.os.type:("linux","macos") and event.type == "start" and '
        'process.executable regex~ """/[a-z0-9\\s_\\-\\\\./]+\\s"""'
    )
    events = [_process(path) for path in ["/tmp/evil.sh ", "/tmp/evil.shs", "/tmp/a dir/x.sh ", "/TMP/x.sh "]]
    hits = query.search(events)
    # `/TMP/` does not match although the operator is regex~: Lucene folds no range ([a-z])
    assert [hit["_source"]["process"]["executable"] for hit in hits["events"]] == [
        "/tmp/evil.sh ",
        "/tmp/a dir/x.sh ",
    ]


def test_every_error_is_an_eql_error() -> None:
    """Regexes Python's re would choke on never leak re.error out of compile_query."""
    for pattern in ["(?P<x>a)", "a**", "(?<=a)b", "[[:alpha:]]", "\\\\1", "a{,3}", "(((", "+"]:
        with contextlib.suppress(EqlError):
            compile_query(f'any where f regex "{pattern}"')
