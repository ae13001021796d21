"""Elasticsearch's YAML REST test files read into sections, as its Java runner reads them.

A file is a YAML stream of one-key documents: ``setup``, ``teardown`` or a test section. Values
are read as Jackson's YAML parser reads them: dates stay text (``2020-02-03T12:34:56Z`` is a
string, not a datetime) and every map key is a string (``1:`` is the key ``"1"``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

SHARED = Path(__file__).resolve().parents[3] / "shared" / "es-rest-tests"
TESTS = SHARED / "test"


class _Loader(yaml.SafeLoader):
    """YAML 1.1 without timestamps (Jackson keeps them as text)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _string_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {_key(k): _string_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_string_keys(v) for v in value]
    return value


def _key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return "null" if key is None else str(key)


@dataclass(frozen=True)
class Section:
    """One test section of a file, with the file's setup and teardown steps."""

    folder: str
    file: str
    name: str
    steps: tuple[dict[str, Any], ...]
    setup: tuple[dict[str, Any], ...]
    teardown: tuple[dict[str, Any], ...]

    @property
    def id(self) -> str:
        """``folder/file.yml::section name``, the id pytest and the skip list use."""
        return f"{self.folder}/{self.file}::{self.name}"


def available() -> bool:
    """Is the shared copy of the REST tests present?"""
    return TESTS.is_dir()


def load_file(path: Path) -> list[Section]:
    """The sections of one test file, in file order."""
    documents = [doc for doc in yaml.load_all(path.read_text(encoding="utf-8"), Loader=_Loader) if doc]
    setup: tuple[dict[str, Any], ...] = ()
    teardown: tuple[dict[str, Any], ...] = ()
    named: list[tuple[str, tuple[dict[str, Any], ...]]] = []
    for document in documents:
        if not isinstance(document, dict) or len(document) != 1:
            raise ValueError(f"{path}: a document must have exactly one key")
        ((name, steps),) = _string_keys(document).items()
        body = tuple(steps or ())
        if name == "setup":
            setup = body
        elif name == "teardown":
            teardown = body
        else:
            named.append((name, body))
    folder = path.parent.name
    return [Section(folder, path.name, name, steps, setup, teardown) for name, steps in named]


@cache
def sections() -> tuple[Section, ...]:
    """Every section of every file under ``../shared/es-rest-tests/test``, by folder then file."""
    if not available():
        return ()
    found: list[Section] = []
    for path in sorted(TESTS.glob("*/*.yml"), key=lambda p: (p.parent.name, _file_order(p.name))):
        found.extend(load_file(path))
    return tuple(found)


def _file_order(name: str) -> tuple[int, str]:
    match = re.match(r"(\d+)", name)
    return (int(match.group(1)) if match else 0, name)


def folders() -> Iterator[str]:
    """The folder names, in order."""
    seen: list[str] = []
    for section in sections():
        if section.folder not in seen:
            seen.append(section.folder)
    yield from seen
