"""Semantics of the embedded engine on ECS-shaped events (beyond the spec suite's endgame data)."""

from __future__ import annotations

from typing import Any

import pytest

from hunter.eql import Schema, compile_query
from hunter.eql.errors import UnsortedInputError


def _proc(ts: str, **fields: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"@timestamp": ts, "event": {"category": ["process"], "type": ["start"]}}
    doc.update(fields)
    return doc


def _ids(result: dict[str, Any]) -> list[str]:
    if "events" in result:
        return [hit["_id"] for hit in result["events"]]
    return [",".join(hit["_id"] for hit in seq["events"]) for seq in result["sequences"]]


def _search(query: str, events: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
    return compile_query(query).search(events, size=kwargs.pop("size", 100), **kwargs)


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ('process.name == "lua5.4"', ["0"]),
        ('process.name == "LUA5.4"', []),
        ('process.name : "LUA5.4"', ["0"]),
        ('process.name like "lua*"', ["0"]),
        ('process.name like "LUA*"', []),
        ('process.name like~ "LUA*"', ["0"]),
        ('process.name in ("LUA5.4", "x")', []),
        ('process.name in~ ("LUA5.4", "x")', ["0"]),
        ('process.name in~ ("lua*")', []),
        ('process.name regex "lua[0-9.]+"', ["0"]),
        ('process.name regex "LUA[0-9.]+"', []),
        ('process.name regex~ "LUA[0-9.]+"', ["0"]),
        ('startsWith(process.name, "LUA")', []),
        ('startsWith~(process.name, "LUA")', ["0"]),
        ('process.name < "m"', ["0"]),
    ],
)
def test_case_rules(condition: str, expected: list[str]) -> None:
    """==, in, like, regex and functions are case-sensitive; :, ~ forms are not; in~ has no wildcards."""
    events = [_proc("2026-11-20T09:00:00Z", process={"name": "lua5.4"})]
    assert _ids(_search(f"process where {condition}", events)) == expected


def test_wildcards_have_no_escape_character() -> None:
    """A backslash in a pattern is an ordinary character (ES's toLikePattern), `*` always a wildcard."""
    events = [
        _proc("2026-11-20T09:00:00Z", file={"path": "C:\\Users\\bob\\AppData\\Local\\Temp\\x.lua"}),
        _proc("2026-11-20T09:00:01Z", file={"path": "/tmp/Temp/x"}),
    ]
    assert _ids(_search('process where file.path like~ "*\\\\Temp\\\\*"', events)) == ["0"]


def test_array_fields_match_any_value() -> None:
    """A comparison on a multi-valued field is true when any value matches (ECS arrays)."""
    events = [
        _proc("2026-11-20T09:00:00Z", process={"args": ["lua", "-e", "os.execute('id')"]}),
        _proc("2026-11-20T09:00:01Z", process={"args": ["bash"]}),
    ]
    events[0]["event"]["type"] = ["change", "start"]
    assert _ids(_search('process where process.args : "*os.execute(*"', events)) == ["0"]
    assert _ids(_search('process where event.type == "start" and process.args == "-e"', events)) == ["0"]


def test_not_equal_matches_documents_without_the_field() -> None:
    """`field != x` is a negated term query in ES, so events lacking the field match it."""
    events = [_proc("2026-11-20T09:00:00Z", user={"name": "root"}), _proc("2026-11-20T09:00:01Z")]
    assert _ids(_search('process where user.name != "root"', events)) == ["1"]
    assert _ids(_search('process where not user.name == "root"', events)) == ["1"]


def test_scripts_use_three_valued_logic() -> None:
    """A function of a missing field is null: it matches neither `== x` nor `not (== x)`."""
    events = [_proc("2026-11-20T09:00:00Z", user={"name": "root"}), _proc("2026-11-20T09:00:01Z")]
    assert _ids(_search("process where length(user.name) == 4", events)) == ["0"]
    assert _ids(_search("process where not length(user.name) == 4", events)) == []
    assert _ids(_search('process where concat(user.name, "x") == null', events)) == ["1"]


def test_scripts_try_every_value_of_a_multi_valued_field() -> None:
    """ES rewrites scripts to loop over all doc values: any value that makes it true matches."""
    events = [_proc("2026-11-20T09:00:00Z", process={"args": ["a", "bbbb"]})]
    assert _ids(_search("process where length(process.args) == 4", events)) == ["0"]


def test_nested_dotted_and_object_array_shapes_are_one_field() -> None:
    """`{"a": {"b": v}}`, `{"a.b": v}` and `{"a": [{"b": v}]}` all give field a.b the value v."""
    events = [
        _proc("2026-11-20T09:00:00Z", process={"name": "lua"}),
        {"@timestamp": "2026-11-20T09:00:01Z", "event.category": "process", "process.name": "lua"},
        {
            "@timestamp": "2026-11-20T09:00:02Z",
            "event": {"category": "process"},
            "process": [{"name": "lua"}],
        },
        _proc("2026-11-20T09:00:03Z", process={"name": "bash"}),
    ]
    assert _ids(_search('process where process.name == "lua"', events)) == ["0", "1", "2"]


def test_nanosecond_timestamps_order_events() -> None:
    """ISO timestamps keep 7 or 9 fraction digits: 100 ns apart still orders the sequence."""
    events = [
        _proc("2026-11-20T09:00:00.0000002Z", process={"name": "b"}),
        _proc("2026-11-20T09:00:00.0000001Z", process={"name": "a"}),
    ]
    result = _search(
        'sequence [process where process.name == "a"] [process where process.name == "b"]', events
    )
    assert _ids(result) == ["1,0"]


def test_epoch_millis_timestamps() -> None:
    """Numeric timestamps are epoch milliseconds, as in Elasticsearch's default date format."""
    events = [{"@timestamp": 1_795_154_400_000, "event": {"category": "process"}}]
    assert _ids(_search('process where @timestamp == "2026-11-20T06:00:00Z"', events)) == ["0"]


@pytest.mark.parametrize(("gap", "matched"), [("05:00.000000000", True), ("05:00.000000001", False)])
def test_maxspan_is_inclusive(gap: str, matched: bool) -> None:
    """A sequence spanning exactly maxspan matches; one nanosecond more does not."""
    events = [
        _proc("2026-11-20T09:00:00Z", host={"id": "h"}, process={"name": "a"}),
        _proc(f"2026-11-20T09:{gap}Z", host={"id": "h"}, process={"name": "b"}),
    ]
    query = (
        'sequence by host.id with maxspan=5m [process where process.name == "a"] '
        '[process where process.name == "b"]'
    )
    assert bool(_ids(_search(query, events))) is matched


def test_null_join_keys_never_join() -> None:
    """Events without the join key are left out (ES); with `?key` they join on null."""
    events = [
        _proc("2026-11-20T09:00:00Z", process={"name": "a"}),
        _proc("2026-11-20T09:00:01Z", process={"name": "b"}),
    ]
    stages = '[process where process.name == "a"] [process where process.name == "b"]'
    assert _ids(_search(f"sequence by host.id {stages}", events)) == []
    result = _search(f"sequence by ?host.id {stages}", events)
    assert _ids(result) == ["0,1"]
    assert result["sequences"][0]["join_keys"] == [None]


def test_sequence_takes_most_recent_start_per_key() -> None:
    """Of two pending starts with one key, the later one is used and the earlier discarded."""
    events = [
        _proc("2026-11-20T09:00:00Z", host={"id": "h"}, process={"name": "a"}),
        _proc("2026-11-20T09:00:01Z", host={"id": "h"}, process={"name": "a"}),
        _proc("2026-11-20T09:00:02Z", host={"id": "h"}, process={"name": "b"}),
    ]
    query = 'sequence by host.id [process where process.name == "a"] [process where process.name == "b"]'
    assert _ids(_search(query, events)) == ["1,2"]


def test_until_cancels_pending_sequences() -> None:
    """An until event after the sequence's last event drops it."""
    events = [
        _proc("2026-11-20T09:00:00Z", host={"id": "h"}, process={"name": "a"}),
        _proc("2026-11-20T09:00:01Z", host={"id": "h"}, process={"name": "stop"}),
        _proc("2026-11-20T09:00:02Z", host={"id": "h"}, process={"name": "b"}),
    ]
    stages = '[process where process.name == "a"] [process where process.name == "b"]'
    assert (
        _ids(_search(f'sequence by host.id {stages} until [process where process.name == "stop"]', events))
        == []
    )


def test_size_and_result_position() -> None:
    """size keeps the latest events by default (tail) or the earliest (head), always ascending."""
    events = [_proc(f"2026-11-20T09:00:0{n}Z") for n in range(5)]
    assert _ids(_search("process where true", events, size=2)) == ["3", "4"]
    assert _ids(_search("process where true", events, size=2, result_position="head")) == ["0", "1"]
    assert _ids(_search("process where true | head 3 | tail 2", events)) == ["1", "2"]


def test_hits_keep_index_and_id_of_hit_input() -> None:
    """Input hits keep their _index/_id; plain documents get _index "" and their position."""
    events: list[dict[str, Any]] = [
        {"_index": "logs-x", "_id": "abc", "_source": _proc("2026-11-20T09:00:00Z")},
        _proc("2026-11-20T09:00:01Z"),
    ]
    hits = _search("process where true", events)["events"]
    assert [(hit["_index"], hit["_id"]) for hit in hits] == [("logs-x", "abc"), ("", "1")]


def test_presorted_stream_rejects_unsorted_input() -> None:
    """Streaming mode never answers wrongly: an out-of-order candidate raises."""
    events = [
        _proc("2026-11-20T09:00:01Z", process={"name": "a"}),
        _proc("2026-11-20T09:00:00Z", process={"name": "b"}),
    ]
    query = compile_query('sequence [process where process.name == "a"] [process where process.name == "b"]')
    with pytest.raises(UnsortedInputError):
        query.search(events, presorted=True)


def test_schema_types_change_comparisons() -> None:
    """With a mapping, keyword fields compare numbers as text and version fields semantically."""
    schema = Schema.from_mapping(
        {"properties": {"v": {"type": "version"}, "k": {"type": "keyword"}, "@timestamp": {"type": "date"}}}
    )
    events = [{"@timestamp": 1, "event": {"category": "x"}, "v": "1.11.0", "k": 5}]
    assert _ids(_search('x where v > "1.9.0"', events, schema=schema)) == ["0"]
    assert _ids(_search('x where k == "5"', events, schema=schema)) == ["0"]
    with pytest.raises(Exception, match=r"Unknown column \[nope\]"):
        _search('x where nope == "5"', events, schema=schema)


def test_missing_event_stage() -> None:
    """`![...]` discards a sequence when the missing event occurs between its events."""
    events = [
        _proc("2026-11-20T09:00:00Z", host={"id": "h"}, process={"name": "a"}),
        _proc("2026-11-20T09:00:01Z", host={"id": "h"}, process={"name": "m"}),
        _proc("2026-11-20T09:00:02Z", host={"id": "h"}, process={"name": "b"}),
        _proc("2026-11-20T09:00:03Z", host={"id": "h"}, process={"name": "a"}),
        _proc("2026-11-20T09:00:04Z", host={"id": "h"}, process={"name": "b"}),
    ]
    query = (
        'sequence by host.id with maxspan=1m [process where process.name == "a"] '
        '![process where process.name == "m"] [process where process.name == "b"]'
    )
    result = _search(query, events)
    assert [[hit.get("_id") for hit in seq["events"]] for seq in result["sequences"]] == [["3", "", "4"]]
    assert result["sequences"][0]["events"][1]["missing"] is True
