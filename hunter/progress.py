"""A progress bar for reading event files (``hunter hunt`` over a large export), on terminals only.

:class:`ReadProgress` receives what the reader reports (a file begins, lines and bytes read so far,
a file ends) and shows bytes read of all files, files done, events read and events per second with
``rich``, drawn when the reader reports (no refresh thread: a process with no other thread may fork
a helper for a pass, :mod:`hunter.search.local`); where stderr is not a terminal it shows nothing and
costs a method call per report.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from types import TracebackType
from typing import IO

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

REFRESH_SECONDS = 0.2


class ReadProgress:
    """Bytes, files and events read so far, as a bar on a terminal (silent elsewhere)."""

    def __init__(
        self, files: list[Path], *, stream: IO[str] | None = None, force: bool | None = None
    ) -> None:
        stream = stream if stream is not None else sys.stderr
        self.total_files = len(files)
        self.total_bytes = sum(_size(path) for path in files)
        self.enabled = stream.isatty() if force is None else force
        self.files_done = 0
        self.events = 0
        self.bytes = 0
        self._events: dict[str, int] = {}
        self._bytes: dict[str, int] = {}
        self.started = time.monotonic()
        self._shown = 0.0
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        if self.enabled:
            self._progress = Progress(
                TextColumn("[bold]reading events"),
                BarColumn(),
                DownloadColumn(),
                TextColumn("{task.fields[files]}"),
                TextColumn("{task.fields[rate]}"),
                TimeRemainingColumn(),
                console=Console(file=stream),
                transient=True,
                auto_refresh=False,  # drawn on each report: no thread, so a pass may fork a helper
            )
            self._task = self._progress.add_task("read", total=self.total_bytes or None, files="", rate="")

    def __enter__(self) -> ReadProgress:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def advanced(self, path: str, events: int, position: int) -> None:
        """File ``path`` has given ``events`` lines so far, ``position`` bytes into it (files read in
        turn or merged by time alike)."""
        self.events += events - self._events.get(path, 0)
        self._events[path] = events
        self.bytes += position - self._bytes.get(path, 0)
        self._bytes[path] = position
        if self._progress is None or self._task is None:
            return
        now = time.monotonic()
        if now - self._shown < REFRESH_SECONDS:
            return
        self._shown = now
        seconds = max(now - self.started, 1e-6)
        self._progress.update(
            self._task,
            completed=min(self.bytes, self.total_bytes) if self.total_bytes else self.bytes,
            files=f"{self.files_done}/{self.total_files} files",
            rate=f"{self.events:,} events, {self.events / seconds:,.0f} events/s",
        )
        self._progress.refresh()

    def file_done(self, path: str, events: int, size: int) -> None:
        """File ``path`` is read: ``events`` lines, ``size`` bytes."""
        self.files_done += 1
        self._shown = 0.0
        self.advanced(path, events, size)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
