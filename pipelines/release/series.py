"""Series: every reference month published so far, as each month's latest release states it.

A release of month M carries ``series_<table>`` for the national, by_region, by_modality, by_sector and
use_type tables: the rows of M from the release itself, and those of every earlier published month from that
month's latest release at the time (or its release staged earlier in the same run), read verified against
the release's manifest. The series is never recomputed from the warehouse: a cell suppressed in a month's
latest release is empty in the series too, and every value is a value that release published.
``source_version`` names the version each row comes from. Year-on-year change (total tokens against the same
month a year earlier) appears where both cells are published free.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipelines.release.release_check import read_release_table
from pipelines.release.release_model import ReleaseInfo
from pipelines.statistics.cells import DIMENSIONS

SERIES_TABLES = ("national", "by_region", "by_modality", "by_sector", "use_type")
PREFIX = "series_"
YEAR_ON_YEAR = "change_on_previous_year_pct"
SOURCE_VERSION = "source_version"
TITLES = {
    PREFIX + name: f"Series of the {name} table: every month published so far, each from its latest release "
    f"(source_version), with {YEAR_ON_YEAR} (total tokens on the same month a year earlier, both free)"
    for name in SERIES_TABLES
}


def build_series(
    tables: dict[str, pl.DataFrame], info: ReleaseInfo, sources: tuple[Path, ...]
) -> dict[str, pl.DataFrame]:
    """The ``series_<table>`` tables of a release: earlier months from their releases, this month from ``tables``."""
    series = {}
    for name in SERIES_TABLES:
        current = tables[name]
        parts = [_with_source(read_release_table(folder, name), release_version(folder)) for folder in sources]
        parts.append(_with_source(current, info.version))
        rows = pl.concat([p for p in parts if p is not None], how="diagonal_relaxed")
        columns = [*current.columns, SOURCE_VERSION]
        rows = rows.select(columns).filter(pl.col("reference_period") <= info.period)
        series[PREFIX + name] = _with_year_on_year(rows).sort("reference_period", *DIMENSIONS)
    return series


def release_version(folder: Path) -> int:
    """The version of a release folder, published (``v3``) or staged (``.v3.staging``)."""
    return int(folder.name.lstrip(".").split(".")[0][1:])


def _with_source(table: pl.DataFrame | None, version: int) -> pl.DataFrame | None:
    return None if table is None else table.with_columns(pl.lit(version, pl.Int64).alias(SOURCE_VERSION))


def _with_year_on_year(rows: pl.DataFrame) -> pl.DataFrame:
    """Change of total tokens on the same month a year earlier, both published free (suppressed cells are null)."""
    year_earlier = rows.select(
        *DIMENSIONS,
        reference_period=_shifted_year(pl.col("reference_period")),
        year_earlier_tokens=pl.when(pl.col("conf_status") == "F").then(pl.col("total_tokens")),
    )
    joined = rows.join(year_earlier, on=["reference_period", *DIMENSIONS], how="left", nulls_equal=True)
    change = pl.when((pl.col("conf_status") == "F") & (pl.col("year_earlier_tokens") > 0)).then(
        ((pl.col("total_tokens") / pl.col("year_earlier_tokens") - 1) * 100).round(4)
    )
    ordered = [*rows.columns[:-3], YEAR_ON_YEAR, *rows.columns[-3:]]  # before obs_status, conf_status, source
    return joined.with_columns(change.cast(pl.Float64).alias(YEAR_ON_YEAR)).select(ordered)


def _shifted_year(period: pl.Expr) -> pl.Expr:
    """``YYYY-MM`` one year later: a row of 2025-10 is the year-earlier base of 2026-10."""
    return (period.str.slice(0, 4).cast(pl.Int32) + 1).cast(pl.String) + period.str.slice(4)
