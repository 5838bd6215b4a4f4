"""The TokenStats benchmark: the pipeline against the floor and a naive baseline, on one generated month.

    uv run python bench/run.py --rows 10M [--providers 24] [--naive auto|yes|no] [--keep]

For the chosen size it generates a month, then measures in the same run, each stage in its own process
(wall seconds of the stage's work, imports excluded; peak RSS of its largest process, validation workers too):
- floor: DuckDB reads the same Parquet files and computes the region × modality × sector ROLLUP;
- fair floor: DuckDB alone on the same files, written apart from the pipeline (bench/sql/fair_floor_*.sql):
  one scan per file over every column applying the contract's row rules, then the published GROUPING SETS;
- pipeline: ingest (claim, validate, load) and publish (marts, disclosure, formats, snapshot);
- naive: pandas read, GX's pandas engine on the same suite, pandas groupby (up to 10M rows: it needs
  about 12 GiB at 50M).
It prints a table and the ratios pipeline/floor, pipeline/fair floor, naive/pipeline and naive/(ingest +
marts) (the same work: the naive baseline neither protects cells nor refreshes a snapshot), and writes
bench/results/bench_<rows>.json.
Machines are noisy: compare the ratios of one run, not seconds across runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
PERIOD = "2026-10"
PIPELINE = [
    "ingest.claim",
    "ingest.validate",
    "ingest.load",
    "publish.marts",
    "publish.disclosure",
    "publish.formats",
    "publish.snapshot",
]
NAIVE_MAX_ROWS = 10_000_000


def parse_rows(text: str) -> int:
    text = text.strip().upper().replace("_", "")
    scale = {"K": 1_000, "M": 1_000_000, "B": 1_000_000_000}.get(text[-1], 1)
    return int(float(text[:-1] if text[-1] in "KMB" else text) * scale)


def measure(stage: str, data: Path, env: dict[str, str]) -> dict:
    """Run one stage in a fresh process; its own figures plus the process's wall time and peak RSS."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, str(BENCH / "stages.py"), stage, str(data), PERIOD],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _, status, usage = os.wait4(process.pid, 0)
    out, err = process.stdout.read(), process.stderr.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"stage {stage} failed:\n{err[-3000:]}")
    result = json.loads(out.strip().splitlines()[-1])
    result["process_seconds"] = time.perf_counter() - started
    # A stage whose work runs in a pool's workers also reports theirs (``stages.WorkersPeakRss``).
    result["peak_rss_mib"] = max(usage.ru_maxrss / 1024, result.get("workers_peak_rss_mib", 0))
    return result


def run(rows: int, providers: int, naive: str, keep: bool, out_dir: Path) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"tokenstats-bench-{rows}-"))
    data = work / "data"
    env = {**os.environ, "TOKENSTATS_DATA_DIR": str(data), "GX_ANALYTICS_ENABLED": "false", "PYTHONWARNINGS": "ignore"}
    try:
        started = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pipelines.cli.commands",
                "generate",
                "--period",
                PERIOD,
                "--rows",
                str(rows),
                "--providers",
                str(providers),
            ],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        generate_seconds = time.perf_counter() - started
        parquet_bytes = sum(p.stat().st_size for p in (data / "inbox").glob("*/*.parquet"))
        print(
            f"generated {rows:,} rows from {providers} providers ({parquet_bytes / 2**20:,.0f} MiB of Parquet) "
            f"in {generate_seconds:.1f} s",
            flush=True,
        )

        results = {"floor": measure("floor", data, env)}
        print(f"  floor {results['floor']['seconds']:.2f} s", flush=True)
        results["fair_floor"] = measure("fair_floor", data, env)
        print(f"  fair floor {results['fair_floor']['seconds']:.2f} s", flush=True)
        if naive == "yes" or (naive == "auto" and rows <= NAIVE_MAX_ROWS):
            # On a copy of the inbox: the pipeline moves the files away.
            shadow = work / "naive"
            shutil.copytree(data / "inbox", shadow / "inbox")
            results["naive"] = measure("naive", shadow, env)
            print(f"  naive {results['naive']['seconds']:.2f} s", flush=True)
        for stage in PIPELINE:
            results[stage] = measure(stage, data, env)
            print(f"  {stage} {results[stage]['seconds']:.2f} s", flush=True)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)

    report = summarise(rows, providers, parquet_bytes, generate_seconds, results)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"bench_{rows}.json"
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print_table(report)
    print(f"\nwritten {path}" + (f"; data kept in {work}" if keep else ""))
    return report


def summarise(rows: int, providers: int, parquet_bytes: int, generate_seconds: float, results: dict) -> dict:
    pipeline_seconds = sum(results[s]["seconds"] for s in PIPELINE)
    ingest_seconds = sum(results[s]["seconds"] for s in PIPELINE if s.startswith("ingest."))
    floor_seconds = results["floor"]["seconds"]
    fair_seconds = results["fair_floor"]["seconds"]
    report = {
        "rows": rows,
        "providers": providers,
        "parquet_mib": round(parquet_bytes / 2**20, 1),
        "generate_seconds": round(generate_seconds, 2),
        "machine": machine_facts(),
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "stages": results,
        "pipeline_seconds": round(pipeline_seconds, 2),
        "pipeline_peak_rss_mib": round(max(results[s]["peak_rss_mib"] for s in PIPELINE)),
        "ingest_seconds": round(ingest_seconds, 2),
        "ratio_pipeline_to_floor": round(pipeline_seconds / floor_seconds, 2),
        "ratio_pipeline_to_fair_floor": round(pipeline_seconds / fair_seconds, 2),
        "ratio_ingest_to_fair_floor_checks": round(ingest_seconds / results["fair_floor"]["checks_seconds"], 2),
    }
    if "naive" in results:
        report["ratio_naive_to_pipeline"] = round(results["naive"]["seconds"] / pipeline_seconds, 2)
        # Like for like: the naive baseline validates, loads and aggregates; it neither protects nor snapshots.
        same_work = ingest_seconds + results["publish.marts"]["seconds"]
        report["ratio_naive_to_ingest_and_marts"] = round(results["naive"]["seconds"] / same_work, 2)
    return report


def machine_facts() -> dict:
    """What the figures depend on: the code measured, cores, memory, and how busy the (shared) machine was."""
    import duckdb

    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "commit": measured_commit(),
        "cpus": os.cpu_count(),
        "memory_gib": round(memory / 2**30, 1),
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "platform": platform.platform(),
    }


def measured_commit() -> str:
    """The revision measured, marked ``-dirty`` when tracked files differ from it."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=BENCH, capture_output=True, text=True).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD")
    return commit + ("-dirty" if commit and git("status", "--porcelain", "--untracked-files=no") else "")


def print_table(report: dict) -> None:
    rows = report["rows"]
    print(f"\n{'stage':22} {'seconds':>9} {'rows/s':>14} {'peak RSS MiB':>13}")
    for stage, result in report["stages"].items():
        seconds = result["seconds"]
        print(f"{stage:22} {seconds:9.2f} {rows / seconds:14,.0f} {result['peak_rss_mib']:13,.0f}")
    print(
        f"{'pipeline (sum)':22} {report['pipeline_seconds']:9.2f} {rows / report['pipeline_seconds']:14,.0f} "
        f"{report['pipeline_peak_rss_mib']:13,.0f}"
    )
    print(f"\npipeline / floor: {report['ratio_pipeline_to_floor']:.1f}x", end="")
    print(f"    pipeline / fair floor: {report['ratio_pipeline_to_fair_floor']:.1f}x", end="")
    print(f"    ingest / fair floor checks: {report['ratio_ingest_to_fair_floor_checks']:.1f}x", end="")
    if "ratio_naive_to_pipeline" in report:
        print(f"    naive / pipeline: {report['ratio_naive_to_pipeline']:.1f}x", end="")
        print(f"    naive / (ingest + marts): {report['ratio_naive_to_ingest_and_marts']:.1f}x", end="")
    print()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1M", help="rows in the month: 1M, 10M, 100M, 1B (default 1M)")
    parser.add_argument("--providers", type=int, default=24)
    parser.add_argument(
        "--naive",
        choices=["auto", "yes", "no"],
        default="auto",
        help=f"run the naive baseline (auto: up to {NAIVE_MAX_ROWS:,} rows)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated data directory")
    parser.add_argument("--out", type=Path, default=BENCH / "results")
    args = parser.parse_args(argv)
    run(parse_rows(args.rows), args.providers, args.naive, args.keep, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
