"""The Elasticsearch test server, driven only through the real ``elasticsearch`` client over HTTP."""

from __future__ import annotations

import time
from typing import Any

import pytest
from elasticsearch import (
    ApiError,
    BadRequestError,
    ConflictError,
    ConnectionError,
    ConnectionTimeout,
    Elasticsearch,
    NotFoundError,
)

from tests.support.es_server import EsTestServer

ALERTS = "logs-hunter.alerts-default"
EVENTS = "logs-endpoint.events.process-default"
JSON = {"content-type": "application/json", "accept": "application/json"}


def _alerts_template(es: Elasticsearch, priority: int = 200) -> None:
    es.indices.put_index_template(
        name="hunter-alerts",
        index_patterns=["logs-hunter.alerts-*"],
        priority=priority,
        data_stream={},
        template={"mappings": {"properties": {"@timestamp": {"type": "date"}, "rule": {"type": "object"}}}},
    )


def _event(ts: str, action: str, entity: str, name: str, **extra: Any) -> dict[str, Any]:
    return {
        "@timestamp": ts,
        "event": {"category": "process", "action": action},
        "host": {"id": "h1"},
        "process": {"entity_id": entity, "name": name, **extra},
    }


def _load_events(es: Elasticsearch) -> None:
    """Lua spawned by bash, then its child, split over two backing indices by a rollover."""
    first = [
        _event("2024-05-01T10:00:00.000Z", "start", "p1", "bash"),
        _event("2024-05-01T10:00:01.000Z", "start", "p2", "lua", parent={"entity_id": "p1"}),
    ]
    second = [
        _event("2024-05-01T10:00:02.000Z", "start", "p3", "sh", parent={"entity_id": "p2"}),
        _event("2024-05-01T11:00:00.000Z", "start", "p4", "lua", parent={"entity_id": "p9"}),
    ]
    es.bulk(operations=[x for doc in first for x in ({"create": {"_index": EVENTS}}, doc)], refresh=True)
    es.indices.rollover(alias=EVENTS)
    es.bulk(operations=[x for doc in second for x in ({"create": {"_index": EVENTS}}, doc)], refresh=True)


def test_info_carries_product_header_and_version(es: Elasticsearch, server: EsTestServer) -> None:
    """The client accepts the server as Elasticsearch 9 (product header) and HEAD / pings."""
    info = es.info()
    assert info["version"]["number"].startswith("9.")
    assert info["tagline"] == "You Know, for Search"
    assert es.ping()
    assert es.cluster.health()["status"] == "green"
    assert "compatible-with=9" in server.requests[0].headers["accept"]


def test_template_priority_equal_to_builtin_logs_is_refused(es: Elasticsearch) -> None:
    """A logs-* template at the built-in priority 100 is refused; a higher one is stored."""
    with pytest.raises(BadRequestError) as refused:
        _alerts_template(es, priority=100)
    assert refused.value.error == "illegal_argument_exception"
    assert "matching patterns from existing templates [logs]" in refused.value.body["error"]["reason"]
    _alerts_template(es)
    assert es.indices.exists_index_template(name="hunter-alerts")
    stored = es.indices.get_index_template(name="hunter-alerts")["index_templates"][0]["index_template"]
    assert stored["priority"] == 200
    assert stored["data_stream"] == {"hidden": False, "allow_custom_routing": False}
    with pytest.raises(NotFoundError):
        es.indices.get_index_template(name="nope")


def test_bulk_create_conflicts_and_rollover_duplicates(es: Elasticsearch) -> None:
    """_bulk create refuses a duplicate _id (409) but, after a rollover, lands it in the new backing index."""
    _alerts_template(es)
    es.indices.create_data_stream(name=ALERTS)
    doc = {"@timestamp": "2024-05-01T10:00:00Z", "message": "lua"}
    ops: list[dict[str, Any]] = [{"create": {"_index": ALERTS, "_id": "a1"}}, doc] * 2
    result = es.bulk(operations=ops, refresh=True)
    assert result["errors"] is True
    created, duplicate = (item["create"] for item in result["items"])
    assert created["status"] == 201 and created["result"] == "created"
    assert created["_index"].startswith(f".ds-{ALERTS}-") and created["_index"].endswith("-000001")
    assert duplicate["status"] == 409
    assert duplicate["error"]["type"] == "version_conflict_engine_exception"
    assert duplicate["error"]["index"] == created["_index"]
    rolled = es.indices.rollover(alias=ALERTS)
    assert rolled["rolled_over"] and rolled["new_index"].endswith("-000002")
    again = es.bulk(operations=ops[:2], refresh=True)
    assert again["errors"] is False and again["items"][0]["create"]["_index"] == rolled["new_index"]
    hits = es.search(index=ALERTS, query={"ids": {"values": ["a1"]}})["hits"]
    assert sorted(h["_index"] for h in hits["hits"]) == [rolled["old_index"], rolled["new_index"]]
    stream = es.indices.get_data_stream(name=ALERTS)["data_streams"][0]
    assert [i["index_name"] for i in stream["indices"]] == [rolled["old_index"], rolled["new_index"]]
    assert stream["generation"] == 2 and stream["template"] == "hunter-alerts"


def test_data_stream_write_rules(es: Elasticsearch) -> None:
    """Data streams take only op_type create; a backing index takes index only with if_seq_no."""
    _alerts_template(es)
    doc = {"@timestamp": "2024-05-01T10:00:00Z", "n": 1}
    with pytest.raises(BadRequestError) as refused:
        es.index(index=ALERTS, id="x", document=doc)
    assert "only write ops with an op_type of create" in refused.value.body["error"]["reason"]
    created = es.create(index=ALERTS, id="x", document=doc)
    backing = created["_index"]
    with pytest.raises(BadRequestError):
        es.index(index=backing, id="x", document=doc)
    with pytest.raises(BadRequestError) as no_stamp:
        es.create(index=ALERTS, id="y", document={"n": 2})
    assert no_stamp.value.error == "document_parsing_exception"
    updated = es.index(
        index=backing, id="x", document={**doc, "n": 2}, if_seq_no=created["_seq_no"], if_primary_term=1
    )
    assert updated["result"] == "updated" and updated["_version"] == 2
    assert es.get(index=backing, id="x")["_source"]["n"] == 2


def test_optimistic_concurrency_conflicts(es: Elasticsearch) -> None:
    """if_seq_no/if_primary_term writes succeed on the current seq_no and 409 on a stale or missing one."""
    state = "hunter-state"
    first = es.index(index=state, id="ckpt", document={"end": "2024-05-01T10:00:00Z"}, refresh=True)
    got = es.get(index=state, id="ckpt")
    assert (got["found"], got["_seq_no"], got["_primary_term"]) == (True, first["_seq_no"], 1)
    later = {"end": "2024-05-01T11:00:00Z"}
    es.index(index=state, id="ckpt", document=later, if_seq_no=got["_seq_no"], if_primary_term=1)
    with pytest.raises(ConflictError) as stale:
        es.index(index=state, id="ckpt", document=later, if_seq_no=got["_seq_no"], if_primary_term=1)
    assert stale.value.error == "version_conflict_engine_exception"
    assert "current document has seqNo [1]" in stale.value.body["error"]["reason"]
    with pytest.raises(ConflictError):
        es.index(index="hunter-state", id="none", document={}, if_seq_no=0, if_primary_term=1)
    with pytest.raises(ConflictError):
        es.create(index="hunter-state", id="ckpt", document={})
    with pytest.raises(NotFoundError):
        es.get(index="hunter-state", id="missing")


def test_index_resolution_errors_and_options(es: Elasticsearch) -> None:
    """Unknown indices give 404 index_not_found_exception unless ignore_unavailable/allow_no_indices allow."""
    es.index(index="events-a", id="1", document={"n": 1}, refresh=True)
    with pytest.raises(NotFoundError) as missing:
        es.search(index="events-a,nope")
    assert missing.value.error == "index_not_found_exception"
    assert missing.value.body["error"]["resource.id"] == "nope"
    assert es.search(index="events-a,nope", ignore_unavailable=True)["hits"]["total"]["value"] == 1
    assert es.search(index="nothing-*")["hits"]["hits"] == []
    with pytest.raises(NotFoundError):
        es.search(index="nothing-*", allow_no_indices=False)
    assert es.search(index="events-*,-events-a")["hits"]["hits"] == []
    assert es.indices.exists(index="events-a") and not es.indices.exists(index="nope")


def test_search_query_sort_and_source(es: Elasticsearch) -> None:
    """Query DSL, sort, _source filtering and lte rounding behave as Elasticsearch's."""
    es.indices.create(
        index="ev", mappings={"properties": {"ts": {"type": "date"}, "tag": {"type": "keyword"}}}
    )
    docs = [
        ("1", "2024-05-01T10:00:00.400Z", "a"),
        ("2", "2024-05-01T10:00:01Z", "b"),
        ("3", "2024-05-02", "a"),
    ]
    for doc_id, ts, tag in docs:
        es.index(index="ev", id=doc_id, document={"ts": ts, "tag": tag, "extra": {"x": 1, "y": 2}})
    es.indices.refresh(index="ev")
    result = es.search(
        index="ev",
        query={
            "bool": {"filter": [{"range": {"ts": {"lte": "2024-05-01T10:00:00Z"}}}, {"term": {"tag": "a"}}]}
        },
    )
    assert [h["_id"] for h in result["hits"]["hits"]] == ["1"]  # lte fills the missing milliseconds
    ordered = es.search(index="ev", sort=[{"ts": "desc"}], source_includes=["extra.x"], size=2)
    assert [h["_id"] for h in ordered["hits"]["hits"]] == ["3", "2"]
    assert ordered["hits"]["hits"][0]["_source"] == {"extra": {"x": 1}}
    assert ordered["hits"]["hits"][0]["sort"] == [1714608000000]
    after = es.search(index="ev", sort=[{"ts": "desc"}], search_after=ordered["hits"]["hits"][1]["sort"])
    assert [h["_id"] for h in after["hits"]["hits"]] == ["1"]
    assert es.count(index="ev", query={"exists": {"field": "extra"}})["count"] == 3
    with pytest.raises(BadRequestError) as malformed:
        es.index(index="ev", id="4", document={"ts": "not a date"})
    assert malformed.value.error == "document_parsing_exception"


def test_field_caps_reports_types_and_unmapped(es: Elasticsearch) -> None:
    """field_caps reports per-type capabilities across indices, with include_unmapped and wildcards."""
    es.index(index="caps-a", id="1", document={"process": {"name": "lua", "pid": 5}})
    es.indices.create(
        index="caps-b", mappings={"properties": {"process": {"properties": {"pid": {"type": "keyword"}}}}}
    )
    caps = es.field_caps(index="caps-*", fields="process.*")
    assert caps["indices"] == ["caps-a", "caps-b"]
    pid = caps["fields"]["process.pid"]
    assert pid["long"] == {
        "type": "long",
        "metadata_field": False,
        "searchable": True,
        "aggregatable": True,
        "indices": ["caps-a"],
    }
    assert pid["keyword"]["indices"] == ["caps-b"]
    assert caps["fields"]["process.name"]["text"]["aggregatable"] is False
    assert "indices" not in caps["fields"]["process.name"]["text"]
    unmapped = es.field_caps(index="caps-*", fields="process.name", include_unmapped=True)
    assert unmapped["fields"]["process.name"]["unmapped"]["indices"] == ["caps-b"]


def test_eql_event_and_sequence_queries_with_range_filter(es: Elasticsearch, server: EsTestServer) -> None:
    """EQL event and sequence queries run over every backing index, after the range filter."""
    _load_events(es)
    window = {"range": {"@timestamp": {"gte": "2024-05-01T10:00:00Z", "lte": "2024-05-01T10:30:00Z"}}}
    events = es.eql.search(
        index="logs-endpoint.*", query='process where process.name == "lua"', filter=window
    )
    assert (events["is_partial"], events["is_running"], events["timed_out"]) == (False, False, False)
    assert [e["_source"]["process"]["entity_id"] for e in events["hits"]["events"]] == ["p2"]
    assert events["hits"]["total"] == {"value": 1, "relation": "eq"}
    sequence = (
        'sequence with maxspan=1m [process where process.name == "lua"] by process.entity_id '
        "[process where true] by process.parent.entity_id"
    )
    found = es.eql.search(index=EVENTS, query=sequence, filter=window, size=5)
    (seq,) = found["hits"]["sequences"]
    assert seq["join_keys"] == ["p2"]
    assert [e["_index"][-6:] for e in seq["events"]] == ["000001", "000002"]
    sent = server.requests_to(r"/_eql/search$")[-1]
    assert sent.body["filter"] == window and sent.body["size"] == 5


def test_eql_errors_map_to_client_exceptions(es: Elasticsearch) -> None:
    """EQL syntax and semantic errors are 400s with ES's types; an unknown index is a 404."""
    _load_events(es)
    with pytest.raises(BadRequestError) as syntax:
        es.eql.search(index=EVENTS, query="process where process.name == 'lua'")
    assert syntax.value.error == "parsing_exception"
    assert syntax.value.body["error"]["reason"].startswith("line 1:")
    with pytest.raises(BadRequestError) as semantic:
        es.eql.search(index=EVENTS, query="process where nosuch.field == 1")
    assert semantic.value.error == "verification_exception"
    assert semantic.value.body["error"]["reason"].startswith("Found 1 problem\nline 1:15: ")
    with pytest.raises(NotFoundError) as missing:
        es.eql.search(index="nope-*", query="process where true")
    assert missing.value.error == "index_not_found_exception"


def test_fault_status_errors_and_retry_after(server: EsTestServer, es: Elasticsearch) -> None:
    """Injected 503/429/500 surface as ApiError with ES error bodies and Retry-After; faults run in order."""
    server.faults.error(503, path_regex=r"/_eql/search$")
    server.faults.rejected(path_regex=r"/_eql/search$", retry_after=7)
    server.faults.error(500, path_regex=r"/_eql/search$", error_type="null_pointer_exception")
    statuses = []
    for _ in range(3):
        with pytest.raises(ApiError) as failed:
            es.eql.search(index="any", query="process where true")
        statuses.append(
            (failed.value.status_code, failed.value.error, failed.value.meta.headers.get("retry-after"))
        )
    assert statuses == [
        (503, "cluster_block_exception", None),
        (429, "es_rejected_execution_exception", "7"),
        (500, "null_pointer_exception", None),
    ]
    assert failed.value.body["status"] == 500
    assert server.faults.pending() == []


def test_client_retries_injected_503_then_succeeds(server: EsTestServer) -> None:
    """The 9.x client retries a 503 by itself; the request log shows both attempts."""
    server.faults.error(503, path_regex=r"^/$", method="GET")
    with Elasticsearch(hosts=[server.url], request_timeout=5, max_retries=2) as es:
        assert es.info()["cluster_name"] == "hunter-test"
    assert len(server.requests_to(r"^/$", "GET")) == 2


def test_fault_delay_beyond_timeout_raises_connection_timeout(server: EsTestServer) -> None:
    """An answer later than request_timeout gives ConnectionTimeout though the write was applied."""
    server.faults.slow(0.6, path_regex=r"/_doc/")
    with Elasticsearch(hosts=[server.url], request_timeout=0.2, max_retries=0) as es:
        started = time.monotonic()
        with pytest.raises(ConnectionTimeout):
            es.index(index="slow", id="1", document={"n": 1})
        assert time.monotonic() - started < 0.55
    with Elasticsearch(hosts=[server.url], request_timeout=5, max_retries=0) as es:
        assert es.get(index="slow", id="1")["found"]


def test_fault_drop_connection_raises_connection_error(server: EsTestServer, es: Elasticsearch) -> None:
    """A closed connection with no answer gives ConnectionError; the next request is served."""
    server.faults.drop(path_regex=r"/_search$")
    with pytest.raises(ConnectionError):
        es.search(index="*")
    assert es.search(index="*")["hits"]["hits"] == []


def test_stop_refuses_connections_and_restart_keeps_data(server: EsTestServer, es: Elasticsearch) -> None:
    """stop() makes clients see connection refused; start() serves the same data on the same port."""
    es.index(index="keep", id="1", document={"n": 1})
    port = server.port
    server.stop()
    with pytest.raises(ConnectionError):
        es.get(index="keep", id="1")
    server.start()
    assert server.port == port
    assert es.get(index="keep", id="1")["_source"] == {"n": 1}


def test_partial_bulk_failures(server: EsTestServer, es: Elasticsearch) -> None:
    """Chosen _bulk items fail with the given status and type; the others are applied."""
    server.faults.bulk_failures(
        {1: (429, "es_rejected_execution_exception"), 2: (400, "mapper_parsing_exception")}
    )
    ops: list[dict[str, Any]] = []
    for n in range(4):
        ops += [{"create": {"_index": "bulk", "_id": str(n)}}, {"n": n}]
    result = es.bulk(operations=ops, refresh=True)
    items = [item["create"] for item in result["items"]]
    assert result["errors"] is True
    assert [item["status"] for item in items] == [201, 429, 400, 201]
    assert items[1]["error"]["type"] == "es_rejected_execution_exception"
    assert items[2]["error"]["type"] == "mapper_parsing_exception"
    assert sorted(h["_id"] for h in es.search(index="bulk")["hits"]["hits"]) == ["0", "3"]


def test_eql_shard_failures(server: EsTestServer, es: Elasticsearch) -> None:
    """Failed shards: other indices' events plus shard_failures, no sequences by default, 503 if refused."""
    _load_events(es)
    server.faults.eql_shard_failures(["*-000001"], times=3)
    events = es.eql.search(index=EVENTS, query='process where process.name == "lua"')
    assert events["is_partial"] is False
    assert [e["_source"]["process"]["entity_id"] for e in events["hits"]["events"]] == ["p4"]
    (failure,) = events["shard_failures"]
    assert (
        failure["index"].endswith("-000001")
        and failure["reason"]["type"] == "no_shard_available_action_exception"
    )
    sequences = es.eql.search(index=EVENTS, query="sequence [process where true] [process where true]")
    assert sequences["hits"]["sequences"] == [] and sequences["shard_failures"]
    with pytest.raises(ApiError) as refused:
        es.eql.search(index=EVENTS, query="process where true", allow_partial_search_results=False)
    assert (refused.value.status_code, refused.value.error) == (503, "search_phase_execution_exception")


def test_auto_refresh_off_hides_unrefreshed_writes_from_search(es: Elasticsearch) -> None:
    """With auto_refresh=False writes are searchable only after a refresh; get by id is realtime."""
    with EsTestServer(auto_refresh=False) as quiet, quiet.client() as client:
        client.index(index="late", id="1", document={"n": 1})
        assert client.search(index="late")["hits"]["hits"] == []
        assert client.get(index="late", id="1")["found"]
        client.index(index="late", id="2", document={"n": 2}, refresh="wait_for")
        assert len(client.search(index="late")["hits"]["hits"]) == 2


# ---- Elasticsearch's refusals (what tests/es_rest measures, pinned here without ../shared) ---------------


def test_unknown_url_parameter_is_refused_with_a_suggestion(es: Elasticsearch) -> None:
    """A URL parameter the endpoint does not take is a 400, named with Elasticsearch's "did you mean"."""
    es.indices.create(index="idx")
    with pytest.raises(BadRequestError) as refused:
        es.perform_request("GET", "/idx/_search", params={"ignore_unavailabel": "true"})
    assert refused.value.error == "illegal_argument_exception"
    assert refused.value.body["error"]["reason"] == (
        "request [/idx/_search] contains unrecognized parameter: [ignore_unavailabel] -> did you mean "
        "[ignore_unavailable]?"
    )


def test_wrong_method_and_unknown_path_answer_plain_errors(es: Elasticsearch) -> None:
    """A known path with another method is 405 (allowed methods listed), an unknown path 400: plain text."""
    with pytest.raises(ApiError) as wrong:
        es.perform_request("GET", "/idx/_bulk")
    assert wrong.value.meta.status == 405
    assert wrong.value.body == {
        "error": "Incorrect HTTP method for uri [/idx/_bulk] and method [GET], allowed: [POST, PUT]",
        "status": 405,
    }
    with pytest.raises(BadRequestError) as unknown:
        es.perform_request("GET", "/_nothing_here/x/y")
    assert unknown.value.body["error"] == "no handler found for uri [/_nothing_here/x/y] and method [GET]"


def test_unknown_body_fields_are_refused_as_their_parsers_do(es: Elasticsearch) -> None:
    """search, eql.search, update and put index template refuse fields they do not declare."""
    _load_events(es)
    with pytest.raises(BadRequestError) as search:
        es.perform_request("POST", f"/{EVENTS}/_search", headers=JSON, body={"querry": {"match_all": {}}})
    assert search.value.error == "parsing_exception"
    assert search.value.body["error"]["reason"] == "Unknown key for a START_OBJECT in [querry]."
    with pytest.raises(BadRequestError) as eql:
        es.perform_request(
            "POST",
            f"/{EVENTS}/_eql/search",
            headers=JSON,
            body={"query": "any where true", "case_sensitive": True},
        )
    assert eql.value.error == "x_content_parse_exception"
    assert "[eql/search] unknown field [case_sensitive]" in eql.value.body["error"]["reason"]
    es.index(index="plain", id="1", document={"a": 1})
    with pytest.raises(BadRequestError) as update:
        es.perform_request("POST", "/plain/_update/1", headers=JSON, body={"dac": {"a": 2}})
    assert update.value.body["error"]["reason"].endswith(
        "[UpdateRequest] unknown field [dac] did you mean [doc]?"
    )
    with pytest.raises(BadRequestError) as template:
        es.perform_request(
            "PUT",
            "/_index_template/t",
            headers=JSON,
            body={"index_patterns": ["t-*"], "priorty": 300, "template": {}},
        )
    assert template.value.body["error"]["reason"].endswith(
        "[index_template] unknown field [priorty] did you mean [priority]?"
    )


def test_invalid_index_and_data_stream_names(es: Elasticsearch) -> None:
    """Index names and data stream names are checked with Elasticsearch's rules and messages."""
    with pytest.raises(BadRequestError) as index:
        es.indices.create(index="Upper")
    assert index.value.error == "invalid_index_name_exception"
    assert index.value.body["error"]["reason"] == "Invalid index name [Upper], must be lowercase"
    es.indices.put_index_template(name="ds", index_patterns=["bad*"], data_stream={}, priority=300)
    with pytest.raises(BadRequestError) as stream:
        es.indices.create_data_stream(name="bad#name")
    assert stream.value.error == "illegal_argument_exception"
    assert stream.value.body["error"]["reason"] == "data_stream [bad#name] must not contain '#'"


def test_external_versions_and_versioned_reads(es: Elasticsearch) -> None:
    """external versions must grow, external_gte may repeat; a read at another version is a 409."""
    es.index(index="v", id="1", document={"a": 1}, version=5, version_type="external")
    with pytest.raises(ConflictError) as stale:
        es.index(index="v", id="1", document={"a": 2}, version=5, version_type="external")
    assert (
        "current version [5] is higher or equal to the one provided [5]"
        in stale.value.body["error"]["reason"]
    )
    assert (
        es.index(index="v", id="1", document={"a": 3}, version=5, version_type="external_gte")["_version"]
        == 5
    )
    with pytest.raises(ConflictError):
        es.get(index="v", id="1", version=4)


def test_routing_decides_the_shard_a_read_looks_in(es: Elasticsearch) -> None:
    """With several shards a document indexed with routing is found only with that routing."""
    es.indices.create(index="r", settings={"number_of_shards": 5, "number_of_routing_shards": 5})
    es.index(index="r", id="1", routing="5", document={"a": 1})
    assert es.get(index="r", id="1", routing="5")["_routing"] == "5"
    with pytest.raises(NotFoundError):
        es.get(index="r", id="1")


def test_eql_runtime_field_script_failure_fails_only_that_index(es: Elasticsearch) -> None:
    """A runtime field whose script throws fails its index's shard; the other index still answers."""
    for name, script in (
        ("good", "emit(doc['user'].value)"),
        ("rebel", "throw new IllegalArgumentException('no')"),
    ):
        es.indices.create(
            index=name,
            mappings={
                "properties": {"user": {"type": "keyword"}},
                "runtime": {"who": {"type": "keyword", "script": script}},
            },
        )
        es.index(
            index=name,
            id="1",
            refresh=True,
            document={"@timestamp": "2024-05-01T10:00:00Z", "event": {"category": "process"}, "user": "a"},
        )
    result = es.eql.search(index="good,rebel", query='process where who == "a"')
    assert [e["_index"] for e in result["hits"]["events"]] == ["good"]
    failure = result["shard_failures"][0]
    assert failure["index"] == "rebel"
    assert failure["reason"]["caused_by"] == {"type": "illegal_argument_exception", "reason": "no"}


def test_logs_data_streams_are_logsdb_and_keep_arrays(es: Elasticsearch) -> None:
    """A logs-*-* data stream is in logsdb mode (synthetic _source keeping arrays as sent), a missing
    @timestamp is set by logs@default-pipeline, and dotted names come back as objects."""
    es.index(index="logs-app-default", document={"tags": ["b", "a", "b"], "host.name": "h1"}, refresh=True)
    stream = es.indices.get_data_stream(name="logs-app-default")["data_streams"][0]
    assert stream["index_mode"] == "logsdb"
    source = es.search(index="logs-app-default")["hits"]["hits"][0]["_source"]
    assert source["tags"] == ["b", "a", "b"]
    assert source["host"] == {"name": "h1"}
    assert "@timestamp" in source
