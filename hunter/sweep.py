"""Hunts run once over a range without touching state: ``hunter hunt`` and ``hunter preview``.

The same pipeline as a scheduled run (search, exceptions, dedup, suppression, alert documents)
with an in-memory store and no notices, so what it prints is what a run would alert.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, overload

import orjson

from .alerts import AlertRenderer
from .config import Settings
from .dedup import apply_exceptions, findings
from .eql import paused_collector
from .hunts import Hunt
from .notify import Delivery, Notice
from .results import QueryResult, Searcher, Window
from .runner import Runner, RunSummary
from .store.sqlite import SqliteStore


@dataclass
class HuntOutcome:
    """What one hunt found in a sweep."""

    hunt: Hunt
    hits: list[tuple[str, int]]  # each query's name and its matches (after the hunt's exceptions)
    excluded: int
    documents: Documents
    searched: int | None  # events the hunt's indices and window held (None: unknown, a cluster)


@dataclass
class Sweep:
    """Every hunt's outcome, and all their alert documents oldest first."""

    outcomes: list[HuntOutcome] = field(default_factory=list)

    @property
    def documents(self) -> list[dict[str, Any]]:
        """The alert documents of every hunt, by first seen then id."""
        return sorted((doc for outcome in self.outcomes for doc in outcome.documents), key=order)

    def lines(self) -> list[bytes]:
        """:attr:`documents` as JSON, each as the process that built it wrote it, in the same order
        (with the collector paused: a collection would walk every document, match and rule held)."""
        with paused_collector():
            every = [pair for outcome in self.outcomes for pair in outcome.documents.encoded()]
            every.sort(key=lambda pair: pair[0])
            return [text for _order, text in every]


class Documents(Sequence[dict[str, Any]]):
    """A hunt's alert documents. Those a forked search helper built cross the pipe as one JSON text
    each, with the key they are ordered by (pickle walks every value of thousands of nested
    documents: 1.4 s for 5,000 of 7 KB), and are parsed only when read; written out, they are
    written as they came (:meth:`Sweep.lines`)."""

    __slots__ = ("_documents", "_encoded")

    def __init__(
        self,
        documents: list[dict[str, Any]] | None = None,
        encoded: list[tuple[tuple[str, str], bytes]] | None = None,
    ) -> None:
        self._documents = documents
        self._encoded = encoded  # (order, JSON text) of each document, when they came so

    @classmethod
    def of(cls, documents: list[dict[str, Any]]) -> Documents:
        """``documents`` as JSON at once (where they were built: the two processes of a split pass
        each write theirs while the other is still busy, not one after the other at the end), or as
        they are when orjson cannot write them (an integer past 64 bits)."""
        built = cls(documents)
        try:
            return cls(None, built.encoded())
        except TypeError:
            return built

    def __len__(self) -> int:
        return len(self._documents if self._documents is not None else self._encoded or ())

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        return self._listed()[index]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._listed())

    def encoded(self) -> list[tuple[tuple[str, str], bytes]]:
        """Each document's place in the output order (:func:`order`) and its JSON text (orjson's)."""
        if self._encoded is not None:
            return self._encoded
        return [(order(document), orjson.dumps(document)) for document in self._listed()]

    def _listed(self) -> list[dict[str, Any]]:
        if self._documents is None:
            self._documents = [orjson.loads(text) for _order, text in self._encoded or ()]
        return self._documents

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        try:
            return Documents, (None, self.encoded())
        except TypeError:  # not JSON after all (an integer past 64 bits): pickled as they are
            return Documents, (self._listed(), None)


def order(document: Mapping[str, Any]) -> tuple[str, str]:
    """Where an alert document goes in a sweep's output: by first seen (its @timestamp), then id."""
    event = document.get("event")
    return document.get("@timestamp", ""), event.get("id", "") if isinstance(event, dict) else ""


class _NoNotices:
    """A sweep announces nothing: its output is the alert documents."""

    def send(self, notices: Sequence[Notice], on_delivery: Any = None) -> list[Delivery]:
        return []


def sweep(
    settings: Settings,
    hunts: Sequence[Hunt],
    searcher: Searcher,
    window: Window | None,
    *,
    disabled_too: bool = False,
) -> Sweep:
    """Run every enabled hunt (``disabled_too``: every hunt) once over ``window`` (None: every event
    there is) with no state."""
    renderer = AlertRenderer(settings.templates)
    runners: dict[int, Runner] = {}  # process id -> its runner: a forked helper builds its own store
    now = datetime.now(UTC)

    def finish(hunt: Hunt, results: list[QueryResult]) -> tuple[list[tuple[str, int]], int, Documents]:
        # runs where the hunt was searched (a forked helper's answer comes back pickled: counts and
        # documents, not the matched events)
        runner = runners.get(os.getpid())
        if runner is None:
            runner = runners[os.getpid()] = Runner(
                searcher=searcher,
                store=SqliteStore(Path(":memory:")),
                notifier=_NoNotices(),
                renderer=renderer,
                schedule=settings.schedule,
                owner="sweep",
            )
        kept, excluded = apply_exceptions(hunt.exceptions, results)
        batch = runner.alert_documents(hunt, findings(hunt, kept), window, now, RunSummary(hunt.id))
        return [(result.query, len(result.matches)) for result in kept], excluded, Documents.of(batch.created)

    enabled = [hunt for hunt in hunts if hunt.enabled or disabled_too]
    # local files: every hunt in one read, alert documents built where each hunt was searched
    search_and_finish = getattr(searcher, "search_and_finish", None)
    try:
        if search_and_finish is not None:
            done = search_and_finish([(hunt, window) for hunt in enabled], finish)
        else:
            done = {hunt.id: finish(hunt, searcher.search(hunt, window)) for hunt in enabled}
    finally:
        for runner in runners.values():
            runner.store.close()
    counts: dict[str, int] | None = getattr(searcher, "searched", None)
    result = Sweep()
    for hunt in enabled:
        hits, excluded, documents = done[hunt.id]
        searched = None if counts is None else counts.get(hunt.id, 0)
        result.outcomes.append(HuntOutcome(hunt, hits, excluded, documents, searched))
    return result
