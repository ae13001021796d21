"""Sigma rules as hunter hunts: ``hunter import sigma PATH... --out DIR [--pipeline NAME]``.

Each Sigma rule (``*.yml``/``*.yaml``, folders searched recursively) is converted by pySigma's
Elasticsearch EQL backend through the ECS pipeline of its log source (:mod:`.sigma_convert`), its
EQL is compiled by hunter's engine, and it is written as one native hunt file: the rule's path
under its PATH with ``.toml`` (``windows/process_creation/x.yml`` -> ``DIR/windows/process_creation/x.toml``).
Output is deterministic, and a file whose content would not change is not rewritten, so re-running
the import over the same rules changes nothing in git.

How a rule maps onto a hunt:

================================  ==================================================================
``id``                            ``id`` (lowercased); a rule without one gets ``sigma-<file stem>``
``title``, ``description``        ``name``, ``description`` (the title when there is no description)
``level``                         ``severity`` and ``risk_score`` as the backend's Kibana rules set
                                  them: informational low/1, low 21, medium 47, high 73, critical 99
``tags``                          ``tags`` as written, plus ``sigma`` and ``sigma.status.<status>``;
                                  ``attack.<tactic>`` and ``attack.tNNNN[.NNN]`` -> ``[[threat]]``
``falsepositives``, ``author``,   ``false_positives``, ``author``, ``references``
``references``
``status``                        a tag and the notes; ``deprecated``/``unsupported`` rules are
                                  written with ``enabled = false``
``logsource``                     ``indices``: Elastic Defend and Beats/integration patterns
``detection``                     ``[queries.query]`` (``query_2``... for a list of conditions)
================================  ==================================================================

ATT&CK: Sigma tags carry ids only. Tactic names come from the 14 Enterprise tactics; a technique's
name is its id (names need the ATT&CK data set, which is not fetched). With one tactic tag every
technique is placed under it; with several, under each of them (the notes say so).

Every repair made to the converter's EQL is named in the hunt's notes with an example; a rule that
cannot be converted, or whose EQL the engine refuses, is not written and is counted by reason.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from ..eql import EqlError, compile_query
from ..errors import ConfigError
from .detection_rules import KIBANA_DEFAULT_INDEX

INSTALL_HINT = "pip install 'hunter[sigma]'"
QUERY_NAME = "query"
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")

# Sigma level -> (hunter severity, risk score), as the backend's Kibana rule output sets them
LEVELS = {
    "informational": ("low", 1),
    "low": ("low", 21),
    "medium": ("medium", 47),
    "high": ("high", 73),
    "critical": ("critical", 99),
}
DEFAULT_LEVEL = ("low", 21)

# ATT&CK Enterprise tactics: Sigma tag name -> (id, name)
TACTICS = {
    "reconnaissance": ("TA0043", "Reconnaissance"),
    "resource_development": ("TA0042", "Resource Development"),
    "initial_access": ("TA0001", "Initial Access"),
    "execution": ("TA0002", "Execution"),
    "persistence": ("TA0003", "Persistence"),
    "privilege_escalation": ("TA0004", "Privilege Escalation"),
    "defense_evasion": ("TA0005", "Defense Evasion"),
    "credential_access": ("TA0006", "Credential Access"),
    "discovery": ("TA0007", "Discovery"),
    "lateral_movement": ("TA0008", "Lateral Movement"),
    "collection": ("TA0009", "Collection"),
    "command_and_control": ("TA0011", "Command and Control"),
    "exfiltration": ("TA0010", "Exfiltration"),
    "impact": ("TA0040", "Impact"),
}
_TECHNIQUE_RE = re.compile(r"^t(\d{4})(?:\.(\d{3}))?$")

# ---- log sources: pipeline and indices ------------------------------------------------------------

ZEEK_CATEGORIES = frozenset(
    {"accounting", "firewall", "dns", "proxy", "webserver"}
)  # ecs_zeek_beats maps them
LINUX_CATEGORIES = frozenset({"process_creation", "file_event", "network_connection"})
_ENDPOINT = "logs-endpoint.events.{}-*"
_SYSMON = "logs-windows.sysmon_operational-*"
_WINDOWS_ENDPOINT_KIND = {
    "process_creation": "process",
    "network_connection": "network",
    "dns_query": "network",
    "image_load": "library",
}
_WINDOWS_SERVICES = {
    "security": ("winlogbeat-*", "logs-system.security-*", "logs-windows.forwarded-*"),
    "system": ("winlogbeat-*", "logs-system.system-*", "logs-windows.forwarded-*"),
    "application": ("winlogbeat-*", "logs-system.application-*", "logs-windows.forwarded-*"),
    "sysmon": ("winlogbeat-*", _SYSMON),
    "powershell": ("winlogbeat-*", "logs-windows.powershell_operational-*"),
    "powershell-classic": ("winlogbeat-*", "logs-windows.powershell-*"),
}
_ENDPOINT_KIND = {"process_creation": "process", "file_event": "file", "network_connection": "network"}


def pipeline_for(product: str | None, category: str | None) -> str | None:
    """The ECS pipeline for a log source (None: no pipeline maps it)."""
    if product == "windows":
        return "ecs_windows"
    if product == "zeek" or (product is None and category in ZEEK_CATEGORIES):
        return "ecs_zeek_beats"
    if product == "kubernetes":
        return "ecs_kubernetes"
    if product == "macos":
        return "ecs_macos_esf"
    if product == "linux" and category in LINUX_CATEGORIES:
        return "ecs_linux"
    return None


def indices_for(product: str | None, category: str | None, service: str | None) -> tuple[str, ...]:
    """Index patterns of the Elastic Defend and Beats/integration data a log source lands in."""
    if product == "windows":
        if service in _WINDOWS_SERVICES:
            return _WINDOWS_SERVICES[service]
        kind = _WINDOWS_ENDPOINT_KIND.get(category or "")
        if kind is None and category:
            kind = (
                "file"
                if category.startswith("file_")
                else "registry"
                if category.startswith("registry_")
                else None
            )
        if category in ("ps_script", "ps_module"):
            return ("winlogbeat-*", "logs-windows.powershell_operational-*")
        if category and category.startswith("ps_classic"):
            return ("winlogbeat-*", "logs-windows.powershell-*")
        if kind is not None:
            return (_ENDPOINT.format(kind), "winlogbeat-*", _SYSMON)
        return ("winlogbeat-*", "logs-windows.*")
    if product == "linux":
        if category in _ENDPOINT_KIND:
            return (_ENDPOINT.format(_ENDPOINT_KIND[category]), "auditbeat-*")
        return ("auditbeat-*", "logs-auditd_manager.auditd-*", "logs-endpoint.events.*")
    if product == "macos":
        if category in _ENDPOINT_KIND or (category or "").startswith("file_"):
            return (_ENDPOINT.format(_ENDPOINT_KIND.get(category or "", "file")),)
        return ("logs-endpoint.events.*",)
    if product == "zeek" or (product is None and category in ZEEK_CATEGORIES):
        return ("filebeat-*", "logs-zeek.*")
    if product == "kubernetes":
        return ("logs-kubernetes.audit_logs-*", "filebeat-*")
    return KIBANA_DEFAULT_INDEX


# ---- results --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Converted:
    """A rule written (or left as it was) as a hunt file, with the repairs its EQL needed."""

    source: Path
    target: Path
    hunt_id: str
    repairs: dict[str, str]  # repair name -> example
    changed: bool


@dataclass(frozen=True)
class Refused:
    """A rule not written: ``reason`` is a key of ``REFUSALS``, ``detail`` says what exactly."""

    source: Path
    title: str
    reason: str
    detail: str

    def __str__(self) -> str:
        title = f" ({self.title})" if self.title else ""
        return f"{self.source}{title}: refused: {self.detail}"


@dataclass
class ImportReport:
    """What one import did: rules converted (repaired or not) and refused."""

    converted: list[Converted] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)

    @property
    def repaired(self) -> int:
        """Rules converted with at least one repair."""
        return sum(1 for item in self.converted if item.repairs)

    @property
    def written(self) -> int:
        """Hunt files created or changed."""
        return sum(1 for item in self.converted if item.changed)

    @property
    def unchanged(self) -> int:
        """Hunt files that already held what the import would write."""
        return len(self.converted) - self.written

    def details(self) -> list[str]:
        """``-v``: a line per refusal, then per repair (``source: repaired (name): before -> after``)."""
        lines = [str(item) for item in self.refused]
        for item in self.converted:
            lines += [
                f"{item.source}: repaired ({name}): {example}"
                for name, example in sorted(item.repairs.items())
            ]
        return lines

    def summary(self) -> str:
        """``converted 30, repaired 8, refused 6 (by reason: keyword 1, engine 2, ...)``."""
        reasons = Counter(item.reason for item in self.refused)
        by_reason = ", ".join(f"{reason} {count}" for reason, count in sorted(reasons.items()))
        return (
            f"converted {len(self.converted)}, repaired {self.repaired}, refused {len(self.refused)}"
            f" (by reason: {by_reason or 'none'})"
        )


# ---- the import -------------------------------------------------------------------------------------


def require_pysigma() -> Any:
    """The :mod:`.sigma_convert` module; a one-line :class:`ConfigError` when pySigma is missing."""
    try:
        from . import sigma_convert
    except ImportError as exc:
        raise ConfigError(
            f"the Sigma import needs pySigma and pySigma-backend-elasticsearch ({exc.name} is missing): "
            f"{INSTALL_HINT}"
        ) from exc
    return sigma_convert


def import_sigma(paths: Sequence[Path], out: Path, *, pipeline: str | None = None) -> ImportReport:
    """Convert every Sigma rule under ``paths`` into a hunt file under ``out`` (see the module doc)."""
    convert = require_pysigma()
    if pipeline is not None and pipeline not in convert.pipeline_names():
        raise ConfigError(f"unknown pipeline {pipeline!r}; one of: {', '.join(convert.pipeline_names())}")
    versions = _versions()
    converter = _Converter(convert, out, pipeline, versions)
    for root, path in _rule_files(paths):
        converter.file(root, path)
    return converter.report


def _versions() -> str:
    found = []
    for name in ("pySigma", "pySigma-backend-elasticsearch"):
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(name)
    return ", ".join(found)


def _rule_files(paths: Sequence[Path]) -> Iterable[tuple[Path, Path]]:
    for path in paths:
        if path.is_dir():
            for found in sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file()):
                yield path, found
        elif path.is_file():
            yield path.parent, path
        else:
            raise ConfigError(f"{path}: no such file or folder")


class _Converter:
    """Converts rule files one by one, collecting the report."""

    def __init__(self, convert: Any, out: Path, pipeline: str | None, versions: str) -> None:
        self.convert = convert
        self.out = out
        self.forced = pipeline
        self.versions = versions
        self.backends: dict[str, Any] = {}
        self.report = ImportReport()
        self.ids: dict[str, Path] = {}
        self.targets: set[Path] = set()

    def backend(self, name: str | None) -> Any:
        """One repairing backend per pipeline (an empty pipeline where none maps the rule)."""
        key = name or ""
        if key not in self.backends:
            from sigma.processing.pipeline import ProcessingPipeline

            chosen = self.convert.pipeline(name) if name else ProcessingPipeline(name="none", items=[])
            self.backends[key] = self.convert.RepairingEqlBackend(chosen)
        return self.backends[key]

    def refuse(self, source: Path, title: str, reason: str, detail: str) -> None:
        """Count one rule as refused."""
        self.report.refused.append(Refused(source, title, reason, detail))

    def file(self, root: Path, path: Path) -> None:
        """Every rule of one YAML file (``root`` is the PATH it was found under)."""
        import yaml  # with pySigma (the sigma extra), as the rest of this reader's imports
        from sigma.collection import SigmaCollection
        from sigma.correlations import SigmaCorrelationRule
        from sigma.exceptions import SigmaError, SigmaRuleLocation
        from sigma.rule import SigmaRule

        try:
            text = path.read_text(encoding="utf-8")
            collection = SigmaCollection.from_yaml(
                text, collect_errors=True, source=SigmaRuleLocation(path), resolve_references=False
            )
        except (OSError, UnicodeDecodeError, SigmaError, ValueError, yaml.YAMLError) as exc:
            detail = " ".join(str(exc).split())  # a YAML error spans lines: one line here
            self.refuse(path, "", "invalid", f"not a Sigma rule: {detail}")
            return
        rules = [rule for rule in collection.rules if isinstance(rule, SigmaRule | SigmaCorrelationRule)]
        if collection.errors and not rules:
            self.refuse(path, "", "invalid", f"not a Sigma rule: {collection.errors[0]}")
            return
        relative = path.relative_to(root).with_suffix(".toml")
        for number, rule in enumerate(rules, start=1):
            title = str(getattr(rule, "title", "") or "")
            if rule.errors:
                self.refuse(path, title, "invalid", f"not a valid Sigma rule: {rule.errors[0]}")
                continue
            if isinstance(rule, SigmaCorrelationRule):
                self.refuse(path, title, "correlation", "correlation rules are not converted")
                continue
            target = relative if len(rules) == 1 else relative.with_name(f"{relative.stem}_{number}.toml")
            self.rule(path, root, self.out / target, rule)

    def rule(self, path: Path, root: Path, target: Path, rule: Any) -> None:
        """Convert, check and write one rule, or refuse it."""
        from sigma.exceptions import SigmaError

        title = str(rule.title or "")
        logsource = rule.logsource
        product, category, service = logsource.product, logsource.category, logsource.service
        name = self.forced or pipeline_for(product, category)
        backend = self.backend(name)
        backend.repairs = {}
        try:
            queries = backend.convert_rule(rule)
        except self.convert.Refusal as exc:
            self.refuse(path, title, exc.reason, exc.detail)
            return
        except (SigmaError, NotImplementedError, ValueError, TypeError) as exc:
            self.refuse(path, title, "unsupported", f"pySigma cannot convert it: {exc}")
            return
        if not queries:
            self.refuse(path, title, "unsupported", "pySigma produced no query")
            return
        for text in queries:
            try:
                compile_query(text)
            except EqlError as exc:
                self.refuse(path, title, "engine", f"the EQL engine refuses its query: {exc}")
                return
        hunt_id = _hunt_id(rule, path)
        if hunt_id in self.ids:
            self.refuse(path, title, "duplicate-id", f"id {hunt_id} is also the id of {self.ids[hunt_id]}")
            return
        if target in self.targets:
            target = target.with_name(f"{target.stem}.{hunt_id}.toml")
        self.ids[hunt_id] = path
        self.targets.add(target)
        applied = bool(getattr(backend.last_processing_pipeline, "applied_ids", None))
        text = render_hunt(
            rule,
            hunt_id=hunt_id,
            queries=queries,
            indices=indices_for(product, category, service),
            source=path.relative_to(root).as_posix(),
            pipeline=name,
            mapped=applied,
            repairs=dict(backend.repairs),
            versions=self.versions,
        )
        changed = _write_if_changed(target, text)
        self.report.converted.append(Converted(path, target, hunt_id, dict(backend.repairs), changed))


def _hunt_id(rule: Any, path: Path) -> str:
    if rule.id is not None:
        candidate = str(rule.id).lower()
        if _ID_RE.match(candidate):
            return candidate
    slug = re.sub(r"[^a-z0-9_.-]+", "-", path.stem.lower()).strip("-._") or "rule"
    return f"sigma-{slug}"[:64]


def _write_if_changed(target: Path, text: str) -> bool:
    try:
        if target.read_text(encoding="utf-8") == text:
            return False
    except OSError:
        pass
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{target}: cannot write: {exc.strerror or exc}") from exc
    return True


# ---- the hunt file --------------------------------------------------------------------------------


def render_hunt(
    rule: Any,
    *,
    hunt_id: str,
    queries: Sequence[str],
    indices: Sequence[str],
    source: str,
    pipeline: str | None,
    mapped: bool,
    repairs: dict[str, str],
    versions: str,
) -> str:
    """The native hunt file (TOML) for one converted Sigma rule."""
    from .sigma_convert import REPAIRS

    level = rule.level.name.lower() if rule.level is not None else None
    severity, risk = LEVELS.get(level or "", DEFAULT_LEVEL)
    status = rule.status.name.lower() if rule.status is not None else "unknown"
    tags = ["sigma", f"sigma.status.{status}", *(f"{tag.namespace}.{tag.name}" for tag in rule.tags)]
    threat, threat_note = _threat(rule.tags)
    notes = [
        f"Converted from the Sigma rule {source} (status {status}"
        + (f", level {level}" if level else "")
        + (f", dated {rule.date}" if rule.date else "")
        + (f", modified {rule.modified}" if rule.modified else "")
        + f") by `hunter import sigma` with {versions}, pipeline {pipeline or 'none'}.",
    ]
    logsource = ", ".join(
        f"{key}={value}"
        for key, value in (
            ("product", rule.logsource.product),
            ("category", rule.logsource.category),
            ("service", rule.logsource.service),
        )
        if value
    )
    if pipeline is None:
        notes.append(
            f"No ECS pipeline maps its log source ({logsource}): fields are the Sigma rule's own names."
        )
    elif not mapped:
        notes.append(
            f"Pipeline {pipeline} changed nothing for its log source ({logsource}): "
            "fields are the rule's own."
        )
    if threat_note:
        notes.append(threat_note)
    if repairs:
        notes.append("Repairs to the converter's EQL:")
        notes += [f"- {name}: {REPAIRS[name]} ({example})" for name, example in sorted(repairs.items())]
    lines = [
        "# Written by `hunter import sigma`; re-run the import to update it (edits here are overwritten).",
        f"id = {_string(hunt_id)}",
        f"name = {_string(str(rule.title).strip())}",
        f"description = {_text(str(rule.description or rule.title).strip())}",
        f"severity = {_string(severity)}",
        f"risk_score = {risk}",
        f"indices = {_strings(indices)}",
        f"tags = {_strings(tags)}",
    ]
    if rule.author:
        lines.append(f"author = {_strings([str(rule.author).strip()])}")
    if rule.references:
        lines.append(f"references = {_strings([str(ref) for ref in rule.references])}")
    if rule.falsepositives:
        lines.append(f"false_positives = {_strings([str(fp) for fp in rule.falsepositives])}")
    if status in ("deprecated", "unsupported"):
        lines.append("enabled = false")
        notes.append(f"Disabled: the Sigma rule's status is {status}.")
    lines.append(f"notes = {_text(chr(10).join(notes))}")
    for tactic, techniques in threat:
        lines += ["", "[[threat]]", 'framework = "MITRE ATT&CK"', "", "[threat.tactic]"]
        lines += _ref(*tactic, f"https://attack.mitre.org/tactics/{tactic[0]}/")
        for technique, subtechniques in techniques:
            lines += ["", "[[threat.technique]]"]
            lines += _ref(technique, technique, f"https://attack.mitre.org/techniques/{technique}/")
            for sub in subtechniques:
                lines += ["", "[[threat.technique.subtechnique]]"]
                lines += _ref(sub, sub, f"https://attack.mitre.org/techniques/{sub.replace('.', '/')}/")
    for number, query in enumerate(queries, start=1):
        name = QUERY_NAME if number == 1 else f"{QUERY_NAME}_{number}"
        lines += ["", f"[queries.{name}]", f"query = {_text(query)}"]
    return "\n".join(lines) + "\n"


def _ref(ref_id: str, name: str, reference: str) -> list[str]:
    return [f"id = {_string(ref_id)}", f"name = {_string(name)}", f"reference = {_string(reference)}"]


def _threat(tags: Iterable[Any]) -> tuple[list[tuple[tuple[str, str], list[tuple[str, list[str]]]]], str]:
    """Kibana-shaped threat entries from ``attack.*`` tags, and a note on how techniques were placed."""
    tactics: list[tuple[str, str]] = []
    techniques: dict[str, list[str]] = {}
    for tag in tags:
        if tag.namespace != "attack":
            continue
        name = str(tag.name).lower().replace("-", "_")
        if name in TACTICS and TACTICS[name] not in tactics:
            tactics.append(TACTICS[name])
        match = _TECHNIQUE_RE.match(name)
        if match:
            technique = f"T{match.group(1)}"
            subs = techniques.setdefault(technique, [])
            if match.group(2) and f"{technique}.{match.group(2)}" not in subs:
                subs.append(f"{technique}.{match.group(2)}")
    placed = [(technique, subs) for technique, subs in techniques.items()]
    note = ""
    if techniques and not tactics:
        note = "ATT&CK techniques without a tactic tag are in the tags only (a threat entry needs a tactic)."
    elif techniques and len(tactics) > 1:
        note = (
            "ATT&CK: the rule names several tactics; each threat entry lists all its techniques "
            "(Sigma tags do not pair techniques with tactics)."
        )
    return [(tactic, placed) for tactic in tactics], note


def _string(text: str) -> str:
    """A TOML basic string."""
    out = []
    for char in text:
        if char == '"':
            out.append('\\"')
        elif char == "\\":
            out.append("\\\\")
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _text(text: str) -> str:
    """A TOML multi-line literal string where one can hold ``text`` as it is (EQL keeps its backslashes)."""
    plain = (
        "'''" not in text
        and not text.endswith("'")
        and not any((ord(char) < 0x20 and char not in "\n\t") or ord(char) == 0x7F for char in text)
    )
    if not plain:
        return _string(text)
    return "'''" + ("\n" if "\n" in text else "") + text + "'''"


def _strings(items: Iterable[str]) -> str:
    return "[" + ", ".join(_string(item) for item in items) + "]"
