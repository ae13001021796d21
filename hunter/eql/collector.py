"""Python's cyclic garbage collector during a pass over many events.

A pass allocates a dict per parsed event and keeps a few of them; Python's collector counts the
allocations and, every so often, walks every tracked object of the process, including all that the
caller already holds (a list of 200,000 events makes the first search of the Lua sequence 2.4x
slower than the third). :func:`paused_collector` moves what exists when a pass begins into the
permanent generation (:func:`gc.freeze`), so the collections during the pass see only what the pass
itself made, and moves it back when the last concurrent pass ends (:func:`gc.unfreeze`), so nothing
is kept alive past the pass. Collections still run during the pass, so cyclic garbage made by the
pass is reclaimed as before.

A pass also holds what it finds to its end: a rule that matches one event in twenty keeps thousands,
and every full collection would walk them all again (a library's pass spent 0.6 s so). A long loop
calls :func:`freeze_held` now and then, which freezes what is alive at that point in the same way.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_active = 0
_local = threading.local()  # this thread's depth of blocks


@contextmanager
def paused_collector() -> Iterator[None]:
    """Freeze the objects alive now for the duration of the block (nested and threaded use is fine:
    everything is unfrozen when the last block of any thread ends)."""
    global _active  # noqa: PLW0603 - one process-wide count of passes, as gc itself is process-wide
    depth = getattr(_local, "depth", 0)
    with _lock:
        # Frozen again when nested in this thread: what the enclosing block made so far (a pass's
        # matches, when its hunts are then concluded) is not walked by this block's collections
        # either. Not when another thread's block is open: passes that keep overlapping would
        # then freeze each other's garbage until none is left running.
        if _active == 0 or depth:
            gc.freeze()
        _active += 1
    _local.depth = depth + 1
    try:
        yield
    finally:
        _local.depth = depth
        with _lock:
            _active -= 1
            if _active == 0:
                gc.unfreeze()


def freeze_held() -> None:
    """Inside a block, freeze what is alive now (as entering it does), unless a block of another
    thread is open: its garbage would be frozen too. Cheap (the generations are moved, not walked),
    for a loop to call every few thousand items."""
    depth = getattr(_local, "depth", 0)
    if depth:
        with _lock:
            if _active == depth:
                gc.freeze()
