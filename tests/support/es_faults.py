"""Misbehaviour on demand for the Elasticsearch test server, and the log of what clients sent.

:class:`FaultPlan` queues :class:`Fault` s: error statuses with Elasticsearch's error bodies
(``Retry-After`` too), delays beyond a client's timeout, dropped connections, partial ``_bulk``
failures and shard failures in EQL searches and ``_search``. :class:`RecordedRequest` is one logged
request.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .es_errors import EsError

_DEFAULT_ERRORS = {
    400: ("illegal_argument_exception", "injected bad request"),
    429: (
        "es_rejected_execution_exception",
        "rejected execution of coordinating operation [coordinating_and_primary_bytes=0, replica_bytes=0, "
        "all_bytes=0, coordinating_operation_bytes=1048576, max_coordinating_and_primary_bytes=0]",
    ),
    500: ("exception", "injected internal server error"),
    502: ("exception", "injected bad gateway"),
    503: (
        "cluster_block_exception",
        "blocked by: [SERVICE_UNAVAILABLE/1/state not recovered / initialized];",
    ),
    504: ("timeout_exception", "injected gateway timeout"),
}


def error_for(status: int, error_type: str | None = None, reason: str | None = None) -> EsError:
    """An :class:`EsError` for ``status`` with a realistic default type and reason."""
    default_type, default_reason = _DEFAULT_ERRORS.get(status, ("exception", f"injected status {status}"))
    return EsError(status, error_type or default_type, reason or default_reason)


@dataclass
class Fault:
    """One injected misbehaviour, for the next ``times`` requests it matches (None: every one).

    ``delay`` sleeps before anything else (without the state lock), or, with ``delay_response``,
    after the request was handled and before the answer is sent; then ``drop_connection``
    closes the socket with no answer, ``status`` answers with that status and ``body`` (an ES
    error body by default; ``retry_after`` sets the header), and otherwise the request is
    handled normally, with ``bulk_items`` (position -> (status, error type)) failing those
    ``_bulk`` items and ``shard_failures`` (index patterns) failing those indices' shards in an
    EQL search.
    """

    method: str | None = None
    path_regex: str = ".*"
    times: int | None = 1
    status: int | None = None
    body: Any = None
    error_type: str | None = None
    reason: str | None = None
    retry_after: float | None = None
    delay: float | None = None
    drop_connection: bool = False
    delay_response: bool = False
    bulk_items: Mapping[int, tuple[int, str]] | None = None
    shard_failures: Sequence[str] | None = None
    is_partial: bool = False
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        """Does this fault apply to ``method`` ``path`` (and has it uses left)?"""
        if self.times is not None and self.fired >= self.times:
            return False
        if self.method is not None and self.method.upper() != method:
            return False
        return re.search(self.path_regex, path) is not None


class FaultPlan:
    """The faults waiting for requests, consumed in the order they were added."""

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self._faults: list[Fault] = []

    def add(
        self,
        method: str | None = None,
        path_regex: str = ".*",
        times: int | None = 1,
        status: int | None = None,
        body: Any = None,
        retry_after: float | None = None,
        delay: float | None = None,
        drop_connection: bool = False,
        **options: Any,
    ) -> Fault:
        """Queue a fault (see :class:`Fault` for the fields) and return it."""
        fault = Fault(
            method,
            path_regex,
            times,
            status,
            body,
            retry_after=retry_after,
            delay=delay,
            drop_connection=drop_connection,
            **options,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def error(
        self,
        status: int,
        *,
        path_regex: str = ".*",
        method: str | None = None,
        error_type: str | None = None,
        reason: str | None = None,
        retry_after: float | None = None,
        times: int | None = 1,
    ) -> Fault:
        """Answer ``status`` with an ES error body (``error_type``/``reason`` or a realistic default)."""
        return self.add(
            method, path_regex, times, status, retry_after=retry_after, error_type=error_type, reason=reason
        )

    def rejected(
        self, *, path_regex: str = ".*", retry_after: float | None = 1, times: int | None = 1
    ) -> Fault:
        """429 ``es_rejected_execution_exception`` with ``Retry-After``."""
        return self.error(429, path_regex=path_regex, retry_after=retry_after, times=times)

    def slow(
        self,
        seconds: float,
        *,
        path_regex: str = ".*",
        method: str | None = None,
        times: int | None = 1,
        before: bool = False,
    ) -> Fault:
        """Answer ``seconds`` late: applied at once, answered late (``before``: held, then handled)."""
        return self.add(method, path_regex, times, delay=seconds, delay_response=not before)

    def drop(self, *, path_regex: str = ".*", method: str | None = None, times: int | None = 1) -> Fault:
        """Close the connection without answering."""
        return self.add(method, path_regex, times, drop_connection=True)

    def bulk_failures(
        self,
        items: Mapping[int, tuple[int, str]] | Iterable[int],
        *,
        status: int = 429,
        error_type: str = "es_rejected_execution_exception",
        times: int | None = 1,
    ) -> Fault:
        """Fail the ``_bulk`` items at these positions (0-based); the others are applied."""
        chosen = dict(items) if isinstance(items, Mapping) else dict.fromkeys(items, (status, error_type))
        return self.add(None, r"/_bulk$", times, bulk_items=chosen)

    def eql_shard_failures(
        self,
        indices: Sequence[str] = ("*",),
        *,
        error_type: str = "no_shard_available_action_exception",
        reason: str | None = None,
        is_partial: bool = False,
        times: int | None = 1,
    ) -> Fault:
        """Fail the shards of the (backing) indices matching ``indices`` in the next EQL searches.

        As Elasticsearch 9: with ``allow_partial_search_results`` (default true) the answer is
        200 with ``shard_failures`` and the events of the other indices; sequence and sample
        queries return nothing unless ``allow_partial_sequence_results``; with
        ``allow_partial_search_results: false`` it is a 503 ``search_phase_execution_exception``.
        A synchronous search reports ``is_partial: false`` (``is_partial`` overrides that).
        """
        return self.add(
            None,
            r"/_eql/search$",
            times,
            shard_failures=list(indices),
            error_type=error_type,
            reason=reason,
            is_partial=is_partial,
        )

    def search_shard_failures(
        self,
        indices: Sequence[str] = ("*",),
        *,
        error_type: str = "no_shard_available_action_exception",
        reason: str | None = None,
        times: int | None = 1,
    ) -> Fault:
        """Fail the shards of the (backing) indices matching ``indices`` in the next ``_search`` calls:
        200 with ``_shards.failed`` and ``_shards.failures`` and the other indices' hits, or a 503
        ``search_phase_execution_exception`` when the request sets ``allow_partial_search_results=false``."""
        return self.add(
            None, r"/_search$", times, shard_failures=list(indices), error_type=error_type, reason=reason
        )

    def take(self, method: str, path: str) -> Fault | None:
        """The first queued fault matching this request, counted as used."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.fired += 1
                    return fault
        return None

    def pending(self) -> list[Fault]:
        """Faults with uses left."""
        with self._lock:
            return [f for f in self._faults if f.times is None or f.fired < f.times]

    def clear(self) -> None:
        """Forget every fault."""
        with self._lock:
            self._faults.clear()


@dataclass(frozen=True)
class RecordedRequest:
    """What a client sent: ``body`` is parsed JSON, a list for NDJSON, text otherwise, None if empty.

    ``headers`` are keyed in lower case.
    """

    method: str
    path: str
    params: dict[str, str]
    body: Any
    headers: dict[str, str]
