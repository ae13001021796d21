"""Skipping lines before parsing: which texts a line is searched for, JSON escapes, case, and that
searching only the lines the filter keeps gives every query's result over all lines."""

from __future__ import annotations

import json
from typing import Any, Literal

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hunter.eql import LinePrefilter, compile_query, search_many

START_MS = 1_795_154_400_000


def prefilter(*texts: str, max_texts: int = 24) -> LinePrefilter | None:
    """The filter for the queries ``texts`` (each run with default options)."""
    return LinePrefilter.for_runs([compile_query(text).run() for text in texts], max_texts=max_texts)


def line(document: dict[str, Any], *, ascii_only: bool = False) -> bytes:
    """``document`` as an NDJSON line: as orjson writes it, or with every non-ASCII character escaped."""
    if ascii_only:
        return json.dumps(document, ensure_ascii=True).encode() + b"\n"
    return orjson.dumps(document) + b"\n"


def test_a_line_is_kept_when_it_holds_a_text_of_the_query() -> None:
    """A line with the query's value is kept; one without any is refused."""
    wants = prefilter('process where process.name == "cmd.exe"')
    assert wants is not None
    assert wants(line({"process": {"name": "cmd.exe"}}))
    assert not wants(line({"process": {"name": "bash"}}))


def test_texts_are_searched_as_json_writes_them() -> None:
    """A backslash or a quote in a value is searched escaped, as it is in the line."""
    wants = prefilter('file where file.path == "C:\\\\Temp\\\\a\\"b"')
    assert wants is not None
    assert wants.texts == (b'C:\\\\Temp\\\\a\\"b',)
    assert wants(line({"file": {"path": 'C:\\Temp\\a"b'}}))
    assert not wants(line({"file": {"path": "C:/Temp/a'b"}}))


def test_a_line_with_a_unicode_or_slash_escape_is_always_kept() -> None:
    """\\uXXXX and \\/ spell characters another way, so such a line is parsed; an escaped backslash
    before a "u" is no such escape."""
    wants = prefilter('process where process.name == "caf\u00e9.exe"')
    assert wants is not None
    assert wants(line({"process": {"name": "caf\u00e9.exe"}}, ascii_only=True))  # written caf\u00e9.exe
    assert wants(line({"process": {"name": "other"}, "x": "\u00e9"}, ascii_only=True))
    assert wants(b'{"process": {"name": "a\\/b"}}\n')
    assert not wants(line({"process": {"name": "C:\\users\\x"}}))  # "C:\\users": no escape


def test_case_insensitive_texts_match_any_case_and_non_ascii_lines_are_kept() -> None:
    """`:` texts are found in any case; a non-ASCII line is kept (str.lower maps the Kelvin sign to k)."""
    wants = prefilter('process where process.name : "kill"')
    assert wants is not None and wants.folded == (b"kill",)
    assert wants(line({"process": {"name": "KiLL"}}))
    assert not wants(line({"process": {"name": "skip"}}))
    kelvin = {"process": {"name": "\u212aill"}}
    assert compile_query('process where process.name : "kill"').search(
        [{"@timestamp": START_MS, "event": {"category": "process"}, **kelvin}]
    )["events"]
    assert wants(line(kelvin))


def test_every_stage_and_every_query_is_looked_for() -> None:
    """A line only a sequence's second stage, or only another query, could use is kept."""
    wants = prefilter(
        'sequence [process where process.name == "aaa.exe"] [file where file.name == "bbb.txt"]',
        'network where destination.domain == "evil.example"',
    )
    assert wants is not None
    assert wants(line({"file": {"name": "bbb.txt"}}))
    assert wants(line({"destination": {"domain": "evil.example"}}))
    assert not wants(line({"file": {"name": "ccc.txt"}}))


def test_no_filter_when_a_stage_needs_no_text_or_too_many_texts() -> None:
    """A range, a regex, `any where true` or more texts than worth searching leave every line parsed;
    the category alone is a text (a process query skips network events)."""
    assert prefilter("any where process.pid > 5") is None
    assert prefilter('any where process.name regex "a.*"') is None
    category = prefilter("process where process.pid > 5")
    assert category is not None and category.texts == (b"process",)
    assert prefilter("any where true") is None
    assert prefilter('process where process.name in ("a1", "b2", "c3")', max_texts=2) is None
    assert prefilter('process where process.name in ("a1", "b2", "c3")', max_texts=3) is not None


def test_a_text_holding_another_is_not_searched() -> None:
    """`lua` covers `luajit` and `.lua`: a line holding either holds `lua`."""
    wants = prefilter('process where process.name like~ ("lua", "luajit") or process.args : "*.lua"')
    assert wants is not None and wants.folded == (b"lua",)


# ---- never refusing a line a query uses ----------------------------------------------------------

TRICKY = st.sampled_from(
    ["\\", '"', "/", "\u00e9", "\u212a", "\u0130", "\u00df", "\n", "\t", "\x01", "K", "k"]
)
TEXT = st.lists(st.one_of(st.sampled_from("abcXYZ.:"), TRICKY), min_size=3, max_size=8).map("".join)


def eql_string(text: str) -> str:
    """An EQL string literal of ``text``."""
    escapes = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t"}
    return '"' + "".join(escapes.get(c, c if c >= " " else f"\\u{{{ord(c):02x}}}") for c in text) + '"'


@st.composite
def matching(draw: st.DrawFn) -> tuple[str, str]:
    """A query on process.name and a value it matches (cases varied for the insensitive forms)."""
    text = draw(TEXT)
    literal = eql_string(text)
    kind = draw(st.sampled_from(["==", ":", "like~ prefix", "like~ suffix", "in~", "like~ infix"]))
    value = text
    if kind in (":", "in~", "like~ prefix", "like~ suffix", "like~ infix"):
        value = "".join(c.upper() if draw(st.booleans()) else c for c in text)
    if "*" in literal or "?" in literal:
        kind = "=="  # a wildcard character in the text would make a pattern of it
        value = text
    query = {
        "==": f"process where process.name == {literal}",
        ":": f"process where process.name : {literal}",
        "in~": f'process where process.name in~ ({literal}, "other")',
        "like~ prefix": f'process where process.name like~ {literal[:-1]}*"',
        "like~ suffix": f'process where process.name like~ "*{literal[1:]}',
        "like~ infix": f'process where process.name like~ "*{literal[1:-1]}*"',
    }[kind]
    extra = draw(st.sampled_from(["", "x", "\\", "\u00e9"]))
    if kind == "like~ prefix":
        value += extra
    elif kind == "like~ suffix":
        value = extra + value
    elif kind == "like~ infix":
        value = extra + value + extra
    return query, value


@given(matching(), st.booleans())
@settings(max_examples=300, deadline=None)
def test_a_line_whose_event_a_query_matches_is_never_refused(case: tuple[str, str], ascii_only: bool) -> None:
    """Whatever the characters (escapes, case, non-ASCII) and however the line is written, an event
    the query matches is in a line the filter keeps."""
    query, value = case
    document = {"@timestamp": START_MS, "event": {"category": "process"}, "process": {"name": value}}
    matched = compile_query(query).search([document])["events"]
    wants = prefilter(query)
    if matched and wants is not None:
        assert wants(line(document, ascii_only=ascii_only)), (query, value)


def test_searching_only_kept_lines_gives_every_result() -> None:
    """Event, sequence (waiting across skipped lines) and sample queries, head and tail: the result
    over the kept lines is the result over all lines."""
    texts = [
        'process where process.name : "lua"',
        'sequence by host.id with maxspan=1h [process where process.name == "lua"] '
        '[file where file.path : "/tmp/*"] until [process where process.name == "kill"]',
        'sequence by host.id with maxspan=30s [process where process.name == "lua"] ![network where true] '
        '[file where file.path : "/tmp/*"]',
        'sample by host.id [process where process.name == "lua"] [file where file.path : "/tmp/*"]',
        'process where process.name == "lua" | tail 2',
    ]
    events = []
    for number in range(120):
        body: dict[str, Any] = {
            "event": {"category": "process", "action": "start"},
            "process": {"name": "ls"},
        }
        if number % 17 == 3:
            body["process"]["name"] = "lua" if number % 2 else "LUA"
        if number % 23 == 5:
            body = {"event": {"category": "file"}, "file": {"path": "/TMP/x" if number % 2 else "/tmp/y"}}
        if number == 40:
            body["process"]["name"] = "kill"
        if number % 29 == 7:
            body = {"event": {"category": "network"}}
        body.update({"@timestamp": START_MS + number * 1000, "host": {"id": f"h{number % 3}"}})
        events.append({"_index": "i", "_id": str(number), "_source": body})
    cases: list[tuple[int, Literal["head", "tail"]]] = [(3, "head"), (3, "tail"), (1000, "head")]
    for size, position in cases:
        runs = [compile_query(text).run(size=size, result_position=position) for text in texts]
        wants = LinePrefilter.for_runs(runs)
        assert wants is not None
        kept = [event for event in events if wants(orjson.dumps(event["_source"]))]
        assert 0 < len(kept) < len(events)
        fresh = [compile_query(text).run(size=size, result_position=position) for text in texts]
        everything = search_many(fresh, events)
        assert all(result["total"]["value"] for result in everything)  # every query finds something
        assert search_many(runs, kept) == everything


@pytest.mark.parametrize("text", ["a\\u0041", "a\\\\u0041", "x\\/y", "x\\\\/y"])
def test_real_escapes_are_told_from_escaped_backslashes(text: str) -> None:
    """Only an odd run of backslashes before `u` or `/` is an escape that forces parsing."""
    wants = prefilter('process where process.name == "zzz"')
    assert wants is not None
    escaped = text.count("\\") % 2 == 1
    assert wants(b'{"process": {"name": "' + text.encode() + b'"}}') is escaped


# ---- lines of some event categories (the helper of a split pass) ----------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('process where process.name == "a"', {"process"}),
        ('any where process.name == "a"', None),
        ('process where event.category == "network"', {"process"}),
        (
            "sequence [process where true] [network where true] until [file where true]",
            {"file", "network", "process"},
        ),
        ("sequence with maxspan=1m [process where true] [network where true]", {"network", "process"}),
        (
            "sequence with maxspan=1m [process where true] ![file where true] [network where true]",
            {"file", "network", "process"},
        ),
        ("sequence [process where true] [any where true]", None),
        ('any where event.category == "process"', None),  # a condition, not a stage's category
        ("event where true", {"event"}),  # a category like any other (any is the wildcard)
    ],
)
def test_the_categories_a_query_looks_at(query: str, expected: set[str] | None) -> None:
    """Every stage's category, the until clause's and missing stages' with them; none when a stage
    is ``any``."""
    from hunter.eql.prefilter import query_categories

    found = query_categories(compile_query(query).statement)
    assert found == (None if expected is None else frozenset(expected))


_CATEGORIES = ["process", "network", "file", 'q"uote', "back\\slash", "caf\u00e9", "x]y", "process2"]


@st.composite
def _category_lines(draw: st.DrawFn) -> tuple[bytes, set[str]]:
    """An event line holding some categories, written one of the ways a JSON writer may: nested or
    dotted, one string or a list, compact or spaced, non-ASCII escaped or not, as a hit or not."""
    held = draw(st.lists(st.sampled_from(_CATEGORIES), min_size=1, max_size=3, unique=True))
    value: Any = held if len(held) > 1 or draw(st.booleans()) else held[0]
    if isinstance(value, list) and draw(
        st.booleans()
    ):  # other values in the list: the engine looks past them
        junk = draw(
            st.lists(st.sampled_from([None, 1, 2.5, True, {"a": 1}, [], ["x"]]), min_size=1, max_size=3)
        )
        value = [*junk, *value] if draw(st.booleans()) else [*value[:1], *junk, *value[1:]]
    if isinstance(value, list) and draw(st.integers(0, 4)) == 0:
        value = [value]  # nested: the engine flattens it
    shapes: list[dict[str, Any]] = [{}, {"threat": {"category": "process"}}, {"x": "category"}]
    others = draw(st.sampled_from(shapes))
    if draw(st.booleans()):
        document: dict[str, Any] = {"event.category": value, **others}
    else:
        document = {"event": {"category": value, "kind": "event"}, **others}
    if draw(st.booleans()):
        document = {"_index": "i", "_id": "1", "_source": document}
    style = draw(st.sampled_from(["orjson", "spaced", "ascii"]))
    if style == "orjson":
        text = orjson.dumps(document)
    else:
        text = json.dumps(document, ensure_ascii=style == "ascii", separators=(" , ", " : ")).encode()
    return text + b"\n", set(held)


@given(_category_lines(), st.sets(st.sampled_from(_CATEGORIES), min_size=1, max_size=3))
@settings(max_examples=400, deadline=None)
def test_a_line_of_a_wanted_category_is_never_refused(case: tuple[bytes, set[str]], wanted: set[str]) -> None:
    """Whatever way the line is written, one whose event.category holds a wanted category goes
    through (others may too: escapes, other keys named category)."""
    from hunter.eql.prefilter import category_filter

    text, held = case
    if held & wanted:
        assert category_filter(wanted)(text)


def test_lines_of_other_categories_are_refused() -> None:
    """The usual lines of other categories are not parsed: a key named like a wanted category, a
    longer category holding its name, and Windows paths' backslashes let nothing through."""
    from hunter.eql.prefilter import category_filter

    wants = category_filter(["process", "registry"])
    assert wants(line({"event": {"category": ["process"]}}))
    assert wants(line({"event": {"category": ["network", "registry"]}}))
    assert not wants(line({"event": {"category": ["network"]}, "process": {"name": "registry"}}))
    assert not wants(line({"event": {"category": "processes"}, "file": {"path": "C:\\users\\process"}}))
    assert wants(line({"event": {"category": ["network"]}, "x": "\u00e9"}, ascii_only=True))  # an escape
    assert wants(line({"event": {"category": [None, "process"]}}))  # not strings only: let through
    assert wants(line({"event": {"category": [["process"]]}}))
    assert not wants(b'{"event": {"category" :  [ "network" , "file" ] }}\n')  # spaced, still refused
