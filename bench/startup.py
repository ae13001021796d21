"""Benchmark: the fixed cost of loading and compiling Elastic's rule library, before and after.

Three figures, each timed in a fresh interpreter, the median of ``--runs`` rounds; every round runs
the "before" and the "now" child back to back, so both see the same load on a shared machine:

* ``hunter validate --queries rules --queries rules_building_block`` (the whole command);
* ``hunter hunt`` with the same folders over a file of one event (bench/gen_library.py), the cost
  paid before the first event is read;
* in-process: ``load_hunt_set`` of the library, then a run of every query (what a search does
  before its first event), after the imports.

"Before" is the same code with the changes that cut this cost switched back (``--before`` in a
child): TOML files parsed by tomllib as written (not with escape-free basic strings as literal
ones), queries parsed only the plain way (``parser.parse_plain``: a Lark parse tree, then the
builder), every generated function written and compiled at plan time, and every skipped rule file
read by the full reader. The children's outputs are compared: the same hunts, problems and
warnings, the same alerts.

    python bench/startup.py                  # 5 rounds
    python bench/startup.py --runs 9
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT.parent / "shared" / "detection-rules"
FOLDERS = [RULES / "rules", RULES / "rules_building_block"]
SETTINGS = ROOT / "settings.toml"


# ---- children ---------------------------------------------------------------------------------


def switch_back() -> None:
    """Put back the code paths as they were: tomllib on the text as written, plain parsing, code
    generated at plan time, skipped rule files read by the full reader."""
    from hunter import hunts, tomlfile
    from hunter.eql import codegen, parser, query
    from hunter.rules import detection_rules

    def eager_build(emitter: Any, write: Callable[[], list[str]], name: str, *, defer: bool) -> Any:
        exec(compile("\n".join(write()), f"<eql {name}>", "exec"), emitter.namespace)
        return emitter.namespace[name]

    hunts._read_toml = tomlfile.read_toml
    query.parse = parser.parse_plain  # type: ignore[attr-defined]
    codegen._build = eager_build
    detection_rules._plain_skip = lambda path, data, *, include_deprecated: None


def cli_child(argv: Sequence[str], before: bool) -> int:
    """``hunter`` with ``argv`` in this interpreter (switched back first with ``before``)."""
    import hunter.cli

    if before:
        switch_back()
    return hunter.cli.main(list(argv))


def load_child(before: bool) -> None:
    """Print, as JSON, the seconds of the imports and of loading the library and making its runs."""
    started = time.perf_counter()
    from hunter.hunts import load_hunt_set

    imported = time.perf_counter()
    if before:
        switch_back()
    switched = time.perf_counter()
    hunt_set = load_hunt_set(FOLDERS)
    loaded = time.perf_counter()
    runs = [query.compiled.run() for hunt in hunt_set.hunts for query in hunt.queries]
    done = time.perf_counter()
    print(
        json.dumps(
            {
                "imports": imported - started,
                "load": loaded - switched,
                "runs": done - loaded,
                "hunts": len(hunt_set.hunts),
                "queries": len(runs),
            }
        )
    )


# ---- the parent -------------------------------------------------------------------------------


def child(arguments: list[str], before: bool) -> tuple[float, subprocess.CompletedProcess[bytes]]:
    """Run this script as a child with ``arguments``; its wall-clock seconds and what it printed."""
    command = [sys.executable, str(Path(__file__).resolve()), *(["--before"] if before else []), *arguments]
    started = time.perf_counter()
    finished = subprocess.run(command, capture_output=True, cwd=ROOT, check=False)
    seconds = time.perf_counter() - started
    if finished.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{finished.stderr.decode(errors='replace')[-3000:]}")
    return seconds, finished


def one_event_file(folder: Path) -> Path:
    """A file of one generated Elastic Defend event (bench/gen_library.py)."""
    events = folder / "events.ndjson"
    command = [
        sys.executable,
        str(ROOT / "bench" / "gen_library.py"),
        "--count",
        "10",
        "--output",
        str(events),
    ]
    subprocess.run(command, check=True, capture_output=True)
    one = folder / "one.ndjson"
    with events.open("rb") as source:
        one.write_bytes(source.readline())
    return one


def main() -> None:
    """Parse arguments; run a child's part, or the whole benchmark."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="rounds (each: before and now, each figure)")
    parser.add_argument("--before", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child", choices=["cli", "load"], help=argparse.SUPPRESS)
    parser.add_argument("argv", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "cli":
        raise SystemExit(cli_child(args.argv, args.before))
    if args.child == "load":
        load_child(args.before)
        return
    if not FOLDERS[0].is_dir():
        raise SystemExit(f"{RULES} is not present")
    queries = [part for folder in FOLDERS for part in ("--queries", str(folder))]
    with tempfile.TemporaryDirectory() as temporary:
        one = one_event_file(Path(temporary))
        validate = ["--child", "cli", "--", "validate", "--config", str(SETTINGS), *queries]
        hunt = ["--child", "cli", "--", "hunt", "--config", str(SETTINGS), "--events", str(one), *queries]
        figures: dict[str, dict[bool, list[float]]] = {
            name: {False: [], True: []} for name in ("validate", "hunt", "load", "runs", "imports")
        }
        outputs: dict[str, dict[bool, bytes]] = {"validate": {}, "hunt": {}}
        for number in range(1, args.runs + 1):
            for before in (True, False):
                for name, arguments in (("validate", validate), ("hunt", hunt)):
                    seconds, finished = child(arguments, before)
                    figures[name][before].append(seconds)
                    output = finished.stdout + finished.stderr
                    if name == "validate":
                        validate_summary = finished.stdout
                    if outputs[name].setdefault(before, output) != output:
                        raise SystemExit(f"{name} printed something else in round {number}")
                _seconds, finished = child(["--child", "load"], before)
                measured = json.loads(finished.stdout)
                for name in ("load", "runs", "imports"):
                    figures[name][before].append(measured[name])
            print(
                f"round {number}: validate {_last(figures, 'validate')}, hunt (one event) "
                f"{_last(figures, 'hunt')}, load and runs in-process {_last(figures, 'load', 'runs')}",
                flush=True,
            )
    for name in outputs:
        if outputs[name][True] != outputs[name][False]:
            raise SystemExit(f"{name}: the output differs before and now")
    summary = validate_summary.decode(errors="replace").strip().splitlines()[-1]
    print(f"\n{measured['hunts']} hunts, {measured['queries']} queries; validate says: {summary}")
    print(f"medians of {args.runs} runs, before -> now (before/now):")
    print(f"  hunter validate, whole command: {_medians(figures, 'validate')}")
    print(f"  hunter hunt over one event, whole command: {_medians(figures, 'hunt')}")
    print(f"  in-process, load_hunt_set and a run per query: {_medians(figures, 'load', 'runs')}")
    for name, label in (("load", "load_hunt_set"), ("runs", "a run per query"), ("imports", "imports")):
        print(f"    {label}: {_medians(figures, name)}")
    print("outputs (validate's problems and warnings, hunt's alerts and summary): identical")


def _sums(figures: dict[str, dict[bool, list[float]]], names: tuple[str, ...], before: bool) -> list[float]:
    return [sum(parts) for parts in zip(*(figures[name][before] for name in names), strict=True)]


def _last(figures: dict[str, dict[bool, list[float]]], *names: str) -> str:
    return f"{_sums(figures, names, True)[-1]:.2f} -> {_sums(figures, names, False)[-1]:.2f} s"


def _medians(figures: dict[str, dict[bool, list[float]]], *names: str) -> str:
    old = statistics.median(_sums(figures, names, True))
    new = statistics.median(_sums(figures, names, False))
    return f"{old:.2f} s -> {new:.2f} s ({old / new:.2f}x)"


if __name__ == "__main__":
    main()
