"""Hunts: the ``Hunt`` model, and loading hunt files of every format into it.

A hunt file is TOML. One with a ``[rule]`` table is an Elastic detection-rules rule, read by
:mod:`hunter.rules.detection_rules`; any other is a native hunter hunt, with these keys:

* ``id``, ``name``, ``severity`` (low, medium, high, critical): required;
* ``description``, ``risk_score`` (0-100; by default the severity's), ``interval`` (default 5m) or
  ``cron``, ``lookback``, ``indices`` (default ``logs-*``), ``tags``, ``references``,
  ``false_positives``, ``notes``, ``author``, ``enabled``, ``suppress_by`` with ``suppress_for``;
* ``timestamp_override``: a field the search's time range applies to instead of the configured
  timestamp field (``"event.ingested"``: search on ingest time), falling back to the configured
  field for events that lack it, as Kibana's ``timestamp_override`` does;
* ``threat``: either one ``[threat]`` table (``framework``, ``tactic``, ``technique``,
  ``subtechnique``, each ref an ``{id, name, reference}`` table), or ``[[threat]]`` entries in
  Kibana's shape (``framework``, ``tactic``, ``technique = [{id, name, reference, subtechnique =
  [...]}]``), as Elastic's rules and the Sigma import write them;
* ``[queries.<name>]`` tables with ``query`` (EQL, Elasticsearch's dialect), ``description``,
  ``enabled``.

:func:`load_hunt_set` takes files and folders (searched recursively for ``*.toml``) and never stops
at the first problem: every problem of every file is collected and reported as
``file:line:col: message`` in one :class:`~hunter.errors.HuntSetError`, with the set's summary line.
"""

from __future__ import annotations

import re
import stat
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import parse_duration
from .cron import cron_longest_gap_ns
from .eql import CompiledQuery, EqlError, codecache, compile_query, paused_collector
from .errors import HuntError, HuntSetError
from .exceptions import ExceptionItem, load_exception_list, read_items
from .tomlfile import LocatedChecker, read_toml

_HERE = Path(__file__).parent  # hunter's code: what a kept parsed file was made by

SEVERITIES = {"low": 21, "medium": 47, "high": 73, "critical": 99}
SOURCE_HUNTER = "hunter"  # Hunt.source of a native hunt file
SOURCE_DETECTION_RULES = "detection-rules"  # Hunt.source of an Elastic detection-rules rule
DEFAULT_FRAMEWORK = "MITRE ATT&CK"
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_TOP_KEYS = {
    "id", "name", "description", "severity", "risk_score", "interval", "cron", "lookback", "indices",
    "tags", "references", "false_positives", "notes", "author", "enabled", "threat", "queries",
    "suppress_by", "suppress_for", "timestamp_override", "exceptions", "exception_lists",
}  # fmt: skip
_QUERY_KEYS = {"query", "description", "enabled"}
_THREAT_KEYS = {"framework", "tactic", "technique", "subtechnique"}
_THREAT_ENTRY_KEYS = {"framework", "tactic", "technique"}
_REF_KEYS = {"id", "name", "reference"}
_TECHNIQUE_KEYS = {"id", "name", "reference", "subtechnique"}


@dataclass(frozen=True)
class ThreatRef:
    """A MITRE ATT&CK tactic, technique or sub-technique."""

    id: str
    name: str
    reference: str


@dataclass(frozen=True)
class Technique:
    """A technique of a threat entry, with its sub-techniques (Kibana's ``threat[].technique[]``)."""

    id: str
    name: str
    reference: str
    subtechniques: tuple[ThreatRef, ...] = ()


@dataclass(frozen=True)
class Threat:
    """One entry of the hunt's place in a threat framework: a tactic and its techniques (Kibana's shape)."""

    framework: str
    tactic: ThreatRef
    techniques: tuple[Technique, ...] = ()


@dataclass(frozen=True)
class HuntQuery:
    """One named EQL query of a hunt."""

    name: str
    text: str
    compiled: CompiledQuery = field(compare=False, repr=False)
    description: str = ""

    @property
    def maxspan_ns(self) -> int:
        """The query's sequence maxspan (0 when it has none)."""
        return self.compiled.maxspan_ns or 0


@dataclass(frozen=True)
class Suppression:
    """Fold findings with the same values of ``by`` within ``duration_ns`` into the first alert."""

    by: tuple[str, ...]
    duration_ns: int


@dataclass(frozen=True)
class Hunt:
    """A hunt: what to look for, where, how often, and how to describe what is found.

    ``timestamp_field``, ``event_category_field`` and ``tiebreaker_field`` are None unless the hunt
    sets its own (an Elastic rule's ``timestamp_field``, ``event_category_override``,
    ``tiebreaker_field``): None means the search settings' field. ``max_signals`` None means no cap.
    """

    id: str
    name: str
    severity: str
    risk_score: float
    interval_ns: int
    queries: tuple[HuntQuery, ...]
    path: Path
    description: str = ""
    cron: str | None = None
    lookback_ns: int = 0
    indices: tuple[str, ...] = ("logs-*",)
    tags: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    false_positives: tuple[str, ...] = ()
    notes: str = ""
    author: tuple[str, ...] = ()
    threat: tuple[Threat, ...] = ()
    suppression: Suppression | None = None
    enabled: bool = True
    version: int | None = None
    building_block: bool = False
    max_signals: int | None = None
    timestamp_override: str | None = None
    timestamp_override_fallback: bool = True
    timestamp_field: str | None = None
    event_category_field: str | None = None
    tiebreaker_field: str | None = None
    source: str = SOURCE_HUNTER
    license: str = ""
    deprecated: bool = False
    exceptions: tuple[ExceptionItem, ...] = ()  # matches they hold for are not alerted

    @property
    def severity_number(self) -> int:
        """ECS ``event.severity`` for the hunt's severity (21/47/73/99)."""
        return SEVERITIES[self.severity]

    @property
    def max_maxspan_ns(self) -> int:
        """The largest maxspan among the hunt's sequence queries."""
        return max((query.maxspan_ns for query in self.queries), default=0)

    @property
    def overlap_ns(self) -> int:
        """How far each run reaches back before the checkpoint: max(maxspan, lookback)."""
        return max(self.max_maxspan_ns, self.lookback_ns)

    def warnings(self) -> list[str]:
        """Settings that are allowed but probably not what the author meant (native hunts only)."""
        notes = []
        if self.source == SOURCE_HUNTER and self.lookback_ns and self.lookback_ns < self.max_maxspan_ns:
            notes.append(
                f"{self.path}: lookback is shorter than the largest sequence maxspan; runs overlap by the "
                "maxspan anyway, so sequences that straddle two runs are still found"
            )
        for query in self.queries:
            if query.compiled.kind == "sequence" and not query.compiled.maxspan_ns:
                notes.append(
                    f"{self.path}: query {query.name!r} is a sequence without maxspan: on a cluster, a "
                    "window whose search returns the size cap cannot be split (a sequence may cross any "
                    "split point), so hits past the cap there are missed; add 'with maxspan=...'"
                )
        return notes


@dataclass(frozen=True)
class Skipped:
    """A rule file that was read but not loaded as a hunt, and why (``deprecated`` or not EQL)."""

    path: Path
    reason: str  # 'not EQL (type = "query")' or 'deprecated'
    deprecated: bool = False  # counted as deprecated (else as not EQL)
    rule_id: str = ""
    name: str = ""

    def __str__(self) -> str:
        return f"{self.path}: skipped: {self.reason}"


@dataclass
class FileOutcome:
    """What reading one hunt file gave: a hunt or the reason it was skipped, and problems and warnings."""

    path: Path
    hunt: Hunt | None = None
    skipped: Skipped | None = None
    problems: list[HuntError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # where the hunt's id is written, for a duplicate-id problem (located only then)
    locate_id: Callable[[], int] = field(default=lambda: 1, repr=False)


@dataclass
class HuntSet:
    """Hunts loaded from files and folders, the rule files skipped (and why), problems and warnings."""

    hunts: list[Hunt] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    problems: list[HuntError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # located, ``file:line:col: message``
    files: int = 0  # hunt files read

    @property
    def not_eql(self) -> int:
        """Rule files skipped because their type is not ``eql``."""
        return sum(1 for skipped in self.skipped if not skipped.deprecated)

    @property
    def deprecated(self) -> int:
        """Rule files skipped because they are deprecated."""
        return sum(1 for skipped in self.skipped if skipped.deprecated)

    @property
    def problem_files(self) -> int:
        """Files (or folders) with at least one problem."""
        return len({problem.path for problem in self.problems})

    def summary(self) -> str:
        """``1024 hunts loaded, 1168 skipped (1044 not EQL, 124 deprecated), 0 files with problems``."""
        return (
            f"{len(self.hunts)} hunts loaded, {len(self.skipped)} skipped "
            f"({self.not_eql} not EQL, {self.deprecated} deprecated), "
            f"{self.problem_files} files with problems"
        )


def load_hunt_set(paths: Sequence[Path], *, include_deprecated: bool = False) -> HuntSet:
    """Every hunt in ``paths`` (files, and folders searched recursively for ``*.toml``, sorted).

    Native hunt files and Elastic detection-rules rules both load; rules that are not EQL or are
    deprecated (unless ``include_deprecated``) are skipped and counted. Any problem, including one
    hunt id used by two files, raises :class:`HuntSetError` with every problem and the summary line.
    """
    hunt_set = HuntSet()
    files: list[Path] = []
    seen: set[tuple[int, int]] = set()
    for path in paths:
        if path.is_dir():
            found = [
                (file, identity)
                for file in sorted(path.rglob("*.toml"))
                if (identity := _file_identity(file))
            ]
            if not found:
                hunt_set.problems.append(HuntError(path, 0, 0, "no hunt files (*.toml) found"))
        elif identity := _file_identity(path):
            found = [(path, identity)]
        else:
            hunt_set.problems.append(HuntError(path, 0, 0, "hunt file or folder not found"))
            found = []
        for file, identity in found:
            if identity not in seen:  # a file named twice (a folder and a file in it) loads once
                seen.add(identity)
                files.append(file)
    hunt_set.files = len(files)
    first_use: dict[str, Path] = {}
    # Compiling a library makes many objects that live on: the collector would walk all of them
    # again and again as the load goes on (0.3-0.4 s of the 1,024 rules' 2.7 s). What each file
    # leaves is frozen before the next is read; all is handed back when the load ends.
    with paused_collector():
        for file in files:
            with paused_collector():
                outcome = read_hunt_file(file, include_deprecated=include_deprecated)
            hunt_set.problems.extend(outcome.problems)
            hunt_set.warnings.extend(outcome.warnings)
            if outcome.skipped is not None:
                hunt_set.skipped.append(outcome.skipped)
            hunt = outcome.hunt
            if hunt is None:
                continue
            if hunt.id in first_use:
                message = f"hunt id {hunt.id!r} is also used by {first_use[hunt.id]}"
                hunt_set.problems.append(HuntError(hunt.path, outcome.locate_id(), 1, message))
                continue
            first_use[hunt.id] = hunt.path
            hunt_set.hunts.append(hunt)
    if hunt_set.problems:
        raise HuntSetError(hunt_set.problems, hunt_set)
    return hunt_set


def _file_identity(path: Path) -> tuple[int, int] | None:
    """The device and inode of a regular file (one ``stat``, where resolving its path takes one per
    part of it), or None when ``path`` is no regular file."""
    try:
        status = path.stat()
    except OSError:
        return None
    return (status.st_dev, status.st_ino) if stat.S_ISREG(status.st_mode) else None


def load_hunts(paths: Path | Sequence[Path]) -> list[Hunt]:
    """The hunts of :func:`load_hunt_set` over one folder or file, or several (the ``queries`` setting)."""
    return load_hunt_set([paths] if isinstance(paths, Path) else paths).hunts


def load_hunt(path: Path) -> tuple[Hunt | None, list[HuntError]]:
    """One hunt file: the hunt (None when it has problems or is a skipped rule) and every problem found."""
    outcome = read_hunt_file(path)
    return outcome.hunt, outcome.problems


def read_hunt_file(path: Path, *, include_deprecated: bool = False) -> FileOutcome:
    """One hunt file of either format: a detection-rules rule when it has a ``[rule]`` table, else native."""
    read = _read_toml(path)
    if isinstance(read, HuntError):
        return FileOutcome(path, problems=[read])
    text, data = read
    if data and set(data) == {"exceptions"}:
        # a shared exception list (hunts name it in exception_lists) kept beside the hunts
        return FileOutcome(path)
    if isinstance(data.get("rule"), dict):
        from .rules.detection_rules import read_rule  # lazily: the reader imports this module

        return read_rule(path, text, data, include_deprecated=include_deprecated)
    return _Checker(path, text, data).outcome()


def _read_toml(path: Path) -> tuple[str, dict[str, Any]] | HuntError:
    """What :func:`~hunter.tomlfile.read_toml` gives, for most files in about half of tomllib's time.

    tomllib reads a basic (double-quoted) string a character at a time, a literal (single-quoted)
    one with one ``str.index``, and a rule library is mostly basic strings (notes). So the text
    is parsed with every basic string that needs no escape written as the literal string of the
    same value (:func:`_literal_strings`); if that does not parse, or anything is unusual,
    ``read_toml`` reads the file as ever and reports exactly what it always did.
    """
    try:
        text = path.read_text(encoding="utf-8")
        data = codecache.remembered("toml", text, _HERE, lambda: _parsed_toml(text))
        if data is not None:
            return text, data
    except Exception:  # noqa: BLE001, S110 - read_toml reads the file again and says what is wrong
        pass
    return read_toml(path)


def _parsed_toml(text: str) -> dict[str, Any] | None:
    """The TOML ``text`` holds, parsed by :func:`_read_toml`'s way (None: not that way)."""
    literal = _literal_strings(text)
    return None if literal is None else tomllib.loads(literal)


_QUOTE_OR_COMMENT = re.compile(r"[\"'#]")
_BASIC_BODY = re.compile(r'(?:[^"\\\n]+|\\.)*')  # to the closing quote, escapes skipped
_MULTILINE_BASIC_BODY = re.compile(r'(?:[^"\\]+|\\[\s\S]|"(?!""))*')  # to the first unescaped """


def _literal_strings(text: str) -> str | None:
    """``text`` with each basic string that needs no escape as a literal string; None if unsure.

    Wherever a text is valid TOML, its strings and comments can be told apart from left to right:
    outside them a ``#`` always starts a comment and a quote always starts a string. A basic string
    without a backslash, and without what would end a literal string early (a ``'``; in a
    multi-line string ``'''`` or a final ``'``), has the value of the literal string with the same
    content, which forbids the same characters. Only the quotes of strings that no other quote
    touches change, in place (so no new quotes join into another token): a valid text reads as the
    same TOML, and an invalid one still fails (and is then read as it is). An unterminated string,
    or more than five quotes in a row at the end of one, gives None.
    """
    parts: list[str] = []
    copied = at = 0
    size = len(text)
    search = _QUOTE_OR_COMMENT.search
    while (found := search(text, at)) is not None:
        at = found.start()
        char = text[at]
        if char == "#":
            end = text.find("\n", at)
            at = size if end < 0 else end
            continue
        if text.startswith(char * 3, at):  # multi-line: to the first closing delimiter
            if char == "'":
                end = text.find("'''", at + 3)
            else:
                end = _closing(text, at + 3, '"""', _MULTILINE_BASIC_BODY)
            if end < 0:
                return None
            close = end + 3
            while close < end + 5 and text.startswith(char, close):  # one or two more are content
                close += 1
            if text.startswith(char, close):
                return None
            body = text[at + 3 : close - 3]
            if (
                char == '"'
                and "\\" not in body
                and "'''" not in body
                and not body.endswith("'")
                and _apart(text, at, close)
            ):
                parts += [text[copied:at], "'''", body, "'''"]
                copied = close
            at = close
            continue
        if char == "'":
            end = text.find("'", at + 1)
            if end < 0 or "\n" in text[at + 1 : end]:
                return None
            at = end + 1
            continue
        end = _closing(text, at + 1, '"', _BASIC_BODY)
        if end < 0:
            return None
        body = text[at + 1 : end]
        if "\\" not in body and "'" not in body and _apart(text, at, end + 1):
            parts += [text[copied:at], "'", body, "'"]
            copied = end + 1
        at = end + 1
    parts.append(text[copied:])
    return "".join(parts)


def _closing(text: str, start: int, quotes: str, body: re.Pattern[str]) -> int:
    """Where the basic string whose content starts at ``start`` closes with ``quotes``; -1 if it does not.

    Without a backslash (or, for one line, a line end) before the first ``quotes``, they close it;
    else ``body`` finds the end of the content, escapes skipped.
    """
    end = text.find(quotes, start)
    if end >= 0 and "\\" not in (content := text[start:end]) and (len(quotes) == 3 or "\n" not in content):
        return end
    end = body.match(text, start).end()  # type: ignore[union-attr]  # it matches the empty string
    return end if text.startswith(quotes, end) else -1


def _apart(text: str, start: int, end: int) -> bool:
    """No quote touches the string at ``text[start:end]``: its new quotes cannot join a neighbour's."""
    return (start == 0 or text[start - 1] not in "'\"") and (end == len(text) or text[end] not in "'\"")


class TomlChecker(LocatedChecker):
    """Checks one parsed TOML hunt file, collecting located problems and warnings (shared by all readers)."""

    def risk_score(self, key: str, value: Any) -> float:
        """A risk score from 0 to 100 (a problem otherwise)."""
        if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 100:
            self.problem(key, f"{key} must be a number from 0 to 100")
            return 0.0
        return float(value)

    def severity(self, key: str, value: Any) -> str:
        """A required severity: low, medium, high or critical."""
        severity = self.string(key, value, required=True)
        if severity and severity not in SEVERITIES:
            self.problem(key, f"{key} must be one of {', '.join(SEVERITIES)}")
        return severity

    def query(
        self, key: str, name: str, text: str, description: str = "", *, label: str | None = None
    ) -> HuntQuery | None:
        """The EQL ``text`` written at ``key`` compiled as query ``name``; a located problem if refused.

        The problem's message starts with ``label`` (default ``key``), then the engine's message.
        """
        try:
            compiled = compile_query(text)
        except EqlError as exc:
            line, column = self._query_position(key, exc.line, exc.column)
            self.problems.append(HuntError(self.path, line, column, f"{label or key}: {exc.message}"))
            return None
        return HuntQuery(name, text, compiled, description)

    def _query_position(self, key: str, line: int, column: int) -> tuple[int, int]:
        """Where an EQL error at ``line:column`` of the query string written at ``key`` sits in the file."""
        key_line = self.lines.get(key, 1)
        if not line:
            return key_line, 1
        lines = self.text.splitlines()
        raw = lines[key_line - 1] if key_line - 1 < len(lines) else ""
        match = re.search(r"=\s*('''|\"\"\"|'|\")", raw)
        if match is None:
            return key_line, 1
        after = raw[match.end() :]
        if match.group(1) in ("'''", '"""') and not after.strip():
            return key_line + line, column  # the newline after the opening quotes is not part of the value
        if line == 1:
            return key_line, match.end() + column
        return key_line + line - 1, column

    def ref(self, key: str, value: Any, allowed: set[str] = _REF_KEYS) -> ThreatRef | None:
        """A threat reference ``{id, name, reference}`` (None, with problems, when incomplete)."""
        if not isinstance(value, dict):
            self.problem(key, f"{key} must be a table with id, name and reference")
            return None
        self.unknown(key, value, allowed)
        ref = ThreatRef(
            self.string(f"{key}.id", value.get("id"), required=True),
            self.string(f"{key}.name", value.get("name"), required=True),
            self.string(f"{key}.reference", value.get("reference"), required=True),
        )
        return ref if ref.id and ref.name and ref.reference else None

    def threat_entries(self, key: str, value: Any) -> tuple[Threat, ...]:
        """Threat entries in Kibana's shape: ``[[threat]]`` with ``tactic`` and ``technique`` arrays."""
        if not isinstance(value, list) or not all(isinstance(entry, dict) for entry in value):
            self.problem(key, f"{key} must be an array of tables with framework, tactic and technique")
            return ()
        entries: list[Threat] = []
        for index, entry in enumerate(value):
            at = f"{key}.{index}"
            self.unknown(at, entry, _THREAT_ENTRY_KEYS)
            framework = self.string(f"{at}.framework", entry.get("framework")) or DEFAULT_FRAMEWORK
            if "tactic" not in entry:
                self.problem(at, f"missing required key '{at}.tactic'")
                tactic = None
            else:
                tactic = self.ref(f"{at}.tactic", entry["tactic"])
            techniques = [
                technique
                for number, item in enumerate(self._tables(f"{at}.technique", entry.get("technique")))
                if (technique := self._technique(f"{at}.technique.{number}", item)) is not None
            ]
            if tactic is not None:
                entries.append(Threat(framework, tactic, tuple(techniques)))
        return tuple(entries)

    def _technique(self, key: str, value: dict[str, Any]) -> Technique | None:
        ref = self.ref(key, value, _TECHNIQUE_KEYS)
        subtechniques = [
            sub
            for number, item in enumerate(self._tables(f"{key}.subtechnique", value.get("subtechnique")))
            if (sub := self.ref(f"{key}.subtechnique.{number}", item)) is not None
        ]
        return None if ref is None else Technique(ref.id, ref.name, ref.reference, tuple(subtechniques))

    def _tables(self, key: str, value: Any) -> list[dict[str, Any]]:
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            self.problem(key, f"{key} must be an array of tables with id, name and reference")
            return []
        return value


class _Checker(TomlChecker):
    """Validates one parsed native hunt file, collecting located problems."""

    def __init__(self, path: Path, text: str, data: dict[str, Any]) -> None:
        super().__init__(path, text)
        self.data = data

    def duration_ns(self, key: str, value: Any, default: int) -> int:
        if value is None:
            return default
        try:
            seconds = parse_duration(value).total_seconds()
        except ValueError as exc:
            self.problem(key, f"{key}: {exc}")
            return default
        if seconds <= 0:
            self.problem(key, f"{key} must be positive")
            return default
        return int(seconds * 1_000_000_000)

    def outcome(self) -> FileOutcome:
        hunt = self.hunt()
        return FileOutcome(
            self.path,
            hunt=hunt,
            problems=self.problems,
            warnings=self.warnings,
            locate_id=lambda: self.line_of("id"),
        )

    def hunt(self) -> Hunt | None:
        data = self.data
        self.unknown("", data, _TOP_KEYS)
        hunt_id = self.string("id", data.get("id"), required=True)
        if hunt_id and not _ID_RE.match(hunt_id):
            self.problem("id", "id must be 1-64 lowercase letters, digits, '_', '.' or '-'")
        name = self.string("name", data.get("name"), required=True)
        severity = self.severity("severity", data.get("severity"))
        risk = self.risk_score("risk_score", data.get("risk_score", SEVERITIES.get(severity, 47)))
        interval = self.duration_ns("interval", data.get("interval"), 5 * 60 * 1_000_000_000)
        lookback = self.duration_ns("lookback", data.get("lookback"), 0) if "lookback" in data else 0
        cron = data.get("cron")
        if cron is not None:
            cron = self.string("cron", cron)
            if "interval" in data:
                self.problem("cron", "give either interval or cron, not both")
            # health, catch-up chunks and the overlong-run warning use the longest gap between runs
            interval = self._cron_interval(cron) or interval
        enabled = self.boolean("enabled", data.get("enabled"), True)
        indices = self.strings("indices", data.get("indices")) or ("logs-*",)
        if data.get("indices") == []:
            self.warn("indices", "indices = [] searches the default, logs-*; name the indices to search")
        if isinstance(data.get("name"), str) and not data["name"].strip():
            self.warn("name", 'name = "" leaves alerts and notices without a hunt name')
        queries = self._queries(data.get("queries"))
        threat = self._threat(data.get("threat"))
        suppression = self._suppression(data)
        author = data.get("author")
        authors = (author,) if isinstance(author, str) else self.strings("author", author)
        timestamp_override = self.string("timestamp_override", data.get("timestamp_override")) or None
        exceptions = [
            *read_items(self, "exceptions", data.get("exceptions")),
            *self._exception_lists(data.get("exception_lists")),
        ]
        if self.problems:
            return None
        return Hunt(
            id=hunt_id,
            name=name,
            severity=severity,
            risk_score=risk,
            interval_ns=interval,
            queries=queries,
            path=self.path,
            description=self.string("description", data.get("description")).strip(),
            cron=cron,
            lookback_ns=lookback,
            indices=indices,
            tags=self.strings("tags", data.get("tags")),
            references=self.strings("references", data.get("references")),
            false_positives=self.strings("false_positives", data.get("false_positives")),
            notes=self.string("notes", data.get("notes")).strip(),
            author=authors,
            threat=threat,
            suppression=suppression,
            enabled=enabled,
            timestamp_override=timestamp_override,
            source=SOURCE_HUNTER,
            exceptions=tuple(exceptions),
        )

    def _exception_lists(self, value: Any) -> list[ExceptionItem]:
        """The items of the shared exception list files the hunt names (relative to its file)."""
        items: list[ExceptionItem] = []
        for name in self.strings("exception_lists", value):
            path = (self.path.parent / name).resolve()
            if not path.is_file():
                self.problem("exception_lists", f"exception list {name!r} not found ({path})")
                continue
            found, problems = load_exception_list(path)
            self.problems.extend(problems)
            items.extend(found)
        return items

    def _cron_interval(self, cron: str) -> int:
        try:
            return cron_longest_gap_ns(cron)
        except ValueError as exc:
            self.problem("cron", f"cron: {exc}")
            return 0

    def _queries(self, value: Any) -> tuple[HuntQuery, ...]:
        if not isinstance(value, dict) or not value:
            self.problem("queries", "a hunt needs at least one [queries.<name>] table with a query")
            return ()
        queries: list[HuntQuery] = []
        for name, spec in value.items():
            key = f"queries.{name}"
            if not re.fullmatch(r"[a-z0-9_]+", name):
                self.problem(key, f"query name {name!r} must be lowercase letters, digits or '_'")
            if not isinstance(spec, dict):
                self.problem(key, f"{key} must be a table")
                continue
            self.unknown(key, spec, _QUERY_KEYS)
            if spec.get("enabled", True) is False:
                continue
            text = self.string(f"{key}.query", spec.get("query"), required=True)
            if not text.strip():
                if text:
                    self.problem(f"{key}.query", f"{key}.query is empty")
                continue
            description = self.string(f"{key}.description", spec.get("description"))
            query = self.query(f"{key}.query", name, text, description, label=key)
            if query is not None:
                queries.append(query)
        if (
            not queries
            and value
            and all(isinstance(spec, dict) and spec.get("enabled", True) is False for spec in value.values())
        ):
            self.problem("queries", "every query is disabled: set enabled = false on the hunt instead")
        return tuple(queries)

    def _threat(self, value: Any) -> tuple[Threat, ...]:
        if value is None:
            return ()
        if isinstance(value, list):
            return self.threat_entries("threat", value)
        if not isinstance(value, dict):
            self.problem("threat", "threat must be a table, or an array of tables ([[threat]])")
            return ()
        self.unknown("threat", value, _THREAT_KEYS)
        refs = {}
        for part in ("tactic", "technique", "subtechnique"):
            if part in value:
                refs[part] = self.ref(f"threat.{part}", value[part])
        tactic, technique = refs.get("tactic"), refs.get("technique")
        if "tactic" not in value or "technique" not in value:
            self.problem("threat", "threat needs a tactic and a technique")
        if tactic is None or technique is None:
            return ()
        subtechnique = refs.get("subtechnique")
        return (
            Threat(
                self.string("threat.framework", value.get("framework")) or DEFAULT_FRAMEWORK,
                tactic,
                (
                    Technique(
                        technique.id,
                        technique.name,
                        technique.reference,
                        (subtechnique,) if subtechnique else (),
                    ),
                ),
            ),
        )

    def _suppression(self, data: dict[str, Any]) -> Suppression | None:
        if "suppress_by" not in data and "suppress_for" not in data:
            return None
        by = self.strings("suppress_by", data.get("suppress_by"))
        if not by:
            self.problem("suppress_by", "suppress_by needs at least one field (for example ['host.id'])")
        duration = self.duration_ns("suppress_for", data.get("suppress_for"), 0)
        if "suppress_for" not in data:
            self.problem(
                "suppress_by", "suppress_by needs suppress_for, how long to suppress (for example '1h')"
            )
        return Suppression(by, duration) if by and duration else None


def queries_named(hunt: Hunt, names: Iterable[str]) -> Sequence[HuntQuery]:
    """The hunt's queries with the given names (in the hunt's order)."""
    wanted = set(names)
    return [query for query in hunt.queries if query.name in wanted]
