"""Replays the disclosure audit of one published version, in one process: what to profile when the stage is slow.

    uv run --frozen python bench/replay.py capture <data folder> 2026-10 2 /tmp/oct_v2.pkl
    uv run --frozen python bench/replay.py run /tmp/oct_v2.pkl [--one-thread]

``capture`` reads, from a data folder's warehouse (opened read-only: stop its writers first) and releases, what
the audit of version N took (``read_record``: its cell groups, the versions before it as published, its atoms)
and pickles it with the rules. ``run`` protects it again and prints the seconds, the flags, the certificate and,
per programme (cells, atoms), the count and seconds of each kind of solve. ``--one-thread`` audits the measures
one after another (the seconds then add up to the audit's work, not its wall time); the flags are the same.
"""

from __future__ import annotations

import argparse
import collections
import os
import pickle
import time
from concurrent.futures import Future
from pathlib import Path

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
KINDS = {"_solve": "exact", "_spread": "spread", "cover": "cover"}  # the audit's methods that call the solver


def capture(data: Path, period: str, version: int, out: Path) -> None:
    import duckdb

    from pipelines.core.config import Settings
    from pipelines.release.publish import read_record
    from pipelines.statistics.primary import Rules

    settings = Settings(data_dir=data)
    with duckdb.connect(str(settings.warehouse_file), read_only=True) as con:
        record = read_record(con, period, settings, version)
    out.write_bytes(pickle.dumps((record, Rules.from_settings(settings))))
    print(f"{period} v{version}: {record[0].height:,} cell groups, {len(record[1])} versions before it -> {out}")


class _InTurn:
    """A stand-in for the audit's thread pool that runs each job at once, in the caller's thread."""

    def __init__(self, workers: int) -> None:
        pass

    def __enter__(self) -> _InTurn:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def submit(self, job, *args) -> Future:
        future: Future = Future()
        future.set_result(job(*args))
        return future


def run(path: Path, one_thread: bool) -> None:
    import pipelines.statistics.audit as audit
    import pipelines.statistics.disclosure as disclosure

    if one_thread:
        disclosure.ThreadPoolExecutor = _InTurn
    solves: dict[tuple[str, str], list[float]] = collections.defaultdict(lambda: [0, 0.0])

    def timed(name: str, method):
        def wrapper(self, *args, **kwargs):
            started = time.perf_counter()
            try:
                return method(self, *args, **kwargs)
            finally:
                kind = "batch" if kwargs.get("exact") is False else KINDS[name]
                entry = solves["atoms" if self.spread_first else "cells", kind]
                entry[0] += 1
                entry[1] += time.perf_counter() - started

        return wrapper

    for name in KINDS:
        setattr(audit.RecordAudit, name, timed(name, getattr(audit.RecordAudit, name)))
    (cell_groups, earlier, atoms), rules = pickle.loads(path.read_bytes())
    started = time.perf_counter()
    protected, certificate = disclosure.protect_record(cell_groups, earlier, rules, atoms=atoms)
    seconds = time.perf_counter() - started
    print(f"{seconds:.1f} s ({'one thread' if one_thread else 'measures in pairs'})")
    print("flags:", dict(sorted(protected.group_by("conf_status").len().iter_rows())))
    print("certificate:", certificate.to_json())
    for (programme, kind), (count, spent) in sorted(solves.items()):
        print(f"  {programme:5} {kind:7} {count:6,d} solves {spent:7.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    grab = commands.add_parser("capture", help="pickle the audit's inputs of a published version")
    grab.add_argument("data", type=Path)
    grab.add_argument("period")
    grab.add_argument("version", type=int)
    grab.add_argument("out", type=Path)
    again = commands.add_parser("run", help="protect the captured version again, timed")
    again.add_argument("captured", type=Path)
    again.add_argument("--one-thread", action="store_true")
    args = parser.parse_args()
    if args.command == "capture":
        capture(args.data, args.period, args.version, args.out)
    else:
        run(args.captured, args.one_thread)


if __name__ == "__main__":
    main()
