"""Reports into a test's warehouse as the loader records them after validation, without validating (GX costs
seconds a file): for tests of what comes after the load."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import duckdb
import polars as pl

from pipelines.core.config import Settings
from pipelines.core.database import run_sql
from pipelines.core.usage_store import define_usage_view, usage_file, write_report_rows


def load_accepted_report(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    path: Path,
    period: str,
    receipt_seq: int,
    received_at: dt.datetime,
) -> None:
    """Record one report as accepted (named by its content, as intake does) and load its rows; a later report of
    the same provider and month supersedes the earlier one."""
    provider = path.parent.name
    submission = hashlib.sha256(path.read_bytes()).hexdigest()
    rows = pl.scan_parquet(path).select(pl.len()).collect().item()
    run_sql(
        con,
        "intake/insert_submission",
        submission_id=submission,
        provider_id=provider,
        report_period=period,
        file_name=path.name,
        size_bytes=path.stat().st_size,
        row_count=rows,
        received_at=received_at,
        receipt_seq=receipt_seq,
        status="accepted",
        reason="",
        reason_path=None,
        docs_path=None,
        stored_path=str(path),
        contract_version="1",
    )
    write_report_rows(con, submission, path, usage_file(settings, period, submission))
    run_sql(con, "intake/supersede", provider_id=provider, report_period=period)
    define_usage_view(con, settings)
