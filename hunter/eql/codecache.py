"""Generated code, compiled once and kept on disk between runs (as Python keeps ``__pycache__``),
and what was parsed from texts that do not change (hunt files, queries).

The engine writes Python for each stage's test, each dispatch route and field reader, and compiles
it as a pass reaches it: a rule library's pass over 100,000 events compiles about 1.4 MB of source
in each process, 0.4 s of its 6. :func:`compiled` looks each source up in a folder (:func:`use`;
none by default: plain ``compile``) by the SHA-256 of the source, its file name and the bytecode
version, and keeps what it had to compile there. :func:`remembered` keeps a parsed value the same
way, by the text it was parsed from and a fingerprint of the code that parsed it
(:func:`fingerprint`, taken only when a folder is in use): a library's 2,192 rule files and 1,024
queries are parsed once, not at every start.

What is kept is one SQLite database in the folder (``kept.sqlite3``; one row per value: about
4,100 for Elastic's library and a pass over it, which as files cost 75-100 us each to create). A
value that cannot be read back is made again and replaced; a folder or database that cannot be
used only costs the work, and a damaged database is set aside and started afresh. Once a day the
values written more than :data:`MAX_AGE` ago go, then the oldest until at most :data:`MAX_BYTES`
are left. Processes share the database (WAL, each its own connection, a forked one too); it is a
cache, so it is written without waiting for the disk (``synchronous = off``).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import marshal
import os
import pickle
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import CodeType
from typing import TypeVar

_T = TypeVar("_T")

MAX_AGE = 30 * 86_400  # seconds since a value was written
MAX_BYTES = 256 * 2**20
PRUNE_EVERY = 86_400  # seconds
DATABASE = "kept.sqlite3"
_VERSION = importlib.util.MAGIC_NUMBER + sys.version.encode()
_SCHEMA = (
    "create table if not exists kept (key text primary key, value blob not null, written real not null)",
    "create table if not exists pruned (at real not null)",
)

_folder: Path | None = None
_lock = threading.Lock()  # one connection per process, used by one thread at a time
_connection: sqlite3.Connection | None = None
_owner = 0  # the process that opened _connection (a forked child opens its own)
_unusable = False  # the folder or database could not be used: this process keeps nothing


def use(folder: Path | None) -> None:
    """Keep compiled code and parsed values in ``folder`` (made when first used; None: compile and
    parse every time, keep nothing)."""
    global _folder, _connection, _unusable
    with _lock:
        if _connection is not None and _owner == os.getpid():
            with contextlib.suppress(sqlite3.Error):
                _connection.close()
        _folder, _connection, _unusable = folder, None, False


def compiled(source: str, filename: str) -> CodeType:
    """``compile(source, filename, "exec")``, read back from the folder :func:`use` named when kept."""
    if _folder is None:
        return compile(source, filename, "exec")
    return _kept(
        _key(_VERSION, filename, source), _code, marshal.dumps, lambda: compile(source, filename, "exec")
    )


def remembered(kind: str, text: str, made_by: Path, make: Callable[[], _T]) -> _T:
    """``make()``, the value of ``text`` (a ``kind`` of text, parsed by the code in the folder
    ``made_by``: a value is kept for its :func:`fingerprint`), read back from the folder when kept
    there. The value is pickled: plain data (a parsed file, a syntax tree). What ``make`` raises is
    not kept."""
    if _folder is None:
        return make()
    key = _key(_VERSION + fingerprint(made_by).encode(), kind, text)
    # (pickles this process's user wrote there, as compiled() reads their code)
    value: _T = _kept(key, pickle.loads, _pickled, make)
    return value


def _pickled(value: object) -> bytes:
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def _kept(key: str, load: Callable[[bytes], _T], dump: Callable[[_T], bytes], make: Callable[[], _T]) -> _T:
    """The value kept under ``key`` (``load`` of its bytes), else ``make()``, kept (``dump``) when it
    can be: a value that cannot be read back is made again and replaced."""
    data = _read(key)
    if data is not None:
        try:
            return load(data)
        except Exception:  # noqa: BLE001, S110 - not readable any more: made again
            pass
    value = make()
    try:
        data = dump(value)
    except Exception:  # noqa: BLE001 - a value that cannot be kept is only made every time
        return value
    _write(key, data)
    return value


def _code(data: bytes) -> CodeType:
    """Compiled code from what ``marshal`` wrote (ValueError when it holds something else)."""
    code = marshal.loads(data)  # noqa: S302 - what this process's user wrote there
    if not isinstance(code, CodeType):
        raise ValueError("not compiled code")
    return code


@functools.cache
def fingerprint(*folders: Path) -> str:
    """The SHA-256 of the Python files (and grammars) under ``folders``: what a kept value was made by."""
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.suffix in (".py", ".lark") and path.is_file():
                digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def prune(connection: sqlite3.Connection, now: float | None = None) -> None:
    """Remove the values written more than :data:`MAX_AGE` ago, then the oldest until at most
    :data:`MAX_BYTES` are left; record when."""
    now = time.time() if now is None else now
    connection.execute("delete from kept where written < ?", (now - MAX_AGE,))
    connection.execute(
        "delete from kept where key in (select key from (select key, sum(length(value)) over "
        "(order by written desc, key) as total from kept) where total > ?)",
        (MAX_BYTES,),
    )
    connection.execute("delete from pruned")
    connection.execute("insert into pruned values (?)", (now,))


def _key(version: bytes, kind: str, text: str) -> str:
    digest = hashlib.sha256(version + kind.encode("utf-8", "surrogatepass") + b"\0")
    digest.update(text.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def _read(key: str) -> bytes | None:
    with _lock:
        connection = _connect()
        if connection is None:
            return None
        try:
            row = connection.execute("select value from kept where key = ?", (key,)).fetchone()
        except sqlite3.Error:
            return None
    return None if row is None else bytes(row[0])


def _write(key: str, data: bytes) -> None:
    with _lock:
        connection = _connect()
        if connection is not None:
            with contextlib.suppress(sqlite3.Error):  # (locked too long, disk full: not kept)
                connection.execute("insert or replace into kept values (?, ?, ?)", (key, data, time.time()))


def _connect() -> sqlite3.Connection | None:
    """This process's connection to the folder's database (opened, made or started afresh as
    needed, and pruned when due), or None when it cannot be used; under ``_lock``."""
    global _connection, _owner, _unusable  # noqa: PLW0603 - see use()
    if _connection is not None and _owner == os.getpid():
        return _connection
    if _folder is None or _unusable:
        return None
    path = _folder / DATABASE
    for attempt in range(2):
        try:
            _folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            connection = sqlite3.connect(path, timeout=5, isolation_level=None, check_same_thread=False)
            try:
                connection.execute("pragma journal_mode = wal")
                connection.execute("pragma synchronous = off")
                for statement in _SCHEMA:
                    connection.execute(statement)
                last = connection.execute("select max(at) from pruned").fetchone()[0]
                if last is None or time.time() - last > PRUNE_EVERY:
                    prune(connection)
            except sqlite3.Error:
                connection.close()
                raise
        except sqlite3.DatabaseError:
            if attempt:
                break
            _set_aside(path)  # not a database (damaged): started afresh
            continue
        except (sqlite3.Error, OSError):
            break
        _connection, _owner = connection, os.getpid()
        return connection
    _unusable = True
    return None


def _set_aside(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(OSError):
            path.with_name(path.name + suffix).replace(path.with_name(path.name + suffix + ".damaged"))
