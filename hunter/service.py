"""Build hunter's parts from settings, and run them: once, as a scheduled service, or as a backfill.

Only this module and :mod:`hunter.cli` read settings to build searchers, stores and notifiers;
everything below receives ready objects.

The service is APScheduler 3.x jobs: ``coalesce=True`` (missed runs collapse into one: the window
planner covers the whole gap anyway), ``max_instances=1`` (a job never overlaps itself) and a
misfire grace time, with a little jitter; plus a health and metrics endpoint. There is one job per
schedule (:func:`schedule_id`). Over local event files (a searcher that shares passes) the hunts due
at the same tick are searched in one pass over the files, then run one by one; against
Elasticsearch each tick queues its hunts' runs to one pool of ``[schedule] concurrency`` threads
shared by all schedules, each run searching the cluster itself (one job per hunt queued hundreds of
runs behind APScheduler's ten threads, and those that waited past the misfire grace were skipped,
tick after tick). SIGTERM/SIGINT stop new runs, let a running one finish (bounded by the shutdown
timeout), flush pending notices and close clients.
"""

from __future__ import annotations

import functools
import os
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import structlog
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from .alerts import AlertRenderer
from .config import Settings
from .cron import cron_trigger
from .errors import ConfigError, HunterError
from .hunts import Hunt
from .metrics import Metrics
from .notify import Notifier
from .notify.console import ConsoleNotifier
from .results import Searcher
from .runner import Clock, Runner, RunSummary, to_ns, utc_now
from .search.local import EventFiles, local_searcher
from .store import Store
from .store.sqlite import SqliteStore
from .windows import chunk_windows

log = structlog.get_logger(__name__)


def schedule_id(hunt: Hunt) -> str:
    """The schedule a hunt shares with others, as the id of their job: ``every 300s`` (its interval,
    in the whole seconds its trigger runs on) or ``cron 0 * * * *`` (its crontab expression, spaces
    normalised). A hunt id has no space, so it never equals one."""
    if hunt.cron:
        return "cron " + " ".join(hunt.cron.split())
    return f"every {max(1, hunt.interval_ns // 1_000_000_000)}s"


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
        """One run of every enabled hunt at one moment, in file order; over local files their
        windows are searched in one shared pass first."""
        hunts = [hunt for hunt in self.hunts if hunt.enabled]
        moment = now or self.runner.clock()
        self.runner.share_pass(hunts, moment)
        try:
            return [self.runner.run_hunt(hunt, now=moment) for hunt in hunts]
        finally:
            self.runner.end_shared_pass()

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
    wall_clock: Clock | None = None,
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
        searcher = local_searcher(files, settings)
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
        building_block_notices=settings.slack.building_block_notices,
        state_retention_ns=int(settings.retention.state.total_seconds() * 1_000_000_000),
        wall_clock=wall_clock,
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
    retention = settings.retention.alerts
    store = ElasticsearchStore(
        client,
        data_stream=settings.elasticsearch.alerts_data_stream,
        state_index=settings.elasticsearch.state_index,
        retrier=retrier,
        alert_retention=None if retention is None else f"{int(retention.total_seconds())}s",
    )
    if setup:
        store.ensure_setup()
    return ElasticsearchSearcher(client, settings.search, retrier), store


# ---- the scheduled service ---------------------------------------------------------------------


@dataclass
class HealthState:
    """Per hunt: when it last ran successfully and how its last run ended."""

    started: datetime
    intervals: dict[str, timedelta]
    last_success: dict[str, datetime] = field(default_factory=dict)
    last_error: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, summary: RunSummary, at: datetime) -> None:
        """Remember the outcome of one run of a hunt being judged (a run that ends after a reload
        removed its hunt is not remembered: were the hunt added back, it would be judged by it)."""
        with self.lock:
            if summary.hunt_id not in self.intervals:
                return
            # "skipped": another replica holds the hunt's lease and runs it; this one reached the
            # state store and is a healthy standby
            if summary.outcome in ("ok", "skipped"):
                self.last_success[summary.hunt_id] = at
                self.last_error.pop(summary.hunt_id, None)
            elif summary.outcome == "failed":
                self.last_error[summary.hunt_id] = summary.error

    def watch(self, hunt_id: str, interval: timedelta, now: datetime) -> None:
        """Judge a hunt (added or changed by a reload) by this interval; a new one from ``now``."""
        with self.lock:
            if hunt_id not in self.intervals:
                self.last_success.setdefault(hunt_id, now)
            self.intervals[hunt_id] = interval

    def forget(self, hunt_id: str) -> None:
        """Stop judging a hunt (removed by a reload)."""
        with self.lock:
            self.intervals.pop(hunt_id, None)
            self.last_success.pop(hunt_id, None)
            self.last_error.pop(hunt_id, None)

    def status(self, now: datetime) -> tuple[bool, list[str]]:
        """Healthy when every hunt ran successfully within two of its intervals (since start)."""
        problems: list[str] = []
        with self.lock:
            for hunt_id, interval in sorted(self.intervals.items()):
                since = self.last_success.get(hunt_id, self.started)
                if now - since > 2 * interval:
                    reason = self.last_error.get(hunt_id, "no successful run yet")
                    age = int((now - since).total_seconds())
                    problems.append(f"{hunt_id}: no successful run for {age}s ({reason})")
        return (not problems, problems)


class HuntService:
    """Schedules every enabled hunt and serves /healthz and /metrics until stopped.

    One job per schedule, its id the :func:`schedule_id` of its hunts (``every 300s``,
    ``cron 0 * * * *``): where the searcher shares passes over local files (``search_windows``) the
    hunts due at the same tick read the files once; against Elasticsearch their runs are queued to
    one pool (:meth:`run_group`). Health is judged per hunt.
    """

    def __init__(
        self,
        runtime: Runtime,
        *,
        clock: Callable[[], datetime] = utc_now,
        install_signals: bool = True,
        scheduler: BaseScheduler | None = None,
        reload: Callable[[], tuple[Settings, list[Hunt]]] | None = None,
    ) -> None:
        self.runtime = runtime
        self.clock = clock
        self._load = reload  # re-reads settings and hunt files (SIGHUP)
        self.reload_requested = threading.Event()
        self.install_signals = install_signals
        self.hunts = [hunt for hunt in runtime.hunts if hunt.enabled]
        self.health = HealthState(
            started=clock(),
            intervals={hunt.id: timedelta(seconds=hunt.interval_ns / 1e9) for hunt in self.hunts},
        )
        # Tests pass a scheduler without a thread of its own that they tick with their clock.
        self.scheduler = scheduler if scheduler is not None else BackgroundScheduler()
        self.scheduler.configure(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": self._misfire_grace()},
        )
        self.stopping = threading.Event()
        self._running: dict[str, threading.Lock] = {hunt.id: threading.Lock() for hunt in self.hunts}
        # hunts due at the same tick share one pass over the files where the searcher can do that
        self.shares_passes = getattr(runtime.runner.searcher, "search_windows", None) is not None
        # schedule id -> its hunts in file order (read by each run of the schedule's job)
        self.groups: dict[str, list[Hunt]] = self._grouped(self.hunts)
        self.http: ThreadingHTTPServer | None = None
        # Against Elasticsearch, every schedule's runs go to one pool of ``[schedule] concurrency``
        # threads; a hunt is queued once at a time, and runs as its file says when its turn comes.
        self._pool: ThreadPoolExecutor | None = None
        self._pool_size = 0
        self._old_pools: list[ThreadPoolExecutor] = []  # replaced by a reload, finishing their runs
        self._closed = False  # no more runs are taken (stopping)
        self._queued: set[str] = set()
        self._queue_lock = threading.Condition()  # notified as a queued run ends
        self._current = {hunt.id: hunt for hunt in self.hunts}

    # ---- jobs -----------------------------------------------------------------------------------

    def trigger(self, hunt: Hunt) -> BaseTrigger:
        """When a hunt runs: its cron expression, or every ``interval`` (with the configured jitter)."""
        jitter = int(self.runtime.settings.schedule.jitter.total_seconds()) or None
        if hunt.cron:
            trigger: BaseTrigger = cron_trigger(hunt.cron, jitter=jitter)
            return trigger
        return IntervalTrigger(
            seconds=max(1, hunt.interval_ns // 1_000_000_000),
            start_date=self.clock(),
            timezone=UTC,
            jitter=jitter,
        )

    def add_jobs(self) -> None:
        """One job per schedule, the first run right away."""
        for group_id in self.groups:
            self._add_group_job(group_id)

    @staticmethod
    def _grouped(hunts: list[Hunt]) -> dict[str, list[Hunt]]:
        groups: dict[str, list[Hunt]] = {}
        for hunt in hunts:
            groups.setdefault(schedule_id(hunt), []).append(hunt)
        return groups

    def _add_group_job(self, group_id: str) -> None:
        self.scheduler.add_job(
            self.run_group,
            trigger=self.trigger(self.groups[group_id][0]),  # the same trigger for every hunt in it
            args=[group_id],
            id=group_id,
            name=self._group_name(group_id),
            next_run_time=self.clock(),
            misfire_grace_time=self._misfire_grace(),
        )

    def _misfire_grace(self) -> int | None:
        """``[schedule] misfire_grace`` as configured now, in APScheduler's terms (None: no limit); a
        reload may have changed it since the scheduler was set up."""
        return int(self.runtime.settings.schedule.misfire_grace.total_seconds()) or None

    def _group_name(self, group_id: str) -> str:
        count = len(self.groups.get(group_id, ()))
        return f"{count} hunt{'s' if count != 1 else ''} {group_id}"

    def run_hunt(self, hunt: Hunt) -> RunSummary | None:
        """One run of ``hunt`` at the runner's now, unless stopping or this hunt is already running."""
        if self.stopping.is_set():
            return None
        lock = self._running[hunt.id]
        if not lock.acquire(blocking=False):
            log.info("previous run still going; this one is skipped", hunt=hunt.id)
            return None
        try:
            return self._run(hunt, None)
        finally:
            lock.release()

    def run_group(self, group_id: str) -> list[RunSummary]:
        """The job body of a schedule: a run of each of its hunts (:meth:`_shared_tick` over local
        files; against Elasticsearch :meth:`_queue_tick` queues them and returns). A hunt whose
        previous run is still going (or queued) is skipped; the others run. A run that crashes is
        recorded as failed and the others run. Stopping starts no further run (those left search
        their range next time)."""
        if self.stopping.is_set():
            return []
        hunts = list(self.groups.get(group_id, ()))  # as it is now; a reload may regroup meanwhile
        tick = self._shared_tick if self.shares_passes else self._queue_tick
        return tick(group_id, hunts)

    def _queue_tick(self, group_id: str, hunts: list[Hunt]) -> list[RunSummary]:
        """Against Elasticsearch: each hunt's run queued, in file order, to the service's pool of
        ``[schedule] concurrency`` threads (shared by every schedule), each run at its own moment
        and searching the cluster itself; the tick returns at once (no summaries). A hunt still
        queued or running from an earlier tick is skipped."""
        for hunt in hunts:
            with self._queue_lock:  # the pool is not replaced or closed while a run is queued to it
                if hunt.id in self._queued:
                    log.info("previous run still going; this one is skipped", hunt=hunt.id, schedule=group_id)
                    continue
                pool = self._runs_pool()
                if pool is None:  # stopping: runs are no longer taken
                    return []
                self._queued.add(hunt.id)
                try:
                    future = pool.submit(self._queued_run, hunt.id)
                except Exception:  # no thread to be had, say: this run waits for the next tick
                    log.exception("could not queue the run; the next tick queues it again", hunt=hunt.id)
                    self._unqueue(hunt.id)
                    continue
                self.runtime.metrics.runs_queued.set(len(self._queued))
            # also when the run is dropped unstarted (stopping)
            future.add_done_callback(functools.partial(self._unqueue, hunt.id))
        return []

    def _unqueue(self, hunt_id: str, _done: Future[None] | None = None) -> None:
        with self._queue_lock:
            self._queued.discard(hunt_id)
            self.runtime.metrics.runs_queued.set(len(self._queued))
            self._queue_lock.notify_all()

    def _queued_run(self, hunt_id: str) -> None:
        """A queued run: the hunt as the files say now (a reload may have changed, disabled or
        removed it since it was queued), unless the service is stopping."""
        hunt = self._current.get(hunt_id)
        if hunt is None:
            return
        try:
            self.run_hunt(hunt)
        except BaseException:  # a crash is a failed run already (``_run``): this is worse, and said
            log.exception("hunt run interrupted", hunt=hunt_id)
            raise

    def _runs_pool(self) -> ThreadPoolExecutor | None:
        """The pool of queued runs (``_queue_lock`` held), of ``[schedule] concurrency`` threads as
        configured now: a reload that changes it makes a new pool, the old one finishing what it
        has; None once :meth:`close_runs` has closed them."""
        if self._closed:
            return None
        size = self.runtime.settings.schedule.concurrency
        if self._pool is None or self._pool_size != size:
            if self._pool is not None:
                self._pool.shutdown(wait=False)
                self._old_pools.append(self._pool)
            self._pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="hunter-run")
            self._pool_size = size
        return self._pool

    def close_runs(self) -> None:
        """Take no more runs, drop the queued ones and wait for those running (when stopping)."""
        with self._queue_lock:
            self._closed = True
            pools = [*self._old_pools, *([self._pool] if self._pool is not None else [])]
        for pool in pools:
            pool.shutdown(wait=True, cancel_futures=True)

    def wait_for_runs(self, timeout: float | None = None) -> bool:
        """Wait until no run is queued or running (tests, shutdown); False if ``timeout`` ran out."""
        with self._queue_lock:
            return self._queue_lock.wait_for(lambda: not self._queued, timeout)

    def _shared_tick(self, group_id: str, hunts: list[Hunt]) -> list[RunSummary]:
        """Over local files: the hunts' next windows searched in one shared pass, then each hunt's
        run (in file order) taking its results, all planned for one moment of the runner's clock, so
        the windows searched are the ones the runs plan. A tick longer than the interval is logged."""
        started = time.perf_counter()
        held: list[Hunt] = []
        for hunt in hunts:
            if self._running.setdefault(hunt.id, threading.Lock()).acquire(blocking=False):
                held.append(hunt)
            else:
                log.info("previous run still going; this one is skipped", hunt=hunt.id, schedule=group_id)
        runner = self.runtime.runner
        moment = runner.clock()
        summaries: list[RunSummary] = []
        left = list(held)
        try:
            try:
                runner.share_pass(held, moment)
            except Exception:  # each run then searches on its own
                log.exception("the shared pass crashed; each hunt searches on its own", schedule=group_id)
            while left and not self.stopping.is_set():
                hunt = left.pop(0)
                try:
                    summaries.append(self._run(hunt, moment))
                finally:
                    # what the pass found for it and its run did not take goes, before another
                    # run of this hunt (after a reload, say) may start
                    runner.end_shared_pass([hunt])
                    self._running[hunt.id].release()
        finally:
            runner.end_shared_pass(left)
            for hunt in left:
                self._running[hunt.id].release()
        took_s = time.perf_counter() - started
        interval_s = hunts[0].interval_ns / 1e9 if hunts else 0.0
        if hunts and took_s > interval_s:
            log.warning(
                "a tick of this schedule took longer than its interval; its fire times are skipped "
                "while one is going",
                schedule=group_id,
                hunts=len(hunts),
                took_s=round(took_s, 1),
                interval_s=interval_s,
            )
        return summaries

    def _run(self, hunt: Hunt, now: datetime | None) -> RunSummary:
        """One run of ``hunt`` (its lock held): a crash is a failed run; health is recorded."""
        with structlog.contextvars.bound_contextvars(hunt=hunt.id):
            try:
                summary = self.runtime.runner.run_hunt(hunt, now=now)
            except Exception:
                log.exception("hunt run crashed")
                summary = RunSummary(hunt.id, outcome="failed", error="crashed (see the log)")
            self.health.record(summary, self.clock())
            interval_s = hunt.interval_ns / 1e9
            if summary.total_seconds > interval_s:
                log.warning(
                    "run took longer than the hunt's interval; runs are skipped while one is going",
                    took_s=round(summary.total_seconds, 1),
                    interval_s=interval_s,
                )
            return summary

    def reload(self) -> bool:
        """Re-read settings and hunt files (SIGHUP) and apply them, and the schedule settings take
        effect. The hunts are grouped again by schedule: a schedule no hunt has any more loses its job,
        a new one gets a job (running at once), and one that a hunt joined (new, or moved from
        another schedule) runs at once, all its hunts in one pass over local files. A bad file or
        setting is logged and changes nothing (the running set keeps running). Settings that the
        running store, searcher or notifier were built from need a restart; that is said."""
        if self._load is None:
            log.warning("reload asked for, but this service was started without a way to reload")
            return False
        try:
            settings, hunts = self._load()
        except HunterError as exc:
            log.error("reload failed; the hunts already running keep running", error=str(exc))
            return False
        old_settings = self.runtime.settings
        needs_restart = sorted(
            name
            for name in Settings.model_fields
            if name not in ("queries", "schedule") and getattr(settings, name) != getattr(old_settings, name)
        )
        if needs_restart:
            log.warning("changed settings take effect after a restart", settings=needs_restart)
        self.runtime.runner.schedule = settings.schedule
        self.runtime.settings = old_settings.model_copy(
            update={"queries": settings.queries, "schedule": settings.schedule}
        )
        old = {hunt.id: hunt for hunt in self.hunts}
        new = {hunt.id: hunt for hunt in hunts if hunt.enabled}
        added = sorted(new.keys() - old.keys())
        removed = sorted(old.keys() - new.keys())
        changed = sorted(key for key in new.keys() & old.keys() if new[key] != old[key])
        for hunt_id in removed:
            self.health.forget(hunt_id)
        for hunt_id in added:
            self._running.setdefault(hunt_id, threading.Lock())
        for hunt_id in sorted(new):
            self.health.watch(hunt_id, timedelta(seconds=new[hunt_id].interval_ns / 1e9), self.clock())
        jitter_changed = settings.schedule.jitter != old_settings.schedule.jitter
        self.hunts = [new[hunt_id] for hunt_id in new]
        self._current = dict(new)  # queued runs take these (a removed hunt's is skipped)
        self.runtime.hunts = list(hunts)
        self._regroup(jitter_changed=jitter_changed)
        log.info("reloaded settings and hunts", added=added, removed=removed, changed=changed)
        return True

    def _regroup(self, *, jitter_changed: bool) -> None:
        """One job per schedule after a reload: ``self.hunts`` grouped again; a job a schedule no
        longer needs removed, one a new schedule needs added, and one a hunt joined run at once."""
        before = {group_id: {hunt.id for hunt in hunts} for group_id, hunts in self.groups.items()}
        groups = self._grouped(self.hunts)
        for group_id in sorted(before.keys() - groups.keys()):
            if self.scheduler.get_job(group_id) is not None:
                self.scheduler.remove_job(group_id)
        self.groups = groups  # the next run of each job reads its hunts here
        for group_id, hunts in groups.items():
            if group_id not in before or self.scheduler.get_job(group_id) is None:
                self._add_group_job(group_id)
                continue
            self.scheduler.modify_job(
                group_id, name=self._group_name(group_id), misfire_grace_time=self._misfire_grace()
            )
            if jitter_changed:
                self.scheduler.reschedule_job(group_id, trigger=self.trigger(hunts[0]))
            if {hunt.id for hunt in hunts} - before[group_id]:
                # a hunt added or moved here runs now rather than up to an interval later: with the
                # others, in one pass (if the job is running, APScheduler skips this and it waits)
                self.scheduler.modify_job(group_id, next_run_time=self.clock())

    # ---- HTTP -----------------------------------------------------------------------------------

    def start_http(self) -> ThreadingHTTPServer:
        """Serve /healthz and /metrics on the configured address (port 0 picks a free one)."""
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer(with_body=True)

            def do_HEAD(self) -> None:
                self._answer(with_body=False)  # the same status and headers, as HTTP requires

            def _answer(self, *, with_body: bool) -> None:
                if self.path.split("?")[0] == "/healthz":
                    ok, problems = service.health.status(service.clock())
                    body = ("ok\n" if ok else "\n".join(problems) + "\n").encode()
                    self._reply(200 if ok else 503, body, "text/plain; charset=utf-8", with_body)
                elif self.path.split("?")[0] == "/metrics":
                    metrics = service.runtime.metrics.exposition()
                    self._reply(200, metrics, "text/plain; version=0.0.4", with_body)
                else:
                    self._reply(404, b"not found\n", "text/plain", with_body)

            def _reply(self, status: int, body: bytes, content_type: str, with_body: bool) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if with_body:
                    self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        settings = self.runtime.settings.service
        try:
            server = ThreadingHTTPServer((settings.host, settings.port), Handler)
        except OSError as exc:
            raise ConfigError(
                f"service.host/port {settings.host}:{settings.port}: cannot listen: {exc.strerror or exc}"
            ) from exc
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name="hunter-http", daemon=True).start()
        self.http = server
        return server

    # ---- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the endpoint and the scheduler."""
        server = self.start_http()
        self.add_jobs()
        self.scheduler.start()
        log.info(
            "hunter service started",
            hunts=[hunt.id for hunt in self.hunts],
            # one job per schedule: its hunts
            schedules={group_id: len(hunts) for group_id, hunts in self.groups.items()},
            mode=self.runtime.settings.mode,
            endpoint=f"http://{server.server_address[0]!s}:{server.server_address[1]}",
        )

    def stop(self) -> bool:
        """Stop taking runs, wait for a running one and flush notices, together within the shutdown
        timeout; True if all of that finished in time."""
        self.stopping.set()
        timeout = self.runtime.settings.service.shutdown_timeout.total_seconds()
        deadline = time.monotonic() + timeout
        done = threading.Event()

        def shutdown() -> None:
            if self.scheduler.running:
                self.scheduler.shutdown(wait=True)
            self.close_runs()
            try:
                self.runtime.runner.deliver()
            except Exception:
                log.exception("could not flush notices at shutdown")
            done.set()

        threading.Thread(target=shutdown, name="hunter-shutdown", daemon=True).start()
        finished = done.wait(max(0.0, deadline - time.monotonic()))
        if not finished:
            log.warning(
                "a hunt run or the notice flush did not finish within the shutdown timeout; exiting "
                "anyway (its checkpoint did not move, pending notices stay in the outbox)",
                timeout_s=timeout,
            )
        if self.http is not None:
            self.http.shutdown()
            self.http.server_close()
        log.info("hunter service stopped", clean=finished)
        return finished

    def serve_forever(self) -> int:
        """Run until SIGTERM/SIGINT; the exit code (0 after a clean shutdown)."""
        if self.install_signals:
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda *_args: self.stopping.set())
            signal.signal(signal.SIGHUP, lambda *_args: self.reload_requested.set())
        self.start()
        while not self.stopping.wait(0.2):
            if self.reload_requested.is_set():
                self.reload_requested.clear()
                log.info("SIGHUP: reloading settings and hunt files")
                self.reload()
        return 0 if self.stop() else 1


def serve(runtime: Runtime, reload: Callable[[], tuple[Settings, list[Hunt]]] | None = None) -> int:
    """The long-running service (scheduler, health and metrics); returns the exit code on shutdown.

    After an unclean stop (a run still going at the shutdown timeout) the process ends at once:
    the running job's thread would otherwise keep it alive, and closing the clients under it would
    only turn its end into errors. Nothing is lost: its window is searched again after the restart.
    """
    code = HuntService(runtime, reload=reload).serve_forever()
    if code != 0:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


BACKFILL_CHUNK = timedelta(days=1)


def backfill(
    settings: Settings, hunt: Hunt, start: datetime, end: datetime, *, chunk: timedelta | None = None
) -> int:
    """Run ``hunt`` over [start, end] in chunks (``chunk``, by default a day or the hunt's interval if
    longer) with a progress bar and the normal dedup (safe to re-run; the live checkpoint stays
    where it is). Each chunk reaches back by the hunt's overlap, so findings seen by two chunks are
    counted once."""
    from rich.progress import Progress

    started = time.perf_counter()
    runtime = build_runtime(settings, [hunt])
    runner = runtime.runner
    start_ns, end_ns = to_ns(start), to_ns(end)
    chunk_ns = (
        int(chunk.total_seconds() * 1e9)
        if chunk
        else max(hunt.interval_ns, int(BACKFILL_CHUNK.total_seconds() * 1e9))
    )
    total = RunSummary(hunt.id)
    failed = False
    try:
        with Progress(transient=False) as progress:
            task = progress.add_task(f"backfill {hunt.id}", total=end_ns - start_ns)
            for window in chunk_windows(hunt, start_ns, end_ns, floor_ns=start_ns, chunk_ns=chunk_ns):
                try:
                    searched = time.perf_counter()
                    results = runtime.searcher.search(hunt, window)
                    total.search_seconds += time.perf_counter() - searched
                except Exception as exc:  # noqa: BLE001 - report where it stopped; re-running is safe
                    log.error(
                        "backfill stopped; re-run it to continue (alerts are deduplicated)", error=str(exc)
                    )
                    failed = True
                    break
                runner.note_results(results, total)
                saved = runner.store_findings(hunt, results, window, runner.clock(), total)
                total.created.extend(saved.created)
                total.updated += len(saved.updated)
                total.windows.append(window)
                incomplete = {result.query: result.incomplete for result in results if result.incomplete}
                if incomplete:  # what the healthy shards gave is stored; the rest needs a re-run
                    total.incomplete.update(incomplete)
                    log.error(
                        "backfill stopped at shard failures; re-run it to continue (alerts are deduplicated)",
                        queries=incomplete,
                    )
                    failed = True
                    break
                progress.update(task, completed=window.end_ns - start_ns)
        total.notices = runner.deliver(hunt_id=hunt.id)
        total.outcome = "failed" if failed else "ok"
        total.total_seconds = time.perf_counter() - started
        (log.error if failed else log.info)("backfill", **total.log_fields())
    finally:
        runtime.close()
    return 1 if failed else 0
