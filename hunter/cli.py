"""The ``hunter`` command: run, hunt, validate, alerts, coverage, backfill.

Exit codes: 0 success; 1 a run failed (the cluster or a file went away mid-run: retry later);
2 bad input (settings, hunt files, event paths, arguments), reported on one line each.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson

from . import __version__
from .config import Settings, environment_warnings, load_settings, settings_warnings
from .errors import ConfigError, EventSourceError, HunterError, HuntSetError, StoreError
from .hunts import Hunt, load_hunts
from .log import configure_logging
from .runner import utc_now

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hunter`` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return EXIT_BAD_INPUT
    try:
        result: int = args.handler(args)
        return result
    except HuntSetError as exc:
        for problem in exc.problems:
            print(str(problem), file=sys.stderr)
        return EXIT_BAD_INPUT
    except (ConfigError, EventSourceError) as exc:
        print(f"hunter: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except HunterError as exc:
        print(f"hunter: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hunter", description="Scheduled EQL threat hunts over Elastic Stack data."
    )
    parser.add_argument("--version", action="version", version=f"hunter {__version__}")
    commands = parser.add_subparsers(dest="command")

    run = commands.add_parser("run", help="run the hunts on their schedules (the service)")
    _config_option(run)
    run.add_argument("--once", action="store_true", help="run every hunt once and exit")
    run.add_argument("--now", type=_timestamp, help="fix the clock at this ISO 8601 time (backfills, tests)")
    run.set_defaults(handler=_run)

    hunt = commands.add_parser("hunt", help="run every hunt once over event files and print the alerts")
    hunt.add_argument(
        "--events", nargs="+", type=Path, required=True, metavar="PATH", help="event files or folders"
    )
    hunt.add_argument("--queries", type=Path, help="folder of hunt files (default: from the settings)")
    hunt.add_argument("--output", type=Path, help="write alert documents here (NDJSON) instead of stdout")
    _config_option(hunt)
    hunt.set_defaults(handler=_hunt)

    validate = commands.add_parser("validate", help="check every hunt file, listing every problem")
    validate.add_argument("--queries", type=Path, help="folder of hunt files (default: from the settings)")
    _config_option(validate)
    validate.set_defaults(handler=_validate)

    alerts = commands.add_parser("alerts", help="print every stored alert as NDJSON, oldest first")
    _config_option(alerts)
    alerts.set_defaults(handler=_alerts)

    coverage = commands.add_parser(
        "coverage", help="report where each hunt query cannot match (missing fields)"
    )
    _config_option(coverage)
    coverage.add_argument("--json", action="store_true", help="machine-readable output")
    coverage.set_defaults(handler=_coverage)

    backfill = commands.add_parser(
        "backfill", help="run one hunt over a past range, in chunks (safe to re-run)"
    )
    _config_option(backfill)
    backfill.add_argument("--hunt", required=True, help="hunt id")
    backfill.add_argument("--start", required=True, type=_timestamp, help="ISO 8601 start")
    backfill.add_argument("--end", required=True, type=_timestamp, help="ISO 8601 end")
    backfill.set_defaults(handler=_backfill)
    return parser


def _config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="settings file (default: ./settings.toml)")


def _timestamp(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _setup(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.config)
    for warning in [*environment_warnings(), *settings_warnings(settings)]:
        print(f"hunter: warning: {warning}", file=sys.stderr)
    configure_logging(settings.service.log_format, settings.service.log_level)
    return settings


def _hunts(settings: Settings, folder: Path | None = None) -> list[Hunt]:
    return load_hunts(folder or settings.queries)


# ---- commands -------------------------------------------------------------------------------------


def _run(args: argparse.Namespace) -> int:
    from .service import build_runtime, serve

    settings = _setup(args)
    hunts = _hunts(settings)
    for hunt in hunts:
        for warning in hunt.warnings():
            print(f"hunter: warning: {warning}", file=sys.stderr)
    fixed: datetime | None = args.now
    runtime = build_runtime(settings, hunts, clock=(lambda: fixed) if fixed else utc_now)
    try:
        if args.once:
            summaries = runtime.run_once(now=args.now)
            return EXIT_OK if all(s.outcome != "failed" for s in summaries) else EXIT_FAILED
        return serve(runtime)
    finally:
        runtime.close()


def _hunt(args: argparse.Namespace) -> int:
    from .alerts import AlertRenderer
    from .dedup import findings
    from .runner import Runner, RunSummary
    from .search.local import EventFiles, LocalSearcher
    from .store.sqlite import SqliteStore

    settings = _setup(args)
    hunts = _hunts(settings, args.queries)
    files = EventFiles(args.events, settings.search.timestamp_field)
    files.check_readable()
    searcher = LocalSearcher(files, settings.search)
    store = SqliteStore(Path(":memory:"))
    renderer = AlertRenderer(settings.templates)
    runner = Runner(
        searcher=searcher,
        store=store,
        notifier=_NoNotices(),
        renderer=renderer,
        schedule=settings.schedule,
        owner="hunt",
    )
    now = datetime.now(UTC)
    documents: list[dict[str, Any]] = []
    enabled = [hunt for hunt in hunts if hunt.enabled]
    all_results = searcher.search_hunts(enabled, None)
    for hunt in enabled:
        summary = RunSummary(hunt.id)
        results = all_results[hunt.id]
        found_before = len(documents)
        batch = runner.alert_documents(hunt, findings(hunt, results), None, now, summary)
        documents.extend(batch.created)
        hits = ", ".join(f"{r.query}={len(r.matches)}" for r in results)
        print(f"hunter: {hunt.id}: hits {hits}; alerts {len(documents) - found_before}", file=sys.stderr)
    documents.sort(key=lambda doc: (doc.get("@timestamp", ""), doc.get("event", {}).get("id", "")))
    with _output(args.output) as out:
        for document in documents:
            out.write(orjson.dumps(document) + b"\n")
    stats = files.stats
    print(
        f"hunter: {stats.events} events read from {len(files.files())} file(s), "
        f"{stats.bad_lines} bad line(s) skipped; {len(documents)} alert(s)",
        file=sys.stderr,
    )
    store.close()
    return EXIT_OK


class _NoNotices:
    """``hunter hunt`` announces nothing: its output is the alert documents."""

    def send(self, notices: Sequence[Any], on_delivery: Any = None) -> list[Any]:
        return []


class _output:  # noqa: N801 - used as a context manager factory
    """stdout or a file, as a binary stream."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.handle: IO[bytes] | None = None

    def __enter__(self) -> IO[bytes]:
        if self.path is None:
            return sys.stdout.buffer
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.handle = self.path.open("wb")
        except OSError as exc:
            raise ConfigError(f"{self.path}: cannot write: {exc.strerror}") from exc
        return self.handle

    def __exit__(self, *exc: object) -> None:
        if self.handle is not None:
            self.handle.close()
        else:
            sys.stdout.flush()


def _validate(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    for warning in [*environment_warnings(), *settings_warnings(settings)]:
        print(f"warning: {warning}", file=sys.stderr)
    hunts = _hunts(settings, args.queries)
    for hunt in hunts:
        for warning in hunt.warnings():
            print(f"warning: {warning}", file=sys.stderr)
    print(f"{len(hunts)} hunt(s) OK: {', '.join(hunt.id for hunt in hunts)}")
    return EXIT_OK


def _alerts(args: argparse.Namespace) -> int:
    from .service import build_store

    settings = _setup(args)
    if settings.mode == "embedded" and not Path(settings.embedded.state).exists():
        return EXIT_OK  # no state yet: no alerts (and nothing is created)
    store = build_store(settings)
    try:
        out = sys.stdout.buffer
        for document in store.all():
            out.write(orjson.dumps(document) + b"\n")
        out.flush()
    except StoreError:
        raise
    finally:
        store.close()
    return EXIT_OK


def _coverage(args: argparse.Namespace) -> int:
    from .coverage import coverage_report, render_table

    settings = _setup(args)
    hunts = _hunts(settings)
    report = coverage_report(settings, hunts)
    if args.json:
        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        sys.stdout.write(render_table(report))
    return EXIT_OK


def _backfill(args: argparse.Namespace) -> int:
    from .service import backfill

    settings = _setup(args)
    hunts = [hunt for hunt in _hunts(settings) if hunt.id == args.hunt]
    if not hunts:
        raise ConfigError(f"no hunt with id {args.hunt!r} in {settings.queries}")
    if args.end <= args.start:
        raise ConfigError("--end must be after --start")
    return backfill(settings, hunts[0], args.start, args.end)


if __name__ == "__main__":
    raise SystemExit(main())
