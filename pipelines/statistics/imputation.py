"""Imputation: estimates for the providers that are late with a month, so a first estimate is not biased low.

A registered provider with no accepted report for a month (none received yet, or every one rejected) that had an
accepted report in one of the ``WINDOW_MONTHS`` months before is *late*. Its contribution is its latest accepted
month (the base) carried forward, every finest cell scaled by the trend: growth of total tokens from the base
month to this month of the providers that reported both (late_providers.sql, scale_estimate.sql). Once made,
an estimate is kept while the provider stays late on the same base month. The estimates
are kept in ``mart.estimates`` (never in ``core.usage``), named by a hash of everything they depend on; a release
lists the ones it used (manifest ``inputs.estimates``), and they enter its cells as contributions of the late
provider's enterprise group, so disclosure control treats them like reports. When the report arrives and is
accepted, the provider is no longer late: the next version uses the report instead (a revision).

Published cells an estimate enters are flagged ``E``; ``coverage_ratio`` beside them is the share of the cell's
total tokens that was reported, published only where it gives no contributor away (``measure_coverage``).
"""

from __future__ import annotations

import hashlib
import json

import duckdb
import polars as pl
import pyarrow as pa

from pipelines.core.database import fetch_first_row, run_sql
from pipelines.statistics.cells import DIMENSIONS, TOTAL
from pipelines.statistics.primary import FREE, Rules, apply_primary_rules, compute_rule_figures

WINDOW_MONTHS = 3  # a provider silent for longer has left the market or needs a decision, not an estimate


def list_late_providers(con: duckdb.DuckDBPyConnection, period: str) -> list[dict]:
    """The late providers of a month and how each would be estimated, each with its ``estimate_id``."""
    rows = run_sql(con, "statistics/late_providers", period=period, earliest=_months_before(period, WINDOW_MONTHS))
    late = rows.pl().to_dicts()
    for row in late:
        key = json.dumps({"period": period, **row}, sort_keys=True, default=str)
        row["estimate_id"] = hashlib.sha256(key.encode()).hexdigest()
    return late


def store_estimates(con: duckdb.DuckDBPyConnection, period: str) -> tuple[str, ...]:
    """Estimate every late provider of the month into ``mart.estimates``; returns the month's current estimate
    ids, sorted. A provider still late on the same base month keeps its first estimate (the trend is not
    re-estimated when others correct their reports: that would revise every cell it enters for nothing)."""
    ids = []
    for row in list_late_providers(con, period):
        kept = fetch_first_row(
            con,
            "select estimate_id from mart.estimates where reference_period = $period and provider_id = $provider "
            "and base_submission_id = $base order by made_after, estimate_id limit 1",
            {"period": period, "provider": row["provider_id"], "base": row["base_submission_id"]},
        )
        ids.append(kept[0] if kept else _estimate(con, period, row))
    return tuple(sorted(ids))


def _estimate(con: duckdb.DuckDBPyConnection, period: str, late: dict) -> str:
    """Carry one late provider's base month forward with the trend into ``mart.estimates``; its id."""
    base = run_sql(
        con, "statistics/contributions", period=late["base_period"], submissions=[late["base_submission_id"]]
    ).to_arrow_table()
    con.register("base", base)
    try:
        params = {k: late[k] for k in ("estimate_id", "provider_id", "base_period", "base_submission_id", "growth")}
        estimate = run_sql(con, "statistics/scale_estimate", period=period, **params).to_arrow_table()
    finally:
        con.unregister("base")
    con.register("estimate", estimate)
    try:
        con.execute("insert into mart.estimates by name select * from estimate")
    finally:
        con.unregister("estimate")
    return late["estimate_id"]


def read_estimated_contributions(con: duckdb.DuckDBPyConnection, estimates: tuple[str, ...]) -> pa.Table:
    """These estimates as contributions of their providers' enterprise groups (the grain of contributions.sql)."""
    return run_sql(con, "statistics/estimated_contributions", estimates=list(estimates)).to_arrow_table()


def measure_coverage(reported_groups: pl.DataFrame, estimated_groups: pl.DataFrame, rules: Rules) -> pl.DataFrame:
    """Per cell an estimate enters: ``estimated`` (true) and ``coverage_ratio``, the share of its total tokens that
    was reported (4 decimals).

    With the cell's total, the ratio publishes its reported and its estimated part: each is a cell of its own
    (the late groups' estimate; the reporting groups' figures), so the ratio is given only where both parts pass
    the primary rules, and only for national cells: ratios of a total and its parts would publish a second
    table (reported parts) whose sums could narrow a withheld cell, which the audit does not cover. One national
    split per use type leaves every table the audit protected consistent with any value it allows. Elsewhere
    the ratio is empty and the flag ``E`` alone says that an estimate entered. Cells without an estimate are not
    listed (their ratio is 1)."""
    parts = {}
    for name, groups in (("reported", reported_groups), ("estimated", estimated_groups)):
        figures = compute_rule_figures(groups)
        parts[name] = figures.select(
            *DIMENSIONS,
            pl.col("total_tokens:sum").alias(f"{name}_tokens"),
            pl.col("contributors").alias(f"{name}_groups"),
            pl.Series(f"{name}_safe", apply_primary_rules(figures, rules) == FREE),
        )
    cells = parts["estimated"].join(parts["reported"], on=list(DIMENSIONS), how="left")
    cells = cells.filter(pl.col("estimated_groups") > 0)  # an estimate with nothing in a cell does not enter it
    total = pl.col("estimated_tokens") + pl.col("reported_tokens").fill_null(0)
    ratio = (pl.col("reported_tokens").fill_null(0) / total).round(4)
    safe = pl.col("estimated_safe") & pl.col("reported_safe").fill_null(True)  # nothing reported: the total
    safe &= pl.all_horizontal(pl.col(d) == TOTAL for d in DIMENSIONS if d != "use_type")
    return cells.select(
        *DIMENSIONS,
        pl.lit(True).alias("estimated"),
        pl.when(safe & (total > 0)).then(ratio).alias("coverage_ratio"),
    )


def _months_before(period: str, months: int) -> str:
    year, month = (int(x) for x in period.split("-"))
    index = year * 12 + month - 1 - months
    return f"{index // 12}-{index % 12 + 1:02d}"
