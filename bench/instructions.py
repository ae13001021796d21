"""Benchmark: instructions one process's pass over the rule library costs, counted by callgrind.

Wall-clock figures on a shared machine move by 20-50% from minute to minute; instruction counts do
not (with ``PYTHONHASHSEED=0``). This counts, with ``valgrind --tool=callgrind``, the pass of one
process's share of Elastic's rule library (every other hunt, as the split pass gives each process)
over the first ``--events`` and three times as many of the library benchmark's events. The pass is
run twice in the process and the second is counted (the first compiles the code the events reach),
so the difference of the two counts is the cost of the extra events, and the rest is what a pass
costs whatever its length (planning gates, learning, compiling routes). ``--baseline DIR`` counts
the same with the ``hunter`` package of another checkout (``git worktree add DIR <commit>``) in the
same run and prints the ratios.

    python bench/instructions.py --events-file /work/benchdata/library-100000-1.ndjson
    python bench/instructions.py --events 4000 --baseline /tmp/base --events-file FILE

Needs valgrind (``apt-get install valgrind``); about a minute and a half per count.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT.parent / "shared" / "detection-rules"
COLLECTED = re.compile(rb"Collected : (\d+)")

# Run in the counted interpreter: load the library, take every other hunt, pass twice, count the
# second pass only (instrumentation switched on and off around it with callgrind_control).
CHILD = """
import os, subprocess, sys
from pathlib import Path
from hunter.config import load_settings
from hunter.hunts import load_hunt_set
import hunter.search.local as local
settings = load_settings(Path(sys.argv[1]))
rules = [Path(sys.argv[2]) / "rules", Path(sys.argv[2]) / "rules_building_block"]
hunts = [hunt for hunt in load_hunt_set(rules).hunts if hunt.enabled][0::2]
files = local.EventFiles([Path(sys.argv[3])], settings.search.timestamp_field)
searcher = local.LocalSearcher(files, settings.search, prefilter=True, processes=1)
passes = local.LocalSearcher._pass
count = [0]
def counted(self, plan, share, hits):
    count[0] += 1
    if count[0] == 2:
        subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], capture_output=True)
    try:
        return passes(self, plan, share, hits)
    finally:
        if count[0] == 2:
            subprocess.run(["callgrind_control", "-i", "off", str(os.getpid())], capture_output=True)
local.LocalSearcher._pass = counted
searcher.search_hunts(hunts, None)
searcher.search_hunts(hunts, None)
"""


def count(package: Path | None, events: Path, workdir: Path) -> int:
    """Instructions of the counted pass, with ``package``'s hunter (this checkout's when None)."""
    environment = dict(os.environ, PYTHONHASHSEED="0")
    if package is not None:
        environment["PYTHONPATH"] = str(package)
    command = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={workdir / 'callgrind.out'}",
        sys.executable,
        "-c",
        CHILD,
        str(ROOT / "settings.toml"),
        str(RULES),
        str(events),
    ]
    # run from the scratch folder: ``-c`` puts the working directory first on the import path, and a
    # checkout's own folder there would shadow the baseline's package
    done = subprocess.run(command, env=environment, capture_output=True, check=False, cwd=workdir)
    found = COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"callgrind failed: {done.stderr.decode(errors='replace')[-2000:]}")
    return int(found.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--events-file", type=Path, required=True, help="library events (bench/gen_library.py)"
    )
    parser.add_argument("--events", type=int, default=4000, help="the smaller count (default 4000)")
    parser.add_argument("--baseline", type=Path, help="a checkout whose hunter package to count too")
    args = parser.parse_args()
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("valgrind is not installed: nothing counted")
        return 0
    if not RULES.is_dir():
        print(f"{RULES}: no rule library: nothing counted")
        return 0
    small, large = args.events, 3 * args.events
    versions = [("this checkout", None)] + ([("baseline", args.baseline)] if args.baseline else [])
    figures: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        cuts = {}
        with args.events_file.open("rb") as source:
            lines = [line for _number, line in zip(range(large), source, strict=False)]
        for size in (small, large):
            cuts[size] = workdir / f"events-{size}.ndjson"
            cuts[size].write_bytes(b"".join(lines[:size]))
        for label, package in versions:
            few, many = count(package, cuts[small], workdir), count(package, cuts[large], workdir)
            per_event = (many - few) / (large - small)
            fixed = few - small * per_event
            figures[label] = (per_event, fixed)
            print(
                f"{label}: {per_event / 1000:.1f}k instructions an event, {fixed / 1e9:.2f}G fixed per pass"
            )
    if args.baseline:
        (new_event, new_fixed), (old_event, old_fixed) = figures["this checkout"], figures["baseline"]
        print(
            f"ratio to the baseline: per event {new_event / old_event:.3f}, fixed {new_fixed / old_fixed:.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
