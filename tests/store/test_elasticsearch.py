"""ElasticsearchStore against the Elasticsearch test server: template, data stream, bulk writes, state."""

from __future__ import annotations

from typing import Any

import pytest
from elasticsearch import BadRequestError, Elasticsearch

from hunter.errors import StoreError
from hunter.esclient import Retrier
from hunter.notify import Delivery, Outcome
from hunter.store.elasticsearch import (
    ORPHAN_AFTER_NS,
    TEMPLATE_NAME,
    TEMPLATE_VERSION,
    ElasticsearchStore,
)
from tests.support.es_data import ALERTS, STATE, Sleeps, tracked
from tests.support.es_server import EsTestServer

HUNT = "t1059_011_lua"
NS = 1_000_000_000
T0 = 1_795_100_000 * NS  # 2026-11-19
MINUTE = 60 * NS


def make_store(
    server: EsTestServer, sleeps: Sleeps | None = None, *, setup: bool = True, **options: Any
) -> ElasticsearchStore:
    """A store with its own client and a recording sleep (template and state index installed)."""
    client = tracked(Elasticsearch(hosts=[server.url], request_timeout=5, max_retries=0))
    retrier = Retrier(attempts=3, backoff=1.0, sleep=sleeps if sleeps is not None else Sleeps())
    store = ElasticsearchStore(client, retrier=retrier, **options)
    if setup:
        store.ensure_setup()
    return store


def alert(alert_id: str, *, version: int = 1, minute: int = 0, **hunter: Any) -> dict[str, Any]:
    """A minimal alert document as the renderer writes one (the fields the store relies on)."""
    stamp = f"2026-11-20T09:{minute:02d}:00.000000000Z"
    return {
        "@timestamp": stamp,
        "message": f"alert {alert_id}",
        "event": {"kind": "alert", "id": alert_id, "category": ["intrusion_detection"], "type": ["info"]},
        "hunter": {
            "alert_id": alert_id,
            "hunt": {"id": HUNT},
            "version": version,
            "created": stamp,
            "first_seen": stamp,
            "last_seen": stamp,
            "queries": ["fallback"],
            **hunter,
        },
    }


def alert_hits(es: Elasticsearch) -> list[dict[str, Any]]:
    """Every alert document in every backing index of the alert data stream."""
    es.indices.refresh(index=ALERTS)
    hits: list[dict[str, Any]] = es.search(index=ALERTS, size=100, version=True)["hits"]["hits"]
    return hits


def bulk_bodies(server: EsTestServer) -> list[list[Any]]:
    """The NDJSON bodies of every _bulk request, in order."""
    return [request.body for request in server.requests_to(r"/_bulk$")]


def test_the_alert_data_stream_has_a_lifecycle_with_the_configured_retention(
    server: EsTestServer, es: Elasticsearch
) -> None:
    """The template gives new alert data streams a data stream lifecycle (rollover, then deletion
    past the retention); without a retention the lifecycle only rolls over."""
    make_store(server, alert_retention="31536000s")
    (ours,) = es.indices.get_index_template(name=TEMPLATE_NAME)["index_templates"]
    assert ours["index_template"]["template"]["lifecycle"] == {"enabled": True, "data_retention": "31536000s"}
    es.indices.delete_index_template(name=TEMPLATE_NAME)
    make_store(server)
    (ours,) = es.indices.get_index_template(name=TEMPLATE_NAME)["index_templates"]
    assert ours["index_template"]["template"]["lifecycle"] == {"enabled": True}


def test_an_upgrade_rolls_the_alert_stream_onto_the_new_template(
    server: EsTestServer, es: Elasticsearch
) -> None:
    """A stream created under an older template gets a new write index with the new mappings (so a
    field Kibana's promote rules query, hunter.first_write, is searchable on new alerts at once) and
    the configured lifecycle; a later start with the same template changes nothing."""
    es.indices.put_index_template(
        name=TEMPLATE_NAME,
        index_patterns=["logs-hunter.alerts-*"],
        data_stream={},
        priority=200,
        template={
            "settings": {"index": {"mode": "standard"}},
            "mappings": {"dynamic": False, "properties": {}},
        },
        meta={"managed_by": "hunter", "version": 2},
    )
    old = make_store(server, setup=False)
    old.save(HUNT, [alert("old")], [])
    (before,) = es.indices.get_data_stream(name=ALERTS)["data_streams"]
    store = make_store(server, alert_retention="7776000s")
    (after,) = es.indices.get_data_stream(name=ALERTS)["data_streams"]
    assert after["generation"] == before["generation"] + 1
    assert after["lifecycle"]["data_retention"] == "7776000s"
    store.save(HUNT, [alert("new")], [])
    es.indices.refresh(index=ALERTS)
    found = es.search(index=ALERTS, query={"term": {"hunter.first_write": True}})["hits"]["hits"]
    assert [hit["_id"] for hit in found] == ["new"]
    make_store(server, alert_retention="7776000s")
    (again,) = es.indices.get_data_stream(name=ALERTS)["data_streams"]
    assert again["generation"] == after["generation"]


def test_a_new_retention_reaches_the_template_and_the_stream_without_a_rollover(
    server: EsTestServer, es: Elasticsearch
) -> None:
    """Changing [retention] alerts after the first start updates the template and the existing
    stream's lifecycle (it used to keep the first value for ever)."""
    make_store(server, alert_retention="31536000s").save(HUNT, [alert("a")], [])
    (before,) = es.indices.get_data_stream(name=ALERTS)["data_streams"]
    make_store(server, alert_retention="2592000s")
    (ours,) = es.indices.get_index_template(name=TEMPLATE_NAME)["index_templates"]
    assert ours["index_template"]["template"]["lifecycle"]["data_retention"] == "2592000s"
    (after,) = es.indices.get_data_stream(name=ALERTS)["data_streams"]
    assert after["lifecycle"]["data_retention"] == "2592000s"
    assert after["generation"] == before["generation"]


def test_template_is_installed_above_the_builtin_logs_priority(
    server: EsTestServer, es: Elasticsearch
) -> None:
    """ensure_setup installs a data stream template at priority > 100; an equal priority would be refused."""
    make_store(server)
    templates = {t["name"]: t["index_template"] for t in es.indices.get_index_template()["index_templates"]}
    ours, builtin = templates[TEMPLATE_NAME], templates["logs"]
    assert ours["index_patterns"] == ["logs-hunter.alerts-*"]
    assert builtin["index_patterns"] == ["logs-*-*"] and ours["priority"] > builtin["priority"] == 100
    assert "data_stream" in ours and ours["_meta"] == {"managed_by": "hunter", "version": TEMPLATE_VERSION}
    # not logsdb (the 9.x default for logs-*-*): its synthetic _source would rewrite hunter.events
    assert ours["template"]["settings"]["index"]["mode"] == "standard"
    assert ours["template"]["mappings"]["properties"]["hunter"]["properties"]["events"] == {
        "type": "flattened"
    }
    with pytest.raises(BadRequestError) as refused:
        es.indices.put_index_template(
            name="hunter-alerts-at-100",
            index_patterns=["logs-hunter.alerts-*"],
            data_stream={},
            priority=100,
        )
    assert "matching patterns from existing templates [logs]" in refused.value.body["error"]["reason"]

    make_store(server).save(HUNT, [alert("a1")], [])
    (stream,) = es.indices.get_data_stream(name=ALERTS)["data_streams"]
    assert stream["template"] == TEMPLATE_NAME
    mapping = es.indices.get_mapping(index=ALERTS)
    (backing,) = mapping.body.values()
    assert backing["mappings"]["properties"]["hunter"]["properties"]["alert_id"]["type"] == "keyword"
    assert es.indices.get_mapping(index=STATE)[STATE]["mappings"]["dynamic"] in (False, "false")


def test_setup_is_idempotent_and_replaces_an_older_template(server: EsTestServer, es: Elasticsearch) -> None:
    """A current template and an existing state index are kept; an older template version is replaced."""
    es.indices.put_index_template(
        name=TEMPLATE_NAME,
        index_patterns=["logs-hunter.alerts-*"],
        data_stream={},
        priority=200,
        meta={"managed_by": "hunter", "version": 0},
    )
    make_store(server)
    make_store(server)
    assert (
        len(server.requests_to(rf"^/_index_template/{TEMPLATE_NAME}$", "PUT")) == 2
    )  # ours, then hunter's current one
    assert len(server.requests_to(rf"^/{STATE}$", "PUT")) == 1
    assert (
        es.indices.get_index_template(name=TEMPLATE_NAME)["index_templates"][0]["index_template"]["_meta"][
            "version"
        ]
        == TEMPLATE_VERSION
    )


def test_state_index_created_meanwhile_by_another_replica_is_tolerated(server: EsTestServer) -> None:
    """resource_already_exists_exception when creating the state index (a replica won the race) is fine."""
    make_store(server)
    server.faults.error(404, path_regex=rf"^/{STATE}$", method="HEAD")  # "missing" when checked...
    store = make_store(server)  # ...but there when created
    assert store.checkpoint(HUNT) is None


def test_save_writes_the_notice_before_the_alert_and_is_idempotent(
    server: EsTestServer, es: Elasticsearch
) -> None:
    """New alerts are bulk-created after their pending notices; saving the same id again creates nothing."""
    store = make_store(server)
    first = store.save(HUNT, [alert("a1"), alert("a2")], [])
    assert sorted(first.created) == ["a1", "a2"]
    notices, alerts = bulk_bodies(server)
    assert [line["create"]["_index"] for line in notices[::2]] == [STATE, STATE]
    assert [line["create"]["_id"] for line in notices[::2]] == ["notice-a1", "notice-a2"]
    assert [line["create"] for line in alerts[::2]] == [
        {"_index": ALERTS, "_id": "a1"},
        {"_index": ALERTS, "_id": "a2"},
    ]
    again = make_store(server).save(HUNT, [alert("a1")], [])
    assert again.created == ()
    assert sorted(hit["_id"] for hit in alert_hits(es)) == ["a1", "a2"]
    assert store.notice_counts() == {"pending": 2, "sending": 0, "sent": 0, "failed": 0}


def test_ids_are_found_across_backing_indices_and_updated_in_place_after_rollover(
    server: EsTestServer, es: Elasticsearch
) -> None:
    """After a rollover get() finds the alert in the old backing index; the update lands there, not anew."""
    make_store(server).save(HUNT, [alert("a1")], [])
    rolled = es.indices.rollover(alias=ALERTS)
    store = make_store(server)
    assert list(store.get(["a1", "nope"])) == ["a1"]
    saved = store.save(HUNT, [], [alert("a1", version=2, queries=["fallback", "sequence"])])
    assert saved.updated == ("a1",)
    update = bulk_bodies(server)[-1][0]["index"]
    assert (update["_index"], update["if_primary_term"]) == (rolled["old_index"], 1)
    assert isinstance(update["if_seq_no"], int)
    (hit,) = alert_hits(es)
    assert hit["_index"] == rolled["old_index"] and hit["_version"] == 2
    assert hit["_source"]["hunter"]["queries"] == ["fallback", "sequence"]


def test_an_id_lookup_that_misses_a_shard_is_an_error_not_an_absence(
    server: EsTestServer, es: Elasticsearch
) -> None:
    """With the old backing index's shard down, get() raises instead of answering "not there" (which
    would create the alert a second time in the new write index); the lookup asks for no partial results."""
    store = make_store(server, Sleeps())
    store.save(HUNT, [alert("a1")], [])
    old = es.indices.rollover(alias=ALERTS)["old_index"]
    server.faults.search_shard_failures([old], times=None)
    with pytest.raises(StoreError, match=r"search_phase_execution_exception|shards failed"):
        store.get(["a1"])
    searches = server.requests_to(rf"^/{ALERTS}/_search$")
    assert searches and all(r.params.get("allow_partial_search_results") == "false" for r in searches)
    server.faults.clear()
    assert list(store.get(["a1"])) == ["a1"]
    assert len(alert_hits(es)) == 1


def test_a_stale_update_loses_to_the_concurrent_writer(server: EsTestServer, es: Elasticsearch) -> None:
    """Two writers update one alert from the same version: the second gets 409, changes nothing, and
    reports the conflict (the runner then reads, merges and writes again)."""
    make_store(server).save(HUNT, [alert("a1")], [])
    first, second = make_store(server), make_store(server)
    first.get(["a1"])
    second.get(["a1"])
    assert first.save(HUNT, [], [{**alert("a1", version=2), "message": "first"}]).updated == ("a1",)
    lost = second.save(HUNT, [], [{**alert("a1", version=2), "message": "second"}])
    assert lost.updated == ()
    assert lost.conflicts == ("a1",)
    (hit,) = alert_hits(es)
    assert hit["_source"]["message"] == "first"


def test_bulk_items_rejected_with_429_are_retried_alone_and_succeed(
    server: EsTestServer, es: Elasticsearch
) -> None:
    """A 429 item of a partial bulk failure is sent again (after the injected sleep) until it is created."""
    sleeps = Sleeps()
    store = make_store(server, sleeps)
    server.faults.bulk_failures({})  # the notices' bulk goes through
    server.faults.bulk_failures({1: (429, "es_rejected_execution_exception")})
    saved = store.save(HUNT, [alert("a1"), alert("a2"), alert("a3")], [])
    assert sorted(saved.created) == ["a1", "a2", "a3"]
    _notices, alerts, retried = bulk_bodies(server)
    assert len(alerts) == 6 and retried == alerts[2:4]
    assert len(sleeps) == 1
    assert sorted(hit["_id"] for hit in alert_hits(es)) == ["a1", "a2", "a3"]


def test_bulk_item_failing_with_400_raises_and_its_notice_waits_for_the_alert(
    server: EsTestServer, es: Elasticsearch
) -> None:
    """A 400 mapper_parsing_exception item is never ignored: StoreError; its notice stays pending, unsent."""
    store = make_store(server)
    server.faults.bulk_failures({})
    server.faults.bulk_failures({1: (400, "mapper_parsing_exception")})
    with pytest.raises(StoreError, match=r"1 of 2 item\(s\) failed, e\.g\. a2: 400 mapper_parsing_exception"):
        store.save(HUNT, [alert("a1"), alert("a2")], [])
    assert [hit["_id"] for hit in alert_hits(es)] == ["a1"]
    claimed = store.claim_notices("owner", T0, 10)
    assert [notice.alert_id for notice in claimed] == ["a1"]
    # a2's notice waits for its alert (written by the next run): kept claimed, so it is looked at
    # again only after the claim expires, never blocking the head of the queue
    assert store.notice_counts()["sending"] == 2
    assert store.claim_notices("owner", T0 + 60 * NS, 10) == []
    stale = store.claim_notices("owner", T0 + 11 * MINUTE, 10)  # both claims expired: a1 is sent again
    assert [notice.alert_id for notice in stale] == ["a1"]
    assert store.notice_counts()["sending"] == 2


def test_a_notice_whose_alert_is_never_written_is_parked_after_a_day(server: EsTestServer) -> None:
    """An orphaned notice (its alert never created, e.g. folded into another by suppression) is
    parked as failed after ORPHAN_AFTER instead of cycling forever; real notices behind it flow."""
    store = make_store(server)
    server.faults.bulk_failures({})  # the notices are recorded...
    server.faults.bulk_failures({0: (400, "mapper_parsing_exception")})  # ...orphan's alert rejected
    with pytest.raises(StoreError):
        store.save(HUNT, [alert("orphan")], [])
    store.save(HUNT, [alert("real")], [])
    now = store.clock_ns()
    # a page of one holds only the (young) orphan: it stays claimed, the next page is taken
    assert [n.alert_id for n in store.claim_notices("owner", now, 1)] == ["real"]
    assert store.notice_counts()["sending"] == 2
    late = now + ORPHAN_AFTER_NS + MINUTE  # both claims expired; the orphan is a day old
    assert [n.alert_id for n in store.claim_notices("owner", late, 1)] == ["real"]
    counts = store.notice_counts()
    assert counts["failed"] == 1 and counts["sending"] == 1


def test_bulk_items_still_rejected_after_every_retry_raise(server: EsTestServer, es: Elasticsearch) -> None:
    """429 items that never succeed raise StoreError; an alert is never written without its notice."""
    sleeps = Sleeps()
    store = make_store(server, sleeps)
    server.faults.bulk_failures({0: (429, "es_rejected_execution_exception")}, times=None)
    with pytest.raises(StoreError, match="record notices: 1 of 1 item"):
        store.save(HUNT, [alert("a1")], [])
    assert len(bulk_bodies(server)) == 3 and len(sleeps) == 2
    assert not es.indices.exists(index=ALERTS)


def test_whole_bulk_request_rejected_is_retried(server: EsTestServer, es: Elasticsearch) -> None:
    """A 429 answer to the whole _bulk request is retried with its Retry-After delay."""
    sleeps = Sleeps()
    store = make_store(server, sleeps)
    server.faults.rejected(path_regex=r"/_bulk$", retry_after=3)
    assert store.save(HUNT, [alert("a1")], []).created == ("a1",)
    assert sleeps == [3.0]


def test_checkpoint_moves_forward_only(server: EsTestServer) -> None:
    """The checkpoint starts unset, moves forward, and never moves back."""
    store = make_store(server)
    assert store.checkpoint(HUNT) is None
    store.set_checkpoint(HUNT, T0 + 10 * MINUTE)
    store.set_checkpoint(HUNT, T0 + 5 * MINUTE)
    assert store.checkpoint(HUNT) == T0 + 10 * MINUTE
    make_store(server).set_checkpoint(HUNT, T0 + 20 * MINUTE)
    assert store.checkpoint(HUNT) == T0 + 20 * MINUTE


def test_lease_is_exclusive_until_it_expires_or_is_released(server: EsTestServer) -> None:
    """One owner holds a hunt's lease; another gets it only after expiry or release."""
    a, b = make_store(server), make_store(server)
    ttl = 10 * MINUTE
    assert a.acquire_lease(HUNT, "a", T0, ttl)
    assert not b.acquire_lease(HUNT, "b", T0 + MINUTE, ttl)
    assert a.acquire_lease(HUNT, "a", T0 + 2 * MINUTE, ttl)  # renewed until T0 + 12m
    assert not b.acquire_lease(HUNT, "b", T0 + 11 * MINUTE, ttl)
    assert b.acquire_lease(HUNT, "b", T0 + 13 * MINUTE, ttl)
    a.release_lease(HUNT, "a")  # no longer a's: nothing happens
    assert not a.acquire_lease(HUNT, "a", T0 + 14 * MINUTE, ttl)
    b.release_lease(HUNT, "b")
    assert a.acquire_lease(HUNT, "a", T0 + 14 * MINUTE, ttl)


def test_notice_claims_are_exclusive_and_deliveries_recorded(server: EsTestServer) -> None:
    """A claimed notice is not claimed again until its claim is stale; a stale claimer cannot hand it back."""
    a = make_store(server, claim_ttl_ns=10 * MINUTE)
    b = make_store(server, claim_ttl_ns=10 * MINUTE)
    a.save(HUNT, [alert("a1", minute=1), alert("a2", minute=2), alert("a3", minute=3)], [])
    claimed = a.claim_notices("a", T0, 2)
    assert [n.alert_id for n in claimed] == ["a1", "a2"]
    assert claimed[0].alert["hunter"]["alert_id"] == "a1" and claimed[0].hunt_id == HUNT
    assert [n.alert_id for n in b.claim_notices("b", T0, 10)] == ["a3"]
    assert b.claim_notices("b", T0 + MINUTE, 10) == []
    a.record_delivery(Delivery(("a1",), Outcome.SENT), T0 + MINUTE)
    a.record_delivery(Delivery(("a2",), Outcome.RETRY, "429"), T0 + MINUTE)
    b.record_delivery(Delivery(("a3",), Outcome.FAILED, "invalid_payload"), T0 + MINUTE)
    assert [n.alert_id for n in b.claim_notices("b", T0 + 2 * MINUTE, 10)] == ["a2"]
    assert a.claim_notices("a", T0 + 5 * MINUTE, 10) == []  # b's claim is fresh
    assert [n.alert_id for n in a.claim_notices("a", T0 + 13 * MINUTE, 10)] == ["a2"]  # b's went stale
    b.record_delivery(
        Delivery(("a2",), Outcome.RETRY, "timeout"), T0 + 14 * MINUTE, "b"
    )  # too late: a has it
    assert b.claim_notices("b", T0 + 14 * MINUTE, 10) == []
    a.record_delivery(Delivery(("a2",), Outcome.SENT), T0 + 14 * MINUTE, "a")
    b.record_delivery(Delivery(("a1",), Outcome.RETRY), T0 + 14 * MINUTE)  # a sent one stays sent
    assert a.notice_counts() == {"pending": 0, "sending": 0, "sent": 2, "failed": 1}
    assert a.claim_notices("a", T0 + 60 * MINUTE, 10) == []


def test_all_lists_every_alert_oldest_first_across_backing_indices(
    server: EsTestServer, es: Elasticsearch
) -> None:
    """all() reads every backing index, ordered by first seen then id; by hunt, since and limit."""
    store = make_store(server)
    store.save(HUNT, [alert("b", minute=5), alert("c", minute=1)], [])
    es.indices.rollover(alias=ALERTS)
    store.save(HUNT, [alert("a", minute=5), alert("d", minute=0)], [])
    store.save(
        "other",
        [{**alert("e", minute=3), "hunter": {**alert("e", minute=3)["hunter"], "hunt": {"id": "other"}}}],
        [],
    )
    assert [doc["hunter"]["alert_id"] for doc in store.all()] == ["d", "c", "e", "a", "b"]
    assert [doc["hunter"]["alert_id"] for doc in store.all(hunt_id="other")] == ["e"]
    since = 1_795_165_380 * NS  # 2026-11-20T09:03:00Z
    assert [doc["hunter"]["alert_id"] for doc in store.all(since_ns=since, limit=2)] == ["e", "a"]


def test_notices_are_listed_requeued_and_cleaned_up(server: EsTestServer) -> None:
    """The outbox is listed, parked notices requeued, and sent ones past the retention deleted."""
    store = make_store(server)
    store.save(HUNT, [alert("a1"), alert("a2")], [])
    store.claim_notices("me", T0, 10)
    store.record_delivery(Delivery(("a1",), Outcome.FAILED, "invalid_token"), T0, "me")
    store.record_delivery(Delivery(("a2",), Outcome.SENT), T0, "me")
    assert [(n.alert_id, n.status) for n in store.notices()] == [("a1", "failed"), ("a2", "sent")]
    assert store.requeue_notices() == 1
    assert [n.alert_id for n in store.notices(status="pending")] == ["a1"]
    assert store.clean_up(T0 + 10 * MINUTE, MINUTE) == 1  # the sent notice
    assert [n.alert_id for n in store.notices()] == ["a1"]
    (deletes,) = [body for body in bulk_bodies(server) if "delete" in body[0]]
    assert {"if_seq_no", "if_primary_term"} <= deletes[0]["delete"].keys()  # only the version found done


def test_find_suppressor_returns_the_earliest_matching_alert(server: EsTestServer) -> None:
    """The earliest alert of the hunt with the suppression key, first seen at or after the bound."""
    store = make_store(server)
    key = {"key": "k1", "by": {"host.id": "h1"}}
    store.save(
        HUNT,
        [
            alert("early", minute=1, suppression=key),
            alert("later", minute=7, suppression=key),
            alert("other", minute=2, suppression={"key": "k2", "by": {}}),
        ],
        [],
    )
    bound = 1_795_165_500 * NS  # 2026-11-20T09:05:00Z
    end = 1_795_166_000 * NS
    found = store.find_suppressor(HUNT, "k1", bound, end)
    assert found is not None and found["hunter"]["alert_id"] == "later"
    earliest = store.find_suppressor(HUNT, "k1", 0, end)
    assert earliest is not None and earliest["hunter"]["alert_id"] == "early"
    assert store.find_suppressor(HUNT, "k1", 0, bound) is not None
    assert store.find_suppressor(HUNT, "k1", bound, bound) is None  # "later" is first seen after it
    assert store.find_suppressor(HUNT, "k3", 0, end) is None
    assert store.find_suppressor("other-hunt", "k1", 0, end) is None


def test_folded_findings_are_recorded_in_the_state_index(server: EsTestServer) -> None:
    """Records of folded findings are state documents, looked up by the folded finding's id."""
    store = make_store(server)
    store.save(HUNT, [alert("s")], [], suppressed={"x": "s", "y": "s"})
    assert store.suppressed_by(["x", "y", "z"]) == {"x": "s", "y": "s"}
    store.save(HUNT, [], [], suppressed={"x": "other"})  # recorded once: the first record stays
    assert store.suppressed_by(["x"]) == {"x": "s"}


def test_unreachable_cluster_raises_store_error_after_retries(server: EsTestServer) -> None:
    """Connection refused is retried (injected sleep), then a StoreError naming the operation."""
    sleeps = Sleeps()
    store = make_store(server, sleeps)
    server.stop()
    with pytest.raises(StoreError, match="get checkpoint-t1059_011_lua: ConnectionError"):
        store.checkpoint(HUNT)
    assert len(sleeps) == 2
