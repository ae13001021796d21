"""Index templates: composable (``_index_template``), component (``_component_template``) and legacy.

As ``MetadataIndexTemplateService``: a composable template needs ``index_patterns``, may not share a
priority with an overlapping template, must name existing component templates (or list them in
``ignore_missing_component_templates``) and compose into a valid mapping; its settings are kept
under ``index.`` as text. Tracking dates (``created_date_millis``, ``modified_date_millis``) are
the system's, never the user's.
"""

from __future__ import annotations

import copy
import fnmatch
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from .es_cluster import Cluster, check_aliases, flat_settings, globs_overlap, nested_settings, now_ms
from .es_errors import EsError, illegal_argument, java_list, not_found, validation
from .es_mapping import normalize_mappings
from .es_request import Answer, Request

_TEMPLATE_FIELDS = [
    "index_patterns",
    "template",
    "composed_of",
    "priority",
    "version",
    "_meta",
    "data_stream",
    "allow_auto_create",
    "ignore_missing_component_templates",
    "deprecated",
    "created_date_millis",
    "modified_date_millis",
]
_INNER_FIELDS = ("settings", "mappings", "aliases", "lifecycle", "data_stream_options")
_SYSTEM_FIELDS = ("managed", "registry_installed")


def _invalid(name: str, cause: str) -> EsError:
    return EsError(
        400, "invalid_index_template_exception", f"index_template [{name}] invalid, cause [{cause}]"
    )


def _inner(name: str, body: Any, r: Request) -> dict[str, Any]:
    """A checked ``template`` object: settings under ``index.`` as text, mappings checked, aliases parsed."""
    if not isinstance(body, Mapping):
        raise EsError(400, "x_content_parse_exception", "[1:2] [template] failed to parse field [template]")
    r.check_fields("template", _INNER_FIELDS, body)
    out: dict[str, Any] = {}
    if body.get("settings") is not None:
        out["settings"] = nested_settings(flat_settings(body["settings"]))
    if body.get("mappings") is not None:
        normalize_mappings(body["mappings"])
        out["mappings"] = copy.deepcopy(body["mappings"])
    if body.get("aliases") is not None:
        out["aliases"] = check_aliases(body["aliases"])
    for key in ("lifecycle", "data_stream_options"):
        if body.get(key) is not None:
            out[key] = copy.deepcopy(body[key])
    return out


def put_index_template(c: Cluster, r: Request) -> Answer:
    """``PUT /_index_template/{name}``."""
    name = r.parts["name"]
    body = r.json
    for key in _SYSTEM_FIELDS:
        if key in body:
            raise illegal_argument(f"[{key}] is a system-managed field and cannot be set by a user")
    r.check_fields("index_template", _TEMPLATE_FIELDS)
    for key, label in (("created_date_millis", "created_date"), ("modified_date_millis", "modified_date")):
        if key in body:
            raise _invalid(name, f"provided a template property which is managed by the system: {label}")
    if r.flag("create", False) and name in c.templates:
        raise illegal_argument(f"index template [{name}] already exists")
    patterns = body.get("index_patterns")
    if not patterns:
        raise validation("index patterns are missing")
    template: dict[str, Any] = {"index_patterns": [patterns] if isinstance(patterns, str) else list(patterns)}
    if body.get("template") is not None:
        template["template"] = _inner(name, body["template"], r)
    template["composed_of"] = list(body.get("composed_of") or [])
    for key in (
        "priority",
        "version",
        "_meta",
        "allow_auto_create",
        "ignore_missing_component_templates",
        "deprecated",
    ):
        if body.get(key) is not None:
            template[key] = copy.deepcopy(body[key])
    if body.get("data_stream") is not None:
        stream = dict(body["data_stream"])
        template["data_stream"] = {
            "hidden": bool(stream.pop("hidden", False)),
            "allow_custom_routing": bool(stream.pop("allow_custom_routing", False)),
            **stream,
        }
    inner = template.get("template") or {}
    if inner.get("lifecycle") is not None and "data_stream" not in template:
        raise _invalid(
            name,
            "index template ["
            + name
            + "] specifies lifecycle configuration that can only be used in combination with a data stream",
        )
    _check_components(c, name, template)
    _check_priority(c, name, template)
    _warn_legacy_overlap(c, name, template, r)
    try:
        c.compose(template)
    except EsError as error:
        raise illegal_argument(
            f"composable template [{name}] template after composition is invalid"
        ) from error
    created, _ = c.template_dates.get(name, (now_ms(), 0))
    c.template_dates[name] = (created, now_ms())
    c.templates[name] = template
    return 200, {"acknowledged": True}


def _check_components(c: Cluster, name: str, template: Mapping[str, Any]) -> None:
    ignored = list(template.get("ignore_missing_component_templates") or [])
    missing = [n for n in template["composed_of"] if n not in c.components and n not in ignored]
    if missing and not ignored:
        raise _invalid(
            name,
            f"index template [{name}] specifies component templates {java_list(missing)} that do not exist",
        )
    if missing:
        raise _invalid(
            name,
            f"index template [{name}] specifies a missing component templates {java_list(missing)} that "
            "does not exist and is not part of 'ignore_missing_component_templates'",
        )


def _check_priority(c: Cluster, name: str, template: Mapping[str, Any]) -> None:
    priority = int(template.get("priority") or 0)
    clashes = {
        other: spec["index_patterns"]
        for other, spec in c.templates.items()
        if other != name
        and int(spec.get("priority") or 0) == priority
        and any(globs_overlap(a, b) for a in template["index_patterns"] for b in spec["index_patterns"])
    }
    if clashes:
        listed = ",".join(f"{other} => {java_list(p)}" for other, p in clashes.items())
        raise illegal_argument(
            f"index template [{name}] has index patterns {java_list(template['index_patterns'])} "
            f"matching patterns from existing templates [{','.join(clashes)}] with patterns ({listed}) "
            f"that have the same priority [{priority}], multiple index templates may not match during "
            "index creation, please use a different priority"
        )


def _warn_legacy_overlap(c: Cluster, name: str, template: Mapping[str, Any], r: Request) -> None:
    overlaps = {
        other: spec["index_patterns"]
        for other, spec in c.legacy_templates.items()
        if any(globs_overlap(a, b) for a in template["index_patterns"] for b in spec["index_patterns"])
    }
    if overlaps:
        listed = ",".join(f"{other} => {java_list(p)}" for other, p in overlaps.items())
        r.warn(
            f"index template [{name}] has index patterns {java_list(template['index_patterns'])} "
            f"matching patterns from existing older templates [{','.join(overlaps)}] with patterns "
            f"({listed}); this template [{name}] will take precedence during new index creation"
        )


def _iso(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _rendered(c: Cluster, name: str, r: Request) -> dict[str, Any]:
    template = copy.deepcopy(c.templates[name])
    dates = c.template_dates.get(name)
    if dates is not None:
        if r.flag("human", False):
            template["created_date"] = _iso(dates[0])
        template["created_date_millis"] = dates[0]
        if r.flag("human", False):
            template["modified_date"] = _iso(dates[1])
        template["modified_date_millis"] = dates[1]
    if r.flag("include_defaults", False) and (template.get("template") or {}).get("lifecycle") is not None:
        template["template"]["lifecycle"].setdefault("enabled", True)
        template["template"]["lifecycle"]["rollover"] = {
            "max_age": "30d",
            "max_primary_shard_size": "50gb",
            "min_docs": 1,
        }
    return template


def get_index_template(c: Cluster, r: Request) -> Answer:
    """``GET /_index_template[/{name}]``: a missing name 404; a wildcard matching nothing 404, empty list."""
    name = r.parts.get("name")
    if name is not None and "," in name:
        raise illegal_argument(f"template name [{name}] must not contain ','")
    names = [n for n in sorted(c.templates) if name is None or fnmatch.fnmatchcase(n, name)]
    listed = [{"name": n, "index_template": _rendered(c, n, r)} for n in names]
    if name is not None and not names:
        if "*" in name:
            return 404, {"index_templates": []}
        raise not_found(f"index template matching [{name}] not found")
    return 200, {"index_templates": listed}


def exists_index_template(c: Cluster, r: Request) -> Answer:
    """``HEAD /_index_template/{name}``."""
    name = r.parts["name"]
    return (200 if any(fnmatch.fnmatchcase(n, name) for n in c.templates) else 404), None


def delete_index_template(c: Cluster, r: Request) -> Answer:
    """``DELETE /_index_template/{names}``: templates still used by a data stream cannot go."""
    chosen: list[str] = []
    for part in r.parts["name"].split(","):
        found = [n for n in c.templates if fnmatch.fnmatchcase(n, part)]
        if not found and "*" not in part:
            raise not_found(f"index_template matching [{part}] not found")
        chosen.extend(n for n in found if n not in chosen)
    used = sorted({s.template for s in c.data_streams.values() if s.template in chosen})
    if used:
        streams = sorted(s.name for s in c.data_streams.values() if s.template in used)
        raise illegal_argument(
            f"unable to remove composable templates {java_list(used)} as they are in use by a data streams "
            f"{java_list(streams)}"
        )
    for name in chosen:
        c.templates.pop(name, None)
        c.template_dates.pop(name, None)
    return 200, {"acknowledged": True}


# ---- component templates ----------------------------------------------------------------------------


def put_component_template(c: Cluster, r: Request) -> Answer:
    """``PUT /_component_template/{name}``."""
    name = r.parts["name"]
    r.check_fields("component_template", ("template", "version", "_meta", "deprecated"))
    if r.flag("create", False) and name in c.components:
        raise illegal_argument(f"component template [{name}] already exists")
    if "template" not in r.json:
        raise EsError(400, "x_content_parse_exception", "[1:2] Required [template]")
    component: dict[str, Any] = {"template": _inner(name, r.json["template"], r)}
    for key in ("version", "_meta", "deprecated"):
        if key in r.json:
            component[key] = copy.deepcopy(r.json[key])
    c.components[name] = component
    return 200, {"acknowledged": True}


def get_component_template(c: Cluster, r: Request) -> Answer:
    """``GET /_component_template[/{name}]``."""
    name = r.parts.get("name")
    names = [n for n in sorted(c.components) if name is None or fnmatch.fnmatchcase(n, name)]
    if name is not None and not names and "*" not in name:
        raise not_found(f"component template matching [{name}] not found")
    listed = [{"name": n, "component_template": copy.deepcopy(c.components[n])} for n in names]
    return 200, {"component_templates": listed}


def delete_component_template(c: Cluster, r: Request) -> Answer:
    """``DELETE /_component_template/{name}``: not while an index template requires it."""
    pattern = r.parts["name"]
    names = [n for n in c.components if fnmatch.fnmatchcase(n, pattern)]
    if not names and "*" not in pattern:
        raise not_found(pattern)
    users = sorted(
        t
        for t, spec in c.templates.items()
        if (set(spec.get("composed_of", [])) - set(spec.get("ignore_missing_component_templates") or []))
        & set(names)
    )
    if users:
        raise illegal_argument(
            f"component templates {java_list(names)} cannot be removed as they are still in use by index "
            f"templates {java_list(users)}"
        )
    for name in names:
        del c.components[name]
    return 200, {"acknowledged": True}


# ---- legacy templates ----------------------------------------------------------------------------------

LEGACY_DEPRECATION = "Legacy index templates are deprecated in favor of composable templates."


def put_legacy_template(c: Cluster, r: Request) -> Answer:
    """``PUT /_template/{name}`` (deprecated; kept for the tests that still use it)."""
    name = r.parts["name"]
    r.warn(LEGACY_DEPRECATION)
    body = r.json
    r.check_fields(
        "index_template", ("index_patterns", "order", "version", "settings", "mappings", "aliases")
    )
    if r.flag("create", False) and name in c.legacy_templates:
        raise illegal_argument(f"index_template [{name}] already exists")
    patterns = body.get("index_patterns")
    if not patterns:
        raise validation("index patterns are missing")
    spec: dict[str, Any] = {
        "order": int(body.get("order", r.params.get("order", 0)) or 0),
        "index_patterns": [patterns] if isinstance(patterns, str) else list(patterns),
        "settings": nested_settings(flat_settings(body.get("settings") or {})),
        "mappings": normalize_mappings(body.get("mappings") or {}),
        "aliases": check_aliases(body.get("aliases") or {}),
    }
    if "version" in body:
        spec["version"] = body["version"]
    c.legacy_templates[name] = spec
    return 200, {"acknowledged": True}


def get_legacy_template(c: Cluster, r: Request) -> Answer:
    """``GET /_template[/{name}]``."""
    name = r.parts.get("name")
    names = [n for n in sorted(c.legacy_templates) if name is None or fnmatch.fnmatchcase(n, name)]
    if name is not None and not names and "*" not in name:
        return 404, {}
    return 200, {n: copy.deepcopy(c.legacy_templates[n]) for n in names}


def delete_legacy_template(c: Cluster, r: Request) -> Answer:
    """``DELETE /_template/{name}``."""
    pattern = r.parts["name"]
    names = [n for n in c.legacy_templates if fnmatch.fnmatchcase(n, pattern)]
    if not names:
        raise EsError(404, "index_template_missing_exception", f"index_template [{pattern}] missing")
    for name in names:
        del c.legacy_templates[name]
    return 200, {"acknowledged": True}


HANDLERS = {
    "indices.put_index_template": put_index_template,
    "indices.get_index_template": get_index_template,
    "indices.exists_index_template": exists_index_template,
    "indices.delete_index_template": delete_index_template,
    "cluster.put_component_template": put_component_template,
    "cluster.get_component_template": get_component_template,
    "cluster.delete_component_template": delete_component_template,
    "indices.put_template": put_legacy_template,
    "indices.get_template": get_legacy_template,
    "indices.delete_template": delete_legacy_template,
}
