"""Hunts: one TOML file per hunt in ``queries/`` (metadata + named EQL queries), loaded and checked.

Loading never stops at the first problem: every problem of every file is collected and reported
as ``file:line:col: message`` (:class:`~hunter.errors.HuntSetError`).
"""

from __future__ import annotations

import itertools
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import parse_duration
from .eql import CompiledQuery, EqlError, compile_query
from .errors import HuntError, HuntSetError

SEVERITIES = {"low": 21, "medium": 47, "high": 73, "critical": 99}
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_TOP_KEYS = {
    "id", "name", "description", "severity", "risk_score", "interval", "cron", "lookback", "indices",
    "tags", "references", "false_positives", "notes", "author", "enabled", "threat", "queries",
    "suppress_by", "suppress_for",
}  # fmt: skip
_QUERY_KEYS = {"query", "description", "enabled"}
_THREAT_KEYS = {"framework", "tactic", "technique", "subtechnique"}
_REF_KEYS = {"id", "name", "reference"}


@dataclass(frozen=True)
class ThreatRef:
    """A MITRE ATT&CK tactic, technique or sub-technique."""

    id: str
    name: str
    reference: str


@dataclass(frozen=True)
class Threat:
    """The hunt's place in a threat framework."""

    framework: str
    tactic: ThreatRef
    technique: ThreatRef
    subtechnique: ThreatRef | None = None


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
    """A hunt: what to look for, where, how often, and how to describe what is found."""

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
    threat: Threat | None = None
    suppression: Suppression | None = None
    enabled: bool = True

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
        """Settings that are allowed but probably not what the author meant."""
        notes = []
        if self.lookback_ns and self.lookback_ns < self.max_maxspan_ns:
            notes.append(
                f"{self.path}: lookback is shorter than the largest sequence maxspan; runs overlap by the "
                "maxspan anyway, so sequences that straddle two runs are still found"
            )
        return notes


_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # crontab numbering: 0 (and 7) is Sunday


def cron_trigger(expression: str, *, jitter: int | None = None) -> Any:
    """An APScheduler 3.x ``CronTrigger`` (UTC) for a standard 5-field crontab expression.

    ``CronTrigger.from_crontab`` counts weekdays from Monday = 0, unlike cron (Sunday = 0), so
    the day-of-week field is rewritten into day names here. Cron runs a job when either a
    restricted day of month or a restricted day of week matches, APScheduler only when both do,
    so restricting both is refused rather than scheduled differently from what cron would do.
    """
    from apscheduler.triggers.cron import CronTrigger

    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"expected 5 fields (minute hour day month weekday), got {len(fields)}")
    minute, hour, day, month, weekday = fields
    if day not in ("*", "?") and weekday not in ("*", "?"):
        raise ValueError("restricting both day of month and day of week is not supported")
    return CronTrigger(
        minute=minute,
        hour=hour,
        day="*" if day == "?" else day,
        month=month,
        day_of_week=_cron_weekdays(weekday),
        timezone="UTC",
        jitter=jitter,
    )


def _cron_weekdays(field: str) -> str:
    if field in ("*", "?"):
        return "*"
    days: set[int] = set()
    for part in field.split(","):
        span, slash, step_text = part.partition("/")
        step = int(step_text) if slash and step_text.isdigit() else 0 if slash else 1
        if step < 1:
            raise ValueError(f"bad step in day of week {part!r}")
        if span == "*":
            low, high = 0, 6
        elif "-" in span:
            first, last = span.split("-", 1)
            low, high = _cron_weekday(first), _cron_weekday(last)
        else:
            low = _cron_weekday(span)
            high = 6 if slash else low
        if low > high:
            raise ValueError(f"day of week range {span!r} runs backwards")
        days.update(day % 7 for day in range(low, high + 1, step))
    return "*" if len(days) == 7 else ",".join(_WEEKDAYS[day] for day in sorted(days))


def _cron_weekday(token: str) -> int:
    name = token.strip().lower()[:3]
    if name in _WEEKDAYS:
        return _WEEKDAYS.index(name)
    if token.isdigit() and 0 <= int(token) <= 7:
        return int(token)
    raise ValueError(f"bad day of week {token!r} (0-7 or sun-sat)")


def cron_longest_gap_ns(expression: str) -> int:
    """The longest time between two consecutive runs of a cron schedule (UTC, over 8 years).

    Minutes and hours give the same times on every day the schedule runs on, so the runs of one
    such day and the list of such days (found by jumping from one to the next) are enough: a few
    thousand trigger calls even for ``*/5 * * * *``, and a leap-day schedule is still seen twice.
    """
    from datetime import UTC, datetime, timedelta

    trigger = cron_trigger(expression)
    day = timedelta(days=1)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    end = start + timedelta(days=8 * 366)

    def next_fire(after: datetime, previous: datetime | None = None) -> datetime | None:
        fire: datetime | None = trigger.get_next_fire_time(previous, after)
        return fire if fire is not None and fire < end else None

    first = next_fire(start)
    if first is None:
        raise ValueError("the schedule never fires")
    midnight = first.replace(hour=0, minute=0, second=0, microsecond=0)
    times: list[timedelta] = []
    fire: datetime | None = first
    while fire is not None and fire < midnight + day:
        times.append(fire - midnight)
        fire = next_fire(fire, fire)
    days = [midnight]
    while (fire := next_fire(days[-1] + day)) is not None:
        days.append(fire.replace(hour=0, minute=0, second=0, microsecond=0))
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    gaps += [(later + times[0]) - (earlier + times[-1]) for earlier, later in itertools.pairwise(days)]
    if not gaps:
        raise ValueError("the schedule fires only once in eight years")
    return int(max(gaps).total_seconds()) * 1_000_000_000


def load_hunts(folder: Path) -> list[Hunt]:
    """Every ``*.toml`` hunt in ``folder`` (by file name); :class:`HuntSetError` lists all problems."""
    if not folder.is_dir():
        raise HuntSetError([HuntError(folder, 0, 0, "hunt folder not found")])
    hunts: list[Hunt] = []
    problems: list[HuntError] = []
    for path in sorted(folder.glob("*.toml")):
        hunt, found = load_hunt(path)
        problems.extend(found)
        if hunt is not None:
            hunts.append(hunt)
    seen: dict[str, Path] = {}
    for hunt in hunts:
        if hunt.id in seen:
            problems.append(
                HuntError(hunt.path, 1, 1, f"hunt id {hunt.id!r} is also used by {seen[hunt.id]}")
            )
        seen.setdefault(hunt.id, hunt.path)
    if not hunts and not problems:
        problems.append(HuntError(folder, 0, 0, "no hunt files (*.toml) found"))
    if problems:
        raise HuntSetError(problems)
    return hunts


def load_hunt(path: Path) -> tuple[Hunt | None, list[HuntError]]:
    """One hunt file: the hunt (None when it has problems) and every problem found."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [HuntError(path, 0, 0, f"cannot read: {exc}")]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, column = _toml_position(str(exc))
        return None, [HuntError(path, line, column, f"invalid TOML: {_toml_message(str(exc))}")]
    return _Checker(path, text, data).hunt()


class _Checker:
    """Validates one parsed hunt file, collecting located problems."""

    def __init__(self, path: Path, text: str, data: dict[str, Any]) -> None:
        self.path = path
        self.text = text
        self.data = data
        self.lines = _key_lines(text)
        self.problems: list[HuntError] = []

    def problem(self, key: str, message: str, line: int | None = None, column: int = 1) -> None:
        self.problems.append(HuntError(self.path, line or self._line_of(key), column, message))

    def _line_of(self, key: str) -> int:
        """The key's line, else its nearest enclosing table's or inline table's (a missing key)."""
        parts = key.split(".")
        while parts:
            found = self.lines.get(".".join(parts))
            if found is not None:
                return found
            parts.pop()
        return 1

    def string(self, key: str, value: Any, *, required: bool = False) -> str:
        if value is None:
            if required:
                self.problem(key, f"missing required key {key!r}")
            return ""
        if not isinstance(value, str):
            self.problem(key, f"{key} must be a string")
            return ""
        return value

    def strings(self, key: str, value: Any) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self.problem(key, f"{key} must be a list of strings")
            return ()
        return tuple(value)

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

    def unknown(self, table: str, data: dict[str, Any], allowed: set[str]) -> None:
        for key in data:
            if key not in allowed:
                path = f"{table}.{key}" if table else key
                self.problem(path, f"unknown key {path!r}")

    def hunt(self) -> tuple[Hunt | None, list[HuntError]]:
        data = self.data
        self.unknown("", data, _TOP_KEYS)
        hunt_id = self.string("id", data.get("id"), required=True)
        if hunt_id and not _ID_RE.match(hunt_id):
            self.problem("id", "id must be 1-64 lowercase letters, digits, '_', '.' or '-'")
        name = self.string("name", data.get("name"), required=True)
        severity = self.string("severity", data.get("severity"), required=True)
        if severity and severity not in SEVERITIES:
            self.problem("severity", f"severity must be one of {', '.join(SEVERITIES)}")
        risk = data.get("risk_score", SEVERITIES.get(severity, 47))
        if not isinstance(risk, int | float) or isinstance(risk, bool) or not 0 <= risk <= 100:
            self.problem("risk_score", "risk_score must be a number from 0 to 100")
            risk = 0
        interval = self.duration_ns("interval", data.get("interval"), 5 * 60 * 1_000_000_000)
        lookback = self.duration_ns("lookback", data.get("lookback"), 0) if "lookback" in data else 0
        cron = data.get("cron")
        if cron is not None:
            cron = self.string("cron", cron)
            if "interval" in data:
                self.problem("cron", "give either interval or cron, not both")
            # health, catch-up chunks and the overlong-run warning use the longest gap between runs
            interval = self._cron_interval(cron) or interval
        enabled = data.get("enabled", True)
        if not isinstance(enabled, bool):
            self.problem("enabled", "enabled must be true or false")
            enabled = True
        indices = self.strings("indices", data.get("indices")) or ("logs-*",)
        queries = self._queries(data.get("queries"))
        threat = self._threat(data.get("threat"))
        suppression = self._suppression(data)
        author = data.get("author")
        authors = (author,) if isinstance(author, str) else self.strings("author", author)
        if self.problems:
            return None, self.problems
        hunt = Hunt(
            id=hunt_id,
            name=name,
            severity=severity,
            risk_score=float(risk),
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
        )
        return (None, self.problems) if self.problems else (hunt, [])

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
            try:
                compiled = compile_query(text)
            except EqlError as exc:
                line, column = self._query_position(f"{key}.query", text, exc.line, exc.column)
                self.problems.append(HuntError(self.path, line, column, f"{key}: {exc.message}"))
                continue
            queries.append(
                HuntQuery(name, text, compiled, self.string(f"{key}.description", spec.get("description")))
            )
        return tuple(queries)

    def _query_position(self, key: str, text: str, line: int, column: int) -> tuple[int, int]:
        """Where an EQL error at ``line:column`` of a query string sits in the file."""
        key_line = self.lines.get(key, 1)
        if not line:
            return key_line, 1
        raw = self.text.splitlines()[key_line - 1] if key_line - 1 < len(self.text.splitlines()) else ""
        match = re.search(r"=\s*('''|\"\"\"|'|\")", raw)
        if match is None:
            return key_line, 1
        after = raw[match.end() :]
        if match.group(1) in ("'''", '"""') and not after.strip():
            return key_line + line, column  # the newline after the opening quotes is not part of the value
        if line == 1:
            return key_line, match.end() + column
        return key_line + line - 1, column

    def _ref(self, key: str, value: Any) -> ThreatRef | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            self.problem(key, f"{key} must be a table with id, name and reference")
            return None
        self.unknown(key, value, _REF_KEYS)
        return ThreatRef(
            self.string(f"{key}.id", value.get("id"), required=True),
            self.string(f"{key}.name", value.get("name"), required=True),
            self.string(f"{key}.reference", value.get("reference"), required=True),
        )

    def _threat(self, value: Any) -> Threat | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            self.problem("threat", "threat must be a table")
            return None
        self.unknown("threat", value, _THREAT_KEYS)
        tactic = self._ref("threat.tactic", value.get("tactic"))
        technique = self._ref("threat.technique", value.get("technique"))
        if tactic is None or technique is None:
            self.problem("threat", "threat needs a tactic and a technique")
            return None
        return Threat(
            self.string("threat.framework", value.get("framework")) or "MITRE ATT&CK",
            tactic,
            technique,
            self._ref("threat.subtechnique", value.get("subtechnique")),
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


def _key_lines(text: str) -> dict[str, int]:
    """The line of each table header and key (``queries.sequence.query`` -> 42), not in multi-line strings."""
    lines: dict[str, int] = {}
    table: tuple[str, ...] = ()
    in_string: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if in_string is not None:
            if line.count(in_string) % 2 == 1:
                in_string = None
            continue
        header = re.match(r"^\[\s*([^\[\]]+?)\s*\]", line)
        if header:
            table = tuple(part.strip().strip('"') for part in header.group(1).split("."))
            lines.setdefault(".".join(table), number)
            continue
        key = re.match(r'^("[^"]*"|[A-Za-z0-9_.-]+)\s*=\s*(.*)$', line)
        if key:
            written = key.group(1)
            parts = (written.strip('"'),) if written.startswith('"') else tuple(written.split("."))
            for depth in range(1, len(parts) + 1):  # a dotted key also locates its parents
                lines.setdefault(".".join((*table, *parts[:depth])), number)
            rest = key.group(2)
            for quote in ("'''", '"""'):
                if rest.startswith(quote) and rest.count(quote) == 1:
                    in_string = quote
    return lines


def _toml_position(message: str) -> tuple[int, int]:
    match = re.search(r"at line (\d+), column (\d+)", message)
    return (int(match.group(1)), int(match.group(2))) if match else (1, 1)


def _toml_message(message: str) -> str:
    return re.sub(r"\s*\(at line \d+, column \d+\)", "", message)


def queries_named(hunt: Hunt, names: Iterable[str]) -> Sequence[HuntQuery]:
    """The hunt's queries with the given names (in the hunt's order)."""
    wanted = set(names)
    return [query for query in hunt.queries if query.name in wanted]
