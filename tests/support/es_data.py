"""Events for the Elasticsearch test server: the sample telemetry, and generated bursts.

:func:`index_samples` indexes the files of ``samples/events`` as the sources would have written
them: a hit whose ``_index`` is a data stream backing index (``.ds-<stream>-<date>-<generation>``)
goes to that data stream (``logs-endpoint.events.process-default``, ``winlogbeat-8.15.3``), any
other event to the index its ``_index`` names (the Auditbeat file's name), always with the ``_id``
the embedded mode gives it (the events are read with :class:`hunter.search.local.EventFiles`), so
alert ids computed from (``_index``, ``_id``) are the same in both modes. Beats' own index
templates are stood in for by templates composed of ``ecs@mappings`` (ECS types, as Beats map).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from hunter.search.local import EventFiles

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples" / "events"

_BACKING = re.compile(r"^\.ds-(?P<stream>.+)-\d{4}\.\d{2}\.\d{2}-\d{6}$")
_BUILTIN_STREAMS = ("logs-", "metrics-", "synthetics-")
# Stand-ins for the templates Winlogbeat and Auditbeat install (ECS mappings; Beats 8 write data streams).
BEATS_TEMPLATES: dict[str, dict[str, Any]] = {
    "test-winlogbeat": {"index_patterns": ["winlogbeat-*"], "data_stream": {}},
    "test-auditbeat": {"index_patterns": ["auditbeat-*"]},
}


def target_of(index: str) -> tuple[str, bool]:
    """Where an event of ``index`` goes: (name, is a data stream)."""
    backing = _BACKING.match(index)
    if backing:
        return backing.group("stream"), True
    return index, False


def install_beats_templates(client: Elasticsearch) -> None:
    """Index templates for ``winlogbeat-*`` (data streams) and ``auditbeat-*`` with ECS mappings."""
    for name, spec in BEATS_TEMPLATES.items():
        if not client.indices.exists_index_template(name=name):
            client.indices.put_index_template(
                name=name, composed_of=["ecs@mappings"], priority=50, **spec
            )


def index_hits(client: Elasticsearch, hits: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Index hit-shaped events (``_index``, ``_id``, ``_source``) where their sources would have.

    Returns the number of events per target (data stream or index). Every item must succeed.
    """
    install_beats_templates(client)
    operations: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    for hit in hits:
        target, _stream = target_of(str(hit["_index"]))
        operations += [{"create": {"_index": target, "_id": str(hit["_id"])}}, dict(hit["_source"])]
        counts[target] = counts.get(target, 0) + 1
    if operations:
        response = client.bulk(operations=operations, refresh=True)
        failed = [item for item in response["items"] if next(iter(item.values()))["status"] >= 300]
        assert not failed, failed
    return counts


def sample_hits(paths: Sequence[Path] = (SAMPLES,)) -> list[dict[str, Any]]:
    """The sample events as the embedded mode reads them (same ``_index`` and ``_id``)."""
    return [
        {"_index": hit["_index"], "_id": hit["_id"], "_source": dict(hit["_source"])}
        for hit in EventFiles(list(paths)).hits()
    ]


def index_samples(client: Elasticsearch, paths: Sequence[Path] = (SAMPLES,)) -> dict[str, int]:
    """Index the sample telemetry (``samples/events`` by default); events per target."""
    return index_hits(client, sample_hits(paths))


def as_hit(document: Mapping[str, Any], *, index: str, doc_id: str) -> dict[str, Any]:
    """A plain document (or a hit, whose ``_source`` is taken) as a hit bound for ``index``."""
    source = document.get("_source", document)
    assert isinstance(source, Mapping)
    return {"_index": index, "_id": doc_id, "_source": dict(source)}
