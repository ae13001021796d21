"""The test server's endpoint table against Elasticsearch's REST API specs in ``../shared/es-rest-tests/api``.

Every path and method a spec declares (deprecated ones aside) must reach that API, and every URL
parameter it lists must be accepted, except where Elasticsearch 9 itself no longer does (listed
below with the reason).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.es_api import API_BY_NAME, COMMON_PARAMS, match
from tests.support.es_errors import EsError

from .suite import SHARED

SPECS = SHARED / "api"
# (api, parameter or "METHOD /path") -> why Elasticsearch 9 refuses it although the saved spec lists it
GONE_IN_9: dict[tuple[str, str], str] = {
    ("bulk", "type"): "mapping types were removed in 8.0; the saved spec is from 7.x",
    ("index", "prefer_v2_templates"): "a 7.x transition flag, removed in 8.0",
    (
        "indices.create",
        "POST /{index}",
    ): "RestCreateIndexAction registers PUT only; the saved spec predates 7.0",
}
_SAMPLE = {"index": "idx", "id": "1", "name": "n", "alias": "a", "new_index": "b", "type": "t"}


def _specs() -> list[Any]:
    if not SPECS.is_dir():
        return []
    return [pytest.param(path, id=path.stem) for path in sorted(SPECS.glob("*.json"))]


def _routes(body: dict[str, Any]) -> list[tuple[str, str]]:
    url = body.get("url", {})
    out = []
    for entry in url.get("paths", []):
        if isinstance(entry, str):
            out += [(method, entry) for method in body.get("methods", [])]
        elif not entry.get("deprecated"):
            out += [(method, entry["path"]) for method in entry["methods"]]
    return out


@pytest.mark.skipif(not SPECS.is_dir(), reason="../shared/es-rest-tests is not present")
@pytest.mark.parametrize("path", _specs())
def test_spec_paths_and_params_are_served(path: Path) -> None:
    """Each declared path and method reaches the API, and each declared URL parameter is accepted."""
    ((name, body),) = json.loads(path.read_text(encoding="utf-8")).items()
    api = API_BY_NAME[name]
    params = set(body.get("params") or body.get("url", {}).get("params") or {})
    refused = sorted(p for p in params - api.params - COMMON_PARAMS if (name, p) not in GONE_IN_9)
    assert refused == []
    unrouted = []
    for method, template in _routes(body):
        if (name, f"{method} {template}") in GONE_IN_9:
            continue
        concrete = template.format(**_SAMPLE)
        try:
            found = match(method, concrete, concrete).api.name
        except EsError as error:
            found = error.reason
        if found != name:
            unrouted.append((method, template, found))
    assert unrouted == []


def test_gone_parameters_are_refused() -> None:
    """What Elasticsearch 9 no longer takes is refused, as an unknown parameter."""
    for api, item in GONE_IN_9:
        if " " not in item:
            assert item not in API_BY_NAME[api].params
