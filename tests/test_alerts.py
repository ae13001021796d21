"""Alert documents: sandboxed rendering, valid ECS outside hunter.*, the alert's own event.*, the contract."""

from __future__ import annotations

import copy
import dataclasses
import ipaddress
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from hunter.alerts import (
    ARRAY_FIELDS,
    EVIDENCE_CHARS,
    EVIDENCE_FIELDS,
    EVIDENCE_ITEMS,
    EVIDENCE_SETS,
    MAX_MEMBER_EVENTS,
    MEMBER_BUDGET,
    MEMBER_CHARS,
    MEMBER_FIELDS,
    MEMBER_ITEMS,
    SUBJECT_FIELDS,
    AlertRenderer,
    AlertRenderError,
    _bounded,
    _drop_empty,
    _values_of,
    evidence_section,
    member_evidence,
    merge_into,
    subject_sections,
)
from hunter.config import SearchSettings
from hunter.dedup import Finding, findings
from hunter.eql.fields import make_getter
from hunter.hunts import Hunt, load_hunt
from hunter.results import Event, Match, QueryResult
from hunter.search.local import EventFiles, LocalSearcher
from hunter.store.elasticsearch import alert_mappings
from tests.conftest import (
    HUNT_ID,
    OS_EXECUTE_LUA,
    SAMPLES,
    SHARED,
    TEMPLATES,
    lua_exec,
    ns,
    utc,
)

ECS_FLAT = SHARED / "telemetry" / "ecs_flat.yml"
CREATED = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
T = utc("2026-11-20T10:00:00Z")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
STRING_TYPES = {"keyword", "wildcard", "match_only_text", "constant_keyword", "text"}
INTEGER_TYPES = {"long", "integer", "short", "byte", "unsigned_long"}
NUMBER_TYPES = {"float", "scaled_float", "double", "half_float"}
OPEN_TYPES = {"object", "nested", "flattened"}
MEMBER_SECTIONS = {name.split(".")[0] for name in MEMBER_FIELDS}


@pytest.fixture(scope="module")
def ecs() -> dict[str, Any]:
    """ECS field definitions from ../shared/telemetry/ecs_flat.yml (read in place)."""
    if not ECS_FLAT.is_file():
        pytest.skip("../shared/telemetry/ecs_flat.yml is not present")
    with ECS_FLAT.open(encoding="utf-8") as handle:
        data = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def renderer() -> AlertRenderer:
    """The renderer over the repository's templates/."""
    return AlertRenderer(TEMPLATES)


def render(renderer: AlertRenderer, hunt: Hunt, finding: Finding) -> dict[str, Any]:
    """A finding's alert document as the runner renders a new one."""
    return renderer.render(hunt, finding, window=None, created=CREATED, now=CREATED)


@pytest.fixture(scope="module")
def sample_alerts(renderer: AlertRenderer, lua_hunt: Hunt) -> list[dict[str, Any]]:
    """The four alert documents of samples/events."""
    results = LocalSearcher(EventFiles([SAMPLES]), SearchSettings()).search(lua_hunt, None)
    return [render(renderer, lua_hunt, finding) for finding in findings(lua_hunt, results)]


def leaves(document: dict[str, Any], ecs: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted name, value) of each field, stopping at ECS object/nested/flattened fields."""
    for key, value in document.items():
        name = f"{prefix}.{key}" if prefix else key
        open_field = name in ecs and ecs[name]["type"] in OPEN_TYPES
        if isinstance(value, dict) and not open_field:
            yield from leaves(value, ecs, name)
        else:
            yield name, value


def compatible(kind: str, value: Any) -> bool:
    """Does a JSON value fit an ECS field type?"""
    if isinstance(value, list):
        return all(compatible(kind, item) for item in value)
    if kind in STRING_TYPES:
        return isinstance(value, str)
    if kind in INTEGER_TYPES:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind in NUMBER_TYPES:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "date":
        return isinstance(value, str) and ISO_DATE.match(value) is not None
    if kind == "ip":
        try:
            ipaddress.ip_address(value)
        except (TypeError, ValueError):
            return False
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in OPEN_TYPES:
        return isinstance(value, dict)
    return False


def ecs_problems(document: dict[str, Any], ecs: dict[str, Any]) -> list[str]:
    """Fields outside hunter.* that ECS does not define, or whose value does not fit the ECS type."""
    problems = []
    for name, value in leaves(document, ecs):
        if name == "hunter" or name.startswith("hunter."):
            continue
        if name not in ecs:
            problems.append(f"{name}: not an ECS field")
        elif not compatible(ecs[name]["type"], value):
            problems.append(f"{name}: {value!r} is not a valid {ecs[name]['type']}")
    return problems


def lua_finding(hunt: Hunt, *hits: dict[str, Any], query: str = "fallback") -> Finding:
    """The one finding of single-event matches of ``hits``."""
    events = [
        Event(hit["_index"], hit["_id"], hit["_source"], ns(utc(hit["_source"]["@timestamp"])))
        for hit in hits
    ]
    (finding,) = findings(hunt, [QueryResult(query, [Match(query, (e,)) for e in events])])
    return finding


def test_the_renderer_is_sandboxed_and_strict(renderer: AlertRenderer) -> None:
    """Templates run in Jinja2's SandboxedEnvironment with StrictUndefined."""
    assert isinstance(renderer.environment, SandboxedEnvironment)
    assert renderer.environment.undefined is StrictUndefined


def test_every_sample_alert_is_valid_ecs(sample_alerts: list[dict[str, Any]], ecs: dict[str, Any]) -> None:
    """Every field outside hunter.* is an ECS field with a value of a compatible type."""
    assert len(sample_alerts) == 4
    for document in sample_alerts:
        assert ecs_problems(document, ecs) == []


def test_the_ecs_check_catches_bad_documents(ecs: dict[str, Any]) -> None:
    """The ECS check itself fails on an unknown field and on a wrongly typed value."""
    bad = {"process": {"pid": "48377", "colour": "red"}, "host": {"ip": ["not-an-ip"]}, "hunter": {"x": 1}}
    assert sorted(ecs_problems(bad, ecs)) == [
        "host.ip: ['not-an-ip'] is not a valid ip",
        "process.colour: not an ECS field",
        "process.pid: '48377' is not a valid long",
    ]


def test_alert_event_fields_describe_the_alert(sample_alerts: list[dict[str, Any]]) -> None:
    """event.kind alert, category intrusion_detection, type info: never the anchor's process start."""
    for document in sample_alerts:
        event = document["event"]
        assert event["kind"] == "alert"
        assert event["category"] == ["intrusion_detection"]
        assert event["type"] == ["info"]
        assert "process" not in event["category"]
        assert "start" not in event["type"]
        assert event["id"] == document["hunter"]["alert_id"]


def test_contract_fields_are_present(sample_alerts: list[dict[str, Any]]) -> None:
    """hunter.hunt.id, sorted hunter.queries, hunter.events refs, first_seen <= last_seen on every alert."""
    for document in sample_alerts:
        hunter = document["hunter"]
        assert hunter["hunt"]["id"] == HUNT_ID
        assert hunter["queries"] == sorted(hunter["queries"])
        assert hunter["queries"]
        assert hunter["events"]
        for ref in hunter["events"]:
            assert {"_index", "_id", "@timestamp", "event"} <= set(ref)
            assert set(ref) - {"_index", "_id", "@timestamp", "truncated"} <= MEMBER_SECTIONS
            assert "category" in ref["event"]
            assert isinstance(ref["event"]["category"], list)
            assert ISO_DATE.match(ref["@timestamp"])
        assert ISO_DATE.match(hunter["first_seen"])
        assert ISO_DATE.match(hunter["last_seen"])
        assert utc(hunter["first_seen"]) <= utc(hunter["last_seen"])
        assert document["@timestamp"] == hunter["first_seen"]


def test_os_execute_alert_describes_lua(sample_alerts: list[dict[str, Any]]) -> None:
    """The os-execute alert: Lua's process fields, both queries, its three member events in time order."""
    (document,) = [d for d in sample_alerts if d["process"].get("entity_id") == OS_EXECUTE_LUA]
    assert document["hunter"]["queries"] == ["fallback", "sequence"]
    assert document["process"]["name"] == "lua5.4"
    assert document["process"]["executable"] == "/usr/bin/lua5.4"
    assert document["host"]["name"] == "dev-ubuntu-14"
    assert document["user"]["name"] == "dana"
    assert [ref["_id"] for ref in document["hunter"]["events"]] == [
        "Oq3L1FOtjHjj4EfCngyu",
        "cRnL1FOtjHjj4EfCngyu",
        "E4jL1FOtjHjj4EfCngyu",
    ]
    assert [ref["event"]["category"] for ref in document["hunter"]["events"]] == [
        ["process"],
        ["process"],
        ["file"],
    ]
    assert document["hunter"]["first_seen"] == "2026-11-20T09:14:03.335756700Z"
    assert document["hunter"]["last_seen"] == "2026-11-20T09:14:03.929656700Z"
    assert "lua5.4" in document["message"]
    assert "dev-ubuntu-14" in document["message"]
    assert document["rule"]["id"] == HUNT_ID
    assert document["threat"]["technique"]["subtechnique"]["id"] == ["T1059.011"]


def test_template_syntax_in_event_data_stays_verbatim(renderer: AlertRenderer, lua_hunt: Hunt) -> None:
    """A process argument containing '{{ 7*7 }}' (or '{% ... %}') appears verbatim, never evaluated."""
    payload = "os.execute('{{ 7*7 }}') -- {% if true %}x{% endif %} {{ config }}"
    hit = lua_exec(T, doc_id="t", args=["lua5.4", "-e", payload], name="lua5.4 {{ 7*7 }}")
    document = render(renderer, lua_hunt, lua_finding(lua_hunt, hit))
    assert document["process"]["args"] == ["lua5.4", "-e", payload]
    assert document["process"]["command_line"] == f"lua5.4 -e {payload}"
    assert document["process"]["name"] == "lua5.4 {{ 7*7 }}"
    assert "lua5.4 {{ 7*7 }}" in document["message"]
    assert "49" not in document["message"]


def test_json_special_characters_in_event_data_keep_the_document_valid(
    renderer: AlertRenderer, lua_hunt: Hunt
) -> None:
    """Quotes, backslashes, newlines and non-ASCII in event data round-trip exactly."""
    payload = 'os.execute("a\\\\b\n\t\\"}]") -- ü ☃ \u202e'
    hit = lua_exec(T, doc_id="q", args=["lua5.4", "-e", payload])
    document = render(renderer, lua_hunt, lua_finding(lua_hunt, hit))
    assert document["process"]["args"][2] == payload


def test_undefined_template_variable_is_an_error(tmp_path: Path, lua_hunt: Hunt) -> None:
    """StrictUndefined: a template naming a missing value fails to render instead of writing ''."""
    (tmp_path / "alert.json.j2").write_text('{"x": {{ alert.no_such_value | tojson }}}', encoding="utf-8")
    broken = AlertRenderer(tmp_path)
    with pytest.raises(AlertRenderError, match="no_such_value"):
        render(broken, lua_hunt, lua_finding(lua_hunt, lua_exec(T, doc_id="u")))


def test_sandbox_blocks_unsafe_attribute_access(tmp_path: Path, lua_hunt: Hunt) -> None:
    """A template reaching for Python internals fails in the sandbox."""
    (tmp_path / "alert.json.j2").write_text(
        '{"x": {{ hunt.id.__class__.__mro__[1].__subclasses__() | length }}}', encoding="utf-8"
    )
    with pytest.raises(AlertRenderError):
        render(AlertRenderer(tmp_path), lua_hunt, lua_finding(lua_hunt, lua_exec(T, doc_id="s")))


def test_template_output_must_be_a_json_object(tmp_path: Path, lua_hunt: Hunt) -> None:
    """A template that renders something other than a JSON object is refused."""
    (tmp_path / "alert.json.j2").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(AlertRenderError, match="not an object"):
        render(AlertRenderer(tmp_path), lua_hunt, lua_finding(lua_hunt, lua_exec(T, doc_id="j")))


def test_missing_template_is_an_error(tmp_path: Path) -> None:
    """A templates folder without alert.json.j2 fails when the renderer is built."""
    with pytest.raises(AlertRenderError):
        AlertRenderer(tmp_path)


def test_values_are_coerced_to_ecs_types(
    renderer: AlertRenderer, lua_hunt: Hunt, ecs: dict[str, Any]
) -> None:
    """A numeric string pid becomes a long; a host.ip that is not an IP is dropped, not copied."""
    hit = lua_exec(T, doc_id="c")
    hit["_source"]["process"]["pid"] = "48377"
    hit["_source"]["host"]["ip"] = ["10.0.0.1", "not-an-ip"]
    document = render(renderer, lua_hunt, lua_finding(lua_hunt, hit))
    assert document["process"]["pid"] == 48377
    assert document["host"]["ip"] == ["10.0.0.1"]
    assert ecs_problems(document, ecs) == []


def test_dates_a_date_nanos_field_cannot_hold_are_left_out(renderer: AlertRenderer, lua_hunt: Hunt) -> None:
    """A parent start of 1601-01-01 (Windows' "no time") or past 2262 is dropped, and so is a number
    a long cannot hold: Elasticsearch would refuse the whole alert (date_nanos, long) and the hunt
    would fail on it run after run."""
    hit = lua_exec(T, doc_id="d")
    hit["_source"]["process"]["parent"]["start"] = "1601-01-01T00:00:00Z"
    hit["_source"]["process"]["start"] = "2300-01-01T00:00:00Z"
    hit["_source"]["file"] = {
        "path": "/tmp/x",
        "created": "1969-12-31T23:59:59Z",
        "mtime": "2026-11-20T10:00:00Z",
    }
    hit["_source"]["process"]["parent"]["pid"] = 2**64  # no long: Elasticsearch refuses it too
    hit["_source"]["process"]["args_count"] = "-9223372036854775809"
    hit["_source"]["process"]["pid"] = 2**63 - 1
    document = render(renderer, lua_hunt, lua_finding(lua_hunt, hit))
    assert "pid" not in document["process"]["parent"] and "args_count" not in document["process"]
    assert document["process"]["pid"] == 2**63 - 1
    assert "start" not in document["process"]["parent"] and "start" not in document["process"]
    assert "created" not in document["file"] and document["file"]["mtime"].startswith("2026-11-20T10:00:00")


def test_merge_unions_queries_events_and_widens_last_seen(renderer: AlertRenderer, lua_hunt: Hunt) -> None:
    """Merging a later finding of the same anchor adds its query and events and moves last_seen."""
    first = lua_finding(lua_hunt, lua_exec(T, doc_id="e1", entity_id="L"))
    stored = render(renderer, lua_hunt, first)
    later_hit = lua_exec(T.replace(minute=3), doc_id="e2", entity_id="L")
    later = lua_finding(lua_hunt, later_hit, query="sequence")
    merged, _sections, changed = merge_into(stored, later)
    assert changed
    assert merged.alert_id == first.alert_id
    assert merged.queries == {"fallback", "sequence"}
    assert {doc_id for _, doc_id in merged.events} == {"e1", "e2"}
    assert merged.first_seen_ns == first.first_seen_ns
    assert merged.last_seen_ns == later.last_seen_ns
    again, _sections, changed_again = merge_into(render(renderer, lua_hunt, merged), later)
    assert not changed_again
    assert again.queries == merged.queries


# ---- evidence ---------------------------------------------------------------------------------------

SOCKET_EVENTS = SAMPLES / "endpoint-linux-socket.ndjson"
NETWORK_HUNT = """
id = "net_4444"
name = "Connection to port 4444"
severity = "high"
description = "A process connects to 4444, Metasploit's default handler port."
[queries.connect]
query = 'network where destination.port == 4444'
"""
SEQUENCE_HUNT = """
id = "lua_then_4444"
name = "Lua, then a connection to 4444"
severity = "high"
[queries.sequence]
query = '''
sequence by process.entity_id with maxspan=1m
  [process where process.name == "lua"]
  [network where destination.port == 4444]
'''
"""


def toml_hunt(tmp_path: Path, text: str) -> Hunt:
    """A hunt loaded from TOML text."""
    path = tmp_path / "hunt.toml"
    path.write_text(text, encoding="utf-8")
    hunt, problems = load_hunt(path)
    assert hunt is not None, problems
    return hunt


def socket_alert(renderer: AlertRenderer, hunt: Hunt) -> dict[str, Any]:
    """The one alert of ``hunt`` over the LuaSocket sample (endpoint-linux-socket.ndjson)."""
    results = LocalSearcher(EventFiles([SOCKET_EVENTS]), SearchSettings()).search(hunt, None)
    (finding,) = findings(hunt, results)
    return render(renderer, hunt, finding)


def member_problems(document: dict[str, Any], ecs: dict[str, Any]) -> list[str]:
    """ECS problems of every hunter.events entry read as a document of its own (its refs aside)."""
    problems = []
    for number, entry in enumerate(document["hunter"]["events"]):
        fields = {k: v for k, v in entry.items() if k not in {"_index", "_id", "truncated"}}
        problems += [f"hunter.events[{number}].{problem}" for problem in ecs_problems(fields, ecs)]
    return problems


def test_a_network_hunt_alert_names_the_connection(
    tmp_path: Path, renderer: AlertRenderer, ecs: dict[str, Any]
) -> None:
    """`network where destination.port == 4444` yields destination.*, source.* and network.* at the
    top of the alert and in its member's entry, all valid ECS."""
    document = socket_alert(renderer, toml_hunt(tmp_path, NETWORK_HUNT))
    assert document["destination"] == {"address": "127.0.0.1", "ip": "127.0.0.1", "port": 4444}
    assert document["source"] == {"address": "127.0.0.1", "ip": "127.0.0.1", "port": 48852}
    assert document["network"] == {"direction": "egress", "transport": "tcp", "type": "ipv4"}
    (entry,) = document["hunter"]["events"]
    assert entry["_id"] == "8b67Ai6ygoEobS8H7zvT"
    assert entry["destination"]["port"] == 4444
    assert entry["event"] == {"category": ["network"], "action": "connection_attempted", "type": ["start"]}
    assert entry["process"]["name"] == "lua"
    assert "truncated" not in entry
    assert ecs_problems(document, ecs) == []
    assert member_problems(document, ecs) == []


def test_a_sequence_keeps_each_members_own_evidence(
    tmp_path: Path, renderer: AlertRenderer, ecs: dict[str, Any]
) -> None:
    """A sequence's members each keep their own fields: the exec its command line, the connection its
    destination; the top level takes destination.* from the member that has it."""
    document = socket_alert(renderer, toml_hunt(tmp_path, SEQUENCE_HUNT))
    start, connect = document["hunter"]["events"]
    assert start["event"]["action"] == "exec"
    assert start["process"]["command_line"].startswith("lua -e local socket=require('socket')")
    assert start["process"]["parent"]["name"] == "bash"
    assert "destination" not in start
    assert connect["event"]["action"] == "connection_attempted"
    assert connect["destination"] == {"address": "127.0.0.1", "ip": "127.0.0.1", "port": 4444}
    assert document["destination"]["port"] == 4444
    assert document["hunter"]["sequences"] == [[f"{e['_index']}/{e['_id']}" for e in (start, connect)]]
    assert member_problems(document, ecs) == []


def test_evidence_values_are_coerced_like_the_subject(
    renderer: AlertRenderer, lua_hunt: Hunt, ecs: dict[str, Any]
) -> None:
    """Evidence is coerced to ECS types: numeric strings become longs, bad IPs and objects are left
    out, a list in a one-value field gives its first value."""
    hit = lua_exec(T, doc_id="ev")
    hit["_source"].update(
        destination={"ip": "not-an-ip", "port": "4444", "domain": ["a.example", "b.example"]},
        dns={"resolved_ip": ["10.0.0.9", "bogus"], "answers": [{"data": "10.0.0.9"}]},
        url={"full": {"nested": "object"}, "port": "x"},
    )
    document = render(renderer, lua_hunt, lua_finding(lua_hunt, hit))
    assert document["destination"] == {"port": 4444, "domain": "a.example"}
    assert document["dns"] == {"resolved_ip": ["10.0.0.9"]}
    assert "url" not in document
    assert document["hunter"]["events"][0]["destination"] == {"port": 4444, "domain": "a.example"}
    assert ecs_problems(document, ecs) == []
    assert member_problems(document, ecs) == []


def test_member_evidence_is_bounded(renderer: AlertRenderer, lua_hunt: Hunt) -> None:
    """A member's strings are cut to MEMBER_CHARS (ending in …), its lists to MEMBER_ITEMS values, its
    evidence to MEMBER_BUDGET bytes, and the entry says so; the top level keeps more (EVIDENCE_CHARS)."""
    long_arg = "os.execute('" + "A" * 5000 + "')"
    hit = lua_exec(T, doc_id="big", args=["lua5.4", "-e", long_arg, *[f"-x{i}" for i in range(40)]])
    hit["_source"]["url"] = {"full": "https://example.test/" + "p" * 9000}
    hit["_source"]["registry"] = {"data": {"strings": ["s" * 3000] * 100}}
    hit["_source"]["dns"] = {"resolved_ip": [f"10.0.0.{n}" for n in range(40)]}
    document = render(renderer, lua_hunt, lua_finding(lua_hunt, hit))
    (entry,) = document["hunter"]["events"]
    assert entry["truncated"] is True
    evidence = {k: v for k, v in entry.items() if k not in {"_index", "_id", "@timestamp", "truncated"}}
    assert len(orjson.dumps(evidence)) <= MEMBER_BUDGET
    assert len(entry["process"]["command_line"]) == MEMBER_CHARS
    assert entry["process"]["command_line"].endswith("…")
    assert entry["dns"]["resolved_ip"] == [f"10.0.0.{n}" for n in range(MEMBER_ITEMS)]
    assert "args" not in entry["process"]  # past the budget: left out
    assert "url" not in entry
    assert entry["process"]["pid"] == 48377  # what matters most is kept first
    assert entry["event"]["action"] == "exec"
    assert len(document["url"]["full"]) == EVIDENCE_CHARS
    assert document["url"]["full"].endswith("…")
    assert len(document["registry"]["data"]["strings"]) == EVIDENCE_ITEMS
    assert document["process"]["args"][2] == long_arg  # the subject is copied whole, as before


def test_an_alert_with_many_members_stays_bounded(renderer: AlertRenderer, lua_hunt: Hunt) -> None:
    """600 members, each with long evidence: 500 entries listed, every one within its budget, the
    whole document under 1.5 MB."""
    hits = []
    for number in range(600):
        hit = lua_exec(T.replace(second=number % 60, minute=number // 60), doc_id=f"m{number:03d}")
        hit["_source"]["process"]["command_line"] = "lua " + "x" * 4000
        hit["_source"]["destination"] = {"ip": "10.0.0.1", "port": 4444, "domain": "d" * 2000}
        hits.append(hit)
    document = render(renderer, lua_hunt, lua_finding(lua_hunt, *hits))
    entries = document["hunter"]["events"]
    assert len(entries) == MAX_MEMBER_EVENTS
    assert document["hunter"]["event_count"] == 600
    assert all(entry["destination"]["port"] == 4444 for entry in entries)
    assert len(orjson.dumps(document)) < 1_500_000


def test_merging_keeps_evidence_and_adds_the_new_members(renderer: AlertRenderer, lua_hunt: Hunt) -> None:
    """A merged alert keeps its members' evidence (taken again unchanged, cut marks included), its
    top-level evidence and event.ingested, and adds the new member's evidence."""
    first_hit = lua_exec(T, doc_id="e1", entity_id="L", args=["lua5.4", "-e", "y" * 3000])
    first_hit["_source"]["destination"] = {"ip": "10.0.0.1", "port": 4444}
    stored = render(renderer, lua_hunt, lua_finding(lua_hunt, first_hit))
    stored["event"]["ingested"] = "2026-11-20T15:00:01.000001Z"  # as the store wrote it
    later_hit = lua_exec(T.replace(minute=3), doc_id="e2", entity_id="L")
    later_hit["_source"]["destination"] = {"ip": "10.0.0.2", "port": 443}
    merged, sections, changed = merge_into(stored, lua_finding(lua_hunt, later_hit, query="sequence"))
    assert changed
    document = renderer.render(lua_hunt, merged, sections=sections, window=None, created=CREATED, now=CREATED)
    old, new = document["hunter"]["events"]
    assert old == stored["hunter"]["events"][0]
    assert old["truncated"] is True
    assert new["destination"] == {"ip": "10.0.0.2", "port": 443}
    assert document["destination"] == {"ip": "10.0.0.1", "port": 4444}  # the stored alert's stays
    assert document["event"]["ingested"] == "2026-11-20T15:00:01.000001Z"
    again, again_sections, changed_again = merge_into(document, lua_finding(lua_hunt, later_hit))
    assert not changed_again
    rerendered = renderer.render(
        lua_hunt, again, sections=again_sections, window=None, created=CREATED, now=CREATED
    )
    assert rerendered["hunter"]["events"] == document["hunter"]["events"]


def test_members_past_the_listed_ones_keep_no_evidence(renderer: AlertRenderer, lua_hunt: Hunt) -> None:
    """Past the 500 listed members an alert keeps digests only: merging a 501st member changes the
    count, not the listed entries, and the member digests still know every member."""
    hits = [lua_exec(T.replace(minute=n // 60, second=n % 60), doc_id=f"d{n:03d}") for n in range(500)]
    stored = render(renderer, lua_hunt, lua_finding(lua_hunt, *hits))
    late = lua_exec(T.replace(hour=11), doc_id="late")
    late["_source"]["destination"] = {"ip": "10.9.9.9", "port": 4444}
    merged, sections, changed = merge_into(stored, lua_finding(lua_hunt, late))
    assert changed
    document = renderer.render(lua_hunt, merged, sections=sections, window=None, created=CREATED, now=CREATED)
    assert document["hunter"]["event_count"] == 501
    assert document["hunter"]["events"] == stored["hunter"]["events"]
    assert "members" in document["hunter"]
    _again, _sections, changed_again = merge_into(document, lua_finding(lua_hunt, late))
    assert not changed_again


def test_every_alert_field_is_mapped_with_its_ecs_type(ecs: dict[str, Any]) -> None:
    """The alert index template maps every subject and evidence field with the type ecs_flat.yml gives
    (date as date_nanos), and every such field is an ECS field."""
    properties = alert_mappings()["properties"]
    for name, kind in {**SUBJECT_FIELDS, **EVIDENCE_FIELDS}.items():
        assert name in ecs, name
        assert ecs[name]["type"] == kind, name
        spec: Any = properties
        for part in name.split(".")[:-1]:
            spec = spec[part]["properties"]
        mapped = spec[name.split(".")[-1]]["type"]
        assert mapped == ("date_nanos" if kind == "date" else kind), name
    for name, kind in MEMBER_FIELDS.items():
        assert ecs[name]["type"] == kind, name
    assert {name for name in ARRAY_FIELDS if "array" not in ecs[name]["normalize"]} == set()


def test_the_alert_carries_what_the_slack_notice_tells_about_the_hunt(
    renderer: AlertRenderer, lua_hunt: Hunt
) -> None:
    """The hunt's description (rule.description), notes (hunter.hunt.notes) and known false positives
    (hunter.false_positives) are in the alert, for the notice; a hunt without notes writes none."""
    document = render(renderer, lua_hunt, lua_finding(lua_hunt, lua_exec(T, doc_id="n")))
    assert lua_hunt.description and lua_hunt.notes and lua_hunt.false_positives
    assert document["rule"]["description"] == lua_hunt.description
    assert document["hunter"]["hunt"]["notes"] == lua_hunt.notes
    assert document["hunter"]["false_positives"] == list(lua_hunt.false_positives)
    quiet = dataclasses.replace(lua_hunt, notes="")
    assert (
        "notes" not in render(renderer, quiet, lua_finding(quiet, lua_exec(T, doc_id="q")))["hunter"]["hunt"]
    )


def test_dotted_top_level_keys_give_the_same_alert_as_nested_objects(
    renderer: AlertRenderer, lua_hunt: Hunt
) -> None:
    """An event whose fields are dotted top-level keys ("process.name", "destination.port") yields the
    same subject, evidence and member entry as the nested form: no field is skipped for its key's shape."""
    nested = lua_exec(T, doc_id="n")
    nested["_source"]["destination"] = {"ip": "10.1.2.3", "port": 4444}
    dotted = copy.deepcopy(nested)
    source = dotted["_source"]
    for section in ("process", "destination", "host"):
        for name, value in _flat(section, source.pop(section)).items():
            source[name] = value
    one = render(renderer, lua_hunt, lua_finding(lua_hunt, nested))
    other = render(renderer, lua_hunt, lua_finding(lua_hunt, dotted))
    for key in ("process", "host", "destination", "message"):
        assert other[key] == one[key]
    assert other["destination"] == {"ip": "10.1.2.3", "port": 4444}
    assert other["hunter"]["events"][0]["process"] == one["hunter"]["events"][0]["process"]


def _flat(prefix: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        return {prefix: value}
    out: dict[str, Any] = {}
    for key, item in value.items():
        out.update(_flat(f"{prefix}.{key}", item))
    return out


def test_html_special_characters_are_written_as_they_are(renderer: AlertRenderer, lua_hunt: Hunt) -> None:
    """The alert is JSON, not HTML: <, >, & and ' in event data come back exactly as they were."""
    payload = "os.execute('a <b> && c > /tmp/x') -- '&amp;'"
    hit = lua_exec(T, doc_id="h", args=["lua5.4", "-e", payload])
    document = render(renderer, lua_hunt, lua_finding(lua_hunt, hit))
    assert document["process"]["args"][2] == payload
    assert document["hunter"]["events"][0]["process"]["args"][2] == payload


def test_a_dict_method_name_still_goes_through_the_sandbox(tmp_path: Path, lua_hunt: Hunt) -> None:
    """Reading a key of the context is direct, but names of dict methods (``items``) and dunders are
    still the sandbox's to answer: a method is not a JSON value, a dunder chain is refused."""
    (tmp_path / "alert.json.j2").write_text(
        '{"name": {{ hunt.name | tojson }}, "x": {{ hunt.items | tojson }}}', encoding="utf-8"
    )
    with pytest.raises(AlertRenderError, match="not JSON serializable"):
        render(AlertRenderer(tmp_path), lua_hunt, lua_finding(lua_hunt, lua_exec(T, doc_id="m")))
    (tmp_path / "alert.json.j2").write_text('{"x": {{ hunt.__class__ | string | tojson }}}', encoding="utf-8")
    with pytest.raises(AlertRenderError):
        render(AlertRenderer(tmp_path), lua_hunt, lua_finding(lua_hunt, lua_exec(T, doc_id="m")))


# ---- the fields an alert reads, against a plain reading of each field ----------------------------

_SOME_FIELDS = [
    "host.name",  # keyword
    "host.ip",  # ip, a list
    "process.pid",  # long
    "process.args",  # keyword, a list
    "process.parent.name",
    "process.start",  # date
    "user.name",
    "source.ip",
    "source.port",
    "dns.question.name",
    "file.path",
    "registry.data.strings",
]
_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 70000),
    st.sampled_from(["a", "10.0.0.1", "::1", "2026-12-03T10:00:00Z", "1601-01-01T00:00:00Z", "x" * 1100]),
)


@st.composite
def _alert_events(draw: st.DrawFn) -> dict[str, Any]:
    """Events holding some of the fields an alert reads: nested, dotted or in lists of objects, one
    value or several, of the right type or not."""
    document: dict[str, Any] = {}
    for name in draw(st.lists(st.sampled_from(_SOME_FIELDS), max_size=8)):
        value: Any = draw(st.one_of(_VALUES, st.lists(_VALUES, max_size=20)))
        parts = name.split(".")
        split = draw(st.integers(1, len(parts)))  # "process.parent" + "name", ...
        head, rest = ".".join(parts[:split]), parts[split:]
        for part in reversed(rest):
            value = {part: value}
        if rest and draw(st.integers(0, 4)) == 0:
            value = [value]  # objects in a list
        document[head] = value
    return document


@given(_alert_events())
@example({"process": {"parent": {"name": "x" * 1100}, "args": "one"}, "host.ip": ["10.0.0.1", "x"]})
@example({"source": [{"port": "80"}, {"port": 81}], "dns.question": {"name": "a"}, "user.name": 7})
# a member's evidence costing exactly MEMBER_BUDGET (kept whole), and a byte more (cut)
@example({"process": {"command_line": "a" * 1000, "executable": "b" * 998}})
@example({"process": {"command_line": "a" * 1000, "executable": "b" * 999}})
@settings(max_examples=300, deadline=None)
def test_the_fields_an_alert_reads_are_those_each_fields_getter_reads(source: dict[str, Any]) -> None:
    """Subject, member evidence and evidence sets, read by one generated function per part, are what
    reading each field with its own getter gives (coerced, bounded, member budget and all)."""

    def put(target: dict[str, Any], name: str, value: Any) -> None:
        *parents, last = name.split(".")
        for part in parents:
            target = target.setdefault(part, {})
        target[last] = value

    subject: dict[str, Any] = {"host": {}, "process": {}, "user": {}}
    for name, kind in SUBJECT_FIELDS.items():
        if values := _values_of(make_getter(tuple(name.split(".")))(source), kind):
            put(subject, name, values if name in ARRAY_FIELDS else values[0])
    assert orjson.dumps(subject_sections(source)) == orjson.dumps(subject)  # key order too
    member: dict[str, Any] = {}
    used, cut = 0, False
    for name, kind in MEMBER_FIELDS.items():
        if not (values := _values_of(make_getter(tuple(name.split(".")))(source), kind)):
            continue
        value, trimmed = _bounded(name, values, MEMBER_CHARS, MEMBER_ITEMS)
        size = len(name) + len(orjson.dumps(value)) + 4
        if used + size > MEMBER_BUDGET:
            cut = True
            continue
        used, cut = used + size, cut or trimmed
        put(member, name, value)
    kept, was_cut = member_evidence(source)
    assert (orjson.dumps(kept), was_cut) == (orjson.dumps(member), cut)
    for section in EVIDENCE_SETS:
        found: dict[str, Any] = {}
        for name, kind in EVIDENCE_FIELDS.items():
            if name.startswith(section + ".") and (
                values := _values_of(make_getter(tuple(name.split(".")))(source), kind)
            ):
                put(found, name, _bounded(name, values, EVIDENCE_CHARS, EVIDENCE_ITEMS)[0])
        assert orjson.dumps(evidence_section(source, section)) == orjson.dumps(found.get(section, {}))


def _without_empties(value: Any) -> Any:
    """What dropping the template's empties means: nulls and empty objects/lists go from objects,
    nulls from lists (whose objects and lists are cleaned but kept)."""
    if isinstance(value, dict):
        cleaned = {key: _without_empties(item) for key, item in value.items() if item is not None}
        return {
            key: item for key, item in cleaned.items() if not (isinstance(item, dict | list) and not item)
        }
    if isinstance(value, list):
        return [_without_empties(item) for item in value if item is not None]
    return value


_JSON = st.recursive(
    st.one_of(st.none(), st.integers(0, 2), st.sampled_from(["", "a"]), st.booleans()),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.sampled_from("abc"), children, max_size=3)
    ),
    max_leaves=20,
)


@given(st.dictionaries(st.sampled_from("abcd"), _JSON, max_size=4))
@settings(max_examples=300)
def test_the_empties_left_by_the_template_are_dropped_in_place(document: dict[str, Any]) -> None:
    """The rendered document loses its nulls and empty objects and lists, in place."""
    expected = _without_empties(copy.deepcopy(document))
    assert _drop_empty(document) == (not expected)
    assert document == expected
