"""Generated predicates are written and compiled when first called, and behave as if generated at once.

A compiled query's functions start as stubs that compile the generated source on their first call and
put its code in place, so every holder of the function runs the generated code from then on. The
tests pin that, that it happens once under concurrent first calls, that clauses whose writing could
fail are written at once (as before), and that results equal those of code generated at once, over
the spec suite and Elastic's whole rule library.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hunter.eql import CompiledQuery, analyzer, ast, codecache, codegen, compile_query, fields
from hunter.eql.codegen import _Emitter
from hunter.eql.query import _DEFER_MAX_DEPTH, _DEFER_MAX_PATH, _writes_safely_later
from tests.eql.test_conformance import run_case
from tests.eql.test_dispatch import RULES, Library, library, library_events, rule_library
from tests.support import eql_spec

__all__ = ["rule_library"]  # the fixture, shared with test_dispatch

EVENT = {"@timestamp": 1, "event": {"category": "process"}, "process": {"name": "lua5.4", "pid": 7}}


def _eager_build(emitter: _Emitter, write: Callable[[], list[str]], name: str, *, defer: bool) -> Any:
    """The generated function as it was made before: written and compiled at once."""
    exec(compile("\n".join(write()), f"<eql {name}>", "exec"), emitter.namespace)
    return emitter.namespace[name]


@pytest.fixture
def eager() -> Iterator[None]:
    """Queries compiled inside generate their code at once."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(codegen, "_build", _eager_build)
        yield


def _pending(function: Any) -> Any:
    """What a generated function still has to compile: its lines, their writer, or None once compiled."""
    return function.__globals__[codegen._COMPILE].source


def test_a_predicate_compiles_on_its_first_call_in_the_same_function_object() -> None:
    """Before the first call the function is a stub; after it, the same object runs the generated code."""
    query = compile_query('process where process.name : "lua*" and process.pid > 1')
    test = query.plan(None, "@timestamp", "event.category", None).stages[0].test
    assert test.__code__ is codegen._stub.__code__
    assert callable(_pending(test))  # not even written yet
    assert test(EVENT) is True
    assert test.__code__.co_name == "_pred" and _pending(test) is None
    assert query.plan(None, "@timestamp", "event.category", None).stages[0].test is test
    assert test({**EVENT, "process": {"name": "bash"}}) is False


def test_a_sequence_compiles_its_stages_mask_and_keys_when_searched() -> None:
    """Every generated function of a sequence (tests, mask, join keys) gives the eager results."""
    text = (
        'sequence by host.id with maxspan=1m [process where process.name == "lua"] by process.pid '
        "[network where true] by process.pid"
    )
    events = [
        {
            "@timestamp": 1,
            "event": {"category": "process"},
            "host": {"id": "h"},
            "process": {"name": "lua", "pid": 1},
        },
        {"@timestamp": 2, "event": {"category": "network"}, "host": {"id": "h"}, "process": {"pid": 1}},
    ]
    deferred = compile_query(text)
    plan = deferred.plan(None, "@timestamp", "event.category", None)
    assert all(callable(_pending(f)) for f in (plan.mask, *(stage.keys for stage in plan.stages)))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(codegen, "_build", _eager_build)
        eager = compile_query(text)
    assert deferred.search(events) == eager.search(events)
    assert deferred.search(events)["total"]["value"] == 1
    assert all(_pending(f) is None for f in (plan.mask, *(stage.keys for stage in plan.stages)))


def test_threads_calling_a_new_predicate_at_once_compile_it_once() -> None:
    """Eight threads making the first call together all get the right answer; the source compiles once."""
    test = compile_query('process where process.name : "lua*"').plan(
        None, "@timestamp", "event.category", None
    )
    predicate = test.stages[0].test
    compiled: list[str] = []

    def counting_compile(source: str, filename: str, mode: str) -> Any:
        compiled.append(filename)
        return compile(source, filename, mode)

    barrier = threading.Barrier(8)
    results: list[bool] = []

    def call() -> None:
        barrier.wait()
        results.append(predicate(EVENT))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(codecache, "compile", counting_compile, raising=False)
        threads = [threading.Thread(target=call) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert results == [True] * 8
    assert compiled == ["<eql _pred>"]


def _condition(text: str) -> Any:
    return analyzer.Analyzer(None).condition(compile_query(text).statement.query.filter.condition)  # type: ignore[union-attr]


def test_clauses_whose_writing_could_fail_are_written_at_once() -> None:
    """Regexes, deep clauses and long field paths are written at plan time, as before; others wait."""
    assert _writes_safely_later(_condition('any where a : "x*" and b in ("1", "2")'), "event.category")
    assert not _writes_safely_later(_condition('any where a regex "x.*"'), "event.category")
    assert not _writes_safely_later(_condition('any where not (a regex~ "x" or b == 1)'), "event.category")
    deep = "any where " + "not " * _DEFER_MAX_DEPTH + "a == 1"
    assert not _writes_safely_later(_condition(deep), "event.category")
    long_path = ".".join(["f"] * (_DEFER_MAX_PATH + 1))
    assert not _writes_safely_later(_condition(f"any where {long_path} == 1"), "event.category")
    assert not _writes_safely_later(_condition("any where a == 1"), long_path)
    plan = compile_query('any where a regex "x.*"').plan(None, "@timestamp", "event.category", None)
    assert isinstance(_pending(plan.stages[0].test), list)  # written, compiled on first call
    assert plan.stages[0].test({"@timestamp": 1, "a": "xyz"}) is True


def test_a_field_path_longer_than_python_nests_is_read_like_any_other() -> None:
    """A 120-part field path (deeper than Python lets generated code nest) compiles and matches the
    value however the event spells the path: nested objects, a dotted key, or a mix."""
    parts = ["f"] * 120
    query = compile_query(f"any where {'.'.join(parts)} == 1")
    nested: Any = 1
    for part in reversed(parts):
        nested = {part: nested}
    spellings = [
        nested,
        {".".join(parts): 1},
        {".".join(parts[:60]): {".".join(parts[60:]): 1}},
        {"f": [{".".join(parts[1:]): 1}]},
    ]
    events = [
        {"@timestamp": n, "event": {"category": "x"}, **spelling} for n, spelling in enumerate(spellings)
    ]
    events.append({"@timestamp": 9, "event": {"category": "x"}, ".".join(parts): 2})
    assert [hit["_source"]["@timestamp"] for hit in query.search(events, size=10)["events"]] == [0, 1, 2, 3]


def test_generated_source_is_the_same_written_now_or_later() -> None:
    """The lines written on the first call are those writing at plan time gives."""
    text = (
        'process where process.name : ("lua*", "*.lua") and not process.args in ("-v", "x") '
        "and ?a.b.c != null"
    )
    later = compile_query(text).plan(None, "@timestamp", "event.category", None).stages[0].test
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("hunter.eql.query._writes_safely_later", lambda condition, category_field: False)
        now = compile_query(text).plan(None, "@timestamp", "event.category", None).stages[0].test
    written_later, written_now = _pending(later)(), _pending(now)
    assert written_later == written_now and written_now[0] == "def _pred(doc):"


@pytest.mark.skipif(not eql_spec.available(), reason="../shared/eql-spec is not present")
def test_spec_cases_give_the_same_problems_with_code_generated_at_once(eager: None) -> None:
    """Each spec case (every third) has no problem with code generated at once either (typed schemas too)."""
    for case in list(eql_spec.cases())[::3]:
        if not case.expect_shard_failures:
            assert run_case(case) == [], case.id


@pytest.fixture(scope="module")
def eager_library() -> list[CompiledQuery]:
    """The rule library compiled with code generated at once."""
    if not (RULES / "rules").is_dir():
        pytest.skip("../shared/detection-rules is not present")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(codegen, "_build", _eager_build)
        return library()


@pytest.mark.slow
@given(data=st.data())
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
def test_library_results_equal_code_generated_at_once(
    rule_library: Library, eager_library: list[CompiledQuery], data: st.DataObject
) -> None:
    """Every rule of the library returns over events its literals build what it returned before."""
    events = data.draw(library_events(rule_library))
    queries = rule_library[0]
    assert [q.text for q in queries] == [q.text for q in eager_library]
    assert [q.search(events, size=1000) for q in queries] == [
        q.search(events, size=1000) for q in eager_library
    ]


def test_ast_nodes_have_slots_the_check_walks() -> None:
    """The walk over a clause sees every child: every node type of the syntax tree has slots."""
    for kind in (
        ast.And,
        ast.Or,
        ast.Not,
        ast.Comparison,
        ast.InList,
        ast.Match,
        ast.FunctionCall,
        analyzer.IsNull,
    ):
        assert "pos" in kind.__slots__ and len(kind.__slots__) > 1


_KEYS = st.sampled_from(["a", "b", "a.b", "b.c", "a.b.c", "c"])
_DOCS = st.recursive(
    st.one_of(st.none(), st.integers(0, 3), st.text("xy", max_size=2)),
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(_KEYS, children, max_size=4)),
    max_leaves=12,
)


@given(
    st.dictionaries(_KEYS, _DOCS, max_size=5),
    st.lists(st.sampled_from(["a", "b", "c"]), min_size=2, max_size=4),
)
@settings(max_examples=300)
def test_the_getter_of_a_long_path_reads_as_the_generated_one(doc: dict[str, Any], parts: list[str]) -> None:
    """The loop that reads paths too long for generated code gives what generated code gives,
    whatever mix of nested objects, lists and dotted keys spells the path."""
    path = tuple(parts)
    assert fields._looping_getter(path)(doc) == fields.make_getter(path)(doc)


@given(
    st.dictionaries(_KEYS, _DOCS, max_size=5),
    st.lists(st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=4), min_size=1, max_size=4),
)
@settings(max_examples=300)
def test_fields_read_inline_read_as_their_getters(doc: dict[str, Any], paths: list[list[str]]) -> None:
    """Several fields read inline in one generated function (as the dispatcher's routes read them),
    those under one top-level key sharing its look-up, give what each field's getter gives."""
    namespace: dict[str, Any] = {}
    lines = ["def read(doc):", "    out = []"]
    reads = fields.InlineReads(namespace)
    for parts in paths:
        lines += reads.read(tuple(parts), "v")
        lines.append("    out.append(v)")
    lines.append("    return out")
    exec(compile("\n".join(lines), "<test read>", "exec"), namespace)
    assert namespace["read"](doc) == [fields.make_getter(tuple(parts))(doc) for parts in paths]


_DEEP_QUERY = (
    'any where a.b.c == "x" or (b.c.a : "y*" and not a.b.a in ("xy", "x")) or'
    ' (c.a == "y" and a.c.b.a != "yx") or a.b.c.a.b : "*x"'
)


def _closure(
    compiler: Any, node: Any, category: str | None, category_field: str, *, defer: bool = False
) -> Any:
    """A stage's test as the compiler's closures (no generated code): the reference."""
    assert category is None
    return compiler._pred(node)[0]


@given(st.dictionaries(_KEYS, _DOCS, max_size=5))
@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_generated_tests_read_deep_fields_as_the_closures_do(doc: dict[str, Any]) -> None:
    """Fields of two to five parts in generated code (a two-part field read in place, its parent
    shared and some first read inside a branch; longer ones by a getter call) test as the compiler's
    closures test, whatever mix of nested objects, lists and dotted keys spells them."""
    generated = compile_query(_DEEP_QUERY).plan(None, "@timestamp", "event.category", None)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("hunter.eql.query.generate", _closure)
        reference = compile_query(_DEEP_QUERY).plan(None, "@timestamp", "event.category", None)
    assert "_pred" in generated.stages[0].test.__name__
    assert generated.stages[0].test(doc) == reference.stages[0].test(doc)


def test_fields_under_a_top_level_key_that_is_no_identifier_share_its_look_up() -> None:
    """Two fields under a key Python cannot name (``my-obj``) read it into one variable."""
    query = compile_query('any where `my-obj`.a.b == "x" and `my-obj`.c == "y" and `my-obj`.d == "z"')
    test = query.plan(None, "@timestamp", "event.category", None).stages[0].test
    assert test({"my-obj": {"a": {"b": "x"}, "c": "y", "d": "z"}}) is True
    assert test({"my-obj": {"a": {"b": "x"}, "c": "y", "d": "y"}}) is False


def test_a_document_has_dotted_keys_when_a_top_level_key_has_a_dot_or_is_not_text() -> None:
    """Generated reads skip the look-ups of dotted keys at a document's top level only when none of
    its own keys has a dot; keys that are not text (not JSON) count as dotted (read every way)."""
    assert fields.dotted_keys({"process": {"parent.name": "x"}}) is False  # a nested one: read there
    assert fields.dotted_keys({"event": {}, "process.name": "x"}) is True
    assert fields.dotted_keys({1: "x"}) is True  # type: ignore[dict-item]
    namespace: dict[str, Any] = {}
    reads = fields.InlineReads(namespace)
    lines = ["def read(doc):", *reads.read(("process", "name"), "v"), "    return v"]
    exec(compile("\n".join(lines), "<test read>", "exec"), namespace)
    assert namespace["read"]({"process": {"name": "a"}, "process.name": "b"}) == ["a", "b"]
    assert namespace["read"]({"process": {"name": "a"}}) == "a"


class _Reads(dict[str, Any]):
    """An event that records the top-level keys a test reads."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.read: list[str] = []

    def get(self, key: str, default: Any = None) -> Any:
        self.read.append(key)
        return super().get(key, default)


@pytest.mark.parametrize("sequence", [False, True])
def test_a_rule_tests_its_own_conditions_before_its_category_and_operating_system(sequence: bool) -> None:
    """A library's dispatcher hands a rule events of its category and operating system, which the
    rule's own conditions then reject: those are tested first, and the rejected event's category
    and operating system are not read. An event meeting them all still matches."""
    where = 'host.os.type == "windows" and event.type : "start" and process.name : "cmd.exe"'
    text = (
        f"sequence by host.id [process where {where}] [network where true]"
        if sequence
        else f"process where {where}"
    )
    plan = compile_query(text).plan(None, "@timestamp", "event.category", None)
    test = plan.mask if sequence else plan.stages[0].test
    other = _Reads(
        {
            "event": {"category": "process", "type": "start"},
            "host": {"os": {"type": "windows"}},
            "process": {"name": "svchost.exe"},
        }
    )
    assert not test(other)
    assert "process" in other.read
    assert "host" not in other.read
    assert sequence or "event" not in other.read  # a mask reads the category once for every stage
    assert test({**other, "process": {"name": "CMD.EXE"}})
    assert not test({**other, "process": {"name": "CMD.EXE"}, "host": {"os": {"type": "linux"}}})
