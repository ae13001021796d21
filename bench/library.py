"""Benchmark: ``hunter hunt`` with Elastic's whole rule library, and the Lua hunt over small events.

Generates the events once (bench/gen_library.py, in a child process), then in the same run times the
floor (read every line and ``orjson.loads`` it, nothing else, in a fresh interpreter) and
``hunter hunt --events FILE --output /dev/null`` as a child process of the console script:

* ``library``: mixed Elastic Defend events (Windows and Linux process, network, file, registry,
  library, dns) and every EQL rule of ``../shared/detection-rules`` (rules/ and
  rules_building_block/). Loading and compiling about 1,000 rules is a fixed cost, measured by the
  same command over a one-event file and shown apart: the ratio is that of the pass over the events
  (target: at most 10x the floor), and of the whole command;
* ``lua``: the hunts of queries/ (the T1059.011 Lua hunt) over Linux process events of about 450
  bytes (target: at most 2x the floor).

    python bench/library.py                       # both, 100,000 and 500,000 events
    python bench/library.py --only library --events 20000 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline import ROOT, SETTINGS, Child, run_child

RULES = ROOT.parent / "shared" / "detection-rules"
LIBRARY_TARGET = 10.0
LUA_TARGET = 2.0
SUMMARY = re.compile(
    rb"hunter: (\d+) events read from (\d+) file\(s\), (\d+) bad line\(s\) skipped; (\d+) alert\(s\)"
)


def generate(path: Path, count: int, seed: int, *, small: bool) -> None:
    """Write ``count`` events with bench/gen_library.py (``--small`` for the Lua bench)."""
    command = [
        sys.executable,
        str(ROOT / "bench" / "gen_library.py"),
        "--count",
        str(count),
        "--seed",
        str(seed),
    ]
    command += ["--output", str(path), *(["--small"] if small else [])]
    print(f"generating {count:,} {'small ' if small else ''}events into {path} ...", flush=True)
    subprocess.run(command, check=True)


def floor_seconds(path: Path) -> float:
    """Seconds a fresh interpreter takes to read ``path`` and ``orjson.loads`` every line."""
    child = run_child([sys.executable, str(ROOT / "bench" / "pipeline.py"), "--floor-child", str(path)])
    if child.returncode != 0:
        raise SystemExit(child.stderr.decode(errors="replace"))
    return float(child.stdout.split()[1])


def hunt(path: Path, queries: list[Path]) -> Child:
    """``hunter hunt`` over ``path`` with the hunts of ``queries`` (the settings' when empty)."""
    script = Path(sys.executable).parent / "hunter"
    prefix = [str(script)] if script.is_file() else [sys.executable, "-m", "hunter.cli"]
    command = [*prefix, "hunt", "--events", str(path), "--output", os.devnull, "--config", str(SETTINGS)]
    for folder in queries:
        command += ["--queries", str(folder)]
    child = run_child(command)
    if child.returncode != 0:
        raise SystemExit(child.stderr.decode(errors="replace")[-4000:])
    return child


def alerts_of(child: Child) -> str:
    """The alert count of hunter's summary line."""
    found = SUMMARY.search(child.stderr)
    return found.group(4).decode() if found else "?"


def bench(name: str, path: Path, lines: int, queries: list[Path], *, repeat: int, target: float) -> None:
    """Time the floor and hunter ``repeat`` times, print medians and the ratio."""
    one = path.with_suffix(".one.ndjson")
    with path.open("rb") as source:
        one.write_bytes(source.readline())
    fixed = statistics.median(hunt(one, queries).seconds for _ in range(repeat))
    print(f"{name}: fixed cost (start, load and compile the hunts, one event): {fixed:.2f} s")
    floors, totals, peaks = [], [], []
    child = None
    for number in range(1, repeat + 1):
        floors.append(floor_seconds(path))
        child = hunt(path, queries)
        totals.append(child.seconds)
        peaks.append(child.peak_kib)
        print(
            f"{name} run {number}: floor {floors[-1]:.2f} s, hunter {child.seconds:.2f} s "
            f"(pass {child.seconds - fixed:.2f} s), peak RSS {child.peak_kib / 1024:.1f} MiB",
            flush=True,
        )
    assert child is not None
    floor, total = statistics.median(floors), statistics.median(totals)
    passed = total - fixed
    print(
        f"{name}: {lines:,} events, {path.stat().st_size / lines:,.0f} bytes each, "
        f"{alerts_of(child)} alert(s)"
    )
    print(f"  floor (read + orjson.loads): {floor:.2f} s, {lines / floor:,.0f} events/s")
    print(f"  hunter hunt, whole command: {total:.2f} s, ratio {total / floor:.2f}x")
    print(
        f"  hunter hunt, pass over the events: {passed:.2f} s, {lines / passed:,.0f} events/s, "
        f"ratio {passed / floor:.2f}x"
    )
    print(
        f"  peak RSS {max(peaks) / 1024:.1f} MiB; target pass <= {target:g}x floor: "
        f"{'met' if passed / floor <= target else 'NOT met'}"
    )


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=("library", "lua"))
    parser.add_argument("--events", type=int, help="events (library 100,000; lua 500,000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1, help="measure this many times; medians are shown")
    parser.add_argument("--folder", type=Path, help="keep and reuse the generated files here")
    args = parser.parse_args(argv)
    folder = args.folder or Path(tempfile.mkdtemp(prefix="hunter-library-"))
    folder.mkdir(parents=True, exist_ok=True)
    if args.only in (None, "library"):
        if not (RULES / "rules").is_dir():
            raise SystemExit(f"{RULES} is missing: the library bench needs Elastic's rules there")
        count = args.events or 100_000
        path = folder / f"library-{count}-{args.seed}.ndjson"
        if not path.exists():
            generate(path, count, args.seed, small=False)
        bench(
            "library",
            path,
            count,
            [RULES / "rules", RULES / "rules_building_block"],
            repeat=args.repeat,
            target=LIBRARY_TARGET,
        )
    if args.only in (None, "lua"):
        count = args.events or 500_000
        path = folder / f"small-{count}-{args.seed}.ndjson"
        if not path.exists():
            generate(path, count, args.seed, small=True)
        bench("lua", path, count, [], repeat=args.repeat, target=LUA_TARGET)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
