"""The pySigma side of ``hunter import sigma``: pipelines, hunter's ECS Linux pipeline, and named repairs.

Imported only when pySigma and pySigma-backend-elasticsearch are installed (``pip install
'hunter[sigma]'``); :mod:`hunter.rules.sigma` imports it lazily and turns a missing package into a
one-line error.

**Pipelines.** pySigma-backend-elasticsearch maps Sigma's field names onto ECS for Windows
(``ecs_windows``), Zeek and the network categories it maps (``ecs_zeek_beats``), Kubernetes audit
(``ecs_kubernetes``) and macOS Endpoint Security (``ecs_macos_esf``). It has nothing for Linux, so
:func:`ecs_linux` maps Sigma's linux ``process_creation``, ``file_event`` and ``network_connection``
onto ``process.*``, ``file.*``, ``destination.*``/``source.*`` as Elastic Defend and Auditbeat send
them, and narrows each to its events:

* ``process_creation``: ``event.category: process`` and ``event.action`` ``exec`` (Elastic Defend;
  its ``fork`` records, also typed ``start``, are copies of the parent and are left out),
  ``executed`` (Auditbeat auditd) or ``process_started`` (Auditbeat system/process). Sigma's
  ``CommandLine`` is ``process.command_line`` (Defend) or ``process.title`` (auditd, which sets no
  command line: the proctitle record, truncated by the kernel);
* ``file_event``: ``event.category: file`` with ``event.type`` ``creation`` or ``change`` (auditd
  types ``open(O_CREAT)`` as ``info``: those are not matched);
* ``network_connection``: ``event.category: network``; ``Initiated: 'true'``/``'false'`` is
  ``network.direction`` ``egress``/``ingress``.

**Repairs.** :class:`RepairingEqlBackend` is the backend's EQL output with fixed, meaning-preserving
rewrites where the converter emits EQL that Elasticsearch (and hunter's engine) refuse; each is
named in :data:`REPAIRS` and recorded, with an example, for the hunt's notes. What cannot be
repaired raises :class:`Refusal` with a reason from :data:`REFUSALS`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, ClassVar

from sigma.backends.elasticsearch.elasticsearch_eql import EqlBackend
from sigma.conditions import ConditionAND, ConditionFieldEqualsValueExpression, ConditionNOT, ConditionOR
from sigma.conversion.deferred import DeferredQueryExpression
from sigma.conversion.state import ConversionState
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError
from sigma.pipelines.elasticsearch import pipelines as ecs_pipelines
from sigma.processing.conditions import (
    IncludeFieldCondition,
    LogsourceCondition,
    MatchStringCondition,
    MatchValueCondition,
)
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import (
    AddConditionTransformation,
    FieldMappingTransformation,
    SetValueTransformation,
)
from sigma.types import (
    SigmaBool,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
    SpecialChars,
)

LINUX_PIPELINE = "ecs_linux"

REPAIRS = {
    "number-equals": "':' compares strings only: a number or boolean is compared with '=='",
    "number-list": "'like~' takes strings only: a list of numbers is matched with 'in'",
    "field-backticks": "a field name that is not an EQL identifier (a '-' in it) is quoted in backticks",
    "literal-wildcard": (
        "EQL wildcards cannot escape a literal '*' or '?': the value is matched with the equivalent regex"
    ),
    "needless-escape": (
        "an escape EQL strings do not have ('\\*', '\\?', '\\/') is dropped where the character is "
        "literal anyway ('==', a regex's '/')"
    ),
    "regex-quote": "a '\"' inside a regex is escaped (the converter left it ending the string)",
    "regex-search": (
        "a Sigma regex matches anywhere in the value (^ and $ anchor it), a Lucene regex the whole value "
        "(^ and $ are literal): '.*' is added on each side the rule did not anchor"
    ),
    "inline-caseless": (
        "a leading '(?i)' is dropped: the regex is matched with 'regex~' (case-insensitive) already, and "
        "Lucene's syntax has no inline flags (it would be a literal group)"
    ),
    "cased-wildcard": (
        "'|cased' with a wildcard is matched with 'like' (the converter wrote '==', which has no wildcards)"
    ),
}

REFUSALS = {
    "keyword": "keyword search without a field (EQL has no full-text search)",
    "field-wildcard": "field name with a wildcard (EQL names exactly one field)",
    "unsupported": "pySigma cannot convert it to EQL",
    "correlation": "correlation rule (not converted)",
    "engine": "EQL that Elasticsearch and hunter's engine refuse",
    "invalid": "not a valid Sigma rule",
    "duplicate-id": "another rule has the same id",
}

_INLINE_CASELESS = re.compile(r"^\(\?i\)")
_INLINE_FLAGS = re.compile(r"(?<!\\)\(\?[a-zA-Z-]+\)")
_EQL_NAME = re.compile(r"[A-Za-z_@][A-Za-z0-9_]*(?:\.[A-Za-z_@][A-Za-z0-9_]*)*")
_EQL_KEYWORDS = frozenset(
    [
        "and",
        "or",
        "not",
        "in",
        "like",
        "regex",
        "where",
        "sequence",
        "sample",
        "join",
        "by",
        "with",
        "until",
        "maxspan",
        "of",
        "true",
        "false",
        "null",
        "any",
    ]
)
_LUCENE_RESERVED = frozenset('.?+*|{}[]()"\\#@&<>~')  # Lucene RegExp operators (all syntax flags)
_UNESCAPED_QUOTE = re.compile(r'(?<!\\)((?:\\\\)*)"')  # a '"' after an even number of backslashes


class Refusal(SigmaFeatureNotSupportedByBackendError):  # noqa: N818 - a verdict, not a fault
    """A rule the import does not write: ``reason`` is a key of :data:`REFUSALS`, ``detail`` says what."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def pipeline_names() -> list[str]:
    """Every pipeline ``--pipeline`` accepts: the backend's and hunter's ``ecs_linux``."""
    return sorted([*ecs_pipelines, LINUX_PIPELINE])


def pipeline(name: str) -> ProcessingPipeline:
    """The processing pipeline called ``name`` (see :func:`pipeline_names`)."""
    if name == LINUX_PIPELINE:
        return ecs_linux()
    factory: Callable[[], ProcessingPipeline] = ecs_pipelines[name]
    return factory()


# ---- hunter's Linux pipeline -------------------------------------------------------------------

_LINUX_FIELDS: dict[str, dict[str | None, str | list[str]]] = {
    "process_creation": {
        "Image": "process.executable",
        "CommandLine": ["process.command_line", "process.title"],
        "ParentImage": "process.parent.executable",
        "ParentCommandLine": "process.parent.command_line",
        "User": "user.name",
        "CurrentDirectory": "process.working_directory",
        "ProcessId": "process.pid",
        "ParentProcessId": "process.parent.pid",
    },
    "file_event": {
        "TargetFilename": "file.path",
        "Image": "process.executable",
        "User": "user.name",
    },
    "network_connection": {
        "Image": "process.executable",
        "DestinationIp": "destination.ip",
        "DestinationPort": "destination.port",
        "DestinationHostname": "destination.domain",
        "SourceIp": "source.ip",
        "SourcePort": "source.port",
        "Initiated": "network.direction",
        "Protocol": "network.transport",
        "User": "user.name",
    },
}
_LINUX_EVENTS: dict[str, dict[str, str | list[str]]] = {
    "process_creation": {
        "event.category": "process",
        "event.action": ["exec", "executed", "process_started"],
    },
    "file_event": {"event.category": "file", "event.type": ["creation", "change"]},
    "network_connection": {"event.category": "network"},
}


def ecs_linux() -> ProcessingPipeline:
    """Sigma's linux process_creation, file_event and network_connection onto ECS (Defend, Auditbeat)."""
    items: list[ProcessingItem] = []
    for category, fields in _LINUX_FIELDS.items():
        items.append(
            ProcessingItem(
                identifier=f"ecs_linux_{category}_events",
                transformation=AddConditionTransformation(
                    conditions=dict(_LINUX_EVENTS[category]), name=f"_ecs_linux_{category}"
                ),
                rule_conditions=[LogsourceCondition(product="linux", category=category)],
            )
        )
        items.append(
            ProcessingItem(
                identifier=f"ecs_linux_{category}_fields",
                transformation=FieldMappingTransformation(dict(fields)),
                rule_conditions=[LogsourceCondition(product="linux", category=category)],
            )
        )
    for direction, value, pattern in (("egress", True, "(?i)^true$"), ("ingress", False, "(?i)^false$")):
        for condition in (
            MatchValueCondition(value=value, cond="all"),
            MatchStringCondition(pattern=pattern, cond="all"),
        ):
            items.append(
                ProcessingItem(
                    identifier=f"ecs_linux_network_direction_{direction}",
                    transformation=SetValueTransformation(value=direction),
                    rule_conditions=[LogsourceCondition(product="linux", category="network_connection")],
                    field_name_conditions=[IncludeFieldCondition(fields=["network.direction"])],
                    detection_item_conditions=[condition],
                )
            )
    return ProcessingPipeline(
        name="hunter: Elastic Common Schema (ECS) for Linux (Elastic Defend, Auditbeat)",
        priority=20,
        allowed_backends=frozenset({"elasticsearch", "eql"}),
        items=items,
    )


# ---- the repairing backend ------------------------------------------------------------------------


def eql_string(text: str) -> str:
    """``text`` as an EQL double-quoted string literal."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t") + '"'


def _literal_wildcards(value: SigmaString) -> bool:
    """Whether a plain part of the value holds a '*' or '?' meant literally."""
    return any(isinstance(part, str) and ("*" in part or "?" in part) for part in value.s)


def _wildcards(value: SigmaString) -> bool:
    return any(part in (SpecialChars.WILDCARD_MULTI, SpecialChars.WILDCARD_SINGLE) for part in value.s)


def _lucene_regex(value: SigmaString) -> str:
    """The Lucene regular expression matching exactly what the Sigma value matches (whole value)."""
    out: list[str] = []
    for part in value.s:
        if part is SpecialChars.WILDCARD_MULTI:
            out.append(".*")
        elif part is SpecialChars.WILDCARD_SINGLE:
            out.append(".")
        elif isinstance(part, str):
            out.append("".join("\\" + char if char in _LUCENE_RESERVED else char for char in part))
        else:
            raise Refusal("unsupported", f"unresolved placeholder in value {value}")
    return "".join(out)


def search_regex(regexp: str) -> str:
    """A Lucene regex matching the values where the Sigma (PCRE) regex finds a match.

    PCRE searches and anchors with ``^``/``$``; Lucene matches the whole value and reads ``^``/``$``
    as plain characters. A leading ``^`` and a trailing ``$`` are dropped, ``.*`` is added on each
    side that is not anchored, and a top-level alternation is grouped first. A regex with anchors
    elsewhere (inside groups or alternatives) is returned unchanged.
    """
    anchors: list[int] = []
    alternation = False
    depth = 0
    in_class = False
    index = 0
    while index < len(regexp):
        char = regexp[index]
        if char == "\\":
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            if regexp[index + 1 : index + 2] == "^":
                index += 1
            if regexp[index + 1 : index + 2] == "]":
                index += 1
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            alternation = True
        elif char in "^$":
            anchors.append(index)
        index += 1
    start = bool(anchors) and anchors[0] == 0 and regexp[0] == "^"
    end = bool(anchors) and anchors[-1] == len(regexp) - 1 and regexp[-1] == "$"
    if len(anchors) != int(start) + int(end) or ((start or end) and alternation):
        return regexp
    body = regexp[1 if start else 0 : len(regexp) - 1 if end else len(regexp)]
    if alternation:
        body = f"({body})"
    prefix = "" if start or body.startswith(".*") else ".*"
    suffix = "" if end or (body.endswith(".*") and not body.endswith("\\.*")) else ".*"
    return prefix + body + suffix


def _plain(value: SigmaString) -> str:
    return "".join(part for part in value.s if isinstance(part, str))


class RepairingEqlBackend(EqlBackend):
    """pySigma's EQL backend with hunter's named repairs; :attr:`repairs` holds those of the last rule."""

    name: ClassVar[str] = "Elasticsearch EQL (hunter repairs)"

    def __init__(self, processing_pipeline: ProcessingPipeline) -> None:
        super().__init__(processing_pipeline)
        self.repairs: dict[str, str] = {}  # repair name -> first example, "before -> after"

    def _repaired(self, name: str, before: Any, after: str) -> str:
        self.repairs.setdefault(name, f"{before} -> {after}")
        return after

    # ---- field names ----

    def escape_and_quote_field(self, field_name: str) -> str:
        """Refuse wildcard names; backtick a name the converter left unquoted that EQL cannot read bare."""
        if "*" in field_name or "?" in field_name:
            raise Refusal("field-wildcard", f"field name {field_name} has a wildcard")
        quoted: str = super().escape_and_quote_field(field_name)
        bare = _EQL_NAME.fullmatch(field_name) and not _EQL_KEYWORDS.intersection(field_name.split("."))
        if quoted == field_name and not bare:
            return self._repaired("field-backticks", field_name, "`" + field_name.replace("`", "``") + "`")
        return quoted

    # ---- numbers and booleans ----

    def convert_condition_field_eq_val_num(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str | DeferredQueryExpression:
        """``field == 445`` instead of ``field:445``."""
        before = super().convert_condition_field_eq_val_num(cond, state)
        return self._repaired(
            "number-equals", before, f"{self.escape_and_quote_field(cond.field)} == {cond.value}"
        )

    def convert_condition_field_eq_val_bool(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str | DeferredQueryExpression:
        """``field == true`` instead of ``field:true``."""
        before = super().convert_condition_field_eq_val_bool(cond, state)
        assert isinstance(cond.value, SigmaBool)
        token = self.bool_values[cond.value.boolean]
        return self._repaired(
            "number-equals", before, f"{self.escape_and_quote_field(cond.field)} == {token}"
        )

    def decide_convert_condition_as_in_expression(
        self, cond: ConditionOR | ConditionAND, state: ConversionState
    ) -> bool:
        """Lists of one kind only (strings, or numbers and booleans), without literal wildcards."""
        if not super().decide_convert_condition_as_in_expression(cond, state):
            return False
        values = [arg.value for arg in cond.args if isinstance(arg, ConditionFieldEqualsValueExpression)]
        strings = [value for value in values if isinstance(value, SigmaString)]
        if strings and len(strings) != len(values):
            return False
        return not any(_literal_wildcards(value) for value in strings)

    def convert_condition_as_in_expression(
        self, cond: ConditionOR | ConditionAND, state: ConversionState
    ) -> str | DeferredQueryExpression:
        """``field in (80, 443)`` for a list of numbers (``like~`` is for strings)."""
        before = super().convert_condition_as_in_expression(cond, state)
        values = [arg.value for arg in cond.args if isinstance(arg, ConditionFieldEqualsValueExpression)]
        if not isinstance(cond, ConditionOR) or not all(
            isinstance(v, SigmaNumber | SigmaBool) for v in values
        ):
            return before
        field = self.escape_and_quote_field(cond.args[0].field)  # type: ignore[union-attr]
        items = ", ".join(self.bool_values[v.boolean] if isinstance(v, SigmaBool) else str(v) for v in values)
        return self._repaired("number-list", before, f"{field} in ({items})")

    # ---- strings ----

    def convert_condition_field_eq_val_str(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str | DeferredQueryExpression:
        """A value with a literal '*' or '?' as the equivalent case-insensitive regex."""
        before = super().convert_condition_field_eq_val_str(cond, state)
        value = cond.value
        if not isinstance(value, SigmaString) or not _literal_wildcards(value):
            return before
        field = self.escape_and_quote_field(cond.field)
        return self._repaired(
            "literal-wildcard", before, f"{field} regex~ {eql_string(_lucene_regex(value))}"
        )

    def convert_condition_field_eq_val_str_case_sensitive(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str | DeferredQueryExpression:
        """``|cased``: wildcards with ``like`` (or a regex), a literal '*'/'?' without its escape."""
        before = super().convert_condition_field_eq_val_str_case_sensitive(cond, state)
        value = cond.value
        if not isinstance(value, SigmaString):
            return before
        field = self.escape_and_quote_field(cond.field)
        if _wildcards(value) and _literal_wildcards(value):
            return self._repaired(
                "literal-wildcard", before, f"{field} regex {eql_string(_lucene_regex(value))}"
            )
        if _wildcards(value):
            return self._repaired(
                "cased-wildcard", before, f"{field} like {self.convert_value_str(value, state)}"
            )
        if _literal_wildcards(value):
            return self._repaired("needless-escape", before, f"{field} == {eql_string(_plain(value))}")
        return before

    def convert_condition_field_eq_val_re(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str | DeferredQueryExpression:
        """The regex as an EQL string: '/' needs no escape, '"' does."""
        value = cond.value
        assert isinstance(value, SigmaRegularExpression)
        if value.flags:  # the converter writes them as a (?i) prefix, a literal group in Lucene's syntax
            flags = ", ".join(sorted(flag.name.lower() for flag in value.flags))
            raise Refusal("unsupported", f"regex flags ({flags}) have no EQL form")
        before = super().convert_condition_field_eq_val_re(cond, state)
        regexp = str(value.regexp)
        caseless = _INLINE_CASELESS.match(regexp) is not None
        if caseless:
            # the backend matches with regex~ (case-insensitive) already; in Lucene's syntax "(?i)"
            # would be a literal group, so the rule would match "?i..." instead
            regexp = _INLINE_CASELESS.sub("", regexp, count=1)
        if _INLINE_FLAGS.search(regexp):
            raise Refusal(
                "unsupported", "inline regex flags such as (?s) or (?m) have no form in Lucene's syntax"
            )
        searched = search_regex(regexp)
        lucene = _UNESCAPED_QUOTE.sub(r'\1\\"', searched)  # '"' quotes a literal string in Lucene's syntax
        field = self.escape_and_quote_field(cond.field)
        after = self.re_expression.format(field=field, regex=eql_string(lucene)[1:-1])
        if after == before:
            return before
        if "/" in regexp:
            self._repaired("needless-escape", before, after)
        if '"' in regexp:
            self._repaired("regex-quote", before, after)
        if searched != regexp:
            self._repaired("regex-search", before, after)
        if caseless:
            self._repaired("inline-caseless", before, after)
        return after

    def convert_condition_not(
        self, cond: ConditionNOT, state: ConversionState
    ) -> str | DeferredQueryExpression:
        """``?field != null`` with the field name quoted as everywhere else (the converter writes it raw)."""
        before: str | DeferredQueryExpression = super().convert_condition_not(cond, state)
        inner = cond.args[0]
        if not (
            isinstance(inner, ConditionFieldEqualsValueExpression) and isinstance(inner.value, SigmaNull)
        ):
            return before
        return f"?{self.escape_and_quote_field(inner.field)} != null"

    # ---- keyword searches ----

    def convert_condition_val_str(self, cond: Any, state: ConversionState) -> str | DeferredQueryExpression:
        """Refused: a value without a field."""
        raise Refusal("keyword", f"keyword {cond.value} is searched without a field")

    def convert_condition_val_num(self, cond: Any, state: ConversionState) -> str | DeferredQueryExpression:
        """Refused: a value without a field."""
        raise Refusal("keyword", f"keyword {cond.value} is searched without a field")

    def convert_condition_val_re(self, cond: Any, state: ConversionState) -> str | DeferredQueryExpression:
        """Refused: a regex without a field."""
        raise Refusal("keyword", f"regex {cond.value} is searched without a field")
