"""Exceptions: Kibana's exception items as hunt file tables and shared lists, applied to matches."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hunter.cli import main
from hunter.errors import HuntSetError
from hunter.exceptions import ExceptionEntry, ExceptionItem
from hunter.hunts import load_hunt_set
from tests.conftest import QUERIES, SAMPLES, SettingsFactory, read_ndjson

EVENT: dict[str, Any] = {
    "process": {"name": "lua5.4", "args": ["lua5.4", "-e", "os.execute('id')"], "pid": 4242},
    "user": {"name": "dana"},
    "destination": {"port": 4444},
}


def entry(field: str, operator: str, *values: Any) -> ExceptionEntry:
    """An entry as the hunt file reader makes it."""
    from hunter.exceptions import OPERATORS

    kind, negated = OPERATORS[operator]
    return ExceptionEntry(field, kind, tuple(str(v) for v in values), negated)


@pytest.mark.parametrize(
    ("field", "operator", "values", "holds"),
    [
        ("process.name", "is", ["lua5.4"], True),
        ("process.name", "is", ["LUA5.4"], False),  # match_phrase on a keyword: case-sensitive
        ("process.name", "is not", ["lua5.4"], False),
        ("process.args", "is", ["-e"], True),  # any value of a multi-valued field
        ("destination.port", "is", [4444], True),  # a number matches its text form
        ("process.name", "is one of", ["luajit", "lua5.4"], True),
        ("process.name", "is not one of", ["luajit", "lua"], True),
        ("process.parent.name", "is not", ["bash"], True),  # a missing field "is not" anything
        ("process.parent.name", "is", ["bash"], False),
        ("user.name", "exists", [], True),
        ("process.parent.name", "exists", [], False),
        ("process.parent.name", "does not exist", [], True),
        ("process.args", "matches", ["os.execute(*"], True),
        ("process.args", "matches", ["OS.EXECUTE(*"], False),  # wildcard query: case-sensitive
        ("process.name", "matches", ["lua?.4"], True),
        ("process.name", "matches", ["lua\\*"], False),  # \\* is a literal star
        ("process.name", "does not match", ["py*"], True),
    ],
)
def test_operators_evaluate_as_kibanas_exception_queries(
    field: str, operator: str, values: list[Any], holds: bool
) -> None:
    """Each operator holds as the query Kibana builds for it would match the event."""
    assert entry(field, operator, *values).holds(EVENT) is holds


def test_an_item_holds_when_all_its_entries_do() -> None:
    """Entries of one item are ANDed."""
    both = ExceptionItem(
        "x", (entry("user.name", "is", "dana"), entry("process.name", "is", "lua5.4")), Path()
    )
    assert both.holds(EVENT)
    assert not ExceptionItem("x", (*both.entries, entry("user.name", "is", "root")), Path()).holds(EVENT)


EXCEPTIONS = """
[[exceptions]]
name = "Backup job"
entries = [
  { field = "host.name", operator = "is", value = "db-backup-01" },
  { field = "process.name", operator = "is one of", values = ["lua5.3", "lua5.4"] },
]
"""


def hunt_folder(tmp_path: Path, extra: str) -> Path:
    """A folder with the Lua hunt and ``extra`` TOML appended to it."""
    folder = tmp_path / "hunts"
    folder.mkdir(exist_ok=True)
    text = (QUERIES / "t1059_011_lua.toml").read_text(encoding="utf-8")
    head, _, queries = text.partition("[threat]")
    (folder / "lua.toml").write_text(head + extra + "\n[threat]" + queries, encoding="utf-8")
    return folder


def test_exceptions_in_the_hunt_file_and_in_shared_lists_load(tmp_path: Path) -> None:
    """[[exceptions]] tables and exception_lists files (relative to the hunt file) become the hunt's items."""
    root = '{ field = "user.name", operator = "is", value = "root" }'
    (tmp_path / "shared.toml").write_text(
        f'[[exceptions]]\nname = "Admins"\nentries = [{root}]\n', encoding="utf-8"
    )
    folder = hunt_folder(tmp_path, 'exception_lists = ["../shared.toml"]\n' + EXCEPTIONS)
    (hunt,) = load_hunt_set([folder]).hunts
    assert [item.name for item in hunt.exceptions] == ["Backup job", "Admins"]
    assert hunt.exceptions[0].describe() == (
        "Backup job: host.name is 'db-backup-01' and process.name is one of ['lua5.3', 'lua5.4']"
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('[[exceptions]]\nname = "x"\n', "exceptions.0.entries must be a non-empty array"),
        (
            '[[exceptions]]\nentries = [{ field = "a", operator = "contains", value = "b" }]\n',
            "exceptions.0.entries.0.operator must be one of",
        ),
        (
            '[[exceptions]]\nentries = [{ field = "a", operator = "is one of", value = "b" }]\n',
            "needs values",
        ),
        ('[[exceptions]]\nentries = [{ field = "a", operator = "exists", value = "b" }]\n', "takes no value"),
        ('exception_lists = ["nowhere.toml"]\n', "exception list 'nowhere.toml' not found"),
    ],
)
def test_bad_exceptions_are_located_problems(tmp_path: Path, extra: str, message: str) -> None:
    """A wrong exception is a file:line:col problem of the hunt set, like any hunt file problem."""
    folder = hunt_folder(tmp_path, extra)
    with pytest.raises(HuntSetError) as info:
        load_hunt_set([folder])
    (problem,) = info.value.problems
    assert message in problem.message and problem.line > 1


def test_a_bad_shared_list_is_located_in_its_own_file(tmp_path: Path) -> None:
    """A problem inside a shared list names that file and line."""
    shared = tmp_path / "shared.toml"
    shared.write_text('[[exceptions]]\nentries = [{ field = "a", operator = "is" }]\n', encoding="utf-8")
    folder = hunt_folder(tmp_path, 'exception_lists = ["../shared.toml"]\n')
    with pytest.raises(HuntSetError) as info:
        load_hunt_set([folder])
    (problem,) = info.value.problems
    assert (
        Path(problem.path) == shared.resolve() and problem.line == 2 and "needs one value" in problem.message
    )


def test_hunt_drops_matches_an_exception_holds_for_and_validate_lists_them(
    tmp_path: Path, settings_file: SettingsFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """Over the samples the backup host's Auditbeat Lua start is excepted: 3 alerts instead of 4;
    `hunter validate` shows the hunt's exceptions."""
    folder = hunt_folder(tmp_path, EXCEPTIONS)
    config = str(settings_file())
    out = tmp_path / "alerts.ndjson"
    assert (
        main(
            [
                "hunt",
                "--config",
                config,
                "--events",
                str(SAMPLES),
                "--queries",
                str(folder),
                "--output",
                str(out),
            ]
        )
        == 0
    )
    alerts = read_ndjson(out.read_text(encoding="utf-8"))
    assert len(alerts) == 3
    assert "db-backup-01" not in json.dumps(alerts)
    capsys.readouterr()
    assert main(["validate", "--config", config, "--queries", str(folder)]) == 0
    listed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("exception")]
    assert listed == [
        "exception  t1059_011_lua  Backup job: host.name is 'db-backup-01' and "
        "process.name is one of ['lua5.3', 'lua5.4']  (lua.toml)"
    ]


def test_the_runner_counts_what_exceptions_dropped(
    tmp_path: Path, settings_file: SettingsFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """A scheduled run applies the exceptions too, and its summary line counts the excluded matches."""
    folder = hunt_folder(tmp_path, EXCEPTIONS)
    config = str(settings_file(queries=folder))
    assert main(["run", "--once", "--config", config, "--now", "2026-11-20T15:00:00Z"]) == 0
    out, err = capsys.readouterr()
    assert out.count("[ALERT]") == 3
    (summary,) = [
        json.loads(line) for line in err.splitlines() if line.startswith("{") and '"hunt run"' in line
    ]
    assert summary["excluded"] == 1
