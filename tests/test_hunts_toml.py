"""Hunt files are read with basic strings rewritten as literal ones, to exactly what tomllib reads.

``hunter.hunts._read_toml`` parses a text whose escape-free basic strings are written as literal
strings (tomllib reads those far faster) and falls back on ``read_toml`` for anything else. These
tests pin that the two give the same data or the same located problem: on every TOML file of the
repository, of Elastic's rule library and of the EQL spec suite, on tricky strings, and on
generated and damaged documents.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hunter.errors import HuntError
from hunter.hunts import _literal_strings, _read_toml
from hunter.tomlfile import read_toml
from tests.conftest import REPO, SHARED

LIBRARY = SHARED / "detection-rules"


def _outcome(text: str) -> object:
    """What tomllib makes of ``text``: its data, or its error message."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return f"error: {exc}"


def _same_reading(text: str) -> None:
    """Where the rewritten text parses, it gives the original's data; elsewhere tomllib's error stands."""
    rewritten = _literal_strings(text)
    if rewritten is None:
        return
    assert len(rewritten) == len(text)
    reading = _outcome(rewritten)
    if not (isinstance(reading, str) and reading.startswith("error: ")):
        assert reading == _outcome(text)


def _read_both(path: Path) -> tuple[object, object]:
    """What the fast and the plain reading give (a problem as its located message)."""
    fast, plain = _read_toml(path), read_toml(path)
    return (str(fast) if isinstance(fast, HuntError) else fast), (
        str(plain) if isinstance(plain, HuntError) else plain
    )


def _toml_files() -> list[Path]:
    files = sorted(REPO.glob("queries/**/*.toml")) + sorted(REPO.glob("tests/**/*.toml"))
    for folder in (LIBRARY, SHARED / "eql-spec", SHARED / "hunts"):
        if folder.is_dir():
            files += sorted(folder.rglob("*.toml"))
    return files


def test_every_known_toml_file_reads_the_same() -> None:
    """Hunt files, rule files (all rewritten, none left to the slow way) and spec files: same data."""
    files = _toml_files()
    for path in files:
        fast, plain = _read_both(path)
        assert fast == plain, path
    for path in (p for p in files if LIBRARY in p.parents):
        assert _literal_strings(path.read_text(encoding="utf-8")) is not None, path


TRICKY = [
    'a = ""\nb = """"""\nc = """\n"""\n',
    'a = """x""""\nb = """x"""""\n',  # one and two quotes before the closing ones are content
    'a = """x""""""\n',  # six: not TOML
    "a = '''x'''''\nb = ''''x'''\n",
    'a = "it\'s"\nb = """it\'s"""\nc = """ends with \'"""\nd = """x\'\'\'y"""\n',
    '"" = 1\n"a b" = 2\n["c d"]\n"e.f" = 3\n[["g"]]\nh = 4\n',
    'a = "x#y" # "z"\n# "not a string\nb = "#"\n',
    'a = "caf\\u00e9"\nb = "tab\\there"\nc = """line \\\n   joined"""\nd = "q\\"q"\n',
    'a = "x\r\ny"\n',
    'a = "unterminated\nb = 1\n',
    'a = \'unterminated\nb = "x"\n',
    'a = \'\'\'never closed\nb = """x"""\n',
    'a = """never closed\nb = "x"\n',
    'a = "ctrl\x01"\nb = """ctrl\x02"""\n',
    'a = "x" "y"\n',
    'a = "x"\'\n',
    'a = [\n  "x", # "y"\n  """z""",\n  \'w\',\n]\n',
    'a = { b = "c", d = ["e"] }\n',
    'a = 1\r\nb = """\r\nx\r\n"""\r\n',
    'a = "x"\n"a" = "y"\n',  # a key defined twice
    "'''k''' = 1\n",
    '"""k""" = 1\n',
    'a = """\\"""\n',
    'a = """\\\\"""\n',
    'a = "\\\\"\n',
    'a = "\'"\nb = "\'"\n',  # as literal strings these would read as one string: a = "b = "
    "x = \"\"\"a'''\nb = '''\"\"\"\n",  # as a literal string this would end early, then go on validly
    "x = \"\"\"a'''\nb = '''c\"\"\"\n",
    "\"\"=''\"\"''",  # not TOML; with new quotes beside others it would be: '' = ''''''
    "a = ''\"\"''\n",
    "a = \"\"\"x\"\"\"'''y'''\n",
    "a = 'x'\"y\"\n",
]


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_strings_read_the_same(text: str, tmp_path: Path) -> None:
    """Quotes runs, apostrophes, escapes, comments, CRLF and broken strings: same data or same problem."""
    _same_reading(text)
    path = tmp_path / "hunt.toml"
    path.write_bytes(text.encode("utf-8"))
    fast, plain = _read_both(path)
    assert fast == plain


_PIECES = [
    '"', "'", '"""', "'''", "\\", "\\n", "#", "\n", "\r\n", " ", "=", "[", "]", "{", "}", ",", ".",
    "a", "b = ", "x", "1", "true", "\t", "\x01", "é", '""', "''", '""""', "''''",
]  # fmt: skip


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=40).map("".join))
def test_generated_text_reads_the_same(text: str) -> None:
    """Any text of TOML's quotes, escapes, comments and punctuation reads as tomllib reads it."""
    _same_reading(text)


@settings(max_examples=600, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", '"q k"', "'l k'", "t.u"]),
            st.text(alphabet="ab'\"\\#\n\t x{}[]", max_size=12),
            st.sampled_from(['"', '"""', "'", "'''"]),
            st.sampled_from(["", " # note", ' # "q"', "\n# 'c'"]),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_generated_documents_read_the_same(lines: list[tuple[str, str, str, str]]) -> None:
    """Key/value documents with every kind of string around random content read as tomllib reads them."""
    text = "".join(f"{key} = {quote}{content}{quote}{comment}\n" for key, content, quote, comment in lines)
    _same_reading(text)


def _library_texts() -> list[str]:
    if not (LIBRARY / "rules").is_dir():
        return []
    return [path.read_text(encoding="utf-8") for path in sorted(LIBRARY.rglob("*.toml"))[::40]]


LIBRARY_TEXTS = _library_texts()


@pytest.mark.skipif(not LIBRARY_TEXTS, reason="../shared/detection-rules is not present")
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_damaged_rule_files_read_the_same(data: st.DataObject) -> None:
    """Rule files with quotes, backslashes or comment signs put in or taken out read as tomllib reads them."""
    text = data.draw(st.sampled_from(LIBRARY_TEXTS))
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(text)))
        if data.draw(st.booleans()):
            text = (
                text[:at] + data.draw(st.sampled_from(['"', "'", "\\", "#", '"""', "'''", "\n"])) + text[at:]
            )
        else:
            text = text[:at] + text[at + data.draw(st.integers(1, 3)) :]
    _same_reading(text)
