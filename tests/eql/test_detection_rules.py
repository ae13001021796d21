"""Every EQL query of Elastic's prebuilt detection rules compiles (skipped when ../shared is absent)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from hunter.eql import EqlError, compile_query

RULES = Path(__file__).resolve().parents[3] / "shared" / "detection-rules"
FOLDERS = ("rules", "rules_building_block")


def eql_queries() -> dict[str, str]:
    """`[rule] query` of every `type = "eql"` rule file, `_deprecated/` included, by relative path."""
    queries: dict[str, str] = {}
    for folder in FOLDERS:
        for path in sorted((RULES / folder).rglob("*.toml")):
            rule = tomllib.loads(path.read_text(encoding="utf-8")).get("rule", {})
            if rule.get("type") == "eql":
                queries[str(path.relative_to(RULES))] = rule["query"]
    return queries


@pytest.mark.skipif(not RULES.is_dir(), reason="../shared/detection-rules is not present")
def test_every_eql_rule_compiles() -> None:
    """Zero refusals: Elasticsearch runs each of these queries, so the embedded engine must too."""
    queries = eql_queries()
    assert len(queries) > 1000
    assert any(name.startswith("rules/_deprecated/") for name in queries)
    assert any(name.startswith("rules_building_block/") for name in queries)
    refused = {}
    for name, query in queries.items():
        try:
            compile_query(query)
        except EqlError as exc:
            refused[name] = str(exc)
    assert refused == {}
