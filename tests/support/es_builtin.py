"""The templates a 9.x cluster installs by itself: ``logs``/``metrics``/``synthetics`` and their parts.

Each ``<kind>-*-*`` composable template (priority 100, data streams) is composed of
``<kind>@mappings``, ``<kind>@settings``, ``<kind>@custom`` (optional) and, for logs,
``ecs@mappings``, whose dynamic templates map ECS fields by name (x-pack's ``ecs@mappings.json``).
"""

from __future__ import annotations

from typing import Any


def _ecs(name: str, key: str, patterns: str, mapping: dict[str, Any], **more: Any) -> dict[str, Any]:
    listed = patterns.split()
    return {name: {key: listed[0] if len(listed) == 1 else listed, **more, "mapping": mapping}}


_TEXT = {"fields": {"text": {"type": "match_only_text"}}}
_SCALED = {"type": "scaled_float", "scaling_factor": 1000}
# x-pack's ecs@mappings.json, in its order
ECS_TEMPLATES: list[dict[str, Any]] = [
    _ecs("ecs_timestamp", "match", "@timestamp", {"ignore_malformed": False, "type": "date"}),
    _ecs("ecs_message_match_only_text", "path_match", "message *.message", {"type": "match_only_text"}),
    _ecs("ecs_ip", "path_match", "ip *.ip *_ip", {"type": "ip"}, match_mapping_type="string"),
    _ecs(
        "ecs_wildcard",
        "path_match",
        "*.io.text *.message_id *registry.data.strings *url.path",
        {"type": "wildcard"},
    ),
    _ecs(
        "ecs_path_match_wildcard_and_match_only_text",
        "path_match",
        "*.body.content *url.full *url.original",
        {**_TEXT, "type": "wildcard"},
    ),
    _ecs(
        "ecs_match_wildcard_and_match_only_text",
        "match",
        "*command_line *stack_trace",
        {**_TEXT, "type": "wildcard"},
    ),
    _ecs(
        "ecs_path_match_keyword_and_match_only_text",
        "path_match",
        "*.title *.executable *.name *.working_directory *.full_name *file.path *file.target_path *os.full "
        "email.subject vulnerability.description user_agent.original",
        {**_TEXT, "type": "keyword"},
    ),
    _ecs(
        "ecs_date",
        "path_match",
        "*.timestamp *_timestamp *.not_after *.not_before *.accessed created *.created *.installed "
        "*.creation_date *.ctime *.mtime ingested *.ingested *.start *.end",
        {"type": "date"},
    ),
    _ecs(
        "ecs_path_match_float",
        "path_match",
        "*.score.* *_score*",
        {"type": "float"},
        path_unmatch="*.version",
    ),
    _ecs("ecs_usage_double_scaled_float", "path_match", "*.usage", _SCALED, match_mapping_type="double"),
    _ecs("ecs_usage_long_scaled_float", "path_match", "*.usage", _SCALED, match_mapping_type="long"),
    _ecs("ecs_geo_point", "path_match", "location *.location", {"type": "geo_point"}),
    _ecs("ecs_flattened", "path_match", "*structured_data *exports *imports", {"type": "flattened"}),
    _ecs(
        "all_strings_to_keywords", "match_mapping_type", "string", {"ignore_above": 1024, "type": "keyword"}
    ),
]


def _stream_mappings(kind: str) -> dict[str, Any]:
    data_stream = {
        "type": {"type": "constant_keyword", "value": kind},
        "dataset": {"type": "constant_keyword"},
        "namespace": {"type": "constant_keyword"},
    }
    strings = {
        "strings_as_keyword": {
            "match_mapping_type": "string",
            "mapping": {"ignore_above": 1024, "type": "keyword"},
        }
    }
    return {
        "template": {
            "mappings": {
                "dynamic_templates": [strings],
                "date_detection": False,
                "properties": {
                    "@timestamp": {"type": "date", "ignore_malformed": False},
                    "data_stream": {"properties": data_stream},
                },
            }
        },
        "_meta": {
            "description": f"default mappings for the {kind} index template installed by x-pack",
            "managed": True,
        },
        "version": 15,
    }


def _stream_settings(kind: str) -> dict[str, Any]:
    index: dict[str, Any] = {
        "lifecycle": {"name": f"{kind}@lifecycle"},
        "codec": "best_compression",
        "mapping": {"ignore_malformed": True},
    }
    if kind == "logs":
        index["query"] = {"default_field": ["message"]}
        index["default_pipeline"] = "logs@default-pipeline"
    return {
        "template": {"settings": {"index": index}},
        "_meta": {
            "description": f"default settings for the {kind} index template installed by x-pack",
            "managed": True,
        },
        "version": 15,
    }


BUILTIN_COMPONENTS: dict[str, dict[str, Any]] = {
    "ecs@mappings": {
        "template": {"mappings": {"dynamic_templates": ECS_TEMPLATES}},
        "_meta": {"description": "dynamic mappings based on ECS, installed by x-pack", "managed": True},
        "version": 15,
    },
    **{f"{kind}@mappings": _stream_mappings(kind) for kind in ("logs", "metrics", "synthetics")},
    **{f"{kind}@settings": _stream_settings(kind) for kind in ("logs", "metrics", "synthetics")},
}


def _builtin_template(kind: str) -> dict[str, Any]:
    composed = [f"{kind}@mappings", f"{kind}@settings", f"{kind}@custom"]
    if kind == "logs":
        composed.append("ecs@mappings")
    return {
        "index_patterns": [f"{kind}-*-*"],
        "composed_of": composed,
        "priority": 100,
        "version": 15,
        "_meta": {"description": f"default {kind} template installed by x-pack", "managed": True},
        "data_stream": {"hidden": False, "allow_custom_routing": False},
        "allow_auto_create": True,
        "ignore_missing_component_templates": [f"{kind}@custom"],
    }


BUILTIN_TEMPLATES: dict[str, dict[str, Any]] = {
    kind: _builtin_template(kind) for kind in ("logs", "metrics", "synthetics")
}
