"""The exception tree of hunter: every error a caller is expected to catch.

::

    HunterError                      anything hunter raises on purpose
    ├── ConfigError                  bad settings file, unknown setting, bad environment value
    ├── HuntError                    a bad hunt file; carries file, line, column (one per problem)
    │   └── HuntSetError             every HuntError found while loading hunt files and folders
    ├── EventSourceError             an event file that cannot be opened or read at all
    ├── SearchError                  running a query failed
    │   ├── TransientSearchError     timeout, connection error, 429, 5xx: retry the same window later
    │   └── PermanentSearchError     the query itself is bad for that cluster (400 verification error)
    ├── StoreError                   alerts or state could not be written or read
    │   └── ConflictError            an optimistic-concurrency write lost (another replica won)
    └── NotifyError                  a notice could not be sent
        ├── TransientNotifyError     429, 5xx, connection error: retry later
        └── PermanentNotifyError     400/403/404/410: the webhook or payload is bad, park the notice

The embedded EQL engine (:mod:`hunter.eql`) imports nothing from hunter, so its own
``EqlError`` (``EqlSyntaxError``/``EqlSemanticError``, with line and column) is not part of this
tree; :mod:`hunter.hunts` turns it into a :class:`HuntError` at the boundary.
Always ``raise NewError(...) from exc`` so the cause stays visible.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only for annotations: hunts imports this module
    from .hunts import HuntSet


class HunterError(Exception):
    """Base class of every error hunter raises on purpose."""


class ConfigError(HunterError):
    """The settings file or the HUNTER_* environment is invalid."""


class HuntError(HunterError):
    """One problem in one hunt file, located as ``file:line:col: message``."""

    def __init__(self, path: Path | str, line: int, column: int, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.column = column
        self.message = message
        super().__init__(f"{self.path}:{line}:{column}: {message}")


class HuntSetError(HunterError):
    """Every problem found while loading hunt files and folders (loading never stops at the first).

    ``hunt_set`` is what was loaded regardless (hunts, skipped rules, warnings), and ``summary`` its
    summary line; the message is one line per problem, then the summary line.
    """

    def __init__(self, problems: Sequence[HuntError], hunt_set: HuntSet | None = None) -> None:
        self.problems = list(problems)
        self.hunt_set = hunt_set
        self.summary = hunt_set.summary() if hunt_set is not None else ""
        lines = [str(p) for p in self.problems] + ([self.summary] if self.summary else [])
        super().__init__("\n".join(lines))


class EventSourceError(HunterError):
    """An event file or folder cannot be opened or read at all (single bad lines are skipped)."""


class SearchError(HunterError):
    """Running a hunt query failed."""


class TransientSearchError(SearchError):
    """A failure that may pass: timeout, dropped connection, 429 or 5xx."""


class PermanentSearchError(SearchError):
    """The query cannot run on that cluster as written (for example a 400 verification error)."""

    def __init__(self, message: str, *, reason_type: str = "", reason: str = "") -> None:
        self.reason_type = reason_type
        self.reason = reason
        super().__init__(message)


class StoreError(HunterError):
    """Alerts or state could not be written or read."""


class ConflictError(StoreError):
    """An optimistic-concurrency write lost to a concurrent writer."""


class NotifyError(HunterError):
    """A notice could not be delivered."""


class TransientNotifyError(NotifyError):
    """Delivery may succeed later (429, 5xx, connection errors)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class PermanentNotifyError(NotifyError):
    """Delivery will never succeed as is (invalid payload, revoked or archived channel)."""

    def __init__(self, message: str, *, status: int = 0, error: str = "") -> None:
        self.status = status
        self.error = error
        super().__init__(message)
