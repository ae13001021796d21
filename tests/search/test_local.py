"""Local event files: NDJSON/JSON/gzip reading, stable ids, bad lines, windows, the embedded search."""

from __future__ import annotations

import dataclasses
import gc
import gzip
import hashlib
import json
import os
import pickle
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import structlog

from hunter.config import SearchSettings
from hunter.eql import compile_query
from hunter.errors import EventSourceError
from hunter.hunts import Hunt
from hunter.results import QueryResult, Window
from hunter.search.local import EventFiles, LocalSearcher, index_name
from tests.conftest import (
    AUDITBEAT,
    AUDITBEAT_INDEX,
    AUDITBEAT_LUA_ID,
    OS_EXECUTE,
    REPO,
    SAMPLES,
    auditd_lua,
    lua_exec,
    ns,
    sample_line,
    tmp_write,
    utc,
    write_ndjson,
)

T = utc("2026-11-20T10:00:00Z")


def ids(files: EventFiles, window: Window | None = None) -> list[tuple[str, str]]:
    """(index, id) of every event read, in file order."""
    return [(hit["_index"], hit["_id"]) for hit in files.hits(window)]


def test_hits_keep_their_index_and_id() -> None:
    """A line that is an Elasticsearch hit keeps its _index and _id."""
    path = SAMPLES / OS_EXECUTE
    expected = [(doc["_index"], doc["_id"]) for doc in map(json.loads, path.read_text().splitlines())]
    assert ids(EventFiles([path])) == expected


def test_plain_line_id_is_sha256_of_the_raw_line() -> None:
    """A plain document gets the file name as _index and the sha256 hex of its raw line as _id."""
    read = ids(EventFiles([SAMPLES / AUDITBEAT]))
    raw = sample_line(AUDITBEAT, 6).encode("utf-8")
    assert read[5] == (AUDITBEAT_INDEX, hashlib.sha256(raw).hexdigest())
    assert read[5] == (AUDITBEAT_INDEX, AUDITBEAT_LUA_ID)
    assert all(index == AUDITBEAT_INDEX for index, _ in read)
    assert len(set(read)) == 8


def test_ids_are_stable_across_reads() -> None:
    """Reading the same files again (a new run) gives the same ids."""
    first = ids(EventFiles([SAMPLES]))
    second = ids(EventFiles([SAMPLES]))
    assert first == second
    assert len(first) == 67


def test_gzip_files_are_read_with_the_same_ids(tmp_path: Path) -> None:
    """A .ndjson.gz file reads like its plain twin: same _index (extensions dropped) and _id."""
    plain = SAMPLES / AUDITBEAT
    packed = tmp_path / f"{AUDITBEAT}.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert index_name(packed) == AUDITBEAT_INDEX
    assert ids(EventFiles([packed])) == ids(EventFiles([plain]))


def test_json_array_files_are_read(tmp_path: Path) -> None:
    """A .json file holding an array of hits and documents yields each element, ids stable."""
    hit = lua_exec(T, doc_id="kept-id")
    plain = hit["_source"]
    bare = {key: value for key, value in plain.items() if key != "data_stream"}
    path = tmp_path / "export.json"
    path.write_text(json.dumps([hit, plain, bare], indent=2), encoding="utf-8")
    first = ids(EventFiles([path]))
    assert first[0] == (hit["_index"], "kept-id")
    assert first[1][0] == "logs-endpoint.events.process-default"  # its data_stream fields name it
    assert first[2][0] == "export"  # nothing names it: the file does
    assert len(first[1][1]) == 64
    assert ids(EventFiles([path])) == first


def test_gzipped_json_array_is_read(tmp_path: Path) -> None:
    """A .json.gz array is read too."""
    path = tmp_path / "export.json.gz"
    path.write_bytes(gzip.compress(json.dumps([lua_exec(T, doc_id="a"), tmp_write(T, doc_id="b")]).encode()))
    assert [doc_id for _, doc_id in ids(EventFiles([path]))] == ["a", "b"]


def test_bad_lines_are_skipped_counted_and_logged(tmp_path: Path) -> None:
    """Not JSON, not an object, no/unparsable @timestamp: skipped, counted, logged with file and line."""
    good = json.dumps(lua_exec(T, doc_id="good"))
    source = lua_exec(T, doc_id="x")["_source"]
    no_time = json.dumps({k: v for k, v in source.items() if k != "@timestamp"})
    bad_time = json.dumps({**source, "@timestamp": "yesterday at noon"})
    path = tmp_path / "events.ndjson"
    path.write_text(
        "\n".join(["{not json", good, "[1, 2]", no_time, bad_time, good]) + "\n", encoding="utf-8"
    )
    files = EventFiles([path])
    with structlog.testing.capture_logs() as logs:
        read = ids(files)
    assert [doc_id for _, doc_id in read] == ["good", "good"]
    assert files.stats.bad_lines == 4
    assert files.stats.bad == {
        "not JSON": 1,
        "not a JSON object": 1,
        "no @timestamp": 1,
        "unparsable @timestamp": 1,
    }
    warnings = [entry for entry in logs if entry["log_level"] == "warning"]
    assert [(entry["file"], entry["line"]) for entry in warnings] == [
        (str(path), 1),
        (str(path), 3),
        (str(path), 4),
        (str(path), 5),
    ]


def test_blank_lines_are_ignored(tmp_path: Path) -> None:
    """Empty lines are neither events nor bad lines."""
    path = tmp_path / "e.ndjson"
    path.write_text("\n" + json.dumps(lua_exec(T, doc_id="a")) + "\n\n", encoding="utf-8")
    files = EventFiles([path])
    assert len(ids(files)) == 1
    assert files.stats.bad_lines == 0


def test_window_includes_both_ends(tmp_path: Path) -> None:
    """Events exactly at a window's start and end are inside it; 1 ms outside are not."""
    ms = timedelta(milliseconds=1)
    times = [T - ms, T, T + timedelta(minutes=1), T + timedelta(minutes=2), T + timedelta(minutes=2) + ms]
    path = write_ndjson(tmp_path / "e.ndjson", [lua_exec(t, doc_id=f"e{i}") for i, t in enumerate(times)])
    window = Window(ns(T), ns(T + timedelta(minutes=2)))
    assert [doc_id for _, doc_id in ids(EventFiles([path]), window)] == ["e1", "e2", "e3"]


def test_folders_are_read_recursively_by_extension(tmp_path: Path) -> None:
    """A folder yields its .ndjson/.json/.gz files (also in subfolders) and ignores other files."""
    write_ndjson(tmp_path / "a.ndjson", [lua_exec(T, doc_id="a")])
    write_ndjson(tmp_path / "sub" / "b.jsonl", [lua_exec(T, doc_id="b")])
    (tmp_path / "README.md").write_text("not events\n", encoding="utf-8")
    files = EventFiles([tmp_path])
    assert [path.name for path in files.files()] == ["a.ndjson", "b.jsonl"]
    assert sorted(doc_id for _, doc_id in ids(files)) == ["a", "b"]


def test_missing_path_is_an_event_source_error(tmp_path: Path) -> None:
    """A configured path that does not exist is an EventSourceError naming it."""
    missing = tmp_path / "nope.ndjson"
    with pytest.raises(EventSourceError, match=r"nope\.ndjson"):
        EventFiles([missing]).files()


def test_empty_folder_has_no_events(tmp_path: Path) -> None:
    """An existing folder without event files is not an error; it just yields no events."""
    (tmp_path / "empty").mkdir()
    files = EventFiles([tmp_path / "empty"])
    assert files.files() == []
    assert list(files.hits()) == []


def test_a_file_unreadable_from_its_first_byte_fails_the_startup_check(tmp_path: Path) -> None:
    """check_readable (run before anything is written) refuses a .gz that is not gzip, naming it."""
    path = tmp_path / "broken.ndjson.gz"
    path.write_bytes(b"this is not gzip data")
    with pytest.raises(EventSourceError, match=r"broken\.ndjson\.gz"):
        EventFiles([path]).check_readable()


def test_a_file_damaged_midway_keeps_what_was_read_and_the_rest_is_counted_once(tmp_path: Path) -> None:
    """A truncated .gz yields its readable events, then one 'damaged file' error naming the file and
    the last line read; the other files are still read and a second read does not count it again."""
    lines = [json.dumps(lua_exec(T + timedelta(seconds=n), doc_id=f"e{n}")) for n in range(2000)]
    whole = gzip.compress(("\n".join(lines) + "\n").encode())
    damaged = tmp_path / "a-cut.ndjson.gz"
    damaged.write_bytes(whole[: len(whole) // 2])
    other = write_ndjson(tmp_path / "b.ndjson", [lua_exec(T, doc_id="other")])
    counted: list[int] = []
    files = EventFiles([damaged, other], on_bad_line=lambda: counted.append(1))
    files.check_readable()
    with structlog.testing.capture_logs() as logs:
        read = ids(files)
        assert files.stats.bad == {"damaged file": 1}
        again = ids(files)
    assert read == again and read[-1][1] == "other" and 0 < len(read) - 1 < 2000
    (error,) = [entry for entry in logs if entry["event"] == "event file damaged; the rest of it is skipped"]
    assert error["file"] == str(damaged) and error["after_line"] == len(read) - 1
    assert counted == [1]  # hunter_bad_event_lines_total: once, however often the file is read


def test_a_broken_json_array_is_reported_and_the_run_goes_on(tmp_path: Path) -> None:
    """A .json array that does not parse gives no events and one error naming it; others are read."""
    broken = tmp_path / "a.json"
    broken.write_text('[{"@timestamp": "2026-11-20T10:00:00Z"}, {', encoding="utf-8")
    other = write_ndjson(tmp_path / "b.ndjson", [lua_exec(T, doc_id="other")])
    files = EventFiles([broken, other])
    with structlog.testing.capture_logs() as logs:
        assert [doc_id for _, doc_id in ids(files)] == ["other"]
    assert [entry["file"] for entry in logs if entry["log_level"] == "error"] == [str(broken)]


def test_byte_order_marks_and_upper_case_extensions_are_read(tmp_path: Path) -> None:
    """A UTF-8 BOM before the first line (NDJSON) or the array (JSON), and .JSON / .NDJSON.GZ names."""
    event = {key: value for key, value in lua_exec(T, doc_id="x")["_source"].items() if key != "data_stream"}
    (tmp_path / "a.NDJSON").write_bytes(b"\xef\xbb\xbf" + json.dumps(event).encode() + b"\n")
    (tmp_path / "b.JSON").write_bytes(b"\xef\xbb\xbf" + json.dumps([event]).encode())
    (tmp_path / "c.Ndjson.GZ").write_bytes(gzip.compress(json.dumps(event).encode()))
    files = EventFiles([tmp_path])
    assert [index for index, _ in ids(files)] == ["a", "b", "c"]
    assert files.stats.bad_lines == 0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1795168800000", "2026-11-20T10:00:00.000000000Z"),  # epoch millis as text (epoch_millis)
        (1795168800000, "2026-11-20T10:00:00.000000000Z"),
        ("2026-11-20T10:00:00.123456789Z", "2026-11-20T10:00:00.123456789Z"),
        ("2026-11-20T10:00:01.1\u00b2Z", None),  # a superscript two is not a digit to Elasticsearch
        (253402300800000, None),  # year 10000
        (1.5e300, None),
        ("+10000-01-01T00:00:00Z", None),
    ],
)
def test_timestamps_are_read_as_elasticsearch_default_date_format(
    value: object, expected: str | None
) -> None:
    """strict_date_optional_time||epoch_millis, within years 1-9999; anything else is a bad line."""
    from hunter.eql import format_date_ns
    from hunter.eql.values import timestamp_ns

    ns = timestamp_ns(value)
    assert (None if ns is None else format_date_ns(ns, nanos=True)) == expected


@pytest.mark.parametrize("prefilter", [False, True])
def test_a_bad_timestamp_is_a_bad_line_not_a_crash(tmp_path: Path, lua_hunt: Hunt, prefilter: bool) -> None:
    """Events with odd or out-of-range timestamps are skipped and counted; the search completes (with
    the prefilter too: these lines hold the Lua texts, so they are parsed)."""
    source = lua_exec(T, doc_id="x")["_source"]
    odd = [{**source, "@timestamp": value} for value in ("2026-11-20T10:00:01.1\u00b2Z", 253402300800000)]
    path = write_ndjson(tmp_path / "odd.ndjson", [*odd, source])
    files = EventFiles([path])
    results = LocalSearcher(files, SearchSettings(), prefilter=prefilter).search(lua_hunt, None)
    assert {r.query: len(r.matches) for r in results}["fallback"] == 1
    assert files.stats.bad == {"unparsable @timestamp": 2}


def test_more_files_than_can_be_merged_are_read_one_by_one(
    tmp_path: Path, lua_hunt: Hunt, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past MAX_MERGED_FILES the files are not all opened at once; the answer is the same."""
    import hunter.search.local as local

    write_ndjson(tmp_path / "a.ndjson", [lua_exec(T, doc_id="exec", entity_id="L")])
    write_ndjson(
        tmp_path / "b.ndjson", [tmp_write(T + timedelta(minutes=1), doc_id="w", parent_entity_id="L")]
    )
    write_ndjson(tmp_path / "c.ndjson", [])
    monkeypatch.setattr(local, "MAX_MERGED_FILES", 2)
    merged: list[int] = []

    def hits_by_time(self: EventFiles, window: Window | None = None) -> Any:
        merged.append(1)
        return iter(())

    monkeypatch.setattr(EventFiles, "hits_by_time", hits_by_time)
    results = {
        r.query: r for r in LocalSearcher(EventFiles([tmp_path]), SearchSettings()).search(lua_hunt, None)
    }
    assert merged == [] and [[e.id for e in m.events] for m in results["sequence"].matches] == [["exec", "w"]]


def test_file_without_read_permission_is_an_event_source_error(tmp_path: Path) -> None:
    """A file the service may not read is an EventSourceError naming it."""
    if os.geteuid() == 0:
        pytest.skip("root reads files whatever their mode")
    path = write_ndjson(tmp_path / "secret.ndjson", [lua_exec(T, doc_id="a")])
    path.chmod(0)
    with pytest.raises(EventSourceError, match=r"secret\.ndjson"):
        list(EventFiles([path]).hits())


def test_search_over_the_os_execute_sample(lua_hunt: Hunt) -> None:
    """The sequence pairs Lua exec and /tmp write; the fallback matches the exec and the fork record."""
    searcher = LocalSearcher(EventFiles([SAMPLES / OS_EXECUTE]), SearchSettings())
    results = {result.query: result for result in searcher.search(lua_hunt, None)}
    sequences = [[event.id for event in match.events] for match in results["sequence"].matches]
    assert sequences == [["Oq3L1FOtjHjj4EfCngyu", "E4jL1FOtjHjj4EfCngyu"]]
    singles = sorted(match.events[0].id for match in results["fallback"].matches)
    assert singles == sorted(["Oq3L1FOtjHjj4EfCngyu", "cRnL1FOtjHjj4EfCngyu"])


def test_a_sequence_across_two_files_is_found(tmp_path: Path, lua_hunt: Hunt) -> None:
    """Files are merged by time, so stage 1 in one file and stage 2 in another still join."""
    write_ndjson(tmp_path / "a.ndjson", [lua_exec(T, doc_id="exec", entity_id="L")])
    write_ndjson(
        tmp_path / "b.ndjson", [tmp_write(T + timedelta(minutes=1), doc_id="write", parent_entity_id="L")]
    )
    searcher = LocalSearcher(EventFiles([tmp_path]), SearchSettings())
    results = {result.query: result for result in searcher.search(lua_hunt, None)}
    assert [[e.id for e in m.events] for m in results["sequence"].matches] == [["exec", "write"]]


def test_unsorted_file_still_gives_the_sequence(tmp_path: Path, lua_hunt: Hunt) -> None:
    """A file whose stage-2 event comes before the (earlier) stage-1 event in file order still matches."""
    path = tmp_path / "unsorted.ndjson"
    later = tmp_write(T + timedelta(minutes=1), doc_id="write", parent_entity_id="L")
    earlier = lua_exec(T, doc_id="exec", entity_id="L")
    write_ndjson(path, [later, earlier])
    results = {r.query: r for r in LocalSearcher(EventFiles([path]), SearchSettings()).search(lua_hunt, None)}
    assert [[e.id for e in m.events] for m in results["sequence"].matches] == [["exec", "write"]]


@pytest.mark.parametrize("prefilter", [False, True])
def test_unsorted_file_counts_and_logs_a_bad_line_once(
    tmp_path: Path, lua_hunt: Hunt, prefilter: bool
) -> None:
    """An out-of-order file searched again unstreamed does not count or log its bad lines twice (with
    the prefilter too: a line that is not an object is always parsed)."""
    path = tmp_path / "unsorted.ndjson"
    later = json.dumps(lua_exec(T + timedelta(minutes=1), doc_id="exec", entity_id="L"))
    earlier = json.dumps(tmp_write(T, doc_id="write", parent_entity_id="L"))
    path.write_text("\n".join(["garbage", later, earlier]) + "\n", encoding="utf-8")
    files = EventFiles([path])
    searcher = LocalSearcher(files, SearchSettings(), prefilter=prefilter)
    with structlog.testing.capture_logs() as logs:
        results = {r.query: r for r in searcher.search(lua_hunt, None)}
    assert [m.events[0].id for m in results["fallback"].matches] == ["exec"]
    assert results["sequence"].matches == []
    assert files.stats.bad_lines == 1
    assert files.stats.events == 2
    assert len([entry for entry in logs if entry["event"] == "bad event line skipped"]) == 1


def test_search_respects_the_window(tmp_path: Path, lua_hunt: Hunt) -> None:
    """Only events inside the window are searched."""
    path = write_ndjson(
        tmp_path / "e.ndjson",
        [lua_exec(T, doc_id="in"), lua_exec(T + timedelta(hours=1), doc_id="out", entity_id="other")],
    )
    searcher = LocalSearcher(EventFiles([path]), SearchSettings())
    window = Window(ns(T - timedelta(minutes=1)), ns(T + timedelta(minutes=1)))
    results = {result.query: result for result in searcher.search(lua_hunt, window)}
    assert [m.events[0].id for m in results["fallback"].matches] == ["in"]


def test_an_io_error_midway_fails_the_read_so_the_run_is_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EIO (a disk or network filesystem hiccup) is not damage: the read fails with EventSourceError
    naming the file and line, so the run fails, the checkpoint stays and the next run reads it all."""
    import errno
    import io

    import hunter.search.local as local

    path = write_ndjson(tmp_path / "a.ndjson", [lua_exec(T, doc_id="a"), lua_exec(T, doc_id="b")])

    class FlakyDisk(io.BufferedReader):
        def __next__(self) -> bytes:
            line = super().__next__()
            if b'"b"' in line:
                raise OSError(errno.EIO, "Input/output error")
            return line

    monkeypatch.setattr(local, "_open", lambda p: FlakyDisk(io.FileIO(p, "rb")))
    with pytest.raises(EventSourceError, match=r"a\.ndjson: cannot read after line 1: .*Input/output error"):
        ids(EventFiles([path]))


def fallback_ids(searcher: LocalSearcher, hunt: Hunt, window: Window | None = None) -> list[str]:
    """Ids of the events the hunt's fallback query matched."""
    results = {result.query: result for result in searcher.search(hunt, window)}
    return [match.events[0].id for match in results["fallback"].matches]


def test_a_hunt_searches_only_the_events_of_its_indices(tmp_path: Path, lua_hunt: Hunt) -> None:
    """An Auditbeat event is not searched by a hunt on winlogbeat-* (it was: false positives)."""
    path = write_ndjson(tmp_path / "events" / "auditbeat-2026.ndjson", [auditd_lua(T)])
    searcher = LocalSearcher(EventFiles([path.parent]), SearchSettings())
    assert len(fallback_ids(searcher, lua_hunt)) == 1  # the hunt's own indices include auditbeat-*
    winlogbeat_only = dataclasses.replace(lua_hunt, indices=("winlogbeat-*",))
    assert fallback_ids(searcher, winlogbeat_only) == []
    assert searcher.searched[lua_hunt.id] == 0  # and it says it looked at nothing


def test_the_index_of_an_event_is_its_hit_index_then_data_stream_then_file(
    tmp_path: Path, lua_hunt: Hunt
) -> None:
    """A hit keeps its _index, a document with data_stream.* fields is in that data stream, any
    other document is in the index named like its file, and hunts select them by those names."""
    hit = lua_exec(T, doc_id="hit", entity_id="a")  # _index .ds-logs-endpoint.events.process-default-...
    agent = lua_exec(T, doc_id="agent", entity_id="b")["_source"]  # data_stream logs/endpoint.events.process
    bare = lua_exec(T, doc_id="bare", entity_id="c")["_source"]
    del bare["data_stream"]
    folder = tmp_path / "events"
    write_ndjson(folder / "winlogbeat-export.ndjson", [hit, agent, bare])
    searcher = LocalSearcher(EventFiles([folder]), SearchSettings())
    by_file = dataclasses.replace(lua_hunt, indices=("winlogbeat-*",))
    by_stream = dataclasses.replace(lua_hunt, indices=("logs-endpoint.events.process-*",))
    assert len(fallback_ids(searcher, by_file)) == 1  # only the bare document
    assert len(fallback_ids(searcher, by_stream)) == 2  # the hit (through its data stream) and agent
    assert {hit["_index"] for hit in EventFiles([folder]).hits()} == {
        ".ds-logs-endpoint.events.process-default-2026.11.20-000001",
        "logs-endpoint.events.process-default",
        "winlogbeat-export",
    }


def test_hunts_with_different_indices_share_one_read(tmp_path: Path, lua_hunt: Hunt) -> None:
    """Several hunts over one read: each gets only its own indices' events."""
    folder = tmp_path / "events"
    write_ndjson(folder / "auditbeat-a.ndjson", [auditd_lua(T)])
    write_ndjson(folder / "endpoint.ndjson", [lua_exec(T, doc_id="e")])
    files = EventFiles([folder])
    beats = dataclasses.replace(lua_hunt, id="beats", indices=("auditbeat-*",))
    endpoint = dataclasses.replace(lua_hunt, id="endpoint", indices=("logs-endpoint.*",))
    results = LocalSearcher(files, SearchSettings()).search_hunts([beats, endpoint, lua_hunt], None)
    matched = {
        hunt_id: sorted(m.events[0].index for r in found if r.query == "fallback" for m in r.matches)
        for hunt_id, found in results.items()
    }
    assert matched["beats"] == ["auditbeat-a"]
    assert matched["endpoint"] == [".ds-logs-endpoint.events.process-default-2026.11.20-000001"]
    assert len(matched[lua_hunt.id]) == 2
    assert files.stats.lines == 2  # read once


def test_timestamp_override_windows_on_ingest_time_with_fallback(tmp_path: Path, lua_hunt: Hunt) -> None:
    """With timestamp_override the window applies to event.ingested (an event from 13:50 ingested at
    14:10 is in 13:59..14:19), and to @timestamp where event.ingested is missing, as Elasticsearch."""
    late = lua_exec(utc("2026-11-20T13:50:00Z"), doc_id="late", entity_id="late")
    late["_source"]["event"]["ingested"] = "2026-11-20T14:10:00Z"
    early = lua_exec(utc("2026-11-20T13:40:00Z"), doc_id="early", entity_id="early")
    early["_source"]["event"]["ingested"] = "2026-11-20T13:41:00Z"  # ingested before the window
    plain = lua_exec(utc("2026-11-20T14:05:00Z"), doc_id="plain", entity_id="plain")
    plain["_source"]["event"].pop("ingested", None)
    path = write_ndjson(tmp_path / "e.ndjson", [early, late, plain])
    window = Window(ns(utc("2026-11-20T13:59:00Z")), ns(utc("2026-11-20T14:19:00Z")))
    on_timestamp = LocalSearcher(EventFiles([path]), SearchSettings())
    assert fallback_ids(on_timestamp, lua_hunt, window) == ["plain"]
    on_ingest = LocalSearcher(EventFiles([path]), SearchSettings(timestamp_override="event.ingested"))
    assert sorted(fallback_ids(on_ingest, lua_hunt, window)) == ["late", "plain"]


def test_a_hunts_own_time_and_category_fields_are_used(tmp_path: Path, lua_hunt: Hunt) -> None:
    """A hunt's timestamp_override (without the fallback) and event_category_field, as an Elastic
    rule sets them, take the place of the settings' fields for that hunt only."""
    ingested = lua_exec(utc("2026-11-20T13:50:00Z"), doc_id="ingested", entity_id="a")
    ingested["_source"]["event"]["ingested"] = "2026-11-20T14:10:00Z"
    bare = lua_exec(utc("2026-11-20T14:05:00Z"), doc_id="bare", entity_id="b")
    bare["_source"]["event"].pop("ingested", None)
    path = write_ndjson(tmp_path / "e.ndjson", [ingested, bare])
    window = Window(ns(utc("2026-11-20T13:59:00Z")), ns(utc("2026-11-20T14:19:00Z")))
    searcher = LocalSearcher(EventFiles([path]), SearchSettings())
    override = dataclasses.replace(lua_hunt, timestamp_override="event.ingested")
    assert sorted(fallback_ids(searcher, override, window)) == ["bare", "ingested"]
    strict = dataclasses.replace(override, timestamp_override_fallback=False)
    assert fallback_ids(searcher, strict, window) == ["ingested"]
    assert fallback_ids(searcher, lua_hunt, window) == ["bare"]
    by_type = dataclasses.replace(
        lua_hunt,
        event_category_field="event.type",
        queries=tuple(
            dataclasses.replace(q, compiled=compile_query('start where process.name == "lua5.4"'))
            for q in lua_hunt.queries
            if q.name == "fallback"
        ),
    )
    assert sorted(fallback_ids(searcher, by_type)) == ["bare", "ingested"]  # `start` is an event.type


def test_the_observer_hears_of_every_file_read(tmp_path: Path) -> None:
    """A read observer (the progress bar) is told each file's line count and size when it ends."""
    path = tmp_path / "events.ndjson"
    source = json.loads(sample_line(AUDITBEAT, 1))
    path.write_text("\n".join(json.dumps(source) for _ in range(3)) + "\n", encoding="utf-8")
    done: list[tuple[str, int, int]] = []

    class Observer:
        """Records file_done calls."""

        def advanced(self, name: str, events: int, position: int) -> None:
            """Ignored."""

        def file_done(self, name: str, events: int, size: int) -> None:
            """Recorded."""
            done.append((name, events, size))

    files = EventFiles([path])
    files.observer = Observer()
    assert len(list(files.hits())) == 3
    assert done == [(str(path), 3, path.stat().st_size)]


# ---- skipping lines before parsing (the prefilter) ------------------------------------------------


def benign(number: int) -> dict[str, Any]:
    """A process start of ``ls`` that no Lua query can use."""
    source: dict[str, Any] = lua_exec(
        T + timedelta(seconds=number), doc_id=f"b{number}", entity_id=f"B{number}"
    )["_source"]
    process = source["process"]
    process.update(name="ls", executable="/usr/bin/ls", args=["ls", "-la"], command_line="ls -la")
    for leader in ("group_leader", "session_leader", "entry_leader", "parent"):
        process.pop(leader, None)
    process["parent"] = {"entity_id": "P", "name": "bash"}
    assert "lua" not in json.dumps(source).lower()
    return source


@pytest.mark.parametrize("prefilter", [False, True])
def test_bad_lines_with_and_without_the_prefilter(tmp_path: Path, lua_hunt: Hunt, prefilter: bool) -> None:
    """Without the prefilter every bad line is found and counted. With it, lines that are not objects
    or have no timestamp field are still parsed and counted, while an object line with a timestamp
    field and no Lua text (broken JSON, an unparsable timestamp) is skipped unparsed, uncounted."""
    good = lua_exec(T, doc_id="exec")
    lines = [
        "garbage",
        '{"message": "no timestamp"}',
        '{"@timestamp": "yesterday", "message": "ls"}',
        '{"@timestamp": "2026-11-20T10:00:00Z", "broken"',
        json.dumps(benign(1)),
        json.dumps(good),
    ]
    path = tmp_path / "mixed.ndjson"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    files = EventFiles([path])
    results = {
        r.query: r for r in LocalSearcher(files, SearchSettings(), prefilter=prefilter).search(lua_hunt, None)
    }
    assert [m.events[0].id for m in results["fallback"].matches] == ["exec"]
    if prefilter:
        assert files.stats.bad == {"not JSON": 1, "no @timestamp": 1}
        assert (files.stats.unparsed, files.stats.events) == (3, 1)
    else:
        assert files.stats.bad == {"not JSON": 2, "no @timestamp": 1, "unparsable @timestamp": 1}
        assert (files.stats.unparsed, files.stats.events) == (0, 2)


def test_the_prefilter_changes_no_result(tmp_path: Path, lua_hunt: Hunt) -> None:
    """The samples and a sequence waiting across many skipped lines (two files, streamed, and one out
    of order, read unstreamed) give the same matches with and without skipping lines."""
    folder = tmp_path / "events"
    waiting = [lua_exec(T, doc_id="exec", entity_id="L")]
    waiting += [
        {"_index": "logs-endpoint.events.process-default", "_id": f"b{n}", "_source": benign(n)}
        for n in range(1, 200)
    ]
    waiting.append(tmp_write(T + timedelta(seconds=250), doc_id="write", parent_entity_id="L"))
    write_ndjson(folder / "waiting.ndjson", waiting)
    write_ndjson(folder / "unsorted" / "u.ndjson", [waiting[-1], *waiting[1:50], waiting[0]])
    outcomes = []
    for prefilter in (False, True):
        for paths in ([SAMPLES], [folder / "waiting.ndjson"], [folder / "unsorted"], [SAMPLES, folder]):
            files = EventFiles(paths)
            searcher = LocalSearcher(files, SearchSettings(), prefilter=prefilter)
            found = searcher.search(lua_hunt, None)
            outcomes.append(
                [(r.query, sorted(tuple(e.id for e in m.events) for m in r.matches)) for r in found]
            )
            assert (files.stats.unparsed > 0) is prefilter
    without, with_prefilter = outcomes[:4], outcomes[4:]
    assert with_prefilter == without
    assert ("sequence", [("exec", "write")]) in without[1] and ("sequence", [("exec", "write")]) in without[2]


def test_searched_is_unknown_when_lines_were_skipped(tmp_path: Path, lua_hunt: Hunt) -> None:
    """A hunt that looked at no event of its indices says 0 when every line was parsed, and None
    (unknown) when lines were skipped unparsed: one of them may have been in its indices."""
    path = write_ndjson(tmp_path / "auditbeat-x.ndjson", [benign(1), benign(2)])
    winlogbeat_only = dataclasses.replace(lua_hunt, indices=("winlogbeat-*",))
    parsing = LocalSearcher(EventFiles([path]), SearchSettings(), prefilter=False)
    parsing.search(winlogbeat_only, None)
    assert parsing.searched[lua_hunt.id] == 0
    skipping = LocalSearcher(EventFiles([path]), SearchSettings())
    skipping.search(winlogbeat_only, None)
    assert skipping.searched[lua_hunt.id] is None
    skipping.search(lua_hunt, None)
    assert skipping.searched[lua_hunt.id] is None  # auditbeat-* is its index, but both lines were skipped


# ---- one shared pass for the hunts of a tick (hunter run --once) -----------------------------------


def test_run_once_searches_the_hunts_of_a_tick_in_one_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lua_hunt: Hunt
) -> None:
    """`hunter run --once` over local files reads them once per tick for all hunts, also for hunts
    whose windows differ (another lookback), and each hunt stores what it stores run on its own;
    checkpoints stay per hunt, so the next tick goes on from each hunt's own."""
    from hunter.config import load_settings
    from hunter.service import build_runtime

    events = [lua_exec(T, doc_id="exec", entity_id="L")]
    events += [
        {"_index": "logs-endpoint.events.process-default", "_id": f"b{n}", "_source": benign(n)}
        for n in range(1, 40)
    ]
    events.append(tmp_write(T + timedelta(minutes=2), doc_id="write", parent_entity_id="L"))
    events.append(lua_exec(T + timedelta(minutes=12), doc_id="exec2", entity_id="L2", host_id="h2"))
    path = write_ndjson(tmp_path / "events.ndjson", events)
    hunts = [
        lua_hunt,
        dataclasses.replace(lua_hunt, id="lua_copy"),
        dataclasses.replace(lua_hunt, id="lua_wide", lookback_ns=20 * 60 * 10**9),
    ]
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("HUNTER_EMBEDDED__EVENTS", json.dumps([str(path)]))
    monkeypatch.setenv("HUNTER_SERVICE__PORT", "0")
    ticks = [T + timedelta(minutes=10), T + timedelta(minutes=20)]

    def stored(share: bool, state: str) -> list[list[tuple[str, int, int]]]:
        monkeypatch.setenv("HUNTER_EMBEDDED__STATE", str(tmp_path / state))
        runtime = build_runtime(load_settings(), hunts)
        try:
            outcome = []
            for number, tick in enumerate(ticks, start=1):
                if share:
                    summaries = runtime.run_once(now=tick)
                    assert runtime.searcher.files.stats.lines == number * len(events)  # type: ignore[attr-defined]
                else:
                    summaries = [runtime.runner.run_hunt(hunt, now=tick) for hunt in hunts]
                outcome.append([(s.hunt_id, len(s.created), sum(s.hits.values())) for s in summaries])
            return outcome
        finally:
            runtime.close()

    shared = stored(True, "shared.sqlite3")
    assert shared == stored(False, "alone.sqlite3")
    assert shared[0] == [(hunt.id, 1, 2) for hunt in hunts]  # the sequence and the fallback: one alert
    assert [hits for _id, _created, hits in shared[1]] == [
        1,
        1,
        3,
    ]  # the wide lookback sees exec, write again


def test_a_long_pass_freezes_what_it_holds_as_it_goes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lua_hunt: Hunt
) -> None:
    """Every FREEZE_EVERY events, and before each hunt is concluded, the pass freezes what is alive
    (the matches it holds), so the collections of the rest of the pass do not walk it again."""
    import hunter.search.local as local
    from hunter.eql import freeze_held as real

    frozen: list[int] = []

    def counted() -> None:
        real()
        frozen.append(gc.get_freeze_count())

    monkeypatch.setattr(local, "FREEZE_EVERY", 10)
    monkeypatch.setattr(local, "freeze_held", counted)
    events = [lua_exec(T + timedelta(seconds=n), doc_id=f"e{n}", entity_id=f"L{n}") for n in range(35)]
    write_ndjson(tmp_path / "a.ndjson", events)
    hunts = many_hunts(lua_hunt)
    found = LocalSearcher(EventFiles([tmp_path]), SearchSettings(), processes=1).search_hunts(hunts, None)
    assert len(frozen) == 4 + len(hunts)  # events 0, 10, 20 and 30; then each hunt
    assert frozen[-1] > frozen[0]  # the matches held (and documents made), frozen as they came
    assert sum(len(result.matches) for results in found.values() for result in results) > 0
    assert gc.get_freeze_count() == 0


# ---- a pass split over two processes -------------------------------------------------------------


def many_hunts(lua_hunt: Hunt) -> list[Hunt]:
    """The Lua hunt under several ids and index patterns: enough queries to split a pass."""
    return [
        dataclasses.replace(lua_hunt, id=f"lua_{number}", indices=indices)
        for number, indices in enumerate(
            [lua_hunt.indices, ("logs-endpoint.*",), ("auditbeat-*",), ("winlogbeat-*",), ("nothing-*",)] * 2
        )
    ]


def one_and_two_processes(
    monkeypatch: pytest.MonkeyPatch, folder: Path, hunts: list[Hunt], *, unsorted: bool, bad: str
) -> list[tuple[dict[str, Any], dict[str, Any], Any]]:
    """The samples and, in ``folder``, a Lua exec and its /tmp write (out of order when
    ``unsorted``) and the bad lines ``bad``, searched for ``hunts`` in one process, then split over
    two: each time the matches by hunt, the events each hunt searched and the read counts."""
    import hunter.search.local as local

    events = [
        lua_exec(T, doc_id="exec", entity_id="L"),
        tmp_write(T + timedelta(seconds=9), doc_id="w", parent_entity_id="L"),
    ]
    write_ndjson(folder / "a.ndjson", events[::-1] if unsorted else events)
    (folder / "bad.ndjson").write_text(bad, encoding="utf-8")
    outcomes = []
    for processes in (1, 2):
        if processes == 2:
            monkeypatch.setattr(local, "_may_fork", lambda: True)
        files = EventFiles([SAMPLES, folder])
        searcher = LocalSearcher(files, SearchSettings(), processes=processes)
        searcher.parallel_runs = 4
        found = searcher.search_hunts(hunts, None)
        matches = {
            hunt_id: [(r.query, sorted(tuple(e.id for e in m.events) for m in r.matches)) for r in results]
            for hunt_id, results in found.items()
        }
        outcomes.append((matches, dict(searcher.searched), files.stats))
    return outcomes


@pytest.mark.parametrize("unsorted", [False, True])
def test_a_pass_split_over_two_processes_gives_the_results_of_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lua_hunt: Hunt, unsorted: bool
) -> None:
    """Every other query in a forked helper: the same matches, counts and bad lines as in one
    process, streamed or (a file out of order) read again unstreamed."""
    forks: list[int] = []
    real_fork = os.fork

    def fork() -> int:
        pid = real_fork()
        forks.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", fork)
    outcomes = one_and_two_processes(
        monkeypatch, tmp_path / "events", many_hunts(lua_hunt), unsorted=unsorted, bad="garbage\n"
    )
    assert outcomes[0] == outcomes[1]
    assert forks and all(pid > 0 for pid in forks)  # the split happened (in this, the parent, process)
    assert outcomes[1][2].bad == {"not JSON": 1}


@pytest.mark.parametrize("unsorted", [False, True])
def test_a_helper_that_reads_only_its_categories_gives_the_results_of_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lua_hunt: Hunt, unsorted: bool
) -> None:
    """Hunts of one category each and hunts that look at any event, over every source's samples: the
    helper takes hunts of some categories and parses only their lines (tests/search/test_shares.py),
    here every line; matches, counts and bad lines are those of one process, streamed or (a file out
    of order) read again unstreamed."""
    import hunter.search.local as local
    from hunter.search import shares

    queries = [
        "process where true",
        "network where true",
        'process where process.name : "lua*"',
        "file where true",
        "any where true",
        "sequence by process.entity_id [process where true] [network where true]",
        'sequence by host.id [process where event.type == "start"] [process where true] until [network where true]',  # noqa: E501
    ]
    hunts = [
        dataclasses.replace(
            lua_hunt,
            id=f"q{number}_{copy}",
            queries=(
                dataclasses.replace(lua_hunt.queries[0], name="q", text=text, compiled=compile_query(text)),
            ),
        )
        for copy in range(2)
        for number, text in enumerate(queries)
    ]
    chosen: list[shares.Shares] = []

    def split(*args: Any) -> shares.Shares:
        chosen.append(shares.split(*args))
        return chosen[-1]

    monkeypatch.setattr(local, "split", split)
    bad = 'garbage\n{"event": {"category": "process"}}\n'
    outcomes = one_and_two_processes(monkeypatch, tmp_path / "events", hunts, unsorted=unsorted, bad=bad)
    assert outcomes[0] == outcomes[1]
    assert outcomes[1][2].bad == {"not JSON": 1, "no @timestamp": 1}
    assert any(matches for matches in outcomes[0][0].values())
    split_made = chosen[-1]  # (made again for the second, unstreamed, reading)
    assert split_made.categories is not None and split_made.theirs  # the helper skipped some lines
    helper = {hunts[number].id for number in split_made.theirs}
    assert "file" not in split_made.categories
    assert not helper & {"q3_0", "q3_1", "q4_0", "q4_1"}  # file events it does not read; any event


def test_a_hunt_goes_to_the_helper_only_when_its_category_field_is_read_as_it_comes(lua_hunt: Hunt) -> None:
    """The helper's line filter looks at event.category as JSON writes it: a hunt's categories are
    its stages' (None with an ``any`` stage, as the Lua hunt's sequence has), and a hunt whose
    categories are another field (an Elastic rule's event_category_override) or a mapped one stays
    here."""
    from hunter.eql import FieldInfo

    texts = (
        "process where true",
        "sequence [process where true] [network where true] until [file where true]",
    )
    hunt = dataclasses.replace(
        lua_hunt,
        queries=tuple(
            dataclasses.replace(lua_hunt.queries[0], name=f"q{n}", text=text, compiled=compile_query(text))
            for n, text in enumerate(texts)
        ),
    )
    searcher = LocalSearcher(EventFiles([SAMPLES]), SearchSettings())
    assert searcher._categories(hunt) == frozenset({"process", "network", "file"})
    assert searcher._categories(lua_hunt) is None
    assert searcher._categories(dataclasses.replace(hunt, event_category_field="event.type")) is None
    mapped = LocalSearcher(
        EventFiles([SAMPLES]),
        SearchSettings(),
        multi_fields={"event.category": FieldInfo("keyword", ("event", "category"))},
    )
    assert mapped._categories(hunt) is None


def test_an_error_of_the_helper_process_is_raised_here(
    monkeypatch: pytest.MonkeyPatch, lua_hunt: Hunt
) -> None:
    """A failure in the forked helper is raised by the search, as if it had happened here."""
    import hunter.search.local as local

    real_pass = LocalSearcher._pass
    parent = os.getpid()

    def failing(self: LocalSearcher, *args: Any) -> Any:
        if os.getpid() != parent:  # the helper
            raise EventSourceError("the helper failed")
        return real_pass(self, *args)

    monkeypatch.setattr(local, "_may_fork", lambda: True)
    monkeypatch.setattr(LocalSearcher, "_pass", failing)
    searcher = LocalSearcher(EventFiles([SAMPLES]), SearchSettings())
    searcher.parallel_runs = 4
    with pytest.raises(EventSourceError, match="the helper failed"):
        searcher.search_hunts(many_hunts(lua_hunt), None)


def test_an_error_of_the_helper_while_concluding_is_raised_here(
    monkeypatch: pytest.MonkeyPatch, lua_hunt: Hunt
) -> None:
    """A failure in the helper after the pass (concluding its hunts) is raised by the search too."""
    import hunter.search.local as local

    parent = os.getpid()

    def finish(hunt: Hunt, results: list[QueryResult]) -> int:
        if os.getpid() != parent:
            raise EventSourceError(f"could not conclude {hunt.id}")
        return len(results)

    monkeypatch.setattr(local, "_may_fork", lambda: True)
    searcher = LocalSearcher(EventFiles([SAMPLES]), SearchSettings())
    searcher.parallel_runs = 4
    with pytest.raises(EventSourceError, match="could not conclude lua_"):
        searcher.search_and_finish([(hunt, None) for hunt in many_hunts(lua_hunt)], finish)


def test_a_pass_that_cannot_fork_runs_in_one_process(monkeypatch: pytest.MonkeyPatch, lua_hunt: Hunt) -> None:
    """When no second process can be had, the pass runs here alone with the same results."""
    import hunter.search.local as local

    def no_fork() -> int:
        raise OSError("Resource temporarily unavailable")

    searcher = LocalSearcher(EventFiles([SAMPLES]), SearchSettings(), processes=1)
    alone = searcher.search_hunts(many_hunts(lua_hunt), None)
    monkeypatch.setattr(local, "_may_fork", lambda: True)
    monkeypatch.setattr(os, "fork", no_fork)
    searcher = LocalSearcher(EventFiles([SAMPLES]), SearchSettings())
    searcher.parallel_runs = 4
    assert searcher.search_hunts(many_hunts(lua_hunt), None) == alone


def finished_in_one_and_two_processes(
    monkeypatch: pytest.MonkeyPatch, hunts: list[Hunt]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``search_and_finish`` of ``hunts`` over the samples in one process and split over two, each
    hunt finished into (the pid that finished it, its matches by query); answers are checked equal."""
    import hunter.search.local as local

    def finish(hunt: Hunt, results: list[QueryResult]) -> tuple[int, list[tuple[str, list[list[str]]]]]:
        return os.getpid(), [(r.query, sorted([e.id for e in m.events] for m in r.matches)) for r in results]

    searches = [(hunt, None) for hunt in hunts]
    alone = LocalSearcher(EventFiles([SAMPLES]), SearchSettings(), processes=1).search_and_finish(
        searches, finish
    )
    monkeypatch.setattr(local, "_may_fork", lambda: True)
    searcher = LocalSearcher(EventFiles([SAMPLES]), SearchSettings())
    searcher.parallel_runs = 4
    split = searcher.search_and_finish(searches, finish)
    assert {hunt_id: answer for hunt_id, (_pid, answer) in split.items()} == {
        hunt_id: answer for hunt_id, (_pid, answer) in alone.items()
    }
    return alone, split


def test_a_split_pass_finishes_hunts_in_both_processes_with_the_answers_of_one(
    monkeypatch: pytest.MonkeyPatch, lua_hunt: Hunt
) -> None:
    """``search_and_finish`` runs ``finish`` of each hunt in one of the two processes (the helper's
    answers come back pickled): the helper keeps at least the hunt it begins with, whatever the
    parent takes from it (tests/search/test_sharing.py), and every hunt's answer is the one a single
    process gives."""
    hunts = many_hunts(lua_hunt)
    _alone, split = finished_in_one_and_two_processes(monkeypatch, hunts)
    pids = {split[hunt.id][0] for hunt in hunts}
    assert len(pids - {os.getpid()}) == 1  # the helper concluded some
    assert any(matches for _pid, answer in split.values() for _query, matches in answer)


def test_hunter_hunt_over_a_split_pass_writes_the_alerts_of_one_process(
    monkeypatch: pytest.MonkeyPatch, lua_hunt: Hunt
) -> None:
    """A sweep whose pass (and alert building) is split over two processes writes the same alert
    documents, in the same order, as one process."""
    import hunter.search.local as local
    from hunter.config import Settings
    from hunter.sweep import sweep

    def documents(processes: int) -> list[dict[str, Any]]:
        searcher = LocalSearcher(EventFiles([SAMPLES]), SearchSettings(), processes=processes)
        searcher.parallel_runs = 4
        swept = sweep(Settings(), many_hunts(lua_hunt), searcher, None)
        lines = swept.lines()  # as hunter hunt writes them: the helper's as their JSON came
        found = swept.documents
        assert [orjson.loads(line) for line in lines] == found
        for document in found:  # the moment of building differs
            document["event"].pop("created"), document["event"].pop("ingested")
            document["hunter"].pop("created"), document["hunter"].pop("updated")
        return found

    alone = documents(1)
    monkeypatch.setattr(local, "_may_fork", lambda: True)
    assert alone and documents(2) == alone


def test_alert_documents_cross_the_pipe_as_json_and_are_parsed_when_read() -> None:
    """A sweep's documents pickle as JSON texts with their order (a forked helper sends them so),
    are parsed only when read, and anything orjson cannot write goes the ordinary way."""
    from hunter.sweep import Documents, order

    docs: list[dict[str, Any]] = [
        {"@timestamp": "2026-11-20T10:00:00Z", "event": {"id": "b"}, "n": [1, {"x": None}]},
        {"@timestamp": "2026-11-20T09:00:00Z", "event": {"id": "a"}},
    ]
    sent = pickle.loads(pickle.dumps(Documents(docs)))
    assert sent._documents is None and len(sent) == 2  # not parsed to be counted
    assert sent.encoded() == [(order(doc), orjson.dumps(doc)) for doc in docs]
    assert list(sent) == docs and sent[1] == docs[1]
    huge: list[dict[str, Any]] = [{"@timestamp": "x", "n": 2**70}]
    assert list(pickle.loads(pickle.dumps(Documents(huge)))) == huge


def test_a_multi_valued_timestamp_is_read_without_streaming(tmp_path: Path, lua_hunt: Hunt) -> None:
    """Files are merged by an event's first timestamp value, queries order by the smallest (as
    Elasticsearch does): a line with several values makes the pass read the files unstreamed, so a
    sequence whose first event is ordered by its smaller value is found, as buffering finds it."""
    from hunter.hunts import HuntQuery

    text = 'sequence by host.id [process where process.name == "a"] [process where process.name == "b"]'
    hunt = dataclasses.replace(lua_hunt, indices=("*",), queries=(HuntQuery("q", text, compile_query(text)),))

    def event(stamp: str | list[str], name: str) -> dict[str, Any]:
        return {
            "@timestamp": stamp,
            "event": {"category": ["process"]},
            "process": {"name": name},
            "host": {"id": "h"},
        }

    write_ndjson(
        tmp_path / "x.ndjson",
        [event("2024-01-01T00:00:02Z", "b"), event(["2024-01-01T00:00:03Z", "2024-01-01T00:00:01Z"], "a")],
    )
    with structlog.testing.capture_logs() as logs:
        (result,) = LocalSearcher(EventFiles([tmp_path]), SearchSettings(), prefilter=False).search(
            hunt, None
        )
    assert len(result.matches) == 1
    assert any("has several values" in str(entry.get("reason")) for entry in logs)


def test_the_runs_of_a_pass_are_made_when_first_used_and_once() -> None:
    """A pass's runs are made on first use (a split pass makes in each process only its share's)."""
    from hunter.search.local import _Runs

    made: list[int] = []

    def maker(number: int) -> Any:
        def make() -> Any:
            made.append(number)
            return [number]

        return make

    runs = _Runs([maker(number) for number in range(4)])
    assert len(runs) == 4 and made == []
    assert runs[2] is runs[2] and made == [2]
    assert [run[0] for run in runs] == [0, 1, 2, 3] and made == [2, 0, 1, 3]
