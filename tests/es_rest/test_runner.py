"""The YAML runner's own rules (paths, stash, checks, catches, warnings, prerequisites), without ../shared."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.es_server import EsTestServer

from .checks import CheckFailedError, run_assertion
from .runner import RestClient, SectionRun, ServerInfo, StepFailedError, make_client, prerequisite_problem
from .stash import Stash, java_string, split_path
from .suite import Section, load_file


@pytest.fixture
def client() -> Iterator[RestClient]:
    """A runner client on a fresh test server."""
    with EsTestServer() as server:
        rest = make_client(server.url)
        yield rest
        rest.close()


def _section(steps: list[dict[str, Any]], setup: list[dict[str, Any]] | None = None) -> Section:
    return Section("folder", "file.yml", "name", tuple(steps), tuple(setup or ()), ())


def test_paths_split_on_unescaped_dots_as_object_path_does() -> None:
    """``\\.`` keeps a dot in the key (even written ``\\\\.``); empty parts are dropped."""
    assert split_path("fields.object\\.nested1.long") == ["fields", "object.nested1", "long"]
    assert split_path("fields.text\\\\.keyword") == ["fields", "text.keyword"]
    assert split_path(".$idx.mappings..x") == ["$idx", "mappings", "x"]


def test_stash_replaces_whole_values_keys_and_embedded_references() -> None:
    """``$x`` stands for the stashed value itself, ``${x}`` for its text inside a string, keys included."""
    stash = Stash()
    stash.values.update({"id": 7, "name": "idx-1"})
    assert stash.replace({"a": "$id", "$name": ["${name}-copy"]}) == {"a": 7, "idx-1": ["idx-1-copy"]}


def test_match_follows_the_java_matchers() -> None:
    """Regexes ignore whitespace (COMMENTS), numbers compare by value, a boolean never equals a number."""
    body = {"a": "2024-05-01", "n": 1, "f": True, "m": {"x": [1.0]}}
    run_assertion("match", {"a": "/ \\d{4} - \\d{2} /"}, body, Stash())
    run_assertion("match", {"n": 1.0}, body, Stash())
    run_assertion("match", {"m": {"x": [1]}}, body, Stash())
    with pytest.raises(CheckFailedError):
        run_assertion("match", {"f": 1}, body, Stash())
    with pytest.raises(CheckFailedError):
        run_assertion("match", {"m": {"x": [1], "y": 2}}, body, Stash())


def test_truth_is_judged_on_the_java_text() -> None:
    """Empty text, ``false``, ``0`` and null are false; an empty list or map is true."""
    body = {"zero": 0, "no": "false", "empty": "", "list": [], "map": {}}
    for field in ("zero", "no", "empty", "missing"):
        run_assertion("is_false", field, body, Stash())
    for field in ("list", "map"):
        run_assertion("is_true", field, body, Stash())
    assert java_string({"a": [1, None]}) == "{a=[1, null]}"


def test_catch_checks_status_or_the_error_text(client: RestClient) -> None:
    """``missing`` wants a 404, a ``/regex/`` is searched in the Java text of ``error``, ``param`` refuses."""
    run = SectionRun(client)
    run.do({"catch": "missing", "indices.get": {"index": "nope"}})
    run.do({"catch": "/no such index \\[nope\\]/", "indices.get": {"index": "nope"}})
    run.do({"catch": "param", "create": {"index": "x", "body": {"a": 1}}})
    with pytest.raises(StepFailedError):
        run.do({"catch": "conflict", "indices.get": {"index": "nope"}})


def test_unexpected_warnings_fail_and_allowed_ones_pass(client: RestClient) -> None:
    """A warning nobody expected fails the step; ``allowed_warnings`` lets it through."""
    run = SectionRun(client)
    run.do({"indices.create": {"index": "logs-1", "body": {"aliases": {"logs": {}}}}})
    deprecation = (
        "Use of the [max_size] rollover condition has been deprecated in favour of the "
        "[max_primary_shard_size] condition and will be removed in a later version"
    )
    rollover = {"alias": "logs", "body": {"conditions": {"max_size": "100mb"}}}
    with pytest.raises(StepFailedError, match="unexpected warnings"):
        run.do({"indices.rollover": dict(rollover)})
    run.do({"allowed_warnings": [deprecation], "indices.rollover": dict(rollover)})
    with pytest.raises(StepFailedError, match="missing warnings"):
        run.do({"warnings": ["something else"], "indices.get": {"index": "logs-1"}})


def test_prerequisites_judge_version_features_and_capabilities(client: RestClient) -> None:
    """Version ranges, cluster features (gte_v* from the version) and capabilities decide what runs."""
    info = ServerInfo.read(client)
    assert prerequisite_problem(_section([{"skip": {"version": " - 8.99.99"}}]), info) is None
    assert prerequisite_problem(_section([{"skip": {"version": "all"}}]), info) is not None
    assert prerequisite_problem(_section([{"requires": {"cluster_features": ["gte_v8.11.0"]}}]), info) is None
    assert (
        prerequisite_problem(_section([{"requires": {"cluster_features": "no.such.feature"}}]), info)
        is not None
    )
    wanted = {"method": "PUT", "path": "/{index}", "capabilities": ["columnar_index_modes"]}
    assert prerequisite_problem(_section([{"requires": {"capabilities": [wanted]}}]), info) is not None


def test_yaml_is_read_as_jackson_reads_it(tmp_path: Path) -> None:
    """Dates stay text and map keys are strings; setup and teardown are shared by the sections."""
    path = tmp_path / "10_x.yml"
    path.write_text(
        'setup:\n  - do: {a: {t: 2020-02-03T12:34:56Z}}\n---\n"one":\n  - match: {1: x}\n', encoding="utf-8"
    )
    (section,) = load_file(path)
    assert section.setup[0]["do"]["a"]["t"] == "2020-02-03T12:34:56Z"
    assert section.steps[0]["match"] == {"1": "x"}
    assert section.id == f"{tmp_path.name}/10_x.yml::one"
