"""Marts: the cells of a reference month, summed in DuckDB from the current accepted reports.

``build_marts`` scans ``core.usage`` once (contributions.sql), then groups the small result into every
published cell (cells.sql, GROUPING SETS); each release table is a slice of those cells (``TABLES``).
Reseller rows are intermediate use: they appear only in ``use_type``, so no token is counted twice.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import polars as pl
import pyarrow as pa

from pipelines.core.database import run_sql
from pipelines.statistics.cells import DIMENSIONS, TOTAL
from pipelines.statistics.imputation import read_estimated_contributions, store_estimates

MEASURES = (
    "total_tokens",
    "input_tokens",
    "cached_input_tokens",
    "output_tokens",
    "requests",
    "settlement_amount",
)


@dataclass(frozen=True)
class Table:
    """A published table: its dimensions (columns) and the slice of cells it holds."""

    name: str
    title: str
    dimensions: tuple[str, ...]
    totals: tuple[str, ...]  # dimensions fixed at _T in this table
    provinces_only: bool = False  # no economic-zone rows

    def select(self, cells: pl.DataFrame) -> pl.DataFrame:
        rows = cells.filter(*(pl.col(d) == TOTAL for d in self.totals))
        if self.provinces_only:
            rows = rows.filter(pl.col("region_code").str.contains(r"^\d{6}$|^_T$"))
        return rows


FINAL = ("use_type",)  # every table but use_type holds final use only
TABLES = {
    t.name: t
    for t in (
        Table(
            "national",
            "National final use of tokens",
            (),
            ("region_code", "compute_region_code", "modality", "sector_code"),
        ),
        Table(
            "by_region",
            "Final use by customer province and economic zone",
            ("region_code",),
            ("compute_region_code", "modality", "sector_code"),
        ),
        Table(
            "by_modality",
            "Final use by modality",
            ("modality",),
            ("region_code", "compute_region_code", "sector_code"),
        ),
        Table(
            "by_sector",
            "Final use by sector (GB/T 4754-2017 section; HH households)",
            ("sector_code",),
            ("region_code", "compute_region_code", "modality"),
        ),
        Table(
            "cube",
            "Final use by region, modality and sector, with every subtotal",
            ("region_code", "modality", "sector_code"),
            ("compute_region_code",),
        ),
        Table(
            "compute_flows",
            "Final use by compute province (where served) and customer province",
            ("compute_region_code", "region_code"),
            ("modality", "sector_code"),
            provinces_only=True,
        ),
        Table(
            "use_type",
            "Final and intermediate (reseller) use",
            ("use_type",),
            ("region_code", "compute_region_code", "modality", "sector_code"),
        ),
    )
}


def _final_only(table: Table) -> bool:
    return "use_type" not in table.dimensions


def list_current_submissions(con: duckdb.DuckDBPyConnection, period: str) -> tuple[str, ...]:
    """The accepted, current submission ids of a month, sorted: the inputs of its next release."""
    return tuple(row[0] for row in run_sql(con, "statistics/current_submissions", period=period).fetchall())


def read_month_contributions(
    con: duckdb.DuckDBPyConnection, period: str, submissions: tuple[str, ...], estimates: tuple[str, ...] = ()
) -> pa.Table:
    """The month's usage in these submissions per finest cell and enterprise group (contributions.sql), and these
    estimates of late providers as their groups' contributions (imputation.py)."""
    reported = run_sql(con, "statistics/contributions", period=period, submissions=list(submissions)).to_arrow_table()
    if not estimates:
        return reported
    return pa.concat_tables([reported, read_estimated_contributions(con, estimates).cast(reported.schema)])


def group_cells(con: duckdb.DuckDBPyConnection, contributions: pa.Table) -> pl.DataFrame:
    """Every published cell per enterprise group (cell_groups.sql): what disclosure control counts."""
    con.register("contributions", contributions)
    try:
        groups = run_sql(con, "statistics/cell_groups").pl()
    finally:
        con.unregister("contributions")
    return groups.with_columns(
        pl.col(*MEASURES).exclude("settlement_amount").cast(pl.Int64),
        pl.col("settlement_amount").cast(pl.Decimal(38, 4)),
    )


def build_marts(con: duckdb.DuckDBPyConnection, period: str) -> pl.DataFrame:
    """Every cell of the month's current data (measures and contributor count), late providers estimated; also
    kept in ``mart.cells``."""
    con.execute("create schema if not exists mart")
    submissions, estimates = list_current_submissions(con, period), store_estimates(con, period)
    contributions = read_month_contributions(con, period, submissions, estimates)
    cell_groups = group_cells(con, contributions)
    con.register("cell_groups", cell_groups)
    try:
        cells = run_sql(con, "statistics/cells").pl()
    finally:
        con.unregister("cell_groups")
    cells = cells.with_columns(
        pl.col(*MEASURES, "contributors").exclude("settlement_amount").cast(pl.Int64),
        pl.col("settlement_amount").cast(pl.Decimal(38, 4)),
    ).select(*DIMENSIONS, *MEASURES, "contributors")
    _store(con, "mart.contributions", period, contributions)
    _store(con, "mart.cells", period, cells.with_columns(conf_status=pl.lit(None, pl.String)))  # set by disclosure
    return cells


def slice_tables(cells: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """The release tables as slices of the cells (still with every dimension column)."""
    final = cells.filter(pl.col("use_type") == "final")
    return {name: table.select(final if _final_only(table) else cells) for name, table in TABLES.items()}


def _store(con: duckdb.DuckDBPyConnection, name: str, period: str, rows: object) -> None:
    """Replace the month's rows of a mart table in one transaction (created on first use)."""
    con.register("incoming", rows)
    try:
        con.execute("begin")
        con.execute(
            f"create table if not exists {name} as "
            "select cast(null as varchar) as reference_period, * from incoming limit 0"
        )
        con.execute(f"delete from {name} where reference_period = $period", {"period": period})
        con.execute(
            f"insert into {name} by name select $period as reference_period, * from incoming",
            {"period": period},
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        con.unregister("incoming")
