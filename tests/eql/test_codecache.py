"""Generated code and parsed values kept on disk (hunter.eql.codecache): found again from run to run,
replaced when damaged, harmless when the folder cannot be used, pruned by age and size."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hunter.eql import EqlSyntaxError, codecache, compile_query, parser

SOURCE = "def f(x):\n    return x * 2\n"


@pytest.fixture(autouse=True)
def _no_cache_after() -> Iterator[None]:
    yield
    codecache.use(None)


def _run(code: object) -> int:
    namespace: dict[str, object] = {}
    exec(code, namespace)  # type: ignore[arg-type]
    function = namespace["f"]
    assert callable(function)
    result = function(21)
    assert isinstance(result, int)
    return result


def _rows(folder: Path) -> dict[str, bytes]:
    """What the folder's database keeps (key -> value)."""
    codecache.use(codecache._folder)  # this process's connection closed: everything it wrote is there
    with sqlite3.connect(folder / codecache.DATABASE) as connection:
        return {key: bytes(value) for key, value in connection.execute("select key, value from kept")}


def test_without_a_folder_every_source_is_compiled(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def counted(source: str, filename: str, mode: str) -> object:
        calls.append(filename)
        return compile(source, filename, mode)

    monkeypatch.setattr(codecache, "compile", counted, raising=False)
    assert _run(codecache.compiled(SOURCE, "<test>")) == 42
    assert _run(codecache.compiled(SOURCE, "<test>")) == 42
    assert calls == ["<test>", "<test>"]


def test_code_is_compiled_once_and_read_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    codecache.use(tmp_path / "cache")
    first = codecache.compiled(SOURCE, "<test>")
    (kept,) = _rows(tmp_path / "cache")

    def refuse(*_args: object) -> None:
        raise AssertionError("compiled again")

    monkeypatch.setattr(codecache, "compile", refuse, raising=False)
    again = codecache.compiled(SOURCE, "<test>")
    assert again == first and _run(again) == 42
    assert again.co_filename == "<test>"
    with pytest.raises(AssertionError, match="compiled again"):  # another name: another value
        codecache.compiled(SOURCE, "<other>")
    assert list(_rows(tmp_path / "cache")) == [kept]


def test_a_damaged_value_is_compiled_again_and_replaced(tmp_path: Path) -> None:
    codecache.use(tmp_path)
    codecache.compiled(SOURCE, "<test>")
    (kept,) = _rows(tmp_path)
    for damage in (b"", b"\xe3\x00garbage", b"N"):  # empty, not marshal, marshal but not code (None)
        with sqlite3.connect(tmp_path / codecache.DATABASE) as connection:
            connection.execute("update kept set value = ?", (damage,))
        assert _run(codecache.compiled(SOURCE, "<test>")) == 42
        assert _rows(tmp_path)[kept] not in (b"", b"\xe3\x00garbage", b"N")


def test_a_damaged_database_is_set_aside_and_started_afresh(tmp_path: Path) -> None:
    (tmp_path / codecache.DATABASE).write_bytes(b"this is not a database" * 100)
    codecache.use(tmp_path)
    assert _run(codecache.compiled(SOURCE, "<test>")) == 42
    assert len(_rows(tmp_path)) == 1
    assert (tmp_path / (codecache.DATABASE + ".damaged")).read_bytes().startswith(b"this is not")


def test_a_folder_that_cannot_be_used_only_costs_the_compiling(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    codecache.use(blocker / "cache")  # cannot be made: no error
    assert _run(codecache.compiled(SOURCE, "<test>")) == 42
    assert codecache.remembered("kind", "text", _code(tmp_path, "v1"), lambda: [1]) == [1]
    assert blocker.read_text(encoding="utf-8") == "not a folder"


def test_a_forked_process_keeps_values_through_its_own_connection(tmp_path: Path) -> None:
    codecache.use(tmp_path)
    codecache.compiled(SOURCE, "<parent>")
    pid = os.fork()
    if pid == 0:  # the child: the parent's connection is not used
        status = 0
        try:
            codecache.compiled(SOURCE, "<child>")
        except BaseException:  # noqa: BLE001 - reported by the exit status
            status = 1
        os._exit(status)
    _pid, status = os.waitpid(pid, 0)
    assert status == 0
    codecache.compiled(SOURCE, "<parent again>")
    assert len(_rows(tmp_path)) == 3


def _keep(connection: sqlite3.Connection, rows: dict[str, tuple[int, float]]) -> None:
    for key, (size, written) in rows.items():
        connection.execute("insert into kept values (?, ?, ?)", (key, b"x" * size, written))


def test_pruning_removes_old_values_then_the_oldest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    now = time.time()
    ages = {"old": codecache.MAX_AGE + 60, "a": 300, "b": 200, "c": 100}
    with sqlite3.connect(tmp_path / "kept.sqlite3") as connection:
        for statement in codecache._SCHEMA:
            connection.execute(statement)
        _keep(connection, {key: (100, now - age) for key, age in ages.items()})
        monkeypatch.setattr(codecache, "MAX_BYTES", 250)
        codecache.prune(connection, now)
        assert sorted(key for (key,) in connection.execute("select key from kept")) == ["b", "c"]


def test_the_database_is_pruned_at_most_once_a_day(tmp_path: Path) -> None:
    codecache.use(tmp_path)
    codecache.compiled(SOURCE, "<test>")  # opened: pruned now
    long_ago = time.time() - codecache.MAX_AGE - 60
    with sqlite3.connect(tmp_path / codecache.DATABASE) as connection:
        _keep(connection, {"old": (10, long_ago)})
    codecache.use(tmp_path)  # opened again less than a day later: left
    codecache.compiled(SOURCE, "<test>")
    assert "old" in _rows(tmp_path)
    with sqlite3.connect(tmp_path / codecache.DATABASE) as connection:
        connection.execute("update pruned set at = ?", (time.time() - codecache.PRUNE_EVERY - 60,))
    codecache.use(tmp_path)
    codecache.compiled(SOURCE, "<test>")
    assert "old" not in _rows(tmp_path)


ROUTES = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from hunter.eql import codecache, compile_query
    from hunter.eql.dispatch import search_many
    codecache.use(Path(sys.argv[1]))
    queries = [
        'process where process.name in ("a.exe", "b.exe", "c.exe") or process.executable : "*\\\\\\\\x*"',
        'process where process.name : ("*mimikatz*", "*rubeus*", "*kekeo*", "*lazagne*", "*sharp*", "d.exe")',
        'process where process.command_line : "*-enc*" or process.title : "*bypass*" or user.name : "*adm*"',
        'file where file.path : ("C:\\\\\\\\Temp\\\\\\\\*", "*\\\\\\\\evil.dll") or file.name == "e"',
        'any where host.os.type in ("linux", "macos") and process.args : ("-c", "--eval")',
    ]
    runs = [compile_query(text).run() for text in queries]
    events = [
        {"@timestamp": 1 + n, "event": {"category": "process"}, "process": {"name": "a.exe"}}
        for n in range(40)
    ]
    search_many(runs, events, learn=10)
    """
)


def test_the_routes_code_is_the_same_whatever_the_strings_hashes(tmp_path: Path) -> None:
    """Runs with other string hashes (PYTHONHASHSEED) write the same generated code: each finds
    every file the first wrote and writes none."""
    written = []
    for seed in ("1", "2", "3", "4"):
        environment = dict(os.environ, PYTHONHASHSEED=seed)
        subprocess.run(
            [sys.executable, "-c", ROUTES, str(tmp_path)], check=True, env=environment, capture_output=True
        )
        written.append(sorted(_rows(tmp_path)))
    assert written[0] and all(keys == written[0] for keys in written)


def _code(tmp_path: Path, version: str) -> Path:
    """A folder of code (what ``remembered`` keeps a value for), one per ``version``."""
    folder = tmp_path / "code" / version
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "parser.py").write_text(f"VERSION = {version!r}\n", encoding="utf-8")
    return folder


def test_a_value_is_made_once_and_read_back(tmp_path: Path) -> None:
    codecache.use(tmp_path)
    made: list[str] = []
    v1, v2 = _code(tmp_path, "v1"), _code(tmp_path, "v2")

    def make() -> dict[str, object]:
        made.append("made")
        return {"a": [1, 2], "b": None}

    assert codecache.remembered("kind", "text", v1, make) == {"a": [1, 2], "b": None}
    assert codecache.remembered("kind", "text", v1, make) == {"a": [1, 2], "b": None}
    assert made == ["made"]
    codecache.remembered("kind", "text", v2, make)  # other code made it: made again
    codecache.remembered("other", "text", v1, make)  # another kind of text
    codecache.remembered("kind", "text 2", v1, make)
    assert made == ["made"] * 4
    with sqlite3.connect(tmp_path / codecache.DATABASE) as connection:
        connection.execute("update kept set value = ?", (b"damaged",))
    codecache.remembered("kind", "text", v1, make)
    assert made == ["made"] * 5


def test_without_a_folder_no_fingerprint_is_taken(tmp_path: Path) -> None:
    """With no cache in use, the code a value is made by is not read (no start-up work)."""
    code = _code(tmp_path, "v1")
    codecache.fingerprint.cache_clear()
    assert codecache.remembered("kind", "text", code, lambda: [1]) == [1]
    assert codecache.fingerprint.cache_info().misses == 0


def test_what_make_raises_is_raised_and_not_kept(tmp_path: Path) -> None:
    codecache.use(tmp_path)

    def refuse() -> object:
        raise ValueError("bad text")

    for _ in range(2):
        with pytest.raises(ValueError, match="bad text"):
            codecache.remembered("kind", "text", _code(tmp_path, "v1"), refuse)
    assert _rows(tmp_path) == {}


def test_the_fingerprint_follows_the_code(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not code\n", encoding="utf-8")
    before = codecache.fingerprint.__wrapped__(tmp_path)
    (tmp_path / "notes.txt").write_text("still not code\n", encoding="utf-8")
    assert codecache.fingerprint.__wrapped__(tmp_path) == before
    (tmp_path / "a.py").write_text("x = 2\n", encoding="utf-8")
    assert codecache.fingerprint.__wrapped__(tmp_path) != before


def test_queries_parsed_before_are_read_back_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A query's syntax tree comes back from the cache equal to a fresh parse; a bad query is
    still refused with its position."""
    text = (
        'sequence by host.id [process where process.name : "lua*"] [network where destination.port == 4444]'
    )
    fresh = parser.parse(text)
    codecache.use(tmp_path)
    assert parser.parse(text) == fresh
    monkeypatch.setattr(parser, "_parse", lambda _text: pytest.fail("parsed again"))
    assert parser.parse(text) == fresh
    assert compile_query(text).search([]) is not None
    monkeypatch.undo()
    for _ in range(2):
        with pytest.raises(EqlSyntaxError, match="line 1"):
            parser.parse("process where (")
