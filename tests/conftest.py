"""Shared fixtures: settings files in tmp_path, the real hunt, a fixed clock, sample-shaped events."""

from __future__ import annotations

import copy
import io
import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
from elasticsearch import Elasticsearch

from hunter.alerts import AlertRenderer
from hunter.config import ScheduleSettings, SearchSettings, Settings, load_settings
from hunter.eql import codecache
from hunter.hunts import Hunt, load_hunts
from hunter.metrics import Metrics
from hunter.notify.console import ConsoleNotifier
from hunter.results import Searcher
from hunter.runner import Runner
from hunter.search.local import EventFiles, LocalSearcher
from hunter.store.sqlite import SqliteStore
from tests.support.es_data import close_clients, index_samples
from tests.support.es_server import EsTestServer, serve

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples" / "events"
QUERIES = REPO / "queries"
TEMPLATES = REPO / "templates"
SHARED = REPO.parent / "shared"
HUNT_ID = "t1059_011_lua"

OS_EXECUTE = "endpoint-linux-os-execute.ndjson"
SOCKET = "endpoint-linux-socket.ndjson"
AUDITBEAT = "auditbeat-8.15.3-2026.11.20.ndjson"
SYSMON = "winlogbeat-sysmon-lua.ndjson"
BENIGN = "endpoint-linux-benign.ndjson"

# Identities the samples README documents.
OS_EXECUTE_HOST = "9d4e1b72-6c3a-4f0e-8b25-e17a3c90d6f4"
OS_EXECUTE_LUA = "M2Y3YzJhOWUtNWIxNC00ZDhhLTllNjEtMGMyYjdkNGY4YTEzLTQ4Mzc3LTEzNDM5NjM5NjQzLjEyMzQ1NjcwMA=="
SOCKET_LUA = "YzgxZDRlMDctMmY5Yi00YTYzLWI1ZDAtN2UzYTkxYzYyZjU4LTMzNDI3LTEzNDM5NjQyNTY3LjU1MTk4MjMwMA=="
SYSMON_LUA = "{7b3e91d4-4620-6b00-5306-000000001c03}"
AUDITBEAT_INDEX = "auditbeat-8.15.3-2026.11.20"
AUDITBEAT_LUA_ID = "4afd2a283956e49d22753a7f3edbb381d83007c041821151f1f904dd7e1f26de"

# Where each builder takes its shape from (file, 1-based line), per samples/README.md.
LUA_EXEC = (OS_EXECUTE, 5)  # exec of lua5.4 -e "os.execute(...)"
LUA_FORK = (OS_EXECUTE, 6)  # fork record of Lua's child (a copy of Lua)
TMP_WRITE = (OS_EXECUTE, 8)  # file creation under /tmp by Lua's child
EGRESS = (SOCKET, 6)  # egress connection_attempted
AUDITD_LUA = (AUDITBEAT, 6)  # plain auditd EXECVE of lua5.3 (no entity ids)
SYSMON_LUA_START = (SYSMON, 2)  # Sysmon event 1 of lua.exe

ENV_PREFIX = "HUNTER_"


# ---- environment hygiene ------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No HUNTER_* variable leaks in; structlog, stdlib logging and the code cache are restored after
    each test."""
    for name in list(os.environ):
        if name.startswith(ENV_PREFIX):
            monkeypatch.delenv(name)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    codecache.use(None)  # a command's code cache is not used by the next test
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


# ---- clock ----------------------------------------------------------------------------------------


class FakeClock:
    """A clock that stands still until told to move (``Runner(clock=...)``)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def set(self, moment: datetime) -> None:
        """Jump to ``moment``."""
        self.now = moment

    def advance(self, delta: timedelta) -> None:
        """Move forward by ``delta``."""
        self.now += delta


def utc(text: str) -> datetime:
    """An aware UTC datetime from ISO 8601 text (``Z`` allowed)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def ns(moment: datetime) -> int:
    """Epoch nanoseconds of an aware datetime (microsecond precision)."""
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def iso(moment: datetime) -> str:
    """``2026-11-20T09:14:03.335000Z``: the ISO form the sources write."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.fixture
def clock() -> FakeClock:
    """A clock standing at 2026-11-20T15:00:00Z (after every sample event)."""
    return FakeClock(utc("2026-11-20T15:00:00Z"))


# ---- hunts and settings ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def lua_hunt() -> Hunt:
    """The T1059.011 hunt, loaded from queries/."""
    (hunt,) = [h for h in load_hunts(QUERIES) if h.id == HUNT_ID]
    return hunt


def toml_value(value: Any) -> str:
    """A Python value as a TOML value (strings and lists of strings/paths, numbers, booleans)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Path):
        return json.dumps(str(value))
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    return json.dumps(value)


SettingsFactory = Callable[..., Path]


@pytest.fixture
def settings_file(tmp_path: Path) -> SettingsFactory:
    """Writes a settings.toml into tmp_path (queries/templates of the repo, state in tmp_path).

    Keyword arguments ``events``, ``state``, ``queries`` override those paths; ``sections`` maps a
    section name to extra ``key = value`` settings; ``text`` is appended verbatim.
    """

    def make(
        *,
        events: Iterable[Path] | None = None,
        state: Path | None = None,
        queries: Path = QUERIES,
        sections: Mapping[str, Mapping[str, Any]] | None = None,
        text: str = "",
        name: str = "settings.toml",
    ) -> Path:
        lines = [f"queries = {toml_value(queries)}", f"templates = {toml_value(TEMPLATES)}", ""]
        extra = {key: dict(value) for key, value in (sections or {}).items()}
        embedded = extra.pop("embedded", {})
        embedded.setdefault("events", list(events) if events is not None else [SAMPLES])
        embedded.setdefault("state", state or tmp_path / "var" / "hunter.sqlite3")
        extra = {"embedded": embedded, **extra}
        for section, values in extra.items():
            lines.append(f"[{section}]")
            lines.extend(f"{key} = {toml_value(value)}" for key, value in values.items())
            lines.append("")
        path = tmp_path / name
        path.write_text("\n".join(lines) + text, encoding="utf-8")
        return path

    return make


@pytest.fixture
def settings(settings_file: SettingsFactory) -> Callable[..., Settings]:
    """Loaded settings from a settings file written by :func:`settings_file` (same arguments)."""

    def make(**kwargs: Any) -> Settings:
        return load_settings(settings_file(**kwargs))

    return make


# ---- events ---------------------------------------------------------------------------------------


def sample_line(name: str, number: int) -> str:
    """The raw text of one line of a sample file (without its newline)."""
    return (SAMPLES / name).read_text(encoding="utf-8").splitlines()[number - 1]


def sample(where: tuple[str, int]) -> dict[str, Any]:
    """A deep copy of one sample line, parsed (a hit or a plain document, as in the file)."""
    document = json.loads(sample_line(*where))
    assert isinstance(document, dict)
    return copy.deepcopy(document)


def _source(document: dict[str, Any]) -> dict[str, Any]:
    source = document.get("_source", document)
    assert isinstance(source, dict)
    return source


def _at(document: dict[str, Any], moment: datetime) -> dict[str, Any]:
    _source(document)["@timestamp"] = iso(moment)
    return document


def lua_exec(
    at: datetime,
    *,
    doc_id: str,
    entity_id: str = "L-entity",
    host_id: str = OS_EXECUTE_HOST,
    args: list[str] | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """An Elastic Endpoint exec of Lua (shape of os-execute line 5) as a hit."""
    hit = _at(sample(LUA_EXEC), at)
    hit["_id"] = doc_id
    source = _source(hit)
    source["host"]["id"] = host_id
    process = source["process"]
    process["entity_id"] = entity_id
    if args is not None:
        process["args"] = args
        process["args_count"] = len(args)
        process["command_line"] = " ".join(args)
    if name is not None:
        process["name"] = name
    return hit


def lua_fork(
    at: datetime, *, doc_id: str, parent_entity_id: str, entity_id: str, host_id: str = OS_EXECUTE_HOST
) -> dict[str, Any]:
    """An Elastic Endpoint fork record of Lua's child (shape of os-execute line 6) as a hit."""
    return _process_event(LUA_FORK, at, doc_id, host_id, entity_id, parent_entity_id)


def tmp_write(
    at: datetime,
    *,
    doc_id: str,
    parent_entity_id: str = "L-entity",
    entity_id: str = "C-entity",
    host_id: str = OS_EXECUTE_HOST,
) -> dict[str, Any]:
    """A file creation under /tmp by a child of ``parent_entity_id`` (shape of os-execute line 8)."""
    return _process_event(TMP_WRITE, at, doc_id, host_id, entity_id, parent_entity_id)


def _process_event(
    line: tuple[str, int], at: datetime, doc_id: str, host_id: str, entity_id: str, parent_entity_id: str
) -> dict[str, Any]:
    """A sample line as a hit at ``at`` with its id, host and process / parent entity ids replaced."""
    hit = _at(sample(line), at)
    hit["_id"] = doc_id
    source = _source(hit)
    source["host"]["id"] = host_id
    source["process"]["entity_id"] = entity_id
    source["process"]["parent"]["entity_id"] = parent_entity_id
    return hit


def auditd_lua(at: datetime, *, pid: int = 23877) -> dict[str, Any]:
    """A plain Auditbeat auditd EXECVE of lua5.3 (shape of auditbeat line 6), no entity ids."""
    document = _at(sample(AUDITD_LUA), at)
    document["process"]["pid"] = pid
    return document


def write_ndjson(path: Path, documents: Iterable[Mapping[str, Any]]) -> Path:
    """Write documents as NDJSON (compact, one per line) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for document in documents:
            handle.write(json.dumps(document, separators=(",", ":")) + "\n")
    return path


def append_ndjson(path: Path, documents: Iterable[Mapping[str, Any]]) -> None:
    """Append documents to an NDJSON file."""
    with path.open("a", encoding="utf-8") as handle:
        for document in documents:
            handle.write(json.dumps(document, separators=(",", ":")) + "\n")


def read_ndjson(text: str) -> list[dict[str, Any]]:
    """Parse NDJSON text (blank lines ignored)."""
    documents = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert all(isinstance(d, dict) for d in documents)
    return documents


def notice_lines(text: str) -> list[str]:
    """The console notice lines ([ALERT] ...) in some output."""
    return [line for line in text.splitlines() if line.startswith("[ALERT]")]


def get_field(document: Mapping[str, Any], dotted: str) -> Any:
    """The value at a dotted path of a nested document, or None."""
    current: Any = document
    for part in dotted.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return None
        current = current[part]
    return current


# ---- runner ---------------------------------------------------------------------------------------


class Parts:
    """What :func:`make_runner` built, so a test can reach each part."""

    def __init__(self, runner: Runner, store: SqliteStore, notices: io.StringIO, files: EventFiles) -> None:
        self.runner = runner
        self.store = store
        self.notices = notices
        self.files = files

    def alerts(self) -> list[dict[str, Any]]:
        """Every stored alert, oldest first."""
        return list(self.store.all())


RunnerFactory = Callable[..., Parts]


@pytest.fixture
def make_runner(tmp_path: Path, clock: FakeClock) -> Iterator[RunnerFactory]:
    """Builds a Runner over local event paths and a SQLite file in tmp_path (console notices captured).

    ``store``/``searcher`` replace the real ones; ``schedule`` is a ScheduleSettings; ``state`` the
    SQLite path (a second runner over the same path is a restart).
    """
    opened: list[SqliteStore] = []

    def make(
        events: Sequence[Path],
        *,
        state: Path | None = None,
        store: SqliteStore | None = None,
        searcher: Searcher | None = None,
        schedule: ScheduleSettings | None = None,
        owner: str = "test-owner",
    ) -> Parts:
        files = EventFiles(list(events))
        if store is None:
            store = SqliteStore(state or tmp_path / "state.sqlite3")
        opened.append(store)
        notices = io.StringIO()
        runner = Runner(
            searcher=searcher or LocalSearcher(files, SearchSettings()),
            store=store,
            notifier=ConsoleNotifier(notices),
            renderer=AlertRenderer(TEMPLATES),
            schedule=schedule or ScheduleSettings(),
            owner=owner,
            clock=clock,
            metrics=Metrics(),
        )
        return Parts(runner, store, notices, files)

    yield make
    for store in opened:
        store.close()


# ---- the ES-compatible test server (tests/support/es_server.py) ----------------------------------


@pytest.fixture
def server() -> Iterator[EsTestServer]:
    """A running ES-compatible test server, stopped after the test."""
    yield from serve()


@pytest.fixture
def es(server: EsTestServer) -> Iterator[Elasticsearch]:
    """A plain client on the test server (no retries of its own) for loading and inspecting data."""
    with server.client() as client:
        yield client


@pytest.fixture
def es_samples(server: EsTestServer, es: Elasticsearch) -> EsTestServer:
    """The test server holding the sample telemetry of samples/events (ids as in embedded mode)."""
    index_samples(es)
    return server


@pytest.fixture(autouse=True)
def _close_test_clients() -> Iterator[None]:
    """Close the clients the ES test helpers opened."""
    yield
    close_clients()
