"""The ``hunter`` command: run, hunt, validate, alerts, coverage, backfill.

Exit codes: 0 success; 1 a run failed (the cluster or a file went away mid-run: retry later);
2 bad input (settings, hunt files, event paths, arguments), reported on one line each.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import orjson

from . import __version__
from .config import Settings, environment_warnings, load_settings, parse_duration, settings_warnings
from .eql import codecache
from .eql.values import format_date_ns
from .errors import ConfigError, EventSourceError, HunterError, HuntSetError
from .hunts import Hunt, HuntSet, load_hunt_set
from .log import configure_logging
from .results import Window
from .runner import utc_now

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
HUNT_LINES = 20  # `hunter hunt` prints a line per hunt up to this many hunts


# one-shot commands whose process ends as soon as they have answered (see console())
FAST_EXIT = frozenset({"hunt", "preview", "validate"})


def console() -> None:
    """The console script: :func:`main`, then, after a one-shot command that holds a whole rule
    library and its findings (``hunt``, ``preview``, ``validate``), the process ends without
    tearing down what it built: freeing every object one by one takes 0.1-0.2 s and writes nothing
    (the output is closed, the code cache's writes are committed as made, and the log handlers and
    standard streams are flushed here). Any other command, the service above all, exits as usual."""
    code = main()
    if sys.argv[1:2] and sys.argv[1] in FAST_EXIT:
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # a closed pipe: nothing more can be said there
                code = code or EXIT_FAILED
        os._exit(code)
    raise SystemExit(code)


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
    _hunt_option(run)
    run.set_defaults(handler=_run)

    hunt = commands.add_parser("hunt", help="run every hunt once over event files and print the alerts")
    hunt.add_argument(
        "--events", nargs="+", type=Path, required=True, metavar="PATH", help="event files or folders"
    )
    _queries_option(hunt)
    _hunt_option(hunt)
    hunt.add_argument("--output", type=Path, help="write alert documents here (NDJSON) instead of stdout")
    _config_option(hunt)
    hunt.set_defaults(handler=_hunt)

    preview = commands.add_parser(
        "preview", help="what one hunt file would alert, over event files or the cluster, storing nothing"
    )
    preview.add_argument("hunt_file", type=Path, metavar="HUNT-FILE", help="the hunt (or rule) file")
    preview.add_argument("--events", nargs="+", type=Path, metavar="PATH", help="event files or folders")
    preview.add_argument("--start", type=_timestamp, metavar="ISO", help="from (default: a day before --end)")
    preview.add_argument("--end", type=_timestamp, metavar="ISO", help="to (default: now)")
    preview.add_argument("--json", action="store_true", help="the alert documents as NDJSON")
    _config_option(preview)
    preview.set_defaults(handler=_preview)

    validate = commands.add_parser("validate", help="check every hunt file, listing every problem")
    _queries_option(validate)
    _hunt_option(validate)
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
    _hunt_option(coverage)
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
    formats = commands.add_parser("import", help="convert rules of other formats into hunt files")
    sigma = formats.add_subparsers(dest="format", required=True).add_parser(
        "sigma", help="Sigma rules -> hunt files (pip install 'hunter[sigma]')"
    )
    sigma.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="Sigma rule files or folders")
    sigma.add_argument("--out", type=Path, required=True, metavar="DIR", help="where the hunt files go")
    sigma.add_argument("--pipeline", metavar="NAME", help="one ECS pipeline for all (default: by log source)")
    sigma.add_argument("-v", "--verbose", action="store_true", help="list every refusal and repair")
    sigma.set_defaults(handler=_import)
    export = commands.add_parser("export", help="write files other tools import")
    kibana = export.add_subparsers(dest="target", required=True).add_parser(
        "kibana", help="Kibana detection rules: one promote rule per hunt and the generic one (NDJSON)"
    )
    _queries_option(kibana)
    _hunt_option(kibana)
    kibana.add_argument("--out", type=Path, metavar="FILE", help="write the rules here instead of stdout")
    _config_option(kibana)
    kibana.set_defaults(handler=_export_kibana)
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


def _hunt_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--hunt", action="append", metavar="ID", help="only the hunt with this id (repeat for several)"
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
    # every command that loads hunts (a reload too) keeps what it parses and compiles there
    codecache.use(settings.code_cache)
    hunt_set = load_hunt_set(paths, include_deprecated=include_deprecated)
    for warning in hunt_set.warnings:
        print(f"{prefix}warning: {warning}", file=sys.stderr)
    wanted = getattr(args, "hunt", None)
    if wanted:
        ids = [wanted] if isinstance(wanted, str) else list(wanted)
        unknown = [hunt_id for hunt_id in ids if hunt_id not in {hunt.id for hunt in hunt_set.hunts}]
        if unknown:
            where = ", ".join(str(path) for path in paths)
            raise ConfigError(f"no hunt with id {', '.join(map(repr, unknown))} in {where}")
        hunt_set.hunts = [hunt for hunt in hunt_set.hunts if hunt.id in ids]
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
    # --now fixes the time windows are planned for; leases and notice claims keep the real time, so
    # a process with --now and one without never take each other's claims for abandoned ones
    runtime = build_runtime(settings, hunts, clock=(lambda: fixed) if fixed else utc_now, wall_clock=utc_now)
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
    from .progress import ReadProgress
    from .search.local import EventFiles, local_searcher
    from .sweep import sweep

    settings = _setup(args)
    hunts = _hunts(settings, args)
    files = EventFiles(args.events, settings.search.timestamp_field)
    files.check_readable()
    with ReadProgress(files.files()) as progress:  # a bar on a terminal, nothing elsewhere
        files.observer = progress
        searcher = local_searcher(files, settings)
        result = sweep(settings, hunts, searcher, None)
    files.observer = None
    every_line = len(result.outcomes) <= HUNT_LINES  # a library of hunts: a line only for those that hit
    outside = 0
    for outcome in result.outcomes:
        blind = outcome.searched == 0  # None: unknown (lines were skipped unparsed), not blind
        outside += blind
        if every_line or any(count for _query, count in outcome.hits):
            hunt = outcome.hunt
            hits = ", ".join(f"{query}={count}" for query, count in outcome.hits)
            note = f"; no event is in its indices ({', '.join(hunt.indices)})" if blind else ""
            print(f"hunter: {hunt.id}: hits {hits}; alerts {len(outcome.documents)}{note}", file=sys.stderr)
    if outside and not every_line:
        print(
            f"hunter: {outside} hunt(s) searched no events: none of the events is in their indices "
            "(an event's index is its hit _index, else its data_stream.* name, else its file name)",
            file=sys.stderr,
        )
    documents = result.lines()
    with _output(args.output) as out:
        for text in documents:
            out.write(text + b"\n")
    stats = files.stats
    unparsed = (
        f"; {stats.unparsed} of the events skipped unparsed: no hunt's query can use them"
        if stats.unparsed
        else ""
    )
    print(
        f"hunter: {stats.events + stats.unparsed} events read from {len(files.files())} file(s), "
        f"{stats.bad_lines} bad line(s) skipped; {len(documents)} alert(s){unparsed}",
        file=sys.stderr,
    )
    return EXIT_OK


def _preview(args: argparse.Namespace) -> int:
    from .runner import to_ns
    from .search.local import EventFiles, local_searcher
    from .sweep import sweep

    settings = _setup(args)
    hunts = _hunts(settings, argparse.Namespace(queries=[args.hunt_file], hunt=None))
    window = None
    if args.start or args.end:
        end = args.end or datetime.now(UTC)
        start = args.start or end - timedelta(days=1)
        if end <= start:
            raise ConfigError("--end must be after --start")
        window = Window(to_ns(start), to_ns(end))
    searcher: Any
    if args.events:
        files = EventFiles(args.events, settings.search.timestamp_field)
        files.check_readable()
        searcher = local_searcher(files, settings)
        where = ", ".join(str(path) for path in args.events)
    elif settings.mode == "elasticsearch":
        from .esclient import build_client
        from .search.elasticsearch import ElasticsearchSearcher

        end = args.end or datetime.now(UTC)
        window = window or Window(to_ns(end - timedelta(days=1)), to_ns(end))
        client = build_client(settings)
        searcher = ElasticsearchSearcher(client, settings.search)
        where = ", ".join(settings.elasticsearch.hosts)
    else:
        raise ConfigError('preview needs --events PATH..., or mode = "elasticsearch" to search the cluster')
    result = sweep(settings, hunts, searcher, window, disabled_too=True)
    span = (
        "every event"
        if window is None
        else f"{format_date_ns(window.start_ns)}..{format_date_ns(window.end_ns)}"
    )
    with _output() as out:
        if args.json:
            for text in result.lines():
                out.write(text + b"\n")
            return EXIT_OK
        out.write(f"preview over {where} ({span}); nothing is stored or sent\n".encode())
        for outcome in result.outcomes:
            out.write(_preview_lines(outcome).encode())
    return EXIT_OK


def _preview_lines(outcome: Any) -> str:
    """A hunt's preview: its hits and exclusions, then one line per alert it would raise."""
    hunt = outcome.hunt
    hits = ", ".join(f"{query}={count}" for query, count in outcome.hits)
    lines = [f"{hunt.name} ({hunt.id}): {len(outcome.documents)} alert(s); hits {hits}"]
    if not hunt.enabled:
        lines.append("  disabled (enabled = false): the service does not run it; this is what it would find")
    if outcome.excluded:
        lines.append(f"  {outcome.excluded} match(es) dropped by the hunt's exceptions")
    if outcome.searched == 0:
        lines.append(f"  no event is in its indices ({', '.join(hunt.indices)})")
    for doc in outcome.documents:
        host = doc.get("host", {}).get("name") or doc.get("host", {}).get("id") or "-"
        process = doc.get("process", {})
        who = process.get("name") or process.get("executable") or "-"
        if process.get("pid") is not None:
            who += f" (pid {process['pid']})"
        info = doc.get("hunter", {})
        lines.append(
            f"  {info.get('first_seen', '-')}  {hunt.severity}  {host}  {who}  "
            f"queries {','.join(info.get('queries', []))}  events {info.get('event_count', 0)}"
        )
    return "\n".join(lines) + "\n"


class _output:  # noqa: N801 - used as a context manager factory
    """A file, or stdout, as a binary stream; a reader of stdout that went away (``| head``) ends
    the output quietly."""

    def __init__(self, path: Path | None = None) -> None:
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

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> bool:
        if self.handle is not None:
            self.handle.close()
            return False
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
        with _output() as out:
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
        with _output() as out:
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
    hunts = _hunts(settings, args)
    if args.end <= args.start:
        raise ConfigError("--end must be after --start")
    return backfill(settings, hunts[0], args.start, args.end, chunk=args.chunk)


def _export_kibana(args: argparse.Namespace) -> int:
    """``hunter export kibana``: the promote rules of the hunts as one NDJSON for Kibana's rule import."""
    from .kibana import export_rules, rules_ndjson

    settings = load_settings(args.config)
    index = settings.elasticsearch.alerts_data_stream.rsplit("-", 1)[0] + "-*"  # as the alert template
    rules = export_rules(_hunts(settings, args), index=index)
    text = rules_ndjson(rules)
    if args.out is None:
        sys.stdout.write(text)
    else:
        try:
            args.out.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{args.out}: {exc.strerror or exc}") from exc
    print(f"{len(rules) - 1} hunt rule(s) and the generic rule", file=sys.stderr)
    return EXIT_OK


def _import(args: argparse.Namespace) -> int:
    from .rules.sigma import import_sigma

    report = import_sigma(args.paths, args.out, pipeline=args.pipeline)
    for line in report.details() if args.verbose else ():
        print(line)
    print(f"{report.written} hunt file(s) written to {args.out}, {report.unchanged} unchanged")
    print(report.summary())
    return EXIT_OK


if __name__ == "__main__":
    console()
