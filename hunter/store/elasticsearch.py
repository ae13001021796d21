"""Alerts in a data stream, and checkpoints, notices and leases in a state index, in Elasticsearch.

Alerts go to ``logs-hunter.alerts-default`` (so Kibana Security lists them as external alerts)
with an index template hunter installs (priority 200, above the built-in ``logs`` template).
Writes are idempotent: the runner looks alert ids up across every backing index first (a
``create`` after a rollover would otherwise land a duplicate in the new write index), new alerts
are ``_bulk`` ``create``\\ d with their deterministic ``_id`` (409 means another writer made it:
not an error), updates address the backing index holding the alert with
``if_seq_no``/``if_primary_term``. Every bulk item is checked; retryable ones are retried.

The state index holds one document per checkpoint, notice and lease, changed with optimistic
concurrency, so two replicas on one cluster never both claim a notice or a hunt's lease. A
notice is created *before* its alert: a crash in between leaves a notice whose alert the next run
creates (the window is searched again), never an alert without its notice.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import structlog
from elasticsearch import ApiError, ConflictError, Elasticsearch, NotFoundError

from ..alerts import EVIDENCE_FIELDS, SUBJECT_FIELDS
from ..eql.values import format_date_ns
from ..errors import StoreError
from ..esclient import Retrier, describe, error_type, is_transient
from ..notify import Delivery, Notice, Outcome
from . import CLAIM_TTL_NS, NoticeRecord, SaveResult, alert_id_of, as_written

log = structlog.get_logger(__name__)

TEMPLATE_NAME = "hunter-alerts"
TEMPLATE_VERSION = 5
ORPHAN_AFTER_NS = 24 * 3600 * 1_000_000_000  # a notice whose alert is still unwritten then is parked
TEMPLATE_PRIORITY = 200  # above the built-in logs-*-* template (100); equal priorities are refused
_RETRYABLE_ITEM = frozenset({429, 500, 502, 503, 504})


def _kw() -> dict[str, Any]:
    return {"type": "keyword", "ignore_above": 1024}


def _date() -> dict[str, Any]:
    return {"type": "date_nanos"}


def _object(properties: Mapping[str, Any]) -> dict[str, Any]:
    return {"properties": dict(properties)}


def alert_mappings() -> dict[str, Any]:
    """Mappings of every field hunter writes into an alert (ECS types; ``hunter.*`` explicit)."""
    subject: dict[str, Any] = {}
    for name, kind in {**SUBJECT_FIELDS, **EVIDENCE_FIELDS}.items():  # the ECS types of ecs_flat.yml
        spec: dict[str, Any] = {
            "keyword": _kw(),
            "wildcard": {"type": "wildcard"},
            "long": {"type": "long"},
            "ip": {"type": "ip"},
            "date": {"type": "date_nanos"},
        }[kind]
        target = subject
        parts = name.split(".")
        for part in parts[:-1]:
            target = target.setdefault(part, {"properties": {}})["properties"]
        target[parts[-1]] = spec
    threat_ref = _object({"id": _kw(), "name": _kw(), "reference": _kw()})
    return {
        "dynamic": False,
        "properties": {
            "@timestamp": _date(),
            "message": {"type": "match_only_text"},
            "tags": _kw(),
            "event": _object(
                {
                    "kind": _kw(),
                    "category": _kw(),
                    "type": _kw(),
                    "id": _kw(),
                    "severity": {"type": "long"},
                    "risk_score": {"type": "float"},
                    "dataset": _kw(),
                    "module": _kw(),
                    "created": _date(),
                    "ingested": _date(),
                    "start": _date(),
                    "end": _date(),
                    "reference": _kw(),
                }
            ),
            "rule": _object(
                {
                    "id": _kw(),
                    "uuid": _kw(),
                    "name": _kw(),
                    "description": {"type": "match_only_text"},
                    "reference": _kw(),
                    "ruleset": _kw(),
                    "category": _kw(),
                    "author": _kw(),
                    "version": _kw(),
                    "license": _kw(),
                }
            ),
            "threat": _object(
                {
                    "framework": _kw(),
                    "tactic": threat_ref,
                    "technique": _object({**threat_ref["properties"], "subtechnique": threat_ref}),
                }
            ),
            **subject,
            "hunter": _object(
                {
                    "hunt": _object(
                        {
                            "id": _kw(),
                            "name": _kw(),
                            "severity": _kw(),
                            "source": _kw(),
                            "building_block": {"type": "boolean"},
                        }
                    ),
                    "alert_id": _kw(),
                    "version": {"type": "long"},
                    "first_write": {"type": "boolean"},  # what Kibana's promote rules match
                    "queries": _kw(),
                    "first_seen": _date(),
                    "last_seen": _date(),
                    "created": _date(),
                    "updated": _date(),
                    "anchor": _object(
                        {"kind": _kw(), "host_id": _kw(), "entity_id": _kw(), "index": _kw(), "id": _kw()}
                    ),
                    "subject": _kw(),
                    "events": {"type": "flattened"},
                    "event_count": {"type": "long"},
                    "sequences": _kw(),
                    "sequence_count": {"type": "long"},
                    # hunter.members (digests of every member, past the ones listed) is not mapped:
                    # it is read back from _source only, never searched
                    "window": _object({"start": _date(), "end": _date()}),
                    "suppressed": _object({"count": {"type": "long"}, "alert_ids": _kw()}),
                    "suppression": _object({"key": _kw(), "by": {"type": "flattened"}}),
                    "false_positives": {"type": "match_only_text"},
                }
            ),
        },
    }


STATE_MAPPINGS: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "type": _kw(),
        "hunt_id": _kw(),
        "alert_id": _kw(),
        "suppressor_id": _kw(),
        "status": _kw(),
        "owner": _kw(),
        "claimed_by": _kw(),
        "last_error": _kw(),
        "attempts": {"type": "long"},
        "end_ns": {"type": "long"},
        "expires_ns": {"type": "long"},
        "claimed_ns": {"type": "long"},
        "created_ns": {"type": "long"},
        "updated_ns": {"type": "long"},
    },
}


class ElasticsearchStore:
    """:class:`~hunter.store.AlertStore` and :class:`~hunter.store.StateStore` in a cluster."""

    def __init__(
        self,
        client: Elasticsearch,
        *,
        data_stream: str = "logs-hunter.alerts-default",
        state_index: str = "hunter-state",
        retrier: Retrier | None = None,
        claim_ttl_ns: int = CLAIM_TTL_NS,
        clock_ns: Callable[[], int] = time.time_ns,
        alert_retention: str | None = None,
    ) -> None:
        self.client = client
        self.alert_retention = alert_retention  # data stream lifecycle data_retention, e.g. "365d"
        self.data_stream = data_stream
        self.state_index = state_index
        self.retrier = retrier or Retrier()
        self.claim_ttl_ns = claim_ttl_ns
        self.clock_ns = clock_ns
        self._where: dict[str, tuple[str, int, int]] = {}  # alert id -> (backing index, seq_no, primary_term)

    # ---- setup ----------------------------------------------------------------------------------

    def ensure_setup(self) -> None:
        """Install the alert index template (if missing, older, or with another retention), bring an
        existing alert data stream up to it, and create the state index.

        A data stream takes a template's mappings at its next rollover and keeps the lifecycle it was
        created with, so after installing a new template hunter rolls the stream over (its new write
        index has the new mappings: a field such as ``hunter.first_write`` that Kibana's promote
        rules query is searchable at once) and puts the configured lifecycle on it.
        """
        pattern = self.data_stream.rsplit("-", 1)[0] + "-*"
        installed = self._call("get index template", self._installed_template)
        lifecycle = self._lifecycle()
        if installed is not None and installed == (TEMPLATE_VERSION, lifecycle):
            pass
        elif installed is not None and installed[0] > TEMPLATE_VERSION:
            log.warning(
                "a newer hunter installed the alert index template; it is kept", template=TEMPLATE_NAME
            )
        else:
            self._call(
                "put index template",
                lambda: self.client.indices.put_index_template(
                    name=TEMPLATE_NAME,
                    index_patterns=[pattern],
                    data_stream={},
                    priority=TEMPLATE_PRIORITY,
                    template=self._template(),
                    meta={"managed_by": "hunter", "version": TEMPLATE_VERSION},
                ),
            )
            log.info("installed the alert index template", template=TEMPLATE_NAME, pattern=pattern)
            self._update_data_stream(roll_over=installed is None or installed[0] != TEMPLATE_VERSION)
        if not self._call(
            "state index exists", lambda: bool(self.client.indices.exists(index=self.state_index))
        ):
            try:
                self._call(
                    "create state index",
                    lambda: self.client.indices.create(
                        index=self.state_index,
                        mappings=STATE_MAPPINGS,
                        settings={"index": {"auto_expand_replicas": "0-1", "hidden": False}},
                    ),
                )
            except StoreError as exc:
                cause = exc.__cause__
                if cause is None or error_type(cause)[0] != "resource_already_exists_exception":
                    raise  # another replica creating it at the same moment is fine, anything else is not

    def _lifecycle(self) -> dict[str, Any]:
        """The data stream lifecycle: rollover, and deletion past the retention when one is set."""
        if self.alert_retention:
            return {"enabled": True, "data_retention": self.alert_retention}
        return {"enabled": True}

    def _template(self) -> dict[str, Any]:
        return {
            # Elasticsearch 9 makes every new logs-*-* data stream logsdb, whose synthetic _source
            # turns hunter.events (objects in an array) into one object of arrays and sorts keyword
            # arrays: alerts must read back as written.
            "settings": {"index": {"mode": "standard", "auto_expand_replicas": "0-1"}},
            "mappings": alert_mappings(),
            "lifecycle": self._lifecycle(),
        }

    def _installed_template(self) -> tuple[int, dict[str, Any] | None] | None:
        """The installed template's version and lifecycle (None when there is no template)."""
        try:
            response = self.client.indices.get_index_template(name=TEMPLATE_NAME)
        except NotFoundError:
            return None
        for item in response.body.get("index_templates", []):
            template = item.get("index_template", {})
            meta = template.get("_meta") or {}
            return int(meta.get("version", 0)), (template.get("template") or {}).get("lifecycle")
        return None

    def _update_data_stream(self, *, roll_over: bool) -> None:
        """Bring an existing alert data stream up to the template just installed."""
        try:
            self._call("get data stream", lambda: self.client.indices.get_data_stream(name=self.data_stream))
        except NotFoundError:
            return  # created from the new template by the first alert
        if roll_over:
            self._call(
                "roll over the alert data stream",
                lambda: self.client.indices.rollover(alias=self.data_stream),
            )
            log.info("rolled the alert data stream over onto the new template", data_stream=self.data_stream)
        self._call(
            "put data stream lifecycle",
            lambda: self.client.indices.put_data_lifecycle(
                name=self.data_stream, data_retention=self.alert_retention, enabled=True
            ),
        )

    def close(self) -> None:
        """Close the client's connections."""
        self.client.close()

    # ---- plumbing -------------------------------------------------------------------------------

    def _call(self, what: str, function: Callable[[], Any]) -> Any:
        try:
            return self.retrier.call(what, function)
        except (NotFoundError, ConflictError):
            raise
        except Exception as exc:
            if isinstance(exc, ApiError) or is_transient(exc):
                raise StoreError(f"{what}: {describe(exc)}") from exc
            raise

    def _search(self, index: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        """Hits of a search that saw every shard: a lookup that missed a backing index would let a
        second copy of an alert be created, so a partial answer is an error, never a result."""
        response = self._call(
            f"search {index}",
            lambda: self.client.search(
                index=index,
                ignore_unavailable=True,
                allow_no_indices=True,
                allow_partial_search_results=False,
                **body,
            ),
        )
        shards = response.body.get("_shards") or {}
        if shards.get("failed"):
            reasons = sorted({str((f.get("reason") or {}).get("type")) for f in shards.get("failures") or []})
            failed = f"{shards['failed']} of {shards.get('total')} shards failed"
            raise StoreError(f"search {index}: {failed} ({', '.join(reasons)})")
        hits: list[dict[str, Any]] = response.body["hits"]["hits"]
        return hits

    def _bulk(self, what: str, operations: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Send bulk operations; retry items that failed with a retryable status; return final items."""
        pending = list(range(0, len(operations), 2))
        results: dict[int, dict[str, Any]] = {}
        for attempt in range(1, self.retrier.attempts + 1):
            ops: list[dict[str, Any]] = []
            for position in pending:
                ops.extend(operations[position : position + 2])
            response = self._call(
                what, functools.partial(self.client.bulk, operations=ops, refresh="wait_for")
            )
            retry: list[int] = []
            for position, item in zip(pending, response.body["items"], strict=True):
                action = next(iter(item.values()))
                results[position] = action
                if action.get("status") in _RETRYABLE_ITEM and attempt < self.retrier.attempts:
                    retry.append(position)
            if not retry:
                break
            log.info(
                "bulk items rejected for now; retrying them", what=what, items=len(retry), attempt=attempt
            )
            self.retrier.sleep(min(self.retrier.max_delay, self.retrier.backoff * 2 ** (attempt - 1)))
            pending = retry
        return [results[position] for position in range(0, len(operations), 2)]

    # ---- alerts ---------------------------------------------------------------------------------

    def get(self, ids: Collection[str]) -> dict[str, dict[str, Any]]:
        """The stored alerts among ``ids``, looked up across every backing index of the data stream."""
        wanted = list(dict.fromkeys(ids))
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(wanted), 1000):
            chunk = wanted[start : start + 1000]
            hits = self._search(
                self.data_stream,
                {"query": {"ids": {"values": chunk}}, "size": len(chunk) * 2, "seq_no_primary_term": True},
            )
            for hit in hits:
                alert_id = hit["_id"]
                previous = self._where.get(alert_id)
                if alert_id in found and previous and previous[0] > hit["_index"]:
                    continue  # one id in two backing indices (an old rollover duplicate): keep the newest
                found[alert_id] = hit["_source"]
                self._where[alert_id] = (hit["_index"], hit["_seq_no"], hit["_primary_term"])
        return found

    def find_suppressor(self, hunt_id: str, key: str, since_ns: int, until_ns: int) -> dict[str, Any] | None:
        """The earliest alert of ``hunt_id`` with suppression ``key`` first seen in ``since_ns..until_ns``."""
        bounds = {
            "gte": format_date_ns(since_ns, nanos=True),
            "lte": format_date_ns(until_ns, nanos=True),
            "format": "strict_date_optional_time_nanos",
        }
        hits = self._search(
            self.data_stream,
            {
                "query": {
                    "bool": {
                        "filter": [
                            {"term": {"hunter.hunt.id": hunt_id}},
                            {"term": {"hunter.suppression.key": key}},
                            {"range": {"hunter.first_seen": bounds}},
                        ]
                    }
                },
                "sort": [{"hunter.first_seen": "asc"}],
                "size": 1,
                "seq_no_primary_term": True,
            },
        )
        if not hits:
            return None
        hit = hits[0]
        # an alert read already (get) keeps that read's version, as in the SQLite store
        self._where.setdefault(hit["_id"], (hit["_index"], hit["_seq_no"], hit["_primary_term"]))
        source: dict[str, Any] = hit["_source"]
        return source

    def suppressed_by(self, ids: Collection[str]) -> dict[str, str]:
        """For those of ``ids`` recorded as folded into another alert: that alert's id."""
        wanted = [f"suppressed-{alert_id}" for alert_id in dict.fromkeys(ids)]
        found: dict[str, str] = {}
        for start in range(0, len(wanted), 1000):
            chunk = wanted[start : start + 1000]
            hits = self._search(self.state_index, {"query": {"ids": {"values": chunk}}, "size": len(chunk)})
            for hit in hits:
                source = hit["_source"]
                found[str(source["alert_id"])] = str(source["suppressor_id"])
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
        """Create new alerts (each after its pending notice) and update changed ones, idempotently.

        Records of folded findings are written first (a crash after them leaves a record whose
        suppressor may not count the finding yet: the runner counts a recorded finding that its
        suppressor does not list, so the next run completes the fold).
        """
        if suppressed:
            now = self.clock_ns()
            record_ops: list[dict[str, Any]] = []
            for alert_id, target in suppressed.items():
                record_ops += [
                    {"create": {"_index": self.state_index, "_id": f"suppressed-{alert_id}"}},
                    {
                        "type": "suppressed",
                        "alert_id": alert_id,
                        "hunt_id": hunt_id,
                        "suppressor_id": target,
                        "created_ns": now,
                    },
                ]
            items = self._bulk("record suppressed findings", record_ops)
            self._check_items("record suppressed findings", items, ok_conflict=True)
        made: list[str] = []
        if created and notify:
            now = self.clock_ns()
            notice_ops: list[dict[str, Any]] = []
            for doc in created:
                alert_id = alert_id_of(doc)
                notice_ops += [
                    {"create": {"_index": self.state_index, "_id": f"notice-{alert_id}"}},
                    {
                        "type": "notice",
                        "alert_id": alert_id,
                        "hunt_id": hunt_id,
                        "status": "pending",
                        "attempts": 0,
                        "created_ns": now,
                        "updated_ns": now,
                    },
                ]
            self._check_items("record notices", self._bulk("record notices", notice_ops), ok_conflict=True)
        if created:
            alert_ops: list[dict[str, Any]] = []
            for doc in created:
                written = as_written(doc, self.clock_ns(), created=True)
                alert_ops += [{"create": {"_index": self.data_stream, "_id": alert_id_of(doc)}}, written]
            items = self._bulk("create alerts", alert_ops)
            self._check_items("create alerts", items, ok_conflict=True)
            made = [item["_id"] for item in items if item.get("status") == 201]
        changed: list[str] = []
        # A create that found the id taken lost a race with another replica (or repeats our own
        # earlier attempt): the runner reads that alert, merges this finding in and updates it.
        conflicts: list[str] = [item["_id"] for item in items if item.get("status") == 409] if created else []
        if updated:
            ops: list[dict[str, Any]] = []
            for doc in updated:
                alert_id = alert_id_of(doc)
                where = self._where.get(alert_id) or self._locate(alert_id)
                if where is None:
                    log.warning("alert to update is gone; skipped", alert=alert_id)
                    continue
                index, seq_no, primary_term = where
                ops += [
                    {
                        "index": {
                            "_index": index,
                            "_id": alert_id,
                            "if_seq_no": seq_no,
                            "if_primary_term": primary_term,
                        }
                    },
                    as_written(doc, 0, created=False),
                ]
            if ops:
                items = self._bulk("update alerts", ops)
                self._check_items("update alerts", items, ok_conflict=True)
                for item in items:
                    if item.get("status") in (200, 201):
                        changed.append(item["_id"])
                        self._where[item["_id"]] = (item["_index"], item["_seq_no"], item["_primary_term"])
                    elif item.get("status") == 409:
                        conflicts.append(item["_id"])  # the runner reads, merges and writes it again
                        self._where.pop(item["_id"], None)
        return SaveResult(tuple(made), tuple(changed), tuple(conflicts))

    def _locate(self, alert_id: str) -> tuple[str, int, int] | None:
        self.get([alert_id])
        return self._where.get(alert_id)

    @staticmethod
    def _check_items(what: str, items: Sequence[Mapping[str, Any]], *, ok_conflict: bool) -> None:
        failed = [
            item
            for item in items
            if item.get("status", 500) >= 300 and not (ok_conflict and item.get("status") == 409)
        ]
        if failed:
            first = failed[0].get("error") or {}
            raise StoreError(
                f"{what}: {len(failed)} of {len(items)} item(s) failed, e.g. {failed[0].get('_id')}: "
                f"{failed[0].get('status')} {first.get('type', '')}: {first.get('reason', '')}"
            )

    def all(
        self, *, hunt_id: str | None = None, since_ns: int | None = None, limit: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Alerts oldest first by first seen (then id): of one hunt, since a time, at most ``limit``."""
        filters: list[dict[str, Any]] = []
        if hunt_id is not None:
            filters.append({"term": {"hunter.hunt.id": hunt_id}})
        if since_ns is not None:
            since = format_date_ns(since_ns, nanos=True)
            filters.append(
                {"range": {"hunter.first_seen": {"gte": since, "format": "strict_date_optional_time_nanos"}}}
            )
        query: dict[str, Any] = {"bool": {"filter": filters}} if filters else {"match_all": {}}
        left = limit
        after: list[Any] | None = None
        while left is None or left > 0:
            page = 1000 if left is None else min(1000, left)
            body: dict[str, Any] = {
                "query": query,
                "size": page,
                "sort": [{"hunter.first_seen": "asc"}, {"hunter.alert_id": "asc"}],
            }
            if after is not None:
                body["search_after"] = after
            hits = self._search(self.data_stream, body)
            for hit in hits:
                yield hit["_source"]
            if left is not None:
                left -= len(hits)
            if len(hits) < page:
                return
            after = hits[-1]["sort"]

    # ---- state documents ------------------------------------------------------------------------

    def _get_state(self, doc_id: str) -> tuple[dict[str, Any], int, int] | None:
        try:
            response = self._call(
                f"get {doc_id}", lambda: self.client.get(index=self.state_index, id=doc_id, realtime=True)
            )
        except NotFoundError:
            return None
        return response.body["_source"], response.body["_seq_no"], response.body["_primary_term"]

    def _put_state(self, doc_id: str, doc: dict[str, Any], version: tuple[int, int] | None) -> bool:
        """Create (``version`` None) or replace at a version; False when another writer won."""
        try:
            if version is None:
                self._call(
                    f"create {doc_id}",
                    lambda: self.client.create(
                        index=self.state_index, id=doc_id, document=doc, refresh="wait_for"
                    ),
                )
            else:
                self._call(
                    f"update {doc_id}",
                    lambda: self.client.index(
                        index=self.state_index,
                        id=doc_id,
                        document=doc,
                        if_seq_no=version[0],
                        if_primary_term=version[1],
                        refresh="wait_for",
                    ),
                )
        except ConflictError:
            return False
        return True

    def checkpoint(self, hunt_id: str) -> int | None:
        """Where the hunt's last completed window ended (epoch ns), if it ever ran."""
        found = self._get_state(f"checkpoint-{hunt_id}")
        return int(found[0]["end_ns"]) if found else None

    def set_checkpoint(self, hunt_id: str, end_ns: int) -> None:
        """Move the hunt's checkpoint forward (never backwards), retrying lost races."""
        doc_id = f"checkpoint-{hunt_id}"
        for _ in range(10):
            found = self._get_state(doc_id)
            if found is not None and int(found[0]["end_ns"]) >= end_ns:
                return
            doc = {"type": "checkpoint", "hunt_id": hunt_id, "end_ns": end_ns, "updated_ns": self.clock_ns()}
            if self._put_state(doc_id, doc, None if found is None else (found[1], found[2])):
                return
        raise StoreError(f"could not move the checkpoint of {hunt_id}: too many concurrent writers")

    # ---- notices --------------------------------------------------------------------------------

    def claim_notices(self, owner: str, now_ns: int, limit: int, hunt_id: str | None = None) -> list[Notice]:
        """Pending notices (and abandoned claims), oldest first, claimed by ``owner`` (optimistically).

        A page holding only notices whose alert is not written yet (kept claimed, out of the way)
        is followed by the next page, so such notices never hide deliverable ones.
        """
        for _page in range(10):
            notices, full = self._claim_page(owner, now_ns, limit, hunt_id)
            if notices or not full:
                return notices
        return []

    def _claim_page(
        self, owner: str, now_ns: int, limit: int, hunt_id: str | None
    ) -> tuple[list[Notice], bool]:
        filters: list[dict[str, Any]] = [{"term": {"type": "notice"}}]
        if hunt_id is not None:
            filters.append({"term": {"hunt_id": hunt_id}})
        stale = now_ns - self.claim_ttl_ns
        hits = self._search(
            self.state_index,
            {
                "query": {
                    "bool": {
                        "filter": filters,
                        "should": [
                            {"term": {"status": "pending"}},
                            {
                                "bool": {
                                    "filter": [
                                        {"term": {"status": "sending"}},
                                        {"range": {"claimed_ns": {"lt": stale}}},
                                    ]
                                }
                            },
                        ],
                        "minimum_should_match": 1,
                    }
                },
                "sort": [{"created_ns": "asc"}, {"alert_id": "asc"}],
                "size": limit,
                "seq_no_primary_term": True,
            },
        )
        claimed: list[dict[str, Any]] = []
        for hit in hits:
            doc = dict(hit["_source"])
            doc.update(status="sending", claimed_by=owner, claimed_ns=now_ns, updated_ns=now_ns)
            doc["attempts"] = int(doc.get("attempts") or 0) + 1
            if self._put_state(hit["_id"], doc, (hit["_seq_no"], hit["_primary_term"])):
                claimed.append(doc)
        full = len(hits) >= limit
        if not claimed:
            return [], full
        alerts = self.get([doc["alert_id"] for doc in claimed])
        notices: list[Notice] = []
        abandoned: list[str] = []
        for doc in claimed:
            alert = alerts.get(doc["alert_id"])
            if alert is None:
                # Its alert is not written (yet): the save that recorded the notice failed before
                # the alert. The claim is kept, so the notice is looked at again after the claim
                # expires (not at the head of every batch); after ORPHAN_AFTER it is parked.
                if now_ns - int(doc["created_ns"]) > ORPHAN_AFTER_NS:
                    abandoned.append(doc["alert_id"])
                continue
            created = datetime.fromtimestamp(int(doc["created_ns"]) / 1e9, tz=UTC)
            notices.append(Notice(doc["alert_id"], doc["hunt_id"], alert, created))
        if abandoned:
            log.warning("notices whose alert was never written are parked as failed", alerts=abandoned)
            self.record_delivery(
                Delivery(tuple(abandoned), Outcome.FAILED, "its alert was never written"), now_ns, owner
            )
        return notices, full

    def record_delivery(self, delivery: Delivery, now_ns: int, owner: str | None = None) -> None:
        """Mark the notices of one delivery sent, failed (parked for good), or pending again."""
        status = {Outcome.SENT: "sent", Outcome.FAILED: "failed", Outcome.RETRY: "pending"}[delivery.outcome]
        for alert_id in delivery.alert_ids:
            doc_id = f"notice-{alert_id}"
            for _ in range(10):
                found = self._get_state(doc_id)
                if found is None or found[0].get("status") == "sent":
                    break
                stale = owner is not None and delivery.outcome is not Outcome.SENT
                if stale and found[0].get("claimed_by") != owner:
                    break
                doc = dict(found[0])
                doc.update(
                    status=status, claimed_by=None, updated_ns=now_ns, last_error=delivery.detail or None
                )
                if self._put_state(doc_id, doc, (found[1], found[2])):
                    break
            else:
                raise StoreError(
                    f"could not record the delivery of notice {alert_id}: too many concurrent writers"
                )

    def notice_counts(self) -> dict[str, int]:
        """Notices by status."""
        counts: dict[str, int] = {}
        for status in ("pending", "sending", "sent", "failed"):
            response = self._call(
                "count notices",
                functools.partial(
                    self.client.count,
                    index=self.state_index,
                    query={"bool": {"filter": [{"term": {"type": "notice"}}, {"term": {"status": status}}]}},
                    ignore_unavailable=True,
                    allow_no_indices=True,
                ),
            )
            counts[status] = int(response.body["count"])
        return counts

    def _state_hits(self, filters: list[dict[str, Any]], sort: list[Any]) -> Iterator[dict[str, Any]]:
        """Every state document matching ``filters``, in ``sort`` order (paged with search_after)."""
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {
                "query": {"bool": {"filter": filters}},
                "size": 1000,
                "sort": sort,
                "seq_no_primary_term": True,
            }
            if after is not None:
                body["search_after"] = after
            hits = self._search(self.state_index, body)
            yield from hits
            if len(hits) < 1000:
                return
            after = hits[-1]["sort"]

    def notices(self, *, status: str | None = None, hunt_id: str | None = None) -> list[NoticeRecord]:
        """The notices of the outbox, oldest first, of one status and hunt when given."""
        filters: list[dict[str, Any]] = [{"term": {"type": "notice"}}]
        if status is not None:
            filters.append({"term": {"status": status}})
        if hunt_id is not None:
            filters.append({"term": {"hunt_id": hunt_id}})
        records = []
        for hit in self._state_hits(filters, [{"created_ns": "asc"}, {"alert_id": "asc"}]):
            doc = hit["_source"]
            records.append(
                NoticeRecord(
                    str(doc["alert_id"]),
                    str(doc.get("hunt_id", "")),
                    str(doc.get("status", "")),
                    int(doc.get("attempts") or 0),
                    doc.get("last_error"),
                    int(doc.get("created_ns") or 0),
                    int(doc.get("updated_ns") or 0),
                )
            )
        return records

    def requeue_notices(self, *, hunt_id: str | None = None) -> int:
        """Failed (parked) notices back to pending, each with optimistic concurrency; how many."""
        count = 0
        now = self.clock_ns()
        for record in self.notices(status="failed", hunt_id=hunt_id):
            doc_id = f"notice-{record.alert_id}"
            found = self._get_state(doc_id)
            if found is None or found[0].get("status") != "failed":
                continue
            doc = dict(found[0], status="pending", claimed_by=None, updated_ns=now)
            if self._put_state(doc_id, doc, (found[1], found[2])):
                count += 1
        return count

    def clean_up(self, now_ns: int, keep_ns: int) -> int:
        """Delete notices sent and leases expired more than ``keep_ns`` ago (bulk deletes); how many."""
        cutoff = now_ns - keep_ns
        done = [
            *self._state_hits(
                [
                    {"term": {"type": "notice"}},
                    {"term": {"status": "sent"}},
                    {"range": {"updated_ns": {"lt": cutoff}}},
                ],
                [{"updated_ns": "asc"}],
            ),
            *self._state_hits(
                [{"term": {"type": "lease"}}, {"range": {"expires_ns": {"lt": cutoff}}}],
                [{"expires_ns": "asc"}],
            ),
        ]
        if not done:
            return 0
        operations: list[dict[str, Any]] = []
        for hit in done:
            # only the version found done: a lease renewed (or a notice requeued) meanwhile stays
            where = {"_index": self.state_index, "_id": hit["_id"]}
            where.update(if_seq_no=hit["_seq_no"], if_primary_term=hit["_primary_term"])
            operations += [{"delete": where}]
        response = self._call("clean up state", functools.partial(self.client.bulk, operations=operations))
        return sum(1 for item in response.body["items"] if item.get("delete", {}).get("status") == 200)

    # ---- leases ---------------------------------------------------------------------------------

    def mark_incomplete(self, hunt_id: str, now_ns: int) -> int:
        """Start the hunt's incomplete streak at ``now_ns`` unless one is going; its start."""
        doc_id = f"incomplete-{hunt_id}"
        for _ in range(3):
            found = self._get_state(doc_id)
            if found is not None:
                return int(found[0]["since_ns"])
            doc = {"type": "incomplete", "hunt_id": hunt_id, "since_ns": now_ns, "updated_ns": now_ns}
            if self._put_state(doc_id, doc, None):
                return now_ns
        raise StoreError(f"could not record the incomplete streak of {hunt_id}: too many concurrent writers")

    def clear_incomplete(self, hunt_id: str) -> None:
        """End the hunt's incomplete streak."""
        doc_id = f"incomplete-{hunt_id}"
        with contextlib.suppress(NotFoundError):  # no streak going: nothing to end
            self._call(
                f"delete {doc_id}",
                lambda: self.client.delete(index=self.state_index, id=doc_id, refresh="wait_for"),
            )

    def acquire_lease(self, hunt_id: str, owner: str, now_ns: int, ttl_ns: int) -> bool:
        """Take or renew the hunt's lease; False while another owner holds an unexpired one."""
        doc_id = f"lease-{hunt_id}"
        found = self._get_state(doc_id)
        if (
            found is not None
            and found[0].get("owner") != owner
            and int(found[0].get("expires_ns", 0)) > now_ns
        ):
            return False
        doc = {
            "type": "lease",
            "hunt_id": hunt_id,
            "owner": owner,
            "expires_ns": now_ns + ttl_ns,
            "updated_ns": now_ns,
        }
        return self._put_state(doc_id, doc, None if found is None else (found[1], found[2]))

    def release_lease(self, hunt_id: str, owner: str) -> None:
        """Give the lease up if ``owner`` still holds it."""
        doc_id = f"lease-{hunt_id}"
        found = self._get_state(doc_id)
        if found is None or found[0].get("owner") != owner:
            return
        doc = dict(found[0], expires_ns=0, updated_ns=self.clock_ns())
        self._put_state(doc_id, doc, (found[1], found[2]))
