"""Notices of new alerts: the interface every notifier implements."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class Notice:
    """One new alert to announce (from the store's outbox)."""

    alert_id: str
    hunt_id: str
    alert: Mapping[str, Any]  # the alert document as stored (see below)
    created_at: datetime  # when the alert was created (UTC, aware)


class Outcome(enum.Enum):
    """What happened to a notice."""

    SENT = "sent"  # Slack answered 200 "ok": mark it sent
    RETRY = "retry"  # transient failure (429, 5xx, connection): keep it pending, try on a later run
    FAILED = "failed"  # permanent (400/403/404/410 ...): park it as failed, never retry


@dataclass(frozen=True)
class Delivery:
    """The outcome for the notices carried by one message."""

    alert_ids: tuple[str, ...]
    outcome: Outcome
    detail: str = ""  # Slack's error string or the exception text
    retry_after: float | None = None


class Notifier(Protocol):
    """Sends notices; never raises for delivery problems, reports them as Deliveries."""

    def send(
        self, notices: Sequence[Notice], on_delivery: Callable[[Delivery], None] | None = None
    ) -> list[Delivery]:
        """Deliver the notices; ``on_delivery`` sees each Delivery as soon as it is known (before the
        next message goes out), so the caller can record it at once; all are returned too."""
        ...
