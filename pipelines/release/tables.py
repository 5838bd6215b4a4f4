"""The published tables of a release: derived measures, flags, suppressed values emptied, revisions.

Data depend only on the inputs (same inputs, same bytes). Earlier releases are read only through
``release_check`` (their bytes verified against their manifests).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipelines.release.release_check import read_release_table
from pipelines.release.release_model import ReleaseInfo
from pipelines.statistics.cells import DIMENSIONS, TOTAL
from pipelines.statistics.marts import MEASURES, TABLES, slice_tables

CELL_MEASURES = (*MEASURES, "price_per_million_tokens", "share_of_total_pct", "change_on_previous_month_pct")
REVISED_MEASURES = ("total_tokens", "settlement_amount")


def build_release_tables(
    cells: pl.DataFrame,
    info: ReleaseInfo,
    coverage: dict[str, int],
    previous_month: Path | None,
    previous_version: Path | None,
    estimated: pl.DataFrame | None = None,
) -> dict[str, pl.DataFrame]:
    """The published tables: derived measures, flags, suppressed values emptied, revisions from v2. ``estimated``
    lists the cells an estimate of a late provider enters (imputation.measure_coverage): those are flagged ``E``
    and the tables gain ``coverage_ratio`` (1 for a cell without an estimate, empty where withheld)."""
    status = pl.lit("P" if info.provisional else "A")
    if estimated is not None:
        cells = cells.join(estimated, on=list(DIMENSIONS), how="left")
        status = pl.when(pl.col("estimated")).then(pl.lit("E")).otherwise(status)
    national = cells.filter(pl.col("use_type") == "final", *(pl.col(d) == TOTAL for d in DIMENSIONS[1:]))
    # A share is published only beside a published base: shares of a withheld total would give the total away.
    national_final_use = national["total_tokens"][0] if national.height and national["conf_status"][0] == "F" else None
    tables = {}
    for name, rows in slice_tables(cells).items():
        table = _with_derived_measures(rows, national_final_use, _read_table(previous_month, name))
        free = pl.col("conf_status") == "F"
        tables[name] = table.select(
            pl.lit(info.period).alias("reference_period"),
            *DIMENSIONS,
            *(pl.when(free).then(pl.col(m)).otherwise(None).alias(m) for m in CELL_MEASURES),
            *_coverage_ratio(estimated is not None, free),
            status.alias("obs_status"),
            "conf_status",
        ).sort(DIMENSIONS)
    tables["coverage"] = pl.DataFrame([{"reference_period": info.period, **coverage}]).cast(
        {k: pl.Int64 for k in coverage}
    )
    if previous_version is not None:
        tables["revisions"] = _revisions(tables, previous_version, info)
    return tables


def _coverage_ratio(estimates: bool, free: pl.Expr) -> list[pl.Expr]:
    """The share of the cell that was reported, beside a free cell, in a release that estimates someone."""
    if not estimates:
        return []
    ratio = pl.when(pl.col("estimated")).then(pl.col("coverage_ratio")).otherwise(1.0)
    return [pl.when(free).then(ratio).cast(pl.Float64).alias("coverage_ratio")]


def _with_derived_measures(rows: pl.DataFrame, total: int | None, previous: pl.DataFrame | None) -> pl.DataFrame:
    """Price per million tokens, share of national final use (one base for every table, so a cell has one
    share wherever it appears), change on the previous month's release."""
    rows = rows.with_columns(
        price_per_million_tokens=pl.when(pl.col("total_tokens") > 0)
        .then((pl.col("settlement_amount").cast(pl.Float64) * 1e6 / pl.col("total_tokens")).round(4))
        .cast(pl.Decimal(38, 4)),
        share_of_total_pct=(pl.col("total_tokens") / total * 100).round(4) if total else pl.lit(None, pl.Float64),
    )
    if previous is None:
        return rows.with_columns(change_on_previous_month_pct=pl.lit(None, pl.Float64))
    base = previous.filter(pl.col("conf_status") == "F").select(*DIMENSIONS, previous_tokens="total_tokens")
    return (
        rows.join(base, on=list(DIMENSIONS), how="left")
        .with_columns(
            change_on_previous_month_pct=pl.when(pl.col("previous_tokens") > 0)
            .then(((pl.col("total_tokens") / pl.col("previous_tokens") - 1) * 100).round(4))
            .otherwise(None)
        )
        .drop("previous_tokens")
    )


def _revisions(tables: dict[str, pl.DataFrame], previous: Path, info: ReleaseInfo) -> pl.DataFrame:
    """Cells whose value or flag changed since the previous version; a difference only between free cells."""
    new = _unique_cells(tables)
    old = _unique_cells({name: _read_table(previous, name) for name in TABLES})
    frames = []
    for measure in REVISED_MEASURES:
        joined = old.select(*DIMENSIONS, previous_value=measure, previous_conf_status="conf_status").join(
            new.select(*DIMENSIONS, value=measure, conf_status="conf_status"),
            on=list(DIMENSIONS),
            how="full",
            coalesce=True,
        )
        frames.append(
            joined.with_columns(
                pl.lit(measure).alias("measure"),
                pl.col("previous_value").cast(pl.Decimal(38, 4)),
                pl.col("value").cast(pl.Decimal(38, 4)),
            ).filter(
                pl.col("previous_value").ne_missing(pl.col("value"))
                | pl.col("previous_conf_status").ne_missing(pl.col("conf_status"))
            )
        )
    revisions = pl.concat(frames).with_columns(
        reference_period=pl.lit(info.period),
        previous_version=pl.lit(info.previous_version, pl.Int64),
        difference=pl.col("value") - pl.col("previous_value"),
    )
    return revisions.select(
        "reference_period",
        *DIMENSIONS,
        "measure",
        "previous_version",
        "previous_value",
        "value",
        "difference",
        "previous_conf_status",
        "conf_status",
    ).sort(*DIMENSIONS, "measure")


def _unique_cells(tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    cells = [t for name, t in tables.items() if name in TABLES and t is not None]
    return pl.concat(cells, how="vertical_relaxed").unique(subset=list(DIMENSIONS), keep="first")


def _read_table(release: Path | None, name: str) -> pl.DataFrame | None:
    return read_release_table(release, name)  # checked against the release's manifest
