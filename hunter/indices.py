"""Index patterns as Elasticsearch resolves them, for event files and coverage in embedded mode.

A hunt names where it searches as Elasticsearch index expressions: ``logs-endpoint.events.*``,
comma lists (``winlogbeat-*,auditbeat-*``), exclusions (``-*elastic-cloud-logs-*``). Elasticsearch
resolves them in order (``IndexNameExpressionResolver``): a ``-`` expression removes what earlier
expressions added, but only after a wildcard expression was seen (before that ``-x`` is just a
name); ``*`` is the only wildcard; a wildcard does not reach hidden dot-prefixed names unless the
expression itself starts with ``.``; and a data stream's backing index
(``.ds-<stream>-<yyyy.MM.dd>-<generation>``) is found through its data stream's name.

Locally, the index of an event is the hit's ``_index`` when the line is an Elasticsearch hit, else
the data stream ``{data_stream.type}-{data_stream.dataset}-{data_stream.namespace}`` when the event
carries those fields (as Elastic Agent data does), else the file name without its extensions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

_BACKING_INDEX = re.compile(r"^\.ds-(.+)-\d{4}\.\d{2}\.\d{2}-\d{6}$")


def data_stream_of(index: str) -> str | None:
    """The data stream a backing index (``.ds-<stream>-<date>-<generation>``) belongs to, if it is one."""
    found = _BACKING_INDEX.match(index)
    return found.group(1) if found else None


def data_stream_name(source: Mapping[str, Any]) -> str | None:
    """``{type}-{dataset}-{namespace}`` from an event's ``data_stream.*`` fields (nested or dotted)."""
    nested = source.get("data_stream")
    if nested.__class__ is dict:  # the usual event: three strings in one object
        kind, dataset, namespace = nested.get("type"), nested.get("dataset"), nested.get("namespace")
        strings = kind.__class__ is str and dataset.__class__ is str and namespace.__class__ is str
        if strings and kind and dataset and namespace:
            return f"{kind}-{dataset}-{namespace}"
    parts = []
    for key in ("type", "dataset", "namespace"):
        value = nested.get(key) if isinstance(nested, Mapping) else None
        if value is None:
            value = source.get(f"data_stream.{key}")
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if not isinstance(value, str) or not value:
            return None
        parts.append(value)
    return "-".join(parts)


class IndexPatterns:
    """A hunt's index expressions, matched against index names the way Elasticsearch expands them."""

    def __init__(self, expressions: Iterable[str]) -> None:
        self.expressions: tuple[str, ...] = tuple(
            part.strip() for expression in expressions for part in expression.split(",") if part.strip()
        )
        self._steps = _steps(self.expressions)
        self._cache: dict[str, bool] = {}

    def __repr__(self) -> str:
        return f"IndexPatterns({','.join(self.expressions)!r})"

    def matches(self, index: str) -> bool:
        """Whether a search over these expressions reaches ``index`` (remembered per name)."""
        known = self._cache.get(index)
        if known is None:
            known = self._cache[index] = self._resolve(index)
        return known

    def _resolve(self, index: str) -> bool:
        names = [index]
        stream = data_stream_of(index)
        if stream is not None:
            names.append(stream)
        included = False
        for exclude, pattern in self._steps:
            if any(_match(pattern, name) for name in names):
                included = not exclude
        return included


def search_targets(expressions: Iterable[str]) -> list[tuple[str, str]]:
    """Per including expression: (it, it joined with the exclusions that follow it), for reports
    that look at one pattern at a time (``hunter coverage``) without losing the exclusions."""
    steps = _steps(IndexPatterns(expressions).expressions)
    targets = []
    for position, (exclude, pattern) in enumerate(steps):
        if not exclude:
            later = [f"-{other}" for excluded, other in steps[position + 1 :] if excluded]
            targets.append((pattern, ",".join([pattern, *later])))
    return targets


def matches(expression: str, index: str) -> bool:
    """Whether the index expression (possibly a comma list) reaches ``index``."""
    return _patterns(expression).matches(index)


@lru_cache(maxsize=1024)
def _patterns(expression: str) -> IndexPatterns:
    return IndexPatterns([expression])


def _steps(expressions: tuple[str, ...]) -> list[tuple[bool, str]]:
    steps = []
    wildcard_seen = False
    for expression in expressions:
        exclude = expression.startswith("-") and wildcard_seen
        pattern = expression[1:] if exclude else expression
        steps.append((exclude, pattern))
        if "*" in pattern:
            wildcard_seen = True
    return steps


def _match(pattern: str, name: str) -> bool:
    if "*" not in pattern:
        return pattern == name
    if name.startswith(".") and not pattern.startswith("."):
        return False  # a wildcard does not expand to hidden dot-prefixed indices
    return _simple_match(pattern, name)


@lru_cache(maxsize=4096)
def _compiled(pattern: str) -> re.Pattern[str]:
    parts = re.split(r"(\*)", pattern)
    return re.compile("".join(".*" if part == "*" else re.escape(part) for part in parts))


def _simple_match(pattern: str, name: str) -> bool:
    """Elasticsearch's ``Regex.simpleMatch``: ``*`` matches any run of characters, nothing else is special."""
    return _compiled(pattern).fullmatch(name) is not None
