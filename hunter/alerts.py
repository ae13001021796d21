"""Alert documents: findings rendered with ``templates/alert.json.j2`` (sandboxed Jinja2) into ECS.

The template only places values; every value reaches it as data and is written with ``tojson``,
so text such as ``{{ 7*7 }}`` in a command line stays verbatim. The rendered text must parse as
JSON. ``event.*`` describe the alert itself (``kind: alert``, ``category: intrusion_detection``),
never the anchor's process start, so rules over ``logs-*`` do not fire again on hunter's alerts.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from jinja2 import StrictUndefined, TemplateError, Undefined
from jinja2.sandbox import SandboxedEnvironment

from .dedup import Anchor, EventRef, Finding, Members
from .eql.fields import flatten, make_getter
from .eql.values import format_date_ns, parse_date_ns
from .errors import HunterError
from .hunts import Hunt, Threat, ThreatRef
from .results import Window

ALERT_TEMPLATE = "alert.json.j2"
MAX_MEMBER_EVENTS = 500  # member events an alert lists (hunter.events); all are counted
MAX_SEQUENCES = 100  # sequences an alert lists (hunter.sequences); all are counted
_SUBJECT_RANK = {"event": 0, "fork": 1, "start": 2}

# The ECS fields copied from the event that describes the anchor process, with their ECS types.
SUBJECT_FIELDS: dict[str, str] = {
    "host.id": "keyword",
    "host.name": "keyword",
    "host.hostname": "keyword",
    "host.architecture": "keyword",
    "host.ip": "ip",
    "host.mac": "keyword",
    "host.os.type": "keyword",
    "host.os.family": "keyword",
    "host.os.name": "keyword",
    "host.os.platform": "keyword",
    "host.os.version": "keyword",
    "host.os.kernel": "keyword",
    "host.os.full": "keyword",
    "process.pid": "long",
    "process.entity_id": "keyword",
    "process.name": "keyword",
    "process.executable": "keyword",
    "process.command_line": "keyword",
    "process.args": "keyword",
    "process.args_count": "long",
    "process.working_directory": "keyword",
    "process.title": "keyword",
    "process.start": "date",
    "process.hash.md5": "keyword",
    "process.hash.sha1": "keyword",
    "process.hash.sha256": "keyword",
    "process.parent.pid": "long",
    "process.parent.entity_id": "keyword",
    "process.parent.name": "keyword",
    "process.parent.executable": "keyword",
    "process.parent.command_line": "keyword",
    "process.parent.args": "keyword",
    "user.id": "keyword",
    "user.name": "keyword",
    "user.domain": "keyword",
}
_ARRAYS = {"host.ip", "host.mac", "process.args", "process.parent.args"}
_GETTERS = {name: make_getter(tuple(name.split("."))) for name in SUBJECT_FIELDS}


class AlertRenderError(HunterError):
    """The alert template is broken or produced something that is not a JSON object."""


class AlertRenderer:
    """Renders findings into alert documents with the alert template."""

    def __init__(self, templates: Path) -> None:
        self.environment = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
        self.environment.policies["json.dumps_function"] = _json_dumps
        path = templates / ALERT_TEMPLATE
        try:
            self.template = self.environment.from_string(path.read_text(encoding="utf-8"))
        except (OSError, TemplateError) as exc:
            raise AlertRenderError(f"{path}: {exc}") from exc
        self.path = path

    def render(
        self,
        hunt: Hunt,
        finding: Finding,
        *,
        sections: Mapping[str, Any] | None = None,
        window: Window | None,
        created: datetime,
        now: datetime,
        version: int = 1,
        suppressed: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The alert document of ``finding`` (``sections``: host/process/user, default from its subject)."""
        subject = dict(sections) if sections is not None else subject_sections(finding.subject)
        events = sorted(finding.events.values(), key=lambda ref: (ref.timestamp_ns, ref.index, ref.id))
        context = {
            "hunt": _hunt_context(hunt),
            "alert": {
                "id": finding.alert_id,
                "first_seen": format_date_ns(finding.first_seen_ns, nanos=True),
                "last_seen": format_date_ns(finding.last_seen_ns, nanos=True),
                "created": _iso(created),
                "updated": _iso(now),
                "version": version,
                "queries": sorted(finding.queries),
                "anchor": finding.anchor.as_dict(),
                "subject": finding.subject_kind,
                "events": [_event_ref(ref) for ref in events[:MAX_MEMBER_EVENTS]],
                "event_count": finding.total_events,
                "sequences": [
                    [f"{index}/{doc_id}" for index, doc_id in seq]
                    for seq in finding.sequences[:MAX_SEQUENCES]
                ],
                "sequence_count": finding.total_sequences,
                "members": _members(finding),
                "window": None
                if window is None
                else {
                    "start": format_date_ns(window.start_ns, nanos=True),
                    "end": format_date_ns(window.end_ns, nanos=True),
                },
                "suppressed": dict(suppressed) if suppressed else None,
            },
            "subject": subject,
        }
        try:
            text = self.template.render(**context)
        except (TemplateError, TypeError) as exc:
            raise AlertRenderError(f"{self.path}: {exc}") from exc
        try:
            document = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise AlertRenderError(f"{self.path}: rendered text is not JSON: {exc}") from exc
        if not isinstance(document, dict):
            raise AlertRenderError(f"{self.path}: rendered JSON is not an object")
        cleaned: dict[str, Any] = _drop_empty(document)
        return cleaned


def subject_sections(source: Mapping[str, Any]) -> dict[str, Any]:
    """``host``/``process``/``user`` of an event, limited to ECS fields and coerced to ECS types."""
    sections: dict[str, Any] = {"host": {}, "process": {}, "user": {}}
    for name, kind in SUBJECT_FIELDS.items():
        values = [v for v in (_coerce(v, kind) for v in flatten(_GETTERS[name](source))) if v is not None]
        if not values:
            continue
        value: Any = values if name in _ARRAYS else values[0]
        target = sections
        parts = name.split(".")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return sections


def merge_into(existing: Mapping[str, Any], finding: Finding) -> tuple[Finding, dict[str, Any], bool]:
    """Merge a new finding into the stored alert: (merged finding, sections to render, changed?).

    A member (event or sequence) the alert already has changes nothing, also past the members the
    alert lists: those are known by their digests (``hunter.members``), so the counts only grow.
    """
    hunter = existing.get("hunter") or {}
    anchor_data = hunter.get("anchor") or {}
    merged = Finding(
        alert_id=finding.alert_id,
        hunt_id=finding.hunt_id,
        anchor=Anchor(**{k: str(v) for k, v in anchor_data.items()}) if anchor_data else finding.anchor,
        queries=set(hunter.get("queries") or []),
        subject=finding.subject,
        subject_kind=str(hunter.get("subject") or "event"),
        first_seen_ns=parse_date_ns(hunter.get("first_seen")) or finding.first_seen_ns,
        last_seen_ns=parse_date_ns(hunter.get("last_seen")) or finding.last_seen_ns,
    )
    for entry in hunter.get("events") or []:
        ref = EventRef(
            str(entry.get("_index")),
            str(entry.get("_id")),
            parse_date_ns(entry.get("@timestamp")) or 0,
            tuple(flatten((entry.get("event") or {}).get("category"))),
        )
        merged.events[(ref.index, ref.id)] = ref
    for seq in hunter.get("sequences") or []:
        merged.sequences.append(tuple(_split_ref(item) for item in seq))
    stored = hunter.get("members")
    members = Members.decode(stored) if isinstance(stored, Mapping) else None
    if members is None:  # the alert lists every member it has
        new_events = [key for key in finding.events if key not in merged.events]
        new_sequences = [seq for seq in finding.sequences if seq not in merged.sequences]
    else:
        new_events = [key for key in finding.events if Members.event_digest(key) not in members.events]
        new_sequences = [
            seq for seq in finding.sequences if Members.sequence_digest(seq) not in members.sequences
        ]
    event_count = _count(hunter.get("event_count"), len(merged.events)) + len(new_events)
    sequence_count = _count(hunter.get("sequence_count"), len(merged.sequences)) + len(new_sequences)
    before = (set(merged.queries), merged.first_seen_ns, merged.last_seen_ns)
    merged.queries |= finding.queries
    for key in new_events:
        merged.events[key] = finding.events[key]
    merged.sequences.extend(new_sequences)
    merged.first_seen_ns = min(merged.first_seen_ns, finding.first_seen_ns)
    merged.last_seen_ns = max(merged.last_seen_ns, finding.last_seen_ns)
    merged.event_count, merged.sequence_count = event_count, sequence_count
    if members is not None or event_count > MAX_MEMBER_EVENTS or sequence_count > MAX_SEQUENCES:
        if members is None:
            members = Members.of(merged.events, merged.sequences)
        else:
            members.events.update(Members.event_digest(key) for key in new_events)
            members.sequences.update(Members.sequence_digest(seq) for seq in new_sequences)
        merged.members = members
    sections = {key: existing.get(key) or {} for key in ("host", "process", "user")}
    better_subject = _SUBJECT_RANK.get(finding.subject_kind, 0) > _SUBJECT_RANK.get(merged.subject_kind, 0)
    if better_subject:
        sections = subject_sections(finding.subject)
        merged.subject_kind = finding.subject_kind
    after = (set(merged.queries), merged.first_seen_ns, merged.last_seen_ns)
    changed = before != after or bool(new_events) or bool(new_sequences) or better_subject
    return merged, sections, changed


def _count(stored: Any, listed: int) -> int:
    """A stored member count (never below what the alert lists)."""
    return max(stored, listed) if isinstance(stored, int) and not isinstance(stored, bool) else listed


def _members(finding: Finding) -> dict[str, str] | None:
    """``hunter.members`` of an alert that has more members than it lists (None otherwise)."""
    members = finding.members
    if members is None and (
        len(finding.events) > MAX_MEMBER_EVENTS or len(finding.sequences) > MAX_SEQUENCES
    ):
        members = Members.of(finding.events, finding.sequences)
    return None if members is None else members.encode()


def _split_ref(text: str) -> tuple[str, str]:
    index, _, doc_id = text.partition("/")
    return index, doc_id


def _hunt_context(hunt: Hunt) -> dict[str, Any]:
    return {
        "id": hunt.id,
        "name": hunt.name,
        "description": hunt.description,
        "severity": hunt.severity,
        "severity_number": hunt.severity_number,
        "risk_score": hunt.risk_score,
        "references": list(hunt.references),
        "tags": list(hunt.tags),
        "false_positives": list(hunt.false_positives),
        "author": list(hunt.author),
        "interval_seconds": hunt.interval_ns // 1_000_000_000,
        "version": hunt.version,
        "building_block": hunt.building_block,
        "source": hunt.source,
        "license": hunt.license,
        "threat": _threat_context(hunt.threat),
    }


def _threat_context(entries: Sequence[Threat]) -> dict[str, Any] | None:
    """ECS ``threat.*`` across all entries: parallel arrays of tactics, techniques and sub-techniques.

    Each array holds every distinct reference once, in the order the entries give them; ECS expects
    ``threat.framework`` to be one value, so it is a string unless the entries name several.
    """
    if not entries:
        return None
    frameworks = list(dict.fromkeys(entry.framework for entry in entries))
    tactics = [entry.tactic for entry in entries]
    techniques = [technique for entry in entries for technique in entry.techniques]
    subtechniques = [sub for technique in techniques for sub in technique.subtechniques]
    return {
        "framework": frameworks[0] if len(frameworks) == 1 else frameworks,
        "category": tactics[0].name,
        "tactic": _refs(tactics),
        "technique": _refs([ThreatRef(t.id, t.name, t.reference) for t in techniques]),
        "subtechnique": _refs(subtechniques),
    }


def _refs(refs: Sequence[ThreatRef]) -> dict[str, list[str]]:
    distinct = list(dict.fromkeys(refs))
    return {
        "id": [ref.id for ref in distinct],
        "name": [ref.name for ref in distinct],
        "reference": [ref.reference for ref in distinct],
    }


def _event_ref(ref: EventRef) -> dict[str, Any]:
    return {
        "_index": ref.index,
        "_id": ref.id,
        "@timestamp": format_date_ns(ref.timestamp_ns, nanos=True),
        "event": {"category": list(ref.category)},
    }


def _coerce(value: Any, kind: str) -> Any:
    if isinstance(value, dict | list) or value is None:
        return None
    if kind == "long":
        if isinstance(value, bool):
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            return None
    if kind == "ip":
        try:
            return str(ipaddress.ip_address(str(value)))
        except ValueError:
            return None
    if kind == "date":
        ns = parse_date_ns(value)
        return None if ns is None else format_date_ns(ns, nanos=True)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _json_dumps(value: Any, **_kwargs: Any) -> str:
    return orjson.dumps(value, default=_undefined_default).decode("utf-8")


def _undefined_default(value: Any) -> Any:
    """orjson's fallback: an undefined template variable fails as Jinja would (UndefinedError)."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _drop_empty(value: Any) -> Any:
    """Remove nulls and empty objects/lists the template left for absent data."""
    if isinstance(value, dict):
        cleaned = {key: _drop_empty(item) for key, item in value.items()}
        return {key: item for key, item in cleaned.items() if item not in (None, {}, [])}
    if isinstance(value, list):
        return [_drop_empty(item) for item in value if item is not None]
    return value
