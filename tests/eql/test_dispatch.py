"""Many queries in one pass: gates, the dispatcher, search_many, and the collector pause.

The differential tests run Elastic's whole rule library (skipped when ../shared is absent) over
events built from the rules' own literals, so that rules fire, and require every result of the
dispatched pass, and of a pass over only the lines a line prefilter keeps, to be the result of
running each query alone over every event.
"""

from __future__ import annotations

import gc
import ipaddress
import json
import threading
import tomllib
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from hunter.eql import (
    CompiledQuery,
    Dispatcher,
    LinePrefilter,
    compile_query,
    freeze_held,
    paused_collector,
    search_many,
)
from hunter.eql.functions import cidr_match, cidr_matcher
from hunter.eql.gates import describe, pattern_key

RULES = Path(__file__).resolve().parents[3] / "shared" / "detection-rules"
START_NS = 1_795_154_400_000_000_000
NO_SHRINK = (
    Phase.explicit,
    Phase.reuse,
    Phase.generate,
)  # the failure names the rules; shrinking takes minutes
SLOW_DATA = [HealthCheck.too_slow, HealthCheck.data_too_large]


def gate_of(text: str) -> list[Any]:
    """The readable gate of a query run without a schema."""
    gate = compile_query(text).run().gate()
    assert gate is not None
    return describe(gate)


# ---- gates ---------------------------------------------------------------------------------------


def test_gate_keys_category_equality_and_case_insensitive_lists() -> None:
    """`==` gives exact keys, `in~` and `:` lowercased ones, and the category is a key of its field."""
    gate = gate_of('process where process.name == "Cmd.exe" and process.parent.name in~ ("A.exe", "b")')
    assert gate == [
        [
            [("event.category", "eq", "process")],
            [("process.name", "eq", "Cmd.exe")],
            [("process.parent.name", "lower", "a.exe"), ("process.parent.name", "lower", "b")],
        ]
    ]


def test_gate_of_or_is_one_need_from_each_side_and_not_gives_none() -> None:
    """An `or` needs one key of each side; a side without needs (a `not`) makes the `or` need nothing."""
    assert gate_of('any where process.name : "x.exe" or file.name == "y"') == [
        [[("file.name", "eq", "y"), ("process.name", "lower", "x.exe")]]
    ]
    assert gate_of('any where process.name : "x.exe" or not file.name == "y"') == [[]]


def test_wildcard_patterns_give_prefix_suffix_or_infix_keys() -> None:
    """The longest fixed end of a pattern is its key; `?` counts as a wildcard; `*` alone gives none."""
    assert pattern_key("f", "C:\\Windows\\*", insensitive=True) == ("f", "lprefix", "c:\\windows\\")
    assert pattern_key("f", "?:\\Users\\*\\x.exe", insensitive=False) == ("f", "suffix", "\\x.exe")
    assert pattern_key("f", "*powershell*", insensitive=True) == ("f", "linfix", "powershell")
    assert pattern_key("f", "a*", insensitive=False) is None
    assert pattern_key("f", "*", insensitive=False) is None


def test_regexes_ranges_and_not_null_need_the_field() -> None:
    """Tests pushed down on a field need a value there; `!=` and `== null` need nothing."""
    gate = gate_of('any where process.name regex "a.*" and destination.port > 5 and user.id != null')
    assert gate == [
        [
            [("destination.port", "present", "")],
            [("process.name", "present", "")],
            [("user.id", "present", "")],
        ]
    ]
    assert gate_of('any where process.name != "a" and user.id == null') == [[]]


def test_a_plan_finds_the_keys_of_its_leaves_once_for_every_gate_planned_from_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A pass plans each run's gate twice (unweighted, then weighted) and every pass again: the keys
    of each leaf are found the first time only, and the gates are the same."""
    from hunter.eql import gates

    found: list[Any] = []
    leaf_keys = gates._leaf_keys

    def counted(node: Any, *rest: Any) -> Any:
        found.append(node)
        return leaf_keys(node, *rest)

    monkeypatch.setattr(gates, "_leaf_keys", counted)
    text = 'process where process.name : "a.exe" and (user.id == "1" or user.name : "b*")'
    run = compile_query(text).run()
    weight = lambda name: 10.0 if name == "user.id" else 1.0  # noqa: E731
    first = run.gate()
    assert len(found) == 3
    weighted, again = run.gate(weight), run.gate()
    assert len(found) == 3
    assert again == first
    assert weighted == compile_query(text).run().gate(weight)  # as found afresh
    assert len(found) == 6


def test_every_stage_of_a_sequence_and_its_until_has_a_gate() -> None:
    """A sequence's gate lists each stage, then the until clause."""
    gate = gate_of("sequence by host.id [process where true] [file where true] until [network where true]")
    assert [stage[0] for stage in gate] == [
        [("event.category", "eq", "process")],
        [("event.category", "eq", "file")],
        [("event.category", "eq", "network")],
    ]


# ---- the dispatcher ----------------------------------------------------------------------------------


def test_dispatcher_names_only_runs_whose_keys_an_event_has() -> None:
    """An event reaches the runs its category and literal values admit, and those without needs."""
    texts = [
        'process where process.name : "cmd.exe"',
        'process where process.executable : "C:\\\\Windows\\\\Temp\\\\*"',
        'file where file.extension in ("exe", "dll")',
        'any where process.name != "x"',
    ]
    runs = [compile_query(text).run() for text in texts]
    runs_of = Dispatcher.for_runs(runs).runs
    process = {"event": {"category": "process"}, "process": {"name": "CMD.EXE", "executable": "c:\\x"}}
    assert sorted(runs_of(process)) == [0, 3]
    temp = {"event": {"category": ["process"]}, "process": {"executable": "C:\\WINDOWS\\temp\\a.exe"}}
    assert sorted(runs_of(temp)) == [1, 3]
    assert sorted(runs_of({"event.category": "file", "file": [{"extension": "dll"}]})) == [2, 3]
    assert sorted(runs_of({"event": {"category": "network"}})) == [3]


def test_dispatcher_names_a_run_on_a_substring_only_for_values_holding_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A wildcard with no usable prefix or suffix files its rule under the substring it needs,
    lowercased for ``:``, tested in every value of a list; a field with more substrings than are
    worth testing one by one names its rules for any value."""
    import hunter.eql.dispatch as dispatch

    texts = [
        'process where process.command_line : "*mimikatz*"',
        'process where process.args like "*-enc*"',
        'process where process.args : "*downloadstring*"',
    ]
    runs_of = Dispatcher.for_runs([compile_query(text).run() for text in texts]).runs

    def process(**fields: Any) -> dict[str, Any]:
        return {"event": {"category": "process"}, "process": fields}

    assert sorted(runs_of(process(command_line="run MimiKatz.exe now"))) == [0]
    assert sorted(runs_of(process(command_line="notepad.exe"))) == []
    assert sorted(runs_of(process(args=["powershell", "-enc", "AAA"]))) == [1]
    assert sorted(runs_of(process(args=["powershell", "-ENC", "x.DownloadString(u)"]))) == [2]
    monkeypatch.setattr(dispatch, "MAX_INFIXES", 1)
    runs_of = Dispatcher.for_runs([compile_query(text).run() for text in texts]).runs
    assert sorted(runs_of(process(command_line="notepad.exe"))) == []  # one substring: still tested
    assert sorted(runs_of(process(command_line="notepad.exe", args=["a"]))) == [1, 2]  # two: any value


def test_a_route_remembers_the_runs_each_value_is_filed_under(monkeypatch: pytest.MonkeyPatch) -> None:
    """A value met again is looked up in what its field remembers, not in every table: the answers
    are those of the tables, for values in any case, in lists, and too long to be remembered; what
    a field remembers is bounded in number and length."""
    import hunter.eql.dispatch as dispatch

    monkeypatch.setattr(dispatch, "MEMO_LIMIT", 2)
    monkeypatch.setattr(dispatch, "MEMO_LENGTH", 12)
    texts = [
        'process where process.name : "cmd.exe"',
        'process where process.name like "power*"',
        'process where process.name : "*shell*"',
    ]
    others = [compile_query(f'file where file.name == "f{number}"').run() for number in range(12)]
    runs = [compile_query(text).run() for text in texts]
    dispatcher = Dispatcher.for_runs(runs + others, learn=0)  # process.name: too few rules to be coarse

    def named(name: Any) -> list[int]:
        return sorted(dispatcher.runs({"event": {"category": "process"}, "process": {"name": name}}))

    values = ["CMD.exe", "powershell.exe", "pwsh", ["x", "CMD.EXE"], "cmd.exe", "a-long-name-with-shell.exe"]
    expected = [[0], [1, 2], [], [0], [0], [2]]
    assert [named(value) for value in values] == expected
    assert [named(value) for value in values] == expected  # remembered, or looked up again
    (route,) = dispatcher._routes.values()
    remembered = route.runs.__globals__["m0"]
    assert 0 < len(remembered) <= 2
    assert len(route.runs.__globals__["k0"].__self__.answers) <= 2
    assert all(len(text) <= 12 for text in remembered)
    remembered["pwsh"] = frozenset({1})  # what is remembered is what is answered
    assert named("pwsh") == [1]


def test_a_route_reads_the_fields_under_a_top_level_key_the_event_has_or_writes_dotted() -> None:
    """A route skips the fields under a top-level key an event lacks, and still finds them in a
    dotted key (``winlog.event_data.x``, at the top or under the object) and a one-part field."""
    texts = [
        'any where winlog.event_data.TargetName : "admin*"',
        'any where winlog.channel == "Security"',
        'any where message : "*mimikatz*"',
        'any where process.name == "cmd.exe"',
    ]
    runs_of = Dispatcher.for_runs([compile_query(text).run() for text in texts], learn=0).runs
    assert sorted(runs_of({"process": {"name": "cmd.exe"}})) == [3]
    assert sorted(runs_of({"winlog.event_data.TargetName": "Admin1", "process.name": "cmd.exe"})) == [0, 3]
    assert sorted(runs_of({"winlog": {"event_data.TargetName": "admin", "channel": "Security"}})) == [0, 1]
    assert sorted(runs_of({"winlog.channel": ["x", "Security"], "message": "run MIMIKATZ"})) == [1, 2]


def test_dispatcher_files_a_stage_under_the_need_the_first_events_meet_least() -> None:
    """Guessed from the keys, a rule on browser names is filed under event.action (3 values); after
    the events it learns from, under process.name, which they rarely hold: fewer events reach it."""
    rule = compile_query(
        'process where event.action in ("exec", "fork", "start") and '
        'process.name : ("chrome.exe", "msedge.exe", "firefox.exe", "brave.exe", "opera.exe")'
    )
    others = [compile_query(f'file where file.name == "f{number}"').run() for number in range(12)]
    dispatcher = Dispatcher.for_runs([rule.run(), *others], learn=4)
    start = {"event": {"category": "process", "action": "start"}, "process": {"name": "cmd.exe"}}
    assert [sorted(dispatcher.runs(start)) for _ in range(3)] == [[0]] * 3  # learning: the guess
    assert sorted(dispatcher.runs(start)) == []  # the 4th event completes the learning: no rule
    browser = {"event": {"category": "process", "action": "exec"}, "process": {"name": "Chrome.exe"}}
    assert sorted(dispatcher.runs(browser)) == [0]


def test_learning_ahead_files_stages_before_any_route_is_made() -> None:
    """Learning from the first events read ahead gives them all back in order, makes no route for
    them (each would be compiled, then dropped when the stages are filed anew), and files the stages
    as learning event by event does; a stream shorter than the learning is learnt from as it is."""
    rule = compile_query(
        'process where event.action in ("exec", "fork", "start") and '
        'process.name : ("chrome.exe", "msedge.exe", "firefox.exe", "brave.exe", "opera.exe")'
    )
    others = [compile_query(f'file where file.name == "f{number}"').run() for number in range(12)]
    start = {"event": {"category": "process", "action": "start"}, "process": {"name": "cmd.exe"}}
    for count in (6, 2):
        dispatcher = Dispatcher.for_runs([rule.run(), *others], learn=4)
        events = [dict(start, n=number) for number in range(count)]
        ahead = dispatcher.learn_ahead(events, lambda event: event)
        assert dispatcher._routes == {}  # learnt, no route made
        assert list(ahead) == events
        assert sorted(dispatcher.runs(start)) == []  # filed under process.name, as learnt


def test_search_many_equals_each_query_alone_on_hand_made_events() -> None:
    """search_many over a few queries gives each query's own result (event, sequence and sample)."""
    texts = [
        'process where process.name : "cmd.exe"',
        'sequence by host.id [process where process.name == "a"] [file where file.name == "b"]',
        'sample by host.id [process where process.name == "a"] [file where file.name == "b"]',
    ]
    events = [
        {"@timestamp": START_NS // 10**6 + i, "host": {"id": "h"}, **body}
        for i, body in enumerate(
            [
                {"event": {"category": "process"}, "process": {"name": "a"}},
                {"event": {"category": "process"}, "process": {"name": "Cmd.exe"}},
                {"event": {"category": "file"}, "file": {"name": "b"}},
            ]
        )
    ]
    queries = [compile_query(text) for text in texts]
    together = search_many([query.run() for query in queries], events)
    assert together == [query.search(events) for query in queries]
    assert [result["total"]["value"] for result in together] == [1, 1, 1]


def test_an_event_meeting_an_opening_stages_needs_may_be_a_later_stage_of_one_under_way() -> None:
    """A streamed sequence's opening target, handed an event that fails the opening stage while a
    sequence is under way, tests every stage: the event (meeting both stages' needs, so handed to
    both targets, the opening one first) completes the sequence."""
    text = (
        "sequence by host.id with maxspan=1m "
        '[process where process.name == "a" and process.pid == 1] '
        '[process where process.name == "a" and process.pid == 2]'
    )
    events = [
        {
            "@timestamp": START_NS // 10**6 + pid,
            "host": {"id": "h"},
            "event": {"category": "process"},
            "process": {"name": "a", "pid": pid},
        }
        for pid in (1, 2)
    ]
    query = compile_query(text)
    run = query.run(presorted=True, ordered_upstream=True)
    assert len(run.targets()) == 2
    decoy = compile_query('file where file.name == "x"').run()
    together = search_many([run, decoy], events)
    assert together[0] == query.search(events)
    assert together[0]["total"]["value"] == 1


def test_paused_collector_unfreezes_after_nested_and_failed_passes() -> None:
    """Objects frozen for a pass are handed back when the last pass ends, even one that raised; a
    nested block freezes what the outer one made so far (the matches of a pass, while its hunts are
    concluded)."""
    with paused_collector():
        assert gc.get_freeze_count() > 0
        before = gc.get_freeze_count()
        made: list[list[int]] = [[] for _ in range(1000)]  # made inside the outer block: not frozen yet
        with paused_collector():
            assert gc.get_freeze_count() >= before + len(made)
        assert gc.get_freeze_count() >= before + len(made)  # still, until the outer block ends
    assert gc.get_freeze_count() == 0
    del made
    with pytest.raises(RuntimeError), paused_collector():
        raise RuntimeError
    assert gc.get_freeze_count() == 0


def test_a_block_of_another_thread_does_not_freeze_again() -> None:
    """A block opened while another thread's is open does not freeze what was made since (passes
    that keep overlapping in the service would hold each other's garbage); all is unfrozen when the
    last block ends."""
    entered, leave = threading.Event(), threading.Event()

    def other() -> None:
        with paused_collector():
            entered.set()
            leave.wait(30)

    thread = threading.Thread(target=other)
    thread.start()
    try:
        assert entered.wait(30)
        before = gc.get_freeze_count()
        made: list[list[int]] = [[] for _ in range(1000)]  # made while the other block is open
        with paused_collector():
            assert gc.get_freeze_count() < before + len(made)
            with paused_collector():  # nested in this thread: frozen again
                assert gc.get_freeze_count() >= before + len(made)
    finally:
        leave.set()
        thread.join(30)
    assert gc.get_freeze_count() == 0
    del made


def test_freeze_held_freezes_what_a_lone_block_made_since() -> None:
    """Inside a block, what was made since it began is frozen on demand (a pass's matches); outside
    any block, or while another thread's block is open, nothing is."""
    made: list[list[int]] = [[] for _ in range(1000)]
    freeze_held()
    assert gc.get_freeze_count() == 0
    entered, leave = threading.Event(), threading.Event()

    def other() -> None:
        with paused_collector():
            entered.set()
            leave.wait(30)

    with paused_collector():
        before = gc.get_freeze_count()
        more: list[list[int]] = [[] for _ in range(1000)]
        freeze_held()
        assert gc.get_freeze_count() >= before + len(more)
        thread = threading.Thread(target=other)
        thread.start()
        try:
            assert entered.wait(30)
            before = gc.get_freeze_count()
            later: list[list[int]] = [[] for _ in range(1000)]
            freeze_held()
            assert gc.get_freeze_count() < before + len(later)
        finally:
            leave.set()
            thread.join(30)
    assert gc.get_freeze_count() == 0
    del made, more, later


@given(st.one_of(st.ip_addresses().map(str), st.text(max_size=8), st.none()))
@settings(max_examples=200)
def test_cidr_matcher_agrees_with_cidr_match(value: Any) -> None:
    """The compiled cidrMatch gives cidr_match's answer for any value (asked twice: remembered)."""
    blocks = ("10.0.0.0/8", "fe80::/10", "192.168.1.0/24", "bad")
    matcher = cidr_matcher(blocks)
    assert matcher(value) == cidr_match(value, *blocks)
    assert matcher(value) == cidr_match(value, *blocks)


# ---- the whole library, differentially -----------------------------------------------------------------


def library() -> list[CompiledQuery]:
    """Every non-deprecated EQL rule query of the library, compiled."""
    found = []
    for folder in ("rules", "rules_building_block"):
        for path in sorted((RULES / folder).rglob("*.toml")):
            document = tomllib.loads(path.read_text(encoding="utf-8"))
            rule = document.get("rule", {})
            if rule.get("type") == "eql" and document.get("metadata", {}).get("maturity") != "deprecated":
                found.append(compile_query(rule["query"]))
    return found


Library = tuple[list[CompiledQuery], list[list[list[list[tuple[str, str, str]]]]], list[tuple[str, str, str]]]


@pytest.fixture(scope="module")
def rule_library() -> Library:
    """The library's queries, their gates (stages of needs, keys sorted) and every key of every gate."""
    if not (RULES / "rules").is_dir():
        pytest.skip("../shared/detection-rules is not present")
    queries = library()
    gates = [[[sorted(need) for need in needs] for needs in query.run().gate() or []] for query in queries]
    keys = sorted({key for gate in gates for needs in gate for need in needs for key in need})
    return queries, gates, keys


def value_of(draw: st.DrawFn, mode: str, text: str) -> Any:
    """A value a key of ``mode`` accepts (or, now and then, nearly accepts)."""
    if mode in ("lower", "lprefix", "lsuffix", "linfix"):
        text = "".join(c.upper() if draw(st.booleans()) else c for c in text)
    extra = draw(st.sampled_from(["", "x", "\\a.exe", "/tmp/", "Z"]))
    if mode.endswith("prefix"):
        text += extra
    elif mode.endswith("suffix"):
        text = extra + text
    elif mode.endswith("infix"):
        text = extra + text + extra
    elif mode == "present":
        text = draw(st.sampled_from(["1", "x", "10.1.2.3", "C:\\Windows\\x.exe"]))
    if draw(st.integers(0, 19)) == 0:
        text = text[:-1]  # a near miss
    value: Any = text
    if draw(st.integers(0, 5)) == 0:
        value = [draw(st.sampled_from(["other", "x.exe"])), text]
    return value


def put(document: dict[str, Any], name: str, value: Any, *, dotted: bool) -> None:
    """Set ``name`` in ``document``, nested (``{"a": {"b": ...}}``) or as a dotted key."""
    if dotted:
        document[name] = value
        return
    path = name.split(".")
    target = document
    for part in path[:-1]:
        child = target.get(part)
        if not isinstance(child, dict):
            child = target[part] = {}
        target = child
    target[path[-1]] = value


@st.composite
def library_events(draw: st.DrawFn, rules: Library) -> list[dict[str, Any]]:
    """Events that meet every need of a stage of some rule (then of its next stage, for sequences),
    with a few other literals, on few hosts and processes so that sequences join."""
    _queries, gates, keys = rules
    count = draw(st.integers(1, 30))
    documents: list[dict[str, Any]] = []
    while len(documents) < count:
        gate = gates[draw(st.integers(0, len(gates) - 1))]
        first = 0 if draw(st.booleans()) else draw(st.integers(0, max(len(gate) - 1, 0)))
        for stage in gate[first : first + draw(st.integers(1, 6))] or [[]]:
            document: dict[str, Any] = {}
            chosen = [draw(st.sampled_from(need)) for need in stage]
            chosen += draw(st.lists(st.sampled_from(keys), max_size=2))
            for name, mode, text in chosen:
                put(document, name, value_of(draw, mode, text), dotted=draw(st.integers(0, 9)) == 0)
            for name in ("host.id", "process.entity_id", "process.parent.entity_id", "user.id", "source.ip"):
                put(document, name, draw(st.sampled_from(["a", "b"])), dotted=False)
            documents.append(document)
    events = []
    millis = START_NS // 10**6
    for number, document in enumerate(documents):
        millis += draw(st.integers(0, 400))
        document["@timestamp"] = millis
        events.append(
            {"_index": "logs-endpoint.events.process-default", "_id": str(number), "_source": document}
        )
    return events


@given(data=st.data())
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
def test_library_dispatch_misses_no_event_a_query_matches(rule_library: Library, data: st.DataObject) -> None:
    """Every event some stage of a rule matches is among those the dispatcher names for that rule."""
    queries = rule_library[0]
    events = data.draw(library_events(rule_library))
    runs = [query.run() for query in queries]
    runs_of = Dispatcher.for_runs(runs, learn=data.draw(st.integers(1, 10))).runs  # refiled midway
    plans = [run.resolver.default for run in runs]  # type: ignore[attr-defined]
    for hit in events:
        named = runs_of(hit["_source"])
        missed = [
            number for number, plan in enumerate(plans) if plan.mask(hit["_source"]) and number not in named
        ]
        assert missed == [], [queries[number].text for number in missed]


@given(data=st.data())
@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
def test_a_compact_route_names_what_the_full_route_names(rule_library: Library, data: st.DataObject) -> None:
    """The learning probe's compact route (each field's tests in one loop over its values) names the
    same numbers as a route written out for a single string and for a list, over every need of
    every stage of the library, on library events (lists, case and prefixes included)."""
    from hunter.eql.dispatch import _field_indices, _route_code
    from hunter.eql.fields import dotted_keys

    needs = [need for query in rule_library[0] for stage in (query.run().gate() or []) for need in stage]
    fields = _field_indices((need, number) for number, need in enumerate(needs))
    full, compact = _route_code(frozenset({-1}), fields), _route_code(frozenset({-1}), fields, compact=True)
    for hit in data.draw(library_events(rule_library)):
        source = hit["_source"]
        assert compact(source, dotted_keys(source)) == full(source, dotted_keys(source))


@given(
    data=st.data(),
    position=st.sampled_from(["head", "tail"]),
    size=st.sampled_from([1, 3, 1000]),
    streamed=st.booleans(),
)
@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
def test_library_in_one_pass_equals_each_rule_alone(
    rule_library: Library,
    data: st.DataObject,
    position: Any,
    size: int,
    streamed: bool,
) -> None:
    """search_many over the whole library returns, for every rule, what searching with it alone returns;
    also streamed as the local reader streams (events in time order, checked upstream), where a
    sequence is filed twice, under its opening stages and under the others (Run.targets)."""
    queries = rule_library[0]
    events = data.draw(library_events(rule_library))  # in time order
    runs = [
        query.run(size=size, result_position=position, presorted=streamed, ordered_upstream=streamed)
        for query in queries
    ]
    together = search_many(runs, events, learn=data.draw(st.integers(1, 10)))
    alone = [query.search(events, size=size, result_position=position) for query in queries]
    assert together == alone


@given(
    data=st.data(),
    position=st.sampled_from(["head", "tail"]),
    size=st.sampled_from([1, 3, 1000]),
    ascii_only=st.booleans(),
)
@settings(max_examples=40, deadline=None, phases=NO_SHRINK, suppress_health_check=SLOW_DATA)
def test_rules_over_the_lines_a_prefilter_keeps_equal_each_rule_over_all(
    rule_library: Library,
    data: st.DataObject,
    position: Any,
    size: int,
    ascii_only: bool,
) -> None:
    """Skipping the lines that no rule of a set can use (written by orjson, or with every non-ASCII
    character escaped) changes no rule's result: the pass over the kept lines equals each rule alone
    over every line. The events carry literals of other rules too, so many lines are skipped."""
    queries, gates, keys = rule_library
    numbers = st.lists(st.integers(0, len(queries) - 1), min_size=1, max_size=12, unique=True)
    chosen, others = data.draw(numbers), data.draw(numbers)
    # events meeting the stages of the chosen rules and of as many others, with literals of any rule
    events = data.draw(library_events((queries, [gates[number] for number in chosen + others], keys)))
    runs = [queries[number].run(size=size, result_position=position) for number in chosen]
    wants = LinePrefilter.for_runs(runs, max_texts=10**9)
    if wants is None:  # some stage needs no text: every line is parsed
        return
    kept = [
        hit
        for hit in events
        if wants(json.dumps(hit["_source"]).encode() if ascii_only else orjson.dumps(hit["_source"]))
    ]
    together = search_many(runs, kept)
    alone = [queries[number].search(events, size=size, result_position=position) for number in chosen]
    assert together == alone


def _blocks() -> st.SearchStrategy[list[str]]:
    v4 = st.builds(
        lambda a, p: f"{ipaddress.IPv4Address(a)}/{p}", st.integers(0, 2**32 - 1), st.integers(0, 32)
    )
    v6 = st.builds(
        lambda a, p: f"{ipaddress.IPv6Address(a)}/{p}", st.integers(0, 2**128 - 1), st.integers(0, 128)
    )
    near = st.sampled_from(["10.0.0.0/8", "10.0.0.0/9", "10.128.0.0/9", "11.0.0.0/8", "::ffff:0:0/96", "::1"])
    return st.lists(st.one_of(v4, v6, near), min_size=1, max_size=8)


def _addresses() -> st.SearchStrategy[str]:
    edges = st.sampled_from(
        ["9.255.255.255", "10.0.0.0", "10.127.255.255", "10.128.0.0", "11.255.255.255", "12.0.0.0"]
    )
    mapped = st.integers(0, 2**32 - 1).map(lambda a: f"::ffff:{ipaddress.IPv4Address(a)}")
    return st.one_of(st.ip_addresses().map(str), edges, mapped)


@given(_blocks(), _addresses())
@settings(max_examples=300)
def test_cidr_ranges_answer_as_each_block_would(blocks: list[str], value: str) -> None:
    """Blocks merged into ranges (overlapping, adjacent, nested, both IP versions, v4-mapped
    addresses) answer exactly as testing each block in turn; equal block lists share one matcher."""
    assert cidr_matcher(blocks)(value) == cidr_match(value, *blocks)
    assert cidr_matcher(list(blocks)) is cidr_matcher(tuple(blocks))
