"""One hunt over its planned windows: search -> dedup -> alerts -> store -> notify -> checkpoint.

The checkpoint moves to a window's end only after its findings are stored; a transient search
failure leaves it where it was, so the next run searches the same range again. Notices come from
the store's outbox, so a notice that could not be sent now is sent by a later run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog

from .alerts import AlertRenderer, merge_into
from .dedup import Finding, apply_exceptions, findings, suppression_key
from .eql.values import format_date_ns, parse_date_ns
from .errors import HunterError, StoreError, TransientSearchError
from .hunts import Hunt
from .metrics import Metrics
from .notify import Delivery, Notifier, Outcome
from .results import QueryResult, Searcher, Window
from .store import SaveResult, Store, alert_id_of
from .windows import plan_windows

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]
NOTICE_BATCH = 100
CLEAN_UP_EVERY_NS = 3600 * 1_000_000_000
MAX_SUPPRESSED_IDS = 1000


@dataclass
class Batch:
    """What one batch of findings writes: new alerts, changed alerts, findings newly folded
    (finding id -> the id of the alert it is folded into)."""

    created: list[dict[str, Any]]
    updated: list[dict[str, Any]]
    suppressed: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.created or self.updated or self.suppressed)


def utc_now() -> datetime:
    """The current time, UTC."""
    return datetime.now(UTC)


def to_ns(moment: datetime) -> int:
    """Epoch nanoseconds of an aware datetime."""
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


@dataclass
class RunSummary:
    """What one run of one hunt did (logged as one line, and behind the metrics)."""

    hunt_id: str
    outcome: str = "ok"  # ok, skipped (lease held elsewhere / nothing to do), failed
    windows: list[Window] = field(default_factory=list)
    hits: dict[str, int] = field(default_factory=dict)
    finding_ids: set[str] = field(default_factory=set)  # each finding once, across overlapping windows
    excluded: int = 0  # matches dropped by the hunt's exceptions
    created: list[str] = field(default_factory=list)
    updated: int = 0
    suppressed: int = 0
    truncated: dict[str, int] = field(default_factory=dict)  # per query: windows capped at min_split
    incomplete: dict[str, str] = field(default_factory=dict)  # per query: shard failures that persisted
    query_errors: dict[str, str] = field(default_factory=dict)
    gap_ns: int = 0
    checkpoint_ns: int | None = None  # where the hunt's checkpoint is after this run, as far as it knows
    notices: dict[str, int] = field(default_factory=dict)
    error: str = ""
    search_seconds: float = 0.0
    total_seconds: float = 0.0

    @property
    def findings(self) -> int:
        """Distinct findings of the run (a finding seen by two overlapping windows counts once)."""
        return len(self.finding_ids)

    def log_fields(self) -> dict[str, Any]:
        """The fields of the run's summary log line."""
        fields: dict[str, Any] = {
            "hunt": self.hunt_id,
            "outcome": self.outcome,
            "windows": len(self.windows),
            "hits": self.hits,
            "findings": self.findings,
            "alerts_new": len(self.created),
            "alerts_updated": self.updated,
            "search_s": round(self.search_seconds, 3),
            "total_s": round(self.total_seconds, 3),
        }
        if self.windows:
            fields["window"] = (
                f"{format_date_ns(self.windows[0].start_ns)}..{format_date_ns(self.windows[-1].end_ns)}"
            )
        for key in (
            "suppressed",
            "excluded",
            "truncated",
            "incomplete",
            "query_errors",
            "gap_ns",
            "notices",
            "error",
        ):
            value = getattr(self, key)
            if value:
                fields[key if key != "gap_ns" else "gap_s"] = (
                    value // 1_000_000_000 if key == "gap_ns" else value
                )
        return fields


class Runner:
    """Runs hunts against one searcher and one store, and delivers their notices."""

    def __init__(
        self,
        *,
        searcher: Searcher,
        store: Store,
        notifier: Notifier,
        renderer: AlertRenderer,
        schedule: Any,
        owner: str,
        lease_ns: int = 10 * 60 * 1_000_000_000,
        clock: Clock = utc_now,
        metrics: Metrics | None = None,
        building_block_notices: bool = False,
        state_retention_ns: int = 30 * 86_400 * 1_000_000_000,
        wall_clock: Clock | None = None,
    ) -> None:
        self.searcher = searcher
        self.store = store
        self.notifier = notifier
        self.renderer = renderer
        self.schedule = schedule
        self.owner = owner
        self.lease_ns = lease_ns
        self.clock = clock  # the time runs plan their windows for (``--now`` fixes it)
        # the real time, for what other processes compare with theirs: leases, notice claims and
        # deliveries, incomplete streaks, clean-up (the same as ``clock`` unless one is given)
        self.wall_clock = wall_clock or clock
        self.metrics = metrics or Metrics()
        # building-block hunts (Elastic's building_block_type) alert without a notice unless this is set
        self.building_block_notices = building_block_notices
        self.state_retention_ns = state_retention_ns
        self._cleaned_ns: int | None = None  # when this runner last removed done state
        # hunts known to have no incomplete streak open in the store (others are cleared when whole)
        self._streak_closed: set[str] = set()
        # (hunt id, window) -> results of a shared pass (:meth:`share_pass`), taken by that hunt's run
        self._shared: dict[tuple[str, Window], list[QueryResult]] = {}

    def share_pass(self, hunts: Sequence[Hunt], now: datetime) -> None:
        """Search the next window of each of ``hunts`` in one pass, when the searcher can
        (``search_windows``: local files read once for all); each hunt's run at ``now`` then takes
        its results instead of searching. Leases, checkpoints and summaries stay per hunt: a run
        whose window is not the one searched here (another replica moved its checkpoint) searches
        on its own, and a failure here only leaves every hunt to search on its own."""
        search_windows = getattr(self.searcher, "search_windows", None)
        if search_windows is None or len(hunts) < 2:
            return
        now_ns = to_ns(now)
        searches: list[tuple[Hunt, Window]] = []
        for hunt in hunts:
            try:
                plan = plan_windows(hunt, self.store.checkpoint(hunt.id), now_ns, self.schedule)
            except HunterError:
                continue
            if plan.windows:
                searches.append((hunt, plan.windows[0]))
        if len(searches) < 2:
            return
        started = time.perf_counter()
        try:
            found: dict[str, list[QueryResult]] = search_windows(searches)
        except HunterError as exc:
            log.warning("the shared pass failed; each hunt searches on its own", error=str(exc))
            return
        # added to, not replaced: the scheduled service runs the passes of several schedule groups
        # in its worker threads at once (a dict's update and pop are atomic; each hunt is in one group)
        self._shared.update({(hunt.id, window): found[hunt.id] for hunt, window in searches})
        log.info("shared pass", hunts=len(searches), search_s=round(time.perf_counter() - started, 3))

    def end_shared_pass(self, hunts: Iterable[Hunt] | None = None) -> None:
        """Forget what shared passes found and no run took (a later tick searches afresh): for
        ``hunts`` only (one schedule group's, while another group's pass may be in use), or for all."""
        if hunts is None:
            self._shared.clear()
            return
        ids = {hunt.id for hunt in hunts}
        for key in list(self._shared):  # a copy: another group's runs pop their own keys meanwhile
            if key[0] in ids:
                self._shared.pop(key, None)

    def run_hunt(self, hunt: Hunt, *, now: datetime | None = None) -> RunSummary:
        """One scheduled run of ``hunt``: its planned windows, then pending notices."""
        started = time.perf_counter()
        moment = now or self.clock()
        now_ns = to_ns(moment)
        wall_ns = to_ns(self.wall_clock())
        summary = RunSummary(hunt.id)
        with structlog.contextvars.bound_contextvars(hunt=hunt.id):
            try:
                leased = self.store.acquire_lease(hunt.id, self.owner, wall_ns, self.lease_ns)
            except HunterError as exc:
                leased = False
                summary.outcome = "failed"
                summary.error = f"{type(exc).__name__}: {exc}"
            if not leased and summary.outcome != "failed":
                summary.outcome = "skipped"
                summary.error = "another replica holds this hunt's lease"
            if leased:
                try:
                    self._run_windows(hunt, moment, now_ns, summary)
                except HunterError as exc:
                    summary.outcome = "failed"
                    summary.error = f"{type(exc).__name__}: {exc}"
                finally:
                    try:
                        self.store.release_lease(hunt.id, self.owner)
                    except HunterError as exc:
                        log.warning("could not release the lease; it expires on its own", error=str(exc))
                if summary.outcome == "ok" or summary.created:  # stored alerts get their notices now
                    try:
                        summary.notices = self.deliver(hunt_id=hunt.id)
                    except HunterError as exc:  # alerts and checkpoint are saved; notices wait in the outbox
                        log.warning("could not deliver notices; they are sent by a later run", error=str(exc))
            if summary.outcome == "failed":
                log.warning(
                    "hunt run failed; checkpoint unchanged, the range is searched again next run",
                    error=summary.error,
                )
            else:
                self._clean_up(to_ns(self.wall_clock()))
            summary.total_seconds = time.perf_counter() - started
            try:
                self._observe(hunt, summary)
            except HunterError as exc:  # a metric is not worth failing a run that did its work
                log.warning("could not update the metrics of this run", error=str(exc))
            if summary.outcome == "failed":
                log.error("hunt run", **summary.log_fields())
            elif summary.query_errors or summary.truncated or summary.incomplete:
                log.warning("hunt run", **summary.log_fields())
            else:
                log.info("hunt run", **summary.log_fields())
        return summary

    def _run_windows(self, hunt: Hunt, moment: datetime, now_ns: int, summary: RunSummary) -> None:
        summary.checkpoint_ns = self.store.checkpoint(hunt.id)
        plan = plan_windows(hunt, summary.checkpoint_ns, now_ns, self.schedule)
        summary.gap_ns = plan.gap_ns
        if summary.checkpoint_ns is None and not plan.windows:
            # a first run with nothing to search yet still starts the hunt: without a checkpoint
            # every later run would be a first run again and the hunt would never search anything
            self.store.set_checkpoint(hunt.id, plan.end_ns)
            summary.checkpoint_ns = plan.end_ns
        for number, window in enumerate(plan.windows):
            if number and not self.store.acquire_lease(
                hunt.id, self.owner, to_ns(self.wall_clock()), self.lease_ns
            ):
                # a long catch-up outlived the lease and another replica took the hunt over: it goes
                # on from the checkpoint, which covers every window finished here
                log.warning("lease lost to another replica during the run; it continues from here")
                break
            with structlog.contextvars.bound_contextvars(
                window=f"{format_date_ns(window.start_ns)}..{format_date_ns(window.end_ns)}"
            ):
                search_started = time.perf_counter()
                results = self._shared.pop((hunt.id, window), None)
                if results is None:
                    results = self.searcher.search(hunt, window)
                summary.search_seconds += time.perf_counter() - search_started
                self.note_results(results, summary)
                saved = self.store_findings(hunt, results, window, moment, summary)
                summary.created.extend(saved.created)
                summary.updated += len(saved.updated)
                self._hold_if_incomplete(hunt, results, summary)
                self.store.set_checkpoint(hunt.id, window.end_ns)
                summary.checkpoint_ns = window.end_ns
                summary.windows.append(window)
        if hunt.max_signals is not None and len(summary.created) > hunt.max_signals:
            # Kibana stops a rule's run at max_signals alerts; hunter writes every finding (none is
            # dropped at a cap) and says so, once per run
            log.warning(
                "more new alerts than the hunt's max_signals; all are written",
                alerts_new=len(summary.created),
                max_signals=hunt.max_signals,
            )
        if not summary.incomplete and hunt.id not in self._streak_closed:
            self.store.clear_incomplete(hunt.id)  # whole again: a new failure gets a new hold
            self._streak_closed.add(hunt.id)
        if plan.gap_ns:
            log.warning(
                "catching up after downtime; the rest of the gap is searched by the next runs",
                gap_s=plan.gap_ns // 1_000_000_000,
            )

    def _hold_if_incomplete(self, hunt: Hunt, results: Sequence[QueryResult], summary: RunSummary) -> None:
        """Keep the checkpoint before a window some of whose shards failed (its findings from the
        healthy shards are stored already), so the next runs search it again; after
        ``incomplete_retry`` of that, move on and count the window as searched incompletely."""
        incomplete = {result.query: result.incomplete for result in results if result.incomplete}
        if not incomplete:
            return
        summary.incomplete.update(incomplete)
        self._streak_closed.discard(hunt.id)
        wall_ns = to_ns(self.wall_clock())
        since = self.store.mark_incomplete(hunt.id, wall_ns)
        retry_ns = int(self.schedule.incomplete_retry.total_seconds() * 1_000_000_000)
        if wall_ns - since < retry_ns:
            raise TransientSearchError(
                f"shard failures in {', '.join(sorted(incomplete))}; the window is searched again by the "
                f"next runs (for up to {self.schedule.incomplete_retry}) before partial results are accepted"
            )
        for query in incomplete:
            self.metrics.incomplete.labels(hunt.id, query).inc()
        log.error(
            "shard failures persisted; moving on: hits on the failed shards in this window are missing",
            queries=incomplete,
            failing_since=format_date_ns(since),
        )

    @staticmethod
    def note_results(results: Sequence[QueryResult], summary: RunSummary) -> None:
        """Add a window's hits, truncations and query errors per query to ``summary``."""
        for result in results:
            summary.hits[result.query] = summary.hits.get(result.query, 0) + len(result.matches)
            if result.truncated:
                summary.truncated[result.query] = summary.truncated.get(result.query, 0) + result.truncated
            if result.error:
                summary.query_errors[result.query] = result.error

    def store_findings(
        self,
        hunt: Hunt,
        results: Iterable[QueryResult],
        window: Window | None,
        moment: datetime,
        summary: RunSummary,
    ) -> SaveResult:
        """Dedup the matches into findings, render new and changed alerts, and save them."""
        kept, excluded = apply_exceptions(hunt.exceptions, list(results))
        summary.excluded += excluded
        found = findings(hunt, kept)
        summary.finding_ids.update(finding.alert_id for finding in found)
        batch = self.alert_documents(hunt, found, window, moment, summary)
        if not batch:
            return SaveResult((), ())
        saved = self._save(hunt, batch)
        made, changed = list(saved.created), list(saved.updated)
        for _attempt in range(3):
            if not saved.conflicts:
                break
            # Another writer created or changed some of these alerts since we read them: read and
            # merge the whole batch again (findings folded into a suppressor that lost its race
            # have other ids; the ones already saved merge to no change).
            batch = self.alert_documents(hunt, found, window, moment, RunSummary(hunt.id))
            saved = self._save(hunt, batch)
            made += saved.created
            changed += saved.updated
        if saved.conflicts:
            raise StoreError(f"alerts kept changing under concurrent writers: {', '.join(saved.conflicts)}")
        return SaveResult(tuple(made), tuple(changed))

    def _save(self, hunt: Hunt, batch: Batch) -> SaveResult:
        notify = self.building_block_notices or not hunt.building_block
        return self.store.save(
            hunt.id, batch.created, batch.updated, suppressed=batch.suppressed, notify=notify
        )

    def alert_documents(
        self,
        hunt: Hunt,
        found: Sequence[Finding],
        window: Window | None,
        moment: datetime,
        summary: RunSummary,
    ) -> Batch:
        """New alert documents, updated existing ones, and findings newly folded into a suppressor."""
        ids = [finding.alert_id for finding in found]
        existing = self.store.get(ids)
        folded_before = self.store.suppressed_by(ids) if hunt.suppression is not None else {}
        targets = set(folded_before.values()) - existing.keys()
        if targets:
            existing.update(self.store.get(targets))
        created: dict[str, dict[str, Any]] = {}
        updated: dict[str, dict[str, Any]] = {}
        suppressed: dict[str, str] = {}
        for finding in found:
            old = updated.get(finding.alert_id) or existing.get(finding.alert_id)
            if old is not None:
                merged, sections, changed = merge_into(old, finding)
                if changed:
                    updated[finding.alert_id] = self._render(
                        hunt, merged, window, moment, sections=sections, previous=old
                    )
                continue
            target_id = folded_before.get(finding.alert_id)
            suppressor = None
            if target_id is not None:
                # folded before: it stays folded, whatever part of it this window sees (the overlap
                # may have cut off its first events), and is not counted again
                suppressor = created.get(target_id) or updated.get(target_id) or existing.get(target_id)
            key = suppression_key(hunt, finding)
            if suppressor is None and key is not None and hunt.suppression is not None:
                # only an alert first seen within suppress_for before this finding suppresses it
                since = finding.first_seen_ns - hunt.suppression.duration_ns
                until = finding.first_seen_ns
                suppressor = self._batch_suppressor(created, key[0], since, until) or (
                    self.store.find_suppressor(hunt.id, key[0], since, until)
                )
            if suppressor is not None and alert_id_of(suppressor) != finding.alert_id:
                target_id = alert_id_of(suppressor)
                # a version folded earlier in this batch is the current one
                current = created.get(target_id) or updated.get(target_id) or suppressor
                folded, counted = _fold(current, finding, recorded=finding.alert_id in folded_before)
                if folded is not None:
                    (created if target_id in created else updated)[target_id] = folded
                if counted:
                    summary.suppressed += 1
                if finding.alert_id not in folded_before:
                    suppressed[finding.alert_id] = target_id
                continue
            created[finding.alert_id] = self._render(hunt, finding, window, moment, suppression=key)
        return Batch(list(created.values()), list(updated.values()), suppressed)

    @staticmethod
    def _batch_suppressor(
        created: dict[str, dict[str, Any]], key: str, since_ns: int, until_ns: int
    ) -> dict[str, Any] | None:
        for doc in created.values():
            suppression = (doc.get("hunter") or {}).get("suppression") or {}
            first_seen = parse_date_ns((doc.get("hunter") or {}).get("first_seen")) or 0
            if suppression.get("key") == key and since_ns <= first_seen <= until_ns:
                return doc
        return None

    def _render(
        self,
        hunt: Hunt,
        finding: Finding,
        window: Window | None,
        moment: datetime,
        *,
        sections: dict[str, Any] | None = None,
        previous: dict[str, Any] | None = None,
        suppression: tuple[str, dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        old_hunter = (previous or {}).get("hunter") or {}
        created = old_hunter.get("created")
        created_at = (
            datetime.fromisoformat(created.replace("Z", "+00:00")) if isinstance(created, str) else moment
        )
        doc = self.renderer.render(
            hunt,
            finding,
            sections=sections,
            window=window,
            created=created_at,
            now=moment,
            version=int(old_hunter.get("version") or 0) + 1,
            suppressed=old_hunter.get("suppressed"),
        )
        kept = old_hunter.get("suppression")
        if suppression is None and isinstance(kept, dict):
            suppression = (str(kept.get("key")), dict(kept.get("by") or {}))
        if suppression is not None:
            doc.setdefault("hunter", {})["suppression"] = {"key": suppression[0], "by": suppression[1]}
        return doc

    def deliver(self, *, hunt_id: str | None = None) -> dict[str, int]:
        """Send pending notices from the outbox (claimed first, marked as each delivery returns)."""
        counts: dict[str, int] = {}
        answered: set[str] = set()  # alert ids of the current batch whose delivery is recorded

        def record(delivery: Delivery) -> None:
            # marked as soon as Slack answered, before the next message: a crash later in the batch
            # never makes an answered notice go out again
            self.store.record_delivery(delivery, to_ns(self.wall_clock()), self.owner)
            answered.update(delivery.alert_ids)
            counts[delivery.outcome.value] = counts.get(delivery.outcome.value, 0) + len(delivery.alert_ids)

        while True:
            notices = self.store.claim_notices(self.owner, to_ns(self.wall_clock()), NOTICE_BATCH, hunt_id)
            if not notices:
                break
            answered.clear()
            deliveries = self.notifier.send(notices, on_delivery=record)
            for delivery in deliveries:
                if not answered.issuperset(delivery.alert_ids):  # a notifier that reports only at the end
                    record(delivery)
            missing = tuple(notice.alert_id for notice in notices if notice.alert_id not in answered)
            if missing:
                self.store.record_delivery(
                    Delivery(missing, Outcome.RETRY, "no delivery reported"),
                    to_ns(self.wall_clock()),
                    self.owner,
                )
                counts["retry"] = counts.get("retry", 0) + len(missing)
            if any(delivery.outcome is Outcome.RETRY for delivery in deliveries) or missing:
                break  # the channel is struggling: leave the rest for the next run
        for outcome, count in counts.items():
            self.metrics.notices.labels(
                {"sent": "sent", "retry": "retried", "failed": "failed"}[outcome]
            ).inc(count)
        queued = self.store.notice_counts()
        self.metrics.notices_queued.set(queued["pending"] + queued["sending"])
        return counts

    def _clean_up(self, now_ns: int) -> None:
        """Remove done state (sent notices, expired leases) past its retention, at most once an hour."""
        if self._cleaned_ns is not None and now_ns - self._cleaned_ns < CLEAN_UP_EVERY_NS:
            return
        self._cleaned_ns = now_ns
        try:
            removed = self.store.clean_up(now_ns, self.state_retention_ns)
        except HunterError as exc:  # done state is only clutter; the next clean-up tries again
            log.warning("could not remove done state", error=str(exc))
            return
        if removed:
            log.info("removed done state past its retention", documents=removed)

    def _observe(self, hunt: Hunt, summary: RunSummary) -> None:
        m = self.metrics
        m.runs.labels(hunt.id, summary.outcome).inc()
        m.run_seconds.labels(hunt.id).observe(summary.total_seconds)
        for query, count in summary.hits.items():
            m.hits.labels(hunt.id, query).inc(count)
        for query in summary.query_errors:
            m.query_errors.labels(hunt.id, query).inc()
        for query, count in summary.truncated.items():
            m.truncations.labels(hunt.id, query).inc(count)
        m.alerts.labels(hunt.id, "new").inc(len(summary.created))
        m.alerts.labels(hunt.id, "updated").inc(summary.updated)
        m.alerts.labels(hunt.id, "suppressed").inc(summary.suppressed)
        m.gap_seconds.labels(hunt.id).set(summary.gap_ns / 1e9)
        if summary.outcome == "ok":
            m.last_success.labels(hunt.id).set(time.time())
            if summary.checkpoint_ns is not None:  # read at the start of the run, moved by it
                m.checkpoint.labels(hunt.id).set(summary.checkpoint_ns / 1e9)


def _fold(
    suppressor: dict[str, Any], finding: Finding, *, recorded: bool
) -> tuple[dict[str, Any] | None, bool]:
    """The suppressing alert with ``finding`` folded in (None when nothing changed), and whether the
    finding was counted now. A finding is counted once: the store's record of the fold (``recorded``)
    is what says so; the alert's id list is capped at MAX_SUPPRESSED_IDS, so it is not the record,
    but a recorded finding missing from a list with room (its write was lost) is counted now."""
    hunter = dict(suppressor.get("hunter") or {})
    suppressed = dict(hunter.get("suppressed") or {})
    ids = list(suppressed.get("alert_ids") or [])
    listed = finding.alert_id in ids
    counted = not listed and not (recorded and len(ids) >= MAX_SUPPRESSED_IDS)
    if counted:
        if len(ids) < MAX_SUPPRESSED_IDS:
            ids.append(finding.alert_id)
        suppressed["alert_ids"] = ids
        suppressed["count"] = int(suppressed.get("count") or 0) + 1
        hunter["suppressed"] = suppressed
    last_seen = parse_date_ns(hunter.get("last_seen")) or 0
    later = finding.last_seen_ns > last_seen
    if later:
        hunter["last_seen"] = format_date_ns(finding.last_seen_ns, nanos=True)
    if not counted and not later:
        return None, False
    hunter["version"] = int(hunter.get("version") or 0) + 1
    doc = dict(suppressor)
    doc["hunter"] = hunter
    return doc, counted
