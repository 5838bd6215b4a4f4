"""Loading: one writer, one transaction per file: check the provider's history, record the ledger row and, when
accepted, store the rows (``core/usage_store.py``) and supersede the previous report for that month; then move
the claim folder to the archive, or to the quarantine with ``reason.json``. Safe to retry or resume after a
crash."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipelines.contract.reasons import Verdict, write_json
from pipelines.contract.reference import load_reference_tables
from pipelines.core.config import Settings
from pipelines.core.database import fetch_first_row, open_warehouse, restrict_data_folders, run_sql
from pipelines.core.failpoints import crash_point
from pipelines.core.usage_store import define_usage_view, keep_rows, usage_file, write_report_rows
from pipelines.intake.claim import REASON_FILE, Claim, read_claim
from pipelines.intake.verify import validate_claim
from pipelines.validation.datadocs import build_index


@dataclass
class IngestSummary:
    accepted: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    duplicate: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)  # still being written: left for the next run
    periods: set[str] = field(default_factory=set)  # reference months whose current figures changed


def load_claims(
    claims: list[Claim],
    settings: Settings,
    wait_seconds: float | None = None,
    on_done: Callable[[Claim, Verdict, str], None] | None = None,
) -> IngestSummary:
    """Record validated claims in the ledger and the warehouse, then file them away. One writer at a time.
    ``on_done`` hears of each file with its status as it is filed away (progress display)."""
    summary = IngestSummary()
    wait = settings.lock_wait_seconds if wait_seconds is None else wait_seconds
    with open_warehouse(settings, wait) as con:
        load_reference_tables(con, settings)
        for claim in claims:
            if read_claim(claim.folder) is None:  # filed away meanwhile by another loader (e.g. CLI beside DAG)
                continue
            verdict = validate_claim(claim, settings)
            status = _record(con, claim, verdict, settings)
            _file_away(claim, verdict, status, settings)
            if on_done is not None:
                on_done(claim, verdict, status)
            getattr(summary, status if status != "superseded" else "accepted").append(claim.label)
            if status in ("accepted", "superseded") and verdict.report_period:
                summary.periods.add(verdict.report_period)
    restrict_data_folders(settings)  # the archive or quarantine may have just appeared
    build_index(settings.docs_dir, settings.docs_retention_days)
    return summary


def _record(con: duckdb.DuckDBPyConnection, claim: Claim, verdict: Verdict, settings: Settings) -> str:
    """One transaction: the ledger row and, when accepted, the rows. Returns the arrival's status."""
    from pipelines.validation.validate import check_history, check_month_bound, check_registered

    received = claim.received
    key = {
        "submission_id": received.submission_id,
        "provider_id": received.provider_id,
        "file_name": received.file_name,
        "received_at": received.received_at,
    }
    recorded = fetch_first_row(
        con,
        "select status from core.submissions where submission_id = $submission_id and file_name = $file_name "
        "and received_at = $received_at and provider_id = $provider_id",
        key,
    )
    if recorded is not None:  # a crash after the commit: only the filing away was left to do
        return recorded[0]
    # Duplicates are per provider: the same bytes in another provider's folder are that provider's (invalid)
    # report, and must not learn when and how the first provider's file was received (isolation tests).
    earlier = fetch_first_row(
        con,
        "select status, received_at from core.submissions where submission_id = $id and provider_id = $provider "
        "and status <> 'duplicate' order by receipt_seq limit 1",
        {"id": received.submission_id, "provider": received.provider_id},
    )
    con.execute("begin")
    try:
        if earlier is not None:
            status = "duplicate"
            reason = f"same bytes as the file received {earlier[1]:%Y-%m-%d %H:%M:%S %Z} ({earlier[0]}); no effect"
        else:
            late = check_registered(con, verdict)  # first: nothing else matters from an unregistered sender
            if verdict.accepted and not late:
                late = check_history(con, verdict, settings) or check_month_bound(con, verdict)
            if late:
                verdict.failures[:0] = late
                # Keep these failures in verdict.json before the commit: a run resumed after a crash between
                # the commit and the filing away writes reason.json from that file (crash test).
                write_json(claim.verdict_file, verdict.to_json())
            status = "accepted" if verdict.accepted else "rejected"
            reason = verdict.summary()
        _insert_submission(con, claim, verdict, status, reason, settings)
        crash_point("load.after_ledger_insert")
        if status == "accepted":
            status = _load_rows(con, claim, verdict, settings)
        crash_point("load.before_commit")
        con.execute("commit")
        crash_point("load.after_commit")
    except BaseException:
        con.execute("rollback")
        raise
    return status


def _insert_submission(
    con: duckdb.DuckDBPyConnection,
    claim: Claim,
    verdict: Verdict,
    status: str,
    reason: str,
    settings: Settings,
) -> None:
    received = claim.received
    run_sql(
        con,
        "intake/insert_submission",
        submission_id=received.submission_id,
        provider_id=received.provider_id,
        report_period=verdict.report_period,
        file_name=received.file_name,
        size_bytes=received.size_bytes,
        row_count=verdict.row_count,
        received_at=received.received_at,
        receipt_seq=claim.receipt_seq,
        status=status,
        reason=reason,
        reason_path=str(_destination(claim, status, verdict, settings) / REASON_FILE) if status == "rejected" else None,
        docs_path=verdict.docs_path,
        stored_path=str(_destination(claim, status, verdict, settings) / claim.stored_name)
        if status != "duplicate"
        else None,
        contract_version=verdict.contract_version,
    )


def _load_rows(con: duckdb.DuckDBPyConnection, claim: Claim, verdict: Verdict, settings: Settings) -> str:
    """Store the accepted rows (core.usage names them in this transaction); the last report received of a
    provider and month is the current one."""
    params = {"submission_id": claim.received.submission_id}
    period = verdict.report_period
    assert period is not None  # an accepted report has one month
    stored = _store_rows(con, claim, period, settings)
    crash_point("load.after_rows_stored")
    if stored != verdict.row_count:  # the file changed since it was validated: refuse to half-trust it
        raise RuntimeError(f"loaded {stored} rows of {claim.report}, expected {verdict.row_count}")
    for totals in verdict.totals:
        run_sql(con, "intake/insert_totals", **params, **totals)
    run_sql(con, "intake/supersede", provider_id=claim.received.provider_id, report_period=period)
    define_usage_view(con, settings)
    received = claim.received  # this arrival's ledger row (the same bytes may have arrived in another folder)
    key = {"provider": received.provider_id, "file_name": received.file_name, "received_at": received.received_at}
    status = fetch_first_row(
        con,
        "select status from core.submissions where submission_id = $submission_id and provider_id = $provider "
        "and file_name = $file_name and received_at = $received_at",
        {**params, **key},
    )
    assert status is not None
    return status[0]


def _store_rows(con: duckdb.DuckDBPyConnection, claim: Claim, period: str, settings: Settings) -> int:
    """Put the report's rows in their file: the validation wrote them beside the claim (moved into place), or,
    for a verdict kept from before it did or a run resumed after the move, they are written from the report
    now. Returns the rows the file holds."""
    target = usage_file(settings, period, claim.received.submission_id)
    if claim.rows_file.exists():
        keep_rows(claim.rows_file, target)
    else:
        write_report_rows(con, claim.received.submission_id, claim.report, target)
    return fetch_first_row(con, "select count(*) from read_parquet($path)", {"path": str(target)})[0]


def _destination(claim: Claim, status: str, verdict: Verdict, settings: Settings) -> Path:
    received = claim.received
    if status == "rejected":
        return settings.quarantine_dir / received.provider_id / received.submission_id
    return settings.archive_dir / received.provider_id / (verdict.report_period or "unknown") / received.submission_id


def _file_away(claim: Claim, verdict: Verdict, status: str, settings: Settings) -> None:
    """Move the claim folder to its final place (idempotent: a resumed run finds it there)."""
    if status == "duplicate":
        shutil.rmtree(claim.folder, ignore_errors=True)
        return
    claim.rows_file.unlink(missing_ok=True)  # rows the validation wrote for a report the load refused
    if status == "rejected":
        write_json(claim.folder / REASON_FILE, verdict.to_json())
    target = _destination(claim, status, verdict, settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    crash_point("file_away.before_move")
    if target.exists():  # the same bytes were filed away by an earlier arrival
        shutil.rmtree(claim.folder)
    else:
        os.rename(claim.folder, target)
    crash_point("file_away.after_move")
