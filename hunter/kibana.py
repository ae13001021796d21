"""Kibana detection rules that promote hunter's alerts to Elastic Security alerts (``hunter export kibana``).

One query rule per hunt (its name, severity, risk score, MITRE ``threat``, ``investigation_fields``,
``required_fields``), so Kibana's MITRE ATT&CK coverage shows hunter's techniques, and the generic rule
(``kibana/hunter-detection-rule.ndjson``) for the alerts of every other hunt. All of them run every
minute over ``logs-hunter.alerts-*`` on ``event.ingested``, and none needs a paid license.

**Promoted once.** Kibana names the alert a query rule makes from a source document
``sha256(_index + _id + String(_version) + space:rule)`` (``generateId`` in
``rule_types/utils/utils.ts``, called by ``factories/wrap_hits.ts``) and drops a second alert with an
id it already has. hunter updates an alert in place, in its backing index, and Elasticsearch accepts
such a write only with ``if_seq_no``/``if_primary_term`` (``prohibitAppendWritesInBackingIndices``),
which it refuses to combine with any version type (``validateSeqNoBasedCASParams``): every update
gives the document a new ``_version``. Were the rule to see an alert before and after an update, a
``_version`` in the id would make two detection alerts. So every rule here matches only
``hunter.first_write: true``, the mark the store writes with a new alert and drops from every update
(:func:`hunter.store.as_written`): a rule can see each alert in one state only, the one written by
``create`` (``_version`` 1), and every run computes the same id for it. Alert suppression would be
the other way out, but Kibana applies it to query rules only with a Platinum license
(``query/query.ts``, ``hasPlatinumLicense``). An alert that hunter rewrites before any run of its
rule saw it (within about a minute of its creation) is not promoted; it stays an external alert.

**Windowed on the write.** ``event.ingested`` is the moment the store first wrote the alert, so an
alert is inside the windows of the rule's runs for ``LOOKBACK`` after that (plus Kibana's catch-up
windows after a missed run), whatever its ``@timestamp``, and however long the hunt run took.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from .alerts import EVIDENCE_FIELDS
from .hunts import Hunt, Technique, Threat, ThreatRef

ALERTS_INDEX = "logs-hunter.alerts-*"
GENERIC_RULE_ID = "e53c7315-7601-407b-a63d-9f9ef598c566"
INTERVAL = "1m"  # how often each rule runs
LOOKBACK = "2m"  # additional look-back: a run's window is INTERVAL + LOOKBACK long
FROM = "now-3m"
MAX_SIGNALS = 1000  # per run: a catch-up of hunter can write hundreds of alerts in a minute
PROMOTABLE = 'event.kind: "alert" and hunter.first_write: true'
SEVERITY_VALUES = {"low": 21, "medium": 47, "high": 73, "critical": 99}
# Per-hunt rule ids are uuid5 of this namespace and the hunt id: stable across exports, and never
# the id of the Elastic rule a detection-rules hunt came from (importing would overwrite that rule).
RULE_NAMESPACE = uuid.UUID("0b7f5d1e-4c2a-5f3e-9a61-8d2c4e7b9f10")
REQUIRED_FIELDS = (
    {"name": "event.ingested", "type": "date_nanos"},
    {"name": "event.kind", "type": "keyword"},
    {"name": "hunter.first_write", "type": "boolean"},
    {"name": "hunter.hunt.id", "type": "keyword"},
)
# Highlighted in the alert flyout: who, where, what matched, then what the hunt's queries look at.
INVESTIGATION_FIELDS = (
    "host.name",
    "user.name",
    "process.name",
    "process.command_line",
    "process.parent.name",
    "hunter.queries",
    "hunter.event_count",
)
_KEY_EVIDENCE = (
    "source.ip",
    "source.port",
    "destination.ip",
    "destination.port",
    "destination.domain",
    "network.direction",
    "network.transport",
    "dns.question.name",
    "dns.resolved_ip",
    "file.path",
    "file.hash.sha256",
    "registry.path",
    "registry.data.strings",
    "dll.path",
    "dll.hash.sha256",
    "url.full",
)
NOTE = (
    "## Triage and analysis\n\n"
    "This alert is a copy of an alert that **hunter** wrote to `logs-hunter.alerts-*` after a scheduled "
    "EQL threat hunt matched.\n\n"
    "- `hunter.hunt.id` names the hunt, `threat.*` its MITRE ATT&CK technique.\n"
    "- `hunter.queries` lists the hunt's queries that matched; `hunter.first_seen` / `hunter.last_seen` "
    "bound the activity.\n"
    "- `host.*`, `process.*` and `user.*` describe the process the finding is about; `source.*`, "
    "`destination.*`, `network.*`, `dns.*`, `file.*`, `registry.*`, `dll.*` and `url.*` what it did.\n"
    "- `hunter.events` lists the matching events (`_index`, `_id`, `@timestamp`) with each one's own "
    "ECS fields: open them in Discover or Timeline for the full picture.\n"
    "- hunter keeps updating its alert as the hunt finds more of the same activity: "
    "`kibana.alert.ancestors.id` leads to it.\n"
)
SETUP = (
    "## Setup\n\n"
    "Import `kibana/hunter-data-view.ndjson` too, and run hunter against this cluster (see "
    "`kibana/README.md`). hunter writes `event.ingested` (when it first wrote the alert) and "
    "`hunter.first_write`, which this rule needs.\n\n"
    "If Elastic's prebuilt **External Alerts** rule (rule_id eb079c62-4481-4d6e-9643-3ca499df7aaa) is "
    "enabled, it promotes hunter's alerts as well, because they are `event.kind: alert` documents in "
    "`logs-*`. Add an exception `hunter.hunt.id exists` to that rule to avoid duplicate alerts.\n"
)


def hunt_rule_id(hunt_id: str) -> str:
    """The rule_id of a hunt's promote rule (uuid5 of RULE_NAMESPACE and the hunt id)."""
    return str(uuid.uuid5(RULE_NAMESPACE, hunt_id))


def export_rules(hunts: Iterable[Hunt], *, index: str = ALERTS_INDEX) -> list[dict[str, Any]]:
    """One promote rule per enabled hunt (by hunt id), then the generic rule for every other hunt,
    all over ``index`` (the pattern of the configured alert data stream)."""
    chosen = sorted((hunt for hunt in hunts if hunt.enabled and not hunt.deprecated), key=lambda h: h.id)
    rules = [hunt_rule(hunt, index=index) for hunt in chosen]
    return [*rules, generic_rule(excluded=[hunt.id for hunt in chosen], index=index)]


def rules_ndjson(rules: Sequence[dict[str, Any]]) -> str:
    """Rules as the NDJSON Kibana's rule import reads: one object a line, no export summary line."""
    return "".join(orjson.dumps(rule).decode("utf-8") + "\n" for rule in rules)


def hunt_rule(hunt: Hunt, *, index: str = ALERTS_INDEX) -> dict[str, Any]:
    """The promote rule of one hunt: its alerts become detection alerts named and rated as the hunt."""
    tags = list(dict.fromkeys(["hunter", "Promotion: External Alerts", *hunt.tags]))
    rule: dict[str, Any] = {
        **_common(index),
        "rule_id": hunt_rule_id(hunt.id),
        "version": hunt.version if hunt.version and hunt.version > 0 else 1,
        "name": hunt.name,
        "description": hunt.description or hunt.name,
        "query": f"{PROMOTABLE} and hunter.hunt.id: {kql_string(hunt.id)}",
        "severity": hunt.severity,
        "risk_score": max(0, min(100, round(hunt.risk_score))),
        "severity_mapping": [],
        "risk_score_mapping": [],
        "threat": [threat_entry(entry) for entry in hunt.threat],
        "investigation_fields": {"field_names": investigation_fields(hunt)},
        "author": list(hunt.author) or ["hunter"],
        "license": hunt.license,
        "tags": tags,
        "references": list(hunt.references),
        "false_positives": list(hunt.false_positives),
        "note": NOTE + (f"\n## The hunt's notes\n\n{hunt.notes}\n" if hunt.notes else ""),
    }
    if hunt.building_block:
        rule["building_block_type"] = "default"
    return rule


def generic_rule(*, excluded: Sequence[str] = (), index: str = ALERTS_INDEX) -> dict[str, Any]:
    """The rule that promotes the alerts of every hunt without a rule of its own (``excluded``): named
    after each hunt (``rule.name``), rated by ``event.severity`` and ``event.risk_score``."""
    query = f"{PROMOTABLE} and hunter.hunt.id: *"
    if excluded:
        query += " and not hunter.hunt.id: (" + " or ".join(kql_string(i) for i in excluded) + ")"
    return {
        **_common(index),
        "rule_id": GENERIC_RULE_ID,
        "version": 2,
        "name": "hunter: promote hunt alerts",
        "description": (
            "Promotes the alerts that hunter (scheduled EQL threat hunts) writes to the "
            "logs-hunter.alerts-* data stream into Elastic Security detection alerts, each once. Each "
            "detection alert takes its name from rule.name, its severity from event.severity "
            "(21/47/73/99 = low/medium/high/critical) and its risk score from event.risk_score of the "
            "hunter alert. Hunts exported with `hunter export kibana` have rules of their own and are "
            "left out here."
        ),
        "query": query,
        "severity": "medium",
        "severity_mapping": [
            {"field": "event.severity", "operator": "equals", "value": str(number), "severity": name}
            for name, number in SEVERITY_VALUES.items()
        ],
        "risk_score": 47,
        "risk_score_mapping": [{"field": "event.risk_score", "operator": "equals", "value": ""}],
        "rule_name_override": "rule.name",
        "threat": [],
        "investigation_fields": {"field_names": list(INVESTIGATION_FIELDS)},
        "author": ["hunter"],
        "license": "Apache-2.0",
        "tags": ["hunter", "Promotion: External Alerts", "Use Case: Threat Detection"],
        "references": [],
        "false_positives": ["Each hunt lists its own known false positives in hunter.false_positives."],
        "note": NOTE,
    }


def threat_entry(entry: Threat) -> dict[str, Any]:
    """A hunt's threat entry in Kibana's ``threat[]`` shape."""
    return {
        "framework": entry.framework,
        "tactic": _ref(entry.tactic),
        "technique": [
            {**_ref(technique), "subtechnique": [_ref(sub) for sub in technique.subtechniques]}
            for technique in entry.techniques
        ],
    }


def investigation_fields(hunt: Hunt) -> list[str]:
    """The fields an analyst looks at first: the common ones, then the evidence the hunt's queries name."""
    text = "\n".join(query.text for query in hunt.queries)
    named = [name for name in EVIDENCE_FIELDS if re.search(rf"(?<![\w.]){re.escape(name)}(?![\w])", text)]
    sets = {name.split(".")[0] for name in named}
    key = [name for name in _KEY_EVIDENCE if name.split(".")[0] in sets]
    return list(dict.fromkeys([*INVESTIGATION_FIELDS, *named, *key]))


def kql_string(value: str) -> str:
    """``value`` as a quoted KQL string (backslash and double quote escaped)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _common(index: str) -> dict[str, Any]:
    """What every promote rule shares: the source, the schedule and the timestamp."""
    return {
        "type": "query",
        "language": "kuery",
        "index": [index],
        "filters": [],
        "enabled": True,
        "interval": INTERVAL,
        "from": FROM,
        "to": "now",
        "meta": {"from": LOOKBACK},
        "max_signals": MAX_SIGNALS,
        "timestamp_override": "event.ingested",
        "timestamp_override_fallback_disabled": False,
        "required_fields": [dict(field) for field in REQUIRED_FIELDS],
        "setup": SETUP,
        "exceptions_list": [],
        "actions": [],
    }


def _ref(ref: ThreatRef | Technique) -> dict[str, str]:
    return {"id": ref.id, "name": ref.name, "reference": ref.reference}
