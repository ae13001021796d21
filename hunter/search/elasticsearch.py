"""Searching a cluster with the EQL search API.

Each hunt query is one ``eql.search`` over the hunt's indices with a range filter on the
timestamp field (or on ``timestamp_override``, falling back to the timestamp field where the
override is missing, as Kibana does). EQL has no paging: when a search returns ``size`` hits the
window is split in halves and each half searched again, down to ``min_split``, so no hit is
dropped at the cap; halves of a sequence query overlap by its maxspan so sequences crossing the
split are still whole in one half. A window still capped at the narrowest split is logged and
counted. 400 verification/parsing errors are permanent for that query (logged once, counted, the
other queries still run); timeouts, dropped connections, 429 and 5xx are transient: retried, then
the run fails without moving the checkpoint. Shard failures are retried too; if they persist, that
query's result is marked incomplete: an event query keeps the healthy shards' hits, a sequence or
sample query returns nothing (a sequence whose events sit on a failed shard would be wrong or
missing), and the other queries are unaffected. The runner decides what an incomplete window means
for the checkpoint.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from elasticsearch import Elasticsearch

from ..config import SearchSettings
from ..eql.values import format_date_ns
from ..errors import PermanentSearchError, TransientSearchError
from ..esclient import PartialResultsError, Retrier, describe, error_type, is_transient, status_of
from ..hunts import Hunt, HuntQuery
from ..results import QueryResult, Window, matches_of
from . import TimeField, eql_fields, time_field

log = structlog.get_logger(__name__)

PERMANENT_QUERY_ERRORS = frozenset({"verification_exception", "parsing_exception"})
_FAR_PAST = 0
_FAR_FUTURE = 253402300799 * 1_000_000_000  # 9999-12-31T23:59:59Z


class ElasticsearchSearcher:
    """Runs hunt queries with ``eql.search``, splitting capped windows so nothing is dropped."""

    def __init__(
        self, client: Elasticsearch, settings: SearchSettings, retrier: Retrier | None = None
    ) -> None:
        self.client = client
        self.settings = settings
        self.retrier = retrier or Retrier(
            attempts=settings.retries + 1, backoff=settings.retry_backoff.total_seconds()
        )
        self._reported: set[tuple[str, str, str]] = set()

    def search(self, hunt: Hunt, window: Window | None) -> list[QueryResult]:
        """Every match of every enabled query of ``hunt`` inside ``window``."""
        span = window or Window(_FAR_PAST, _FAR_FUTURE)
        return [self._query(hunt, query, span) for query in hunt.queries]

    def _query(self, hunt: Hunt, query: HuntQuery, window: Window) -> QueryResult:
        result = QueryResult(query.name)
        seen: set[tuple[tuple[str, str], ...]] = set()
        pending = [window]
        while pending:
            part = pending.pop()
            try:
                hits, failures = self._eql(hunt, query, part)
            except PermanentSearchError as exc:
                if exc.reason_type not in PERMANENT_QUERY_ERRORS:
                    raise  # authorization, missing index and the like: the run fails, the checkpoint stays
                result.error = exc.reason or str(exc)
                key = (hunt.id, query.name, exc.reason)
                if key not in self._reported:
                    self._reported.add(key)
                    log.error(
                        "query rejected by Elasticsearch; it is skipped until the hunt file is fixed",
                        query=query.name,
                        error_type=exc.reason_type,
                        reason=exc.reason,
                    )
                return result
            result.requests += 1
            if failures:
                result.incomplete = failures
                if query.compiled.kind != "event":
                    log.error(
                        "shard failures in a sequence query; its results for this window are not used",
                        query=query.name,
                        failures=failures,
                    )
                    result.matches = []
                    return result
                log.warning(
                    "shard failures; the healthy shards' hits are used, the failed shards' are missing",
                    query=query.name,
                    failures=failures,
                )
            matches = matches_of(query.name, hits, eql_fields(hunt, self.settings).timestamp)
            capped = len(matches) >= self.settings.size
            if capped and self._splittable(query, part):
                pending.extend(reversed(self._halves(query, part)))
                continue
            if capped:
                result.truncated += 1
                log.warning(
                    "search still capped at the narrowest split; some hits may be missing",
                    query=query.name,
                    window=f"{format_date_ns(part.start_ns)}..{format_date_ns(part.end_ns)}",
                    size=self.settings.size,
                )
            for match in matches:
                identity = tuple(event.ref for event in match.events)
                if identity not in seen:
                    seen.add(identity)
                    result.matches.append(match)
        result.matches.sort(key=lambda m: m.events[-1].timestamp_ns if m.events else 0)
        return result

    def _splittable(self, query: HuntQuery, window: Window) -> bool:
        width = window.end_ns - window.start_ns
        minimum = int(self.settings.min_split.total_seconds() * 1_000_000_000)
        if width <= minimum:
            return False
        if query.compiled.kind == "sequence":
            maxspan = query.compiled.maxspan_ns
            # Without maxspan a sequence may cross any split point; with one, halves overlap by it, so
            # splitting only narrows the window while it is wider than twice (maxspan + min_split).
            return maxspan is not None and width > 2 * (maxspan + minimum)
        return True

    @staticmethod
    def _halves(query: HuntQuery, window: Window) -> list[Window]:
        middle = window.start_ns + (window.end_ns - window.start_ns) // 2
        if query.compiled.kind == "sequence":
            maxspan = query.compiled.maxspan_ns or 0
            return [
                Window(window.start_ns, min(window.end_ns, middle + maxspan)),
                Window(middle, window.end_ns),
            ]
        return [Window(window.start_ns, middle), Window(middle + 1, window.end_ns)]

    def range_filter(self, window: Window, time: TimeField | None = None) -> dict[str, Any]:
        """The ``filter`` of the request: the window on the hunt's time field (Kibana's filter: the
        override, or the timestamp where the override is missing unless that fallback is off)."""
        bounds = {
            "gte": format_date_ns(window.start_ns, nanos=True),
            "lte": format_date_ns(window.end_ns, nanos=True),
            "format": "strict_date_optional_time_nanos",
        }
        time = time or TimeField(self.settings.timestamp_field, self.settings.timestamp_override)
        timestamp, override = time.timestamp, time.override
        if not override or override == timestamp:
            return {"range": {timestamp: bounds}}
        if not time.fallback:
            return {"range": {override: bounds}}
        return {
            "bool": {
                "should": [
                    {"range": {override: bounds}},
                    {
                        "bool": {
                            "filter": [{"range": {timestamp: bounds}}],
                            "must_not": [{"exists": {"field": override}}],
                        }
                    },
                ],
                "minimum_should_match": 1,
            }
        }

    def _eql(self, hunt: Hunt, query: HuntQuery, window: Window) -> tuple[Mapping[str, Any], str | None]:
        """The ``hits`` of one search, and a description of shard failures that outlasted the retries."""
        fields = eql_fields(hunt, self.settings)
        body: dict[str, Any] = {
            "index": ",".join(hunt.indices),
            "query": query.text,
            "filter": self.range_filter(window, time_field(hunt, self.settings)),
            "size": self.settings.size,
            "timestamp_field": fields.timestamp,
            "event_category_field": fields.event_category,
            "allow_no_indices": True,
            "ignore_unavailable": True,
            "result_position": "head",
        }
        if fields.tiebreaker:
            body["tiebreaker_field"] = fields.tiebreaker

        def call() -> Mapping[str, Any]:
            response = self.client.eql.search(**body)
            hits: Mapping[str, Any] = response.body["hits"]
            failures = response.body.get("shard_failures") or []
            if failures or response.body.get("is_partial"):
                raise PartialResultsError(list(failures), hits)
            return hits

        try:
            return self.retrier.call(f"eql.search {hunt.id}/{query.name}", call), None
        except PartialResultsError as exc:
            shards = f"{len(exc.failures)} shard failure(s)" if exc.failures else "partial results"
            return exc.hits or {}, f"{shards}: {exc}"
        except Exception as exc:
            status = status_of(exc)
            kind, reason = error_type(exc)
            if status == 400 and kind in PERMANENT_QUERY_ERRORS:
                raise PermanentSearchError(
                    f"{hunt.id}/{query.name}: {reason}", reason_type=kind, reason=reason
                ) from exc
            if is_transient(exc):
                raise TransientSearchError(f"{hunt.id}/{query.name}: {describe(exc)}") from exc
            raise PermanentSearchError(
                f"{hunt.id}/{query.name}: {describe(exc)}", reason_type=kind, reason=reason
            ) from exc
