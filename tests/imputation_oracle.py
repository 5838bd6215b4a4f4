"""Late providers' estimates recomputed from the archived reports, in plain Polars and ``decimal``, sharing no code
with ``pipelines.statistics.imputation``: who is late, the trend, the carried-forward cells.

Only the growth factor is read back from the warehouse once it is checked (to 1e-9) against this recomputation:
the pipeline rounds it to 12 decimals in SQL, and the exact digits decide how a cell rounds.
"""

from __future__ import annotations

import decimal
import json
from pathlib import Path

import duckdb
import polars as pl

from tests.oracle import read_reports

MEASURES = ("input_tokens", "cached_input_tokens", "output_tokens", "requests")


def archived_reports(data: Path, period: str) -> dict[str, pl.DataFrame]:
    """Each provider's archived (accepted) report of a month, by provider id."""
    files = sorted((data / "archive").glob(f"*/{period}/*/*.parquet"))
    return {f.parts[-4]: read_reports([f]) for f in files}


def estimated_rows(data: Path, release: Path, base_period: str) -> pl.DataFrame:
    """Final-use rows standing for the providers with a report for ``base_period`` and none for the release's
    month: one row per finest cell, every measure scaled by the growth of the providers with both, rounded half
    up. Call it while the late reports are still missing from the archive."""
    manifest = json.loads((release / "manifest.json").read_text(encoding="utf-8"))
    period = manifest["reference_period"]
    now, then = archived_reports(data, period), archived_reports(data, base_period)
    both = sorted(set(now) & set(then))
    late = sorted(set(then) - set(now))
    growth = sum(now[p]["input_tokens"].sum() + now[p]["output_tokens"].sum() for p in both) / sum(
        then[p]["input_tokens"].sum() + then[p]["output_tokens"].sum() for p in both
    )
    with duckdb.connect(str(data / "warehouse" / "tokenstats.duckdb"), read_only=True) as con:
        stored = con.sql(
            "select distinct provider_id, growth from mart.estimates where list_contains($ids, estimate_id)",
            params={"ids": manifest["inputs"]["estimates"]},
        ).fetchall()
    assert sorted(p for p, _ in stored) == late, (stored, late)
    assert all(abs(g - growth) < 1e-9 for _, g in stored), (stored, growth)
    factor = decimal.Decimal(repr(stored[0][1])).quantize(decimal.Decimal("1e-12"))
    rows = pl.concat([then[p] for p in late], how="vertical_relaxed").filter(pl.col("customer_type") != "reseller")
    cells = rows.group_by(
        "provider_id",  # each late provider is estimated (and rounded) on its own
        "region_code",
        pl.col("compute_region_code").fill_null("_X"),
        "modality",
        pl.when(pl.col("customer_type") == "individual")
        .then(pl.lit("individual"))
        .otherwise(pl.lit("enterprise"))  # government too: the same final-use cell
        .alias("customer_type"),
        pl.col("sector_code").fill_null("_X"),
    ).agg(*(pl.col(m).sum() for m in MEASURES), pl.col("settlement_amount").sum())

    def scaled(value: object, unit: str) -> decimal.Decimal:
        return (decimal.Decimal(str(value)) * factor).quantize(decimal.Decimal(unit), decimal.ROUND_HALF_UP)

    return cells.select(
        "provider_id",
        "region_code",
        "compute_region_code",
        "modality",
        "customer_type",
        pl.when(pl.col("sector_code") == "_X").then(None).otherwise(pl.col("sector_code")).alias("sector_code"),
        *(pl.col(m).map_elements(lambda v: int(scaled(v, "1")), return_dtype=pl.Int64) for m in MEASURES),
        pl.col("settlement_amount").map_elements(lambda v: scaled(v, "0.0001"), return_dtype=pl.Decimal(38, 4)),
    )
