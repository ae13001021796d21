"""Hunts: the files in queries/ load and validate; bad hunt files list every problem with its location."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from hunter import hunts
from hunter.eql import codecache
from hunter.errors import HuntSetError
from hunter.hunts import Hunt, load_hunt, load_hunt_set, load_hunts
from tests.conftest import HUNT_ID, QUERIES, SHARED

MINUTE_NS = 60 * 1_000_000_000

GOOD = """id = "good"
name = "Good hunt"
severity = "low"

[queries.single]
query = 'process where process.name == "lua"'
"""

# Line numbers matter: the problems below are located in this text.
BAD = '''id = "Bad Id"
name = "Broken hunt"
severity = "urgent"
colour = "red"
interval = "soon"

[queries.seq]
query = """
sequence by host.id with maxspan=5m
  [process where process.name == ]
  [file where true]
"""

[queries.single]
query = "process where process.name =="
'''


def write(folder: Path, name: str, text: str) -> Path:
    """Write a hunt file into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_lua_hunt_loads_with_its_two_named_queries(lua_hunt: Hunt) -> None:
    """queries/ holds the T1059.011 hunt with queries 'sequence' and 'fallback' (5m maxspan, 5m interval)."""
    assert lua_hunt.id == HUNT_ID
    assert {query.name for query in lua_hunt.queries} == {"sequence", "fallback"}
    assert lua_hunt.max_maxspan_ns == 5 * MINUTE_NS
    assert lua_hunt.interval_ns == 5 * MINUTE_NS
    assert lua_hunt.severity == "medium"
    assert lua_hunt.severity_number == 47
    (threat,) = lua_hunt.threat  # the native [threat] table is one entry
    assert (threat.framework, threat.tactic.id) == ("MITRE ATT&CK", "TA0002")
    (technique,) = threat.techniques
    assert technique.id == "T1059"
    assert [sub.id for sub in technique.subtechniques] == ["T1059.011"]
    assert lua_hunt.source == "hunter" and lua_hunt.timestamp_override is None


def test_the_hunt_queries_are_verbatim_from_the_hunt_specification(lua_hunt: Hunt) -> None:
    """The EQL of both queries is the text of ../shared/hunts/T1059.011.md (whitespace aside)."""
    spec = SHARED / "hunts" / "T1059.011.md"
    if not spec.is_file():
        pytest.skip("../shared/hunts/T1059.011.md is not present")
    blocks = spec.read_text(encoding="utf-8").split("```")[1::2]
    expected = [" ".join(block.split()) for block in blocks[:2]]
    by_name = {query.name: " ".join(query.text.split()) for query in lua_hunt.queries}
    assert by_name["sequence"] == expected[0]
    assert by_name["fallback"] == expected[1]


def test_every_hunt_in_queries_loads_without_problems() -> None:
    """load_hunts over queries/ raises nothing and returns at least the Lua hunt."""
    hunts = load_hunts(QUERIES)
    assert HUNT_ID in {hunt.id for hunt in hunts}
    assert len({hunt.id for hunt in hunts}) == len(hunts)


def test_overlap_is_never_shorter_than_the_largest_maxspan(lua_hunt: Hunt) -> None:
    """With a lookback shorter than the maxspan the overlap is still the maxspan (and a warning says so)."""
    short = dataclasses.replace(lua_hunt, lookback_ns=MINUTE_NS)
    assert short.overlap_ns == 5 * MINUTE_NS
    assert short.warnings()
    longer = dataclasses.replace(lua_hunt, lookback_ns=20 * MINUTE_NS)
    assert longer.overlap_ns == 20 * MINUTE_NS
    assert not longer.warnings()


def test_a_bad_hunt_file_lists_every_problem_with_its_location(tmp_path: Path) -> None:
    """Each problem of a bad file is reported as file:line:col: message at the right place."""
    path = write(tmp_path, "bad.toml", BAD)
    hunt, problems = load_hunt(path)
    assert hunt is None
    located = {(p.line, p.column): p.message for p in problems}
    assert str(path) == problems[0].path
    assert "id must be" in located[(1, 1)]
    assert "severity must be one of" in located[(3, 1)]
    assert "unknown key 'colour'" in located[(4, 1)]
    assert "interval" in located[(5, 1)]
    # `]` of `[process where process.name == ]` on file line 10, column 34.
    assert located[(10, 34)].startswith("queries.seq:")
    # the end of the one-line query string on file line 15: column 10 + len(query text).
    assert located[(15, 39)].startswith("queries.single:")
    assert len(problems) == 6
    for problem in problems:
        assert str(problem) == f"{path}:{problem.line}:{problem.column}: {problem.message}"


def test_hunt_files_read_before_come_back_the_same_from_the_code_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a code cache, a file parsed before is not parsed again and loads the same hunt; a bad
    file is parsed (and reported at the same places) every time."""
    folder = tmp_path / "hunts"
    folder.mkdir()
    for path in QUERIES.glob("*.toml"):
        write(folder, path.name, path.read_text(encoding="utf-8"))
    write(folder, "bad.toml", BAD)
    write(folder, "worse.toml", "id = \n")
    codecache.use(tmp_path / "cache")
    parsed: list[str] = []
    parse = hunts._parsed_toml

    def counted(text: str) -> dict[str, Any] | None:
        parsed.append(text)
        return parse(text)

    monkeypatch.setattr(hunts, "_parsed_toml", counted)
    files = sorted(folder.iterdir())

    def outcomes() -> list[tuple[str | None, list[str], list[str]]]:
        read = [hunts.read_hunt_file(path) for path in files]
        return [
            (
                None if outcome.hunt is None else outcome.hunt.id,
                [] if outcome.hunt is None else [query.text for query in outcome.hunt.queries],
                [str(problem) for problem in outcome.problems],
            )
            for outcome in read
        ]

    first = outcomes()
    assert len(parsed) == len(files) and any(hunt for hunt, _queries, _problems in first)
    parsed.clear()
    assert outcomes() == first
    assert parsed == ["id = \n"]  # not TOML: never kept


def test_loading_a_folder_collects_the_problems_of_every_file(tmp_path: Path) -> None:
    """load_hunts does not stop at the first bad file: HuntSetError carries every file's problems."""
    write(tmp_path, "a_bad.toml", BAD)
    write(tmp_path, "b_good.toml", GOOD)
    write(tmp_path, "c_worse.toml", "id = \n")
    with pytest.raises(HuntSetError) as info:
        load_hunts(tmp_path)
    files = {Path(problem.path).name for problem in info.value.problems}
    assert files == {"a_bad.toml", "c_worse.toml"}
    assert len(info.value.problems) == 7
    summary = "1 hunts loaded, 0 skipped (0 not EQL, 0 deprecated), 2 files with problems"
    assert info.value.summary == summary
    assert str(info.value).splitlines() == [str(problem) for problem in info.value.problems] + [summary]


def test_invalid_toml_in_a_hunt_is_located(tmp_path: Path) -> None:
    """A hunt file that is not TOML gives one problem at the parser's line and column."""
    path = write(tmp_path, "x.toml", 'id = "x"\nname = \n')
    _hunt, problems = load_hunt(path)
    assert [(p.line, p.column) for p in problems] == [(2, 8)]
    assert problems[0].message.startswith("invalid TOML")


def test_duplicate_hunt_ids_are_a_problem(tmp_path: Path) -> None:
    """Two files with the same hunt id are refused."""
    write(tmp_path, "one.toml", GOOD)
    write(tmp_path, "two.toml", GOOD)
    with pytest.raises(HuntSetError, match="also used by"):
        load_hunts(tmp_path)


def test_an_empty_or_missing_folder_is_a_problem(tmp_path: Path) -> None:
    """No hunt files, or no folder at all, is an error rather than a service that hunts nothing."""
    with pytest.raises(HuntSetError, match="no hunt files"):
        load_hunts(tmp_path)
    with pytest.raises(HuntSetError, match="not found"):
        load_hunts(tmp_path / "missing")


def test_suppression_is_read_from_the_hunt_file(tmp_path: Path) -> None:
    """suppress_by / suppress_for become the hunt's Suppression (fields and nanoseconds)."""
    path = write(tmp_path, "s.toml", 'suppress_by = ["host.id", "user.name"]\nsuppress_for = "1h"\n' + GOOD)
    hunt, problems = load_hunt(path)
    assert problems == []
    assert hunt is not None
    assert hunt.suppression is not None
    assert hunt.suppression.by == ("host.id", "user.name")
    assert hunt.suppression.duration_ns == 60 * MINUTE_NS


def test_incomplete_suppression_is_a_problem(tmp_path: Path) -> None:
    """suppress_by without suppress_for (or suppress_for without fields) is reported, located."""
    path = write(
        tmp_path,
        "s.toml",
        GOOD.replace('severity = "low"\n', 'severity = "low"\nsuppress_by = ["host.id"]\n'),
    )
    hunt, problems = load_hunt(path)
    assert hunt is None
    assert [(p.line, p.message) for p in problems] == [
        (4, "suppress_by needs suppress_for, how long to suppress (for example '1h')")
    ]
    path = write(tmp_path, "f.toml", 'suppress_for = "1h"\n' + GOOD)
    hunt, problems = load_hunt(path)
    assert hunt is None and [p.line for p in problems] == [1]


@pytest.mark.parametrize(
    ("weekday", "names"),
    [
        ("0", "sun"),
        ("7", "sun"),
        ("1-5", "mon,tue,wed,thu,fri"),
        ("MON-Fri", "mon,tue,wed,thu,fri"),
        ("5-7", "sun,fri,sat"),
        ("*/2", "sun,tue,thu,sat"),
        ("sat,0", "sun,sat"),
        ("0-6", "*"),
    ],
)
def test_cron_weekdays_count_from_sunday_as_crontab_does(weekday: str, names: str) -> None:
    """APScheduler 3.x counts weekdays from Monday = 0; hunt files use crontab's Sunday = 0."""
    from hunter.cron import cron_trigger

    trigger = cron_trigger(f"0 9 * * {weekday}")
    (field,) = [f for f in trigger.fields if f.name == "day_of_week"]
    assert str(field) == names


def test_a_cron_hunt_runs_on_crontab_days_and_its_interval_is_the_longest_gap(tmp_path: Path) -> None:
    """'30 2 * * 0' is Sundays at 02:30 (not Mondays); health and catch-up use the 7-day gap."""
    from datetime import UTC, datetime

    from hunter.cron import cron_trigger

    hunt, problems = load_hunt(write(tmp_path, "weekly.toml", 'cron = "30 2 * * 0"\n' + GOOD))
    assert hunt is not None and not problems and hunt.cron is not None
    assert hunt.cron == "30 2 * * 0" and hunt.interval_ns == 7 * 24 * 60 * MINUTE_NS
    saturday = datetime(2026, 11, 28, 12, tzinfo=UTC)
    assert cron_trigger(hunt.cron).get_next_fire_time(None, saturday) == datetime(
        2026, 11, 29, 2, 30, tzinfo=UTC
    )
    weekdays, _ = load_hunt(write(tmp_path, "weekdays.toml", 'cron = "0 9 * * mon-fri"\n' + GOOD))
    assert (
        weekdays is not None and weekdays.interval_ns == 3 * 24 * 60 * MINUTE_NS
    )  # Friday 09:00 to Monday 09:00


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ('cron = "0 9 * *"', "cron: expected 5 fields"),
        ('cron = "0 9 1 * 1"', "cron: restricting both day of month and day of week is not supported"),
        ('cron = "0 9 * * 8"', "cron: bad day of week '8'"),
        ('cron = "61 * * * *"', "cron:"),
        ('cron = "0 * * * *"\ninterval = "5m"', "give either interval or cron, not both"),
    ],
)
def test_bad_cron_schedules_are_problems(tmp_path: Path, lines: str, message: str) -> None:
    """Cron expressions APScheduler would misread, or that cannot run, are located problems."""
    path = write(tmp_path, "cron.toml", lines + "\n" + GOOD)
    with pytest.raises(HuntSetError) as raised:
        load_hunts(tmp_path)
    assert message in str(raised.value) and f"{path}:1:" in str(raised.value)


def test_problems_inside_inline_tables_and_dotted_keys_point_at_their_line(tmp_path: Path) -> None:
    """A key missing from an inline table or a dotted key is located at that table's line, not 1:1."""
    path = write(
        tmp_path,
        "threat.toml",
        GOOD.replace(
            "\n[queries.single]",
            '\n[threat]\nframework = "MITRE ATT&CK"\ntactic = { id = "TA0002", name = "Execution" }\n'
            'technique.id = "T1059"\n\n[queries.single]',
        ),
    )
    with pytest.raises(HuntSetError) as raised:
        load_hunts(tmp_path)
    assert [str(problem) for problem in raised.value.problems] == [
        f"{path}:7:1: missing required key 'threat.tactic.reference'",
        f"{path}:8:1: missing required key 'threat.technique.name'",
        f"{path}:8:1: missing required key 'threat.technique.reference'",
    ]


@pytest.mark.parametrize(
    ("cron", "longest"),
    [
        ("*/5 * * * *", timedelta(minutes=5)),
        ("*/5 * * 1-11 *", timedelta(days=31, minutes=5)),  # Nov 30 23:55 to Jan 1 00:00
        ("*/5 * 1-30 * *", timedelta(days=1, minutes=5)),  # the 31st is skipped
        ("0 0 1 1 *", timedelta(days=366)),  # a leap year
        ("0 0 29 2 *", timedelta(days=4 * 365 + 1)),  # leap days only
    ],
)
def test_the_interval_of_a_cron_hunt_is_its_longest_gap_however_often_it_runs(
    cron: str, longest: timedelta
) -> None:
    """Frequent schedules with rare long pauses are measured over years of runs, not their first days."""
    from hunter.cron import cron_longest_gap_ns

    assert cron_longest_gap_ns(cron) == int(longest.total_seconds()) * 1_000_000_000


# ---- hunt sets: several paths, both formats ---------------------------------------------------------

RULE = """[metadata]
creation_date = "2024/05/02"
maturity = "production"
updated_date = "2026/08/01"

[rule]
author = ["Elastic"]
description = "A detection-rules rule."
from = "now-9m"
language = "eql"
name = "Rule"
risk_score = 47
rule_id = "{rule_id}"
severity = "medium"
type = "{rule_type}"

query = '''
process where process.name == "lua"
'''
"""


def test_a_hunt_set_reads_files_and_folders_recursively_in_both_formats(tmp_path: Path) -> None:
    """Folders are searched recursively (sorted), files are taken as given, a file named twice loads once."""
    native = write(tmp_path / "mine" / "deep" / "er", "good.toml", GOOD)
    rules = tmp_path / "elastic"
    write(
        rules / "linux",
        "b.toml",
        RULE.format(rule_id="bbbbbbbb-0000-4000-8000-000000000000", rule_type="eql"),
    )
    write(
        rules / "windows",
        "a.toml",
        RULE.format(rule_id="aaaaaaaa-0000-4000-8000-000000000000", rule_type="eql"),
    )
    write(rules, "q.toml", RULE.format(rule_id="cccccccc-0000-4000-8000-000000000000", rule_type="query"))
    write(rules, "notes.md", "not a hunt")
    hunt_set = load_hunt_set([tmp_path / "mine", rules, native])
    assert [(hunt.id[:8], hunt.source) for hunt in hunt_set.hunts] == [
        ("good", "hunter"),
        ("bbbbbbbb", "detection-rules"),  # linux/b.toml sorts before windows/a.toml
        ("aaaaaaaa", "detection-rules"),
    ]
    assert hunt_set.files == 4
    assert hunt_set.summary() == "3 hunts loaded, 1 skipped (1 not EQL, 0 deprecated), 0 files with problems"
    # one folder holding both: one sorted walk (elastic/ before mine/); a list of paths as given
    assert [hunt.id[:8] for hunt in load_hunts(tmp_path)] == ["bbbbbbbb", "aaaaaaaa", "good"]
    assert [hunt.id for hunt in load_hunts([tmp_path / "mine", rules])] == [h.id for h in hunt_set.hunts]


def test_native_hunts_accept_threat_arrays_in_kibanas_shape(tmp_path: Path) -> None:
    """[[threat]] entries with technique and subtechnique arrays load as they do from Elastic's rules."""
    text = GOOD + (
        '\n[[threat]]\nframework = "MITRE ATT&CK"\n'
        'tactic = { id = "TA0002", name = "Execution", '
        'reference = "https://attack.mitre.org/tactics/TA0002/" }\n'
        "[[threat.technique]]\n"
        'id = "T1059"\nname = "Command and Scripting Interpreter"\n'
        'reference = "https://attack.mitre.org/techniques/T1059/"\n'
        'subtechnique = [{ id = "T1059.011", name = "Lua", '
        'reference = "https://attack.mitre.org/techniques/T1059/011/" }]\n'
        '\n[[threat]]\nframework = "MITRE ATT&CK"\n'
        'tactic = { id = "TA0011", name = "Command and Control" }\n'
    )
    path = write(tmp_path, "arrays.toml", text)
    hunt, problems = load_hunt(path)
    assert hunt is None
    assert [(p.line, p.message) for p in problems] == [
        (
            text.splitlines().index('tactic = { id = "TA0011", name = "Command and Control" }') + 1,
            "missing required key 'threat.1.tactic.reference'",
        ),
    ]
    fixed = text.replace('name = "Command and Control" }', 'name = "Command and Control", reference = "r" }')
    hunt, problems = load_hunt(write(tmp_path, "arrays.toml", fixed))
    assert problems == [] and hunt is not None
    execution, c2 = hunt.threat
    assert (execution.tactic.id, [t.id for t in execution.techniques]) == ("TA0002", ["T1059"])
    assert [s.id for s in execution.techniques[0].subtechniques] == ["T1059.011"]
    assert (c2.tactic.name, c2.techniques) == ("Command and Control", ())


def test_native_hunts_may_set_a_timestamp_override(tmp_path: Path) -> None:
    """timestamp_override in a native file is the hunt's (with the fallback to the timestamp field)."""
    hunt, problems = load_hunt(write(tmp_path, "t.toml", 'timestamp_override = "event.ingested"\n' + GOOD))
    assert problems == [] and hunt is not None
    assert (hunt.timestamp_override, hunt.timestamp_override_fallback) == ("event.ingested", True)
    hunt, _ = load_hunt(write(tmp_path, "t.toml", GOOD))
    assert hunt is not None and hunt.timestamp_override is None and hunt.max_signals is None


def test_an_id_used_by_a_native_hunt_and_a_rule_is_a_problem(tmp_path: Path) -> None:
    """Hunt ids are one namespace across formats: the second file with an id is refused, at its id line."""
    rule_id = "aaaaaaaa-0000-4000-8000-000000000000"
    write(tmp_path, "a_native.toml", GOOD.replace('id = "good"', f'id = "{rule_id}"'))
    rule = write(tmp_path, "b_rule.toml", RULE.format(rule_id=rule_id, rule_type="eql"))
    with pytest.raises(HuntSetError) as raised:
        load_hunt_set([tmp_path])
    (problem,) = raised.value.problems
    assert (problem.path, problem.line) == (str(rule), 13)  # the rule_id line of RULE
    assert problem.message == f"hunt id '{rule_id}' is also used by {tmp_path / 'a_native.toml'}"


def test_a_missing_path_is_a_problem_and_the_rest_still_loads(tmp_path: Path) -> None:
    """A path that does not exist is one problem; the error still carries what the other paths loaded."""
    write(tmp_path / "ok", "good.toml", GOOD)
    with pytest.raises(HuntSetError) as raised:
        load_hunt_set([tmp_path / "ok", tmp_path / "gone"])
    assert [str(p) for p in raised.value.problems] == [
        f"{tmp_path / 'gone'}:0:0: hunt file or folder not found"
    ]
    assert (
        raised.value.summary == "1 hunts loaded, 0 skipped (0 not EQL, 0 deprecated), 1 files with problems"
    )
    assert raised.value.hunt_set is not None and [h.id for h in raised.value.hunt_set.hunts] == ["good"]


def test_the_lookback_warning_is_for_native_hunts_only(tmp_path: Path) -> None:
    """A rule's lookback comes from Kibana's from/interval, so a maxspan beyond it is no authoring slip."""
    sequence = "sequence by host.id with maxspan=30m\n  [process where true]\n  [network where true]"
    text = RULE.format(rule_id="aaaaaaaa-0000-4000-8000-000000000000", rule_type="eql").replace(
        'process where process.name == "lua"', sequence
    )
    (hunt,) = load_hunt_set([write(tmp_path, "r.toml", text)]).hunts
    assert hunt.lookback_ns == 4 * MINUTE_NS and hunt.overlap_ns == 30 * MINUTE_NS
    assert hunt.warnings() == []
    assert dataclasses.replace(hunt, source="hunter").warnings() != []


def test_allowed_but_doubtful_settings_are_warned_about(tmp_path: Path) -> None:
    """name = "" and indices = [] load with located warnings; a sequence without maxspan (which cannot
    be split at the result cap) is warned about by the hunt."""
    text = GOOD.replace('name = "Good hunt"', 'name = ""\nindices = []').replace(
        "query = 'process where process.name == \"lua\"'",
        "query = 'sequence [process where true] [file where true]'",
    )
    hunt_set = load_hunt_set([write(tmp_path, "doubt.toml", text)])
    path = tmp_path / "doubt.toml"
    assert hunt_set.warnings == [
        f"{path}:3:1: indices = [] searches the default, logs-*; name the indices to search",
        f'{path}:2:1: name = "" leaves alerts and notices without a hunt name',
    ]
    (hunt,) = hunt_set.hunts
    (warning,) = hunt.warnings()
    assert "query 'single' is a sequence without maxspan" in warning
    assert hunt.indices == ("logs-*",)


def test_shared_exception_lists_beside_the_hunts_are_not_hunts(tmp_path: Path) -> None:
    """A file holding only [[exceptions]] (a shared list) inside a queries folder is not read as a
    broken hunt (it stopped the whole set from loading)."""
    write(tmp_path, "good.toml", GOOD)
    write(
        tmp_path / "shared",
        "admins.toml",
        '[[exceptions]]\nentries = [{ field = "a", operator = "exists" }]\n',
    )
    assert [hunt.id for hunt in load_hunt_set([tmp_path]).hunts] == ["good"]


def test_a_hunt_whose_every_query_is_disabled_is_a_problem(tmp_path: Path) -> None:
    """Every query enabled = false would load a hunt that searches nothing and reports ok: refused."""
    text = GOOD + "enabled = false\n"
    with pytest.raises(HuntSetError, match="every query is disabled"):
        load_hunt_set([write(tmp_path, "off.toml", text)])


def test_loading_hands_back_what_it_froze(tmp_path: Path) -> None:
    """The load freezes what each file leaves (the collector would walk a library's compiled rules
    again and again); nothing stays frozen once it ends, also when it ends with problems."""
    import gc

    write(tmp_path, "good.toml", GOOD)
    assert load_hunt_set([tmp_path]).hunts and gc.get_freeze_count() == 0
    write(tmp_path, "bad.toml", "not toml = = =\n")
    with pytest.raises(HuntSetError):
        load_hunt_set([tmp_path])
    assert gc.get_freeze_count() == 0
