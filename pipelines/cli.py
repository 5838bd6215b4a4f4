"""The ``tokenstats`` command: every stage runs from here without Airflow.

Exit codes: 0 done (rejected reports are an outcome, not an error), 1 a system fault, 2 a usage error.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Sequence

from pipelines.config import Settings, load_settings

PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def _period(value: str) -> str:
    if not PERIOD.match(value):
        raise argparse.ArgumentTypeError(f"expected a month as YYYY-MM, got {value!r}")
    return value


def cmd_generate(args: argparse.Namespace, settings: Settings) -> int:
    from pipelines.generate import generate_month

    reports = generate_month(
        settings.data_dir,
        args.period,
        rows=args.rows,
        providers=args.providers,
        seed=args.seed,
        faults=args.fault,
    )
    for r in reports:
        note = f"  fault: {r.fault}" if r.fault else ""
        print(f"{r.path.relative_to(settings.data_dir)}  {r.rows:>12,} rows{note}")
    print(
        f"{len(reports)} reports, {sum(r.rows for r in reports):,} rows for {args.period} "
        f"in {settings.inbox_dir}"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tokenstats", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    gen = commands.add_parser("generate", help="write a synthetic national month into the inbox")
    gen.add_argument("--period", type=_period, required=True, help="reference month, YYYY-MM")
    gen.add_argument(
        "--rows", type=int, default=1_000_000, help="rows over all providers (default 1,000,000)"
    )
    gen.add_argument("--providers", type=int, default=12, help="number of providers (default 12)")
    gen.add_argument(
        "--seed", type=int, default=20261, help="random seed: the same seed gives the same bytes"
    )
    gen.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="KIND[=PROVIDER]",
        help="inject a realistic defect into one provider's report (repeatable); see `tokenstats faults`",
    )
    gen.set_defaults(handler=cmd_generate)

    faults = commands.add_parser("faults", help="list the defects `generate --fault` can inject")
    faults.set_defaults(handler=cmd_faults)
    return parser


def cmd_faults(args: argparse.Namespace, settings: Settings) -> int:
    from pipelines.faults import FAULTS

    for kind, fault in FAULTS.items():
        print(f"{kind:24} {fault.rule:44} {fault.description}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # --help or a usage error, already explained by argparse
        return int(exit_.code or 0)
    handler: Callable[[argparse.Namespace, Settings], int] = args.handler
    try:
        return handler(args, load_settings())
    except KeyboardInterrupt:
        return 130
    except (ValueError, FileNotFoundError) as error:
        print(f"tokenstats: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
