"""Properties: results do not depend on input order (distinct timestamps) nor on result_position
beyond which end is kept, and streaming gives the same answers as buffering."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hunter.eql import compile_query, search_many
from hunter.eql.values import fast_iso_ns, parse_iso_ns

NAMES = ["a", "b", "c"]
HOSTS = ["h1", "h2"]

EVENT_QUERY = compile_query('process where process.name in ("a", "b") and host.id != "h2"')
SEQUENCE_QUERY = compile_query(
    "sequence by host.id with maxspan=5s "
    '[process where process.name == "a"] [process where process.name == "b"] '
    'until [process where process.name == "c"]'
)


@st.composite
def event_lists(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Events with distinct millisecond timestamps, random names and hosts, some without a host."""
    count = draw(st.integers(min_value=0, max_value=30))
    stamps = draw(st.lists(st.integers(0, 20_000), min_size=count, max_size=count, unique=True))
    events = []
    for n, stamp in enumerate(stamps):
        source: dict[str, Any] = {
            "@timestamp": 1_795_154_400_000 + stamp,
            "event": {"category": ["process"]},
            "process": {"name": draw(st.sampled_from(NAMES))},
        }
        host = draw(st.sampled_from([*HOSTS, None]))
        if host is not None:
            source["host"] = {"id": host}
        events.append({"_index": "i", "_id": str(n), "_source": source})
    return events


def _ids(result: dict[str, Any]) -> list[Any]:
    if "events" in result:
        return [hit["_id"] for hit in result["events"]]
    return [[hit["_id"] for hit in seq["events"]] for seq in result["sequences"]]


@settings(max_examples=150, deadline=None)
@given(events=event_lists(), data=st.data())
def test_input_order_does_not_matter(events: list[dict[str, Any]], data: st.DataObject) -> None:
    """Shuffling events with distinct timestamps changes no result of either query kind."""
    shuffled = data.draw(st.permutations(events))
    for query in (EVENT_QUERY, SEQUENCE_QUERY):
        assert _ids(query.search(shuffled, size=1000)) == _ids(query.search(events, size=1000))


@settings(max_examples=150, deadline=None)
@given(events=event_lists(), size=st.integers(0, 12))
def test_result_position_only_picks_the_end(events: list[dict[str, Any]], size: int) -> None:
    """head keeps the first `size` of all results and tail the last `size`, both in ascending order."""
    for query in (EVENT_QUERY, SEQUENCE_QUERY):
        everything = _ids(query.search(events, size=1000))
        assert _ids(query.search(events, size=size, result_position="head")) == everything[:size]
        assert _ids(query.search(events, size=size, result_position="tail")) == (
            everything[-size:] if size else []
        )


@settings(max_examples=150, deadline=None)
@given(events=event_lists())
def test_streaming_equals_buffering_on_sorted_input(events: list[dict[str, Any]]) -> None:
    """With time-ordered input, presorted streaming returns exactly what buffered sorting returns."""
    ordered = sorted(events, key=lambda hit: hit["_source"]["@timestamp"])
    assert _ids(SEQUENCE_QUERY.search(ordered, size=1000, presorted=True)) == _ids(
        SEQUENCE_QUERY.search(ordered, size=1000)
    )


A, B, C = (f'[process where process.name == "{name}"]' for name in NAMES)
MISSING_QUERIES = [
    compile_query(f"sequence by host.id with maxspan=3s {A} !{C} {B}"),  # between
    compile_query(f"sequence by host.id with maxspan=3s {A} {B} !{C}"),  # after
    compile_query(f"sequence by host.id with maxspan=3s !{C} {A} {B}"),  # before
    compile_query(f"sequence by host.id with maxspan=2s !{B} {A} !{C} {B} !{C}"),  # all three
]


@settings(max_examples=300, deadline=None)
@given(events=event_lists(), coarse=st.booleans())
def test_streaming_equals_buffering_with_missing_events(events: list[dict[str, Any]], coarse: bool) -> None:
    """Sequences with missing-event stages (leading, between and after the positive ones) stream to
    the same answers as buffered sorting, also when many events share a timestamp."""
    for hit in events:
        if coarse:  # timestamps to the second: runs of equal timestamps
            source = hit["_source"]
            source["@timestamp"] -= source["@timestamp"] % 1000
    ordered = sorted(events, key=lambda hit: hit["_source"]["@timestamp"])
    for query in MISSING_QUERIES:
        assert _ids(query.search(ordered, size=1000, presorted=True)) == _ids(
            query.search(ordered, size=1000)
        )


_ISO = st.builds(
    lambda y, mo, d, h, mi, s, frac, zone: f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}{frac}{zone}",
    st.integers(1900, 2300),
    st.integers(1, 12),
    st.integers(1, 31),
    st.integers(0, 24),
    st.integers(0, 60),
    st.integers(0, 61),
    st.sampled_from(["", ".1", ".123", ".123456", ".123456789", ".1234567891", "."]),
    st.sampled_from(["Z", "+01:00", "-0530", "", "z"]),
)


@given(st.lists(st.one_of(_ISO, st.text(max_size=32)), min_size=1, max_size=6))
@settings(max_examples=300)
def test_the_fast_timestamp_parser_answers_as_the_full_one(texts: list[str]) -> None:
    """fast_iso_ns gives parse_iso_ns's answer for any text, asked once, again at once (its
    one-entry memory) and after others."""
    for text in texts + texts + [text for text in texts for _ in range(2)]:
        assert fast_iso_ns(text) == parse_iso_ns(text)


OVERLAPPING = compile_query(  # an event of name "b" matches both stages
    f'sequence by host.id with maxspan=3s [process where process.name in ("a", "b")] {B} until {C}'
)


@settings(max_examples=300, deadline=None)
@given(events=event_lists(), data=st.data())
def test_streaming_with_the_order_checked_upstream_equals_buffering(
    events: list[dict[str, Any]], data: st.DataObject
) -> None:
    """A sequence fed by a caller that checks the order itself (the local reader) tests only its
    opening stages while no sequence is under way, with the answers of buffered sorting: also when
    events share a timestamp and come out of tiebreaker order (a later one may sort first and open
    the sequence that an earlier one's later stage completes), with missing stages, with until."""
    for hit in events:
        source = hit["_source"]
        source["@timestamp"] -= source["@timestamp"] % 1000  # runs of equal timestamps
        source["tb"] = data.draw(st.integers(0, 3))
    ordered = sorted(events, key=lambda hit: hit["_source"]["@timestamp"])
    for query in (SEQUENCE_QUERY, OVERLAPPING, *MISSING_QUERIES):
        answers = []
        for upstream in (True, False):
            run = query.run(size=1000, tiebreaker_field="tb", presorted=True, ordered_upstream=upstream)
            for position, hit in enumerate(ordered):
                run.accept(position, hit, hit["_source"])
            answers.append(_ids(run.finish()))
        streamed = _ids(query.search(ordered, size=1000, tiebreaker_field="tb", presorted=True))
        assert (
            answers[0]
            == answers[1]
            == streamed
            == _ids(query.search(ordered, size=1000, tiebreaker_field="tb"))
        )


@settings(max_examples=300, deadline=None)
@given(events=event_lists(), coarse=st.booleans())
def test_testing_only_the_opening_stages_while_nothing_is_under_way_changes_nothing(
    events: list[dict[str, Any]], coarse: bool
) -> None:
    """Without a tiebreaker, a sequence fed in order by a caller that checks the order itself tests
    only its opening stages while no sequence is under way: the answers of buffered sorting, with
    runs of equal timestamps, missing stages, until and a stage overlap."""
    for hit in events:
        if coarse:
            source = hit["_source"]
            source["@timestamp"] -= source["@timestamp"] % 1000
    ordered = sorted(events, key=lambda hit: hit["_source"]["@timestamp"])
    for query in (SEQUENCE_QUERY, OVERLAPPING, *MISSING_QUERIES):
        run = query.run(size=1000, presorted=True, ordered_upstream=True)
        assert run.opening_mask is not None  # type: ignore[attr-defined]
        for position, hit in enumerate(ordered):
            run.accept(position, hit, hit["_source"])
        buffered = _ids(query.search(ordered, size=1000))
        assert _ids(run.finish()) == buffered
        # through a dispatcher, filed twice (Run.targets): an event meeting only the later stages'
        # needs is skipped while nothing is under way, one meeting both is taken once
        run = query.run(size=1000, presorted=True, ordered_upstream=True)
        assert len(run.targets()) == 2
        decoy = compile_query('file where file.name == "x"').run(size=1000)
        assert _ids(search_many([run, decoy], ordered)[0]) == buffered


def test_an_event_that_comes_first_may_complete_one_that_sorts_first() -> None:
    """Two events of one timestamp: the first to come (tiebreaker 2) matches both stages, the second
    (tiebreaker 1) the first stage; sorted, the second opens and the first completes the sequence,
    though nothing was under way when the first came."""
    first: dict[str, Any] = {"_index": "i", "_id": "x", "_source": _lua(2, "b")}
    second: dict[str, Any] = {"_index": "i", "_id": "y", "_source": _lua(1, "a")}
    run = OVERLAPPING.run(size=10, tiebreaker_field="tb", presorted=True, ordered_upstream=True)
    run.accept(0, first, first["_source"])
    run.accept(1, second, second["_source"])
    assert _ids(run.finish()) == [["y", "x"]]


def _lua(tiebreaker: int, name: str) -> dict[str, Any]:
    return {
        "@timestamp": 1_795_154_400_000,
        "tb": tiebreaker,
        "event": {"category": ["process"]},
        "process": {"name": name},
        "host": {"id": "h1"},
    }
