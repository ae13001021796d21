"""Dedup: one finding and one alert per (hunt, anchor process); fork records stand for their parent."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from hunter.config import SearchSettings
from hunter.dedup import Anchor, alert_id, anchor_of, findings, suppression_key
from hunter.hunts import Hunt, Suppression
from hunter.results import Event, Match, QueryResult, Window
from hunter.runner import RunSummary
from hunter.search.local import EventFiles, LocalSearcher
from tests.conftest import (
    AUDITBEAT,
    AUDITBEAT_INDEX,
    AUDITBEAT_LUA_ID,
    BENIGN,
    EGRESS,
    HUNT_ID,
    LUA_EXEC,
    LUA_FORK,
    OS_EXECUTE,
    OS_EXECUTE_HOST,
    OS_EXECUTE_LUA,
    SAMPLES,
    SOCKET,
    SOCKET_LUA,
    SYSMON,
    SYSMON_LUA,
    SYSMON_LUA_START,
    FakeClock,
    RunnerFactory,
    append_ndjson,
    lua_exec,
    lua_fork,
    notice_lines,
    ns,
    sample,
    utc,
    write_ndjson,
)

HOUR_NS = 3600 * 1_000_000_000
T = utc("2026-11-20T10:00:00Z")


def event(hit: dict[str, Any]) -> Event:
    """An Event from a hit-shaped sample document."""
    source = hit["_source"]
    return Event(hit["_index"], hit["_id"], source, ns(utc(source["@timestamp"])))


def search(hunt: Hunt, *paths: Path) -> list[QueryResult]:
    """The hunt's results over event files (all of their time)."""
    return LocalSearcher(EventFiles(list(paths)), SearchSettings()).search(hunt, None)


def single(query: str, *events: Event) -> QueryResult:
    """A query result with one single-event match per event."""
    return QueryResult(query, [Match(query, (e,)) for e in events])


def test_alert_id_is_a_sha256_hex_of_hunt_and_anchor() -> None:
    """The alert id is 64 hex digits, the same for the same (hunt, anchor), different otherwise."""
    anchor = Anchor("process", host_id="h1", entity_id="e1")
    first = alert_id(HUNT_ID, anchor)
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert alert_id(HUNT_ID, Anchor("process", host_id="h1", entity_id="e1")) == first
    others = {
        alert_id("another_hunt", anchor),
        alert_id(HUNT_ID, Anchor("process", host_id="h2", entity_id="e1")),
        alert_id(HUNT_ID, Anchor("process", host_id="h1", entity_id="e2")),
        alert_id(HUNT_ID, Anchor("event", index="h1", id="e1")),
    }
    assert first not in others
    assert len(others) == 4


def test_exec_event_anchors_on_host_and_entity_id() -> None:
    """An Endpoint exec's anchor is (host.id, process.entity_id)."""
    assert anchor_of(event(sample(LUA_EXEC))) == Anchor(
        "process", host_id=OS_EXECUTE_HOST, entity_id=OS_EXECUTE_LUA
    )


def test_fork_record_anchors_on_its_parent() -> None:
    """A fork record (event.action fork) stands for its parent: the Lua process, not its child."""
    fork = event(sample(LUA_FORK))
    assert fork.source["process"]["entity_id"] != OS_EXECUTE_LUA
    assert anchor_of(fork) == Anchor("process", host_id=OS_EXECUTE_HOST, entity_id=OS_EXECUTE_LUA)
    assert alert_id(HUNT_ID, anchor_of(fork)) == alert_id(HUNT_ID, anchor_of(event(sample(LUA_EXEC))))


def test_sysmon_anchors_on_its_process_guid() -> None:
    """A Sysmon event 1 anchors on host.id + the ProcessGuid mapped to process.entity_id."""
    anchor = anchor_of(event(sample(SYSMON_LUA_START)))
    assert anchor.kind == "process"
    assert anchor.entity_id == SYSMON_LUA


def test_auditd_without_entity_id_anchors_on_the_event(lua_hunt: Hunt) -> None:
    """An Auditbeat event (no entity id) anchors on its own (_index, _id)."""
    (finding,) = findings(lua_hunt, search(lua_hunt, SAMPLES / AUDITBEAT))
    assert finding.anchor == Anchor("event", index=AUDITBEAT_INDEX, id=AUDITBEAT_LUA_ID)
    assert finding.queries == {"fallback"}


def test_os_execute_is_one_finding_from_both_queries(lua_hunt: Hunt) -> None:
    """Exec, fork record and sequence of the os-execute sample fold into one finding about Lua."""
    (finding,) = findings(lua_hunt, search(lua_hunt, SAMPLES / OS_EXECUTE))
    assert finding.queries == {"fallback", "sequence"}
    assert finding.anchor == Anchor("process", host_id=OS_EXECUTE_HOST, entity_id=OS_EXECUTE_LUA)
    assert {doc_id for _, doc_id in finding.events} == {
        "Oq3L1FOtjHjj4EfCngyu",
        "cRnL1FOtjHjj4EfCngyu",
        "E4jL1FOtjHjj4EfCngyu",
    }
    exec_hit, write_hit = sample((OS_EXECUTE, 5)), sample((OS_EXECUTE, 8))
    assert finding.sequences == [
        ((exec_hit["_index"], exec_hit["_id"]), (write_hit["_index"], write_hit["_id"]))
    ]
    assert finding.subject_kind == "start"
    assert finding.subject["process"]["entity_id"] == OS_EXECUTE_LUA
    assert finding.first_seen_ns == ns(utc("2026-11-20T09:14:03.335756Z")) + 700
    assert finding.last_seen_ns == ns(utc("2026-11-20T09:14:03.929656Z")) + 700


def test_one_finding_per_malicious_sample_and_none_for_benign(lua_hunt: Hunt) -> None:
    """Over samples/events: socket, auditd, sysmon and os-execute are one finding each; benign none."""
    found = findings(lua_hunt, search(lua_hunt, SAMPLES))
    anchors = {f.anchor.entity_id or f.anchor.id: sorted(f.queries) for f in found}
    assert anchors == {
        OS_EXECUTE_LUA: ["fallback", "sequence"],
        SOCKET_LUA: ["fallback"],
        AUDITBEAT_LUA_ID: ["fallback"],
        SYSMON_LUA: ["fallback"],
    }
    assert findings(lua_hunt, search(lua_hunt, SAMPLES / BENIGN)) == []
    assert len(findings(lua_hunt, search(lua_hunt, SAMPLES / SOCKET))) == 1
    assert len(findings(lua_hunt, search(lua_hunt, SAMPLES / SYSMON))) == 1


def test_fork_record_alone_describes_the_parent(lua_hunt: Hunt) -> None:
    """When only the fork record matched, the finding's subject is the parent (Lua) seen through it."""
    fork = sample(LUA_FORK)
    (finding,) = findings(lua_hunt, [single("fallback", event(fork))])
    assert finding.subject_kind == "fork"
    process = finding.subject["process"]
    assert process["entity_id"] == OS_EXECUTE_LUA
    assert process["pid"] == fork["_source"]["process"]["parent"]["pid"]
    assert process["name"] == "lua5.4"


def test_two_lua_processes_are_two_findings(lua_hunt: Hunt) -> None:
    """Two Lua processes on one host are two anchors, so two findings with different alert ids."""
    first = event(lua_exec(T, doc_id="a", entity_id="A"))
    second = event(lua_exec(T + timedelta(seconds=1), doc_id="b", entity_id="B"))
    found = findings(lua_hunt, [single("fallback", first, second)])
    assert len(found) == 2
    assert found[0].alert_id != found[1].alert_id


def test_findings_are_the_same_in_every_run(lua_hunt: Hunt) -> None:
    """Searching the same events again yields the same alert ids (the dedup key survives restarts)."""
    first = [f.alert_id for f in findings(lua_hunt, search(lua_hunt, SAMPLES))]
    second = [f.alert_id for f in findings(lua_hunt, search(lua_hunt, SAMPLES))]
    assert first == second
    assert len(first) == 4


def test_suppression_key_follows_the_configured_fields(lua_hunt: Hunt) -> None:
    """Findings with equal `by` values share a suppression key; other values or no suppression differ."""
    hunt = dataclasses.replace(lua_hunt, suppression=Suppression(("host.id",), HOUR_NS))
    one = event(lua_exec(T, doc_id="a", entity_id="A"))
    two = event(lua_exec(T, doc_id="b", entity_id="B"))
    elsewhere = event(lua_exec(T, doc_id="c", entity_id="C", host_id="another-host"))
    found = {f.anchor.entity_id: f for f in findings(hunt, [single("fallback", one, two, elsewhere)])}
    keys = {name: suppression_key(hunt, f) for name, f in found.items()}
    assert keys["A"] is not None
    assert keys["B"] is not None
    assert keys["C"] is not None
    assert keys["A"][0] == keys["B"][0]
    assert keys["A"][0] != keys["C"][0]
    assert keys["A"][1] == {"host.id": OS_EXECUTE_HOST}
    assert suppression_key(lua_hunt, found["A"]) is None


def suppressed(alert: dict[str, Any]) -> tuple[int, list[str]]:
    """(count, folded alert ids) of an alert's suppression record."""
    record = alert["hunter"].get("suppressed") or {}
    return int(record.get("count") or 0), list(record.get("alert_ids") or [])


def test_suppression_folds_findings_of_one_run_into_the_first(
    make_runner: RunnerFactory, lua_hunt: Hunt, clock: FakeClock, tmp_path: Path
) -> None:
    """With suppression by host.id for 1h, three Lua processes on a host in one run are one alert, count 2."""
    hunt = dataclasses.replace(lua_hunt, suppression=Suppression(("host.id",), HOUR_NS))
    events = write_ndjson(
        tmp_path / "e.ndjson",
        [lua_exec(T + timedelta(minutes=i), doc_id=f"e{i}", entity_id=f"P{i}") for i in range(3)],
    )
    parts = make_runner([events])
    clock.set(T + timedelta(minutes=10))
    summary = parts.runner.run_hunt(hunt)
    (alert,) = parts.alerts()
    assert alert["process"]["entity_id"] == "P0"
    assert suppressed(alert)[0] == 2
    assert summary.suppressed == 2
    assert len(summary.created) == 1


def test_suppression_counts_every_later_finding_across_runs_idempotently(
    make_runner: RunnerFactory, lua_hunt: Hunt, clock: FakeClock, tmp_path: Path
) -> None:
    """Two later findings folded into a stored alert count 2; re-running the tick, or a restart, keeps 2."""
    hunt = dataclasses.replace(lua_hunt, suppression=Suppression(("host.id",), HOUR_NS))
    events = write_ndjson(tmp_path / "e.ndjson", [lua_exec(T, doc_id="a", entity_id="A")])
    state = tmp_path / "state.sqlite3"
    parts = make_runner([events], state=state)
    clock.set(T + timedelta(minutes=10))
    parts.runner.run_hunt(hunt)
    append_ndjson(
        events,
        [
            lua_exec(T + timedelta(minutes=12), doc_id="b", entity_id="B"),
            lua_exec(T + timedelta(minutes=13), doc_id="c", entity_id="C"),
        ],
    )
    clock.set(T + timedelta(minutes=20))
    parts.runner.run_hunt(hunt)
    (alert,) = parts.alerts()
    count, folded = suppressed(alert)
    assert count == 2
    assert len(folded) == 2
    assert alert["hunter"]["last_seen"].startswith("2026-11-20T10:13:00")
    parts.runner.run_hunt(hunt)
    assert suppressed(parts.alerts()[0]) == (count, folded)
    parts.store.close()
    restarted = make_runner([events], state=state)
    clock.set(T + timedelta(minutes=21))
    restarted.runner.run_hunt(hunt)
    assert [suppressed(a) for a in restarted.alerts()] == [(count, folded)]
    assert len(notice_lines(parts.notices.getvalue())) == 1
    assert notice_lines(restarted.notices.getvalue()) == []


def test_suppression_ends_after_its_duration_and_is_per_key(
    make_runner: RunnerFactory, lua_hunt: Hunt, clock: FakeClock, tmp_path: Path
) -> None:
    """A finding more than `for` after the first, or on another host, is an alert of its own."""
    hunt = dataclasses.replace(lua_hunt, suppression=Suppression(("host.id",), HOUR_NS))
    events = write_ndjson(
        tmp_path / "e.ndjson",
        [
            lua_exec(T, doc_id="a", entity_id="A"),
            lua_exec(T + timedelta(minutes=5), doc_id="x", entity_id="X", host_id="elsewhere"),
            lua_exec(T + timedelta(minutes=61), doc_id="b", entity_id="B"),
        ],
    )
    parts = make_runner([events])
    clock.set(T + timedelta(minutes=70))
    parts.runner.run_hunt(hunt)
    assert sorted(a["process"]["entity_id"] for a in parts.alerts()) == ["A", "B", "X"]
    assert all(suppressed(a)[0] == 0 for a in parts.alerts())


def test_without_suppression_every_anchor_is_an_alert(
    make_runner: RunnerFactory, lua_hunt: Hunt, clock: FakeClock, tmp_path: Path
) -> None:
    """The default (no suppress_by) gives one alert per Lua process, even on one host."""
    events = write_ndjson(
        tmp_path / "e.ndjson",
        [lua_exec(T + timedelta(minutes=i), doc_id=f"e{i}", entity_id=f"P{i}") for i in range(3)],
    )
    parts = make_runner([events])
    clock.set(T + timedelta(minutes=10))
    parts.runner.run_hunt(lua_hunt)
    assert len(parts.alerts()) == 3


def test_rerunning_a_tick_does_not_count_suppressed_findings_again(
    make_runner: RunnerFactory, lua_hunt: Hunt, clock: FakeClock, tmp_path: Path
) -> None:
    """Findings already folded in (seen again through the overlap) are not reported suppressed again."""
    hunt = dataclasses.replace(lua_hunt, suppression=Suppression(("host.id",), HOUR_NS))
    events = write_ndjson(
        tmp_path / "e.ndjson",
        [lua_exec(T + timedelta(minutes=6 + i), doc_id=f"e{i}", entity_id=f"P{i}") for i in range(3)],
    )
    parts = make_runner([events])
    clock.set(T + timedelta(minutes=10))
    first = parts.runner.run_hunt(hunt)
    assert first.suppressed == 2
    clock.set(T + timedelta(minutes=11))  # the 5-minute overlap reads all three starts again
    again = parts.runner.run_hunt(hunt)
    assert again.hits["fallback"] == 3
    (alert,) = parts.alerts()
    assert suppressed(alert)[0] == 2
    assert again.created == []
    assert again.suppressed == 0
    assert (
        parts.runner.metrics.registry.get_sample_value(
            "hunter_alerts_total", {"hunt": hunt.id, "kind": "suppressed"}
        )
        == 2
    )


def test_an_alert_first_seen_after_a_finding_does_not_suppress_it(
    make_runner: RunnerFactory, lua_hunt: Hunt, clock: FakeClock, tmp_path: Path
) -> None:
    """A backfill of 11-10 after an 11-20 alert: the 11-10 Lua process is an alert of its own (it
    was folded into the later alert: suppression had no upper bound, and the backfill lost alerts)."""
    hunt = dataclasses.replace(lua_hunt, suppression=Suppression(("host.name",), HOUR_NS))
    events = write_ndjson(
        tmp_path / "e.ndjson",
        [
            lua_exec(utc("2026-11-10T10:00:00Z"), doc_id="old", entity_id="OLD"),
            lua_exec(utc("2026-11-20T14:30:00Z"), doc_id="new", entity_id="NEW"),
        ],
    )
    parts = make_runner([events])
    clock.set(utc("2026-11-20T15:00:00Z"))
    assert len(parts.runner.run_hunt(hunt).created) == 1
    window = Window(ns(utc("2026-11-10T00:00:00Z")), ns(utc("2026-11-11T00:00:00Z")))
    summary = RunSummary(hunt.id)
    backfill = parts.runner.store_findings(
        hunt, parts.runner.searcher.search(hunt, window), window, clock.now, summary
    )
    assert len(backfill.created) == 1 and summary.suppressed == 0
    assert sorted(a["process"]["entity_id"] for a in parts.alerts()) == ["NEW", "OLD"]


def test_a_suppressed_finding_stays_suppressed_when_the_overlap_cuts_off_its_start(
    make_runner: RunnerFactory, lua_hunt: Hunt, clock: FakeClock, tmp_path: Path
) -> None:
    """E1 at 10:00 alerts, E2 at 10:09 is folded into it; a fork record of E2 (10:14) arrives late and
    a later window sees only that: E2 is still folded (not a second alert and notice, as it was when
    its first_seen moved to 10:14, out of reach of E1's 10 minutes)."""
    hunt = dataclasses.replace(
        lua_hunt, suppression=Suppression(("host.id",), 10 * 60 * 1_000_000_000), lookback_ns=0
    )
    events = write_ndjson(
        tmp_path / "e.ndjson",
        [
            lua_exec(T, doc_id="e1", entity_id="L1"),
            lua_exec(T + timedelta(minutes=9), doc_id="e2", entity_id="L2"),
        ],
    )
    parts = make_runner([events])
    clock.set(T + timedelta(minutes=12))
    first = parts.runner.run_hunt(hunt)
    assert (len(first.created), first.suppressed) == (1, 1)
    clock.set(T + timedelta(minutes=19))
    parts.runner.run_hunt(hunt)
    append_ndjson(
        events,
        [lua_fork(T + timedelta(minutes=14), doc_id="fork", parent_entity_id="L2", entity_id="C2")],
    )
    clock.set(T + timedelta(minutes=21))  # window 10:13..10:20: the fork record, not E2's exec
    late = parts.runner.run_hunt(hunt)
    assert late.hits["fallback"] == 1
    assert (late.created, late.suppressed) == ([], 0)
    (alert,) = parts.alerts()
    assert alert["process"]["entity_id"] == "L1"
    assert suppressed(alert)[0] == 1
    assert alert["hunter"]["last_seen"].startswith("2026-11-20T10:14:00")  # the fold saw the fork
    assert len(notice_lines(parts.notices.getvalue())) == 1


def test_past_the_listed_ids_re_seen_findings_are_not_counted_again(
    make_runner: RunnerFactory, lua_hunt: Hunt, clock: FakeClock, tmp_path: Path
) -> None:
    """1,005 findings folded into one alert (its id list keeps 1,000): re-seeing them in the overlap
    keeps the count at 1,004 (it grew by 4 on every run)."""
    hunt = dataclasses.replace(lua_hunt, suppression=Suppression(("host.id",), HOUR_NS))
    start = T + timedelta(minutes=4)
    events = write_ndjson(
        tmp_path / "e.ndjson",
        [lua_exec(start + timedelta(milliseconds=i), doc_id=f"e{i}", entity_id=f"P{i}") for i in range(1005)],
    )
    parts = make_runner([events])
    clock.set(T + timedelta(minutes=6))
    assert parts.runner.run_hunt(hunt).suppressed == 1004
    for minute in (7, 8):  # the overlap reads all 1,005 again
        clock.set(T + timedelta(minutes=minute))
        again = parts.runner.run_hunt(hunt)
        assert (again.hits["fallback"], again.suppressed, again.updated) == (1005, 0, 0)
    (alert,) = parts.alerts()
    count, listed = suppressed(alert)
    assert (count, len(listed)) == (1004, 1000)


def test_a_suppression_field_of_a_later_sequence_stage_keys_the_finding(
    make_runner: RunnerFactory, lua_hunt: Hunt, clock: FakeClock, tmp_path: Path
) -> None:
    """suppress_by destination.ip on the Lua sequence: the connection (stage 2) carries the field,
    not the Lua start; two processes reaching two addresses are two alerts (they were folded into
    one, keyed on a null), two reaching the same address are one."""
    hunt = dataclasses.replace(
        lua_hunt,
        suppression=Suppression(("destination.ip",), HOUR_NS),
        queries=tuple(q for q in lua_hunt.queries if q.name == "sequence"),
    )

    def connection(at: Any, doc_id: str, parent: str, address: str) -> dict[str, Any]:
        hit = sample(EGRESS)
        source = hit["_source"]
        source["@timestamp"] = at.isoformat().replace("+00:00", "Z")
        source["host"]["id"] = OS_EXECUTE_HOST
        source["process"]["entity_id"] = f"child-of-{parent}-{doc_id}"
        source["process"]["parent"]["entity_id"] = parent
        source["destination"]["ip"] = address
        hit["_id"] = doc_id
        return hit

    quiet = ["lua5.4", "/home/dana/jobs/report.lua"]
    events = write_ndjson(
        tmp_path / "e.ndjson",
        [
            lua_exec(T, doc_id="s1", entity_id="L1", args=quiet),
            connection(T + timedelta(minutes=1), "c1", "L1", "203.0.113.9"),
            lua_exec(T + timedelta(minutes=2), doc_id="s2", entity_id="L2", args=quiet),
            connection(T + timedelta(minutes=3), "c2", "L2", "198.51.100.77"),
            lua_exec(T + timedelta(minutes=4), doc_id="s3", entity_id="L3", args=quiet),
            connection(T + timedelta(minutes=5), "c3", "L3", "203.0.113.9"),
        ],
    )
    parts = make_runner([events])
    clock.set(T + timedelta(minutes=10))
    summary = parts.runner.run_hunt(hunt)
    assert (len(summary.created), summary.suppressed) == (2, 1)
    keys = sorted(alert["hunter"]["suppression"]["by"]["destination.ip"] for alert in parts.alerts())
    assert keys == ["198.51.100.77", "203.0.113.9"]
