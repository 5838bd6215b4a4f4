"""One measured stage of the benchmark, run in its own process so its peak memory is its own.

    python bench/stages.py STAGE DATA_DIR PERIOD

prints one JSON line: {"stage": ..., "seconds": <work time, imports excluded>, ...}. ``bench/run.py`` drives it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def floor(data: Path, period: str) -> dict:
    """The least work any correct pipeline must do: read the reports once, roll up region × modality × sector."""
    import duckdb

    con = duckdb.connect()
    con.execute("set memory_limit = '2GB'")
    files = [str(p) for p in sorted((data / "inbox").glob("*/*.parquet"))]
    started = time.perf_counter()
    cells = con.sql(
        """
        select region_code, modality, sector_code,
               sum(input_tokens + output_tokens) as total_tokens, sum(settlement_amount) as settlement_amount
        from read_parquet($files, union_by_name = true)
        where customer_type <> 'reseller'
        group by rollup (region_code, modality, sector_code)
        """,
        params={"files": files},
    ).fetchall()
    return {"seconds": time.perf_counter() - started, "cells": len(cells)}


def fair_floor(data: Path, period: str) -> dict:
    """The least work a correct pipeline must do, in plain DuckDB apart from the pipeline's code: one scan of
    every column of each report applying the contract's row rules (code lists from ``schemas/`` CSVs), then
    the published GROUPING SETS over the same Parquet. No copy, no GX, no disclosure."""
    import calendar
    import csv

    import duckdb

    schemas = BENCH.parent / "schemas"

    def codes(name: str, column: str, **where: str) -> list[str]:
        with (schemas / f"{name}.csv").open(encoding="utf-8") as f:
            return [r[column] for r in csv.DictReader(f) if all(r[k] == v for k, v in where.items())]

    year, month = map(int, period.split("-"))
    params = {
        "period": period,
        "period_start": dt.date(year, month, 1),
        "period_end": dt.date(year, month, calendar.monthrange(year, month)[1]),
        "provinces": codes("provinces", "region_code"),
        "modalities": codes("modalities", "modality"),
        "customer_types": codes("customer_types", "customer_type"),
        "sectors": codes("sectors", "sector_code", in_reports="true"),
    }
    con = duckdb.connect()
    con.execute("set memory_limit = '2GB'")
    files = sorted((data / "inbox").glob("*/*.parquet"))
    started = time.perf_counter()
    # The checks must read the values, not the footer statistics a file could forge; the cells trust them.
    con.execute(
        "set disabled_optimizers = 'filter_pushdown,statistics_propagation,row_group_pruner'; "
        "set parquet_use_page_index = false"
    )
    checks = (BENCH / "sql" / "fair_floor_checks.sql").read_text(encoding="utf-8")
    broken = 0
    for path in files:
        relation = con.sql(checks, params={**params, "path": str(path), "provider": path.parent.name})
        row = dict(zip(relation.columns, relation.fetchall()[0], strict=True))
        broken += sum(v for k, v in row.items() if k not in ("row_count", "periods")) + (row["periods"] != 1)
    checks_seconds = time.perf_counter() - started
    con.execute("reset disabled_optimizers; reset parquet_use_page_index")
    cells = con.sql(
        (BENCH / "sql" / "fair_floor_cells.sql").read_text(encoding="utf-8"),
        params={"files": [str(p) for p in files], "provinces_csv": str(schemas / "provinces.csv")},
    ).fetchall()
    return {
        "seconds": time.perf_counter() - started,
        "checks_seconds": checks_seconds,
        "files": len(files),
        "rule_breaks": broken,
        "cells": len(cells),
    }


def ingest_claim(data: Path, period: str) -> dict:
    from pipelines.core.config import load_settings
    from pipelines.intake.ingest import claim_inbox

    started = time.perf_counter()
    claims, _ = claim_inbox(load_settings(data_dir=data))
    return {"seconds": time.perf_counter() - started, "files": len(claims)}


def ingest_validate(data: Path, period: str) -> dict:
    from pipelines.core.config import load_settings
    from pipelines.intake.claim import pending_claims
    from pipelines.intake.verify import validate_claims
    from pipelines.validation.expectations import preload

    preload()  # GX's import is a per-process cost, not the validation's
    settings = load_settings(data_dir=data)
    claims = pending_claims(settings)
    started = time.perf_counter()
    with WorkersPeakRss() as workers:
        verdicts = validate_claims(claims, settings)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "workers_peak_rss_mib": workers.peak_mib,
        "files": len(verdicts),
        "rejected": sum(not v.accepted for v in verdicts),
        "structure_seconds": sum(v.stats.get("structure_seconds", 0) for v in verdicts),
        "expectations_seconds": sum(v.stats.get("expectations_seconds", 0) for v in verdicts),
        "rows_seconds": sum(v.stats.get("rows_seconds", 0) for v in verdicts),  # the accepted rows' files
    }


class WorkersPeakRss:
    """The largest peak RSS of any process below this one while the block runs. The validation's workers are
    the fork server's children, so this process's ``wait4`` never counts them; each one's high-water mark
    (``VmHWM``) is read every 0.2 s while it lives."""

    def __init__(self) -> None:
        self.peak_mib = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> WorkersPeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        while True:
            for status in _descendant_statuses(os.getpid()):
                if "VmHWM" in status:
                    self.peak_mib = max(self.peak_mib, int(status["VmHWM"].split()[0]) / 1024)
            if self._stop.wait(0.2):
                return


def _descendant_statuses(root: int) -> list[dict[str, str]]:
    """``/proc/<pid>/status`` of every process below ``root``, as fields."""
    statuses = {}
    for path in Path("/proc").glob("[0-9]*/status"):
        try:
            lines = path.read_text().splitlines()
        except OSError:  # the process ended meanwhile
            continue
        statuses[int(path.parent.name)] = dict(line.split(":", 1) for line in lines if ":" in line)
    below, found = {root}, True
    while found:
        found = False
        for pid, status in statuses.items():
            if pid not in below and int(status.get("PPid", "0").strip() or 0) in below:
                below.add(pid)
                found = True
    return [statuses[pid] for pid in below - {root}]


def ingest_load(data: Path, period: str) -> dict:
    from pipelines.core.config import load_settings
    from pipelines.intake.claim import pending_claims
    from pipelines.intake.load import load_claims

    settings = load_settings(data_dir=data)
    started = time.perf_counter()
    summary = load_claims(pending_claims(settings), settings)
    return {"seconds": time.perf_counter() - started, "accepted": len(summary.accepted)}


def _publish_stage(data: Path, period: str, stage: str) -> dict:
    from pipelines.core.config import load_settings
    from pipelines.core.database import open_warehouse
    from pipelines.release.plan import plan_releases
    from pipelines.release.publish import (
        build_month_cells,
        export_release,
        finalize_release,
        protect_month,
        write_release_bulletin,
    )
    from pipelines.release.snapshot import refresh_snapshot

    settings = load_settings(data_dir=data)
    started = time.perf_counter()
    detail: dict = {}
    with open_warehouse(settings) as con:
        if stage == "marts":
            detail["cells"] = build_month_cells(con, period)
        elif stage == "disclosure":
            detail["flags"] = protect_month(con, period, settings)
        elif stage == "formats":
            (plan,) = plan_releases(con, [period], settings)
            export_release(con, plan, settings)
            write_release_bulletin(plan)
            detail["release"] = str(finalize_release(plan, dt.datetime.now(dt.UTC)))
        elif stage == "snapshot":
            refresh_snapshot(con, settings)
    return {"seconds": time.perf_counter() - started, **detail}


def naive(data: Path, period: str) -> dict:
    """What a typical tutorial builds: pandas read, GX's pandas engine on the same suite, pandas groupby."""
    import great_expectations as gx
    import pandas as pd

    from pipelines.contract.contract import load_contract
    from pipelines.validation.expectations import build_expectation_parameters, load_suite

    started = time.perf_counter()
    frames = []
    for path in sorted((data / "inbox").glob("*/*.parquet")):
        frame = pd.read_parquet(path)
        frame[[c for c in frame.columns if frame[c].dtype == "category"]] = frame.select_dtypes("category").astype(str)
        frames.append(frame)
    usage = pd.concat(frames, ignore_index=True)
    # A key is unique within its report: with every provider in one frame, the provider is part of it (two
    # providers may well report the same day, region, model...; at 10M rows 9% of keys did, and the suite failed).
    key = ["provider_id", *load_contract().key]
    usage["report_key"] = pd.util.hash_pandas_object(usage[key], index=False)
    read_seconds = time.perf_counter() - started

    context = gx.get_context(mode="ephemeral")
    batch = (
        context.data_sources.add_pandas("naive")
        .add_dataframe_asset("usage")
        .add_batch_definition_whole_dataframe("all")
        .get_batch(batch_parameters={"dataframe": usage})
    )
    suite = load_suite()
    suite.expectations = [e for e in suite.expectations if e.expectation_type != "unexpected_rows_expectation"]
    result = batch.validate(suite, expectation_parameters=build_expectation_parameters(period))
    validate_seconds = time.perf_counter() - started - read_seconds

    final = usage[usage["customer_type"] != "reseller"].assign(total=usage["input_tokens"] + usage["output_tokens"])
    parts = [
        final.groupby(list(dims), dropna=False)[["total", "settlement_amount"]].sum()
        for dims in (["region_code", "modality", "sector_code"], ["region_code", "modality"], ["region_code"])
    ]
    cells = sum(len(p) for p in parts) + 1
    return {
        "seconds": time.perf_counter() - started,
        "read_seconds": read_seconds,
        "validate_seconds": validate_seconds,
        "success": bool(result.success),
        "cells": cells,
    }


STAGES = {
    "floor": floor,
    "fair_floor": fair_floor,
    "ingest.claim": ingest_claim,
    "ingest.validate": ingest_validate,
    "ingest.load": ingest_load,
    "publish.marts": lambda d, p: _publish_stage(d, p, "marts"),
    "publish.disclosure": lambda d, p: _publish_stage(d, p, "disclosure"),
    "publish.formats": lambda d, p: _publish_stage(d, p, "formats"),
    "publish.snapshot": lambda d, p: _publish_stage(d, p, "snapshot"),
    "naive": naive,
}


if __name__ == "__main__":
    stage, data_dir, period = sys.argv[1:4]
    result = STAGES[stage](Path(data_dir), period)
    print(json.dumps({"stage": stage, **result}, default=str))
