"""The Elasticsearch client hunter uses, and how its failures are told apart and retried.

Timeouts, dropped connections, 429 and 5xx are transient: retried here with exponential backoff
and jitter (``Retry-After`` honoured), then given up as :class:`TransientSearchError` or
:class:`StoreError` so the run ends without moving the checkpoint. The client's own retries are
turned off so that backoff, jitter and the count are in one place.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog
from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch

from .config import Settings
from .errors import ConfigError

log = structlog.get_logger(__name__)
T = TypeVar("T")

TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def build_client(settings: Settings) -> Elasticsearch:
    """A client for the configured cluster (TLS verification on unless turned off; auth from env)."""
    config = settings.elasticsearch
    options: dict[str, Any] = {
        "hosts": list(config.hosts),
        "request_timeout": config.request_timeout,
        "max_retries": 0,
        "retry_on_timeout": False,
        "verify_certs": config.verify_certs,
    }
    if config.ca_certs is not None:
        try:
            with config.ca_certs.open("rb") as handle:
                handle.read(1)
        except OSError as exc:
            raise ConfigError(
                f"elasticsearch.ca_certs: cannot read {config.ca_certs}: {exc.strerror or exc}"
            ) from exc
        options["ca_certs"] = str(config.ca_certs)
    api_key = settings.api_key()
    if api_key:
        options["api_key"] = api_key
    elif config.username and config.password is not None:
        options["basic_auth"] = (config.username, config.password.get_secret_value())
    return Elasticsearch(**options)


def status_of(exc: BaseException) -> int | None:
    """The HTTP status of a client error (None for connection problems)."""
    if isinstance(exc, ApiError):
        return int(exc.meta.status)
    return None


def error_type(exc: BaseException) -> tuple[str, str]:
    """Elasticsearch's ``error.type`` and ``error.reason`` of a client error."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        return str(error.get("type", "")), str(error.get("reason", ""))
    return type(exc).__name__, str(exc)


class PartialResultsError(Exception):
    """A response with shard failures: the answer is incomplete, so it is retried like a 503.

    ``hits`` is what the healthy shards answered (the last attempt's, once retries are spent).
    """

    def __init__(self, failures: list[dict[str, Any]], hits: Any = None) -> None:
        self.failures = failures
        self.hits = hits
        reasons = {str((failure.get("reason") or {}).get("type", "unknown")) for failure in failures}
        super().__init__(", ".join(sorted(reasons)) or "partial results")


def is_transient(exc: BaseException) -> bool:
    """Timeouts, connection errors, 408/429/5xx, partial results."""
    if isinstance(exc, PartialResultsError):
        return True
    if isinstance(exc, TransportConnectionError | TransportError) and not isinstance(exc, ApiError):
        return True
    status = status_of(exc)
    return status is not None and status in TRANSIENT_STATUSES


def _retry_after(exc: BaseException) -> float | None:
    if not isinstance(exc, ApiError):
        return None
    value = exc.meta.headers.get("Retry-After") if exc.meta.headers else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


@dataclass
class Retrier:
    """Calls a function, retrying transient failures with backoff and jitter (sleep is injectable)."""

    attempts: int = 4  # first try + retries
    backoff: float = 1.0
    max_delay: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)
    retried: int = 0

    def call(self, what: str, function: Callable[[], T]) -> T:
        """``function()``, retried on transient errors; the last transient error is re-raised."""
        for attempt in range(1, self.attempts + 1):
            try:
                return function()
            except Exception as exc:
                if not is_transient(exc) or attempt == self.attempts:
                    raise
                delay = _retry_after(exc)
                if delay is None:
                    delay = self.backoff * 2 ** (attempt - 1) * self.rng.uniform(0.5, 1.5)
                delay = min(self.max_delay, delay)
                self.retried += 1
                log.info(
                    "transient Elasticsearch error; retrying",
                    what=what,
                    attempt=attempt,
                    delay_s=round(delay, 3),
                    error=describe(exc),
                )
                self.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover


def describe(exc: BaseException) -> str:
    """A short text of a client error: status, ES error type and reason, or the connection problem
    with its underlying cause (the client says only "TLS error" or "Connection error")."""
    status = status_of(exc)
    if status is None:
        cause = _cause(exc)
        return f"{type(exc).__name__}: {exc}" + (f" ({cause})" if cause else "")
    kind, reason = error_type(exc)
    return f"{status} {kind}: {reason}".strip()


def _cause(exc: BaseException) -> str:
    """The innermost cause of an exception chain that says more than the exception itself."""
    seen: set[int] = {id(exc)}
    inner: BaseException | None = exc.__cause__ or exc.__context__
    found = ""
    while inner is not None and id(inner) not in seen:
        seen.add(id(inner))
        text = str(inner).strip()
        if text and text != str(exc):
            found = text
        inner = inner.__cause__ or inner.__context__
    return found
