"""The shipped alert template (``templates/alert.json.j2``) written out in Python.

Rendering that template costs about 85 us an alert in Jinja and 30 us more parsing its text back;
a rule library's sweep over an export builds thousands of alerts. While the template file is the
one shipped (its SHA-256 is :data:`SHA256`), :class:`hunter.alerts.AlertRenderer` builds each
document with :func:`document` instead: the same keys in the same order, each value what the
template's ``tojson`` would have written and JSON would have given back (the context holds JSON
values only: strings, numbers, booleans, None, lists and dicts). Any other template, an edited
copy included, is rendered by Jinja. tests/test_shipped_template.py holds the two to the same
documents; changing the template means changing this module and :data:`SHA256` with it.
"""

from __future__ import annotations

from typing import Any

# SHA-256 of the shipped templates/alert.json.j2 (its bytes, as read from the file)
SHA256 = "58cb1897c37f76391475d3f91142a7321ff17740a8bb5ffa351b7a2193f57ffc"


def document(context: dict[str, Any]) -> dict[str, Any]:
    """The document the shipped template renders from ``context`` (``hunt``, ``alert``,
    ``subject``, ``evidence``; see the template's head), before empties are dropped. The values of
    ``context["hunt"]`` are shared by every alert of the hunt: those that are lists or objects are
    copied, so the document owns what it holds, as a parsed text would."""
    hunt = context["hunt"]
    alert = context["alert"]
    subject = context["subject"]
    evidence = context["evidence"]
    process = subject["process"]
    host = subject["host"]
    user = subject["user"]
    who = process.get("name", "a process")  # the template's "process.name if process.name is defined"
    where = host["name"] if "name" in host else host.get("hostname", "an unknown host")
    message = "".join(
        (
            str(hunt["name"]),
            ": ",
            str(who),
            f" (pid {process['pid']})" if "pid" in process else "",
            " on ",
            str(where),
            f" as {user['name']}" if "name" in user else "",
            ", matched by ",
            " and ".join(map(str, alert["queries"])),
        )
    )
    references = hunt["references"]
    reference = references[0] if references else None
    threat = hunt["threat"]
    first_seen = alert["first_seen"]
    created = alert["created"]
    version = hunt["version"]
    doc: dict[str, Any] = {
        "@timestamp": first_seen,
        "message": message,
        "event": {
            "kind": "alert",
            "category": ["intrusion_detection"],
            "type": ["info"],
            "id": alert["id"],
            "severity": hunt["severity_number"],
            "risk_score": hunt["risk_score"],
            "dataset": "hunter.alerts",
            "module": "hunter",
            "created": created,
            "ingested": alert["ingested"] or created,
            "start": first_seen,
            "end": alert["last_seen"],
            "reference": reference,
        },
        "rule": {
            "id": hunt["id"],
            "uuid": hunt["id"],
            "name": hunt["name"],
            "description": hunt["description"],
            "reference": reference,
            "ruleset": "elastic" if hunt["source"] == "detection-rules" else "hunter",
            "category": threat["category"] if threat else None,
            "author": _copy(hunt["author"]),
            "version": str(version) if version is not None else None,
            "license": hunt["license"] or None,
        },
    }
    if threat:
        technique = threat["technique"]
        doc["threat"] = {
            "framework": _copy(threat["framework"]),
            "tactic": _copy(threat["tactic"]),
            "technique": {
                "id": _copy(technique["id"]),
                "name": _copy(technique["name"]),
                "reference": _copy(technique["reference"]),
                "subtechnique": _copy(threat["subtechnique"]),
            },
        }
    doc["host"] = host
    doc["process"] = process
    doc["user"] = user
    for name in ("source", "destination", "network", "dns", "file", "registry", "dll", "url"):
        doc[name] = evidence[name]
    doc["tags"] = ["hunter", "hunt:" + str(hunt["id"]), *hunt["tags"]]
    doc["hunter"] = {
        "hunt": {
            "id": hunt["id"],
            "name": hunt["name"],
            "severity": hunt["severity"],
            "source": hunt["source"],
            "building_block": True if hunt["building_block"] else None,
            "notes": hunt["notes"] or None,
        },
        "alert_id": alert["id"],
        "version": alert["version"],
        "queries": alert["queries"],
        "first_seen": first_seen,
        "last_seen": alert["last_seen"],
        "created": created,
        "updated": alert["updated"],
        "anchor": alert["anchor"],
        "subject": alert["subject"],
        "events": alert["events"],
        "event_count": alert["event_count"],
        "sequences": alert["sequences"],
        "sequence_count": alert["sequence_count"],
        "members": alert["members"],
        "window": alert["window"],
        "suppressed": alert["suppressed"],
        "false_positives": _copy(hunt["false_positives"]),
    }
    return doc


def _copy(value: Any) -> Any:
    """A JSON value's lists and objects copied, all the way down (strings and numbers are shared)."""
    cls = value.__class__
    if cls is list:  # most are lists of strings
        return [item if item.__class__ is str else _copy(item) for item in value]
    if cls is dict:
        return {key: _copy(item) for key, item in value.items()}
    return value
