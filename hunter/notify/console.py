"""Console notices: one readable line per new alert, for the embedded mode and for development.

Event data cannot forge or hide lines: control and invisible format characters (newlines, ANSI
escape sequences, bidi overrides, zero-width characters) are written as visible escapes, the way
:mod:`hunter.notify.escape` shows them in Slack.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from hunter.notify import Delivery, Notice, Outcome
from hunter.notify.escape import neutralise
from hunter.notify.slack import EVENT_SEVERITY, get_field

MAX_VALUE = 200


class ConsoleNotifier:
    """Writes each notice as one line to a text stream (stdout by default)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        """Write to ``stream``, or to the ``sys.stdout`` of the moment when None."""
        self._stream = stream

    def send(
        self, notices: Sequence[Notice], on_delivery: Callable[[Delivery], None] | None = None
    ) -> list[Delivery]:
        """Write one line per notice; SENT once written (RETRY if the stream itself fails)."""
        stream = self._stream if self._stream is not None else sys.stdout
        deliveries: list[Delivery] = []
        for notice in notices:
            try:
                stream.write(format_line(notice) + "\n")
                stream.flush()
            except (OSError, ValueError) as exc:  # closed or broken stream
                delivery = Delivery((notice.alert_id,), Outcome.RETRY, f"{type(exc).__name__}: {exc}")
            else:
                delivery = Delivery((notice.alert_id,), Outcome.SENT)
            deliveries.append(delivery)
            if on_delivery is not None:
                on_delivery(delivery)
        return deliveries


def format_line(notice: Notice) -> str:
    """``[ALERT] MEDIUM hunt="…" host=… process=… queries=a,b alert=…`` (logfmt-style quoting)."""
    alert = notice.alert
    number = get_field(alert, "event.severity")
    severity = get_field(alert, "hunter.hunt.severity") or (
        EVENT_SEVERITY.get(number, "unknown") if isinstance(number, int) else "unknown"
    )
    hunt = get_field(alert, "hunter.hunt.name") or get_field(alert, "rule.name") or notice.hunt_id
    host = get_field(alert, "host.name") or get_field(alert, "host.hostname") or get_field(alert, "host.id")
    process = get_field(alert, "process.name") or get_field(alert, "process.executable")
    pid = get_field(alert, "process.pid")
    if process is not None and pid is not None:
        process = f"{process} (pid {pid})"
    queries = get_field(alert, "hunter.queries")
    if isinstance(queries, list):
        queries = ",".join(str(q) for q in queries)
    return (
        f"[ALERT] {_field(str(severity).upper())} hunt={_field(hunt)} host={_field(host)}"
        f" process={_field(process)} queries={_field(queries)} alert={_field(notice.alert_id)}"
    )


def _field(value: object) -> str:
    """One value: '-' when absent, controls visible, cut at MAX_VALUE, quoted when it needs to be."""
    if value is None or value == "":
        return "-"
    text = neutralise(value)
    if len(text) > MAX_VALUE:
        text = text[: MAX_VALUE - 1] + "…"
    if any(ch in text for ch in ' "=\\') or not text.isprintable():
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text
