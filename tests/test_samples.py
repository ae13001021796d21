"""The sample event files in samples/events and the benchmark event generator keep real source shapes."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
EVENTS_DIR = REPO / "samples" / "events"
ECS_FLAT = Path(__file__).resolve().parents[2] / "shared" / "telemetry" / "ecs_flat.yml"
SAMPLE_FILES = sorted(EVENTS_DIR.glob("*.ndjson"))

# Top-level names that are not ECS field sets but real vendor namespaces of the three sources.
VENDOR_TOP_LEVEL = frozenset({"winlog", "auditd", "Endpoint", "elastic", "Effective_process"})
# Vendor sub-objects inside ECS field sets (Elastic Endpoint puts its extensions under `Ext`).
VENDOR_KEYS = frozenset({"Ext"})
# Fields real sources write inside ECS field sets that ECS does not define: Beats' add_host_metadata
# (host.containerized, host.os.codename, host.os.build) and Auditbeat auditd's addUser
# (user.audit/filesystem/saved/selinux).
VENDOR_FIELDS = frozenset({"host.containerized", "host.os.codename", "host.os.build"})
VENDOR_PREFIXES = ("user.audit.", "user.filesystem.", "user.saved.", "user.selinux.")
# ECS field types whose content is free-form below the field itself.
OPEN_TYPES = frozenset({"object", "flattened", "nested"})


def _documents(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, raw JSON object) for every line of an NDJSON file."""
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            yield number, json.loads(line)


def _source(obj: dict[str, Any]) -> dict[str, Any]:
    """Return the event document of a line: the `_source` of a hit, or the line itself."""
    source = obj.get("_source", obj)
    assert isinstance(source, dict)
    return source


def _all_sources() -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (location, event document) for every event of every sample file."""
    for path in SAMPLE_FILES:
        for number, obj in _documents(path):
            yield f"{path.name}:{number}", _source(obj)


def _get(doc: dict[str, Any], dotted: str) -> Any:
    """Return the value at a dotted path of a nested document, or None."""
    current: Any = doc
    for part in dotted.split("."):
        if not isinstance(current, dict) or part not in current:
            return None
        current = current[part]
    return current


def _leaf_paths(value: Any, prefix: str = "") -> Iterator[str]:
    """Yield the dotted path of every leaf; arrays of objects contribute their objects' paths."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _leaf_paths(child, f"{prefix}.{key}" if prefix else key)
    elif isinstance(value, list) and any(isinstance(item, dict) for item in value):
        for item in value:
            yield from _leaf_paths(item, prefix)
    else:
        yield prefix


def _non_ecs_paths(doc: dict[str, Any], ecs: dict[str, Any]) -> list[str]:
    """Return the paths of a document that claim an ECS field set but are not ECS fields."""
    ecs_top = {name.split(".", 1)[0] for name in ecs}
    bad = []
    for path in _leaf_paths(doc):
        parts = path.split(".")
        if parts[0] in VENDOR_TOP_LEVEL or VENDOR_KEYS.intersection(parts):
            continue
        if path in VENDOR_FIELDS or path.startswith(VENDOR_PREFIXES):
            continue
        if parts[0] not in ecs_top:
            bad.append(path)
            continue
        prefixes = (".".join(parts[:i]) for i in range(1, len(parts)))
        if path in ecs or any(ecs.get(p, {}).get("type") in OPEN_TYPES for p in prefixes):
            continue
        bad.append(path)
    return bad


def _assert_required_fields(where: str, doc: dict[str, Any]) -> None:
    """Assert the fields every hunt and the dedup step rely on are present with their real types."""
    assert isinstance(doc.get("@timestamp"), str), where
    assert isinstance(_get(doc, "host.id"), str), where
    assert isinstance(_get(doc, "event.category"), list), where
    assert isinstance(_get(doc, "event.type"), list), where
    assert isinstance(_get(doc, "event.kind"), str), where


@pytest.fixture(scope="module")
def ecs_fields() -> dict[str, Any]:
    """The ECS flat field reference, keyed by dotted field name."""
    if not ECS_FLAT.is_file():
        pytest.skip(f"ECS field reference not available at {ECS_FLAT}")
    yaml = pytest.importorskip("yaml")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with ECS_FLAT.open(encoding="utf-8") as fh:
        fields = yaml.load(fh, Loader=loader)
    assert isinstance(fields, dict)
    return fields


@pytest.fixture(scope="module")
def gen_events() -> ModuleType:
    """The benchmark generator module, loaded from bench/gen_events.py."""
    spec = importlib.util.spec_from_file_location("gen_events", REPO / "bench" / "gen_events.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sample_files_exist() -> None:
    """samples/events holds the scenario files, at least one of them plain (non-hit) documents."""
    names = {path.name for path in SAMPLE_FILES}
    assert len(names) >= 5
    assert any(name.startswith("auditbeat-") for name in names)


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.name)
def test_every_line_is_a_json_object(path: Path) -> None:
    """Every line of every sample file is one JSON object (NDJSON, no blank lines)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines
    for number, line in enumerate(lines, start=1):
        assert isinstance(json.loads(line), dict), f"{path.name}:{number}"


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.name)
def test_a_file_holds_only_hits_or_only_plain_documents(path: Path) -> None:
    """A file holds either only Elasticsearch hits (_index, _id, _source, nothing else) or only documents."""
    objects = [obj for _, obj in _documents(path)]
    hits = [obj for obj in objects if "_source" in obj]
    if not hits:
        assert not any(key in obj for obj in objects for key in ("_index", "_id")), path.name
        return
    assert len(hits) == len(objects), path.name
    for obj in hits:
        assert set(obj) == {"_index", "_id", "_source"}, path.name
        assert isinstance(obj["_index"], str) and obj["_index"].startswith(".ds-"), path.name
        assert isinstance(obj["_id"], str) and len(obj["_id"]) == 20, path.name


def test_hit_ids_are_unique_across_all_files() -> None:
    """No two hits in samples/events share an _id, so hunter's (index, id) member lists stay unambiguous."""
    ids = Counter(obj["_id"] for path in SAMPLE_FILES for _, obj in _documents(path) if "_id" in obj)
    assert ids
    assert [i for i, n in ids.items() if n > 1] == []


def test_plain_document_lines_are_distinct() -> None:
    """Plain lines are distinct, so the sha256-of-line ids hunter assigns to them are unique too."""
    for path in SAMPLE_FILES:
        lines = path.read_text(encoding="utf-8").splitlines()
        assert len(set(lines)) == len(lines), path.name


def test_every_document_has_the_fields_hunts_rely_on() -> None:
    """Every event has @timestamp, host.id, array event.category and event.type, and event.kind."""
    for where, doc in _all_sources():
        _assert_required_fields(where, doc)


def test_every_ecs_field_set_path_is_an_ecs_field(ecs_fields: dict[str, Any]) -> None:
    """Every path under an ECS field set exists in ecs_flat.yml (vendor namespaces and Ext excepted)."""
    bad = {where: paths for where, doc in _all_sources() if (paths := _non_ecs_paths(doc, ecs_fields))}
    assert bad == {}


def test_generator_yields_the_requested_count(gen_events: ModuleType) -> None:
    """generate() yields exactly `count` events, each a document with the fields hunts rely on."""
    for count in (0, 1, 7, 2500):
        events = list(gen_events.generate(count, seed=3))
        assert len(events) == count
        for number, doc in enumerate(events):
            _assert_required_fields(f"event {number}", doc)


def test_generator_is_deterministic_for_a_seed(gen_events: ModuleType) -> None:
    """The same seed yields the same events; another seed yields different ones."""
    first = list(gen_events.generate(3000, seed=11))
    assert first == list(gen_events.generate(3000, seed=11))
    assert first != list(gen_events.generate(3000, seed=12))


def test_generator_events_are_independent(gen_events: ModuleType) -> None:
    """Mutating one emitted event never changes another (no shared nested objects)."""
    events = list(gen_events.generate(400, seed=5))
    snapshot = json.dumps(events[1:], sort_keys=True)
    first = events[0]
    first["host"]["name"] = "mutated"
    first["event"]["category"].append("mutated")
    first["agent"]["id"] = "mutated"
    assert json.dumps(events[1:], sort_keys=True) == snapshot


def test_generator_events_use_ecs_fields(gen_events: ModuleType, ecs_fields: dict[str, Any]) -> None:
    """Generated documents keep the real shapes: every ECS field-set path is an ECS field."""
    bad = {
        n: paths
        for n, doc in enumerate(gen_events.generate(3000, seed=2))
        if (paths := _non_ecs_paths(doc, ecs_fields))
    }
    assert bad == {}


def test_generator_mixes_sources_and_categories(gen_events: ModuleType) -> None:
    """A stream mixes process, network and file events from Endpoint, Sysmon and Auditbeat, mostly process."""
    events = list(gen_events.generate(20000, seed=1))
    categories = Counter(doc["event"]["category"][0] for doc in events)
    modules = Counter(doc["event"]["module"] for doc in events)
    assert 0.5 < categories["process"] / len(events) < 0.7
    assert 0.18 < categories["network"] / len(events) < 0.32
    assert 0.1 < categories["file"] / len(events) < 0.2
    assert {"endpoint", "sysmon", "auditd"} <= set(modules)
    assert len({doc["host"]["id"] for doc in events}) >= 100
    stamps = [doc["@timestamp"] for doc in events]
    assert stamps[0] < stamps[-1]


def test_generator_emits_lua_activity(gen_events: ModuleType) -> None:
    """A large stream contains Lua interpreter starts, so benchmarks of the hunt have hits to find."""
    names = {
        str(doc["process"].get("name", "")).lower()
        for doc in gen_events.generate(120_000, seed=1)
        if doc["event"]["category"] == ["process"] and "process" in doc
    }
    assert {"lua5.4", "lua.exe"} & names


def test_scalar_mode_has_no_arrays(gen_events: ModuleType) -> None:
    """scalar=True turns one-element arrays into scalars and arrays of strings into one joined string."""
    plain = list(gen_events.generate(1500, seed=4))
    scalar = list(gen_events.generate(1500, seed=4, scalar=True))
    assert len(scalar) == len(plain)

    def arrays(value: Any) -> Iterator[list[Any]]:
        if isinstance(value, dict):
            for child in value.values():
                yield from arrays(child)
        elif isinstance(value, list):
            yield value
            for child in value:
                yield from arrays(child)

    for doc, flat in zip(plain, scalar, strict=True):
        assert flat["event"]["category"] == doc["event"]["category"][0]
        assert all(len(a) > 1 and not all(isinstance(x, str) for x in a) for a in arrays(flat))
        args = _get(doc, "process.args")
        if isinstance(args, list) and len(args) > 1:
            assert _get(flat, "process.args") == " ".join(args)
