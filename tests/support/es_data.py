"""Data and hunter parts for tests against the Elasticsearch test server.

:func:`index_samples` indexes the files of ``samples/events`` as the sources would have written
them: a hit whose ``_index`` is a data stream backing index (``.ds-<stream>-<date>-<generation>``)
goes to that data stream (``logs-endpoint.events.process-default``, ``winlogbeat-8.15.3``), any
other event to the index its ``_index`` names (the Auditbeat file's name), always with the ``_id``
the embedded mode gives it (the events are read with :class:`hunter.search.local.EventFiles`), so
alert ids computed from (``_index``, ``_id``) are the same in both modes. Beats' own index
templates are stood in for by templates composed of ``ecs@mappings`` (ECS types, as Beats map).

:func:`replica` builds searcher, store, runner and a :class:`RecordingNotifier` from settings as
the service does, with a recording :class:`Sleeps` injected into the Retrier, so tests never sleep
and two replicas can share one cluster; :func:`close_clients` closes what the helpers opened.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from hunter.alerts import AlertRenderer
from hunter.config import ElasticsearchSettings, ScheduleSettings, SearchSettings, Settings
from hunter.esclient import Retrier, build_client
from hunter.notify import Delivery, Notice, Outcome
from hunter.results import Searcher
from hunter.runner import Runner
from hunter.search.elasticsearch import ElasticsearchSearcher
from hunter.search.local import EventFiles
from hunter.store.elasticsearch import ElasticsearchStore

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples" / "events"
NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # after every sample event

_BACKING = re.compile(r"^\.ds-(?P<stream>.+)-\d{4}\.\d{2}\.\d{2}-\d{6}$")
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
            client.indices.put_index_template(name=name, composed_of=["ecs@mappings"], priority=50, **spec)


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


# ---- hunter's parts on the test server ------------------------------------------------------------

QUERIES = REPO / "queries"
TEMPLATES = REPO / "templates"
ALERTS = "logs-hunter.alerts-default"
STATE = "hunter-state"


def es_settings(
    url: str,
    *,
    search: Mapping[str, Any] | None = None,
    elasticsearch: Mapping[str, Any] | None = None,
    schedule: Mapping[str, Any] | None = None,
) -> Settings:
    """Settings for elasticsearch mode on the test server at ``url`` (repo queries and templates)."""
    return Settings(
        mode="elasticsearch",
        queries=QUERIES,
        templates=TEMPLATES,
        search=SearchSettings(**dict(search or {})),
        elasticsearch=ElasticsearchSettings(hosts=[url], **dict(elasticsearch or {})),
        schedule=ScheduleSettings(**dict(schedule or {})),
    )


class Sleeps(list[float]):
    """An injectable ``sleep`` that records the delays instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


_OPEN: list[Elasticsearch] = []


def tracked(client: Elasticsearch) -> Elasticsearch:
    """Remember ``client`` so :func:`close_clients` closes it after the test."""
    _OPEN.append(client)
    return client


def close_clients() -> None:
    """Close every client made by :func:`tracked` (and :func:`replica`) so far."""
    while _OPEN:
        _OPEN.pop().close()


class RecordingNotifier:
    """A :class:`hunter.notify.Notifier` that delivers every notice and remembers which."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(
        self, notices: Sequence[Notice], on_delivery: Callable[[Delivery], None] | None = None
    ) -> list[Delivery]:
        """Record the notices' alert ids; all of them are delivered (reported at the end)."""
        ids = tuple(notice.alert_id for notice in notices)
        self.sent.extend(ids)
        return [Delivery(ids, Outcome.SENT)] if ids else []


@dataclass
class Replica:
    """One hunter process on the test cluster: its own client, searcher, store, runner and notifier."""

    client: Elasticsearch
    searcher: ElasticsearchSearcher
    store: ElasticsearchStore
    runner: Runner
    notifier: RecordingNotifier
    sleeps: Sleeps = field(default_factory=Sleeps)

    def close(self) -> None:
        """Close the client."""
        self.client.close()


def replica(
    settings: Settings,
    *,
    owner: str = "replica-a",
    clock: Callable[[], datetime] | None = None,
    searcher: Searcher | None = None,
) -> Replica:
    """A replica built from ``settings`` as the service builds one, with an injected (recorded) sleep.

    Its client is closed by :func:`close_clients`.
    """
    sleeps = Sleeps()
    client = tracked(build_client(settings))
    retrier = Retrier(
        attempts=settings.search.retries + 1,
        backoff=settings.search.retry_backoff.total_seconds(),
        sleep=sleeps,
    )
    store = ElasticsearchStore(
        client,
        data_stream=settings.elasticsearch.alerts_data_stream,
        state_index=settings.elasticsearch.state_index,
        retrier=retrier,
    )
    store.ensure_setup()
    es_searcher = ElasticsearchSearcher(client, settings.search, retrier)
    notifier = RecordingNotifier()
    runner = Runner(
        searcher=searcher or es_searcher,
        store=store,
        notifier=notifier,
        renderer=AlertRenderer(settings.templates),
        schedule=settings.schedule,
        owner=owner,
        lease_ns=int(settings.elasticsearch.lease.total_seconds() * 1e9),
        clock=clock or (lambda: NOW),
    )
    return Replica(client, es_searcher, store, runner, notifier, sleeps)


def stored_alerts(client: Elasticsearch, index: str = ALERTS) -> list[dict[str, Any]]:
    """Every alert hit (``_index``, ``_id``, ``_source``) across the data stream's backing indices."""
    client.indices.refresh(index=index, ignore_unavailable=True, allow_no_indices=True)
    response = client.search(index=index, size=1000, ignore_unavailable=True, allow_no_indices=True)
    hits: list[dict[str, Any]] = response["hits"]["hits"]
    return hits


def state_docs(client: Elasticsearch, kind: str, index: str = STATE) -> list[dict[str, Any]]:
    """The ``_source`` of every state document of ``kind`` (notice, checkpoint, lease)."""
    response = client.search(index=index, query={"term": {"type": kind}}, size=1000, ignore_unavailable=True)
    return [hit["_source"] for hit in response["hits"]["hits"]]
