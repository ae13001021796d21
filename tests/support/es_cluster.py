"""The state of the Elasticsearch test server's one-node cluster, and the rules that keep it valid.

:class:`Cluster` holds indices (settings, mappings, aliases, documents), data streams, composable,
component and legacy templates, ingest pipelines and stored EQL searches; one lock guards it.
It resolves index expressions as Elasticsearch does (names, aliases, data streams, wildcards,
``-`` exclusions, hidden and closed indices per ``expand_wildcards``) and creates indices from the
matching template (checked names, composed settings, mappings and aliases).
"""

from __future__ import annotations

import base64
import copy
import fnmatch
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .es_builtin import BUILTIN_COMPONENTS, BUILTIN_TEMPLATES
from .es_errors import EsError, already_exists, illegal_argument, index_not_found, java_list
from .es_mapping import IndexFields, merge_mappings, normalize_mappings
from .es_synthetic import check_synthetic, is_synthetic, synthesize

VERSION = "9.1.5"
LUCENE_VERSION = "10.2.2"
INDEX_VERSION = "9033000"
CLUSTER_NAME = "hunter-test"


def new_uuid() -> str:
    """A random id in Elasticsearch's base64 form (22 characters)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes)[:22].decode()


def now_ms() -> int:
    """Wall-clock milliseconds."""
    return int(time.time() * 1000)


# ---- routing ------------------------------------------------------------------------------------------


def murmur3(text: str) -> int:
    """``Murmur3HashFunction.hash``: murmur3_x86_32 (seed 0) of the UTF-16 code units, little endian."""
    data = text.encode("utf-16-le")
    c1, c2, h = 0xCC9E2D51, 0x1B873593, 0
    length = len(data)
    for i in range(0, length - length % 4, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * c1) & 0xFFFFFFFF
        k = ((k << 15) | (k >> 17)) & 0xFFFFFFFF
        k = (k * c2) & 0xFFFFFFFF
        h ^= k
        h = ((h << 13) | (h >> 19)) & 0xFFFFFFFF
        h = (h * 5 + 0xE6546B64) & 0xFFFFFFFF
    tail = length % 4
    if tail:
        k = int.from_bytes(data[length - tail :], "little")
        k = (k * c1) & 0xFFFFFFFF
        k = ((k << 15) | (k >> 17)) & 0xFFFFFFFF
        k = (k * c2) & 0xFFFFFFFF
        h ^= k
    h ^= length
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & 0xFFFFFFFF
    h ^= h >> 16
    return h - (1 << 32) if h & 0x80000000 else h


def shard_of(index: Index, routing: str) -> int:
    """The shard ``routing`` lands on (``IndexRouting``: hash modulo routing shards, over the factor)."""
    shards = index.shards
    routing_shards = int(index.setting("number_of_routing_shards", shards))
    factor = max(routing_shards // shards, 1)
    return (murmur3(routing) % routing_shards) // factor


# ---- documents, indices, data streams ---------------------------------------------------------------


@dataclass
class Doc:
    """One stored document version."""

    source: dict[str, Any]
    seq_no: int
    version: int
    order: int
    routing: str | None = None
    ignored: list[str] = field(default_factory=list)
    ignored_values: dict[str, list[Any]] = field(default_factory=dict)


@dataclass
class Index:
    """One index: its settings (flat ``index.*`` keys), mappings, aliases and documents."""

    name: str
    mappings: dict[str, Any]
    settings: dict[str, Any]
    aliases: dict[str, dict[str, Any]] = field(default_factory=dict)
    data_stream: str | None = None
    uuid: str = field(default_factory=new_uuid)
    created_ms: int = field(default_factory=now_ms)
    docs: dict[str, Doc] = field(default_factory=dict)
    visible: dict[str, Doc] = field(default_factory=dict)
    seq_no: int = -1
    tombstones: dict[str, int] = field(default_factory=dict)
    closed: bool = False
    stats: Counter[str] = field(default_factory=Counter)
    _fields: IndexFields | None = None

    def fields(self) -> IndexFields:
        """The index's fields (cached until the mapping changes)."""
        if self._fields is None:
            self._fields = IndexFields(self.mappings, self.settings)
        return self._fields

    def set_mappings(self, mappings: dict[str, Any]) -> None:
        """Replace the mapping."""
        self.mappings, self._fields = mappings, None

    def setting(self, name: str, default: Any = None) -> Any:
        """A setting by its full or short name (``number_of_shards`` or ``index.number_of_shards``)."""
        return self.settings.get(name if name.startswith("index.") else f"index.{name}", default)

    @property
    def shards(self) -> int:
        """Primary shards."""
        return int(self.setting("number_of_shards", "1"))

    @property
    def replicas(self) -> int:
        """Replicas per primary (a one-node cluster never assigns them)."""
        return int(self.setting("number_of_replicas", "1"))

    @property
    def hidden(self) -> bool:
        """Is ``index.hidden`` set?"""
        return str(self.setting("hidden", "false")) == "true"

    @property
    def mode(self) -> str:
        """``index.mode`` (``standard`` by default)."""
        return str(self.setting("mode", "standard"))

    @property
    def auto_refresh(self) -> bool:
        """Do writes become searchable by themselves (``refresh_interval`` is not ``-1``)?"""
        return str(self.setting("refresh_interval", "1s")) != "-1"

    def source_of(self, doc: Doc, *, force_synthetic: bool = False) -> dict[str, Any]:
        """The ``_source`` a read returns: as sent, or rebuilt from the fields in synthetic source mode."""
        if force_synthetic:
            check_synthetic(self.mappings)
        if force_synthetic or is_synthetic(self.mappings, self.settings):
            return synthesize(self.mappings, self.settings, doc.source)
        return doc.source

    def engine_error(self, status: int, type_: str, reason: str) -> EsError:
        """An error raised inside a shard of this index (it names the index and shard)."""
        return EsError(status, type_, reason, {"index_uuid": self.uuid, "shard": "0", "index": self.name})

    def store_bytes(self) -> int:
        """What the primaries take on disk, roughly: the size of the sources."""
        return sum(len(repr(doc.source)) for doc in self.visible.values())


@dataclass
class DataStream:
    """A data stream: its backing indices (oldest first), template and options."""

    name: str
    template: str
    indices: list[str]
    generation: int = 1
    hidden: bool = False
    meta: dict[str, Any] | None = None
    lifecycle: dict[str, Any] | None = None
    failure_store: bool = False
    failure_indices: list[str] = field(default_factory=list)
    allow_custom_routing: bool = False


@dataclass(frozen=True)
class IndicesOptions:
    """How an index expression resolves: missing names, empty results, what wildcards reach."""

    ignore_unavailable: bool = False
    allow_no_indices: bool = True
    expand: frozenset[str] = frozenset({"open"})

    @classmethod
    def read(
        cls,
        params: Mapping[str, str],
        ignore_unavailable: bool = False,
        allow_no_indices: bool = True,
        expand: str = "open",
    ) -> IndicesOptions:
        """The options of a request's ``ignore_unavailable``, ``allow_no_indices``, ``expand_wildcards``."""
        chosen = {part.strip() for part in params.get("expand_wildcards", expand).split(",") if part.strip()}
        if "all" in chosen:
            chosen = {"open", "closed", "hidden"}
        if "none" in chosen:
            chosen = set()
        for value in chosen:
            if value not in ("open", "closed", "hidden"):
                raise illegal_argument(
                    "No enum constant "
                    f"org.elasticsearch.action.support.IndicesOptions.WildcardStates.{value.upper()}"
                )
        return cls(
            flag(params.get("ignore_unavailable"), ignore_unavailable),
            flag(params.get("allow_no_indices"), allow_no_indices),
            frozenset(chosen),
        )


def flag(value: Any, default: bool) -> bool:
    """A boolean URL parameter or body value (``""`` and ``true`` are true)."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text not in ("", "true", "false"):
        raise illegal_argument(f"Failed to parse value [{value}] as only [true] or [false] are allowed.")
    return text in ("", "true")


# ---- settings -------------------------------------------------------------------------------------------


def flat_settings(settings: Any, prefix: str = "") -> dict[str, Any]:
    """Settings as dotted ``index.*`` keys with text values (``number_of_shards: 1`` becomes ``"1"``)."""
    if not isinstance(settings, Mapping):
        raise EsError(400, "settings_exception", f"Failed to load settings from [{settings}]")
    out: dict[str, Any] = {}
    for key, value in settings.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flat_settings(value, name + "."))
        else:
            full = name if name.startswith("index.") else f"index.{name}"
            out[full] = [setting_text(v) for v in value] if isinstance(value, list) else setting_text(value)
    return out


def setting_text(value: Any) -> Any:
    """One setting value as Elasticsearch stores it (text; null stays null)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def nested_settings(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Flat dotted settings as the nested objects ``GET _settings`` answers with."""
    out: dict[str, Any] = {}
    for key in sorted(flat):
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[parts[-1]] = flat[key]
    return out


# ---- names ---------------------------------------------------------------------------------------------

_DATE_MATH = re.compile(r"^<(?P<static>[^{]*)\{(?P<expr>[^}{]*)(?:\{(?P<fmt>[^}]*)\})?\}(?P<tail>[^>]*)>$")


def resolve_date_math(name: str) -> str:
    """``<logs_{2022-12-31||/d{yyyy-MM-dd}}>`` -> ``logs_2022-12-31`` (date math index names)."""
    found = _DATE_MATH.match(name)
    if found is None:
        return name
    expr = found.group("expr")
    anchor = expr.split("||")[0] if "||" in expr else expr
    moment = (
        datetime.now(UTC) if anchor.startswith("now") else datetime.fromisoformat(anchor).replace(tzinfo=UTC)
    )
    java = found.group("fmt") or "yyyy.MM.dd"
    text = (
        java.replace("yyyy", f"{moment.year:04d}")
        .replace("MM", f"{moment.month:02d}")
        .replace("dd", f"{moment.day:02d}")
    )
    return found.group("static") + text + found.group("tail")


def check_index_name(name: str, kind: str = "index") -> None:
    """Refuse names Elasticsearch refuses (``invalid_index_name_exception``)."""
    problem = None
    if name != name.lower():
        problem = "must be lowercase"
    elif name.startswith(("_", "-", "+")):
        problem = "must not start with '_', '-', or '+'"
    elif any(c in name for c in '\\/*?"<>| ,'):
        problem = (
            "must not contain the following characters [' ', '\"', '*', ',', '/', '<', '>', '?', '\\\\', '|']"
        )
    elif "#" in name:
        problem = "must not contain '#'"
    elif ":" in name:
        problem = "must not contain ':'"
    elif name in (".", ".."):
        problem = "must not be '.' or '..'"
    elif len(name.encode()) > 255:
        problem = "index name is too long, (" + str(len(name.encode())) + " > 255)"
    if problem:
        extra = {"index_uuid": "_na_", "index": name}
        raise EsError(400, "invalid_index_name_exception", f"Invalid {kind} name [{name}], {problem}", extra)


def check_stream_name(name: str) -> None:
    """Refuse data stream names Elasticsearch refuses (``illegal_argument_exception``)."""
    problem = None
    if name != name.lower():
        problem = "must be lowercase"
    elif name.startswith(("_", "-", "+")):
        problem = "must not start with '_', '-', or '+'"
    elif "#" in name:
        problem = "must not contain '#'"
    elif ":" in name:
        problem = "must not contain ':'"
    elif any(c in name for c in '\\/*?"<>| ,'):
        problem = "must not contain the following characters " + java_list(
            ["' '", "'\"'", "'*'", "','", "'/'", "'<'", "'>'", "'?'", "'\\\\'", "'|'"]
        )
    elif name.startswith(".ds-"):
        problem = "must not start with '.ds-'"
    if problem:
        raise illegal_argument(f"data_stream [{name}] {problem}")


def backing_name(stream: str, generation: int, prefix: str = ".ds") -> str:
    """``.ds-<stream>-<yyyy.MM.dd>-<generation>`` (``.fs-`` for failure store indices)."""
    return f"{prefix}-{stream}-{datetime.now(UTC):%Y.%m.%d}-{generation:06d}"


def globs_overlap(left: str, right: str) -> bool:
    """Can some index name match both ``*``-patterns?"""
    memo: dict[tuple[int, int], bool] = {}

    def overlap(i: int, j: int) -> bool:
        key = (i, j)
        if key in memo:
            return memo[key]
        if (
            (i == len(left) and j == len(right))
            or (
                i < len(left)
                and left[i] == "*"
                and (overlap(i + 1, j) or (j < len(right) and overlap(i, j + 1)))
            )
            or (
                j < len(right)
                and right[j] == "*"
                and (overlap(i, j + 1) or (i < len(left) and overlap(i + 1, j)))
            )
        ):
            result = True
        else:
            result = i < len(left) and j < len(right) and left[i] == right[j] != "*" and overlap(i + 1, j + 1)
        memo[key] = result
        return result

    return overlap(0, 0)


# ---- the cluster -----------------------------------------------------------------------------------------


class Cluster:
    """Indices, templates and data streams in memory, with Elasticsearch's rules; one lock guards them."""

    def __init__(self, lock: threading.RLock, *, auto_refresh: bool = True) -> None:
        self.lock = lock
        self.auto_refresh = auto_refresh
        self.cluster_uuid = new_uuid()
        self.indices: dict[str, Index] = {}
        self.data_streams: dict[str, DataStream] = {}
        self.templates: dict[str, dict[str, Any]] = copy.deepcopy(BUILTIN_TEMPLATES)
        self.template_dates: dict[str, tuple[int, int]] = {}
        self.components: dict[str, dict[str, Any]] = copy.deepcopy(BUILTIN_COMPONENTS)
        self.legacy_templates: dict[str, dict[str, Any]] = {}
        self.pipelines: dict[str, dict[str, Any]] = {}
        self.eql_results: dict[str, dict[str, Any]] = {}
        self._order = 0

    def next_order(self) -> int:
        """A counter that orders documents by when they were first written."""
        self._order += 1
        return self._order

    # ---- index expressions ------------------------------------------------------------------------------

    def aliases(self) -> dict[str, list[str]]:
        """Alias name -> the indices it points at."""
        found: dict[str, list[str]] = {}
        for name in sorted(self.indices):
            for alias in self.indices[name].aliases:
                found.setdefault(alias, []).append(name)
        return found

    def resolve(self, expression: Any, options: IndicesOptions, *, streams: bool = True) -> list[str]:
        """Concrete index names of ``a,b*,-c`` (aliases and data streams give their indices)."""
        if isinstance(expression, list):
            expression = ",".join(expression)
        text = str(expression or "").strip()
        parts = [p.strip() for p in text.split(",") if p.strip()] or ["_all"]
        aliases = self.aliases()
        chosen: list[str] = []
        for position, part in enumerate(parts):
            if part.startswith("-") and position > 0:
                excluded = set(self._expand(part[1:], options, aliases, streams))
                chosen = [name for name in chosen if name not in excluded]
                continue
            name = resolve_date_math(part)
            if name == "_all" or "*" in name:
                found = self._expand("*" if name == "_all" else name, options, aliases, streams)
                if not found and not options.allow_no_indices:
                    raise index_not_found(name)
            elif name in self.data_streams and streams:
                found = list(self.data_streams[name].indices)
            elif name in self.indices:
                found = [name]
            elif name in aliases:
                found = list(aliases[name])
            elif options.ignore_unavailable:
                found = []
            else:
                raise index_not_found(name)
            chosen.extend(n for n in found if n not in chosen)
        if not chosen and not options.allow_no_indices:
            raise index_not_found(text or "_all")
        return chosen

    def _expand(
        self, pattern: str, options: IndicesOptions, aliases: Mapping[str, list[str]], streams: bool
    ) -> list[str]:
        hidden_ok = "hidden" in options.expand or pattern.startswith(".")
        names: list[str] = []
        if streams:
            for stream in sorted(self.data_streams):
                spec = self.data_streams[stream]
                if (
                    fnmatch.fnmatchcase(stream, pattern)
                    and (hidden_ok or not spec.hidden)
                    and options.expand & {"open", "closed"}
                ):
                    names.extend(spec.indices)
        for alias in sorted(aliases):
            if fnmatch.fnmatchcase(alias, pattern) and options.expand:
                names.extend(n for n in aliases[alias] if n not in names)
        for name in sorted(self.indices):
            index = self.indices[name]
            state_ok = ("closed" if index.closed else "open") in options.expand
            if (
                fnmatch.fnmatchcase(name, pattern)
                and (hidden_ok or not index.hidden)
                and state_ok
                and name not in names
            ):
                names.append(name)
        return names

    def index(self, name: str) -> Index:
        """The index ``name`` (404 when missing)."""
        found = self.indices.get(name)
        if found is None:
            raise index_not_found(name)
        return found

    # ---- templates --------------------------------------------------------------------------------------

    def template_for(self, name: str, *, hidden: bool = False) -> tuple[str, dict[str, Any]] | None:
        """The composable template that applies to a new index or data stream ``name`` (highest priority)."""
        matching = [
            (int(spec.get("priority") or 0), tname, spec)
            for tname, spec in self.templates.items()
            if any(fnmatch.fnmatchcase(name, p) for p in spec["index_patterns"])
            and not (hidden and any(p == "*" for p in spec["index_patterns"]))
        ]
        if not matching:
            return None
        _, tname, spec = max(matching, key=lambda item: item[0])
        return tname, spec

    def legacy_for(self, name: str) -> list[tuple[str, dict[str, Any]]]:
        """The legacy templates matching ``name``, lowest ``order`` first (later ones win)."""
        found = [
            (int(spec.get("order") or 0), tname, spec)
            for tname, spec in self.legacy_templates.items()
            if any(fnmatch.fnmatchcase(name, p) for p in spec["index_patterns"])
        ]
        return [(tname, spec) for _, tname, spec in sorted(found, key=lambda item: (item[0], item[1]))]

    def compose(
        self, template: Mapping[str, Any] | None
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        """(mappings, flat settings, aliases) a composable template gives, its components first."""
        mappings: dict[str, Any] = {}
        settings: dict[str, Any] = {}
        aliases: dict[str, Any] = {}
        parts = [self.components[c] for c in (template or {}).get("composed_of", []) if c in self.components]
        for part in [*parts, template or {}]:
            inner = part.get("template") or {}
            mappings = merge_mappings(mappings, normalize_mappings(inner.get("mappings") or {}))
            settings.update(flat_settings(inner.get("settings") or {}))
            aliases.update(copy.deepcopy(inner.get("aliases") or {}))
        return mappings, settings, aliases

    # ---- creating indices -------------------------------------------------------------------------------

    def create_index(
        self,
        name: str,
        body: Mapping[str, Any] | None = None,
        *,
        data_stream: DataStream | None = None,
        template: tuple[str, dict[str, Any]] | None = None,
    ) -> Index:
        """Create ``name`` from the matching template with ``body``'s settings, mappings and aliases."""
        body = body or {}
        name = resolve_date_math(name)
        check_index_name(name)
        existing = self.indices.get(name)
        if existing is not None or name in self.data_streams:
            reason = (
                f"index [{name}/{existing.uuid}] already exists"
                if existing
                else f"data_stream [{name}] exists"
            )
            raise already_exists(reason, name, existing.uuid if existing else "_na_")
        body_settings = flat_settings(body.get("settings") or {})
        hidden = str(body_settings.get("index.hidden", "false")) == "true"
        found = (
            template
            if template is not None
            else self.template_for(data_stream.name if data_stream else name, hidden=hidden)
        )
        if found and "data_stream" in found[1] and data_stream is None:
            raise illegal_argument(
                f"cannot create index with name [{name}], because it matches with template [{found[0]}] "
                "that creates data streams only, use create data stream api instead"
            )
        if found:
            mappings, settings, aliases = self.compose(found[1])
        else:
            mappings, settings, aliases = {}, {}, {}
            for _, legacy in self.legacy_for(name):
                mappings = merge_mappings(mappings, normalize_mappings(legacy.get("mappings") or {}))
                settings.update(flat_settings(legacy.get("settings") or {}))
                aliases.update(copy.deepcopy(legacy.get("aliases") or {}))
        mappings = merge_mappings(mappings, normalize_mappings(body.get("mappings")))
        settings.update(body_settings)
        aliases.update(check_aliases(body.get("aliases") or {}))
        if data_stream is not None:
            mappings = {"_data_stream_timestamp": {"enabled": True}, **mappings}
            mappings.setdefault("properties", {}).setdefault("@timestamp", {"type": "date"})
            settings["index.hidden"] = "true"
            if fnmatch.fnmatchcase(data_stream.name, "logs-*-*") and "index.mode" not in settings:
                settings["index.mode"] = "logsdb"
            if settings.get("index.mode") == "logsdb":
                settings.setdefault("index.mapping.synthetic_source_keep", "arrays")
            aliases = {}
        settings = self.finish_settings(name, settings)
        check_name_lengths(mappings, settings)
        index = Index(name, mappings, settings, aliases, data_stream.name if data_stream else None)
        index.settings["index.uuid"] = index.uuid
        index.settings["index.creation_date"] = str(index.created_ms)
        self.indices[name] = index
        return index

    @staticmethod
    def check_limits(settings: Mapping[str, Any]) -> None:
        """Refuse mapping limit settings Elasticsearch refuses."""
        _check_limits(settings)

    @staticmethod
    def finish_settings(name: str, settings: dict[str, Any]) -> dict[str, Any]:
        """Defaults and checks of a new index's settings."""
        out = dict(settings)
        if out.get("index.soft_deletes.enabled") == "false":
            raise illegal_argument(
                "Creating indices with soft-deletes disabled is no longer supported. Please do not specify a "
                "value for setting [index.soft_deletes.enabled]."
            )
        mode = out.get("index.mode")
        if mode == "lookup":
            shards = out.setdefault("index.number_of_shards", "1")
            if shards != "1":
                raise illegal_argument(
                    "index with [lookup] mode must have [index.number_of_shards] set to 1 or unset; provided "
                    f"{shards}"
                )
            out.setdefault("index.auto_expand_replicas", "0-all")
        _check_limits(out)
        out.setdefault("index.number_of_shards", "1")
        out.setdefault("index.number_of_replicas", "1")
        out["index.provided_name"] = name
        out["index.version.created"] = INDEX_VERSION
        out.setdefault("index.routing.allocation.include._tier_preference", "data_content")
        _check_analysis(out)
        return out

    # ---- refresh ----------------------------------------------------------------------------------------

    def after_write(self, index: Index) -> None:
        """Make a write searchable at once unless the index (or server) refreshes only when asked."""
        if self.auto_refresh and index.auto_refresh:
            index.visible = dict(index.docs)

    @staticmethod
    def refresh_index(index: Index) -> None:
        """Make every write to ``index`` searchable."""
        index.visible = dict(index.docs)

    def refresh_after(self, written: Iterable[tuple[str, str]], policy: str | None) -> bool:
        """Apply a write's ``refresh`` parameter to the shards of the written (index, routing); True when
        it forced a refresh (other shards of the index stay as they were, as in Elasticsearch)."""
        if policy is None or policy == "false":
            return False
        if policy not in ("", "true", "wait_for"):
            raise illegal_argument(f"Unknown value for refresh: [{policy}].")
        for name, routing in written:
            index = self.indices.get(name)
            if index is not None:
                refresh_shard(index, shard_of(index, routing))
        return policy in ("", "true")


_POSITIVE = ("index.mapping.array_objects.limit", "index.mapping.field_name_length.limit")
_NO_LIMIT_OR_POSITIVE = (
    "index.mapping.total_tokens_per_document.limit",
    "index.mapping.tokens_per_field.limit",
)


def _check_limits(settings: Mapping[str, Any]) -> None:
    """Refuse mapping limits Elasticsearch refuses (positive, or ``-1`` for none where allowed)."""
    for key in _POSITIVE:
        if key in settings and int(settings[key]) < 1:
            raise illegal_argument(
                f"Failed to parse value [{settings[key]}] for setting [{key}] must be >= 1"
            )
    for key in _NO_LIMIT_OR_POSITIVE:
        if key in settings and int(settings[key]) != -1 and int(settings[key]) < 1:
            raise illegal_argument(
                f"Failed to parse value [{settings[key]}] for setting [{key}]: must be -1 (no limit) or a "
                "positive number"
            )


def check_name_lengths(mappings: Mapping[str, Any], settings: Mapping[str, Any]) -> None:
    """A mapped field name may not be longer than ``index.mapping.field_name_length.limit``."""
    limit = settings.get("index.mapping.field_name_length.limit")
    if limit is None:
        return
    for name in IndexFields(mappings).fields:
        leaf = name.split(".")[-1]
        if len(leaf) > int(limit):
            raise illegal_argument(f"Field name [{leaf}] is longer than the limit of [{limit}] characters")


def refresh_shard(index: Index, shard: int) -> None:
    """Make the writes to one shard of ``index`` searchable."""
    if index.shards == 1:
        index.visible = dict(index.docs)
        return
    for doc_id in set(index.docs) | set(index.visible):
        doc = index.docs.get(doc_id) or index.visible[doc_id]
        if shard_of(index, doc.routing or doc_id) != shard:
            continue
        if doc_id in index.docs:
            index.visible[doc_id] = index.docs[doc_id]
        else:
            index.visible.pop(doc_id, None)


def check_aliases(aliases: Any) -> dict[str, dict[str, Any]]:
    """Aliases of a create index request or template, checked as Elasticsearch parses them."""
    if not isinstance(aliases, Mapping):
        raise EsError(400, "parse_exception", f"Failed to parse value [{aliases}] as aliases")
    out: dict[str, dict[str, Any]] = {}
    for name, raw in aliases.items():
        spec = dict(raw or {})
        for key in ("is_write_index", "is_hidden"):
            if key in spec and not isinstance(spec[key], bool):
                raise illegal_argument(
                    f"Unsupported String type value [{spec[key]}] for field [{key}] in alias [{name}]"
                )
        for key in ("routing", "index_routing", "search_routing"):
            if key in spec and isinstance(spec[key], bool):
                raise illegal_argument(
                    f"Unsupported boolean type value [{str(spec[key]).lower()}] for field [{key}] in alias "
                    f"[{name}]"
                )
        alias: dict[str, Any] = {}
        if "filter" in spec:
            alias["filter"] = spec["filter"]
        routing = spec.get("routing")
        if spec.get("index_routing", routing) is not None:
            alias["index_routing"] = str(spec.get("index_routing", routing))
        if spec.get("search_routing", routing) is not None:
            alias["search_routing"] = str(spec.get("search_routing", routing))
        for key in ("is_write_index", "is_hidden"):
            if key in spec:
                alias[key] = spec[key]
        out[resolve_date_math(str(name))] = alias
    return out


def _check_analysis(settings: Mapping[str, Any]) -> None:
    prefix = "index.analysis.analyzer."
    declared = {
        key[len("index.analysis.filter.") :].split(".")[0]
        for key in settings
        if key.startswith("index.analysis.filter.")
    }
    builtin = {
        "lowercase",
        "uppercase",
        "stop",
        "asciifolding",
        "trim",
        "unique",
        "porter_stem",
        "stemmer",
        "length",
    }
    for key, value in settings.items():
        if key.startswith(prefix) and key.endswith(".filter"):
            analyzer = key[len(prefix) : -len(".filter")]
            for name in value if isinstance(value, list) else [value]:
                if name not in declared and name not in builtin:
                    raise illegal_argument(
                        f"Custom Analyzer [{analyzer}] failed to find filter under name [{name}]"
                    )
