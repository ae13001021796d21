"""Benchmark: hunter's embedded EQL engine against the ``eql`` package, on the T1059.011 hunt.

Prints events/second for both engines on the same generated events (scalar-valued copies for the
``eql`` package, which cannot read arrays), checks that both find the same hits, and measures
peak memory of a streaming run at two input sizes in fresh processes. Each engine's time is the
best of ``--repeat`` runs (3), as ``timeit`` reports: the least disturbed by the machine.

    python bench/engine.py                       # 500,000 events, memory at 200,000 and 2,000,000
    python bench/engine.py --events 100000 --no-memory
"""

from __future__ import annotations

import argparse
import gc
import resource
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import eql  # noqa: E402
from gen_events import generate  # noqa: E402

from hunter.eql import compile_query, parse_date_ns  # noqa: E402

HUNT_FILE = ROOT / "queries" / "t1059_011_lua.toml"
FILETIME_OFFSET_TICKS = 11_644_473_600 * 10_000_000


def hunt_queries() -> dict[str, str]:
    """The hunt's queries by name, from the hunt file in queries/."""
    with HUNT_FILE.open("rb") as handle:
        hunt = tomllib.load(handle)
    return {name: spec["query"] for name, spec in hunt["queries"].items()}


def eql_copy(event: dict[str, Any], position: int) -> dict[str, Any]:
    """A scalar copy for the ``eql`` package: ``event_type``, FILETIME ``timestamp``, position."""
    copy = dict(event)
    category = event.get("event", {}).get("category")
    copy["event_type"] = category if isinstance(category, str) else str(category).split(" ")[0]
    # Elasticsearch never joins a sequence on a null key; the eql package does. Give absent join
    # keys a value of their own so both engines answer the same question.
    process = copy.get("process")
    if isinstance(process, dict):
        process = copy["process"] = dict(process)
        process.setdefault("entity_id", f"<none {position}>")
        parent = process["parent"] = dict(process.get("parent") or {})
        parent.setdefault("entity_id", f"<none parent {position}>")
    ns = parse_date_ns(event["@timestamp"])
    assert ns is not None
    copy["timestamp"] = ns // 100 + FILETIME_OFFSET_TICKS
    copy["_position"] = position
    return copy


def run_hunter(query_text: str, events: list[dict[str, Any]], presorted: bool) -> tuple[float, list[Any]]:
    """Seconds taken and the hits (event positions) of hunter's engine."""
    query = compile_query(query_text)
    gc.collect()
    start = time.perf_counter()
    result = query.search(events, size=10**9, presorted=presorted)
    elapsed = time.perf_counter() - start
    if "events" in result:
        hits: list[Any] = [int(hit["_id"]) for hit in result["events"]]
    else:
        hits = [tuple(int(hit["_id"]) for hit in seq["events"]) for seq in result["sequences"]]
    return elapsed, hits


def run_eql(query_text: str, events: list[dict[str, Any]]) -> tuple[float, list[Any]]:
    """Seconds taken and the hits (event positions) of the ``eql`` package's PythonEngine."""

    with eql.parser.elasticsearch_syntax, eql.parser.ignore_missing_functions:
        parsed = eql.parse_query(query_text)
    outputs: list[Any] = []
    engine = eql.PythonEngine()
    engine.add_output_hook(outputs.append)
    engine.add_query(parsed)
    gc.collect()
    start = time.perf_counter()
    engine.stream_events(events)
    elapsed = time.perf_counter() - start
    hits: list[Any] = []
    for output in outputs:
        found = output.events if hasattr(output, "events") else [output]
        positions = tuple(item.data["_position"] for item in found)
        hits.append(positions if len(positions) > 1 else positions[0])
    return elapsed, hits


def best_of(repeat: int, run: Callable[[], tuple[float, list[Any]]]) -> tuple[float, list[Any]]:
    """The shortest time of ``repeat`` runs, and the hits (the same every time)."""
    results = [run() for _ in range(max(1, repeat))]
    assert all(hits == results[0][1] for _, hits in results)
    return min(seconds for seconds, _ in results), results[0][1]


def speed(count: int, seed: int, repeat: int = 3) -> None:
    """Time both engines on ``count`` events per query and compare their hits."""
    print(f"generating {count:,} events (seed {seed}) ...", flush=True)
    gc.disable()  # building millions of dicts with the collector on takes several times longer
    events = list(generate(count, seed))
    scalar = [eql_copy(event, n) for n, event in enumerate(generate(count, seed, scalar=True))]
    gc.enable()
    gc.freeze()  # neither engine should pay for collector passes over the input
    print(f"{'query':<10} {'engine':<22} {'seconds':>8} {'events/s':>12} {'hits':>6}")
    totals = {"hunter": 0.0, "hunter-presorted": 0.0, "eql": 0.0}
    for name, text in hunt_queries().items():
        hunter_s, hunter_hits = best_of(repeat, partial(run_hunter, text, events, presorted=False))
        sorted_s, sorted_hits = best_of(repeat, partial(run_hunter, text, events, presorted=True))
        eql_s, eql_hits = best_of(repeat, partial(run_eql, text, scalar))
        totals["hunter"] += hunter_s
        totals["hunter-presorted"] += sorted_s
        totals["eql"] += eql_s
        for engine, seconds, hits in (
            ("hunter", hunter_s, hunter_hits),
            ("hunter (presorted)", sorted_s, sorted_hits),
            ("eql PythonEngine", eql_s, eql_hits),
        ):
            print(f"{name:<10} {engine:<22} {seconds:8.2f} {count / seconds:12,.0f} {len(hits):6d}")
        same = sorted(map(str, hunter_hits)) == sorted(map(str, eql_hits)) and hunter_hits == sorted_hits
        print(f"{name:<10} identical hits: {'yes' if same else 'NO'}")
        if not same:
            only_hunter = set(map(str, hunter_hits)) - set(map(str, eql_hits))
            only_eql = set(map(str, eql_hits)) - set(map(str, hunter_hits))
            print(f"  only hunter: {sorted(only_hunter)[:5]}  only eql: {sorted(only_eql)[:5]}")
    queries = len(hunt_queries())
    hunter_rate = count * queries / totals["hunter"]
    eql_rate = count * queries / totals["eql"]
    presorted_rate = count * queries / totals["hunter-presorted"]
    print(
        f"both queries: hunter {hunter_rate:,.0f} events/s, eql {eql_rate:,.0f} events/s, "
        f"ratio {hunter_rate / eql_rate:.2f}x; presorted {presorted_rate:,.0f} events/s, "
        f"ratio {presorted_rate / eql_rate:.2f}x"
    )


def _streamed(count: int, seed: int) -> Iterator[dict[str, Any]]:
    yield from generate(count, seed)


def memory_child(count: int, seed: int) -> None:
    """Stream ``count`` generated events through both hunt queries; print peak RSS in KiB."""
    queries = [compile_query(text) for text in hunt_queries().values()]
    hits = 0
    for query in queries:
        result = query.search(_streamed(count, seed), size=10**9, presorted=True)
        hits += result["total"]["value"]
    print(f"{_peak_rss_kib()} {hits}")


def _peak_rss_kib() -> int:
    """This process's peak resident set (VmHWM; ru_maxrss would include the parent before exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def memory(small: int, large: int, seed: int) -> None:
    """Peak memory of streaming runs at two sizes, each in a fresh process."""
    peaks = {}
    for count in (small, large):
        output = subprocess.run(
            [sys.executable, __file__, "--memory-child", str(count), "--seed", str(seed)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        peaks[count] = int(output[0])
        print(
            f"memory: {count:>9,} events streamed, peak RSS {peaks[count] / 1024:7.1f} MiB, hits {output[1]}"
        )
    print(f"memory: peak at {large:,} / peak at {small:,} = {peaks[large] / peaks[small]:.2f}x")


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="runs per engine and query; the best counts")
    parser.add_argument("--memory-small", type=int, default=200_000)
    parser.add_argument("--memory-large", type=int, default=2_000_000)
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--no-speed", action="store_true")
    parser.add_argument("--memory-child", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child, args.seed)
        return 0
    if not args.no_speed:
        speed(args.events, args.seed, args.repeat)
    if not args.no_memory:
        memory(args.memory_small, args.memory_large, args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
