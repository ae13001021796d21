"""Multi-fields Sigma pipelines write (``process.executable.caseless``): from a mapping, and without one."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hunter.config import Settings
from hunter.coverage import coverage_report
from hunter.eql import Schema, compile_query
from hunter.eql.schema import implied_multi_field, normalize
from hunter.hunts import load_hunts
from tests.conftest import QUERIES

EXE = "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\PowerShell.EXE"

# process.executable as the Elastic Defend and Windows integration packages map it
ENDPOINT_MAPPING: dict[str, Any] = {
    "properties": {
        "@timestamp": {"type": "date"},
        "event": {"properties": {"category": {"type": "keyword"}}},
        "process": {
            "properties": {
                "executable": {
                    "type": "keyword",
                    "ignore_above": 1024,
                    "fields": {
                        "caseless": {"type": "keyword", "normalizer": "lowercase", "ignore_above": 1024},
                        "text": {"type": "match_only_text"},
                    },
                },
                "name": {"type": "keyword"},
            }
        },
    }
}


def _hits(query: str, source: dict[str, Any], schema: Schema | None = None) -> int:
    event = {"_index": "logs-endpoint.events.process-default", "_id": "1", "_source": source}
    return len(compile_query(query).search([event], schema=schema)["events"])


def _process(executable: str) -> dict[str, Any]:
    return {
        "@timestamp": "2026-11-20T10:00:00.000Z",
        "event": {"category": ["process"]},
        "process": {"executable": executable, "name": executable.rsplit("\\", 1)[-1]},
    }


PS = r"C:\\Windows\\System32\\WindowsPowerShell\\v1.0"  # EQL text of the folder (escaped backslashes)
CASELESS_QUERIES = [
    rf'process where process.executable.caseless == "{PS.lower()}\\powershell.exe"',
    rf'process where process.executable.caseless == "{PS.upper()}\\powershell.exe"',
    r'process where process.executable.caseless : "*\\POWERSHELL.exe"',
    r'process where process.executable.caseless like "*\\PowerShell.exe"',
    rf'process where process.executable.caseless in ("x", "{PS}\\POWERSHELL.exe")',
    r'process where process.executable.caseless regex ".*POWERSHELL\\.exe"',
    r'process where startsWith(process.executable.caseless, "C:\\WINDOWS")',
    r'process where endsWith(process.executable.caseless, "\\PowerShell.exe")',
]


@pytest.mark.parametrize("query", CASELESS_QUERIES)
def test_caseless_from_a_mapping_is_the_lowercase_normalizer(query: str) -> None:
    """With a mapping, a normalized multi-field matches as Elasticsearch's normalized queries do."""
    assert _hits(query, _process(EXE), Schema.from_mapping(ENDPOINT_MAPPING)) == 1


@pytest.mark.parametrize("query", CASELESS_QUERIES)
def test_caseless_without_a_mapping_is_the_lowercased_parent(query: str) -> None:
    """Without a mapping, ``<field>.caseless`` is ``<field>`` lowercased, searched with normalized text."""
    assert _hits(query, _process(EXE)) == 1


def test_caseless_does_not_make_the_parent_field_caseless() -> None:
    """The keyword field itself keeps its case: only the multi-field is normalized."""
    lowered = rf'process where process.executable == "{PS.lower()}\\powershell.exe"'
    assert _hits(lowered, _process(EXE)) == 0
    assert _hits(lowered, _process(EXE), Schema.from_mapping(ENDPOINT_MAPPING)) == 0


def test_caseless_script_compares_lowercase_doc_values() -> None:
    """A script reads the normalized doc value (lowercase), as Elasticsearch's doc values hold it."""
    query = 'process where substring(process.executable.caseless, 0, 2) == "c:"'
    assert _hits(query, _process(EXE)) == 1
    assert _hits(query, _process(EXE), Schema.from_mapping(ENDPOINT_MAPPING)) == 1


def test_caseless_ignore_above_from_the_mapping() -> None:
    """A value longer than the multi-field's ignore_above is not indexed in it."""
    long_path = "C:\\" + "A" * 1100 + "\\x.exe"
    query = 'process where process.executable.caseless : "*\\\\x.exe"'
    assert _hits(query, _process(long_path), Schema.from_mapping(ENDPOINT_MAPPING)) == 0


def test_text_without_a_mapping_reads_the_parent_field() -> None:
    """``<field>.text`` without a mapping reads ``<field>``."""
    assert _hits('process where process.executable.text : "*powershell.exe"', _process(EXE)) == 1


def test_a_real_field_named_text_still_reads_as_itself() -> None:
    """ECS ``process.io.text`` is a field of its own: its value wins over the implied multi-field rule."""
    source = {**_process(EXE), "process": {"executable": EXE, "io": {"text": "id\nuid=0(root)"}}}
    assert _hits('process where process.io.text : "*uid=0*"', source) == 1


def test_unmapped_caseless_is_unknown_with_a_mapping() -> None:
    """With a mapping that defines no such multi-field, the name is an unknown column (as in ES)."""
    from hunter.eql import EqlError

    with pytest.raises(EqlError, match="Unknown column"):
        _hits(
            'process where process.name.caseless : "powershell.exe"',
            _process(EXE),
            Schema.from_mapping(ENDPOINT_MAPPING),
        )


def test_implied_multi_field_rule() -> None:
    """Only ``.caseless`` and ``.text`` are implied; Lucene's LowerCaseFilter maps U+0130 to one ``i``."""
    caseless = implied_multi_field("process.parent.name.caseless")
    assert caseless is not None and caseless.source_path == ("process", "parent", "name")
    assert caseless.normalizer == "lowercase"
    text = implied_multi_field("process.command_line.text")
    assert text is not None and text.normalizer is None
    assert implied_multi_field("process.name") is None
    assert implied_multi_field("caseless") is None
    assert normalize(caseless, "\u0130STANBUL.EXE") == "istanbul.exe"


def test_coverage_says_where_the_implied_rule_answered(
    tmp_path: Path, settings: Callable[..., Settings]
) -> None:
    """``hunter coverage`` over event files counts ``.caseless`` as present and names the rule it used."""
    events = tmp_path / "events" / "logs-endpoint.events.process-default.ndjson"
    events.parent.mkdir()
    events.write_text(json.dumps(_process(EXE)) + "\n")
    hunt_file = tmp_path / "hunts" / "caseless.toml"
    hunt_file.parent.mkdir()
    hunt_file.write_text(
        'id = "caseless"\nname = "PowerShell"\nseverity = "low"\nindices = ["logs-endpoint.events.*"]\n'
        "[queries.query]\n"
        "query = '''process where process.executable.caseless : \"*\\\\powershell.exe\"'''\n"
    )
    loaded = settings(events=[events.parent], queries=hunt_file.parent)
    report = coverage_report(loaded, load_hunts(loaded.queries))
    (row,) = report["hunts"][0]["queries"][0]["stages"]
    assert row["status"] == "ok"
    assert row["detail"] == (
        "process.executable.caseless read as the lowercased value of process.executable (no mapping)"
    )


def test_caseless_on_the_test_cluster_follows_the_mapping() -> None:
    """The ES-compatible test server answers ``.caseless`` from the index mapping, as Elasticsearch does."""
    from tests.support.es_server import serve

    for server in serve():
        with server.client() as client:
            client.indices.create(index="endpoint-process", mappings=ENDPOINT_MAPPING)
            client.index(index="endpoint-process", id="1", document=_process(EXE), refresh=True)
            hits = {
                query: len(client.eql.search(index="endpoint-process", query=query)["hits"]["events"])
                for query in (
                    *CASELESS_QUERIES[:4],
                    r'process where process.executable like "*\\PowerShell.exe"',
                )
            }
    assert list(hits.values()) == [1, 1, 1, 1, 0]


# ---- multi-fields of a mapping given for local files ([embedded] mappings) ------------------------

MAPPING = {
    "my-index": {
        "mappings": {
            "properties": {
                "process": {
                    "properties": {
                        "name": {"type": "keyword", "fields": {"kw": {"type": "keyword"}}},
                        "executable": {
                            "type": "keyword",
                            "fields": {"low": {"type": "keyword", "normalizer": "lowercase"}},
                        },
                    }
                }
            }
        }
    }
}


def test_multi_fields_of_a_mapping_read_their_parent_field() -> None:
    """A mapping's multi-fields, given to a search without a schema, read their parent as the
    mapping says (a lowercase normalizer lowercases); other fields still read as they come."""
    from hunter.eql import multi_fields_of, search_many

    fields = multi_fields_of(MAPPING)
    assert sorted(fields) == ["process.executable.low", "process.name.kw"]
    source = {"process": {"name": "lua5.4", "executable": "C:\\Tools\\LUA.EXE"}, "@timestamp": 1}
    queries = [
        'process where process.name.kw == "lua5.4"',
        'process where process.executable.low == "c:\\\\tools\\\\lua.exe"',
        'process where process.name == "lua5.4"',
    ]
    runs = [compile_query(q).run(multi_fields=fields, size=10) for q in queries]
    event = {"_index": "my-index", "_id": "1", "_source": {**source, "event": {"category": "process"}}}
    outputs = search_many(runs, [event])
    assert [len(output["events"]) for output in outputs] == [1, 1, 1]
    plain = compile_query(queries[0]).run(size=10)
    assert search_many([plain], [event])[0]["events"] == []  # without the mapping: a field of its own


def test_embedded_mappings_setting_serves_hunter_hunt_and_coverage(
    tmp_path: Path, settings_file: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """[embedded] mappings names mapping files; hunts over local files then answer their multi-fields,
    and a mapping file that is not JSON is a one-line error."""
    from hunter.cli import main
    from tests.conftest import SAMPLES, read_ndjson

    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps(MAPPING), encoding="utf-8")
    hunts = tmp_path / "hunts"
    hunts.mkdir()
    (hunts / "kw.toml").write_text(
        'id = "kw"\nname = "kw"\nseverity = "low"\nindices = ["logs-*", "auditbeat-*", "winlogbeat-*"]\n'
        '[queries.q]\nquery = \'process where process.name.kw : "lua*" and event.type == "start"\'\n',
        encoding="utf-8",
    )
    with_mapping = settings_file(
        queries=hunts, sections={"embedded": {"events": [SAMPLES], "mappings": [mapping]}}
    )
    assert main(["hunt", "--config", str(with_mapping), "--events", str(SAMPLES)]) == 0
    assert len(read_ndjson(capsys.readouterr().out)) > 0
    without = settings_file(queries=hunts, name="plain.toml")
    assert main(["hunt", "--config", str(without), "--events", str(SAMPLES)]) == 0
    assert read_ndjson(capsys.readouterr().out) == []
    mapping.write_text("{not json", encoding="utf-8")
    assert main(["hunt", "--config", str(with_mapping), "--events", str(SAMPLES)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("hunter: embedded.mappings: ") and len(err.splitlines()) == 1


def test_the_dispatcher_and_prefilter_do_not_ask_events_for_a_multi_field_by_name(tmp_path: Path) -> None:
    """Several queries over one pass (dispatcher, line prefilter): a query on process.executable.caseless
    still sees the event, which holds process.executable only (it asked for the name itself and
    never matched)."""
    from hunter.config import SearchSettings
    from hunter.search.local import EventFiles, LocalSearcher
    from tests.conftest import write_ndjson

    hunts = load_hunts(QUERIES)
    event = {
        "@timestamp": "2026-11-20T10:00:00Z",
        "event": {"category": ["process"], "type": ["start"]},
        "process": {"executable": "C:\\Tools\\LUA.EXE", "name": "LUA.EXE"},
    }
    path = write_ndjson(tmp_path / "logs-x.ndjson", [event])
    caseless = compile_query('process where process.executable.caseless == "c:\\\\tools\\\\lua.exe"')
    hunt = hunts[0]
    probe = dataclasses.replace(
        hunt, id="probe", indices=("*",), queries=(dataclasses.replace(hunt.queries[0], compiled=caseless),)
    )
    for prefilter in (True, False):
        searcher = LocalSearcher(EventFiles([path]), SearchSettings(), prefilter=prefilter)
        found = searcher.search_hunts([probe, dataclasses.replace(hunt, indices=("*",))], None)
        assert len(found["probe"][0].matches) == 1, prefilter
