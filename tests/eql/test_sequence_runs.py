"""Sequences and samples count their stages as Elasticsearch's LogicalPlanBuilder does.

Elasticsearch's grammar (EqlBase.g4) reads ``sequence ... sequenceTerm+ (UNTIL until=sequenceTerm)?``
and ``sample ... joinTerm+``; LogicalPlanBuilder.visitSequence then expands every ``with runs=N``
(the until stage's too, which is the last of ``ctx.sequenceTerm()``) and checks, in this order, the
option name, ``value < 1``, ``value > 100``, more than 256 queries, fewer than 2 queries, and
(ES #132638, 8.18+/9.0+) an until with a single query before it.
"""

from __future__ import annotations

from typing import Any

import pytest

from hunter.eql import EqlSemanticError, EqlSyntaxError, compile_query
from hunter.eql.errors import UnsortedInputError


def _event(n: int, kind: str, host: str = "h1") -> dict[str, Any]:
    return {"@timestamp": n * 1000, "event": {"category": "process"}, "k": kind, "host": {"id": host}}


@pytest.mark.parametrize(
    ("query", "stages", "has_until"),
    [
        ("sequence [process where true] with runs=2", 2, False),
        ("sequence by host.id with maxspan=5s [process where true] with runs=5", 5, False),
        ("sequence [process where true] with runs=2 until [process where true]", 2, True),
        ("sequence [process where true] with runs=100", 100, False),
        ("sequence [a where true] with runs=2.5 [b where true]", 2, False),  # decimal: not an IntegerLiteral
        # `until = queries.remove(queries.size() - 1)` after the until's own runs were added
        ('sequence [process where k == "a"] until [process where k == "b"] with runs=2', 2, True),
    ],
)
def test_accepted(query: str, stages: int, has_until: bool) -> None:
    """Queries Elasticsearch accepts compile, with their runs expanded into stages."""
    statement = compile_query(query).statement.query
    assert len(statement.terms) == stages  # type: ignore[union-attr]
    assert (statement.until is not None) is has_until  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("query", "error", "column", "message"),
    [
        (
            "sequence [a where true]",
            EqlSemanticError,
            1,
            "A sequence requires a minimum of 2 queries, found [1]",
        ),
        (
            "sequence [a where true] with runs=1",
            EqlSemanticError,
            1,
            "A sequence requires a minimum of 2 queries, found [1]",
        ),
        (
            "sequence [a where true] with runs=0",
            EqlSemanticError,
            35,
            "A positive runs value is required; found [0]",
        ),
        (
            "sequence [a where true] with runs=101",
            EqlSemanticError,
            35,
            "A query cannot be repeated more than 100 times; found [101]",
        ),
        (
            "sequence [a where true] with run=2",
            EqlSemanticError,
            30,
            "Unrecognized option [run], expecting [runs]",
        ),
        (
            "sequence [a where true] with runs=100 [b where true] with runs=100 [c where true] with runs=57",
            EqlSemanticError,
            68,
            "Sequence cannot contain more than 256 queries; found [257]",
        ),
        # the wording of ES #132638's message is not in any source we could read; position and class are
        (
            "sequence [a where true] until [b where true]",
            EqlSemanticError,
            1,
            "A sequence requires a minimum",
        ),
        ("sequence [a where true] with runs=-1", EqlSyntaxError, 35, "mismatched input '-'"),
        (
            "sample by x [a where true]",
            EqlSemanticError,
            1,
            "A sample requires a minimum of 2 queries, found [1]",
        ),
        (
            "sample by x [a where true] with runs=2 [b where true]",
            EqlSyntaxError,
            28,
            "mismatched input 'with'",
        ),
        (
            "sample by x " + " ".join(f"[{name} where true]" for name in "abcdef"),
            EqlSemanticError,
            88,
            "A sample cannot contain more than 5 queries, found [6]",
        ),
        (
            "sample by x [a where true] by x [b where true] by x",
            EqlSemanticError,
            28,
            "Join keys must be used only once, found duplicates: [x]",
        ),
    ],
)
def test_refused(query: str, error: type[EqlSemanticError], column: int, message: str) -> None:
    """Queries Elasticsearch refuses fail with its message at its line and column."""
    with pytest.raises(error) as caught:
        compile_query(query)
    assert message in caught.value.message
    assert (caught.value.line, caught.value.column) == (1, column)


def test_single_stage_runs_finds_the_repeats() -> None:
    """`[...] with runs=3` alone finds three consecutive matching events of one key."""
    query = compile_query('sequence by host.id with maxspan=10s [process where k == "a"] with runs=3')
    events = [_event(1, "a"), _event(2, "a", "h2"), _event(3, "a"), _event(4, "b"), _event(5, "a")]
    hits = query.search(events)
    assert [[e["_source"]["@timestamp"] for e in s["events"]] for s in hits["sequences"]] == [
        [1000, 3000, 5000]
    ]
    assert hits["sequences"][0]["join_keys"] == ["h1"]


def test_single_stage_runs_with_until() -> None:
    """The Okta MFA-bombing shape: repeats, then an until event of the same key cancels them."""
    query = compile_query(
        'sequence by host.id with maxspan=10m [process where k == "deny"] with runs=2 '
        'until [process where k == "ok"]'
    )
    events = [
        _event(1, "deny"),
        _event(2, "ok"),
        _event(3, "deny"),
        _event(4, "deny", "h2"),
        _event(5, "deny", "h2"),
    ]
    hits = query.search(events)
    assert [s["join_keys"] for s in hits["sequences"]] == [["h2"]]


def test_a_stage_with_runs_is_compiled_and_tested_once() -> None:
    """``with runs=N`` repeats one stage N times: one compiled Stage (its keys read once per event)
    and one test in the mask, which still sets the bit of every repetition."""
    query = compile_query(
        'sequence by host.id [process where process.name : "a*"] with runs=3 [file where file.name == "x"]'
    )
    plan = query.plan(None, "@timestamp", "event.category", None)
    first, second, third, last = plan.stages
    assert first is second is third and last is not first
    event = {"event": {"category": "process"}, "process": {"name": "ab"}, "host": {"id": "h"}}
    assert plan.mask(event) == 0b0111
    assert plan.mask({"event": {"category": "file"}, "file": {"name": "x"}, "host": {"id": "h"}}) == 0b1000
    hits = query.search(
        [{"@timestamp": f"2026-01-01T00:00:0{n}Z", **event, "n": n} for n in range(3)]
        + [
            {
                "@timestamp": "2026-01-01T00:00:05Z",
                "event": {"category": "file"},
                "file": {"name": "x"},
                "host": {"id": "h"},
            }
        ]
    )
    assert [[e["_source"].get("n") for e in s["events"]] for s in hits["sequences"]] == [[0, 1, 2, None]]


_MISSING_AFTER = (
    'sequence by host.id with maxspan=10s [process where k == "open"] ![process where k == "gone"]'
)


@pytest.mark.parametrize(
    ("kinds", "found"),
    [
        # "gone" events while no sequence is under way are of no use, and change nothing
        (["gone", "gone", "open"], [[2]]),
        # after an opening event, a "gone" within maxspan vetoes it
        (["gone", "open", "gone"], []),
        (["open", "gone", "gone", "open"], [[3]]),
    ],
)
def test_events_no_sequence_can_use_are_dropped_when_streaming(
    kinds: list[str], found: list[list[int]]
) -> None:
    """Streamed and buffered searches agree when events of later stages come while nothing is under
    way (they are dropped unread) and after a sequence has started (they are kept)."""
    query = compile_query(_MISSING_AFTER)
    events = [{**_event(n, kind), "n": n} for n, kind in enumerate(kinds)]
    for presorted in (True, False):
        hits = query.search(events, presorted=presorted)
        assert [
            [e["_source"]["n"] for e in s["events"] if e.get("_source")] for s in hits["sequences"]
        ] == found


def test_an_event_no_sequence_can_use_is_still_checked_for_order() -> None:
    """A streamed event that no sequence can use is not looked at further, but an older one after
    it is still found out of order: read in time order, the two make a sequence."""
    query = compile_query('sequence by host.id [process where k == "open"] [process where k == "close"]')
    events = [_event(5, "close"), _event(1, "open")]
    with pytest.raises(UnsortedInputError):
        query.search(events, presorted=True)
    assert len(query.search(events)["sequences"]) == 1
