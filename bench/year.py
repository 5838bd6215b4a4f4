"""A national year: twelve months generated, ingested, published and queried, each stage timed, month by month.

    uv run --frozen python bench/year.py --rows 100M [--providers 50] [--months 12] [--keep]

For each month, oldest first, on one data directory (so the warehouse grows by a month each time), each stage
runs in its own process: ``tokenstats generate``, ``tokenstats ingest``, ``tokenstats publish`` (marts,
disclosure, every format, and the analyst snapshot it refreshes), ``snapshot`` (one more refresh of the analyst
snapshot on its own: the other generation catching up with the month), ``query`` (a year-level analyst query
through ``tokenstats query``: tokens and rows by month over every row loaded so far), and ``copy baseline`` (a
byte copy of the warehouse file, what the first snapshot cost; the file no longer holds the rows, which are
written once to ``warehouse/usage/``: copying those too would need their size again in free disk). Each stage
records its wall seconds and the peak RSS of its process tree's largest process (``os.wait4``: validation workers
included); after each month the disk use of every data folder. It writes ``bench/results/year_<rows>.json`` with
machine facts and the ratio of month 12's publish and snapshot to month 1's: nothing in them should grow with
history.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from run import machine_facts

BENCH = Path(__file__).resolve().parent
FIRST_MONTH = (2026, 1)
YEAR_QUERY = (
    "select report_period, count(*) as usage_rows, sum(total_tokens) as total_tokens "
    "from analyst.usage where use_type = 'final' group by all order by all"
)
DATA_FOLDERS = ("inbox", "landing", "archive", "quarantine", "warehouse", "published", "analyst", "docs")
RSS_TARGET_MIB = 2048


def parse_rows(text: str) -> int:
    text = text.strip().upper().replace("_", "")
    scale = {"K": 1_000, "M": 1_000_000, "B": 1_000_000_000}.get(text[-1], 1)
    return int(float(text[:-1] if text[-1] in "KMB" else text) * scale)


def month(index: int) -> str:
    year, first = FIRST_MONTH
    months = year * 12 + first - 1 + index
    return f"{months // 12:04d}-{months % 12 + 1:02d}"


def measure(command: list[str], env: dict[str, str]) -> dict:
    """Run one stage in a fresh process: its wall seconds, peak RSS (largest process of its tree) and output."""
    with tempfile.TemporaryFile("w+") as out_file, tempfile.TemporaryFile("w+") as err_file:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=out_file, stderr=err_file, text=True)
        _, status, usage = os.wait4(process.pid, 0)  # the status and the rusage of its whole tree
        seconds = time.perf_counter() - started
        out_file.seek(0)
        err_file.seek(0)
        out, err = out_file.read(), err_file.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(command[2:])} failed:\n{err[-3000:]}")
    return {"seconds": round(seconds, 2), "peak_rss_mib": round(usage.ru_maxrss / 1024), "stdout": out}


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "pipelines.cli.commands", *args]


def refresh_snapshot_alone(data: Path) -> None:
    """The snapshot stage's process: one refresh under the writer lock, as publish ends with."""
    from pipelines.core.config import load_settings
    from pipelines.core.database import open_warehouse
    from pipelines.release.snapshot import refresh_snapshot

    settings = load_settings(data_dir=data)
    with open_warehouse(settings) as con:
        refresh_snapshot(con, settings)


def disk_use(data: Path) -> dict[str, int]:
    """Bytes allocated on disk under each data folder (a symbolic link counts as itself)."""
    use = {}
    for name in DATA_FOLDERS:
        folder = data / name
        use[name] = sum(p.lstat().st_blocks * 512 for p in folder.rglob("*")) if folder.exists() else 0
    return use


def copy_baseline(data: Path) -> dict:
    """The first snapshot's cost: a byte copy of the warehouse file (page cache warm, as after a publish); the rows'
    files are not copied (disk)."""
    source = data / "warehouse" / "tokenstats.duckdb"
    target = source.with_name(".copy-baseline.duckdb")
    started = time.perf_counter()
    shutil.copyfile(source, target)
    seconds = time.perf_counter() - started
    target.unlink()
    return {"seconds": round(seconds, 2), "bytes": source.stat().st_size}


def run_month(index: int, rows: int, providers: int, data: Path, env: dict[str, str]) -> dict:
    period = month(index)
    stages = {
        "generate": cli("generate", "--period", period, "--rows", str(rows), "--providers", str(providers)),
        "ingest": cli("ingest"),
        "publish": cli("publish", "--period", period),
        "snapshot": [sys.executable, str(Path(__file__).resolve()), "--snapshot-only", str(data)],
        "query": cli("query", YEAR_QUERY, "--format", "json"),
    }
    result: dict = {"period": period, "stages": {}}
    for name, command in stages.items():
        measured = measure(command, env)
        out = measured.pop("stdout")
        if name == "ingest":
            measured["summary"] = next((line for line in out.splitlines() if " accepted, " in line), "")
        if name == "query":
            try:
                measured["months_answered"] = len(json.loads(out))
            except ValueError:  # kept for the record, not fatal: the year goes on
                measured["unreadable_output"] = out[:2000]
        result["stages"][name] = measured
        print(f"  {period} {name:9} {measured['seconds']:8.2f} s  {measured['peak_rss_mib']:6,} MiB", flush=True)
    result["stages"]["copy_baseline"] = copy_baseline(data)
    result["disk_bytes"] = disk_use(data)
    return result


def summarise(rows: int, providers: int, months: list[dict], facts: dict, planned: int) -> dict:
    first, last = months[0]["stages"], months[-1]["stages"]
    peak = max(s["peak_rss_mib"] for m in months for s in m["stages"].values() if "peak_rss_mib" in s)
    return {
        "rows_per_month": rows,
        "providers": providers,
        "months": len(months),
        "months_planned": planned,
        "machine": facts,
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "per_month": months,
        "peak_rss_mib": peak,
        "peak_rss_within_target": peak <= RSS_TARGET_MIB,
        "last_to_first": {
            stage: round(last[stage]["seconds"] / first[stage]["seconds"], 2)
            for stage in ("ingest", "publish", "snapshot", "query", "copy_baseline")
            if first[stage]["seconds"] > 0
        },
        "disk_bytes_at_end": months[-1]["disk_bytes"],
    }


def print_table(report: dict) -> None:
    names = ("generate", "ingest", "publish", "snapshot", "query", "copy_baseline")
    print(f"\n{'month':8}" + "".join(f"{n:>14}" for n in names) + f"{'warehouse MiB':>15}{'peak MiB':>10}")
    for m in report["per_month"]:
        stages = m["stages"]
        peak = max(s.get("peak_rss_mib", 0) for s in stages.values())
        print(
            f"{m['period']:8}"
            + "".join(f"{stages[n]['seconds']:14.2f}" for n in names)
            + f"{m['disk_bytes']['warehouse'] / 2**20:15,.0f}{peak:10,}"
        )
    print(f"\nmonth {report['months']} / month 1: {report['last_to_first']}")


def run(rows: int, providers: int, months: int, keep: bool, out_dir: Path) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"tokenstats-year-{rows}-"))
    data = work / "data"
    env = {
        **os.environ,
        "TOKENSTATS_DATA_DIR": str(data),
        "TOKENSTATS_SETTLE_SECONDS": "0",
        "GX_ANALYTICS_ENABLED": "false",
        "PYTHONWARNINGS": "ignore",
    }
    data.mkdir(parents=True)
    facts = {**machine_facts(), "disk_free_bytes": shutil.disk_usage(data).free}
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"year_{rows}.json"
    results: list[dict] = []
    try:
        for index in range(months):
            results.append(run_month(index, rows, providers, data, env))
            report = summarise(rows, providers, results, facts, months)
            path.write_text(json.dumps(report, indent=2, default=str) + "\n")  # each month: a partial run counts
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    print_table(report)
    print(f"\nwritten {path}" + (f"; data kept in {work}" if keep else ""))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="100M", help="rows per month: 2M, 10M, 100M (default 100M)")
    parser.add_argument("--providers", type=int, default=50)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    parser.add_argument("--out", type=Path, default=BENCH / "results")
    parser.add_argument("--snapshot-only", type=Path, help=argparse.SUPPRESS)  # the snapshot stage's process
    args = parser.parse_args(argv)
    if args.snapshot_only:
        refresh_snapshot_alone(args.snapshot_only)
        return 0
    run(parse_rows(args.rows), args.providers, args.months, args.keep, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
