"""Load Elasticsearch's EQL spec suite (``../shared/eql-spec``) the way its Java harness does.

Data transforms, index mappings, id fields, tiebreakers and the TOML quirks (bare ``null`` in
``join_keys``) follow ``../shared/eql-spec/README.md`` section 3.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from hunter.eql import Schema, parse_date_ns
from hunter.eql.values import java_double_str

SPEC_DIR = Path(__file__).resolve().parents[3] / "shared" / "eql-spec"

FILETIME_EPOCH_OFFSET_MS = 11_644_473_600_000


@dataclass(frozen=True)
class Suite:
    """One Java spec test class: its TOML files, indices, id field and tiebreaker."""

    name: str
    files: tuple[str, ...]
    indices: tuple[str, ...]
    id_field: str
    tiebreaker: str | None


SUITES = (
    Suite(
        "EqlSpecTestCase",
        ("test_queries.toml", "additional_test_queries.toml", "test_queries_date.toml"),
        ("endgame-140",),
        "serial_event_id",
        "serial_event_id",
    ),
    Suite(
        "EqlDateNanosSpecTestCase",
        ("test_queries_date_nanos.toml", "test_queries.toml"),
        ("endgame-140-nanos",),
        "serial_event_id",
        "serial_event_id",
    ),
    Suite("EqlExtraSpecTestCase", ("test_extra.toml",), ("extra",), "sequence", "sequence"),
    Suite(
        "EqlMissingEventsSpecTestCase",
        ("test_missing_events.toml",),
        ("missing-events",),
        "sequence",
        "sequence",
    ),
    Suite("EqlSampleTestCase", ("test_sample.toml",), ("sample1", "sample2", "sample3"), "id", None),
    Suite("EqlSampleMultipleEntriesTestCase", ("test_sample_multi.toml",), ("sample-multi",), "id", None),
    Suite(
        "EqlSpecFailingShardsTestCase",
        ("test_failing_shards.toml",),
        ("endgame-140", "endgame-shard-failures"),
        "serial_event_id",
        "serial_event_id",
    ),
)


@dataclass(frozen=True)
class Case:
    """One ``[[queries]]`` entry."""

    suite: Suite
    name: str
    query: str
    expected: tuple[tuple[int, ...], ...]
    join_keys: tuple[str, ...] = ()
    size: int = 50
    max_samples_per_key: int = 1
    expect_shard_failures: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """A pytest id."""
        return f"{self.suite.name}::{self.name}"


def available() -> bool:
    """True when the shared spec folder is present."""
    return SPEC_DIR.is_dir()


def _load_toml(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")

    def quote_nulls(match: re.Match[str]) -> str:
        return match.group(1) + re.sub(r'(?<!")\bnull\b(?!")', '"null"', match.group(2)) + "]"

    text = re.sub(r"(join_keys\s*=\s*\[)([^\]]*)\]", quote_nulls, text, flags=re.S)
    return tomllib.loads(text)


def cases() -> Iterator[Case]:
    """Every active case of every suite."""
    for suite in SUITES:
        for file_name in suite.files:
            for entry in _load_toml(SPEC_DIR / file_name)["queries"]:
                expected = entry["expected_event_ids"]
                if expected and isinstance(expected[0], list):
                    alternatives = tuple(tuple(alt) for alt in expected)
                else:
                    alternatives = (tuple(expected),)
                yield Case(
                    suite=suite,
                    name=entry["name"].strip(),
                    query=entry["query"].strip(),
                    expected=alternatives,
                    join_keys=tuple(str(k) for k in entry.get("join_keys", [])),
                    size=int(entry.get("size", 50)),
                    max_samples_per_key=int(entry.get("max_samples_per_key", 1)),
                    expect_shard_failures=bool(entry.get("expect_shard_failures", False)),
                )


def _read_json_with_comments(path: Path) -> Any:
    lines = [
        line for line in path.read_text(encoding="utf-8").splitlines() if not line.strip().startswith("//")
    ]
    return json.loads("\n".join(lines))


def _mapping(index: str) -> dict[str, Any]:
    lines = [
        line
        for line in (SPEC_DIR / "data" / f"{index}.mapping").read_text(encoding="utf-8").splitlines()
        if not line.lstrip().startswith("#")
    ]
    text = "\n".join(lines).replace("[runtime_random_keyword_type]", "keyword")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def _documents(index: str) -> list[dict[str, Any]]:
    if index == "endgame-140-nanos":
        docs = _read_json_with_comments(SPEC_DIR / "data" / "endgame-140.data")
        for doc in docs:
            ns = int(doc["timestamp"])
            seconds, rest = divmod(ns, 1_000_000_000)
            from datetime import UTC, datetime

            moment = datetime.fromtimestamp(seconds, tz=UTC)
            doc["@timestamp"] = moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{rest:09d}Z"
        return list(docs)
    docs = _read_json_with_comments(SPEC_DIR / "data" / f"{index}.data")
    if index.startswith("endgame"):
        for doc in docs:
            doc["@timestamp"] = int(doc["timestamp"]) // 10_000 - FILETIME_EPOCH_OFFSET_MS
    return list(docs)


@cache
def index_data(index: str) -> tuple[list[dict[str, Any]], Schema]:
    """The hits of one index (``_index``, ``_id``, ``_source``) and its schema (mapping + dynamic)."""
    docs = _documents(index)
    schema = Schema.from_mapping(_mapping(index)).add_dynamic(docs)
    hits = [{"_index": index, "_id": f"{index}-{n}", "_source": doc} for n, doc in enumerate(docs)]
    return hits, schema


def suite_data(suite: Suite) -> tuple[list[dict[str, Any]], dict[str, Schema]]:
    """All hits of a suite's indices and the schema of each index."""
    hits: list[dict[str, Any]] = []
    schemas: dict[str, Schema] = {}
    for index in suite.indices:
        index_hits, schema = index_data(index)
        hits.extend(index_hits)
        schemas[index] = schema
    return hits, schemas


def sorted_by_timestamp(hits: list[dict[str, Any]], schemas: dict[str, Schema]) -> list[dict[str, Any]]:
    """The hits in timestamp order (stable), as a streamed export would deliver them."""

    def ts(hit: dict[str, Any]) -> int:
        info = schemas[hit["_index"]].lookup("@timestamp")
        value = parse_date_ns(hit["_source"].get("@timestamp"), info.date_format if info else None)
        return value if value is not None else -1

    return sorted(hits, key=ts)


def flatten_ids(hits: dict[str, Any], id_field: str) -> list[int]:
    """The harness's ``long[] actual``: ids in response order, -1 for missing events."""
    out: list[int] = []
    if "events" in hits:
        events = hits["events"]
    else:
        events = [event for seq in hits.get("sequences", []) for event in seq["events"]]
    for event in events:
        source = event.get("_source") or {}
        out.append(int(source[id_field]) if id_field in source else -1)
    return out


def flatten_join_keys(hits: dict[str, Any]) -> list[str]:
    """Join keys of all sequences, as the harness compares them (strings, ``null`` for null)."""
    out: list[str] = []
    for seq in hits.get("sequences", []):
        for key in seq.get("join_keys", []):
            if key is None:
                out.append("null")
            elif isinstance(key, bool):
                out.append("true" if key else "false")
            elif isinstance(key, float):
                out.append(java_double_str(key))
            else:
                out.append(str(key))
    return out


# ---- unit/sequences.series-spec ----------------------------------------------------------------


@dataclass(frozen=True)
class SeriesSpec:
    """One spec of the sequence state machine: events per stage, and the expected sequences."""

    name: str
    stages: tuple[tuple[tuple[str, str, int], ...], ...]  # (key, label, order) per stage line
    expected: tuple[tuple[str, ...], ...]


_TOKEN_RE = re.compile(r"(?:(\w+)\|)?([A-Za-z]+)(\d+)")


def series_specs() -> list[SeriesSpec]:
    """Parse ``unit/sequences.series-spec``."""
    lines = (SPEC_DIR / "unit" / "sequences.series-spec").read_text(encoding="utf-8").splitlines()
    specs: list[SeriesSpec] = []
    index = 0

    def content(line: str) -> str:
        return "" if line.strip().startswith("//") else line.rstrip()

    while index < len(lines):
        name = content(lines[index]).strip()
        index += 1
        if not name:
            continue
        stages: list[tuple[tuple[str, str, int], ...]] = []
        while content(lines[index]).strip() != ";":
            row = content(lines[index])
            if row.strip():
                stages.append(
                    tuple((m.group(1) or "", m.group(2), int(m.group(3))) for m in _TOKEN_RE.finditer(row))
                )
            index += 1
        index += 1
        expected: list[tuple[str, ...]] = []
        while content(lines[index]).strip() != ";":
            row = content(lines[index])
            if row.strip():
                expected.append(tuple(m.group(2) + m.group(3) for m in _TOKEN_RE.finditer(row)))
            index += 1
        index += 1
        specs.append(SeriesSpec(name, tuple(stages), tuple(expected)))
    return specs


def series_query_and_events(spec: SeriesSpec) -> tuple[str, list[dict[str, Any]]]:
    """A sequence query with one stage per spec line, and the spec's events as documents."""
    stages = " ".join(f"[any where stage == {n}]" for n in range(len(spec.stages)))
    events = [
        {"@timestamp": order, "stage": stage_no, "k": key, "label": f"{label}{order}"}
        for stage_no, tokens in enumerate(spec.stages)
        for key, label, order in tokens
    ]
    return f"sequence by k {stages}", events
