"""Alert documents: findings rendered with ``templates/alert.json.j2`` (sandboxed Jinja2) into ECS.

The template only places values; every value reaches it as data and is written with ``tojson``,
so text such as ``{{ 7*7 }}`` in a command line stays verbatim. The rendered text must parse as
JSON. ``event.*`` describe the alert itself (``kind: alert``, ``category: intrusion_detection``),
never the anchor's process start, so rules over ``logs-*`` do not fire again on hunter's alerts.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson
from jinja2 import StrictUndefined, TemplateError, Undefined
from jinja2.sandbox import SandboxedEnvironment

from .dedup import Anchor, EventRef, Finding, Members
from .eql.fields import InlineReads, dotted_keys, flatten
from .eql.values import format_date_ns, parse_date_ns
from .errors import ConfigError
from .hunts import Hunt, Threat, ThreatRef
from .results import Window
from .shipped_template import SHA256 as SHIPPED_SHA256
from .shipped_template import document as shipped_document

ALERT_TEMPLATE = "alert.json.j2"
MAX_MEMBER_EVENTS = 500  # member events an alert lists (hunter.events); all are counted
DATE_NANOS_MAX = 2**63 - 1  # the last instant a date_nanos field holds (2262-04-11T23:47:16.854775807Z)
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1  # what an Elasticsearch long holds
MAX_SEQUENCES = 100  # sequences an alert lists (hunter.sequences); all are counted
_SUBJECT_RANK = {"event": 0, "fork": 1, "start": 2}

# The ECS fields copied from the event that describes the anchor process, with their ECS types
# (ecs_flat.yml): host.*, process.* (with process.parent.*) and user.* at the top of the alert.
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
    "process.command_line": "wildcard",
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
    "process.parent.command_line": "wildcard",
    "process.parent.args": "keyword",
    "process.parent.args_count": "long",
    "process.parent.start": "date",
    "process.parent.title": "keyword",
    "process.parent.working_directory": "keyword",
    "process.parent.hash.md5": "keyword",
    "process.parent.hash.sha1": "keyword",
    "process.parent.hash.sha256": "keyword",
    "user.id": "keyword",
    "user.name": "keyword",
    "user.domain": "keyword",
    "user.full_name": "keyword",
    "user.email": "keyword",
    "user.roles": "keyword",
    "user.effective.id": "keyword",
    "user.effective.name": "keyword",
}

# The ECS field sets that say what a finding did (where it connected, what it resolved, wrote, loaded,
# fetched), with their ECS types. The alert's top level takes each set from the earliest member event
# that has it; every listed member keeps its own in its hunter.events entry.
EVIDENCE_SETS = ("source", "destination", "network", "dns", "file", "registry", "dll", "url")
_ENDPOINT = {
    "ip": "ip",
    "port": "long",
    "address": "keyword",
    "domain": "keyword",
    "mac": "keyword",
    "bytes": "long",
    "packets": "long",
    "nat.ip": "ip",
    "nat.port": "long",
}
EVIDENCE_FIELDS: dict[str, str] = {
    **{f"source.{name}": kind for name, kind in _ENDPOINT.items()},
    **{f"destination.{name}": kind for name, kind in _ENDPOINT.items()},
    "network.transport": "keyword",
    "network.protocol": "keyword",
    "network.type": "keyword",
    "network.direction": "keyword",
    "network.application": "keyword",
    "network.iana_number": "keyword",
    "network.community_id": "keyword",
    "network.bytes": "long",
    "network.packets": "long",
    "dns.type": "keyword",
    "dns.id": "keyword",
    "dns.question.name": "keyword",
    "dns.question.type": "keyword",
    "dns.question.class": "keyword",
    "dns.question.registered_domain": "keyword",
    "dns.response_code": "keyword",
    "dns.resolved_ip": "ip",
    "file.path": "keyword",
    "file.name": "keyword",
    "file.extension": "keyword",
    "file.directory": "keyword",
    "file.target_path": "keyword",
    "file.type": "keyword",
    "file.size": "long",
    "file.created": "date",
    "file.mtime": "date",
    "file.hash.md5": "keyword",
    "file.hash.sha1": "keyword",
    "file.hash.sha256": "keyword",
    "registry.hive": "keyword",
    "registry.key": "keyword",
    "registry.value": "keyword",
    "registry.path": "keyword",
    "registry.data.type": "keyword",
    "registry.data.strings": "wildcard",
    "dll.name": "keyword",
    "dll.path": "keyword",
    "dll.hash.md5": "keyword",
    "dll.hash.sha1": "keyword",
    "dll.hash.sha256": "keyword",
    "url.scheme": "keyword",
    "url.domain": "keyword",
    "url.port": "long",
    "url.path": "wildcard",
    "url.query": "keyword",
    "url.full": "wildcard",
    "url.original": "wildcard",
}

# What each listed member event keeps (hunter.events[]), in order of precedence when its budget runs
# out: what happened, by which process and user, the evidence sets, and last the long texts.
_LONG_TEXTS = ("url.full", "url.original", "registry.data.strings")
MEMBER_FIELDS: dict[str, str] = {
    "event.action": "keyword",
    "event.type": "keyword",
    "event.outcome": "keyword",
    "event.code": "keyword",
    "process.pid": "long",
    "process.entity_id": "keyword",
    "process.name": "keyword",
    "process.executable": "keyword",
    "process.parent.pid": "long",
    "process.parent.entity_id": "keyword",
    "process.parent.name": "keyword",
    "process.parent.executable": "keyword",
    "user.id": "keyword",
    "user.name": "keyword",
    "user.domain": "keyword",
    **{name: kind for name, kind in EVIDENCE_FIELDS.items() if name not in _LONG_TEXTS},
    "process.command_line": "wildcard",
    "process.args": "keyword",
    "process.parent.command_line": "wildcard",
    **{name: EVIDENCE_FIELDS[name] for name in _LONG_TEXTS},
}

# Fields holding a list of values in ECS (normalize: array); every other field holds one value.
ARRAY_FIELDS = frozenset(
    {
        "host.ip",
        "host.mac",
        "process.args",
        "process.parent.args",
        "user.roles",
        "dns.resolved_ip",
        "registry.data.strings",
        "event.type",
    }
)

# Bounds: a string value longer than its cap ends in TRUNCATED; lists keep their first values; a
# member's evidence stops at MEMBER_BUDGET bytes of JSON (later fields are left out, the entry says
# so with "truncated": true). At most MAX_MEMBER_EVENTS members carry evidence.
TRUNCATED = "…"
EVIDENCE_CHARS = 4096  # a string value of a top-level evidence set
EVIDENCE_ITEMS = 64  # values of a top-level evidence list
MEMBER_CHARS = 1024  # a string value of a member's evidence
MEMBER_ITEMS = 16  # values of a member's evidence list
MEMBER_BUDGET = 2048  # bytes of JSON of one member's evidence


_TEXT_KINDS = frozenset({"keyword", "wildcard", "text", "match_only_text"})

# One field of a plan: its name, ECS type, the parts of its name, whether it holds a list, and
# whether a single string value is kept as it is (a text type, not a list)
_Field = tuple[str, str, tuple[str, ...], bool, bool]


class _Plan:
    """The fields of one part of an alert (name -> ECS type), in order, read from an event by one
    generated function (the fields read inline, each top-level object looked up once): an alert
    reads about 130 fields of an event, most of them absent."""

    def __init__(self, fields: Mapping[str, str], *, chars: int | None = None, items: int = 0) -> None:
        self.fields: list[_Field] = [
            (
                name,
                kind,
                tuple(name.split(".")),
                name in ARRAY_FIELDS,
                kind in _TEXT_KINDS and name not in ARRAY_FIELDS,
            )
            for name, kind in fields.items()
        ]
        self.chars = chars  # a string is cut to this many characters (None: kept whole) ...
        self.items = items  # ... and a list to this many values, by :meth:`sections`
        self._sections: Any = None
        self._budgeted: Any = None

    def sections(self, source: Mapping[str, Any]) -> dict[str, Any]:
        """The fields ``source`` has, coerced to their types and bounded, in objects nested by the
        parts of their names, in order; each top-level object of the plan's fields is there, empty
        when ``source`` has none of its fields."""
        if self._sections is None:
            self._sections = _sections_code(self.fields, self.chars, self.items)
        found: dict[str, Any] = self._sections(source)
        return found

    def budgeted(self, source: Mapping[str, Any]) -> tuple[dict[str, Any], list[Any], list[int], int, bool]:
        """:meth:`sections`, the values put (in order) and the numbers of their fields in
        :attr:`fields`, what their names cost in a budget (each name and 4 bytes), and whether any
        value was cut."""
        if self._budgeted is None:
            self._budgeted = _sections_code(self.fields, self.chars, self.items, budget=True)
        found: tuple[dict[str, Any], list[Any], list[int], int, bool] = self._budgeted(source)
        return found


def _sections_code(fields: Sequence[_Field], chars: int | None, items: int, *, budget: bool = False) -> Any:
    """:meth:`_Plan.sections` as generated code: each field read inline, a single string of a text
    field kept as it is (when short enough), any other value through :func:`_converted`, and put in
    place without a loop over the parts of its name. With ``budget`` (:meth:`_Plan.budgeted`) it
    also returns the values put and their fields' numbers, what their names cost, and whether any
    value was cut."""
    namespace: dict[str, Any] = {}
    roots = list(dict.fromkeys(spec[2][0] for spec in fields))
    # (each top-level object made at once, but the budgeted's as its first field comes: the order of
    # the keys is the order their first fields come in)
    made = "" if budget else ", ".join(f"{root!r}: {{}}" for root in roots)
    lines = [
        "def sections(doc):",
        f"    out = {{{made}}}",
        "    values = []",
        "    numbers = []",
        "    cost = 0",
        "    cut = False",
    ]
    reads = InlineReads(namespace)
    for number, (name, kind, parts, array, text) in enumerate(fields):
        lines += reads.read(parts, "v")
        namespace[f"c{number}"] = functools.partial(_converted, (name, kind, array, chars, items))
        short = "" if chars is None else f" and len(v) <= {chars}"
        head = f"out.setdefault({parts[0]!r}, {{}})" if budget and len(parts) > 1 else f"out[{parts[0]!r}]"
        place = head + "".join(f".setdefault({part!r}, {{}})" for part in parts[1:-1])
        lines.append("    if v is not None:")
        if text:
            lines += [f"        if v.__class__ is str{short}:", "            x = v", "        else:"]
            lines += [f"            x, t = c{number}(v)", "            if t: cut = True"]
        else:
            lines += [f"        x, t = c{number}(v)", "        if t: cut = True"]
        lines += ["        if x is not None:", f"            {place}[{parts[-1]!r}] = x"]
        if budget:
            lines += [
                "            values.append(x)",
                f"            numbers.append({number})",
                f"            cost += {len(name) + 4}",
            ]
    lines.append("    return (out, values, numbers, cost, cut)" if budget else "    return out")
    exec(compile("\n".join(lines), "<alert sections>", "exec"), namespace)  # noqa: S102
    return namespace["sections"]


def _converted(spec: tuple[str, str, bool, int | None, int], raw: Any) -> tuple[Any, bool]:
    """A field's value as an alert keeps it (a list for ECS array fields, else the first value;
    bounded unless ``chars`` is None), or None when it has no value of its type; and whether it was
    cut. ``spec``: the field's name, type, whether it is an array, and the bounds."""
    name, kind, array, chars, items = spec
    values = _values_of(raw, kind)
    if not values:
        return None, False
    if chars is None:
        return (values if array else values[0]), False
    return _bounded(name, values, chars, items)


def _put_parts(target: dict[str, Any], parts: tuple[str, ...], value: Any) -> None:
    """Set a field, by the parts of its name, in nested objects."""
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value


_SUBJECT_PLAN = _Plan(SUBJECT_FIELDS)
_MEMBER_PLAN = _Plan(MEMBER_FIELDS, chars=MEMBER_CHARS, items=MEMBER_ITEMS)
_EVIDENCE_PLANS = {
    name: _Plan(
        {field: kind for field, kind in EVIDENCE_FIELDS.items() if field.startswith(name + ".")},
        chars=EVIDENCE_CHARS,
        items=EVIDENCE_ITEMS,
    )
    for name in EVIDENCE_SETS
}
# dict attributes a template may mean (``x.items``): those still go through the sandbox's getattr
_DICT_ATTRIBUTES = frozenset(dir(dict))


class _Sandbox(SandboxedEnvironment):
    """The sandbox, reading a key of a plain dict at once (the usual case: the context is data),
    which is what the sandbox would return for it after failing to find such an attribute."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        """``obj.attribute`` in a template."""
        if obj.__class__ is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


class AlertRenderError(ConfigError):
    """The alert template is broken or produced something that is not a JSON object (bad input: the
    commands exit 2 on it)."""


class AlertRenderer:
    """Renders findings into alert documents with the alert template."""

    def __init__(self, templates: Path) -> None:
        self.environment = _Sandbox(undefined=StrictUndefined, autoescape=False)
        # the output is JSON, not HTML: values are written as JSON and nothing more (Jinja's own
        # tojson, the only reader of its json.dumps_function policy, also escapes <>&' for HTML and
        # wraps the text as markup: the same JSON, slower)
        self.environment.filters["tojson"] = _json_dumps
        self._hunts: dict[str, tuple[Hunt, dict[str, Any]]] = {}  # hunt id -> (hunt, its context)
        path = templates / ALERT_TEMPLATE
        try:
            raw = path.read_bytes()
            self.template = self.environment.from_string(raw.decode("utf-8"))
        except (OSError, UnicodeDecodeError, TemplateError) as exc:
            raise AlertRenderError(f"{path}: {exc}") from exc
        self.path = path
        # the shipped template, unedited: its documents are built in Python (:mod:`.shipped_template`)
        self.shipped = hashlib.sha256(raw).hexdigest() == SHIPPED_SHA256

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
        """The alert document of ``finding``.

        ``sections`` are what a stored alert carries over when it is merged (:func:`merge_into`):
        ``host``/``process``/``user``, its top-level evidence sets and ``event.ingested``; by default
        host/process/user come from the finding's subject and every evidence set from the earliest
        listed member event that has it.
        """
        carried: Mapping[str, Any] = sections if sections is not None else {}
        subject = (
            {key: dict(carried.get(key) or {}) for key in ("host", "process", "user")}
            if sections is not None
            else subject_sections(finding.subject)
        )
        events = sorted(finding.events.values(), key=lambda ref: (ref.timestamp_ns, ref.index, ref.id))
        listed = events[:MAX_MEMBER_EVENTS]
        sources = [finding.sources.get((ref.index, ref.id)) for ref in listed]
        evidence = {name: _top_evidence(name, carried.get(name), sources) for name in EVIDENCE_SETS}
        ingested = (carried.get("event") or {}).get("ingested")
        cached = self._hunts.get(hunt.id)
        if cached is None or cached[0] is not hunt:
            cached = self._hunts[hunt.id] = (hunt, _hunt_context(hunt))
        context = {
            "hunt": cached[1],
            "alert": {
                "id": finding.alert_id,
                "first_seen": format_date_ns(finding.first_seen_ns, nanos=True),
                "last_seen": format_date_ns(finding.last_seen_ns, nanos=True),
                "created": _iso(created),
                "updated": _iso(now),
                "ingested": ingested if isinstance(ingested, str) else None,
                "version": version,
                "queries": sorted(finding.queries),
                "anchor": finding.anchor.as_dict(),
                "subject": finding.subject_kind,
                "events": [_member_entry(ref, source) for ref, source in zip(listed, sources, strict=True)],
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
            "evidence": evidence,
        }
        if self.shipped and sections is None and not suppressed:
            document = shipped_document(context)
            _drop_built_empties(document)
            return document
        if self.shipped:
            # values shared with the stored alert: the document's own copies, as JSON gives them
            built = shipped_document(context)
            document = self._parsed(lambda: orjson.dumps(built))
        else:
            document = self._parsed(lambda: self.template.render(**context))
        _drop_empty(document)
        return document

    def _parsed(self, write: Callable[[], str | bytes]) -> dict[str, Any]:
        """What ``write`` returns (the template's rendering, or JSON) parsed back as a JSON object."""
        try:
            text = write()
        except (TemplateError, TypeError) as exc:
            raise AlertRenderError(f"{self.path}: {exc}") from exc
        try:
            document = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise AlertRenderError(f"{self.path}: rendered text is not JSON: {exc}") from exc
        if not isinstance(document, dict):
            raise AlertRenderError(f"{self.path}: rendered JSON is not an object")
        return document


def subject_sections(source: Mapping[str, Any]) -> dict[str, Any]:
    """``host``/``process``/``user`` of an event, limited to ECS fields and coerced to ECS types."""
    return _SUBJECT_PLAN.sections(source)


def evidence_section(source: Mapping[str, Any], name: str) -> dict[str, Any]:
    """One evidence set (``destination``, ``dns``, ...) of an event: its ECS fields, coerced and bounded."""
    if name not in source and not dotted_keys(source):  # most events hold few of the sets
        return {}
    section: dict[str, Any] = _EVIDENCE_PLANS[name].sections(source)[name]
    return section


def member_evidence(source: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """What one member event's hunter.events entry keeps (MEMBER_FIELDS, coerced and bounded), and
    whether anything was cut. Taking it again from what it returned gives the same result."""
    # Each field costs its name, its value's JSON and 4 bytes. All of them together, the usual case,
    # are measured in one go: a list's JSON is its values' JSON, a comma between each two, brackets.
    found, values, numbers, cost, cut = _MEMBER_PLAN.budgeted(source)
    if not values or cost + len(orjson.dumps(values)) - len(values) - 1 <= MEMBER_BUDGET:
        return found, cut
    found = {}  # (cut: some field is left out)
    used = 0
    for number, value in zip(numbers, values, strict=True):
        field_name, _kind, parts, _array, _text = _MEMBER_PLAN.fields[number]
        size = len(field_name) + len(orjson.dumps(value)) + 4
        if used + size > MEMBER_BUDGET:
            cut = True
            continue
        used += size
        _put_parts(found, parts, value)
    return found, cut


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
        if isinstance(entry, Mapping):
            merged.sources[(ref.index, ref.id)] = entry  # its evidence, taken again unchanged
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
        if key in finding.sources:
            merged.sources[key] = finding.sources[key]
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
    # what the stored alert says stays: its subject (unless a better one came), its evidence sets, and
    # event.ingested (the time of its first write, on which Kibana's promote rules window)
    sections: dict[str, Any] = {
        key: existing.get(key) or {} for key in ("host", "process", "user", *EVIDENCE_SETS)
    }
    ingested = (existing.get("event") or {}).get("ingested")
    if ingested:
        sections["event"] = {"ingested": ingested}
    better_subject = _SUBJECT_RANK.get(finding.subject_kind, 0) > _SUBJECT_RANK.get(merged.subject_kind, 0)
    if better_subject:
        sections.update(subject_sections(finding.subject))
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
        "notes": hunt.notes,
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


def _top_evidence(name: str, kept: Any, sources: Sequence[Mapping[str, Any] | None]) -> dict[str, Any]:
    """A top-level evidence set: what the stored alert has, else the first listed member's that has it."""
    if isinstance(kept, Mapping) and kept:
        return dict(kept)
    for source in sources:
        if source is not None and (found := evidence_section(source, name)):
            return found
    return {}


def _member_entry(ref: EventRef, source: Mapping[str, Any] | None) -> dict[str, Any]:
    """A member's hunter.events entry: its reference and, when its source is known, its evidence.

    ``source`` is the event (this run) or the entry the stored alert has for it (merged), whose
    ``truncated`` mark is kept.
    """
    entry: dict[str, Any] = {
        "_index": ref.index,
        "_id": ref.id,
        "@timestamp": format_date_ns(ref.timestamp_ns, nanos=True),
        "event": {"category": list(ref.category)},
    }
    if source is None:
        return entry
    found, cut = member_evidence(source)
    entry["event"].update(found.pop("event", {}))
    entry.update(found)
    stored_cut = "_id" in source and source.get("truncated") is True
    if cut or stored_cut:
        entry["truncated"] = True
    return entry


def _values_of(raw: Any, kind: str) -> list[Any]:
    """The values of a field's raw value, coerced to ``kind`` (values that are not are left out)."""
    if raw is None:
        return []
    if raw.__class__ is str and kind in _TEXT_KINDS:
        return [raw]
    return [v for v in (_coerce(v, kind) for v in flatten(raw)) if v is not None]


def _bounded(name: str, values: list[Any], chars: int, items: int) -> tuple[Any, bool]:
    """A field's value within bounds (a list for ECS array fields, else the first value), and whether
    anything was cut: at most ``items`` values, strings of at most ``chars`` characters."""
    kept = values[:items] if name in ARRAY_FIELDS else values[:1]
    cut = name in ARRAY_FIELDS and len(values) > items
    bounded = []
    for value in kept:
        long_text = isinstance(value, str) and len(value) > chars
        bounded.append(value[: chars - len(TRUNCATED)] + TRUNCATED if long_text else value)
        cut = cut or long_text
    return (bounded if name in ARRAY_FIELDS else bounded[0]), cut


def _coerce(value: Any, kind: str) -> Any:
    if isinstance(value, dict | list) or value is None:
        return None
    if kind == "long":
        if isinstance(value, bool):
            return None
        try:
            number = int(value)
        except (TypeError, ValueError, OverflowError):
            return None
        # what a long holds: a larger number would make Elasticsearch refuse the whole alert
        return number if LONG_MIN <= number <= LONG_MAX else None
    if kind == "ip":
        return _ip_text(str(value))
    if kind == "date":
        ns = parse_date_ns(value)
        # alert dates are mapped date_nanos, which holds 1970-01-01 .. 2262-04-11 only: a value
        # outside it (Windows' 1601 "no time") would make Elasticsearch refuse the whole alert
        return None if ns is None or not 0 <= ns <= DATE_NANOS_MAX else format_date_ns(ns, nanos=True)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@lru_cache(maxsize=4_096)
def _ip_text(text: str) -> str | None:
    """An IP address as Elasticsearch's ``ip`` type writes it, or None; a host's addresses repeat in
    every alert about it (parsing one costs about 2 us)."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


@lru_cache(maxsize=64)
def _iso(moment: datetime) -> str:
    """ISO-8601 UTC text of a moment (the same two, a run's start and now, for every alert of a run)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _json_dumps(value: Any, **_kwargs: Any) -> str:
    if isinstance(value, Undefined):  # say which value is missing (orjson would name only the type)
        value._fail_with_undefined_error()
    return orjson.dumps(value, default=_undefined_default).decode("utf-8")


def _undefined_default(value: Any) -> Any:
    """orjson's fallback: an undefined template variable fails as Jinja would (UndefinedError)."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


# The parts of a document built from a new finding that hold no empties below their top: read from
# events by :meth:`_Plan.sections` (an object is made only when a value is put in it)
_BUILT_CLEAN = ("host", "process", "user", *EVIDENCE_SETS)


def _drop_built_empties(document: dict[str, Any]) -> None:
    """:func:`_drop_empty` of a document the shipped template's builder made from a new finding,
    without walking what holds no empties: the subject and evidence sets (empty or not, as a whole)
    and the member entries (unless an event has no category). About three objects in four of an
    alert are in those."""
    held: dict[str, Any] = {}
    for key in _BUILT_CLEAN:
        if document[key]:
            held[key] = document[key]
            document[key] = True  # in its place, so the keys keep their order
    hunter = document["hunter"]
    entries = hunter["events"]
    if entries:
        hunter["events"] = True
    _drop_empty(document)
    document.update(held)
    if entries:
        for entry in entries:
            if not entry["event"]["category"]:
                _drop_empty(entry)
        hunter["events"] = entries


def _drop_empty(value: Any) -> bool:
    """Remove, in place, the nulls and the empty objects and lists the template left for absent data
    (``value`` is freshly parsed JSON: dicts, lists and scalars); whether ``value`` ends up empty.
    Objects and lists inside a list are emptied but kept there, nulls in it are dropped."""
    if value.__class__ is dict:
        dropped = None
        for key, item in value.items():
            cls = item.__class__
            if item is None or ((cls is dict or cls is list) and _drop_empty(item)):
                if dropped is None:
                    dropped = [key]
                else:
                    dropped.append(key)
        if dropped is not None:
            for key in dropped:
                del value[key]
        return not value
    for item in value:
        if item is None or item.__class__ is dict or item.__class__ is list:
            break
    else:
        return not value  # scalars only: the usual list, left as it is
    kept = []
    for item in value:
        cls = item.__class__
        if cls is dict or cls is list:
            _drop_empty(item)
            kept.append(item)
        elif item is not None:
            kept.append(item)
    value[:] = kept
    return not value
