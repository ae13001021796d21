"""Index expressions resolved as Elasticsearch resolves them, and the local index of an event."""

from __future__ import annotations

import pytest

from hunter.indices import IndexPatterns, data_stream_name, data_stream_of, matches, search_targets

PROCESS_STREAM = "logs-endpoint.events.process-default"


@pytest.mark.parametrize(
    ("expression", "index", "expected"),
    [
        ("winlogbeat-*", "winlogbeat-8.15.3-2026.11.20", True),
        ("winlogbeat-*", "auditbeat-2026", False),
        ("auditbeat-*,winlogbeat-*", "winlogbeat-x", True),  # a comma list is several expressions
        ("logs-endpoint.events.process-*", f".ds-{PROCESS_STREAM}-2026.11.20-000001", True),
        ("logs-endpoint.events.process*", "logs-endpoint.events.process-default", True),
        ("logs-endpoint.events.*", "logs-endpoint.events.network-default", True),
        ("logs-*", ".ds-logs-endpoint.events.process-default-2026.11.20-000001", True),  # via its stream
        ("*", ".alerts-security.alerts-default", False),  # wildcards skip hidden dot-prefixed names
        (".alerts-security.*", ".alerts-security.alerts-default", True),  # unless the pattern starts with .
        ("logs-*,-logs-endpoint.*", "logs-endpoint.events.process-default", False),  # excluded
        ("logs-*,-logs-endpoint.*", "logs-system.auth-default", True),
        ("logs-*,-*elastic-cloud-logs-*", "logs-elastic-cloud-logs-x", False),
        ("-logs-x,logs-*", "logs-x", True),  # '-' before any wildcard is a name, not an exclusion
        ("logs-*,-logs-x,logs-x", "logs-x", True),  # a later expression adds it back
        ("auditbeat-8.15.3-2026.11.20", "auditbeat-8.15.3-2026.11.20", True),  # no wildcard: exact
        ("auditbeat-8.15.3", "auditbeat-8.15.3-2026.11.20", False),
        ("logs-?ndpoint*", "logs-endpoint", False),  # '*' is the only wildcard (Regex.simpleMatch)
        ("logs-[a]*", "logs-[a]x", True),
    ],
)
def test_expressions_resolve_as_in_elasticsearch(expression: str, index: str, expected: bool) -> None:
    """Wildcards, comma lists, ordered exclusions, hidden names and data streams, as Elasticsearch does."""
    assert matches(expression, index) is expected
    assert IndexPatterns(expression.split(",")).matches(index) is expected  # a list is the same


def test_backing_indices_name_their_data_stream() -> None:
    """A backing index .ds-<stream>-<date>-<generation> belongs to <stream>."""
    assert data_stream_of(".ds-logs-endpoint.events.process-default-2026.11.20-000001") == (
        "logs-endpoint.events.process-default"
    )
    assert data_stream_of("logs-endpoint.events.process-default") is None


def test_data_stream_fields_name_the_index() -> None:
    """data_stream.type/dataset/namespace, nested or dotted, make the index name; partial ones do not."""
    nested = {"data_stream": {"type": "logs", "dataset": "endpoint.events.process", "namespace": "default"}}
    dotted = {"data_stream.type": "logs", "data_stream.dataset": "system.auth", "data_stream.namespace": "x"}
    assert data_stream_name(nested) == "logs-endpoint.events.process-default"
    assert data_stream_name(dotted) == "logs-system.auth-x"
    assert data_stream_name({"data_stream": {"type": "logs", "dataset": "a"}}) is None
    assert data_stream_name({}) is None
    # a part missing from the object, empty, or a one-item list: read as before the object's fast path
    mixed = {"data_stream": {"type": "logs", "dataset": ["a"]}, "data_stream.namespace": "n"}
    assert data_stream_name(mixed) == "logs-a-n"
    assert data_stream_name({"data_stream": {"type": "logs", "dataset": "", "namespace": "n"}}) is None
    assert data_stream_name({"data_stream": {"type": "logs", "dataset": 1, "namespace": "n"}}) is None


def test_coverage_targets_keep_the_exclusions_that_follow() -> None:
    """Each including pattern is reported with the exclusions after it, not the exclusions alone."""
    assert search_targets(["logs-*", "winlogbeat-*", "-*elastic-cloud-logs-*"]) == [
        ("logs-*", "logs-*,-*elastic-cloud-logs-*"),
        ("winlogbeat-*", "winlogbeat-*,-*elastic-cloud-logs-*"),
    ]
