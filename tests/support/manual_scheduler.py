"""APScheduler 3.x driven by a test's clock: no scheduler thread, no sleeping.

``ManualScheduler`` is a real ``BaseScheduler`` (real job store, triggers, coalescing,
``max_instances`` and misfire handling, real thread-pool executor) whose main loop is the test:
``tick()`` processes due jobs at the clock's current time. APScheduler 3.x reads the time with
``datetime.now(tz)`` in its scheduler and executor modules; ``clock_apscheduler`` points both at
the test's clock for the duration of a test.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, tzinfo
from typing import Any

import apscheduler.executors.base
import apscheduler.schedulers.base
from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    JobEvent,
)
from apscheduler.schedulers.base import BaseScheduler


@contextmanager
def clock_apscheduler(clock: Callable[[], datetime]) -> Iterator[None]:
    """While active, APScheduler's ``datetime.now(tz)`` answers the test clock's time."""

    class ClockDatetime(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> Any:
            return clock().astimezone(tz)

    modules = (apscheduler.schedulers.base, apscheduler.executors.base)
    saved = [module.datetime for module in modules]
    for module in modules:
        module.datetime = ClockDatetime
    try:
        yield
    finally:
        for module, original in zip(modules, saved, strict=True):
            module.datetime = original


class ManualScheduler(BaseScheduler):  # type: ignore[misc]
    """A scheduler whose loop is the test: ``tick()`` runs what is due now, then returns."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.lock = threading.Lock()
        self.submitted: list[tuple[str, list[datetime]]] = []
        self.executed: list[str] = []
        self.skipped_running: list[str] = []
        self.missed: list[str] = []
        self.errors: list[str] = []
        self._finished = threading.Condition(self.lock)
        self.add_listener(
            self._record,
            EVENT_JOB_SUBMITTED
            | EVENT_JOB_EXECUTED
            | EVENT_JOB_ERROR
            | EVENT_JOB_MAX_INSTANCES
            | EVENT_JOB_MISSED,
        )

    def shutdown(self, wait: bool = True) -> None:
        """Stop; with ``wait``, after the executor's running jobs end."""
        super().shutdown(wait)

    def wakeup(self) -> None:
        """Nothing to wake: the test calls ``tick()``."""

    def tick(self) -> None:
        """Submit every job due at the clock's time (coalesced as configured) to the executor."""
        self._process_jobs()

    def wait_finished(self, count: int, timeout: float = 10.0) -> None:
        """Block until ``count`` job runs have ended (executed, failed or missed) in the executor."""

        def ended() -> int:
            return len(self.executed) + len(self.errors) + len(self.missed)

        with self._finished:
            if not self._finished.wait_for(lambda: ended() >= count, timeout):
                raise AssertionError(f"{ended()} job run(s) ended, expected {count}")

    def _record(self, event: JobEvent) -> None:
        with self._finished:
            if event.code == EVENT_JOB_SUBMITTED:
                self.submitted.append((event.job_id, list(getattr(event, "scheduled_run_times", []))))
            elif event.code == EVENT_JOB_EXECUTED:
                self.executed.append(event.job_id)
            elif event.code == EVENT_JOB_ERROR:
                self.errors.append(event.job_id)
            elif event.code == EVENT_JOB_MAX_INSTANCES:
                self.skipped_running.append(event.job_id)
            elif event.code == EVENT_JOB_MISSED:
                self.missed.append(event.job_id)
            self._finished.notify_all()
