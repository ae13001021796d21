"""The ``hunter`` command: run, hunt, validate, alerts, coverage, backfill.

Exit codes: 0 success; 1 a run failed (the cluster or a file went away mid-run: retry later);
2 bad input (settings, hunt files, event paths, arguments), reported on one line each.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import orjson

from . import __version__
from .config import Settings, environment_warnings, load_settings, parse_duration, settings_warnings
from .errors import ConfigError, EventSourceError, HunterError, HuntSetError
from .hunts import Hunt, HuntSet, load_hunt_set
from .log import configure_logging
from .runner import utc_now

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
HUNT_LINES = 20  # `hunter hunt` prints a line per hunt up to this many hunts


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
        if exc.summary:
            print(exc.summary, file=sys.stderr)
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
    _queries_option(run)
    run.set_defaults(handler=_run)

    hunt = commands.add_parser("hunt", help="run every hunt once over event files and print the alerts")
    hunt.add_argument(
        "--events", nargs="+", type=Path, required=True, metavar="PATH", help="event files or folders"
    )
    _queries_option(hunt)
    hunt.add_argument("--output", type=Path, help="write alert documents here (NDJSON) instead of stdout")
    _config_option(hunt)
    hunt.set_defaults(handler=_hunt)

    validate = commands.add_parser("validate", help="check every hunt file, listing every problem")
    _queries_option(validate)
    validate.add_argument(
        "--include-deprecated", action="store_true", help="also load deprecated detection-rules rules"
    )
    validate.add_argument(
        "-v", "--verbose", action="store_true", help="list every hunt loaded and every rule skipped"
    )
    _config_option(validate)
    validate.set_defaults(handler=_validate)

    alerts = commands.add_parser("alerts", help="print stored alerts as NDJSON, oldest first by first seen")
    _config_option(alerts)
    alerts.add_argument("--hunt", metavar="ID", help="only this hunt's alerts")
    alerts.add_argument(
        "--since", type=_timestamp, metavar="ISO", help="only alerts first seen at or after this"
    )
    alerts.add_argument("--limit", type=_positive, metavar="N", help="at most N alerts")
    alerts.set_defaults(handler=_alerts)

    notices = commands.add_parser("notices", help="list the notice outbox; re-queue parked notices")
    _config_option(notices)
    notices.add_argument("--hunt", metavar="ID", help="only this hunt's notices")
    notices.add_argument("--failed", action="store_true", help="only parked (failed) notices")
    notices.add_argument(
        "--requeue",
        action="store_true",
        help="put parked notices back in the queue (after fixing the webhook)",
    )
    notices.set_defaults(handler=_notices)

    coverage = commands.add_parser(
        "coverage", help="report where each hunt query cannot match (missing fields)"
    )
    _config_option(coverage)
    _queries_option(coverage)
    coverage.add_argument("--json", action="store_true", help="machine-readable output")
    coverage.set_defaults(handler=_coverage)

    backfill = commands.add_parser(
        "backfill", help="run one hunt over a past range, in chunks (safe to re-run)"
    )
    _config_option(backfill)
    _queries_option(backfill)
    backfill.add_argument("--hunt", required=True, help="hunt id")
    backfill.add_argument("--start", required=True, type=_timestamp, help="ISO 8601 start")
    backfill.add_argument("--end", required=True, type=_timestamp, help="ISO 8601 end")
    backfill.add_argument(
        "--chunk",
        type=_duration,
        help="search the range in windows this long (default: 1d, or the hunt's interval if longer)",
    )
    backfill.set_defaults(handler=_backfill)
    return parser


def _queries_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--queries",
        type=Path,
        action="append",
        metavar="PATH",
        help="a hunt file or a folder of them (searched recursively; native hunts and Elastic "
        "detection-rules rules); repeat for several (default: the queries setting)",
    )


def _config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="settings file (default: ./settings.toml)")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _duration(text: str) -> timedelta:
    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if value.total_seconds() <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


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


def _hunt_set(
    settings: Settings,
    args: argparse.Namespace,
    *,
    include_deprecated: bool = False,
    prefix: str = "hunter: ",
) -> HuntSet:
    """The hunts of ``--queries`` (else the queries setting); their warnings go to stderr."""
    paths: list[Path] = getattr(args, "queries", None) or list(settings.queries)
    hunt_set = load_hunt_set(paths, include_deprecated=include_deprecated)
    for warning in hunt_set.warnings:
        print(f"{prefix}warning: {warning}", file=sys.stderr)
    return hunt_set


def _hunts(settings: Settings, args: argparse.Namespace) -> list[Hunt]:
    return _hunt_set(settings, args).hunts


# ---- commands -------------------------------------------------------------------------------------


def _run(args: argparse.Namespace) -> int:
    from .service import build_runtime, serve

    settings = _setup(args)
    hunts = _hunts(settings, args)
    for hunt in hunts:
        for warning in hunt.warnings():
            print(f"hunter: warning: {warning}", file=sys.stderr)
    fixed: datetime | None = args.now
    runtime = build_runtime(settings, hunts, clock=(lambda: fixed) if fixed else utc_now)
    try:
        if args.once:
            summaries = runtime.run_once(now=args.now)
            return EXIT_OK if all(s.outcome != "failed" for s in summaries) else EXIT_FAILED

        def reload() -> tuple[Settings, list[Hunt]]:
            fresh = load_settings(args.config)
            return fresh, _hunts(fresh, args)

        return serve(runtime, reload)
    finally:
        runtime.close()


def _hunt(args: argparse.Namespace) -> int:
    from .alerts import AlertRenderer
    from .dedup import apply_exceptions, findings
    from .runner import Runner, RunSummary
    from .search.local import EventFiles, LocalSearcher
    from .store.sqlite import SqliteStore

    settings = _setup(args)
    hunts = _hunts(settings, args)
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
    every_line = len(enabled) <= HUNT_LINES  # a library of hunts: a line only for those that hit
    outside: list[Hunt] = []
    for hunt in enabled:
        summary = RunSummary(hunt.id)
        results = all_results[hunt.id]
        found_before = len(documents)
        results, _excluded = apply_exceptions(hunt.exceptions, results)
        batch = runner.alert_documents(hunt, findings(hunt, results), None, now, summary)
        documents.extend(batch.created)
        blind = not searcher.searched.get(hunt.id)
        if blind:
            outside.append(hunt)
        if every_line or any(r.matches for r in results):
            hits = ", ".join(f"{r.query}={len(r.matches)}" for r in results)
            note = f"; no event is in its indices ({', '.join(hunt.indices)})" if blind else ""
            line = f"hunter: {hunt.id}: hits {hits}; alerts {len(documents) - found_before}{note}"
            print(line, file=sys.stderr)
    if outside and not every_line:
        print(
            f"hunter: {len(outside)} hunt(s) searched no events: none of the events is in their indices "
            "(an event's index is its hit _index, else its data_stream.* name, else its file name)",
            file=sys.stderr,
        )
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
    try:
        hunt_set = _hunt_set(settings, args, include_deprecated=args.include_deprecated, prefix="")
    except HuntSetError as exc:
        if args.verbose and exc.hunt_set is not None:
            _list_hunt_set(exc.hunt_set)
        raise
    for hunt in hunt_set.hunts:
        for warning in hunt.warnings():
            print(f"warning: {warning}", file=sys.stderr)
    if args.verbose:
        _list_hunt_set(hunt_set)
    for hunt in hunt_set.hunts:
        for item in hunt.exceptions:
            print(f"exception  {hunt.id}  {item.describe()}  ({item.source.name})")
    print(hunt_set.summary())
    return EXIT_OK


def _list_hunt_set(hunt_set: HuntSet) -> None:
    """One line per hunt loaded and per rule file skipped (``hunter validate -v``)."""
    for hunt in hunt_set.hunts:
        kind = " (building block)" if hunt.building_block else ""
        print(f"loaded  {hunt.id}  {hunt.name}{kind}  {hunt.path}")
    for skipped in hunt_set.skipped:
        print(f"skipped  {skipped.path}: {skipped.reason}")


def _alerts(args: argparse.Namespace) -> int:
    from .runner import to_ns
    from .service import build_store

    settings = _setup(args)
    if settings.mode == "embedded" and not Path(settings.embedded.state).exists():
        print(f"hunter: no alerts yet: {settings.embedded.state} does not exist", file=sys.stderr)
        return EXIT_OK  # nothing is created
    store = build_store(settings)
    try:
        since = to_ns(args.since) if args.since else None
        with _stdout_or_quiet() as out:
            for document in store.all(hunt_id=args.hunt, since_ns=since, limit=args.limit):
                out.write(orjson.dumps(document) + b"\n")
    finally:
        store.close()
    return EXIT_OK


def _notices(args: argparse.Namespace) -> int:
    from .eql.values import format_date_ns
    from .service import build_store

    settings = _setup(args)
    if settings.mode == "embedded" and not Path(settings.embedded.state).exists():
        print(f"hunter: no notices yet: {settings.embedded.state} does not exist", file=sys.stderr)
        return EXIT_OK
    store = build_store(settings)
    try:
        if args.requeue:
            count = store.requeue_notices(hunt_id=args.hunt)
            print(f"hunter: {count} parked notice(s) queued again; the next run sends them", file=sys.stderr)
            return EXIT_OK
        status = "failed" if args.failed else None
        with _stdout_or_quiet() as out:
            for record in store.notices(status=status, hunt_id=args.hunt):
                line = {
                    "alert_id": record.alert_id,
                    "hunt_id": record.hunt_id,
                    "status": record.status,
                    "attempts": record.attempts,
                    "last_error": record.last_error,
                    "created": format_date_ns(record.created_ns),
                    "updated": format_date_ns(record.updated_ns),
                }
                out.write(orjson.dumps(line) + b"\n")
        counts = store.notice_counts()
        print("hunter: notices " + ", ".join(f"{k} {v}" for k, v in counts.items()), file=sys.stderr)
    finally:
        store.close()
    return EXIT_OK


class _stdout_or_quiet:  # noqa: N801 - used as a context manager factory
    """stdout as a binary stream; a reader that went away (``| head``) ends the output quietly."""

    def __enter__(self) -> IO[bytes]:
        return sys.stdout.buffer

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> bool:
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            kind = BrokenPipeError
        if kind is not None and issubclass(kind, BrokenPipeError):
            # Python would complain again when it flushes stdout at exit: point stdout at devnull
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
            return True
        return False


def _coverage(args: argparse.Namespace) -> int:
    from .coverage import coverage_report, render_table

    settings = _setup(args)
    hunts = _hunts(settings, args)
    report = coverage_report(settings, hunts)
    if args.json:
        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        sys.stdout.write(render_table(report))
    return EXIT_OK


def _backfill(args: argparse.Namespace) -> int:
    from .service import backfill

    settings = _setup(args)
    hunts = [hunt for hunt in _hunts(settings, args) if hunt.id == args.hunt]
    if not hunts:
        where = ", ".join(str(path) for path in (args.queries or settings.queries))
        raise ConfigError(f"no hunt with id {args.hunt!r} in {where}")
    if args.end <= args.start:
        raise ConfigError("--end must be after --start")
    return backfill(settings, hunts[0], args.start, args.end, chunk=args.chunk)


if __name__ == "__main__":
    raise SystemExit(main())
