"""What disclosure control costs: the disclosure stage of a first release (v1) and of a revision (v2) after one
provider resubmits its report without one province, on one generated month.

    uv run python bench/disclosure.py --rows 1M [--providers 24] [--seed 20261] [--keep]

Prints the stage's seconds and the cells by flag for v1 and v2, and writes
bench/results/disclosure_<rows>_<providers>.json with the machine's facts. It only calls stage functions that
every version of the pipeline has (``build_month_cells``, ``protect_month``, ``publish_months``), so the same
script measures an older checkout for a before/after comparison (run it with that checkout's environment).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from run import machine_facts

PERIOD = "2026-10"
RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1M")
    parser.add_argument("--providers", type=int, default=24)
    parser.add_argument("--seed", type=int, default=20261)
    parser.add_argument("--keep", action="store_true", help="keep the data folder")
    parser.add_argument("--label", default="", help="a name for this checkout in the results (e.g. before)")
    args = parser.parse_args()
    rows = int(float(args.rows.upper().rstrip("MK")) * {"M": 10**6, "K": 10**3}.get(args.rows[-1].upper(), 1))
    root = Path(tempfile.mkdtemp(prefix="tokenstats-disclosure-"))
    os.environ["TOKENSTATS_DATA_DIR"] = str(root / "data")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

    import polars as pl

    from pipelines.core.config import load_settings
    from pipelines.core.database import open_warehouse
    from pipelines.intake.ingest import ingest_inbox
    from pipelines.release.publish import build_month_cells, protect_month, publish_months
    from pipelines.synthetic.generate import generate_month

    settings = load_settings()
    reports = generate_month(settings.data_dir, PERIOD, rows=rows, providers=args.providers, seed=args.seed)
    ingest_inbox(settings)
    results = {}
    for version in ("v1", "v2"):
        if version == "v2":  # the largest provider drops Zhejiang: a one-group correction
            archived = next((settings.data_dir / "archive" / reports[0].provider_id).rglob("*.parquet"))
            correction = settings.data_dir / "inbox" / reports[0].provider_id / "correction.parquet"
            pl.read_parquet(archived).filter(pl.col("region_code") != "330000").write_parquet(correction)
            ingest_inbox(settings)
        with open_warehouse(settings) as con:
            cells = build_month_cells(con, PERIOD)
            started = time.perf_counter()
            flags = protect_month(con, PERIOD, settings)
            seconds = time.perf_counter() - started
            publish_months(con, [PERIOD], settings)
        results[version] = {"cells": cells, "seconds": round(seconds, 2), "flags": dict(sorted(flags.items()))}
        print(f"{version}: disclosure {seconds:6.2f} s  {cells:,} cells  {dict(sorted(flags.items()))}", flush=True)
    record = {
        "label": args.label,
        "rows": rows,
        "providers": args.providers,
        "seed": args.seed,
        "machine": machine_facts(),
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        **results,
    }
    RESULTS.mkdir(exist_ok=True)
    name = f"disclosure_{args.rows}_{args.providers}{'_' + args.label if args.label else ''}.json"
    (RESULTS / name).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS / name}")
    if not args.keep:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
