"""Build hunter's parts from settings, and run them: once, or as a scheduled service.

Only this module and :mod:`hunter.cli` read settings to build searchers, stores and notifiers;
everything below receives ready objects.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import structlog

from .alerts import AlertRenderer
from .config import Settings
from .hunts import Hunt
from .metrics import Metrics
from .notify import Notifier
from .notify.console import ConsoleNotifier
from .results import Searcher
from .runner import Clock, Runner, RunSummary, utc_now
from .search.local import EventFiles, LocalSearcher
from .store import Store
from .store.sqlite import SqliteStore

log = structlog.get_logger(__name__)


def owner_id() -> str:
    """This process's name for leases and notice claims: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class Runtime:
    """Everything a run needs, built from settings."""

    settings: Settings
    hunts: list[Hunt]
    store: Store
    searcher: Searcher
    notifier: Notifier
    runner: Runner
    metrics: Metrics
    closers: list[Callable[[], None]] = field(default_factory=list)

    def run_once(self, now: datetime | None = None) -> list[RunSummary]:
        """One run of every enabled hunt, in file order."""
        return [self.runner.run_hunt(hunt, now=now) for hunt in self.hunts if hunt.enabled]

    def close(self) -> None:
        """Close clients and the store."""
        for close in reversed(self.closers):
            close()
        self.store.close()


def build_notifier(settings: Settings) -> Notifier:
    """Slack when a webhook URL is set (from the environment), console lines otherwise."""
    webhook = settings.slack.webhook_url
    if webhook is None or not webhook.get_secret_value().strip():
        return ConsoleNotifier()
    from .notify.slack import SlackNotifier, webhook_client

    return SlackNotifier(
        webhook_client(webhook.get_secret_value(), timeout=settings.slack.timeout),
        templates=settings.templates,
        kibana_url=settings.slack.kibana_url,
        digest_after=settings.slack.digest_after,
        min_interval=settings.slack.min_interval,
        max_attempts=settings.slack.max_attempts,
    )


def build_runtime(
    settings: Settings,
    hunts: list[Hunt],
    *,
    clock: Clock = utc_now,
    metrics: Metrics | None = None,
    owner: str | None = None,
) -> Runtime:
    """Searcher, store, notifier and runner for the configured mode (checked before anything is written)."""
    metrics = metrics or Metrics()
    renderer = AlertRenderer(settings.templates)
    closers: list[Callable[[], None]] = []
    searcher: Searcher
    store: Store
    if settings.mode == "embedded":
        files = EventFiles(
            settings.embedded.events, settings.search.timestamp_field, on_bad_line=metrics.bad_events.inc
        )
        files.check_readable()  # a missing or unreadable file fails here, before the state file is created
        searcher = LocalSearcher(files, settings.search)
        store = SqliteStore(Path(settings.embedded.state))
    else:
        searcher, store = build_elasticsearch(settings)
    notifier = build_notifier(settings)
    runner = Runner(
        searcher=searcher,
        store=store,
        notifier=notifier,
        renderer=renderer,
        schedule=settings.schedule,
        owner=owner or owner_id(),
        lease_ns=int(settings.elasticsearch.lease.total_seconds() * 1e9),
        clock=clock,
        metrics=metrics,
    )
    return Runtime(settings, hunts, store, searcher, notifier, runner, metrics, closers)


def build_store(settings: Settings) -> Store:
    """The configured store alone (for ``hunter alerts``)."""
    if settings.mode == "embedded":
        return SqliteStore(Path(settings.embedded.state))
    return build_elasticsearch(settings, setup=False)[1]


def build_elasticsearch(settings: Settings, *, setup: bool = True) -> tuple[Searcher, Store]:
    """Searcher and store on the configured cluster; installs the alert template and state index."""
    from .esclient import Retrier, build_client
    from .search.elasticsearch import ElasticsearchSearcher
    from .store.elasticsearch import ElasticsearchStore

    client = build_client(settings)
    retrier = Retrier(
        attempts=settings.search.retries + 1, backoff=settings.search.retry_backoff.total_seconds()
    )
    store = ElasticsearchStore(
        client,
        data_stream=settings.elasticsearch.alerts_data_stream,
        state_index=settings.elasticsearch.state_index,
        retrier=retrier,
    )
    if setup:
        store.ensure_setup()
    return ElasticsearchSearcher(client, settings.search, retrier), store


def serve(runtime: Runtime) -> int:
    """The long-running service (scheduler, health and metrics); returns the exit code on shutdown."""
    from .scheduler import HuntService

    return HuntService(runtime).serve_forever()


def backfill(settings: Settings, hunt: Hunt, start: datetime, end: datetime) -> int:
    """Run ``hunt`` over [start, end] in interval chunks with the normal dedup (safe to re-run)."""
    from .scheduler import run_backfill

    return run_backfill(settings, hunt, start, end)
