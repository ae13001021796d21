"""SQLite store: idempotent alerts with their notices in one transaction, claims, checkpoints, leases, WAL."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hunter.errors import StoreError
from hunter.notify import Delivery, Outcome
from hunter.store.sqlite import SqliteStore
from tests.conftest import ns, utc

HUNT = "t1059_011_lua"
S = 1_000_000_000
T0 = 1_795_000_000 * S
TTL = 60 * S


def alert(alert_id: str, first_seen: str = "2026-11-20T09:14:03.335756700Z", **hunter: Any) -> dict[str, Any]:
    """A minimal alert document as the runner writes it."""
    return {
        "@timestamp": first_seen,
        "event": {"kind": "alert", "id": alert_id},
        "hunter": {"alert_id": alert_id, "first_seen": first_seen, "hunt": {"id": HUNT}, **hunter},
    }


@pytest.fixture
def path(tmp_path: Path) -> Path:
    """Where the state file goes."""
    return tmp_path / "state" / "hunter.sqlite3"


@pytest.fixture
def store(path: Path) -> Iterator[SqliteStore]:
    """A store with a 60 s claim TTL."""
    opened = SqliteStore(path, claim_ttl_ns=TTL)
    yield opened
    opened.close()


def test_database_is_in_wal_mode(store: SqliteStore, path: Path) -> None:
    """The state file is opened in WAL mode (readers do not block the writer)."""
    with sqlite3.connect(path) as other:
        (mode,) = other.execute("PRAGMA journal_mode").fetchone()
    assert mode == "wal"


def test_create_is_idempotent_by_id(store: SqliteStore) -> None:
    """Saving the same new alert twice stores it once, with one pending notice."""
    first = store.save(HUNT, [alert("a")], [])
    second = store.save(HUNT, [alert("a", message="changed")], [])
    assert first.created == ("a",)
    assert second.created == ()
    assert [doc["hunter"]["alert_id"] for doc in store.all()] == ["a"]
    assert "message" not in next(store.all())["hunter"]
    assert store.notice_counts()["pending"] == 1


def test_update_replaces_the_document_without_a_new_notice(store: SqliteStore) -> None:
    """An updated alert replaces the stored document and adds no notice."""
    store.save(HUNT, [alert("a")], [])
    result = store.save(HUNT, [], [alert("a", queries=["fallback", "sequence"])])
    assert result.updated == ("a",)
    assert result.created == ()
    assert store.get(["a"])["a"]["hunter"]["queries"] == ["fallback", "sequence"]
    assert store.notice_counts()["pending"] == 1


def test_update_of_an_unknown_alert_changes_nothing(store: SqliteStore) -> None:
    """Updating an id that was never created neither creates it nor reports it updated."""
    assert store.save(HUNT, [], [alert("ghost")]).updated == ()
    assert store.get(["ghost"]) == {}


def test_alert_and_notice_commit_together(store: SqliteStore, path: Path) -> None:
    """If recording the notice fails, the alert is not stored either (one transaction)."""
    with sqlite3.connect(path) as other:
        other.execute(
            "CREATE TRIGGER no_notices BEFORE INSERT ON notices BEGIN SELECT RAISE(ABORT, 'boom'); END"
        )
    with pytest.raises(StoreError):
        store.save(HUNT, [alert("a"), alert("b")], [])
    assert list(store.all()) == []
    assert sum(store.notice_counts().values()) == 0


def test_claimed_notices_are_not_handed_to_another_owner_until_the_claim_expires(store: SqliteStore) -> None:
    """A claim excludes other owners for the claim TTL; an abandoned claim is taken over after it."""
    store.save(HUNT, [alert("a")], [])
    assert [n.alert_id for n in store.claim_notices("one", T0, 10)] == ["a"]
    assert store.claim_notices("two", T0 + 1, 10) == []
    assert store.claim_notices("two", T0 + TTL - 1, 10) == []
    taken = store.claim_notices("two", T0 + TTL + 1, 10)
    assert [n.alert_id for n in taken] == ["a"]
    assert taken[0].alert["hunter"]["alert_id"] == "a"


def test_delivered_notices_are_never_claimed_again(store: SqliteStore) -> None:
    """A notice marked sent is not handed out again, by anyone, at any time."""
    store.save(HUNT, [alert("a")], [])
    store.claim_notices("one", T0, 10)
    store.record_delivery(Delivery(("a",), Outcome.SENT), T0 + 1)
    assert store.claim_notices("one", T0 + 2, 10) == []
    assert store.claim_notices("two", T0 + 100 * TTL, 10) == []
    store.record_delivery(Delivery(("a",), Outcome.RETRY, "late retry"), T0 + 3)
    assert store.claim_notices("two", T0 + 100 * TTL, 10) == []
    assert store.notice_counts()["sent"] == 1


def test_retry_makes_a_notice_pending_again_and_failed_parks_it(store: SqliteStore) -> None:
    """RETRY returns the notice to pending (claimable at once); FAILED parks it for good."""
    store.save(HUNT, [alert("a"), alert("b")], [])
    store.claim_notices("one", T0, 10)
    store.record_delivery(Delivery(("a",), Outcome.RETRY, "429"), T0)
    store.record_delivery(Delivery(("b",), Outcome.FAILED, "channel_not_found"), T0)
    assert [n.alert_id for n in store.claim_notices("one", T0 + 1, 10)] == ["a"]
    assert store.notice_counts() == {"pending": 0, "sending": 1, "sent": 0, "failed": 1}


def test_claims_respect_the_limit_and_oldest_first(store: SqliteStore) -> None:
    """Notices are claimed oldest first, at most `limit` at a time."""
    store.save(HUNT, [alert("c")], [])
    store.save(HUNT, [alert("a")], [])
    store.save(HUNT, [alert("b")], [])
    assert [n.alert_id for n in store.claim_notices("one", T0, 2)] == ["c", "a"]
    assert [n.alert_id for n in store.claim_notices("one", T0, 2)] == ["b"]


def test_checkpoint_never_moves_backwards(store: SqliteStore) -> None:
    """set_checkpoint with an older value keeps the newer one."""
    assert store.checkpoint(HUNT) is None
    store.set_checkpoint(HUNT, T0)
    store.set_checkpoint(HUNT, T0 - 5)
    assert store.checkpoint(HUNT) == T0
    store.set_checkpoint(HUNT, T0 + 5)
    assert store.checkpoint(HUNT) == T0 + 5
    assert store.checkpoint("other") is None


def test_state_survives_a_restart(store: SqliteStore, path: Path) -> None:
    """A new store over the same file sees the alerts, notices and checkpoint of the old one."""
    store.save(HUNT, [alert("a")], [])
    store.set_checkpoint(HUNT, T0)
    store.close()
    reopened = SqliteStore(path)
    try:
        assert [doc["hunter"]["alert_id"] for doc in reopened.all()] == ["a"]
        assert reopened.checkpoint(HUNT) == T0
        assert reopened.notice_counts()["pending"] == 1
        assert reopened.save(HUNT, [alert("a")], []).created == ()
    finally:
        reopened.close()


def test_lease_excludes_a_second_owner_until_it_expires(store: SqliteStore) -> None:
    """A held lease refuses other owners until expiry; the holder may renew; then another may take it."""
    assert store.acquire_lease(HUNT, "one", T0, TTL)
    assert not store.acquire_lease(HUNT, "two", T0 + 1, TTL)
    assert store.acquire_lease(HUNT, "one", T0 + TTL // 2, TTL)  # renewal moves the expiry
    assert not store.acquire_lease(HUNT, "two", T0 + TTL + 1, TTL)
    assert store.acquire_lease(HUNT, "two", T0 + TTL // 2 + TTL + 1, TTL)
    assert not store.acquire_lease(HUNT, "one", T0 + TTL // 2 + TTL + 2, TTL)


def test_released_lease_is_free_and_only_its_owner_can_release(store: SqliteStore) -> None:
    """release_lease by a non-owner does nothing; by the owner it frees the hunt at once."""
    store.acquire_lease(HUNT, "one", T0, TTL)
    store.release_lease(HUNT, "two")
    assert not store.acquire_lease(HUNT, "two", T0 + 1, TTL)
    store.release_lease(HUNT, "one")
    assert store.acquire_lease(HUNT, "two", T0 + 1, TTL)


def test_leases_are_per_hunt(store: SqliteStore) -> None:
    """One hunt's lease does not block another hunt."""
    assert store.acquire_lease(HUNT, "one", T0, TTL)
    assert store.acquire_lease("other_hunt", "two", T0, TTL)


def test_find_suppressor_returns_the_earliest_alert_with_the_key_in_the_bounds(store: SqliteStore) -> None:
    """The suppressor is the earliest alert of the hunt with that key first seen within since..until:
    an alert first seen after the finding (a backfill of an older range) never suppresses it."""
    key = {"key": "k1", "by": {"host.id": "h"}}
    store.save(HUNT, [alert("old", "2026-11-20T08:59:59Z", suppression=key)], [])
    store.save(HUNT, [alert("a", "2026-11-20T09:10:00Z", suppression=key)], [])
    store.save(HUNT, [alert("b", "2026-11-20T09:20:00Z", suppression=key)], [])
    store.save(HUNT, [alert("other", "2026-11-20T09:00:00Z", suppression={"key": "k2", "by": {}})], [])
    since, until = ns(utc("2026-11-20T09:00:00Z")), ns(utc("2026-11-20T09:30:00Z"))
    found = store.find_suppressor(HUNT, "k1", since, until)
    assert found is not None
    assert found["hunter"]["alert_id"] == "a"
    later = store.find_suppressor(HUNT, "k1", ns(utc("2026-11-20T09:15:00Z")), until)
    assert later is not None and later["hunter"]["alert_id"] == "b"
    assert store.find_suppressor(HUNT, "k1", since, ns(utc("2026-11-20T09:09:59Z"))) is None
    assert store.find_suppressor("other_hunt", "k1", since, until) is None
    assert store.find_suppressor(HUNT, "k3", since, until) is None


def test_an_update_replaces_only_the_version_it_read(path: Path) -> None:
    """Two writers on two connections read version 1; the first update wins, the second is reported
    as a conflict instead of silently replacing the first writer's change (compare-and-swap)."""
    first, second = SqliteStore(path), SqliteStore(path)
    first.save(HUNT, [alert("a", version=1)], [])
    mine, theirs = first.get(["a"])["a"], second.get(["a"])["a"]
    assert second.save(
        HUNT, [], [{**theirs, "hunter": {**theirs["hunter"], "version": 2, "b": 1}}]
    ).updated == ("a",)
    lost = first.save(HUNT, [], [{**mine, "hunter": {**mine["hunter"], "version": 2, "a": 1}}])
    assert lost.updated == () and lost.conflicts == ("a",)
    assert first.get(["a"])["a"]["hunter"].get("b") == 1  # the other writer's change is still there
    merged = first.get(["a"])["a"]
    assert first.save(HUNT, [], [{**merged, "hunter": {**merged["hunter"], "version": 3}}]).updated == ("a",)
    first.close()
    second.close()


def test_folded_findings_are_recorded_with_their_suppressor(store: SqliteStore) -> None:
    """Records of folded findings are kept with a successful write of their suppressor, not with a
    conflicting one (the caller merges again and records them then)."""
    store.save(HUNT, [alert("s", version=1), alert("t", version=1)], [])
    current = store.get(["s"])["s"]
    saved = store.save(
        HUNT, [], [{**current, "hunter": {**current["hunter"], "version": 2}}], suppressed={"x": "s"}
    )
    assert saved.updated == ("s",)
    assert store.suppressed_by(["x", "y"]) == {"x": "s"}
    store.save(HUNT, [], [alert("t", version=5)], suppressed={"y": "t"})  # t was not read: replaces
    assert store.suppressed_by(["y"]) == {"y": "t"}
    stale = {**current, "hunter": {**current["hunter"], "version": 2}}
    store.get(["s"])
    store._read_versions["s"] = 1  # as if read before the update above
    assert store.save(HUNT, [], [stale], suppressed={"z": "s"}).conflicts == ("s",)
    assert store.suppressed_by(["z"]) == {}


def test_a_version_1_state_file_is_migrated(path: Path) -> None:
    """A state file written before alert versions were a column gets the column, filled from each
    alert's document, and updates then compare-and-swap on it."""
    path.parent.mkdir(parents=True)
    with sqlite3.connect(path) as old:
        old.executescript(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
            "INSERT INTO meta VALUES ('schema_version', '1');"
            "CREATE TABLE alerts (id TEXT PRIMARY KEY, hunt_id TEXT NOT NULL, first_seen_ns INTEGER NOT NULL,"
            " created_ns INTEGER NOT NULL, updated_ns INTEGER NOT NULL, suppression_key TEXT,"
            " doc BLOB NOT NULL);"
        )
        old.execute(
            "INSERT INTO alerts VALUES ('a', ?, 0, 0, 0, NULL, ?)",
            (HUNT, json.dumps(alert("a", version=4)).encode()),
        )
    store = SqliteStore(path)
    with sqlite3.connect(path) as check:
        assert check.execute("SELECT version FROM alerts").fetchone() == (4,)
        assert check.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("2",)
    doc = store.get(["a"])["a"]
    assert store.save(HUNT, [], [{**doc, "hunter": {**doc["hunter"], "version": 5}}]).updated == ("a",)
    store.close()


def test_a_state_file_of_a_newer_hunter_is_refused(path: Path) -> None:
    """A schema version this hunter does not know is a StoreError, not a misread."""
    SqliteStore(path).close()
    with sqlite3.connect(path) as newer:
        newer.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="newer hunter"):
        SqliteStore(path)


def test_alerts_are_listed_oldest_first_by_first_seen_with_filters(store: SqliteStore) -> None:
    """all() lists by first seen (then id), whatever the creation order; by hunt, since and limit."""
    store.save(HUNT, [alert("z", "2026-11-20T09:30:00Z")], [])
    store.save(HUNT, [alert("y", "2026-11-20T09:10:00Z")], [])
    store.save("other", [{**alert("x", "2026-11-20T09:20:00Z")}], [])
    ids = [doc["hunter"]["alert_id"] for doc in store.all()]
    assert ids == ["y", "x", "z"]
    assert [d["hunter"]["alert_id"] for d in store.all(hunt_id=HUNT)] == ["y", "z"]
    since = ns(utc("2026-11-20T09:20:00Z"))
    assert [d["hunter"]["alert_id"] for d in store.all(since_ns=since)] == ["x", "z"]
    assert [d["hunter"]["alert_id"] for d in store.all(limit=2)] == ["y", "x"]


def test_parked_notices_are_listed_and_requeued(store: SqliteStore) -> None:
    """notices() lists the outbox; requeue_notices() puts failed ones back to pending (one hunt or all)."""
    store.save(HUNT, [alert("a"), alert("b")], [])
    store.save("other", [alert("c")], [])
    store.claim_notices("me", T0, 10)
    store.record_delivery(Delivery(("a", "c"), Outcome.FAILED, "invalid_token"), T0, "me")
    store.record_delivery(Delivery(("b",), Outcome.SENT), T0, "me")
    failed = store.notices(status="failed")
    assert [(n.alert_id, n.last_error, n.attempts) for n in failed] == [
        ("a", "invalid_token", 1),
        ("c", "invalid_token", 1),
    ]
    assert store.requeue_notices(hunt_id=HUNT) == 1
    assert [n.alert_id for n in store.notices(status="pending")] == ["a"]
    assert store.requeue_notices() == 1
    assert [n.alert_id for n in store.claim_notices("me", T0 + 1, 10)] == ["a", "c"]


def test_clean_up_removes_done_state_past_its_retention(store: SqliteStore) -> None:
    """Sent notices and expired leases older than the retention go; pending notices and live leases stay."""
    store.save(HUNT, [alert("a"), alert("b")], [])
    store.claim_notices("me", T0, 10)
    store.record_delivery(Delivery(("a",), Outcome.SENT), T0, "me")
    store.record_delivery(Delivery(("b",), Outcome.RETRY), T0, "me")
    store.acquire_lease(HUNT, "me", T0, TTL)
    store.acquire_lease("other", "me", T0 + 100 * TTL, TTL)
    assert store.clean_up(T0 + 10 * TTL, 5 * TTL) == 2  # the sent notice and the old lease
    assert [n.alert_id for n in store.notices()] == ["b"]
    assert not store.acquire_lease("other", "someone", T0 + 100 * TTL, TTL)
    assert store.clean_up(T0 + 10 * TTL, 5 * TTL) == 0


def test_unopenable_state_path_is_a_store_error(tmp_path: Path) -> None:
    """A state path that cannot be a database (a folder) is a StoreError."""
    (tmp_path / "dir.sqlite3").mkdir()
    with pytest.raises(StoreError):
        SqliteStore(tmp_path / "dir.sqlite3")


def test_an_incomplete_streak_keeps_its_start_until_cleared(tmp_path: Path) -> None:
    """mark_incomplete returns the first mark's time across reopenings; clear_incomplete ends it."""
    first = SqliteStore(tmp_path / "s.sqlite3")
    assert first.mark_incomplete("h", 100) == 100
    assert first.mark_incomplete("h", 200) == 100
    first.close()
    again = SqliteStore(tmp_path / "s.sqlite3")
    assert again.mark_incomplete("h", 300) == 100
    assert again.mark_incomplete("other", 300) == 300
    again.clear_incomplete("h")
    again.clear_incomplete("never-marked")
    assert again.mark_incomplete("h", 400) == 400
    again.close()


def test_a_second_read_in_one_batch_keeps_the_first_reads_version(path: Path) -> None:
    """get() then find_suppressor() of the same alert, another writer changing it in between: the
    update built from the first copy is a conflict (the second read used to make it overwrite)."""
    store, other = SqliteStore(path), SqliteStore(path)
    key = {"key": "k", "by": {}}
    store.save(HUNT, [alert("a", "2026-11-20T09:00:00Z", version=1, suppression=key)], [])
    first = store.get(["a"])["a"]
    theirs = other.get(["a"])["a"]
    other.save(HUNT, [], [{**theirs, "hunter": {**theirs["hunter"], "version": 2, "theirs": True}}])
    assert store.find_suppressor(HUNT, "k", 0, ns(utc("2026-11-20T10:00:00Z"))) is not None
    mine = {**first, "hunter": {**first["hunter"], "version": 2, "mine": True}}
    assert store.save(HUNT, [], [mine]).conflicts == ("a",)
    assert store.get(["a"])["a"]["hunter"].get("theirs") is True
    store.close()
    other.close()
