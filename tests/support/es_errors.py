"""Elasticsearch's error answers, as its exceptions render them: ``{"error": {...}, "status": n}``.

:class:`EsError` carries the status, ``type``, ``reason``, extra keys, ``caused_by`` and
``root_cause``; the helpers build the ones the test server raises, with the types and reasons of
the Java exceptions (``IllegalArgumentException`` is ``illegal_argument_exception``, an
``ObjectParser`` refusing a field is ``x_content_parse_exception`` with "did you mean"...).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

NODE_ID = "hunterTestNode00000000"


class EsError(Exception):
    """An Elasticsearch error answer: HTTP ``status``, error ``type``, ``reason`` and extra keys."""

    def __init__(
        self,
        status: int,
        type_: str,
        reason: str,
        extra: Mapping[str, Any] | None = None,
        *,
        root_cause: list[dict[str, Any]] | None = None,
        caused_by: dict[str, Any] | None = None,
        plain: bool = False,
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.type = type_
        self.reason = reason
        self.extra = dict(extra or {})
        self.root_cause = root_cause
        self.caused_by = caused_by
        self.plain = plain

    def cause(self) -> dict[str, Any]:
        """The error object as it appears in ``root_cause`` and in bulk items."""
        error = {"type": self.type, "reason": self.reason, **self.extra}
        if self.caused_by is not None:
            error["caused_by"] = self.caused_by
        return error

    def body(self) -> dict[str, Any]:
        """The response body (a bare string ``error`` for the REST layer's own refusals)."""
        if self.plain:
            return {"error": self.reason, "status": self.status}
        root = self.root_cause or [{"type": self.type, "reason": self.reason, **self.extra}]
        return {"error": {"root_cause": root, **self.cause()}, "status": self.status}


def illegal_argument(reason: str, extra: Mapping[str, Any] | None = None) -> EsError:
    """400 ``illegal_argument_exception``."""
    return EsError(400, "illegal_argument_exception", reason, extra)


def parsing_error(reason: str) -> EsError:
    """400 ``parsing_exception`` (a malformed query)."""
    return EsError(400, "parsing_exception", reason)


def validation(*messages: str) -> EsError:
    """400 ``action_request_validation_exception`` listing ``messages``."""
    listed = "".join(f"{n}: {m};" for n, m in enumerate(messages, 1))
    return EsError(400, "action_request_validation_exception", f"Validation Failed: {listed}")


def index_not_found(name: str, reason: str | None = None) -> EsError:
    """404 ``index_not_found_exception`` for ``name``."""
    extra = {"resource.type": "index_or_alias", "resource.id": name, "index_uuid": "_na_", "index": name}
    return EsError(404, "index_not_found_exception", reason or f"no such index [{name}]", extra)


def already_exists(reason: str, index: str, uuid: str = "_na_") -> EsError:
    """400 ``resource_already_exists_exception``."""
    return EsError(400, "resource_already_exists_exception", reason, {"index_uuid": uuid, "index": index})


def not_found(reason: str) -> EsError:
    """404 ``resource_not_found_exception``."""
    return EsError(404, "resource_not_found_exception", reason)


def shard_failure(status: int, cause: Mapping[str, Any], index: str) -> EsError:
    """A search that failed on every shard: ``search_phase_execution_exception`` around ``cause``."""
    failed = {"shard": 0, "index": index, "node": NODE_ID, "reason": dict(cause)}
    return EsError(
        status,
        "search_phase_execution_exception",
        "all shards failed",
        {"phase": "query", "grouped": True, "failed_shards": [failed]},
        root_cause=[dict(cause)],
        caused_by=dict(cause),
    )


def java_list(items: Iterable[Any]) -> str:
    """``[a, b]``: a Java collection's ``toString``."""
    return "[" + ", ".join(str(item) for item in items) + "]"


def similarity(left: str, right: str) -> float:
    """Lucene's ``LevenshteinDistance``: 1 minus the edit distance over the longer length."""
    if not left and not right:
        return 1.0
    previous = list(range(len(right) + 1))
    for i, a in enumerate(left, 1):
        current = [i]
        for j, b in enumerate(right, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a != b)))
        previous = current
    return 1.0 - previous[-1] / max(len(left), len(right))


def suggestions(wrong: str, candidates: Iterable[str], threshold: float = 0.5) -> list[str]:
    """Candidates close to ``wrong``, best first (ties by name), as Elasticsearch suggests them."""
    scored = [(similarity(wrong, c), c) for c in set(candidates)]
    return [c for score, c in sorted(scored, key=lambda t: (-t[0], t[1])) if score > threshold]


def unknown_field(parser: str, name: str, known: Iterable[str], location: str = "[1:2]") -> EsError:
    """400 ``x_content_parse_exception``: ``[parser] unknown field [name]`` (+ "did you mean")."""
    reason = f"{location} [{parser}] unknown field [{name}]"
    close = suggestions(name, known)
    if close:
        reason += f" did you mean {'any of ' + java_list(close) if len(close) > 1 else '[' + close[0] + ']'}?"
    return EsError(400, "x_content_parse_exception", reason)


def unrecognized_parameters(path: str, wrong: Iterable[str], candidates: Iterable[str]) -> EsError:
    """400 ``illegal_argument_exception``: ``request [path] contains unrecognized parameter(s): ...``."""
    names = sorted(wrong)
    listed = []
    for name in names:
        text = f"[{name}]"
        close = suggestions(name, candidates)
        if close:
            text += f" -> did you mean {'any of ' if len(close) > 1 else ''}{java_list(close)}?"
        listed.append(text)
    plural = "s" if len(names) > 1 else ""
    return illegal_argument(f"request [{path}] contains unrecognized parameter{plural}: {', '.join(listed)}")


def location_of(raw: str, key: str) -> str:
    """``[line:column]`` of the first ``"key"`` in a JSON text (``[1:2]`` when not found)."""
    position = raw.find(f'"{key}"')
    if position < 0:
        return "[1:2]"
    line = raw.count("\n", 0, position) + 1
    column = position - (raw.rfind("\n", 0, position) + 1) + 1
    return f"[{line}:{column}]"
