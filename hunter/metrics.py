"""Prometheus metrics of hunter (one registry per service, so tests can build several)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    """The counters and gauges the runner and the service update."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.runs = Counter(
            "hunter_runs", "Hunt runs, by outcome (ok, failed, skipped).", ["hunt", "outcome"], registry=r
        )
        self.run_seconds = Histogram(
            "hunter_run_duration_seconds",
            "Wall time of one hunt run.",
            ["hunt"],
            buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600),
            registry=r,
        )
        self.hits = Counter(
            "hunter_hits", "Matches returned by each hunt query.", ["hunt", "query"], registry=r
        )
        self.alerts = Counter(
            "hunter_alerts",
            "Alerts written, by kind (new, updated, suppressed).",
            ["hunt", "kind"],
            registry=r,
        )
        self.truncations = Counter(
            "hunter_truncated_windows",
            "Windows still capped at the search size at the narrowest split (hits may be missing).",
            ["hunt", "query"],
            registry=r,
        )
        self.incomplete = Counter(
            "hunter_incomplete_windows",
            "Windows accepted with shards still failing after incomplete_retry (their hits are missing).",
            ["hunt", "query"],
            registry=r,
        )
        self.query_errors = Counter(
            "hunter_query_errors",
            "Permanent query errors (the query is wrong for the cluster).",
            ["hunt", "query"],
            registry=r,
        )
        self.gap_seconds = Gauge(
            "hunter_gap_seconds",
            "Event time not yet searched after downtime (worked off in chunks).",
            ["hunt"],
            registry=r,
        )
        self.last_success = Gauge(
            "hunter_last_success_timestamp_seconds",
            "When the hunt last ran successfully (Unix time).",
            ["hunt"],
            registry=r,
        )
        self.checkpoint = Gauge(
            "hunter_checkpoint_timestamp_seconds", "Where each hunt's checkpoint is.", ["hunt"], registry=r
        )
        self.notices = Counter(
            "hunter_notices", "Notices by outcome (sent, retried, failed).", ["outcome"], registry=r
        )
        self.notices_queued = Gauge("hunter_notices_queued", "Notices waiting to be sent.", registry=r)
        self.runs_queued = Gauge(
            "hunter_runs_queued", "Hunt runs queued or running (against Elasticsearch).", registry=r
        )
        self.bad_events = Counter(
            "hunter_bad_event_lines", "Event lines skipped as bad (embedded mode).", registry=r
        )

    def exposition(self) -> bytes:
        """The text format served at /metrics."""
        return generate_latest(self.registry)
