"""The analyst snapshot's cost against the size of the warehouse: the same new month, two warehouse sizes.

    uv run --frozen python bench/snapshot_scale.py --month-rows 2M --sizes 1,6

For each size S, a fresh warehouse holds S months of loaded rows (synthetic rows stored as the load stores a
report, one file a month, with their ledger rows: the snapshot reads the warehouse, nothing else), and both
snapshot generations are brought up to date. Then one more month arrives and the refresh that publishing
ends with runs, timed, beside a byte copy of the warehouse file (the former snapshot). Writes
``bench/results/snapshot_scale_<rows>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from year import parse_rows  # noqa: E402

ROWS = """
select * from (
    select $id, $period, 'p' || (i % 50), date '2026-01-01' + (i % 28)::int, '110000', '110000', 'text',
           'enterprise', 'I', 'm' || (i % 97), i % 1000, 0, i % 777, 1, (i % 100)::decimal(18, 4)
    from range($rows) as t(i)
) as t(submission_id, report_period, provider_id, usage_date, region_code, compute_region_code, modality,
       customer_type, sector_code, model_id, input_tokens, cached_input_tokens, output_tokens, requests,
       settlement_amount)
"""
LEDGER = """
insert into core.submissions (submission_id, provider_id, report_period, file_name, size_bytes, row_count,
    received_at, status, contract_version, receipt_seq)
values ($id, 'p0', $period, $id || '.parquet', 0, $rows, now(), 'accepted', '1', $seq)
"""
# The marts publishing builds (small: cells per month), as the analyst views read them.
CELLS = """
create table mart.cells (reference_period varchar, use_type varchar, region_code varchar,
    compute_region_code varchar, modality varchar, sector_code varchar, total_tokens bigint)
"""


def add_month(con, settings, index: int, rows: int) -> None:
    from pipelines.core.usage_store import define_usage_view, store_rows

    period = f"{2026 + index // 12}-{index % 12 + 1:02d}"
    params = {"id": f"{index:064x}", "period": period, "rows": rows}
    store_rows(con, settings, period, params["id"], ROWS, params)
    con.execute(LEDGER, {**params, "seq": index})
    define_usage_view(con, settings)


def measure_size(months: int, rows: int) -> dict:
    from pipelines.core.config import load_settings
    from pipelines.core.database import open_warehouse
    from pipelines.release.snapshot import refresh_snapshot

    work = Path(tempfile.mkdtemp(prefix="tokenstats-snapshot-"))
    try:
        settings = load_settings(data_dir=work / "data")
        with open_warehouse(settings) as con:
            con.execute(CELLS)
            for index in range(months):
                add_month(con, settings, index, rows)
            refresh_snapshot(con, settings)
            refresh_snapshot(con, settings)  # both generations hold every month so far
            add_month(con, settings, months, rows)
            con.execute("checkpoint")
            started = time.perf_counter()
            refresh_snapshot(con, settings)
            refresh_seconds = time.perf_counter() - started
        warehouse = settings.warehouse_file
        started = time.perf_counter()
        shutil.copyfile(warehouse, work / "copy.duckdb")
        copy_seconds = time.perf_counter() - started
        return {
            "months_before": months,
            "warehouse_rows": (months + 1) * rows,
            "warehouse_bytes": warehouse.stat().st_size + sum(p.stat().st_size for p in settings.usage_dir.rglob("*")),
            "refresh_seconds": round(refresh_seconds, 2),
            "file_copy_seconds": round(copy_seconds, 2),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--month-rows", default="2M")
    parser.add_argument("--sizes", default="1,6", help="months already in the warehouse, comma-separated")
    parser.add_argument("--out", type=Path, default=BENCH / "results")
    args = parser.parse_args(argv)
    rows = parse_rows(args.month_rows)
    sizes = [measure_size(int(s), rows) for s in args.sizes.split(",")]
    for size in sizes:
        print(json.dumps(size), flush=True)
    report = {
        "month_rows": rows,
        "sizes": sizes,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"snapshot_scale_{rows}.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
