"""ElasticsearchSearcher against the Elasticsearch test server, through the real client over HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import structlog
from elasticsearch import Elasticsearch

from hunter.config import SearchSettings
from hunter.errors import TransientSearchError
from hunter.esclient import Retrier
from hunter.hunts import Hunt
from hunter.results import QueryResult, Window
from hunter.search.elasticsearch import ElasticsearchSearcher
from tests.conftest import (
    AUDITBEAT_INDEX,
    EGRESS,
    auditd_lua,
    lua_exec,
    ns,
    sample,
    tmp_write,
    utc,
)
from tests.support.es_data import (
    Sleeps,
    as_hit,
    es_settings,
    index_hits,
    index_samples,
    replica,
    sample_hits,
    tracked,
)
from tests.support.es_server import EsTestServer

EQL = r"/_eql/search$"
MAXSPAN = 5 * 60 * 1_000_000_000
BURST = utc("2026-11-20T10:00:00Z")


def searcher(
    server: EsTestServer, sleeps: Sleeps | None = None, *, timeout: float = 5, **search: Any
) -> ElasticsearchSearcher:
    """A searcher on ``server`` with a recording sleep (retries from the search settings)."""
    settings = SearchSettings(**search)
    client = tracked(Elasticsearch(hosts=[server.url], request_timeout=timeout, max_retries=0))
    retrier = Retrier(
        attempts=settings.retries + 1,
        backoff=settings.retry_backoff.total_seconds(),
        sleep=sleeps if sleeps is not None else Sleeps(),
    )
    return ElasticsearchSearcher(client, settings, retrier)


def by_name(results: list[QueryResult]) -> dict[str, QueryResult]:
    """Results keyed by query name."""
    return {result.query: result for result in results}


def eql_bodies(server: EsTestServer, hunt: Hunt, query: str) -> list[dict[str, Any]]:
    """The bodies of the EQL searches sent for one query of ``hunt``, in order."""
    (text,) = [q.text for q in hunt.queries if q.name == query]
    return [r.body for r in server.requests_to(EQL) if r.body["query"] == text]


def lua_sequences(count: int, *, start: datetime, spacing: timedelta) -> list[dict[str, Any]]:
    """``count`` Lua execs, each followed a second later by its child's write under /tmp."""
    hits: list[dict[str, Any]] = []
    for number in range(count):
        at = start + number * spacing
        hits.append(lua_exec(at, doc_id=f"exec-{number}", entity_id=f"L-{number}"))
        hits.append(
            tmp_write(
                at + timedelta(seconds=1),
                doc_id=f"write-{number}",
                parent_entity_id=f"L-{number}",
                entity_id=f"C-{number}",
            )
        )
    egress = sample(EGRESS)  # maps network.direction (the sequence names it); joins nothing
    egress["_id"] = "egress-0"
    return [*hits, egress]


def test_request_carries_window_size_fields_and_finds_the_samples(
    server: EsTestServer, es: Elasticsearch, lua_hunt: Hunt
) -> None:
    """Each query is one eql.search over the hunt's indices with the range filter, size and field settings."""
    index_samples(es)
    window = Window(ns(utc("2026-11-20T00:00:00Z")), ns(utc("2026-11-20T23:59:59Z")))
    found = by_name(searcher(server, size=7, tiebreaker_field="event.sequence").search(lua_hunt, window))
    assert [len(found["sequence"].matches), len(found["fallback"].matches)] == [1, 5]
    assert all(r.requests == 1 and r.truncated == 0 and r.error is None for r in found.values())
    (sequence,) = found["sequence"].matches
    assert [e.id for e in sequence.events] == ["Oq3L1FOtjHjj4EfCngyu", "E4jL1FOtjHjj4EfCngyu"]
    requests = server.requests_to(EQL)
    assert len(requests) == 2
    assert requests[0].path == "/" + ",".join(lua_hunt.indices) + "/_eql/search"
    body = requests[0].body
    assert body["filter"] == {
        "range": {
            "@timestamp": {
                "gte": "2026-11-20T00:00:00.000000000Z",
                "lte": "2026-11-20T23:59:59.000000000Z",
                "format": "strict_date_optional_time_nanos",
            }
        }
    }
    assert (body["size"], body["timestamp_field"], body["event_category_field"]) == (
        7,
        "@timestamp",
        "event.category",
    )
    assert (body["tiebreaker_field"], body["result_position"]) == ("event.sequence", "head")


def test_timestamp_override_uses_kibana_filter_and_falls_back_to_timestamp(
    server: EsTestServer, es: Elasticsearch, lua_hunt: Hunt
) -> None:
    """With timestamp_override the window applies to event.ingested, or to @timestamp where it is missing."""
    late = lua_exec(utc("2026-11-20T11:00:00Z"), doc_id="late-ingest", entity_id="L-late")
    late["_source"]["event"]["ingested"] = "2026-11-20T12:00:00Z"
    early = lua_exec(utc("2026-11-20T09:00:00Z"), doc_id="early-event", entity_id="L-early")
    early["_source"]["event"]["ingested"] = "2026-11-20T11:05:00Z"
    auditd = as_hit(auditd_lua(utc("2026-11-20T11:00:00Z")), index=AUDITBEAT_INDEX, doc_id="auditd-lua")
    assert "ingested" not in auditd["_source"]["event"]
    index_hits(es, [early, late, auditd])
    search = searcher(server, timestamp_override="event.ingested")

    first = Window(ns(utc("2026-11-20T10:30:00Z")), ns(utc("2026-11-20T11:30:00Z")))
    found = by_name(search.search(lua_hunt, first))["fallback"]
    assert sorted(m.events[0].id for m in found.matches) == ["auditd-lua", "early-event"]
    second = Window(ns(utc("2026-11-20T11:30:00Z")), ns(utc("2026-11-20T12:30:00Z")))
    found = by_name(search.search(lua_hunt, second))["fallback"]
    assert [m.events[0].id for m in found.matches] == ["late-ingest"]

    inside = {
        "gte": "2026-11-20T10:30:00.000000000Z",
        "lte": "2026-11-20T11:30:00.000000000Z",
        "format": "strict_date_optional_time_nanos",
    }
    assert server.requests_to(EQL)[0].body["filter"] == {
        "bool": {
            "should": [
                {"range": {"event.ingested": inside}},
                {
                    "bool": {
                        "filter": [{"range": {"@timestamp": inside}}],
                        "must_not": [{"exists": {"field": "event.ingested"}}],
                    }
                },
            ],
            "minimum_should_match": 1,
        }
    }


def test_capped_windows_are_split_until_every_hit_is_found(
    server: EsTestServer, es: Elasticsearch, lua_hunt: Hunt
) -> None:
    """A burst of 3x size matches is split in halves (sequence halves overlap by maxspan); nothing is lost."""
    index_hits(es, lua_sequences(15, start=BURST, spacing=timedelta(minutes=3)))
    window = Window(ns(BURST - timedelta(hours=1)), ns(BURST + timedelta(hours=1)))
    found = by_name(searcher(server, size=5).search(lua_hunt, window))

    fallback, sequence = found["fallback"], found["sequence"]
    assert sorted(m.events[0].id for m in fallback.matches) == sorted(f"exec-{n}" for n in range(15))
    assert sorted(tuple(e.id for e in m.events) for m in sequence.matches) == sorted(
        (f"exec-{n}", f"write-{n}") for n in range(15)
    )
    assert fallback.truncated == sequence.truncated == 0

    search = searcher(server, size=5)
    middle = window.start_ns + (window.end_ns - window.start_ns) // 2
    for name, halves in (
        ("fallback", [Window(window.start_ns, middle), Window(middle + 1, window.end_ns)]),
        ("sequence", [Window(window.start_ns, middle + MAXSPAN), Window(middle, window.end_ns)]),
    ):
        bodies = eql_bodies(server, lua_hunt, name)
        assert len(bodies) == found[name].requests >= 7  # 15 hits, 5 per answer: at least 4 leaves
        assert bodies[0]["filter"] == search.range_filter(window)
        sent = [body["filter"] for body in bodies]
        assert all(search.range_filter(half) in sent for half in halves)
        assert all(body["size"] == 5 for body in bodies)


def test_window_still_capped_at_the_narrowest_split_is_counted_as_truncated(
    server: EsTestServer, es: Elasticsearch, lua_hunt: Hunt
) -> None:
    """Hits packed tighter than min_split (or 2x maxspan for sequences) stay capped: counted and logged."""
    index_hits(es, lua_sequences(6, start=BURST, spacing=timedelta(0)))
    window = Window(ns(BURST - timedelta(minutes=4)), ns(BURST + timedelta(minutes=6)))  # 2x maxspan
    with structlog.testing.capture_logs() as logs:
        found = by_name(searcher(server, size=5).search(lua_hunt, window))
    assert found["sequence"].truncated == 1 and found["sequence"].requests == 1
    assert len(found["sequence"].matches) == 5
    assert found["fallback"].truncated == 1 and found["fallback"].requests > 1
    assert len(found["fallback"].matches) == 5
    warned = [e for e in logs if e["log_level"] == "warning" and "capped" in e["event"]]
    assert sorted(e["query"] for e in warned) == ["fallback", "sequence"]


def test_verification_exception_is_permanent_for_that_query_only(
    server: EsTestServer, es: Elasticsearch, lua_hunt: Hunt
) -> None:
    """A 400 verification_exception skips that query (error set, logged once, not retried); the other runs."""
    process_only = [h for h in sample_hits() if "process" in h["_index"] or h["_index"] == AUDITBEAT_INDEX]
    index_hits(es, process_only)  # no network or file events: network.direction is mapped nowhere
    sleeps = Sleeps()
    search = searcher(server, sleeps)
    with structlog.testing.capture_logs() as logs:
        first = by_name(search.search(lua_hunt, None))
        second = by_name(search.search(lua_hunt, None))
    reason = first["sequence"].error
    assert reason is not None and reason.startswith("Found 1 problem\nline ")
    assert reason.endswith("Unknown column [network.direction]")  # Elasticsearch's own reason
    for found in (first, second):
        assert found["sequence"].error == reason
        assert found["sequence"].matches == [] and found["sequence"].requests == 0
        assert found["fallback"].error is None
        assert len(found["fallback"].matches) == 4  # Lua exec + its fork record, LuaSocket, auditd
    errors = [e for e in logs if e["log_level"] == "error"]
    assert len(errors) == 1
    assert (errors[0]["query"], errors[0]["error_type"], errors[0]["reason"]) == (
        "sequence",
        "verification_exception",
        reason,
    )
    assert sleeps == [] and len(eql_bodies(server, lua_hunt, "sequence")) == 2


def test_shard_failures_are_retried_then_mark_the_query_incomplete(
    server: EsTestServer, es: Elasticsearch, lua_hunt: Hunt
) -> None:
    """Shard failures are retried; if they persist, the sequence query's partial answer is dropped
    and the event query keeps the healthy shards' hits, both marked incomplete (nothing raised)."""
    index_samples(es)
    server.faults.eql_shard_failures(["*process*"], times=None)
    sleeps = Sleeps()
    found = by_name(searcher(server, sleeps, retries=2).search(lua_hunt, None))
    assert len(server.requests_to(EQL)) == 6 and len(sleeps) == 4  # 3 attempts per query
    sequence, fallback = found["sequence"], found["fallback"]
    assert sequence.matches == [] and "shard failure" in (sequence.incomplete or "")
    assert "no_shard_available_action_exception" in (fallback.incomplete or "")
    indices = {event.index for match in fallback.matches for event in match.events}
    assert fallback.matches and not any("process" in index for index in indices)


def test_shard_failures_that_pass_within_the_retries_leave_a_whole_result(
    server: EsTestServer, es: Elasticsearch, lua_hunt: Hunt
) -> None:
    """A shard failure that clears on the retry gives the whole answer, not an incomplete one."""
    index_samples(es)
    server.faults.eql_shard_failures(["*process*"], times=1)
    found = by_name(searcher(server, Sleeps(), retries=1).search(lua_hunt, None))
    assert [len(found["sequence"].matches), len(found["fallback"].matches)] == [1, 5]
    assert found["sequence"].incomplete is None and found["fallback"].incomplete is None


def test_503_is_retried_with_backoff_then_succeeds(
    server: EsTestServer, es: Elasticsearch, lua_hunt: Hunt
) -> None:
    """A 503 on eql.search is retried after a backoff with jitter (injected sleep); the answer is used."""
    index_samples(es)
    server.faults.error(503, path_regex=EQL, times=2)
    sleeps = Sleeps()
    found = by_name(searcher(server, sleeps, retry_backoff="2s").search(lua_hunt, None))
    assert [len(found["sequence"].matches), len(found["fallback"].matches)] == [1, 5]
    assert len(sleeps) == 2
    assert 1.0 <= sleeps[0] <= 3.0 and 2.0 <= sleeps[1] <= 6.0  # backoff * 2**attempt * [0.5, 1.5]
    assert len(server.requests_to(EQL)) == 4


@pytest.mark.parametrize("fault", ["timeout", "dropped"])
def test_timeouts_and_dropped_connections_raise_transient_after_retries(
    server: EsTestServer, es: Elasticsearch, lua_hunt: Hunt, fault: str
) -> None:
    """An answer later than the client's timeout, or a dropped connection, is retried then transient."""
    index_samples(es)
    if fault == "timeout":
        server.faults.slow(1.0, path_regex=EQL, times=None)
    else:
        server.faults.drop(path_regex=EQL, times=None)
    sleeps = Sleeps()
    with pytest.raises(TransientSearchError) as raised:
        searcher(server, sleeps, timeout=0.2, retries=1).search(lua_hunt, None)
    assert ("ConnectionTimeout" if fault == "timeout" else "ConnectionError") in str(raised.value)
    assert len(sleeps) == 1 and len(server.requests_to(EQL)) == 2


def test_authorization_failure_fails_the_run_instead_of_skipping_the_query(
    server: EsTestServer, es: Elasticsearch, lua_hunt: Hunt
) -> None:
    """A 403 on eql.search (API key without read on the indices) fails the run: the checkpoint stays."""
    index_samples(es)
    node = replica(es_settings(server.url))
    reason = (
        "action [indices:data/read/eql] is unauthorized for API key id [hunter] of user [hunter], "
        "this action is granted by the index privileges [read,all]"
    )
    server.faults.error(403, path_regex=EQL, error_type="security_exception", reason=reason, times=None)
    summary = node.runner.run_hunt(lua_hunt)
    assert summary.outcome == "failed"
    assert node.store.checkpoint(lua_hunt.id) is None


def test_shard_failures_on_the_sequence_fail_that_query_and_keep_the_checkpoint(
    server: EsTestServer, es: Elasticsearch, lua_hunt: Hunt
) -> None:
    """Shard failures on the sequence query (past its retries) fail that query, as Kibana does: the
    fallback's alerts are stored, the checkpoint stays, and the rerun adds the sequence."""
    index_samples(es)
    settings = es_settings(server.url, search={"retries": 1}, schedule={"max_catchup": "1d"})
    node = replica(settings)
    checkpoint = ns(utc("2026-11-20T08:59:00Z"))  # an earlier run ended here
    node.store.set_checkpoint(lua_hunt.id, checkpoint)

    server.faults.eql_shard_failures(["*"], times=settings.search.retries + 1)  # the sequence's attempts
    failed = node.runner.run_hunt(lua_hunt)
    assert failed.outcome == "failed" and "shard failures in sequence" in failed.error
    assert list(failed.incomplete) == ["sequence"] and failed.hits == {"sequence": 0, "fallback": 5}
    assert node.store.checkpoint(lua_hunt.id) == checkpoint
    stored = list(node.store.all())
    assert len(stored) == 4 and all(doc["hunter"]["queries"] == ["fallback"] for doc in stored)

    again = node.runner.run_hunt(lua_hunt)
    assert again.outcome == "ok" and again.created == [] and again.updated == 1
    assert node.store.checkpoint(lua_hunt.id) == ns(utc("2026-11-20T14:59:00Z"))
