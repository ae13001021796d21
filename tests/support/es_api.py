"""The REST endpoints of the Elasticsearch test server: paths, methods and the parameters each accepts.

As Elasticsearch's ``RestController``, a request is matched against every route's path (literal
segments beating placeholders); a path that exists for other methods answers 405 with the methods
allowed, an unknown path 400 ``no handler found``. Each endpoint accepts the URL parameters of its
REST handler (the REST API spec of Elasticsearch 9, for the specs in ``../shared/es-rest-tests/api``
checked by ``tests/es_rest/test_api_table.py``) plus the ones every handler takes; any other is
refused as ``BaseRestHandler`` refuses it (``contains unrecognized parameter``, "did you mean").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from .es_errors import EsError, unrecognized_parameters

# Every handler takes these (BaseRestHandler.ALWAYS_SUPPORTED and the response parameters).
COMMON_PARAMS = frozenset({"format", "filter_path", "pretty", "human", "error_trace"})


@dataclass(frozen=True)
class Route:
    """One path of one API: the methods, the path template and its regular expression."""

    api: str
    methods: frozenset[str]
    template: str
    regex: re.Pattern[str]
    literals: int


@dataclass(frozen=True)
class Api:
    """An endpoint's routes and URL parameters."""

    name: str
    routes: tuple[tuple[str, str], ...]
    params: frozenset[str]


def _api(name: str, routes: str, params: str = "") -> Api:
    pairs = []
    for entry in routes.split(";"):
        methods, path = entry.strip().split(" ", 1)
        pairs.append((methods.replace(",", " "), path.strip()))
    return Api(name, tuple(pairs), frozenset(params.split()))


_INDEX_OPTIONS = "allow_no_indices expand_wildcards ignore_unavailable"
_WRITE = (
    "refresh routing timeout wait_for_active_shards version version_type pipeline include_source_on_error"
)
APIS: tuple[Api, ...] = (
    _api("info", "GET,HEAD /"),
    _api("capabilities", "GET /_capabilities", "method path parameters capabilities local_only timeout"),
    _api(
        "cluster.health",
        "GET /_cluster/health; GET /_cluster/health/{index}",
        "expand_wildcards level local master_timeout timeout wait_for_active_shards wait_for_events "
        "wait_for_no_initializing_shards wait_for_no_relocating_shards wait_for_nodes wait_for_status",
    ),
    _api(
        "cluster.state",
        "GET /_cluster/state; GET /_cluster/state/{metric}; GET /_cluster/state/{metric}/{index}",
        f"{_INDEX_OPTIONS} flat_settings local master_timeout wait_for_metadata_version wait_for_timeout",
    ),
    _api("indices.create", "PUT /{index}", "master_timeout timeout wait_for_active_shards"),
    _api("indices.delete", "DELETE /{index}", f"{_INDEX_OPTIONS} master_timeout timeout"),
    _api("indices.exists", "HEAD /{index}", f"{_INDEX_OPTIONS} flat_settings include_defaults local"),
    _api(
        "indices.get",
        "GET /{index}",
        f"{_INDEX_OPTIONS} features flat_settings include_defaults local master_timeout",
    ),
    _api(
        "indices.get_mapping",
        "GET /_mapping; GET /{index}/_mapping",
        f"{_INDEX_OPTIONS} local master_timeout",
    ),
    _api(
        "indices.put_mapping",
        "PUT,POST /{index}/_mapping",
        f"{_INDEX_OPTIONS} master_timeout timeout write_index_only",
    ),
    _api(
        "indices.get_settings",
        "GET /_settings; GET /{index}/_settings; GET /{index}/_settings/{name}; GET /_settings/{name}",
        f"{_INDEX_OPTIONS} flat_settings include_defaults local master_timeout",
    ),
    _api(
        "indices.put_settings",
        "PUT /_settings; PUT /{index}/_settings",
        f"{_INDEX_OPTIONS} flat_settings master_timeout preserve_existing reopen timeout",
    ),
    _api("indices.refresh", "GET,POST /_refresh; GET,POST /{index}/_refresh", _INDEX_OPTIONS),
    _api(
        "indices.flush",
        "GET,POST /_flush; GET,POST /{index}/_flush",
        f"{_INDEX_OPTIONS} force wait_if_ongoing",
    ),
    _api(
        "indices.stats",
        "GET /_stats; GET /_stats/{metric}; GET /{index}/_stats; GET /{index}/_stats/{metric}",
        "completion_fields expand_wildcards fielddata_fields fields forbid_closed_indices groups "
        "include_segment_file_sizes include_unloaded_segments level",
    ),
    _api(
        "indices.close",
        "POST /{index}/_close",
        f"{_INDEX_OPTIONS} master_timeout timeout wait_for_active_shards",
    ),
    _api(
        "indices.open",
        "POST /{index}/_open",
        f"{_INDEX_OPTIONS} master_timeout timeout wait_for_active_shards",
    ),
    _api(
        "indices.put_alias",
        "PUT,POST /{index}/_alias/{name}; PUT,POST /{index}/_aliases/{name}",
        "master_timeout timeout",
    ),
    _api(
        "indices.get_alias",
        "GET /_alias; GET /_alias/{name}; GET /{index}/_alias/{name}; GET /{index}/_alias",
        f"{_INDEX_OPTIONS} local master_timeout",
    ),
    _api(
        "indices.exists_alias",
        "HEAD /_alias/{name}; HEAD /{index}/_alias/{name}",
        f"{_INDEX_OPTIONS} local master_timeout",
    ),
    _api(
        "indices.delete_alias",
        "DELETE /{index}/_alias/{name}; DELETE /{index}/_aliases/{name}",
        "master_timeout timeout",
    ),
    _api(
        "indices.rollover",
        "POST /{alias}/_rollover; POST /{alias}/_rollover/{new_index}",
        "dry_run lazy master_timeout timeout wait_for_active_shards",
    ),
    _api("indices.put_index_template", "PUT,POST /_index_template/{name}", "cause create master_timeout"),
    _api(
        "indices.get_index_template",
        "GET /_index_template; GET /_index_template/{name}",
        "flat_settings include_defaults local master_timeout",
    ),
    _api(
        "indices.exists_index_template", "HEAD /_index_template/{name}", "flat_settings local master_timeout"
    ),
    _api("indices.delete_index_template", "DELETE /_index_template/{name}", "master_timeout timeout"),
    _api(
        "cluster.put_component_template",
        "PUT,POST /_component_template/{name}",
        "cause create master_timeout",
    ),
    _api(
        "cluster.get_component_template",
        "GET /_component_template; GET /_component_template/{name}",
        "flat_settings include_defaults local master_timeout settings_filter",
    ),
    _api("cluster.delete_component_template", "DELETE /_component_template/{name}", "master_timeout timeout"),
    _api("indices.put_template", "PUT,POST /_template/{name}", "cause create master_timeout order"),
    _api(
        "indices.get_template", "GET /_template; GET /_template/{name}", "flat_settings local master_timeout"
    ),
    _api("indices.delete_template", "DELETE /_template/{name}", "master_timeout timeout"),
    _api("indices.create_data_stream", "PUT /_data_stream/{name}", "master_timeout timeout"),
    _api(
        "indices.get_data_stream",
        "GET /_data_stream; GET /_data_stream/{name}",
        "expand_wildcards include_defaults master_timeout verbose",
    ),
    _api("indices.delete_data_stream", "DELETE /_data_stream/{name}", "expand_wildcards master_timeout"),
    _api(
        "indices.put_data_lifecycle",
        "PUT /_data_stream/{name}/_lifecycle",
        "expand_wildcards master_timeout timeout",
    ),
    _api(
        "indices.clone", "PUT,POST /{index}/_clone/{target}", "master_timeout timeout wait_for_active_shards"
    ),
    _api(
        "indices.shrink",
        "PUT,POST /{index}/_shrink/{target}",
        "master_timeout timeout wait_for_active_shards",
    ),
    _api(
        "indices.split", "PUT,POST /{index}/_split/{target}", "master_timeout timeout wait_for_active_shards"
    ),
    _api(
        "indices.shard_stores", "GET /_shard_stores; GET /{index}/_shard_stores", f"{_INDEX_OPTIONS} status"
    ),
    _api(
        "search_shards",
        "GET,POST /_search_shards; GET,POST /{index}/_search_shards",
        f"{_INDEX_OPTIONS} local master_timeout preference routing",
    ),
    _api(
        "indices.get_field_mapping",
        "GET /_mapping/field/{fields}; GET /{index}/_mapping/field/{fields}",
        f"{_INDEX_OPTIONS} include_defaults local",
    ),
    _api(
        "indices.disk_usage",
        "POST /{index}/_disk_usage",
        f"{_INDEX_OPTIONS} flush run_expensive_tasks",
    ),
    _api("ingest.put_pipeline", "PUT /_ingest/pipeline/{id}", "if_version master_timeout timeout"),
    _api(
        "ingest.get_pipeline", "GET /_ingest/pipeline; GET /_ingest/pipeline/{id}", "master_timeout summary"
    ),
    _api("ingest.delete_pipeline", "DELETE /_ingest/pipeline/{id}", "master_timeout timeout"),
    _api(
        "index",
        "PUT,POST /{index}/_doc/{id}; POST /{index}/_doc",
        f"{_WRITE} if_primary_term if_seq_no op_type require_alias require_data_stream",
    ),
    _api("create", "PUT,POST /{index}/_create/{id}", f"{_WRITE} require_alias require_data_stream"),
    _api(
        "get",
        "GET /{index}/_doc/{id}",
        "_source _source_excludes _source_includes _source_exclude_vectors force_synthetic_source preference "
        "realtime refresh routing stored_fields version version_type",
    ),
    _api(
        "exists",
        "HEAD /{index}/_doc/{id}",
        "_source _source_excludes _source_includes preference realtime refresh routing stored_fields version "
        "version_type",
    ),
    _api(
        "get_source",
        "GET /{index}/_source/{id}",
        "_source _source_excludes _source_includes preference realtime refresh routing version version_type",
    ),
    _api(
        "delete",
        "DELETE /{index}/_doc/{id}",
        "if_primary_term if_seq_no refresh routing timeout version version_type wait_for_active_shards",
    ),
    _api(
        "update",
        "POST /{index}/_update/{id}",
        "_source _source_excludes _source_includes if_primary_term if_seq_no include_source_on_error "
        "lang refresh require_alias retry_on_conflict routing timeout wait_for_active_shards",
    ),
    _api(
        "bulk",
        "POST,PUT /_bulk; POST,PUT /{index}/_bulk",
        "_source _source_excludes _source_includes _source_include_vectors include_source_on_error "
        "list_executed_pipelines pipeline refresh require_alias require_data_stream routing timeout "
        "wait_for_active_shards",
    ),
    _api(
        "search",
        "GET,POST /_search; GET,POST /{index}/_search",
        f"_source _source_excludes _source_includes {_INDEX_OPTIONS} allow_partial_search_results "
        "analyze_wildcard analyzer batched_reduce_size ccs_minimize_roundtrips default_operator df "
        "docvalue_fields explain force_synthetic_source from ignore_throttled "
        "include_named_queries_score lenient min_compatible_shard_node max_concurrent_shard_requests "
        "pre_filter_shard_size preference q request_cache rest_total_hits_as_int routing scroll "
        "search_type seq_no_primary_term size sort stats stored_fields suggest_field suggest_mode "
        "suggest_size suggest_text terminate_after timeout track_scores track_total_hits typed_keys "
        "version",
    ),
    _api(
        "count",
        "GET,POST /_count; GET,POST /{index}/_count",
        f"{_INDEX_OPTIONS} analyze_wildcard analyzer default_operator df ignore_throttled lenient min_score "
        "preference q routing stats terminate_after",
    ),
    _api(
        "field_caps",
        "GET,POST /_field_caps; GET,POST /{index}/_field_caps",
        f"{_INDEX_OPTIONS} fields filters include_empty_fields include_unmapped types",
    ),
    _api(
        "eql.search",
        "GET,POST /{index}/_eql/search",
        f"{_INDEX_OPTIONS} allow_partial_search_results allow_partial_sequence_results "
        "ccs_minimize_roundtrips keep_alive keep_on_completion wait_for_completion_timeout "
        "project_routing",
    ),
    _api("eql.get", "GET /_eql/search/{id}", "keep_alive wait_for_completion_timeout"),
    _api("eql.delete", "DELETE /_eql/search/{id}"),
    _api("eql.get_status", "GET /_eql/search/status/{id}"),
    _api(
        "rank_eval",
        "GET,POST /_rank_eval; GET,POST /{index}/_rank_eval",
        f"{_INDEX_OPTIONS} search_type",
    ),
)
API_BY_NAME: dict[str, Api] = {api.name: api for api in APIS}


def _compile(api: str, methods: str, template: str) -> Route:
    pattern = ""
    literals = 0
    for segment in template.strip("/").split("/") if template != "/" else []:
        if segment.startswith("{"):
            name = segment[1:-1]
            pattern += rf"/(?P<{name}>[^/]+)"
        else:
            pattern += "/" + re.escape(segment)
            literals += 1
    return Route(api, frozenset(methods.split()), template, re.compile(pattern or "/"), literals)


ROUTES: tuple[Route, ...] = tuple(
    sorted(
        (_compile(api.name, methods, template) for api in APIS for methods, template in api.routes),
        key=lambda r: (-r.template.count("/"), -r.literals),
    )
)


@dataclass(frozen=True)
class Match:
    """The API a request is for and the path parts its route named."""

    api: Api
    parts: dict[str, str]


def match(method: str, path: str, uri: str) -> Match:
    """The endpoint answering ``method path``; 405 or 400 (``no handler found``) as Elasticsearch does."""
    allowed: set[str] = set()
    for route in ROUTES:
        found = route.regex.fullmatch(path)
        if found is None:
            continue
        if method not in route.methods:
            allowed |= route.methods
            continue
        parts = {key: unquote(value) for key, value in found.groupdict().items()}
        return Match(API_BY_NAME[route.api], parts)
    if allowed:
        order = ["GET", "POST", "PUT", "DELETE", "HEAD"]
        listed = ", ".join(m for m in order if m in allowed)
        raise EsError(
            405,
            "",
            f"Incorrect HTTP method for uri [{uri}] and method [{method}], allowed: [{listed}]",
            plain=True,
        )
    raise EsError(400, "", f"no handler found for uri [{uri}] and method [{method}]", plain=True)


def check_params(api: Api, path: str, params: Mapping[str, str]) -> None:
    """Refuse URL parameters the endpoint does not know, as ``BaseRestHandler`` does."""
    known = api.params | COMMON_PARAMS
    wrong = [name for name in params if name not in known]
    if wrong:
        raise unrecognized_parameters(path, wrong, api.params)
