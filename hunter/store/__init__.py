"""Where alerts and state go: the interfaces the runner uses (SQLite and Elasticsearch implement them).

Alerts are written idempotently by id; creating an alert records a pending notice for it in the
same step (the outbox), and notices are claimed before sending and marked once delivered, so a
crash never loses a notice and a restart never resends a sent one.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from ..notify import Delivery, Notice

# A notice claim older than this is taken to be abandoned (its sender died) and is claimed again.
# It must outlast the longest legitimate send of one claimed batch: a few messages a second apart,
# the last one retried up to three times with waits of at most a minute (Retry-After is capped).
CLAIM_TTL_NS = 5 * 60 * 1_000_000_000


def alert_id_of(doc: Mapping[str, Any]) -> str:
    """An alert document's id (``hunter.alert_id``, also written as ``event.id``)."""
    hunter = doc.get("hunter") or {}
    return str(hunter.get("alert_id") or (doc.get("event") or {}).get("id"))


def as_written(doc: Mapping[str, Any], now_ns: int, *, created: bool) -> dict[str, Any]:
    """An alert document as a store writes it.

    A new alert gets ``event.ingested`` = the moment it is written and ``hunter.first_write: true``;
    an update keeps the ``event.ingested`` it carries (the first write's) and loses the marker. Kibana's
    promote rules window on ``event.ingested`` and match only ``hunter.first_write: true`` (see
    :mod:`hunter.kibana`): each alert is promoted from the one state it had when first written.
    """
    written = dict(doc)
    hunter = dict(written.get("hunter") or {})
    if created:
        seconds, micros = divmod(now_ns // 1000, 1_000_000)
        moment = datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=micros)
        event = dict(written.get("event") or {})
        event["ingested"] = moment.isoformat(timespec="microseconds").replace("+00:00", "Z")
        written["event"] = event
        hunter["first_write"] = True
    else:
        hunter.pop("first_write", None)
    written["hunter"] = hunter
    return written


@dataclass(frozen=True)
class NoticeRecord:
    """One notice of the outbox as ``hunter notices`` lists it."""

    alert_id: str
    hunt_id: str
    status: str  # pending, sending, sent, failed
    attempts: int
    last_error: str | None
    created_ns: int
    updated_ns: int


@dataclass(frozen=True)
class SaveResult:
    """What a save did: alerts created (each now has a pending notice), updated, and lost races."""

    created: tuple[str, ...]
    updated: tuple[str, ...]
    conflicts: tuple[str, ...] = ()  # updates refused because another writer changed the alert first


class AlertStore(Protocol):
    """Alert documents by id."""

    def get(self, ids: Collection[str]) -> dict[str, dict[str, Any]]:
        """The stored alerts among ``ids``."""
        ...

    def find_suppressor(self, hunt_id: str, key: str, since_ns: int, until_ns: int) -> dict[str, Any] | None:
        """The earliest alert of ``hunt_id`` with suppression ``key`` first seen in ``since_ns..until_ns``."""
        ...

    def suppressed_by(self, ids: Collection[str]) -> dict[str, str]:
        """For those of ``ids`` recorded as folded into another alert: that alert's id."""
        ...

    def save(
        self,
        hunt_id: str,
        created: Sequence[Mapping[str, Any]],
        updated: Sequence[Mapping[str, Any]],
        *,
        suppressed: Mapping[str, str] | None = None,
        notify: bool = True,
    ) -> SaveResult:
        """Create new alerts (with their pending notices unless ``notify`` is False) and replace
        updated ones, idempotently.

        An update only replaces the version of the alert this store last read (compare-and-swap):
        an alert changed since by another writer is reported in ``conflicts``, for the caller to read
        and merge again. ``suppressed`` records findings folded into an alert (finding id -> that
        alert's id), kept for every suppressor whose write did not conflict.
        """
        ...

    def all(
        self, *, hunt_id: str | None = None, since_ns: int | None = None, limit: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Alerts oldest first by ``hunter.first_seen`` (then id): all of them, or those of one hunt,
        first seen at or after ``since_ns``, at most ``limit``."""
        ...


class StateStore(Protocol):
    """Checkpoints, the notice outbox and per-hunt leases."""

    def checkpoint(self, hunt_id: str) -> int | None:
        """Where the hunt's last completed window ended (epoch ns), if it ever ran."""
        ...

    def set_checkpoint(self, hunt_id: str, end_ns: int) -> None:
        """Move the hunt's checkpoint (never backwards)."""
        ...

    def mark_incomplete(self, hunt_id: str, now_ns: int) -> int:
        """Note that the hunt's searches came back incomplete (shard failures) at ``now_ns``; the
        start of the current streak of such runs (kept across runs, restarts and replicas)."""
        ...

    def clear_incomplete(self, hunt_id: str) -> None:
        """The hunt's searches are whole again: the streak is over."""
        ...

    def claim_notices(self, owner: str, now_ns: int, limit: int, hunt_id: str | None = None) -> list[Notice]:
        """Pending notices (oldest first), now claimed by ``owner`` so no one else sends them."""
        ...

    def record_delivery(self, delivery: Delivery, now_ns: int, owner: str | None = None) -> None:
        """Mark the notices of one delivery sent, failed (parked), or pending again (retry).

        With ``owner``, a failed or retry outcome only applies while ``owner`` still holds the claim
        (a stale claimer must not hand back a notice someone else has claimed since).
        """
        ...

    def notice_counts(self) -> dict[str, int]:
        """Notices by status (pending, sending, sent, failed)."""
        ...

    def notices(self, *, status: str | None = None, hunt_id: str | None = None) -> list[NoticeRecord]:
        """The notices of the outbox (oldest first), of one status and hunt when given."""
        ...

    def requeue_notices(self, *, hunt_id: str | None = None) -> int:
        """Put failed (parked) notices back to pending, e.g. after the webhook was fixed; how many."""
        ...

    def clean_up(self, now_ns: int, keep_ns: int) -> int:
        """Delete state that is done and older than ``keep_ns``: sent notices, expired leases; how many."""
        ...

    def acquire_lease(self, hunt_id: str, owner: str, now_ns: int, ttl_ns: int) -> bool:
        """Take or renew the hunt's lease; False while another owner holds an unexpired one."""
        ...

    def release_lease(self, hunt_id: str, owner: str) -> None:
        """Give the lease up (if held by ``owner``)."""
        ...


class Store(AlertStore, StateStore, Protocol):
    """Both, as one object (each backend implements both)."""

    def close(self) -> None:
        """Release connections."""
        ...
