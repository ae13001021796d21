"""Kibana promote rules: what `hunter export kibana` writes, and that an alert is promoted once.

The promotion tests model a Kibana query rule as its source reads (elastic/kibana,
x-pack/solutions/security/plugins/security_solution/server/lib/detection_engine/rule_types):
every ``interval`` it searches the rule's index for the query within ``from``..``to`` on its
timestamp override (``utils/build_events_query.ts``), names each hit's alert
``sha256(_index + _id + String(_version) + "<space>:<rule id>")`` (``utils/utils.ts`` generateId,
called by ``factories/wrap_hits.ts``) and keeps the first alert of each name. The model runs over
alerts that hunter's Elasticsearch store really wrote to the ES-compatible test server, both with
the hit's real ``_version`` and without one (Kibana's search asks for none, so its id holds the
string "undefined"): whichever Kibana does, an alert is promoted once.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from hunter.cli import main
from hunter.esclient import Retrier
from hunter.hunts import Hunt, load_hunt_set
from hunter.kibana import (
    ALERTS_INDEX,
    FROM,
    GENERIC_RULE_ID,
    INTERVAL,
    export_rules,
    generic_rule,
    hunt_rule,
    hunt_rule_id,
    kql_string,
    rules_ndjson,
)
from hunter.store.elasticsearch import ElasticsearchStore
from hunter.store.sqlite import SqliteStore
from tests.conftest import QUERIES, SHARED, ns, utc
from tests.support.es_data import Sleeps, tracked
from tests.support.es_server import EsTestServer
from tests.test_deploy import RULE_IMPORT_KEYS, RULE_IMPORT_REQUIRED

T0 = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
SPACE = "default"
DETECTION_RULE = (
    SHARED / "detection-rules" / "rules" / "linux" / "defense_evasion_potential_proot_exploits.toml"
)


# ---- a model of Kibana's query rule ----------------------------------------------------------------


def kql_to_dsl(kql: str) -> dict[str, Any]:
    """The Query DSL of the KQL the promote rules use: ``and`` of ``f: "v"``, ``f: true``, ``f: *``
    and ``not f: ("a" or "b")`` (what Kibana's KQL turns them into)."""
    clauses: list[dict[str, Any]] = []
    negated: list[dict[str, Any]] = []
    for part in kql.split(" and "):
        target = negated if part.startswith("not ") else clauses
        name, _, value = part.removeprefix("not ").partition(": ")
        if value == "*":
            target.append({"exists": {"field": name}})
        elif value == "true":
            target.append({"term": {name: True}})
        elif value.startswith("("):
            values = [json.loads(item) for item in value.strip("()").split(" or ")]
            target.append({"terms": {name: values}})
        else:
            target.append({"term": {name: json.loads(value)}})
    return {"bool": {"filter": clauses, "must_not": negated}}


def generate_id(index: str, doc_id: str, version: str, rule_id: str) -> str:
    """Kibana's generateId: hex sha256 of the concatenated strings."""
    return hashlib.sha256((index + doc_id + version + rule_id).encode("utf-8")).hexdigest()


def _minutes(expression: str) -> timedelta:
    """``now-3m`` or ``1m`` as a duration."""
    return timedelta(minutes=int(re.sub(r"\D", "", expression)))


@dataclass
class KibanaRule:
    """One promote rule as Kibana runs it; ``with_version`` says whether hits carry their ``_version``."""

    rule: dict[str, Any]
    with_version: bool
    promoted: dict[str, str] = field(default_factory=dict)  # detection alert id -> hunter alert id

    def run(self, es: Elasticsearch, at: datetime) -> None:
        """One run at ``at``: search ``from``..now on event.ingested and promote what is new."""
        start = at - _minutes(self.rule["from"])
        window = {"gte": start.isoformat(), "lte": at.isoformat(), "format": "strict_date_optional_time"}
        query = kql_to_dsl(self.rule["query"])
        query["bool"]["filter"].append({"range": {"event.ingested": window}})
        es.indices.refresh(index=ALERTS_INDEX)
        hits = es.search(index=ALERTS_INDEX, query=query, size=1000, version=self.with_version)["hits"][
            "hits"
        ]
        for hit in hits:
            version = str(hit["_version"]) if self.with_version else "undefined"
            name = generate_id(hit["_index"], hit["_id"], version, f"{SPACE}:{self.rule['rule_id']}")
            self.promoted.setdefault(name, hit["_id"])


class Clock:
    """The store's write clock (epoch ns), moved by the test."""

    def __init__(self, start: datetime) -> None:
        """Start at ``start``."""
        self.now = start

    def __call__(self) -> int:
        """The current time in epoch ns."""
        return ns(self.now)


def alert_doc(alert_id: str, hunt_id: str, *, version: int = 1, created: datetime = T0) -> dict[str, Any]:
    """An alert as the renderer writes one (event.ingested is its placeholder, the run's start)."""
    stamp = (created - timedelta(minutes=10)).isoformat().replace("+00:00", "Z")
    return {
        "@timestamp": "2026-11-20T09:00:00.000000000Z",
        "message": f"alert {alert_id}",
        "event": {
            "kind": "alert",
            "id": alert_id,
            "ingested": stamp,
            "category": ["intrusion_detection"],
            "type": ["info"],
        },
        "rule": {"name": f"hunt {hunt_id}"},
        "hunter": {
            "alert_id": alert_id,
            "hunt": {"id": hunt_id},
            "version": version,
            "created": stamp,
            "first_seen": "2026-11-20T09:00:00.000000000Z",
            "last_seen": "2026-11-20T09:00:00.000000000Z",
            "queries": ["fallback"],
        },
    }


@pytest.fixture
def clock() -> Clock:
    """The store's clock, at T0."""
    return Clock(T0)


@pytest.fixture
def store(server: EsTestServer, clock: Clock) -> Iterator[ElasticsearchStore]:
    """hunter's Elasticsearch store on the test server, writing on ``clock``."""
    client = tracked(Elasticsearch(hosts=[server.url], request_timeout=5, max_retries=0))
    made = ElasticsearchStore(client, retrier=Retrier(attempts=2, sleep=Sleeps()), clock_ns=clock)
    made.ensure_setup()
    yield made


def rewrite(store: ElasticsearchStore, alert_id: str, hunt_id: str) -> None:
    """What the runner does when a finding comes again: read the alert, write it back changed."""
    stored = store.get([alert_id])[alert_id]
    changed = {**stored, "hunter": {**stored["hunter"], "version": stored["hunter"]["version"] + 1}}
    changed["hunter"]["queries"] = ["fallback", "sequence"]
    result = store.save(hunt_id, [], [changed])
    assert result.updated == (alert_id,)


def runs(rule: KibanaRule, es: Elasticsearch, first: datetime, count: int) -> None:
    """``count`` scheduled runs of ``rule``, the first at ``first``."""
    for number in range(count):
        rule.run(es, first + number * _minutes(INTERVAL))


# ---- the store's part: event.ingested and the first-write mark ---------------------------------------


def test_event_ingested_is_the_moment_of_the_first_write(store: ElasticsearchStore, clock: Clock) -> None:
    """A new alert's event.ingested is when the store wrote it (not the run's start, ten minutes
    earlier); an update keeps it and drops hunter.first_write."""
    clock.now = T0 + timedelta(seconds=7)
    store.save("h", [alert_doc("a1", "h")], [])
    written = store.get(["a1"])["a1"]
    assert written["event"]["ingested"] == "2026-11-20T15:00:07.000000Z"
    assert written["hunter"]["first_write"] is True
    clock.now = T0 + timedelta(minutes=5)
    rewrite(store, "a1", "h")
    updated = store.get(["a1"])["a1"]
    assert updated["event"]["ingested"] == "2026-11-20T15:00:07.000000Z"
    assert "first_write" not in updated["hunter"]


def test_the_sqlite_store_writes_the_same(tmp_path: Path) -> None:
    """Embedded mode stamps event.ingested and the mark the same way, so alerts look alike everywhere."""
    store = SqliteStore(tmp_path / "s.sqlite3")
    try:
        store.save("h", [alert_doc("a1", "h")], [])
        written = store.get(["a1"])["a1"]
        assert written["hunter"]["first_write"] is True
        assert written["event"]["ingested"] != alert_doc("a1", "h")["event"]["ingested"]
        assert utc(written["event"]["ingested"]) > T0 - timedelta(days=3650)
        store.save("h", [], [{**written, "hunter": {**written["hunter"], "version": 2}}])
        updated = store.get(["a1"])["a1"]
        assert "first_write" not in updated["hunter"]
        assert updated["event"]["ingested"] == written["event"]["ingested"]
    finally:
        store.close()


# ---- promoted once -----------------------------------------------------------------------------------


@pytest.mark.parametrize("with_version", [True, False], ids=["hits-with-_version", "hits-without"])
def test_an_alert_updated_inside_the_look_back_is_promoted_once(
    store: ElasticsearchStore, es: Elasticsearch, clock: Clock, lua_hunt: Hunt, with_version: bool
) -> None:
    """Created at T0, seen by the run at T0+30s, rewritten at T0+45s (a new _version), seen again by the
    runs whose look-back still covers T0: one detection alert, whatever Kibana puts in its id."""
    rule = KibanaRule(hunt_rule(lua_hunt), with_version)
    store.save(lua_hunt.id, [alert_doc("a1", lua_hunt.id)], [])
    rule.run(es, T0 + timedelta(seconds=30))
    clock.now = T0 + timedelta(seconds=45)
    rewrite(store, "a1", lua_hunt.id)
    runs(rule, es, T0 + timedelta(seconds=90), 4)
    assert list(rule.promoted.values()) == ["a1"]


def test_without_the_first_write_clause_a_versioned_id_would_promote_twice(
    store: ElasticsearchStore, es: Elasticsearch, clock: Clock, lua_hunt: Hunt
) -> None:
    """Why the clause is there: the same runs over the same writes, with the old query
    (`event.kind: "alert" and hunter.hunt.id: *`) and hits carrying _version, make two alerts."""
    old = {**hunt_rule(lua_hunt), "query": 'event.kind: "alert" and hunter.hunt.id: *'}
    rule = KibanaRule(old, with_version=True)
    store.save(lua_hunt.id, [alert_doc("a1", lua_hunt.id)], [])
    rule.run(es, T0 + timedelta(seconds=30))
    clock.now = T0 + timedelta(seconds=45)
    rewrite(store, "a1", lua_hunt.id)
    runs(rule, es, T0 + timedelta(seconds=90), 2)
    assert list(rule.promoted.values()) == ["a1", "a1"]


def test_an_alert_written_at_the_end_of_a_long_run_is_promoted(
    store: ElasticsearchStore, es: Elasticsearch, clock: Clock, lua_hunt: Hunt
) -> None:
    """A run that started 20 minutes before it wrote its alert (its hunter.created) is still promoted:
    the rule windows on the write, which the store stamps."""
    clock.now = T0 + timedelta(minutes=20)
    store.save(lua_hunt.id, [alert_doc("late", lua_hunt.id, created=T0)], [])
    rule = KibanaRule(hunt_rule(lua_hunt), with_version=True)
    rule.run(es, T0 + timedelta(minutes=21))
    assert list(rule.promoted.values()) == ["late"]


def test_an_alert_rewritten_before_any_run_saw_it_is_not_promoted(
    store: ElasticsearchStore, es: Elasticsearch, clock: Clock, lua_hunt: Hunt
) -> None:
    """The price of never twice: an alert rewritten before the rule's first run after its creation (the
    next minute) has lost its mark and stays an external alert only."""
    store.save(lua_hunt.id, [alert_doc("a1", lua_hunt.id)], [])
    clock.now = T0 + timedelta(seconds=10)
    rewrite(store, "a1", lua_hunt.id)
    rule = KibanaRule(hunt_rule(lua_hunt), with_version=True)
    runs(rule, es, T0 + timedelta(seconds=30), 3)
    assert rule.promoted == {}


def test_each_alert_is_promoted_by_exactly_one_rule(
    store: ElasticsearchStore, es: Elasticsearch, lua_hunt: Hunt
) -> None:
    """With the exported rules, a hunt's alerts are promoted by its own rule and the generic rule takes
    the alerts of hunts without one: every alert once, by one rule."""
    exported = export_rules([lua_hunt])
    store.save(lua_hunt.id, [alert_doc("lua-1", lua_hunt.id)], [])
    store.save("other", [alert_doc("other-1", "other")], [])
    models = [KibanaRule(rule, with_version=True) for rule in exported]
    for model in models:
        runs(model, es, T0 + timedelta(seconds=30), 3)
    assert [sorted(model.promoted.values()) for model in models] == [["lua-1"], ["other-1"]]


# ---- what the export writes ------------------------------------------------------------------------------


def test_a_hunt_rule_carries_the_hunts_identity_and_mitre_threat(lua_hunt: Hunt) -> None:
    """Name, description, severity, risk score, threat (Kibana's shape), tags, references and notes come
    from the hunt; the rule id is stable and is not the hunt id."""
    rule = hunt_rule(lua_hunt)
    assert rule["rule_id"] == hunt_rule_id(lua_hunt.id) == hunt_rule(lua_hunt)["rule_id"]
    assert rule["rule_id"] != lua_hunt.id
    assert (rule["name"], rule["description"]) == (lua_hunt.name, lua_hunt.description)
    assert (rule["severity"], rule["risk_score"]) == ("medium", 47)
    assert rule["threat"] == [
        {
            "framework": "MITRE ATT&CK",
            "tactic": {
                "id": "TA0002",
                "name": "Execution",
                "reference": "https://attack.mitre.org/tactics/TA0002/",
            },
            "technique": [
                {
                    "id": "T1059",
                    "name": "Command and Scripting Interpreter",
                    "reference": "https://attack.mitre.org/techniques/T1059/",
                    "subtechnique": [
                        {
                            "id": "T1059.011",
                            "name": "Lua",
                            "reference": "https://attack.mitre.org/techniques/T1059/011/",
                        }
                    ],
                }
            ],
        }
    ]
    assert (
        rule["query"]
        == f'event.kind: "alert" and hunter.first_write: true and hunter.hunt.id: "{lua_hunt.id}"'
    )
    assert {"hunter", *lua_hunt.tags} <= set(rule["tags"])
    assert rule["references"] == list(lua_hunt.references)
    assert rule["false_positives"] == list(lua_hunt.false_positives)
    assert lua_hunt.notes in rule["note"]
    assert "building_block_type" not in rule


def test_investigation_and_required_fields(lua_hunt: Hunt) -> None:
    """investigation_fields lead with who and where, then the evidence the hunt's queries name;
    required_fields are what the rule's query and timestamp read."""
    rule = hunt_rule(lua_hunt)
    fields = rule["investigation_fields"]["field_names"]
    assert fields[:4] == ["host.name", "user.name", "process.name", "process.command_line"]
    assert {"network.direction", "file.path"} <= set(fields)  # the sequence's second stage
    assert len(fields) == len(set(fields))
    assert {f["name"]: f["type"] for f in rule["required_fields"]} == {
        "event.ingested": "date_nanos",
        "event.kind": "keyword",
        "hunter.first_write": "boolean",
        "hunter.hunt.id": "keyword",
    }
    no_queries = replace(lua_hunt, queries=lua_hunt.queries[:0], id="n")
    assert hunt_rule(no_queries)["investigation_fields"]["field_names"] == fields[:7]


def test_every_rule_has_the_import_schema_keys(lua_hunt: Hunt) -> None:
    """Each exported rule carries the keys Kibana's rule import requires and none it would reject."""
    for rule in export_rules([lua_hunt, replace(lua_hunt, id="bb", building_block=True)]):
        assert set(rule) >= RULE_IMPORT_REQUIRED
        assert sorted(set(rule) - RULE_IMPORT_KEYS) == []
        assert (rule["interval"], rule["from"], rule["to"]) == (INTERVAL, FROM, "now")
        assert rule["timestamp_override"] == "event.ingested"
    building_block = hunt_rule(replace(lua_hunt, id="bb", building_block=True))
    assert building_block["building_block_type"] == "default"


def test_export_covers_enabled_hunts_and_leaves_them_out_of_the_generic_rule(lua_hunt: Hunt) -> None:
    """One rule per enabled hunt, sorted by id, then the generic rule excluding exactly those hunts."""
    hunts = [replace(lua_hunt, id="zz"), lua_hunt, replace(lua_hunt, id="off", enabled=False)]
    rules = export_rules(hunts)
    assert [r["rule_id"] for r in rules] == [hunt_rule_id(lua_hunt.id), hunt_rule_id("zz"), GENERIC_RULE_ID]
    assert rules[-1]["query"] == (
        'event.kind: "alert" and hunter.first_write: true and hunter.hunt.id: * '
        f'and not hunter.hunt.id: ("{lua_hunt.id}" or "zz")'
    )
    assert generic_rule()["query"] == 'event.kind: "alert" and hunter.first_write: true and hunter.hunt.id: *'
    assert kql_string('a"b\\c') == '"a\\"b\\\\c"'


@pytest.mark.skipif(not DETECTION_RULE.is_file(), reason="../shared/detection-rules is not present")
def test_a_detection_rules_hunt_gets_its_own_rule_id(lua_hunt: Hunt) -> None:
    """A hunt loaded from Elastic's rule keeps that rule's threat but gets a rule id of its own, so
    importing never overwrites Elastic's prebuilt rule."""
    (hunt,) = load_hunt_set([DETECTION_RULE]).hunts
    rule = hunt_rule(hunt)
    assert rule["rule_id"] != hunt.id
    assert [entry["tactic"]["id"] for entry in rule["threat"]] == [t.tactic.id for t in hunt.threat]
    assert rule["name"] == hunt.name


def test_the_cli_writes_the_rules_as_ndjson(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`hunter export kibana` writes one rule per hunt and the generic rule, to stdout or --out."""
    assert main(["export", "kibana", "--queries", str(QUERIES)]) == 0
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert [rule["rule_id"] for rule in lines][-1] == GENERIC_RULE_ID
    assert len(lines) == 2
    assert "1 hunt rule(s) and the generic rule" in err
    target = tmp_path / "rules.ndjson"
    assert main(["export", "kibana", "--queries", str(QUERIES), "--out", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == out
    assert main(["export", "kibana", "--queries", str(QUERIES), "--out", str(tmp_path / "no" / "x")]) == 2
    assert rules_ndjson(lines) == out


def test_the_rules_search_the_configured_alert_data_stream(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With another [elasticsearch] alerts_data_stream the rules search its pattern (they searched
    logs-hunter.alerts-* whatever hunter wrote to, and promoted nothing)."""
    monkeypatch.setenv("HUNTER_ELASTICSEARCH__ALERTS_DATA_STREAM", "logs-secops.hunts-prod")
    assert main(["export", "kibana", "--queries", str(QUERIES)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {tuple(rule["index"]) for rule in lines} == {("logs-secops.hunts-*",)}
