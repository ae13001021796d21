"""The read progress bar: totals over files read in turn or merged, silent where not a terminal."""

from __future__ import annotations

import io
from pathlib import Path

from hunter.progress import ReadProgress


def test_totals_add_up_over_interleaved_files(tmp_path: Path) -> None:
    """Reports of two files merged by time add up to the events and bytes of both."""
    first, second = tmp_path / "a.ndjson", tmp_path / "b.ndjson"
    first.write_bytes(b"x" * 100)
    second.write_bytes(b"y" * 50)
    stream = io.StringIO()
    with ReadProgress([first, second], stream=stream, force=True) as progress:
        progress.advanced(str(first), 10, 40)
        progress.advanced(str(second), 5, 20)
        progress.advanced(str(first), 20, 80)
        progress.file_done(str(second), 7, 50)
        progress.file_done(str(first), 25, 100)
    assert (progress.events, progress.bytes, progress.files_done) == (32, 150, 2)
    assert progress.total_bytes == 150


def test_silent_when_not_a_terminal(tmp_path: Path) -> None:
    """A stream that is not a terminal gets nothing written, and the counts are still kept."""
    path = tmp_path / "a.ndjson"
    path.write_bytes(b"{}\n")
    stream = io.StringIO()
    with ReadProgress([path], stream=stream) as progress:
        progress.advanced(str(path), 1, 3)
        progress.file_done(str(path), 1, 3)
    assert stream.getvalue() == ""
    assert progress.events == 1


def test_a_terminal_bar_starts_no_thread(tmp_path: Path) -> None:
    """The bar is drawn on each report, by no thread of its own: a pass may then fork a helper."""
    import threading

    path = tmp_path / "a.ndjson"
    path.write_bytes(b"{}\n" * 10)
    stream = io.StringIO()
    before = threading.active_count()
    with ReadProgress([path], stream=stream, force=True) as progress:
        assert threading.active_count() == before
        progress.file_done(str(path), 10, 30)
        assert threading.active_count() == before
    assert progress.files_done == 1
