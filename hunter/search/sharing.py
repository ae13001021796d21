"""How the two processes of a split pass share concluding their hunts (building alert documents).

Each process searched its share of the hunts and holds their outputs. Concluding them costs about a
fifth of the pass, and the two shares seldom cost the same to search or to conclude (one hunt can
find half of all matches), so neither process waits for the other: each concludes its own hunts,
heaviest first, and one that runs out asks the other for work (``steal``). The other answers at once
(a thread of its own reads what comes) with the lightest of the hunts it has not begun, up to half
of their weight, and their outputs (``work``); an empty answer means it has nothing to give, and the
asker stops asking. Asked again and again, the busier process gives ever smaller shares of what it
has left, so both end at about the same time. A process asked while it is itself out of work answers
empty, so two that run out at once both stop. The helper writes each hunt's answer, pickled, to a
file the two share as soon as it has made it, and at the end sends where each is (``concluded``).

Messages are pickles, each after its length, on a pipe each way; each process's reader thread
drains its pipe as messages come, so a large one never waits for the other to look.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pickle
import queue
import struct
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, BinaryIO, Generic, TypeVar

from ..errors import EventSourceError

_T = TypeVar("_T")
_LENGTH = struct.Struct(">Q")
_CHUNK = 1 << 20  # bytes read or written by one system call, at most
_PIPE_SIZE = 1 << 20  # asked of the kernel for each pipe (Linux; the default holds 64 KiB)


class Channel:
    """Messages between the two processes: ``(kind, value)`` pickles on two pipe ends, sent whole
    by one thread at a time. A message of kind ``error`` is raised by :meth:`receive` (the helper's
    failure, raised in the parent)."""

    def __init__(self, read_end: int, write_end: int) -> None:
        self.read_end = read_end
        self.write_end = write_end
        self._sending = threading.Lock()
        for end in (read_end, write_end):
            with contextlib.suppress(AttributeError, OSError):  # not Linux, or above the limit
                fcntl.fcntl(end, fcntl.F_SETPIPE_SZ, _PIPE_SIZE)

    def send(self, kind: str, value: Any = None) -> None:
        """Write one message (blocking until the pipe has taken it all)."""
        data = pickle.dumps((kind, value), protocol=pickle.HIGHEST_PROTOCOL)
        with self._sending:
            os.write(self.write_end, _LENGTH.pack(len(data)))
            view = memoryview(data)
            while view:
                view = view[os.write(self.write_end, view[:_CHUNK]) :]

    def receive(self) -> tuple[str, Any]:
        """The next message (waiting for it)."""
        (size,) = _LENGTH.unpack(self._exactly(_LENGTH.size))
        try:
            kind, value = pickle.loads(self._exactly(size))  # noqa: S301 - our own process, our own pipe
        except (pickle.UnpicklingError, ValueError, EOFError) as exc:
            raise EventSourceError(f"the second search process sent a broken message: {exc}") from exc
        if kind == "error":
            raise value
        return kind, value

    def close(self) -> None:
        for end in (self.read_end, self.write_end):
            os.close(end)

    def _exactly(self, size: int) -> bytes:
        parts = []
        while size:
            part = os.read(self.read_end, min(size, _CHUNK))
            if not part:
                raise EventSourceError("the second search process ended without results")
            parts.append(part)
            size -= len(part)
        return b"".join(parts)


def lightest_half(todo: list[int], weights: Mapping[int, int], busy: int = 0) -> list[int]:
    """Take from the end of ``todo`` (heaviest first) the hunts to give: the lightest, while they fit
    in half the weight left, ``busy`` (the hunt under way, of which half is left on average)
    included."""
    room = (sum(weights[number] for number in todo) + busy / 2) / 2
    given: list[int] = []
    while todo and weights[todo[-1]] <= room:
        number = todo.pop()
        room -= weights[number]
        given.append(number)
    return given


class Sharing(Generic[_T]):
    """One process's side of concluding a split pass's hunts (see the module's doc): ``own`` are the
    hunts it searched, ``weights`` what concluding each costs (positive), ``found`` the outputs of
    its runs (by run number; a hunt given away takes its runs' outputs with it), ``runs_of`` the
    run numbers of hunts, and ``conclude`` concludes one hunt from the outputs. The helper writes
    its answers, pickled, to the file ``spill`` (an open file descriptor) as they are made; the
    parent reads them from it."""

    def __init__(
        self,
        channel: Channel,
        own: Sequence[int],
        weights: Mapping[int, int],
        found: dict[int, Any],
        *,
        runs_of: Callable[[Sequence[int]], list[int]],
        conclude: Callable[[int, Mapping[int, Any]], _T],
        parent: bool,
        spill: int,
    ) -> None:
        self.channel = channel
        self.spill = spill
        self._out: BinaryIO | None = None  # (the helper's) spill, written through a buffer
        self.weights = dict(weights)
        self.todo = self._heaviest_first(own)
        self.found = found
        self.runs_of = runs_of
        self.conclude = conclude
        self.parent = parent
        self.given: list[int] = []  # the hunts this process gave away
        self.taken: list[int] = []  # ... and those it was given
        self._busy = 0  # the weight of the hunt under way
        self._lock = threading.Lock()  # over todo, found and _busy, between the two threads
        self._replies: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._reader = threading.Thread(target=self._read, name="hunter-sharing", daemon=True)
        self._helpers: dict[int, Any] | None = None  # the parent's: what the helper concluded
        self.failed = threading.Event()  # set when the reader has met an error (the helper's, say)
        self._failure: BaseException | None = None

    def run(self) -> dict[int, Any]:
        """Conclude this process's hunts and those it is given: what each concluded, by hunt number
        (the helper's: where in ``spill``). The parent then takes the helper's with
        :meth:`helper_answer`."""
        self._reader.start()
        concluded: dict[int, Any] = {}
        while True:
            while True:
                if self._failure is not None:  # the helper failed (events out of order, say): at once
                    raise self._failure
                with self._lock:
                    if not self.todo:
                        self._busy = 0
                        break
                    number = self.todo.pop(0)
                    self._busy = self.weights[number]
                answer = self.conclude(number, self.found)
                concluded[number] = answer if self.parent else self._write(answer)
            if not self._ask():
                if self._out is not None:
                    self._out.flush()
                return concluded

    def helper_answer(self) -> dict[int, Any]:
        """(The parent, after :meth:`run`.) What the helper concluded."""
        while self._helpers is None:
            self._reply()
        self._reader.join()
        return self._loaded(self._helpers)

    def stop(self) -> None:
        """(The parent, when the helper has been ended otherwise.) Wait for the reader to end."""
        if self._reader.is_alive():
            self._reader.join()

    def _ask(self) -> bool:
        """Ask the other process for work; whether some came (and is now to do)."""
        if self._helpers is not None:
            return False
        with contextlib.suppress(BrokenPipeError):  # the helper has ended: its answer has come
            self.channel.send("steal")
        return self._reply()

    def _reply(self) -> bool:
        """Take the next message the reader passed on: work (whether there was any) or, the parent,
        the helper's answer (False)."""
        kind, value = self._replies.get()
        if kind == "failed":
            raise value
        if kind == "concluded":
            self._helpers = value
            return False
        numbers, weights, outputs = value
        with self._lock:
            self.weights.update(weights)
            self.found.update(outputs)
            self.taken += numbers
            self.todo = self._heaviest_first(numbers)
        return bool(numbers)

    def _read(self) -> None:
        """The reader thread: answers asks at once, and passes everything else on."""
        try:
            while True:
                kind, value = self.channel.receive()
                if kind == "steal":  # the lightest of what is left, up to half of it (nothing when out)
                    with self._lock:
                        given = lightest_half(self.todo, self.weights, self._busy)
                        self.given += given
                        weights = {number: self.weights[number] for number in given}
                        outputs = {run: self.found.pop(run) for run in self.runs_of(given)}
                    self.channel.send("work", (given, weights, outputs))
                    continue
                if kind not in {"work", "concluded"} or (kind == "concluded" and not self.parent):
                    raise EventSourceError(f"the second search process sent {kind!r} out of turn")
                self._replies.put((kind, value))
                if kind == "concluded":
                    return
        except BaseException as exc:  # noqa: BLE001 - raised by the main thread, before its next hunt
            self._failure = exc
            self.failed.set()
            self._replies.put(("failed", exc))

    def _write(self, answer: Any) -> tuple[int, int]:
        """(The helper.) Where in ``spill`` it wrote ``answer``, pickled: its offset and size.
        Pickled into the file as it goes: a sweep's answer can be tens of megabytes of documents,
        and a buffer that large costs more to grow and fill than the writing."""
        if self._out is None:
            self._out = open(self.spill, "wb", closefd=False)  # noqa: SIM115 - flushed by run()
        start = self._out.tell()
        pickle.dump(answer, self._out, protocol=pickle.HIGHEST_PROTOCOL)
        return start, self._out.tell() - start

    def _loaded(self, places: Mapping[int, tuple[int, int]]) -> dict[int, Any]:
        """(The parent.) The answers the helper wrote, by hunt number, from where it wrote them."""
        with open(self.spill, "rb", closefd=False) as source:
            answers = {}
            for number, (offset, size) in places.items():
                source.seek(offset)
                answers[number] = pickle.load(source)  # noqa: S301 - our own child's, in our own file
                if source.tell() != offset + size:
                    raise EventSourceError("the second search process's answers were cut short")
            return answers

    def _heaviest_first(self, numbers: Sequence[int]) -> list[int]:
        return sorted(numbers, key=lambda number: (-self.weights[number], number))
