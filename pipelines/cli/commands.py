"""The ``tokenstats`` command: every stage runs from here without Airflow.

Exit codes: 0 done (rejected reports are an outcome, not an error), 1 a system fault, 2 a usage error (or an
invalid input the operator controls, such as the provider registry),
75 the warehouse is busy, 130 interrupted, 141 the output pipe was closed by its reader (e.g. ``| head``).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import traceback
from collections.abc import Callable, Sequence

import duckdb

from pipelines.core.config import Settings, UsageError, load_settings
from pipelines.core.database import WarehouseBusy
from pipelines.core.periods import PERIOD
from pipelines.release.release_check import TamperedRelease


def _period(value: str) -> str:
    if not PERIOD.match(value):
        raise argparse.ArgumentTypeError(f"expected a month as YYYY-MM (2000-01 to 2999-12), got {value!r}")
    return value


def _cmd_generate(args: argparse.Namespace, settings: Settings) -> int:
    from pipelines.synthetic.generate import generate_month

    reports = generate_month(
        settings.data_dir,
        args.period,
        rows=args.rows,
        providers=args.providers,
        seed=args.seed,
        faults=args.fault,
        force=args.force,
    )
    for r in reports:
        note = f"  fault: {r.fault}" if r.fault else ""
        print(f"{r.path.relative_to(settings.data_dir)}  {r.rows:>12,} rows{note}")
    print(f"{len(reports)} reports, {sum(r.rows for r in reports):,} rows for {args.period} in {settings.inbox_dir}")
    return 0


def _cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from pipelines.core.progress import Progress
    from pipelines.intake.ingest import ingest_inbox

    with Progress(interval=settings.progress_seconds) as progress:
        summary = ingest_inbox(settings, progress)
    for label, names in (
        ("accepted", summary.accepted),
        ("rejected", summary.rejected),
        ("duplicate", summary.duplicate),
        ("waiting", summary.waiting),
    ):
        for name in names:
            print(f"{label:9} {name}")
    print(
        f"{len(summary.accepted)} accepted, {len(summary.rejected)} rejected, {len(summary.duplicate)} duplicate, "
        f"{len(summary.waiting)} still being written; reasons in {settings.quarantine_dir}"
    )
    if summary.periods:
        print(f"current figures changed for {', '.join(sorted(summary.periods))}")
    return 0


def _cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from pipelines.intake.claim import escape_text
    from pipelines.intake.ledger import count_coverage, list_unreadable_arrivals, read_period_status, read_warehouse

    with read_warehouse(settings) as con:
        status = read_period_status(con, args.period)
        unreadable = list_unreadable_arrivals(con)
    counts = count_coverage(status)
    print(
        f"Reference month {args.period}: {counts['providers_expected']} providers expected, "
        f"{counts['providers_reported']} reported, {counts['providers_rejected']} rejected, "
        f"{counts['providers_missing']} missing"
    )
    print(f"{'provider':28} {'standing':9} {'rows':>12}  {'latest arrival (UTC)':20} latest file / reason")
    for row in status.iter_rows(named=True):
        rows = f"{row['accepted_rows']:,}" if row["accepted_rows"] is not None else "-"
        when = f"{row['latest_at']:%Y-%m-%d %H:%M}" if row["latest_at"] else "-"
        note = escape_text(row["latest_file"] or "no report received")
        if row["latest_status"] and row["latest_status"] != "accepted":
            note += f" [{row['latest_status']}] {escape_text(row['latest_reason'] or '')}"
        flag = "" if row["expected"] else " (not expected)" if row["registered"] else " (not registered)"
        print(f"{escape_text(row['provider_id']):28} {row['standing']:9} {rows:>12}  {when:20} {note}{flag}")
        if row["latest_status"] == "rejected" and row["latest_reason_path"]:
            print(f"{'':62} details: {escape_text(row['latest_reason_path'])}")
    if unreadable.height:
        print("\nFiles that could not be read (no reference month):")
        for row in unreadable.iter_rows(named=True):
            label = escape_text(f"{row['provider_id']}/{row['file_name']}")
            print(f"  {label}  {row['received_at']:%Y-%m-%d %H:%M}  {escape_text(row['reason'] or '')}")
    return 0


def _cmd_publish(args: argparse.Namespace, settings: Settings) -> int:
    from pipelines.core.database import open_warehouse
    from pipelines.release.publish import publish_months
    from pipelines.release.snapshot import refresh_snapshot

    with open_warehouse(settings) as con:
        releases = publish_months(con, args.period, settings, force=args.force)
        snapshot = refresh_snapshot(con, settings)
    for release in releases:
        print(f"published {release}")
        if release.parent.name not in args.period:
            print("  revised with the months before it: its change on the month, series and price index rest on them")
        print(f"  bulletin  {release / 'bulletin.html'}")
    for period in sorted(set(args.period) - {r.parent.name for r in releases}):
        print(f"{period}: inputs unchanged since the latest release; nothing new published")
    print(f"analyst snapshot {snapshot}")
    return 0


def _cmd_query(args: argparse.Namespace, settings: Settings) -> int:
    from pipelines.release.snapshot import query_snapshot

    try:
        relation = query_snapshot(settings, args.sql)
        if args.format == "table":
            relation.show(max_rows=args.max_rows, max_width=200)
            return 0
        frame = _plain_columns(relation).pl()
    except duckdb.Error as error:  # the analyst's SQL: say what DuckDB said, no traceback
        raise UsageError(str(error).splitlines()[0]) from None
    sys.stdout.write(frame.write_csv() if args.format == "csv" else frame.write_json() + "\n")
    return 0


# DuckDB types that CSV and JSON carry as they are; any other (interval, bit, nested, union...) is written as
# DuckDB's own text for it, which Polars' writers cannot fail on.
PLAIN_TYPES = re.compile(
    r"^(BOOLEAN|U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|FLOAT|DOUBLE|DECIMAL.*|VARCHAR|DATE|TIMESTAMP.*)$"
)


def _plain_columns(relation: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    columns = []
    for name, kind in zip(relation.columns, relation.types, strict=True):
        quoted = '"' + name.replace('"', '""') + '"'
        columns.append(quoted if PLAIN_TYPES.match(str(kind)) else f"{quoted}::varchar as {quoted}")
    return relation.select(", ".join(columns))


def _cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from pipelines.cli.demo import run_demo

    return run_demo(settings, rows=args.rows, providers=args.providers)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tokenstats", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    gen = commands.add_parser("generate", help="write a synthetic national month into the inbox")
    gen.add_argument("--period", type=_period, required=True, help="reference month, YYYY-MM")
    gen.add_argument("--rows", type=int, default=1_000_000, help="rows over all providers (default 1,000,000)")
    gen.add_argument("--providers", type=int, default=12, help="number of providers (default 12)")
    gen.add_argument("--seed", type=int, default=20261, help="random seed: the same seed gives the same bytes")
    gen.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="KIND[=PROVIDER]",
        help="inject a realistic defect into one provider's report (repeatable); see `tokenstats faults`",
    )
    gen.add_argument("--force", action="store_true", help="replace an existing, different provider registry")
    gen.set_defaults(handler=_cmd_generate)

    demo = commands.add_parser("demo", help="the main job end to end through Airflow, on embedded defaults")
    demo.add_argument("--rows", type=int, default=400_000, help="rows per synthetic month (default 400,000)")
    demo.add_argument("--providers", type=int, default=24, help="providers (default 24)")
    demo.set_defaults(handler=_cmd_demo)

    ingest = commands.add_parser("ingest", help="validate and load every complete report in the inbox")
    ingest.set_defaults(handler=_cmd_ingest)

    status = commands.add_parser("status", help="the ledger for a month: who reported, who is missing, why")
    status.add_argument("--period", type=_period, required=True, help="reference month, YYYY-MM")
    status.set_defaults(handler=_cmd_status)

    publish = commands.add_parser(
        "publish",
        help="write the month's release (a new version when inputs changed), and a new version of every later "
        "published month whose inputs it changed",
    )
    publish.add_argument(
        "--period",
        type=_period,
        required=True,
        action="append",
        help="reference month, YYYY-MM (repeat for several; they are published oldest first)",
    )
    publish.add_argument("--force", action="store_true", help="write a new version even if inputs are unchanged")
    publish.set_defaults(handler=_cmd_publish)

    query = commands.add_parser("query", help="run read-only SQL on the analyst snapshot")
    query.add_argument("sql", help='SQL text, e.g. "select * from analyst.about"')
    query.add_argument("--format", choices=["table", "csv", "json"], default="table")
    query.add_argument("--max-rows", type=int, default=40)
    query.set_defaults(handler=_cmd_query)

    faults = commands.add_parser("faults", help="list the defects `generate --fault` can inject")
    faults.set_defaults(handler=_cmd_faults)
    return parser


def _cmd_faults(args: argparse.Namespace, settings: Settings) -> int:
    from pipelines.synthetic.faults import FAULTS

    for kind, fault in FAULTS.items():
        print(f"{kind:24} {fault.rule:44} {fault.description}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``tokenstats`` command; returns its exit code."""
    try:
        args = _build_parser().parse_args(argv)
    except SystemExit as exit_:  # --help or a usage error, already explained by argparse
        return int(exit_.code or 0)
    handler: Callable[[argparse.Namespace, Settings], int] = args.handler
    try:
        code = handler(args, load_settings())
        sys.stdout.flush()  # a closed pipe shows here, not as a message at interpreter exit
        return code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`| head`): what was done is done; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at interpreter exit
        return 141  # 128 + SIGPIPE, as shell tools exit
    except UsageError as error:
        print(f"tokenstats: {error}", file=sys.stderr)
        return 2
    except WarehouseBusy as error:
        print(f"tokenstats: {error}", file=sys.stderr)
        return 75  # EX_TEMPFAIL: try again later
    except TamperedRelease as error:  # a system fault the message explains in full
        print(f"tokenstats: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # a system fault: nothing was lost, a rerun resumes; operators need the trace
        traceback.print_exc()
        print(f"tokenstats: system fault: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
