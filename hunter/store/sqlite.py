"""Alerts, checkpoints, the notice outbox and leases in one SQLite file (WAL mode).

Every change is one transaction: creating an alert and recording its pending notice commit
together, so a crash can never leave an alert without its notice or a notice without its alert.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from ..eql.values import parse_date_ns
from ..errors import StoreError
from ..notify import Delivery, Notice, Outcome
from . import CLAIM_TTL_NS, NoticeRecord, SaveResult, alert_id_of, as_written

SCHEMA_VERSION = 2
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY,
    hunt_id TEXT NOT NULL,
    first_seen_ns INTEGER NOT NULL,
    created_ns INTEGER NOT NULL,
    updated_ns INTEGER NOT NULL,
    suppression_key TEXT,
    doc BLOB NOT NULL,
    version INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS suppressed (
    alert_id TEXT PRIMARY KEY,
    hunt_id TEXT NOT NULL,
    suppressor_id TEXT NOT NULL,
    created_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_by_suppression ON alerts (hunt_id, suppression_key, first_seen_ns);
CREATE INDEX IF NOT EXISTS alerts_by_creation ON alerts (created_ns, id);
CREATE TABLE IF NOT EXISTS checkpoints (
    hunt_id TEXT PRIMARY KEY, end_ns INTEGER NOT NULL, updated_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS notices (
    alert_id TEXT PRIMARY KEY REFERENCES alerts (id),
    hunt_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    claimed_by TEXT,
    claimed_ns INTEGER,
    last_error TEXT,
    created_ns INTEGER NOT NULL,
    updated_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS notices_by_status ON notices (status, created_ns);
CREATE TABLE IF NOT EXISTS incomplete (hunt_id TEXT PRIMARY KEY, since_ns INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS leases (
    hunt_id TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_ns INTEGER NOT NULL
);
"""


class SqliteStore:
    """The embedded store: alerts (:class:`~hunter.store.AlertStore`) and state in SQLite."""

    def __init__(self, path: Path, *, claim_ttl_ns: int = CLAIM_TTL_NS) -> None:
        self.path = path
        self.claim_ttl_ns = claim_ttl_ns
        self._lock = threading.RLock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            with self._transaction() as db:
                for statement in filter(None, (part.strip() for part in _SCHEMA.split(";"))):
                    db.execute(statement)
                _migrate(db)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"{path}: cannot open the state database: {exc}") from exc
        # The version of each alert as this store last read it: an update must replace that version
        # (compare-and-swap), so a writer never overwrites a change it has not seen.
        self._read_versions: dict[str, int] = {}

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: {exc}") from exc

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return list(self._db.execute(sql, params))
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: {exc}") from exc

    # ---- alerts ---------------------------------------------------------------------------------

    def get(self, ids: Collection[str]) -> dict[str, dict[str, Any]]:
        """The stored alerts among ``ids``."""
        found: dict[str, dict[str, Any]] = {}
        wanted = list(ids)
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT id, doc, version FROM alerts WHERE id IN ({marks})"  # noqa: S608 - placeholders only
            for alert_id, doc, version in self._query(sql, chunk):
                found[alert_id] = orjson.loads(doc)
                self._read_versions[alert_id] = int(version)
        return found

    def find_suppressor(self, hunt_id: str, key: str, since_ns: int, until_ns: int) -> dict[str, Any] | None:
        """The earliest alert of ``hunt_id`` with suppression ``key`` first seen in ``since_ns..until_ns``."""
        rows = self._query(
            "SELECT id, doc, version FROM alerts WHERE hunt_id = ? AND suppression_key = ? "
            "AND first_seen_ns BETWEEN ? AND ? ORDER BY first_seen_ns, id LIMIT 1",
            (hunt_id, key, since_ns, until_ns),
        )
        if not rows:
            return None
        alert_id, doc, version = rows[0]
        # an alert read already (get) keeps that read's version: the caller may have built its update
        # from that copy, and a change in between must make the update a conflict, not overwrite it
        self._read_versions.setdefault(alert_id, int(version))
        found: dict[str, Any] = orjson.loads(doc)
        return found

    def suppressed_by(self, ids: Collection[str]) -> dict[str, str]:
        """For those of ``ids`` recorded as folded into another alert: that alert's id."""
        found: dict[str, str] = {}
        wanted = list(ids)
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT alert_id, suppressor_id FROM suppressed WHERE alert_id IN ({marks})"  # noqa: S608
            found.update((str(alert_id), str(target)) for alert_id, target in self._query(sql, chunk))
        return found

    def save(
        self,
        hunt_id: str,
        created: Sequence[Mapping[str, Any]],
        updated: Sequence[Mapping[str, Any]],
        *,
        suppressed: Mapping[str, str] | None = None,
        notify: bool = True,
    ) -> SaveResult:
        """Create new alerts with their pending notices (none when ``notify`` is False), replace updated
        ones where nobody else changed them since they were read, and record folded findings, in one
        transaction."""
        now = time.time_ns()
        made: list[str] = []
        changed: list[str] = []
        conflicts: list[str] = []
        with self._transaction() as db:
            for doc in created:
                alert_id, first_seen, key, version, blob = _row(as_written(doc, now, created=True))
                inserted = db.execute(
                    "INSERT OR IGNORE INTO alerts "
                    "(id, hunt_id, first_seen_ns, created_ns, updated_ns, suppression_key, doc, version) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (alert_id, hunt_id, first_seen, now, now, key, blob, version),
                ).rowcount
                if inserted and notify:
                    db.execute(
                        "INSERT OR IGNORE INTO notices (alert_id, hunt_id, status, created_ns, updated_ns) "
                        "VALUES (?, ?, 'pending', ?, ?)",
                        (alert_id, hunt_id, now, now),
                    )
                if inserted:
                    made.append(alert_id)
                else:
                    conflicts.append(alert_id)  # written meanwhile by another process: merge into it
            for doc in updated:
                alert_id, first_seen, key, version, blob = _row(as_written(doc, now, created=False))
                expected = self._read_versions.get(alert_id)
                if expected is None:  # never read through this store: replace what is there now
                    row = db.execute("SELECT version FROM alerts WHERE id = ?", (alert_id,)).fetchone()
                    if row is None:
                        continue
                    expected = int(row[0])
                count = db.execute(
                    "UPDATE alerts SET doc = ?, first_seen_ns = ?, suppression_key = ?, updated_ns = ?, "
                    "version = ? WHERE id = ? AND version = ?",
                    (blob, first_seen, key, now, version, alert_id, expected),
                ).rowcount
                if count:
                    changed.append(alert_id)
                else:
                    conflicts.append(alert_id)  # changed (or removed) by another writer since we read it
            lost = set(conflicts)
            for alert_id, target in (suppressed or {}).items():
                if target not in lost:
                    db.execute(
                        "INSERT OR IGNORE INTO suppressed (alert_id, hunt_id, suppressor_id, created_ns) "
                        "VALUES (?, ?, ?, ?)",
                        (alert_id, hunt_id, target, now),
                    )
        for alert_id in (*made, *changed, *conflicts):
            self._read_versions.pop(alert_id, None)  # read again before the next update
        return SaveResult(tuple(made), tuple(changed), tuple(conflicts))

    def all(
        self, *, hunt_id: str | None = None, since_ns: int | None = None, limit: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Alerts oldest first by first seen (then id): of one hunt, since a time, at most ``limit``."""
        sql, params = _where(
            "SELECT doc FROM alerts", [("hunt_id = ?", hunt_id), ("first_seen_ns >= ?", since_ns)]
        )
        sql += " ORDER BY first_seen_ns, id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        for (doc,) in self._query(sql, params):
            yield orjson.loads(doc)

    # ---- checkpoints ----------------------------------------------------------------------------

    def checkpoint(self, hunt_id: str) -> int | None:
        """Where the hunt's last completed window ended (epoch ns), if it ever ran."""
        rows = self._query("SELECT end_ns FROM checkpoints WHERE hunt_id = ?", (hunt_id,))
        return int(rows[0][0]) if rows else None

    def set_checkpoint(self, hunt_id: str, end_ns: int) -> None:
        """Move the hunt's checkpoint forward (a smaller value is ignored)."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO checkpoints (hunt_id, end_ns, updated_ns) VALUES (?, ?, ?) "
                "ON CONFLICT (hunt_id) DO UPDATE SET "
                "end_ns = max(end_ns, excluded.end_ns), updated_ns = excluded.updated_ns",
                (hunt_id, end_ns, time.time_ns()),
            )

    # ---- notices --------------------------------------------------------------------------------

    def claim_notices(self, owner: str, now_ns: int, limit: int, hunt_id: str | None = None) -> list[Notice]:
        """Pending notices (and abandoned claims), oldest first, now claimed by ``owner``."""
        stale = now_ns - self.claim_ttl_ns
        where = "(n.status = 'pending' OR (n.status = 'sending' AND n.claimed_ns < ?))"
        params: list[Any] = [stale]
        if hunt_id is not None:
            where += " AND n.hunt_id = ?"
            params.append(hunt_id)
        with self._transaction() as db:
            rows = list(
                db.execute(
                    "SELECT n.alert_id, n.hunt_id, n.created_ns, a.doc "  # noqa: S608 - fixed clauses only
                    f"FROM notices n JOIN alerts a ON a.id = n.alert_id WHERE {where} "
                    "ORDER BY n.created_ns, n.alert_id LIMIT ?",
                    (*params, limit),
                )
            )
            for alert_id, *_rest in rows:
                db.execute(
                    "UPDATE notices SET status = 'sending', claimed_by = ?, claimed_ns = ?, "
                    "attempts = attempts + 1, updated_ns = ? WHERE alert_id = ?",
                    (owner, now_ns, now_ns, alert_id),
                )
        return [
            Notice(alert_id, hunt, orjson.loads(doc), datetime.fromtimestamp(created / 1e9, tz=UTC))
            for alert_id, hunt, created, doc in rows
        ]

    def record_delivery(self, delivery: Delivery, now_ns: int, owner: str | None = None) -> None:
        """Mark the notices of one delivery sent, failed (parked for good), or pending again."""
        status = {Outcome.SENT: "sent", Outcome.FAILED: "failed", Outcome.RETRY: "pending"}[delivery.outcome]
        guard = " AND claimed_by = ?" if owner is not None and delivery.outcome is not Outcome.SENT else ""
        with self._transaction() as db:
            for alert_id in delivery.alert_ids:
                params: tuple[Any, ...] = (status, delivery.detail or None, now_ns, alert_id)
                sql = (
                    "UPDATE notices SET status = ?, last_error = ?, claimed_by = NULL, updated_ns = ? "  # noqa: S608
                    f"WHERE alert_id = ? AND status != 'sent'{guard}"
                )
                db.execute(sql, (*params, owner) if guard else params)

    def notice_counts(self) -> dict[str, int]:
        """Notices by status."""
        counts = {"pending": 0, "sending": 0, "sent": 0, "failed": 0}
        for status, count in self._query("SELECT status, count(*) FROM notices GROUP BY status"):
            counts[str(status)] = int(count)
        return counts

    def notices(self, *, status: str | None = None, hunt_id: str | None = None) -> list[NoticeRecord]:
        """The notices of the outbox, oldest first, of one status and hunt when given."""
        columns = (
            "SELECT alert_id, hunt_id, status, attempts, last_error, created_ns, updated_ns FROM notices"
        )
        sql, params = _where(columns, [("status = ?", status), ("hunt_id = ?", hunt_id)])
        rows = self._query(sql + " ORDER BY created_ns, alert_id", params)
        return [
            NoticeRecord(str(a), str(h), str(s), int(n), e, int(c), int(u)) for a, h, s, n, e, c, u in rows
        ]

    def requeue_notices(self, *, hunt_id: str | None = None) -> int:
        """Failed (parked) notices back to pending; how many."""
        sql = (
            "UPDATE notices SET status = 'pending', claimed_by = NULL, updated_ns = ? WHERE status = 'failed'"
        )
        params: list[Any] = [time.time_ns()]
        if hunt_id is not None:
            sql += " AND hunt_id = ?"
            params.append(hunt_id)
        with self._transaction() as db:
            return int(db.execute(sql, params).rowcount)

    def clean_up(self, now_ns: int, keep_ns: int) -> int:
        """Delete notices sent and leases expired more than ``keep_ns`` ago; how many."""
        cutoff = now_ns - keep_ns
        with self._transaction() as db:
            sent = db.execute(
                "DELETE FROM notices WHERE status = 'sent' AND updated_ns < ?", (cutoff,)
            ).rowcount
            leases = db.execute("DELETE FROM leases WHERE expires_ns < ?", (cutoff,)).rowcount
        return int(sent) + int(leases)

    # ---- leases ---------------------------------------------------------------------------------

    def mark_incomplete(self, hunt_id: str, now_ns: int) -> int:
        """Start the hunt's incomplete streak at ``now_ns`` unless one is going; its start."""
        with self._transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO incomplete (hunt_id, since_ns) VALUES (?, ?)", (hunt_id, now_ns)
            )
            row = db.execute("SELECT since_ns FROM incomplete WHERE hunt_id = ?", (hunt_id,)).fetchone()
            return int(row[0])

    def clear_incomplete(self, hunt_id: str) -> None:
        """End the hunt's incomplete streak."""
        with self._transaction() as db:
            db.execute("DELETE FROM incomplete WHERE hunt_id = ?", (hunt_id,))

    def acquire_lease(self, hunt_id: str, owner: str, now_ns: int, ttl_ns: int) -> bool:
        """Take or renew the hunt's lease; False while another owner holds an unexpired one."""
        with self._transaction() as db:
            row = db.execute("SELECT owner, expires_ns FROM leases WHERE hunt_id = ?", (hunt_id,)).fetchone()
            if row is not None and row[0] != owner and row[1] > now_ns:
                return False
            db.execute(
                "INSERT INTO leases (hunt_id, owner, expires_ns) VALUES (?, ?, ?) "
                "ON CONFLICT (hunt_id) DO UPDATE SET "
                "owner = excluded.owner, expires_ns = excluded.expires_ns",
                (hunt_id, owner, now_ns + ttl_ns),
            )
            return True

    def release_lease(self, hunt_id: str, owner: str) -> None:
        """Give the lease up if ``owner`` holds it."""
        with self._transaction() as db:
            db.execute("DELETE FROM leases WHERE hunt_id = ? AND owner = ?", (hunt_id, owner))


def _row(doc: Mapping[str, Any]) -> tuple[str, int, str | None, int, bytes]:
    hunter = doc.get("hunter") or {}
    alert_id = alert_id_of(doc)
    first_seen = parse_date_ns(hunter.get("first_seen")) or 0
    suppression = hunter.get("suppression") or {}
    key = suppression.get("key") if isinstance(suppression, dict) else None
    return alert_id, first_seen, key, _version(hunter), orjson.dumps(doc)


def _where(sql: str, conditions: Sequence[tuple[str, Any]]) -> tuple[str, list[Any]]:
    """``sql`` with a WHERE of those fixed ``column op ?`` clauses whose value is given, and the values."""
    given = [(clause, value) for clause, value in conditions if value is not None]
    if given:
        sql += " WHERE " + " AND ".join(clause for clause, _value in given)
    return sql, [value for _clause, value in given]


def _version(hunter: Mapping[str, Any]) -> int:
    version = hunter.get("version")
    return int(version) if isinstance(version, int) else 0


def _migrate(db: sqlite3.Connection) -> None:
    """Bring a state file written by an older hunter up to :data:`SCHEMA_VERSION` (inside the
    opening transaction); a newer one is refused rather than misread."""
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    found = int(row[0]) if row is not None else SCHEMA_VERSION
    if found > SCHEMA_VERSION:
        raise sqlite3.DatabaseError(
            f"written by a newer hunter (schema {found}, this one reads up to {SCHEMA_VERSION})"
        )
    if found < 2:  # version 1 kept no version column: take each alert's from its document
        columns = {info[1] for info in db.execute("PRAGMA table_info(alerts)")}
        if "version" not in columns:
            db.execute("ALTER TABLE alerts ADD COLUMN version INTEGER NOT NULL DEFAULT 0")
        for alert_id, doc in list(db.execute("SELECT id, doc FROM alerts")):
            db.execute(
                "UPDATE alerts SET version = ? WHERE id = ?",
                (_version(orjson.loads(doc).get("hunter") or {}), alert_id),
            )
    db.execute(
        "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (str(SCHEMA_VERSION),),
    )
