"""Elastic's prebuilt detection rules (elastic/detection-rules TOML files) read as hunts, as shipped.

A rule file has a ``[metadata]`` table (maturity, dates), a ``[rule]`` table and sometimes a
``[transform]`` table. Only ``type = "eql"`` rules become hunts; the others (query, esql,
threshold, new_terms, machine_learning, threat_match) and deprecated rules (``maturity =
"deprecated"``, or a file under a ``_deprecated/`` folder) are skipped and counted, never errors,
unless ``include_deprecated`` asks for the deprecated EQL ones too.

How a rule maps onto :class:`~hunter.hunts.Hunt`:

====================================  ===================================================================
``rule_id``                           ``id`` (alerts carry it in ``hunter.hunt.id`` and ``rule.uuid``)
``name``, ``description``,            the same fields; ``note`` is ``notes``, ``author`` a tuple,
``severity``, ``risk_score``,         ``version`` (absent from shipped rules: detection-rules keeps
``tags``, ``references``,             versions in its version lock) stays None
``false_positives``, ``note``,
``author``, ``version``, ``license``
``query``                             the hunt's one query, named ``query``; refused EQL is a problem
``index``                             ``indices``; absent: Kibana's default index patterns
``interval``, ``from``                ``interval_ns``; ``lookback_ns`` = ``from`` - ``interval``
``timestamp_override`` (+ fallback)   ``timestamp_override``, ``timestamp_override_fallback``
``max_signals``                       ``max_signals`` (Kibana's default 100 when absent)
``threat``                            ``threat``: one :class:`~hunter.hunts.Threat` per entry
``building_block_type``               ``building_block`` (``"default"`` is the only value Kibana knows)
``event_category_override``,          ``event_category_field``, ``tiebreaker_field``,
``tiebreaker_field``,                 ``timestamp_field``
``timestamp_field``
``enabled``                           ``enabled``
====================================  ===================================================================

What is taken from Kibana (elastic/kibana, ``x-pack/solutions/security/plugins/security_solution``):

* ``common/detection_engine/prebuilt_rules/diff/normalize_rule_response.ts``: a rule without
  ``interval`` runs every ``5m``, without ``from`` searches from ``now-6m``, without ``max_signals``
  makes at most ``DEFAULT_MAX_SIGNALS`` alerts per run, and ``timestamp_override_fallback_disabled``
  is false unless set (events without the override field are searched by ``@timestamp``).
* ``common/constants.ts``: ``DEFAULT_MAX_SIGNALS = 100``; ``DEFAULT_INDEX_PATTERN`` (``apm-*-transaction*``,
  ``auditbeat-*``, ``endgame-*``, ``filebeat-*``, ``logs-*``, ``packetbeat-*``, ``traces-apm*``,
  ``winlogbeat-*`` and the exclusion ``-*elastic-cloud-logs-*``), which ``server/ui_settings.ts``
  registers as the default of the ``securitySolution:defaultIndex`` setting: what a rule without
  ``index`` searches.
* ``common/detection_engine/rule_management/to_simple_rule_schedule.ts``: Kibana's "additional
  look-back" is ``from`` minus ``now-<interval>``, used only when not negative. Each Kibana run
  searches ``[now - from, now]``; hunter's windows already start where the previous run ended, so
  the same coverage is ``lookback_ns = from - interval`` (``now-9m`` every 5m: 4 minutes), never
  negative. Only ``now-<n><s|m|h|d>`` is accepted for ``from``; other date math is a problem.

Keys are checked against detection-rules' own schema (``detection_rules/rule.py``: ``BaseRuleData``
and the per-type data classes; ``RuleMeta``; ``detection_rules/schemas/definitions.py`` for
``Interval`` and ``BuildingBlockType``) plus Kibana's API fields: a key neither knows is a warning,
not an error, since Elastic adds keys over time. Known keys that would change what a rule matches
but that hunter does not apply (``filters``, ``exceptions_list``, ``alert_suppression``,
``data_view_id``, a ``to`` other than ``now``, severity and risk score overrides) are warnings too.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..hunts import SOURCE_DETECTION_RULES, FileOutcome, Hunt, Skipped, TomlChecker

QUERY_NAME = "query"
DEPRECATED_FOLDER = "_deprecated"
KIBANA_DEFAULT_INTERVAL = "5m"
KIBANA_DEFAULT_FROM = "now-6m"
KIBANA_DEFAULT_MAX_SIGNALS = 100
KIBANA_DEFAULT_INDEX = (
    "apm-*-transaction*",
    "auditbeat-*",
    "endgame-*",
    "filebeat-*",
    "logs-*",
    "packetbeat-*",
    "traces-apm*",
    "winlogbeat-*",
    "-*elastic-cloud-logs-*",
)

_UNIT_NS = {"s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000, "d": 86_400_000_000_000}
_INTERVAL_RE = re.compile(r"^(\d+)([smhd])$")  # detection-rules' INTERVAL_PATTERN, Kibana's TimeDuration
_FROM_RE = re.compile(r"^now-(\d+)([smhd])$")
_RULE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")

_TOP_KEYS = {"metadata", "rule", "transform"}
_METADATA_KEYS = {
    "creation_date", "updated_date", "deprecation_date", "deprecated_reason", "bypass_bbr_timing",
    "comments", "integration", "maturity", "min_stack_version", "min_stack_comments", "os_type_list",
    "query_schema_validation", "related_endpoint_rules", "promotion", "extended",
}  # fmt: skip
_RULE_KEYS = {
    # BaseRuleData
    "name", "author", "description", "from", "investigation_fields", "related_integrations",
    "required_fields", "revision", "setup", "risk_score", "rule_id", "severity", "type", "actions",
    "building_block_type", "enabled", "exceptions_list", "false_positives", "filters", "interval",
    "license", "max_signals", "meta", "note", "references", "risk_score_mapping", "rule_name_override",
    "severity_mapping", "tags", "threat", "throttle", "timeline_id", "timeline_title",
    "timestamp_override", "to", "version",
    # QueryRuleData, EQLRuleData, ESQLRuleData
    "query", "language", "alert_suppression", "index", "data_view_id", "timestamp_field",
    "event_category_override", "tiebreaker_field",
    # MachineLearningRuleData, ThresholdQueryRuleData, NewTermsRuleData, ThreatMatchRuleData
    "anomaly_threshold", "machine_learning_job_id", "threshold", "new_terms", "new_terms_fields",
    "history_window_start", "concurrent_searches", "items_per_search", "threat_mapping",
    "threat_filters", "threat_query", "threat_language", "threat_index", "threat_indicator_path",
    # Kibana's rule API (exports carry them)
    "timestamp_override_fallback_disabled", "response_actions", "namespace", "output_index",
    "saved_id",
}  # fmt: skip
_NOT_APPLIED = {
    "filters": "its query DSL filters narrow what the rule matches in Kibana",
    "exceptions_list": "its exception lists narrow what the rule matches in Kibana",
    "alert_suppression": "Kibana suppresses its alerts by these fields",
    "data_view_id": "Kibana searches that data view; the hunt searches the default index patterns",
    "severity_mapping": "Kibana takes an alert's severity from event fields",
    "risk_score_mapping": "Kibana takes an alert's risk score from event fields",
}


def read_rule(
    path: Path, text: str, data: dict[str, Any], *, include_deprecated: bool = False
) -> FileOutcome:
    """One parsed detection-rules file (``data`` has a ``[rule]`` table): a hunt, a skip, or problems."""
    skipped = _plain_skip(path, data, include_deprecated=include_deprecated)
    if skipped is not None:
        return FileOutcome(path, skipped=skipped)
    return _RuleReader(path, text, data).read(include_deprecated=include_deprecated)


def _plain_skip(path: Path, data: dict[str, Any], *, include_deprecated: bool) -> Skipped | None:
    """The skip of a rule file that is skipped with nothing to report (half of a library), else None.

    Decided as :meth:`_RuleReader.read` decides, but without locating the file's keys first (which
    only a problem or a warning needs): a deprecated rule, or one whose ``type`` is a string other
    than ``eql``, with a ``[metadata]`` table or none. Every other file goes through the reader.
    """
    metadata = data.get("metadata", {})
    if not isinstance(metadata, dict):
        return None
    rule: dict[str, Any] = data["rule"]
    deprecated = _deprecated(path, metadata)
    if deprecated and not include_deprecated:
        return _skipped(path, rule, "deprecated", deprecated=True)
    rule_type = rule.get("type")
    if isinstance(rule_type, str) and rule_type and rule_type != "eql":
        return _skipped(path, rule, f'not EQL (type = "{rule_type}")', deprecated=False)
    return None


def _deprecated(path: Path, metadata: dict[str, Any]) -> bool:
    return metadata.get("maturity") == "deprecated" or DEPRECATED_FOLDER in path.parts


def _skipped(path: Path, rule: dict[str, Any], reason: str, *, deprecated: bool) -> Skipped:
    rule_id, name = (
        str(value) if isinstance(value, str) else "" for value in (rule.get("rule_id"), rule.get("name"))
    )
    return Skipped(path, reason, deprecated=deprecated, rule_id=rule_id, name=name)


def duration_ns(text: str) -> int | None:
    """Kibana's ``<n><s|m|h|d>`` (``interval``) in nanoseconds, None if not in that form."""
    match = _INTERVAL_RE.match(text)
    return int(match.group(1)) * _UNIT_NS[match.group(2)] if match else None


def from_ns(text: str) -> int | None:
    """How far back Kibana's date math ``now-<n><s|m|h|d>`` (``from``) reaches, None if not that form."""
    match = _FROM_RE.match(text)
    return int(match.group(1)) * _UNIT_NS[match.group(2)] if match else None


class _RuleReader(TomlChecker):
    """Reads one detection-rules file, collecting located problems and warnings."""

    def __init__(self, path: Path, text: str, data: dict[str, Any]) -> None:
        super().__init__(path, text)
        self.data = data
        self.rule: dict[str, Any] = data["rule"]

    def read(self, *, include_deprecated: bool) -> FileOutcome:
        rule = self.rule
        metadata = self.data.get("metadata", {})
        if not isinstance(metadata, dict):
            self.problem("metadata", "metadata must be a table")
            metadata = {}
        deprecated = _deprecated(self.path, metadata)
        if deprecated and not include_deprecated:
            return self._skip("deprecated", deprecated=True)
        rule_type = self.string("rule.type", rule.get("type"), required=True)
        if not rule_type:  # without a type there is no telling which keys the rule needs
            return FileOutcome(self.path, problems=self.problems, locate_id=self._locate_id)
        if rule_type != "eql":
            return self._skip(f'not EQL (type = "{rule_type}")', deprecated=False)
        self.unknown("", self.data, _TOP_KEYS, warn=True)
        self.unknown("metadata", metadata, _METADATA_KEYS, warn=True)
        self.unknown("rule", rule, _RULE_KEYS, warn=True)
        hunt = self._hunt(deprecated)
        return FileOutcome(
            self.path,
            hunt=None if self.problems else hunt,
            problems=self.problems,
            warnings=self.warnings,
            locate_id=self._locate_id,
        )

    def _locate_id(self) -> int:
        return self.line_of("rule.rule_id")

    def _skip(self, reason: str, *, deprecated: bool) -> FileOutcome:
        skipped = _skipped(self.path, self.rule, reason, deprecated=deprecated)
        return FileOutcome(self.path, skipped=skipped, problems=self.problems)

    def _hunt(self, deprecated: bool) -> Hunt | None:
        rule = self.rule
        rule_id = self.string("rule.rule_id", rule.get("rule_id"), required=True)
        if rule_id and not _RULE_ID_RE.match(rule_id):
            self.problem("rule.rule_id", "rule.rule_id must be 1-128 letters, digits, '_', '.' or '-'")
        name = self.string("rule.name", rule.get("name"), required=True).strip()
        description = self.string("rule.description", rule.get("description"), required=True).strip()
        severity = self.severity("rule.severity", rule.get("severity"))
        if "risk_score" in rule:
            risk = self.risk_score("rule.risk_score", rule["risk_score"])
        else:
            self.problem("rule", "missing required key 'rule.risk_score'")
            risk = 0.0
        language = self.string("rule.language", rule.get("language"))
        if language and language != "eql":
            self.problem("rule.language", f'rule.language must be "eql" for an EQL rule, not "{language}"')
        interval = self._interval(rule.get("interval", KIBANA_DEFAULT_INTERVAL))
        reach = self._from(rule.get("from", KIBANA_DEFAULT_FROM))
        building_block = self._building_block(rule.get("building_block_type"))
        max_signals = self._positive("rule.max_signals", rule.get("max_signals"))
        version = self._positive("rule.version", rule.get("version"))
        threat = self.threat_entries("rule.threat", rule["threat"]) if "threat" in rule else ()
        fallback_disabled = self.boolean(
            "rule.timestamp_override_fallback_disabled",
            rule.get("timestamp_override_fallback_disabled"),
            False,
        )
        self._not_applied()
        text = self.string("rule.query", rule.get("query"), required=True)
        query = None
        if text.strip():
            query = self.query("rule.query", QUERY_NAME, text)
        elif "query" in rule:
            self.problem("rule.query", "rule.query is empty")
        if self.problems or query is None:
            return None
        return Hunt(
            id=rule_id,
            name=name,
            severity=severity,
            risk_score=risk,
            interval_ns=interval,
            queries=(query,),
            path=self.path,
            description=description,
            lookback_ns=max(0, reach - interval),
            indices=self.strings("rule.index", rule.get("index")) or KIBANA_DEFAULT_INDEX,
            tags=self.strings("rule.tags", rule.get("tags")),
            references=self.strings("rule.references", rule.get("references")),
            false_positives=self.strings("rule.false_positives", rule.get("false_positives")),
            notes=self.string("rule.note", rule.get("note")).strip(),
            author=self.strings("rule.author", rule.get("author")),
            threat=threat,
            enabled=self.boolean("rule.enabled", rule.get("enabled"), True),
            version=version,
            building_block=building_block,
            max_signals=KIBANA_DEFAULT_MAX_SIGNALS if max_signals is None else max_signals,
            timestamp_override=self.string("rule.timestamp_override", rule.get("timestamp_override")) or None,
            timestamp_override_fallback=not fallback_disabled,
            timestamp_field=self.string("rule.timestamp_field", rule.get("timestamp_field")) or None,
            event_category_field=self.string(
                "rule.event_category_override", rule.get("event_category_override")
            )
            or None,
            tiebreaker_field=self.string("rule.tiebreaker_field", rule.get("tiebreaker_field")) or None,
            source=SOURCE_DETECTION_RULES,
            license=self.string("rule.license", rule.get("license")),
            deprecated=deprecated,
        )

    def _interval(self, value: Any) -> int:
        found = duration_ns(value) if isinstance(value, str) else None
        if not found:
            self.problem(
                "rule.interval",
                f"rule.interval must be a positive '<number><s|m|h|d>' such as '5m', not {value!r}",
            )
            return _UNIT_NS["m"] * 5
        return found

    def _from(self, value: Any) -> int:
        found = from_ns(value) if isinstance(value, str) else None
        if found is None:
            self.problem(
                "rule.from",
                f"rule.from must be Kibana date math 'now-<number><s|m|h|d>' such as 'now-9m', not {value!r}",
            )
            return 0
        return found

    def _building_block(self, value: Any) -> bool:
        if value is None:
            return False
        if value != "default":
            self.problem(
                "rule.building_block_type", f"rule.building_block_type must be 'default', not {value!r}"
            )
        return True

    def _positive(self, key: str, value: Any) -> int | None:
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            self.problem(key, f"{key} must be a whole number of at least 1")
            return None
        return value

    def _not_applied(self) -> None:
        for key, why in _NOT_APPLIED.items():
            if self.rule.get(key):
                self.warn(f"rule.{key}", f"rule.{key} is not applied by hunter ({why})")
        to = self.rule.get("to")
        if to is not None and to != "now":
            self.warn(
                "rule.to", f"rule.to = {to!r} is not applied by hunter: hunts search up to the run's end"
            )
