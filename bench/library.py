"""Benchmark: ``hunter hunt`` with Elastic's whole rule library, and the Lua hunt over small events.

Generates the events once (bench/gen_library.py, in a child process), then in the same run times the
floor (read every line and ``orjson.loads`` it, nothing else, in a fresh interpreter) and
``hunter hunt --events FILE --output /dev/null`` as a child process of the console script:

* ``library``: mixed Elastic Defend events (Windows and Linux process, network, file, registry,
  library, dns) and every EQL rule of ``../shared/detection-rules`` (rules/ and
  rules_building_block/). Loading and compiling about 1,000 rules is a fixed cost, measured by the
  same command over a one-event file and shown apart: the ratio is that of the pass over the events
  (target: at most 10x the floor), and of the whole command. hunter's code cache (in a folder of
  the bench's own) is filled by a first run, shown apart, and read back by the measured runs;
* ``lua``: the hunts of queries/ (the T1059.011 Lua hunt) over Linux process events of about 450
  bytes (target: at most 2x the floor).

Every ``hunter hunt`` skips the lines no hunt can use before parsing them (``[embedded] prefilter``,
on by default); ``--no-prefilter`` measures it parsing every line.

``--memory`` measures peak RSS instead: the Lua hunt over 200,000 and 2,000,000 small events, with
and without the prefilter (target: 2M at most 1.3x 200k), and the library's first 256, 512 and 1,024
rules over the same 20,000 events (target: growing at most linearly in the rules).

    python bench/library.py                       # both, 100,000 and 500,000 events
    python bench/library.py --only library --events 20000 --repeat 3
    python bench/library.py --memory
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


PREFILTER_OFF = {"HUNTER_EMBEDDED__PREFILTER": "false"}
ENV: dict[str, str] = {}  # added to every hunter child's environment (--no-prefilter)


def hunt(path: Path, queries: list[Path], env: dict[str, str] | None = None) -> Child:
    """``hunter hunt`` over ``path`` with the hunts of ``queries`` (the settings' when empty)."""
    script = Path(sys.executable).parent / "hunter"
    prefix = [str(script)] if script.is_file() else [sys.executable, "-m", "hunter.cli"]
    command = [*prefix, "hunt", "--events", str(path), "--output", os.devnull, "--config", str(SETTINGS)]
    for folder in queries:
        command += ["--queries", str(folder)]
    child = run_child(command, {**ENV, **(env or {})})
    if child.returncode != 0:
        raise SystemExit(child.stderr.decode(errors="replace")[-4000:])
    return child


def alerts_of(child: Child) -> str:
    """The alert count of hunter's summary line."""
    found = SUMMARY.search(child.stderr)
    return found.group(4).decode() if found else "?"


def bench(name: str, path: Path, lines: int, queries: list[Path], *, repeat: int, target: float) -> None:
    """Time the floor and hunter ``repeat`` times, print medians and the ratio. hunter keeps what it
    parsed and compiled in a code cache of its own for this bench (``code_cache``), empty at first:
    the first run, which fills it, is shown apart; the measured runs read it back, as every run
    after a user's first does."""
    one = path.with_suffix(".one.ndjson")
    with path.open("rb") as source:
        one.write_bytes(source.readline())
    with tempfile.TemporaryDirectory(prefix="hunter-code-cache-") as cache:
        ENV["HUNTER_CODE_CACHE"] = cache
        try:
            _bench(name, path, one, lines, queries, repeat=repeat, target=target)
        finally:
            del ENV["HUNTER_CODE_CACHE"]


def _bench(
    name: str, path: Path, one: Path, lines: int, queries: list[Path], *, repeat: int, target: float
) -> None:
    first = hunt(path, queries)
    print(f"{name}: first run, empty code cache: hunter {first.seconds:.2f} s (whole command)", flush=True)
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
    searched = statistics.median(search_seconds(path, queries) for _ in range(repeat))
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
        f"  of which the search (to match counts, no alert documents): {searched:.2f} s, "
        f"ratio {searched / floor:.2f}x"
    )
    print(
        f"  peak RSS {max(peaks) / 1024:.1f} MiB; target pass <= {target:g}x floor: "
        f"{'met' if passed / floor <= target else 'NOT met'}"
    )


def search_seconds(path: Path, queries: list[Path]) -> float:
    """Seconds a fresh interpreter spends searching ``path`` (``LocalSearcher.search_and_finish``,
    each hunt finished into its match count; the hunts loaded first, not timed): the engine's share
    of the pass, without the alert documents."""
    command = [sys.executable, str(Path(__file__).resolve()), "--search-child", str(path), *map(str, queries)]
    child = run_child(command, ENV)
    if child.returncode != 0:
        raise SystemExit(child.stderr.decode(errors="replace")[-4000:])
    return float(child.stdout.split()[-1])


def search_child(path: Path, queries: list[Path]) -> None:
    """In a fresh interpreter: load the hunts, then time their search over ``path`` and print it."""
    import time

    from hunter.config import load_settings
    from hunter.hunts import load_hunt_set
    from hunter.search.local import EventFiles, LocalSearcher

    settings = load_settings(SETTINGS)
    hunts = [hunt for hunt in load_hunt_set(queries or list(settings.queries)).hunts if hunt.enabled]
    searcher = LocalSearcher(EventFiles([path]), settings.search, prefilter=settings.embedded.prefilter)
    started = time.perf_counter()
    # each hunt finished into its match count where it was searched: no alert documents, and no
    # matches shipped from the helper (search_hunts would send every matched event across)
    searcher.search_and_finish(
        [(hunt, None) for hunt in hunts], lambda _hunt, results: sum(len(r.matches) for r in results)
    )
    print(f"{time.perf_counter() - started:.6f}")


def memory(folder: Path, seed: int) -> None:
    """Peak RSS: the Lua hunt at 200k and 2M small events (prefilter on and off), and the library's
    first 256, 512 and 1,024 rules over the same 20,000 events."""
    peaks: dict[tuple[str, int], float] = {}
    for count in (200_000, 2_000_000):
        path = folder / f"small-{count}-{seed}.ndjson"
        if not path.exists():
            generate(path, count, seed, small=True)
        for mode, env in (("prefilter", None), ("every line parsed", PREFILTER_OFF)):
            child = hunt(path, [], env)
            peaks[mode, count] = child.peak_kib / 1024
            print(
                f"lua, {mode}, {count:,} events: {child.seconds:.1f} s, "
                f"peak RSS {peaks[mode, count]:.1f} MiB",
                flush=True,
            )
    for mode in ("prefilter", "every line parsed"):
        ratio = peaks[mode, 2_000_000] / peaks[mode, 200_000]
        print(
            f"  lua, {mode}: 2M / 200k = {ratio:.2f}x "
            f"(target <= 1.3x: {'met' if ratio <= 1.3 else 'NOT met'})"
        )
    if not (RULES / "rules").is_dir():
        raise SystemExit(f"{RULES} is missing: the rule-count measurement needs Elastic's rules there")
    mixed = folder / f"library-20000-{seed}.ndjson"
    if not mixed.exists():
        generate(mixed, 20_000, seed, small=False)
    rules = sorted((RULES / "rules").rglob("*.toml")) + sorted(
        (RULES / "rules_building_block").rglob("*.toml")
    )
    # the mixed events make rules fire (their alerts are held too); over the small Linux events few
    # rules fire, so what grows there is what each rule costs to hold
    sizes: dict[str, list[tuple[int, float]]] = {"mixed": [], "small": []}
    for count in (256, 512, 1024):
        with tempfile.TemporaryDirectory(prefix="hunter-rules-") as chosen:
            loaded = 0
            for rule in rules:  # the first ``count`` EQL rules that load (others are skipped as hunter does)
                text = rule.read_text(encoding="utf-8")
                if 'type = "eql"' not in text or 'maturity = "deprecated"' in text:
                    continue
                (Path(chosen) / f"{loaded:05d}-{rule.name}").write_text(text, encoding="utf-8")
                loaded += 1
                if loaded == count:
                    break
            for name, events in (("mixed", mixed), ("small", folder / f"small-200000-{seed}.ndjson")):
                child = hunt(events, [Path(chosen)])
                sizes[name].append((loaded, child.peak_kib / 1024))
                print(
                    f"library, {loaded} rules, {name} events: {child.seconds:.1f} s, "
                    f"{alerts_of(child)} alert(s), peak RSS {sizes[name][-1][1]:.1f} MiB",
                    flush=True,
                )
    for name, ((r1, m1), (r2, m2), (r3, m3)) in sizes.items():
        print(
            f"  {name} events, per rule: {(m2 - m1) / (r2 - r1) * 1024:.0f} KiB from {r1} to {r2} rules, "
            f"{(m3 - m2) / (r3 - r2) * 1024:.0f} KiB from {r2} to {r3} (linear: about equal)"
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
    parser.add_argument(
        "--no-prefilter", action="store_true", help="parse every line ([embedded] prefilter = false)"
    )
    parser.add_argument(
        "--memory", action="store_true", help="measure peak RSS in events and in rules instead"
    )
    parser.add_argument("--search-child", nargs="+", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.search_child:
        search_child(args.search_child[0], args.search_child[1:])
        return 0
    folder = args.folder or Path(tempfile.mkdtemp(prefix="hunter-library-"))
    folder.mkdir(parents=True, exist_ok=True)
    if args.no_prefilter:
        ENV.update(PREFILTER_OFF)
    if args.memory:
        memory(folder, args.seed)
        return 0
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
