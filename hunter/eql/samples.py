"""``sample by``: one distinct event per filter sharing a join key, ordered by key.

Within a key, candidates of each filter keep their input order and samples are built as the
first combinations (depth first) of distinct documents, up to ``max_samples_per_key``.
Elasticsearch leaves that choice open (its spec accepts several outcomes); this one is stable.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

Key = tuple[Any, ...]


def build_samples(
    per_key: dict[Key, list[list[tuple[int, Any]]]],
    filters: int,
    max_per_key: int,
    limit: int,
    key_order: Any,
) -> list[tuple[Key, list[Any]]]:
    """Samples as ``(key, [hit per filter])``, keys ascending, at most ``limit`` in all."""
    results: list[tuple[Key, list[Any]]] = []
    if limit <= 0:
        return results
    for key in sorted(per_key, key=key_order):
        candidates = per_key[key]
        if len(candidates) < filters or any(not c for c in candidates):
            continue
        for combination in _combinations(candidates, max_per_key):
            results.append((key, combination))
            if len(results) >= limit:
                return results
    return results


def _combinations(candidates: Sequence[list[tuple[int, Any]]], wanted: int) -> Iterator[list[Any]]:
    produced = 0
    chosen: list[tuple[int, Any]] = []
    used: set[int] = set()

    def walk(depth: int) -> Iterator[list[Any]]:
        nonlocal produced
        if depth == len(candidates):
            produced += 1
            yield [hit for _, hit in chosen]
            return
        for position, hit in candidates[depth]:
            if position in used:
                continue
            chosen.append((position, hit))
            used.add(position)
            yield from walk(depth + 1)
            used.discard(position)
            chosen.pop()
            if produced >= wanted:
                return

    for combination in walk(0):
        yield combination
        if produced >= wanted:
            return
