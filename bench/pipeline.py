"""Benchmark: ``hunter hunt`` over a generated NDJSON file against the floor of reading and parsing it.

Generates the events once (bench/gen_events.py, in a child process so this one stays small), then
times in the same run: the floor (read the file line by line in binary, ``orjson.loads`` every line,
nothing else) here and in a fresh interpreter, and ``hunter hunt --events FILE --output /dev/null``
as a real child process of the installed console script, with its peak RSS. Prints events/second,
the ratio hunter/floor (target: at most 2x) and the alerts hunter found.

    python bench/pipeline.py                          # 1,000,000 events, seed 1, one pass
    python bench/pipeline.py --events 200000 --repeat 3 --file /tmp/events.ndjson --keep
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = ROOT / "settings.toml"
TARGET = 2.0
POLL_SECONDS = 0.05
SUMMARY = re.compile(
    rb"hunter: (\d+) events read from (\d+) file\(s\), (\d+) bad line\(s\) skipped; (\d+) alert\(s\)"
)


@dataclass
class Child:
    """A finished child process: wall-clock seconds, peak RSS (KiB) both ways, exit code, output."""

    seconds: float
    vmhwm_kib: int
    maxrss_kib: int
    parent_kib: int
    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def peak_kib(self) -> int:
        """The child's own peak RSS: wait4's ru_maxrss when above the parent's, else the polled VmHWM."""
        # vfork + exec records the parent's high-water mark in the child's ru_maxrss, so ru_maxrss is
        # max(parent's peak, child's peak): it is the child's own only when above the parent's.
        if self.maxrss_kib > self.parent_kib:
            return max(self.maxrss_kib, self.vmhwm_kib)
        return self.vmhwm_kib


@dataclass
class Pass:
    """One repetition: the two floors and hunter, in seconds, and hunter's child record."""

    floor_in_process: float
    floor_child: Child
    hunter: Child
    lines: int


@dataclass
class Figures:
    """Everything measured, for the summary."""

    passes: list[Pass] = field(default_factory=list)


def floor(path: Path) -> tuple[int, float]:
    """Lines parsed and seconds taken to read ``path`` in binary and ``orjson.loads`` every line."""
    loads = orjson.loads
    count = 0
    start = time.perf_counter()
    with path.open("rb") as handle:
        for line in handle:
            loads(line)
            count += 1
    return count, time.perf_counter() - start


def floor_child(path: Path) -> None:
    """The floor in a fresh interpreter: print lines parsed and the in-process seconds."""
    count, seconds = floor(path)
    print(f"{count} {seconds:.6f}")


def _vmhwm_kib(pid: int) -> int:
    """A live process's peak resident set (VmHWM) in KiB, 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status", "rb") as handle:  # noqa: PTH123 - read on every poll
            for line in handle:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def run_child(command: list[str], env: dict[str, str] | None = None) -> Child:
    """Run ``command`` from the repository root (with ``env`` added to the environment); wall clock,
    VmHWM polls and ``wait4`` rusage."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
    ):
        parent = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env={**os.environ, **env} if env else None,
        )
        peak = [0]
        done = threading.Event()

        def poll() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], _vmhwm_kib(process.pid))
                done.wait(POLL_SECONDS)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        # wait4 reaps this child alone and returns its own rusage (RUSAGE_CHILDREN would be the
        # maximum over every child this process ever waited for).
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        done.set()
        poller.join()
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Child(seconds, peak[0], usage.ru_maxrss, parent, process.returncode, out.read(), err.read())


def hunter_command(path: Path) -> list[str]:
    """The installed console script next to this interpreter, else ``python -m hunter.cli``."""
    script = Path(sys.executable).parent / "hunter"
    prefix = [str(script)] if script.is_file() else [sys.executable, "-m", "hunter.cli"]
    return [*prefix, "hunt", "--events", str(path), "--output", os.devnull, "--config", str(SETTINGS)]


def generate_file(path: Path, count: int, seed: int) -> float:
    """Write ``count`` events to ``path`` with bench/gen_events.py in a child process; seconds taken."""
    print(f"generating {count:,} events (seed {seed}) into {path} ...", flush=True)
    start = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "gen_events.py"),
            "--count",
            str(count),
            "--seed",
            str(seed),
            "--output",
            str(path),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    seconds = time.perf_counter() - start
    print(done.stderr.decode(errors="replace").strip())
    return seconds


def _mib(kib: int) -> str:
    return f"{kib / 1024:8.1f} MiB" if kib else "           -"


def _row(run: str, step: str, seconds: float, lines: int, rss_kib: int) -> None:
    print(f"{run:<5} {step:<22} {seconds:8.2f} {lines / seconds:12,.0f} {_mib(rss_kib)}", flush=True)


def one_pass(number: int, path: Path) -> Pass:
    """Both floors, then hunter, printing a row for each."""
    lines, in_process = floor(path)
    _row(str(number), "floor (in-process)", in_process, lines, 0)
    child = run_child([sys.executable, str(Path(__file__).resolve()), "--floor-child", str(path)])
    if child.returncode != 0:
        sys.stderr.buffer.write(child.stderr)
        raise SystemExit(f"floor child failed with exit code {child.returncode}")
    _row(str(number), "floor (subprocess)", child.seconds, lines, child.peak_kib)
    hunter = run_child(hunter_command(path))
    if hunter.returncode != 0:
        sys.stderr.buffer.write(hunter.stderr)
        raise SystemExit(f"hunter hunt failed with exit code {hunter.returncode}")
    _row(str(number), "hunter hunt", hunter.seconds, lines, hunter.peak_kib)
    ratio = hunter.seconds / in_process
    print(
        f"{number:<5} ratio hunter/floor {ratio:.2f}x (in-process), "
        f"{hunter.seconds / child.seconds:.2f}x (subprocess)",
        flush=True,
    )
    return Pass(in_process, child, hunter, lines)


def _spread(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.median(values):.2f} (min {min(values):.2f}, max {max(values):.2f})"


def report(figures: Figures) -> bool:
    """Print the summary lines; True when hunter meets the target."""
    passes = figures.passes
    lines = passes[-1].lines
    hunter = passes[-1].hunter
    for line in hunter.stderr.splitlines():
        if line.startswith(b"hunter: ") and not line.startswith(b"hunter: warning"):
            print(line.decode(errors="replace"))
    summary = SUMMARY.search(hunter.stderr)
    if summary is None:
        print("hunter's summary line not found in its stderr:")
        sys.stdout.write(hunter.stderr.decode(errors="replace"))
        alerts = "?"
    else:
        read, _files, bad, found = (int(group) for group in summary.groups())
        alerts = f"{found:,}"
        if read != lines or bad:
            print(f"WARNING: hunter read {read:,} events ({bad:,} bad lines); the file has {lines:,} lines")
    floors = [p.floor_in_process for p in passes]
    child_floors = [p.floor_child.seconds for p in passes]
    hunters = [p.hunter.seconds for p in passes]
    ratios = [p.hunter.seconds / p.floor_in_process for p in passes]
    child_ratios = [p.hunter.seconds / p.floor_child.seconds for p in passes]
    runs = f"{len(passes)} run(s)" + (", median (min, max)" if len(passes) > 1 else "")
    print(f"summary over {runs}, {lines:,} events:")
    print(f"  floor, in-process:    {_spread(floors)} s, {lines / statistics.median(floors):,.0f} events/s")
    print(
        f"  floor, subprocess:    {_spread(child_floors)} s, "
        f"{lines / statistics.median(child_floors):,.0f} events/s, "
        f"peak RSS {max(p.floor_child.peak_kib for p in passes) / 1024:.1f} MiB"
    )
    print(
        f"  hunter hunt:          {_spread(hunters)} s, {lines / statistics.median(hunters):,.0f} events/s, "
        f"peak RSS {max(p.hunter.peak_kib for p in passes) / 1024:.1f} MiB, {alerts} alert(s)"
    )
    print(f"  ratio hunter/floor:   {_spread(ratios)}x in-process, {_spread(child_ratios)}x subprocess")
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"  (peak RSS: wait4 ru_maxrss {max(p.hunter.maxrss_kib for p in passes) / 1024:.1f} MiB, "
        f"VmHWM polled {max(p.hunter.vmhwm_kib for p in passes) / 1024:.1f} MiB; "
        f"this process's own peak {own / 1024:.1f} MiB)"
    )
    met = statistics.median(ratios) <= TARGET
    print(f"target hunter <= {TARGET:g}x floor: {'met' if met else 'NOT met'}")
    return met


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000, help="events to generate (1,000,000)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (1)")
    parser.add_argument("--file", type=Path, help="NDJSON file to use, generated first if missing (kept)")
    parser.add_argument("--keep", action="store_true", help="keep the generated temporary file")
    parser.add_argument("--repeat", type=int, default=1, help="measure this many times (1)")
    parser.add_argument("--floor-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.floor_child:
        floor_child(args.floor_child)
        return 0
    if args.repeat < 1 or args.events < 1:
        parser.error("--events and --repeat must be at least 1")
    folder: Path | None = None
    if args.file is not None:
        path = args.file.resolve()
        if path.exists():
            print(f"reusing {path} ({path.stat().st_size / 1e6:,.1f} MB)")
        else:
            print(f"generated in {generate_file(path, args.events, args.seed):.1f} s")
    else:
        folder = Path(tempfile.mkdtemp(prefix="hunter-pipeline-"))
        path = folder / f"events-{args.events}-{args.seed}.ndjson"
        print(f"generated in {generate_file(path, args.events, args.seed):.1f} s")
    try:
        print(f"hunter: {' '.join(hunter_command(path))}")
        print(f"{'run':<5} {'step':<22} {'seconds':>8} {'events/s':>12} {'peak RSS':>12}")
        figures = Figures()
        for number in range(1, args.repeat + 1):
            figures.passes.append(one_pass(number, path))
        report(figures)
    finally:
        if folder is not None:
            if args.keep:
                print(f"kept {path}")
            else:
                shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
