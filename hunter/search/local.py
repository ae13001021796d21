"""Events from local files (NDJSON, JSON arrays, gzip; files or folders), searched with the embedded engine.

A line that is an Elasticsearch hit (``_index``, ``_id``, ``_source``) keeps its ids; otherwise
``_index`` is the file name without its extensions and ``_id`` the hex sha256 of the raw line, so
ids are stable across runs. A bad line (not JSON, not an object, no or unparsable timestamp) is
skipped, counted and logged with its file and line number; the run goes on.

A search skips, unparsed, the lines that hold no text any of its queries needs
(:mod:`hunter.eql.prefilter`; ``prefilter=False`` parses every line): they are counted in
``ReadStats.unparsed``, and a bad line among them is not found (lines that are not objects, or
lack the timestamp field's name, are always parsed). A search with many queries (a rule library)
splits them between this process and a forked helper that reads the files too.
"""

from __future__ import annotations

import copy
import functools
import gzip
import hashlib
import heapq
import os
import signal
import tempfile
import threading
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NoReturn, Protocol, TypeVar

import orjson
import structlog

from ..config import SearchSettings, Settings
from ..eql import (
    Dispatcher,
    FieldInfo,
    LinePrefilter,
    UnsortedInputError,
    freeze_held,
    multi_fields_of,
    paused_collector,
)
from ..eql.fields import flatten, make_getter
from ..eql.prefilter import CATEGORY_FIELD, category_filter, query_categories
from ..eql.values import MIN_DATE_NS, fast_iso_ns, timestamp_ns
from ..errors import ConfigError, EventSourceError
from ..hunts import Hunt
from ..indices import IndexPatterns, data_stream_name
from ..results import QueryResult, Window, matches_of
from . import TimeField, eql_fields, time_field
from .shares import Shares, alternate, sample_categories, split
from .sharing import Channel, Sharing

log = structlog.get_logger(__name__)

MAX_MERGED_FILES = 256  # more files than this are read one at a time (the merge opens all of them)
BOM = b"\xef\xbb\xbf"  # a UTF-8 byte-order mark some exporters (and Windows tools) write first
EXTENSIONS = (".ndjson", ".jsonl", ".json", ".ndjson.gz", ".jsonl.gz", ".json.gz")
_LOGGED_PER_FILE = 20
ALL_HITS = 10**12  # locally nothing is capped: every hit is returned
PARALLEL_RUNS = 64  # fewer queries than this are not worth a second process reading the files
FREEZE_EVERY = 1_024  # events between two freezes of what a pass holds (collector.freeze_held)


_ABSENT = object()
_T = TypeVar("_T")


class LocalHit(Mapping[str, Any]):
    """An event read from a file: a hit-shaped mapping whose ``_id`` is computed only when asked."""

    __slots__ = ("_id_value", "_index", "_raw", "_source", "timestamp_ns")

    def __init__(
        self, index: str, source: Mapping[str, Any], timestamp_ns: int, raw: bytes, hit_id: str | None
    ) -> None:
        self._index = index
        self._source = source
        self._raw = raw
        self._id_value = hit_id
        self.timestamp_ns = timestamp_ns

    @property
    def id(self) -> str:
        """The hit's ``_id``: its own, or the sha256 of its raw line."""
        if self._id_value is None:
            self._id_value = hashlib.sha256(self._raw.rstrip(b"\r\n")).hexdigest()
            self._raw = b""
        return self._id_value

    def __getitem__(self, key: str) -> Any:
        value = self.get(key, _ABSENT)
        if value is _ABSENT:
            raise KeyError(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        """Mapping.get without the exception round trip (the engine calls this per event)."""
        if key == "_source":
            return self._source
        if key == "_index":
            return self._index
        if key == "_id":
            return self.id
        return default

    def __iter__(self) -> Iterator[str]:
        return iter(("_index", "_id", "_source"))

    def __len__(self) -> int:
        return 3


class ReadObserver(Protocol):
    """Told how far the reading of each file has come (a progress bar)."""

    def advanced(self, path: str, events: int, position: int) -> None:
        """``path`` has given ``events`` lines so far, ``position`` bytes into it."""

    def file_done(self, path: str, events: int, size: int) -> None:
        """``path`` is read: ``events`` lines, ``size`` bytes."""


PROGRESS_LINES = 16_384  # lines between two reports to the observer
Wants = Callable[[bytes], bool]  # whether a raw line may hold an event some query uses


@dataclass
class ReadStats:
    """What reading the files gave: lines read, events kept, bad lines by reason, and lines skipped
    unparsed (they hold no text any hunt's query needs, so no query could use them; never checked
    for being bad lines)."""

    lines: int = 0
    events: int = 0
    bad: Counter[str] = field(default_factory=Counter)
    unparsed: int = 0

    @property
    def bad_lines(self) -> int:
        """All lines skipped as bad."""
        return sum(self.bad.values())


class EventFiles:
    """The event files under the configured paths, read as :class:`LocalHit` streams."""

    def __init__(
        self,
        paths: Sequence[Path],
        timestamp_field: str = "@timestamp",
        *,
        on_bad_line: Callable[[], None] | None = None,
    ) -> None:
        self.paths = list(paths)
        self.timestamp_field = timestamp_field
        self._timestamp = make_getter(tuple(timestamp_field.split(".")))
        # a line without this text has no timestamp field: a bad line, parsed (and so reported) even
        # when a prefilter would skip it
        self._stamp = orjson.dumps(timestamp_field.rsplit(".", 1)[-1])[1:]
        self.stats = ReadStats()
        self.on_bad_line = on_bad_line
        self.observer: ReadObserver | None = None
        self.quiet = False  # log nothing (a helper process reading the same files as another)
        self._reported: set[tuple[str, int, int]] = set()  # (file, line, file size): each bad line once

    def check_readable(self) -> None:
        """Open every event file and read a byte (gzip decompressed), so bad files fail before any write."""
        for path in self.files():
            try:
                with _open(path) as handle:
                    handle.read(1)
            except (OSError, EOFError) as exc:
                raise EventSourceError(f"{path}: cannot read: {exc}") from exc

    def files(self) -> list[Path]:
        """Every event file, sorted; a missing path is an error (an empty folder just has no events)."""
        found: list[Path] = []
        for path in self.paths:
            if path.is_dir():
                inside = sorted(
                    p for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(EXTENSIONS)
                )
                found.extend(inside)
            elif path.is_file():
                found.append(path)
            else:
                raise EventSourceError(f"{path}: no such file or folder of events")
        return found

    def hits(self, window: Window | None = None, *, wants: Wants | None = None) -> Iterator[LocalHit]:
        """Every good event in file order (optionally only those inside ``window``); with ``wants``,
        a line that looks like an object (starts with ``{``) is parsed only when ``wants(line)``."""
        for path in self.files():
            yield from self._read(path, window, wants=wants)

    def hits_by_time(self, window: Window | None = None, *, wants: Wants | None = None) -> Iterator[LocalHit]:
        """Events of all files merged by timestamp (:class:`UnsortedInputError` if a file is out of
        order among the lines parsed); ``wants`` as for :meth:`hits`."""
        streams = [self._read(path, window, ordered=True, wants=wants) for path in self.files()]
        if len(streams) == 1:
            return streams[0]
        return heapq.merge(*streams, key=_timestamp_of)

    def _read(
        self, path: Path, window: Window | None, *, ordered: bool = False, wants: Wants | None = None
    ) -> Iterator[LocalHit]:
        """The good events of one file (inside ``window``); with ``ordered``, raise
        :class:`UnsortedInputError` at the first event older than the one before it. A line that
        starts with ``{``, holds the name of the timestamp field and that ``wants`` refuses is
        counted as unparsed and not looked at (other lines are parsed, so most bad lines are still
        found: those that are not objects or have no timestamp field)."""
        index = index_name(path)
        try:
            size = path.stat().st_size
            handle = _open(path)
        except OSError as exc:
            raise EventSourceError(f"{path}: cannot read: {exc.strerror or exc}") from exc
        logged = number = kept = unparsed = 0
        latest = MIN_DATE_NS
        with handle:
            try:
                head = handle.peek(64) if hasattr(handle, "peek") else b""
                first = head.removeprefix(BOM).lstrip()[:1]
                lines: Iterator[tuple[int, bytes]]
                unit = "line"
                if first == b"[" and path.name.lower().endswith((".json", ".json.gz")):
                    lines, unit = _array_elements(path, handle), "element"
                else:
                    lines = (
                        _without_bom(enumerate(handle, start=1))
                        if head.startswith(BOM)
                        else (enumerate(handle, start=1))
                    )
                loads, timestamp, fast = orjson.loads, self._timestamp, fast_iso_ns
                start, end = (window.start_ns, window.end_ns) if window is not None else (None, None)
                observer, name = self.observer, str(path)
                stamp = self._stamp
                for number, raw in lines:
                    if observer is not None and not number % PROGRESS_LINES:
                        observer.advanced(name, number, min(_position(handle), size))
                    if wants is not None and raw[:1] == b"{" and stamp in raw and not wants(raw):
                        unparsed += 1
                        continue
                    # The usual line (a JSON object with an ISO timestamp) is handled inline; anything
                    # else goes through _parse, which also names the problem of a bad line.
                    try:
                        document = loads(raw)
                    except orjson.JSONDecodeError:
                        document = None
                    hit: LocalHit | None = None
                    slow = False  # the timestamp is not one string: read by _parse
                    if document.__class__ is dict and "_source" not in document:
                        value = timestamp(document)
                        ns = fast(value) if value.__class__ is str else None
                        if ns is not None:
                            where = (
                                data_stream_name(document) or index
                                if "data_stream" in document or "data_stream.type" in document
                                else index
                            )
                            hit = LocalHit(where, document, ns, raw, None)  # id: sha256 of the stripped line
                    if hit is None:
                        slow = True
                        hit, reason = self._parse(raw, index)
                        if hit is None:
                            if reason is None:
                                continue
                            self.stats.bad[reason] += 1
                            marker = (str(path), number, size)
                            if marker in self._reported:
                                continue
                            self._reported.add(marker)
                            if self.on_bad_line is not None:
                                self.on_bad_line()
                            logged += 1
                            if logged <= _LOGGED_PER_FILE and not self.quiet:
                                log.warning(
                                    "bad event line skipped", file=str(path), reason=reason, **{unit: number}
                                )
                            continue
                    if start is not None and not start <= hit.timestamp_ns <= end:  # type: ignore[operator]
                        continue
                    if ordered:
                        if hit.timestamp_ns < latest:
                            raise UnsortedInputError(f"{path}: events are not in time order")
                        if slow and self._several_times(hit):
                            # ordered here by its first value, by queries by its smallest (as in
                            # Elasticsearch): this order would not be theirs
                            raise UnsortedInputError(
                                f"{path}: {unit} {number}: {self.timestamp_field} has several values"
                            )
                        latest = hit.timestamp_ns
                    kept += 1
                    yield hit
            except (EOFError, zlib.error, gzip.BadGzipFile, EventSourceError) as exc:
                # A truncated .gz or a broken JSON array: what was read is used, the rest of the file
                # cannot be; said once, counted as a bad line, and the run goes on. (Write event files
                # whole, then rename them into place: a file still being copied looks the same.)
                self._damaged(path, size, number, exc)
            except OSError as exc:  # EIO, ESTALE, ...: may pass; the run fails and is retried
                raise EventSourceError(f"{path}: cannot read after line {number}: {exc}") from exc
            self.stats.lines += number
            self.stats.events += kept
            self.stats.unparsed += unparsed
            if self.observer is not None:
                self.observer.file_done(str(path), number, size)
        if logged > _LOGGED_PER_FILE and not self.quiet:
            log.warning("more bad event lines skipped", file=str(path), count=logged - _LOGGED_PER_FILE)

    def _damaged(self, path: Path, size: int, read: int, exc: BaseException) -> None:
        self.stats.bad["damaged file"] += 1
        marker = (str(path), -1, size)
        if marker in self._reported:
            return
        self._reported.add(marker)
        if self.on_bad_line is not None:
            self.on_bad_line()
        if self.quiet:
            return
        detail = str(exc).removeprefix(f"{path}: ")
        log.error(
            "event file damaged; the rest of it is skipped",
            file=str(path),
            after_line=read,
            error=f"{type(exc).__name__}: {detail}",
        )

    def _several_times(self, hit: LocalHit) -> bool:
        value = self._timestamp(hit._source)
        return isinstance(value, list) and len(value) > 1

    def _parse(self, raw: bytes, index: str) -> tuple[LocalHit | None, str | None]:
        line = raw.rstrip(b"\r\n")
        if not line.strip():
            return None, None
        try:
            document = orjson.loads(line)
        except orjson.JSONDecodeError:
            return None, "not JSON"
        if not isinstance(document, dict):
            return None, "not a JSON object"
        source = document.get("_source")
        hit_id: str | None = None
        if isinstance(source, dict) and "_id" in document:
            index = str(document.get("_index") or index)
            hit_id = str(document["_id"])
        else:
            source = document
            index = data_stream_name(source) or index
        value = self._timestamp(source)
        if value is None:
            return None, f"no {self.timestamp_field}"
        ns = timestamp_ns(value)
        if ns is None:
            return None, f"unparsable {self.timestamp_field}"
        return LocalHit(index, source, ns, line, hit_id), None


def _position(handle: IO[bytes]) -> int:
    """Bytes read of the file under ``handle`` (of the compressed file for gzip)."""
    inner = getattr(handle, "fileobj", None)
    try:
        return int((inner or handle).tell())
    except (OSError, ValueError):
        return 0


def _source_of(hit: LocalHit) -> Mapping[str, Any]:
    return hit._source


def _timestamp_of(hit: LocalHit) -> int:
    return hit.timestamp_ns


def index_name(path: Path) -> str:
    """A file's name without its event-file extensions (``auditbeat-8.15.3-2026.11.20.ndjson``)."""
    name = path.name
    for extension in sorted(EXTENSIONS, key=len, reverse=True):
        if name.lower().endswith(extension):
            return name[: -len(extension)]
    return name


def _open(path: Path) -> IO[bytes]:
    if path.name.lower().endswith(".gz"):
        return gzip.GzipFile(path, "rb")  # type: ignore[return-value]  # a binary file object
    return path.open("rb")


def _without_bom(lines: Iterator[tuple[int, bytes]]) -> Iterator[tuple[int, bytes]]:
    """The numbered lines of a file that starts with a UTF-8 byte-order mark, without it."""
    for number, raw in lines:
        yield number, raw.removeprefix(BOM) if number == 1 else raw


def _array_elements(path: Path, handle: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    """Elements of a JSON-array file as canonical JSON lines (numbered from 1)."""
    try:
        elements = orjson.loads(handle.read().removeprefix(BOM))
    except orjson.JSONDecodeError as exc:
        raise EventSourceError(f"{path}: not a valid JSON array: {exc}") from exc
    if not isinstance(elements, list):
        raise EventSourceError(f"{path}: expected a JSON array of events")
    for number, element in enumerate(elements, start=1):
        yield number, orjson.dumps(element, option=orjson.OPT_SORT_KEYS)


def _may_fork() -> bool:
    """Whether a second process may be forked to share a pass: two cores, and no other thread here."""
    if not hasattr(os, "fork") or threading.active_count() != 1:
        return False
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return cores >= 2


def _weights(plan: _PassPlan, hunts: Sequence[int], found: Mapping[int, dict[str, Any]]) -> dict[int, int]:
    """What concluding each hunt of ``hunts`` costs: one, and one more for each match found (an
    alert document each, at most)."""
    return {
        number: 1
        + sum(
            len(found[run].get("events") or found[run].get("sequences") or ())
            for run in plan.hunt_runs[number]
        )
        for number in hunts
    }


class _Scope:
    """The events one hunt's queries see: those of its indices, inside the window on its time field."""

    def __init__(
        self,
        patterns: IndexPatterns,
        time: TimeField,
        window: Window | None,
        *,
        timed: bool,
        reader_field: str,
    ) -> None:
        self.patterns = patterns
        self.window = window
        self.timed = timed and window is not None  # False: the reader already kept only the window
        self.override = make_getter(tuple(time.override.split("."))) if time.override else None
        self.fallback = time.fallback
        # the hunt's own timestamp field, when it is not the one the reader parsed into timestamp_ns
        self.timestamp = (
            None if time.timestamp == reader_field else make_getter(tuple(time.timestamp.split(".")))
        )
        self.admitted = 0

    def admits(self, hit: LocalHit) -> bool:
        """Whether ``hit`` is in this hunt's indices and window (counted when it is)."""
        if not self.patterns.matches(hit._index):
            return False
        if self.timed:
            assert self.window is not None
            if not self._in_window(hit, self.window.start_ns, self.window.end_ns):
                return False
        self.admitted += 1
        return True

    def _in_window(self, hit: LocalHit, start: int, end: int) -> bool:
        if self.override is not None:
            values = flatten(self.override(hit._source))
            if values:  # a range query on a multi-valued field matches when any value is inside
                return any(ns is not None and start <= ns <= end for ns in map(timestamp_ns, values))
            if not self.fallback:
                return False
        if self.timestamp is not None:
            ns = timestamp_ns(self.timestamp(hit._source))
            return ns is not None and start <= ns <= end
        return start <= hit.timestamp_ns <= end


@dataclass
class _PassPlan:
    """What one pass feeds: the runs of every hunt's queries in order, each hunt's run numbers, and
    each run's scope (hunts with the same indices, time field and window share one)."""

    runs: _Runs
    hunt_runs: list[range] = field(default_factory=list)
    run_scope: list[int] = field(default_factory=list)
    scopes: list[_Scope] = field(default_factory=list)

    def runs_of(self, hunts: Sequence[int]) -> list[int]:
        """The run numbers of the hunts numbered ``hunts``."""
        return [run for number in hunts for run in self.hunt_runs[number]]


class LocalSearcher:
    """Runs a hunt's queries over local event files with the embedded engine, one read per window.

    Each hunt sees only the events of its index patterns (:mod:`hunter.indices`) inside the window
    on its time field (``timestamp_override`` with the fallback to the timestamp field).
    """

    def __init__(
        self,
        files: EventFiles,
        settings: SearchSettings,
        *,
        prefilter: bool = True,
        processes: int = 2,
        multi_fields: Mapping[str, FieldInfo] | None = None,
    ) -> None:
        self.files = files
        self.settings = settings
        # multi-fields of the given index mappings (``[embedded] mappings``): how ``x.caseless`` and
        # the like read ``x``; without them Elastic's ``.caseless``/``.text`` are assumed
        self.multi_fields = dict(multi_fields or {})
        self.prefilter = prefilter  # skip lines no query can use before parsing them (:mod:`..eql.prefilter`)
        # a pass with at least ``parallel_runs`` queries is split over this many processes (1 or 2)
        # where the machine has the cores and this process no other thread (forking one that has is
        # unsafe: the service's scheduler); each process reads the files
        self.processes = processes
        self.parallel_runs = PARALLEL_RUNS
        self._patterns: dict[tuple[str, ...], IndexPatterns] = {}  # matches remembered across runs
        # hunt id -> events of its indices and window its last search looked at; None when it looked
        # at none but lines were skipped unparsed (whether any of them was in its indices is unknown)
        self.searched: dict[str, int | None] = {}

    def search(self, hunt: Hunt, window: Window | None) -> list[QueryResult]:
        """Every match of every enabled query of ``hunt`` inside ``window`` (all events when None)."""
        return self.search_hunts([hunt], window)[hunt.id]

    def search_hunts(self, hunts: Sequence[Hunt], window: Window | None) -> dict[str, list[QueryResult]]:
        """Several hunts over one read of the files (streamed when the files are in time order)."""
        return self.search_windows([(hunt, window) for hunt in hunts])

    def search_windows(self, searches: Sequence[tuple[Hunt, Window | None]]) -> dict[str, list[QueryResult]]:
        """Several hunts, each over its own window (None: every event), in one read of the files:
        the read covers every window, and each hunt sees only the events of its own."""
        return self.search_and_finish(searches, lambda _hunt, results: results)

    def search_and_finish(
        self,
        searches: Sequence[tuple[Hunt, Window | None]],
        finish: Callable[[Hunt, list[QueryResult]], _T],
    ) -> dict[str, _T]:
        """:meth:`search_windows`, then ``finish`` of each hunt and its results, by hunt id. When the
        pass is split over two processes each finishes the hunts it searched, and one that runs out
        takes some of the other's (what ``finish`` returns comes back pickled), so work such as
        building alert documents is shared too; ``finish`` must not depend on where it runs."""
        hunts = [hunt for hunt, _window in searches]
        windows = [window for _hunt, window in searches]
        times = [time_field(hunt, self.settings) for hunt in hunts]
        # Without overrides the reader keeps only the windows' span; with one, an event outside the
        # span on its timestamp may be inside on the override (ingested late), so every event is read.
        plain = self.settings.timestamp_field
        read_window = (
            Window(min(w.start_ns for w in windows), max(w.end_ns for w in windows))  # type: ignore[union-attr]
            if windows
            and None not in windows
            and all(t.override is None and t.timestamp == plain for t in times)
            else None
        )

        def conclude(number: int, outputs: list[dict[str, Any]]) -> _T:
            hunt = hunts[number]
            timestamp = eql_fields(hunt, self.settings).timestamp
            results = [
                QueryResult(query=query.name, matches=matches_of(query.name, output, timestamp), requests=1)
                for query, output in zip(hunt.queries, outputs, strict=True)
            ]
            return finish(hunt, results)

        def attempt(presorted: bool) -> tuple[list[_Scope], list[_T]]:
            """One pass: streamed over the files merged by time, or (not presorted) file by file
            (with the collector paused throughout: a collection would walk every loaded rule)."""
            reader = self.files.hits_by_time if presorted else self.files.hits

            def read(wants: Wants | None) -> Iterator[LocalHit]:
                return reader(read_window, wants=wants)

            with paused_collector():
                scopes = self._scopes(hunts, times, windows, read_window)
                return scopes, self._feed(hunts, scopes, read, conclude, presorted=presorted)

        before = copy.deepcopy(self.files.stats)
        count = len(self.files.files())
        try:
            if count > MAX_MERGED_FILES:  # merging keeps every file open at once
                raise UnsortedInputError(f"{count} event files: more than {MAX_MERGED_FILES} to merge")
            scopes, finished = attempt(presorted=True)
        except UnsortedInputError as exc:
            log.info("reading the event files one by one without streaming", reason=str(exc))
            self.files.stats = copy.deepcopy(before)
            scopes, finished = attempt(presorted=False)
        skipped = self.files.stats.unparsed > before.unparsed
        for hunt, scope in zip(hunts, scopes, strict=True):
            self.searched[hunt.id] = None if skipped and not scope.admitted else scope.admitted
        return {hunt.id: result for hunt, result in zip(hunts, finished, strict=True)}

    def _scopes(
        self,
        hunts: Sequence[Hunt],
        times: Sequence[TimeField],
        windows: Sequence[Window | None],
        read: Window | None,
    ) -> list[_Scope]:
        """One scope per hunt; hunts with the same indices, time field and window share one (tested
        once). A scope tests each event's time itself unless the reader kept exactly its window."""
        shared: dict[tuple[Any, ...], _Scope] = {}
        scopes = []
        for hunt, time, window in zip(hunts, times, windows, strict=True):
            key = (hunt.indices, time, window)
            scope = shared.get(key)
            if scope is None:
                patterns = self._patterns.get(hunt.indices)
                if patterns is None:
                    patterns = self._patterns[hunt.indices] = IndexPatterns(hunt.indices)
                scope = shared[key] = _Scope(
                    patterns,
                    time,
                    window,
                    timed=read is None or window != read,
                    reader_field=self.settings.timestamp_field,
                )
            scopes.append(scope)
        return scopes

    def _feed(
        self,
        hunts: Sequence[Hunt],
        scopes: Sequence[_Scope],
        read: Callable[[Wants | None], Iterator[LocalHit]],
        conclude: Callable[[int, list[dict[str, Any]]], _T],
        *,
        presorted: bool,
    ) -> list[_T]:
        """One pass over the events ``read`` gives (skipping, when allowed, the lines no run can use):
        each event goes to the runs the dispatcher names for it, of the scopes that admit it; then
        ``conclude`` of each hunt's number and its runs' outputs, in hunt order. Many runs are split
        between this process and a forked helper, each reading the files and concluding its hunts."""
        plan = _PassPlan(self._runs(hunts, presorted=presorted))
        prefilter = LinePrefilter.for_runs(plan.runs) if self.prefilter and plan.runs else None
        wants = prefilter.wants if prefilter is not None else None
        distinct: dict[int, int] = {}
        for hunt, scope in zip(hunts, scopes, strict=True):
            number = distinct.get(id(scope))
            if number is None:
                number = distinct[id(scope)] = len(plan.scopes)
                plan.scopes.append(scope)
            plan.hunt_runs.append(range(len(plan.run_scope), len(plan.run_scope) + len(hunt.queries)))
            plan.run_scope.extend([number] * len(hunt.queries))

        def conclude_one(number: int, found: Mapping[int, dict[str, Any]]) -> _T:
            freeze_held()  # the documents made so far are not walked again and again
            return conclude(number, [found[run] for run in plan.hunt_runs[number]])

        everyone = range(len(hunts))
        concluded = None
        if self.processes > 1 and len(plan.runs) >= self.parallel_runs and _may_fork():
            concluded = self._forked(plan, hunts, read, wants, conclude_one)
        if concluded is None:  # one process
            found = self._pass(plan, plan.runs_of(everyone), read(wants))
            # after the pass, as during it, collections need not walk what is held (hunts, matches)
            with paused_collector():
                concluded = {number: conclude_one(number, found) for number in everyone}
        return [concluded[number] for number in everyone]

    def _pass(
        self, plan: _PassPlan, share: Sequence[int], hits: Iterator[LocalHit]
    ) -> dict[int, dict[str, Any]]:
        """The pass itself, feeding the runs numbered ``share``; every event counts towards the scopes
        that admit it (an untimed scope's admission depends on the event's index alone)."""
        # made while the caller's block (search_and_finish) keeps collections paused
        scope_list = plan.scopes
        mine = [plan.runs[number] for number in share]
        my_scope = [plan.run_scope[number] for number in share]
        untimed = [number for number, scope in enumerate(scope_list) if not scope.timed]
        timed = [(number, scope.admits) for number, scope in enumerate(scope_list) if scope.timed]
        by_index: dict[str, frozenset[int]] = {}
        per_index: Counter[str] = Counter()
        everything = range(len(mine))
        scopes = len(scope_list)

        def runs_of(source: Mapping[str, Any]) -> Iterable[int]:
            return everything

        accepts = [run.accept for run in mine]
        if len(mine) > 1:  # the dispatcher names targets: a run may have several (Run.targets)
            dispatcher = Dispatcher.for_runs(mine)
            runs_of, accepts = dispatcher.runs, dispatcher.accepts
            my_scope = [my_scope[run] for run in dispatcher.owners]
        with paused_collector():  # frozen again: the runs and dispatcher just made are not walked
            if len(mine) > 1:
                hits = dispatcher.learn_ahead(hits, _source_of)
            for position, hit in enumerate(hits):
                if not position % FREEZE_EVERY:  # what the runs hold is not walked again and again
                    freeze_held()
                index = hit._index
                admitted = by_index.get(index)
                if admitted is None:
                    admitted = by_index[index] = frozenset(
                        number for number in untimed if scope_list[number].patterns.matches(index)
                    )
                per_index[index] += 1
                if timed:
                    admitted = admitted | {number for number, admits in timed if admits(hit)}
                if not admitted:
                    continue
                source = hit._source
                if len(admitted) == scopes:  # every scope (the usual case): no target to leave out
                    for target in runs_of(source):
                        accepts[target](position, hit, source)
                    continue
                for target in runs_of(source):
                    if my_scope[target] in admitted:
                        accepts[target](position, hit, source)
        for number in untimed:
            scope = scope_list[number]
            scope.admitted += sum(count for index, count in per_index.items() if number in by_index[index])
        return {number: run.finish() for number, run in zip(share, mine, strict=True)}

    def _forked(
        self,
        plan: _PassPlan,
        hunts: Sequence[Hunt],
        read: Callable[[Wants | None], Iterator[LocalHit]],
        wants: Wants | None,
        conclude: Callable[[int, Mapping[int, dict[str, Any]]], _T],
    ) -> dict[int, _T] | None:
        """Some hunts searched in a forked helper process, the rest here (:mod:`.shares`: when the
        helper's hunts all look at a few event categories, it parses only the lines of those); both
        read the files with ``read`` (``wants``: the lines any hunt can use), and this process alone
        parses every line, counts, logs and shows progress. Then each concludes its hunts, and one
        that runs out takes some of the other's (:mod:`.sharing`): the two shares seldom cost the
        same to search or to conclude, and one hunt can find half of all matches. What the helper
        concludes comes back pickled, through a file the two share. Hunts are independent, so the
        results are those of one process; an error of the helper is raised here, and an error here
        ends the helper.
        None when no process can be forked: the caller does it all."""
        shares = self._shares(hunts)
        mine, theirs = shares.mine, shares.theirs
        answers, orders = os.pipe(), os.pipe()  # helper -> here, here -> helper
        # the helper's answers, read here; closed below (the helper never returns)
        spill = tempfile.TemporaryFile(prefix="hunter-answers-")  # noqa: SIM115
        try:
            pid = os.fork()
        except OSError as exc:  # no process to be had (a limit)
            for end in (*answers, *orders):
                os.close(end)
            spill.close()
            log.info("searching in one process", reason=f"cannot fork: {exc}")
            return None
        if pid == 0:  # the helper: never returns
            os.close(answers[0])
            os.close(orders[1])
            helper_wants = wants
            if shares.categories is not None:
                category = category_filter(shares.categories)
                helper_wants = category if wants is None else (lambda line: wants(line) and category(line))
            self._help(
                plan,
                theirs,
                lambda: read(helper_wants),
                conclude,
                channel=Channel(orders[0], answers[1]),
                spill=spill.fileno(),
            )
        os.close(answers[1])
        os.close(orders[0])
        channel = Channel(answers[0], orders[1])
        log.info(
            "searching in two processes",
            here=len(mine),
            helper=len(theirs),
            helper_reads=sorted(shares.categories) if shares.categories is not None else "every line",
        )
        # (collections stay paused by the caller's block to the last answer, as in the helper,
        # whose pages this process shares until it ends)
        sharing = None
        try:
            found = self._pass(plan, plan.runs_of(mine), read(wants))
            weights = _weights(plan, mine, found)
            sharing = Sharing(
                channel,
                mine,
                weights,
                found,
                runs_of=plan.runs_of,
                conclude=conclude,
                parent=True,
                spill=spill.fileno(),
            )
            concluded = sharing.run()
            concluded.update(sharing.helper_answer())
        except BaseException:
            os.kill(pid, signal.SIGKILL)
            raise
        finally:
            os.waitpid(pid, 0)
            if sharing is not None:
                sharing.stop()  # its reader has seen the helper end
            channel.close()
            spill.close()
        return concluded

    def _shares(self, hunts: Sequence[Hunt]) -> Shares:
        """Which hunts this process and the helper search (:func:`.shares.split`; every other hunt
        when lines are never skipped, ``prefilter`` off)."""
        if not self.prefilter:
            return alternate(len(hunts))
        looked_at = [self._categories(hunt) for hunt in hunts]
        return split(looked_at, sample_categories(self.files.files(), _open))

    def _categories(self, hunt: Hunt) -> frozenset[str] | None:
        """The event categories of which every event ``hunt`` can use has one (its queries' stages'),
        or None: a stage looks at any event, or the hunt's category field is not ``event.category``
        read as it comes (another field, or one the mapping converts), which the helper's line
        filter looks for."""
        field = eql_fields(hunt, self.settings).event_category
        if field != CATEGORY_FIELD or CATEGORY_FIELD in self.multi_fields:
            return None
        found: set[str] = set()
        for query in hunt.queries:
            categories = query_categories(query.compiled.statement)
            if categories is None:
                return None
            found |= categories
        return frozenset(found)

    def _help(
        self,
        plan: _PassPlan,
        hunts: Sequence[int],
        hits: Callable[[], Iterator[LocalHit]],
        conclude: Callable[[int, Mapping[int, dict[str, Any]]], Any],
        *,
        channel: Channel,
        spill: int,
    ) -> NoReturn:
        """The forked helper: the runs of its share of the hunts, silently; then its side of
        concluding them (:class:`.sharing.Sharing`), and what it concluded sent (or the error)."""
        status = 0
        try:
            # Collections stay paused to the end, sending included: a full one here would walk (and
            # so copy, page by page) the whole heap this process shares with its parent.
            with paused_collector():
                try:
                    self.files.observer = None
                    self.files.on_bad_line = None
                    self.files.quiet = True
                    found = self._pass(plan, plan.runs_of(hunts), hits())
                    weights = _weights(plan, hunts, found)
                    concluded = Sharing(
                        channel,
                        hunts,
                        weights,
                        found,
                        runs_of=plan.runs_of,
                        conclude=conclude,
                        parent=False,
                        spill=spill,
                    ).run()
                    channel.send("concluded", concluded)
                except BaseException as exc:  # noqa: BLE001 - handed to the parent, which raises it
                    channel.send("error", exc)
        except BaseException:  # noqa: BLE001 - the parent sees the pipe end early and says so
            status = 1
        os._exit(status)

    def _runs(self, hunts: Sequence[Hunt], *, presorted: bool) -> _Runs:
        makers: list[Callable[[], Any]] = []
        for hunt in hunts:
            fields = eql_fields(hunt, self.settings)
            makers.extend(
                functools.partial(
                    query.compiled.run,
                    size=ALL_HITS,
                    timestamp_field=fields.timestamp,
                    event_category_field=fields.event_category,
                    tiebreaker_field=fields.tiebreaker,
                    result_position="head",
                    presorted=presorted,
                    multi_fields=self.multi_fields or None,
                    # the reader raises on events out of order on its own timestamp field
                    ordered_upstream=fields.timestamp == self.files.timestamp_field,
                )
                for query in hunt.queries
            )
        return _Runs(makers)


class _Runs:
    """The runs of a pass, each made when first used: a pass split over two processes makes in
    each only the runs of its share (making a run plans its query: 0.23 s for a rule library)."""

    def __init__(self, makers: list[Callable[[], Any]]) -> None:
        self._makers = makers
        self._made: dict[int, Any] = {}

    def __len__(self) -> int:
        return len(self._makers)

    def __getitem__(self, number: int) -> Any:
        run = self._made.get(number)
        if run is None:
            run = self._made[number] = self._makers[number]()
        return run

    def __iter__(self) -> Iterator[Any]:
        return (self[number] for number in range(len(self._makers)))


def local_searcher(files: EventFiles, settings: Settings) -> LocalSearcher:
    """The searcher of the embedded mode as the settings describe it (prefilter, index mappings)."""
    return LocalSearcher(
        files,
        settings.search,
        prefilter=settings.embedded.prefilter,
        multi_fields=load_multi_fields(settings),
    )


def load_multi_fields(settings: Settings) -> dict[str, FieldInfo]:
    """The multi-fields of the index mappings named by ``[embedded] mappings`` (one-line errors)."""
    multi_fields: dict[str, FieldInfo] = {}
    for path in settings.embedded.mappings:
        try:
            mapping = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise ConfigError(f"embedded.mappings: {path}: {exc}") from exc
        if not isinstance(mapping, dict):
            raise ConfigError(f"embedded.mappings: {path}: not a JSON object (an index mapping)")
        for name, info in multi_fields_of(mapping).items():
            multi_fields.setdefault(name, info)
    return multi_fields
