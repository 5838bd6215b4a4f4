"""Revision analysis: how far the first estimate of a month stood from its latest, over the months published so far.

For the national total and each modality's total of final use (total tokens), every month published so far:
the first published value (version 1) against the latest (the release the series uses), their difference and
the difference in percent of the first; then, per cell, the mean revision and mean absolute revision over the
months where both values were published free (``reference_period`` ``_T``). Only free cells enter: a value
withheld in either release is empty and counts in no mean. Every input is a published file, read verified.

The revision triangle (every version of each month's national total, side by side) goes into the workbook.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipelines.release.release_check import read_release_table
from pipelines.release.release_model import ReleaseInfo
from pipelines.release.series import release_version
from pipelines.statistics.cells import DIMENSIONS, TOTAL

MEASURE = "total_tokens"
TITLES = {
    "revision_analysis": "Revision analysis: first published against latest total tokens of the national and "
    "modality totals by month; reference_period _T: mean and mean absolute revision over the months both free",
    "revision_triangle": "Revision triangle: national final use (total tokens) of each month in every version "
    "(v1 the first estimate); empty where withheld",
}
FINAL_TOTALS = (
    pl.col("use_type") == "final",
    *(pl.col(d) == TOTAL for d in ("region_code", "compute_region_code", "sector_code")),
)


def build_revision_analysis(
    tables: dict[str, pl.DataFrame], info: ReleaseInfo, sources: tuple[Path, ...], current: Path
) -> pl.DataFrame | None:
    """First against latest value of the national and modality totals, per month and on average; None before any
    month of the record has been revised."""
    months = [*((folder, release_version(folder)) for folder in sources), (current, info.version)]
    if all(version == 1 for _, version in months):
        return None
    rows = []
    for folder, version in months:
        latest = tables["by_modality"] if folder == current else read_release_table(folder, "by_modality")
        first = latest if version == 1 else read_release_table(folder.parent / "v1", "by_modality")
        rows.append(_first_and_latest(first, latest, version))
    per_month = pl.concat(rows).with_columns(
        revision=pl.col("latest_value") - pl.col("first_value"),
        revision_pct=((pl.col("latest_value") / pl.col("first_value") - 1) * 100).round(4),
    )
    means = (
        per_month.filter(pl.col("revision").is_not_null())
        .group_by(DIMENSIONS)
        .agg(
            months=pl.len(),
            mean_revision=pl.col("revision").mean().round(2),
            mean_absolute_revision=pl.col("revision").abs().mean().round(2),
            mean_revision_pct=pl.col("revision_pct").mean().round(4),
            mean_absolute_revision_pct=pl.col("revision_pct").abs().mean().round(4),
        )
    )
    summary = means.with_columns(reference_period=pl.lit(TOTAL), measure=pl.lit(MEASURE))
    return (
        pl.concat([per_month, summary], how="diagonal_relaxed")
        .select(
            "reference_period",
            *DIMENSIONS,
            "measure",
            "first_value",
            "latest_version",
            "latest_value",
            "revision",
            "revision_pct",
            "months",
            "mean_revision",
            "mean_absolute_revision",
            "mean_revision_pct",
            "mean_absolute_revision_pct",
        )
        .sort(pl.col("reference_period") == TOTAL, "reference_period", *DIMENSIONS)
    )


def build_revision_triangle(national: pl.DataFrame, info: ReleaseInfo, sources: tuple[Path, ...]) -> pl.DataFrame:
    """National final use in every version of every month: one row per month, one column per version."""
    rows = []
    for folder in sources:
        for version in range(1, release_version(folder) + 1):
            release = folder if version == release_version(folder) else folder.parent / f"v{version}"
            table = read_release_table(release, "national")
            rows.append(_national_value(table, version))
    rows.append(_national_value(national, info.version))
    triangle = pl.concat(rows).pivot(on="version", index="reference_period", values=MEASURE)
    versions = sorted(triangle.columns[1:], key=lambda column: int(column[1:]))
    return triangle.select("reference_period", *versions).sort("reference_period")


def _first_and_latest(first: pl.DataFrame, latest: pl.DataFrame, version: int) -> pl.DataFrame:
    def free(table: pl.DataFrame, name: str) -> pl.DataFrame:
        value = pl.when(pl.col("conf_status") == "F").then(pl.col(MEASURE))
        return table.filter(*FINAL_TOTALS).select("reference_period", *DIMENSIONS, value.alias(name))

    keys = ["reference_period", *DIMENSIONS]
    joined = free(first, "first_value").join(free(latest, "latest_value"), on=keys, how="full", coalesce=True)
    return joined.select(
        "reference_period",
        *DIMENSIONS,
        "first_value",
        pl.lit(version, pl.Int64).alias("latest_version"),
        "latest_value",
    ).with_columns(measure=pl.lit(MEASURE))


def _national_value(table: pl.DataFrame, version: int) -> pl.DataFrame:
    return table.filter(*FINAL_TOTALS, pl.col("modality") == TOTAL).select(
        "reference_period",
        pl.lit(f"v{version}").alias("version"),
        pl.when(pl.col("conf_status") == "F").then(pl.col(MEASURE)).alias(MEASURE),
    )
