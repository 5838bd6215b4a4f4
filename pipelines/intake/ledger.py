"""Reading the ledger: who reported for a month, who is missing, what was rejected and why."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import duckdb
import polars as pl

from pipelines.core.config import Settings, UsageError
from pipelines.core.database import WarehouseBusy, configure_connection, run_sql


@contextlib.contextmanager
def read_warehouse(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """The warehouse, read-only. DuckDB refuses while a writer holds it: say so plainly."""
    if not settings.warehouse_file.exists():
        raise UsageError(f"no warehouse yet at {settings.warehouse_file}; run `tokenstats ingest` first")
    try:
        con = duckdb.connect(str(settings.warehouse_file), read_only=True)
    except duckdb.IOException as error:
        raise WarehouseBusy(
            f"the warehouse is being written by another process ({error}); try again shortly, "
            f"or query the analyst snapshot {settings.analyst_file}"
        ) from None
    try:
        yield configure_connection(con, settings)
    finally:
        con.close()


def read_period_status(con: duckdb.DuckDBPyConnection, period: str) -> pl.DataFrame:
    """One row per provider: expected or not, reported / rejected / missing, latest arrival and reason."""
    return run_sql(con, "intake/period_status", period=period).pl()


def list_unreadable_arrivals(con: duckdb.DuckDBPyConnection, limit: int = 20) -> pl.DataFrame:
    """The latest arrivals that could not be read at all (no period known), newest first."""
    return run_sql(con, "intake/unreadable", limit=limit).pl()


# The order of the coverage table's columns and of the manifest's "coverage" keys.
COVERAGE_KEYS = ("providers_expected", "providers_reported", "providers_rejected", "providers_missing")


def count_coverage(status: pl.DataFrame) -> dict[str, int]:
    """Providers expected, reported, rejected (no accepted report) and missing, for publication. Only
    registered providers count: an inbox folder nobody registered is not a provider."""
    status = status.filter(pl.col("registered"))
    expected = status.filter(pl.col("expected"))
    return {
        "providers_expected": expected.height,
        "providers_reported": status.filter(pl.col("standing") == "reported").height,
        "providers_rejected": status.filter(pl.col("standing") == "rejected").height,
        "providers_missing": expected.filter(pl.col("standing") == "missing").height,
    }


def list_overdue_providers(status: pl.DataFrame) -> list[str]:
    """Registered providers expected for the month without an accepted report (missing, or only rejected files)."""
    overdue = status.filter(pl.col("expected") & (pl.col("standing") != "reported"))
    return sorted(overdue["provider_id"].to_list())
