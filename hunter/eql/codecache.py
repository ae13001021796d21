"""Generated code, compiled once and kept on disk between runs (as Python keeps ``__pycache__``),
and what was parsed from texts that do not change (hunt files, queries).

The engine writes Python for each stage's test, each dispatch route and field reader, and compiles
it as a pass reaches it: a rule library's pass over 100,000 events compiles about 1.4 MB of source
in each process, 0.4 s of its 6. :func:`compiled` looks each source up in a folder (:func:`use`;
none by default: plain ``compile``) by the SHA-256 of the source, its file name and the bytecode
version, and writes what it had to compile there. A file that cannot be read back is compiled
again and rewritten; a folder that cannot be written to only costs the compiling. Once a day the
folder is pruned: files older than :data:`MAX_AGE` go, then the oldest until it holds at most
:data:`MAX_BYTES`.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import marshal
import os
import pickle
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import CodeType
from typing import Any, TypeVar

_T = TypeVar("_T")

MAX_AGE = 30 * 86_400  # seconds since a file was written
MAX_BYTES = 256 * 2**20
PRUNE_EVERY = 86_400  # seconds
_STAMP = "pruned"  # a file whose time is that of the last pruning
_VERSION = importlib.util.MAGIC_NUMBER + sys.version.encode()

_folder: Path | None = None


def use(folder: Path | None) -> None:
    """Keep compiled code in ``folder`` (made if missing; None: compile every time, keep nothing)."""
    global _folder  # noqa: PLW0603 - one cache per process, as sys.pycache_prefix
    _folder = folder
    if folder is not None:
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            stamp = folder / _STAMP
            if not stamp.exists() or time.time() - stamp.stat().st_mtime > PRUNE_EVERY:
                prune(folder)
                stamp.touch()
        except OSError:
            pass  # a folder that cannot be used: every call compiles


def compiled(source: str, filename: str) -> CodeType:
    """``compile(source, filename, "exec")``, read from the folder :func:`use` named when there."""
    folder = _folder
    if folder is None:
        return compile(source, filename, "exec")
    path = folder / _name(_VERSION, filename, source)
    try:
        kept: Any = marshal.loads(path.read_bytes())  # noqa: S302 - what this process's user wrote there
    except (OSError, ValueError, EOFError, TypeError):
        kept = None
    if isinstance(kept, CodeType):
        return kept
    code = compile(source, filename, "exec")
    _write(path, marshal.dumps(code))
    return code


def remembered(kind: str, text: str, version: str, make: Callable[[], _T]) -> _T:
    """``make()``, the value of ``text`` (a ``kind`` of text, parsed by code whose
    :func:`fingerprint` is ``version``), read back from the folder when kept there. The value is
    pickled: plain data (a parsed file, a syntax tree). What ``make`` raises is not kept."""
    folder = _folder
    if folder is None:
        return make()
    path = folder / _name(_VERSION + version.encode(), kind, text)
    try:
        return pickle.loads(path.read_bytes())  # type: ignore[no-any-return]  # noqa: S301 - as compiled()
    except Exception:  # noqa: BLE001, S110 - none kept, or not readable any more: made again
        pass
    value = make()
    try:
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - a value that cannot be kept is only made every time
        return value
    _write(path, data)
    return value


@functools.cache
def fingerprint(*folders: Path) -> str:
    """The SHA-256 of the Python files (and grammars) under ``folders``: what a kept value was made by."""
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.suffix in (".py", ".lark") and path.is_file():
                digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _name(version: bytes, kind: str, text: str) -> str:
    digest = hashlib.sha256(version + kind.encode("utf-8", "surrogatepass") + b"\0")
    digest.update(text.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def _write(path: Path, data: bytes) -> None:
    """``data`` into ``path`` whole (written aside, then renamed: another process writing the same
    file writes the same bytes), or nothing when the folder cannot be written to."""
    partial = path.with_name(f"{path.name}.{os.getpid()}.part")
    try:
        partial.write_bytes(data)
        partial.replace(path)
    except OSError:
        with contextlib.suppress(OSError):  # (nothing was written, or it cannot be removed either)
            partial.unlink()


def prune(folder: Path) -> None:
    """Remove the files older than :data:`MAX_AGE`, then the oldest until at most :data:`MAX_BYTES`
    are left."""
    now = time.time()
    kept = []
    for entry in os.scandir(folder):
        if entry.name == _STAMP or not entry.is_file():
            continue
        try:
            info = entry.stat()
            if now - info.st_mtime > MAX_AGE:
                Path(entry.path).unlink()
            else:
                kept.append((info.st_mtime, info.st_size, entry.path))
        except OSError:
            continue
    total = sum(size for _mtime, size, _path in kept)
    for _mtime, size, path in sorted(kept):
        if total <= MAX_BYTES:
            break
        try:
            Path(path).unlink()
            total -= size
        except OSError:
            continue
