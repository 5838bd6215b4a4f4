"""Landing: from a provider's inbox folder to the ledger, the warehouse, the archive or the quarantine.

A file moves through three steps, each safe to retry or resume after a crash:

1. ``claim_report``: hash the bytes (the submission id) and move the file out of the inbox into its own
   claim folder ``<data>/landing/<provider>/<received-ns>-<sha256>/`` (an atomic rename);
2. ``validate_claim``: run the validation layers on the claimed file and write ``verdict.json`` beside it
   (no warehouse access, so claims validate in parallel);
3. ``load_claims``: one writer, one transaction per file: check the provider's history, record the
   ledger row and, when accepted, insert the rows and supersede the previous report for that month;
   then move the claim folder to the archive, or to the quarantine with ``reason.json``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import shutil
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipelines.config import Settings
from pipelines.reasons import Received, Verdict, write_json
from pipelines.warehouse import file_lock, load_reference_tables, open_warehouse, run_sql

log = logging.getLogger(__name__)

TEMPORARY = re.compile(r"(^\.|\.(tmp|part|partial|crdownload|filepart)$|~$)", re.IGNORECASE)
CLAIM_FILE = "claim.json"
VERDICT_FILE = "verdict.json"
REASON_FILE = "reason.json"


@dataclass(frozen=True)
class Claim:
    """A received file moved out of the inbox, with what is known about its arrival."""

    folder: Path
    received: Received
    stored_name: str  # the file's name inside the folder (the original, made safe)

    @property
    def report(self) -> Path:
        return self.folder / self.stored_name

    @property
    def verdict_file(self) -> Path:
        return self.folder / VERDICT_FILE

    @property
    def label(self) -> str:
        """``provider/file name``, as operators know the file."""
        return f"{self.received.provider_id}/{self.received.file_name}"


@dataclass
class IngestSummary:
    accepted: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    duplicate: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)  # still being written: left for the next run
    periods: set[str] = field(default_factory=set)  # reference months whose current figures changed


def discover_reports(settings: Settings, now: float | None = None) -> tuple[list[Path], list[Path]]:
    """Complete files in the provider folders of the inbox, and those still being written."""
    now = time.time() if now is None else now
    complete, waiting = [], []
    if not settings.inbox_dir.is_dir():
        return [], []
    for folder in sorted(settings.inbox_dir.iterdir()):
        if not folder.is_dir() or folder.is_symlink() or TEMPORARY.search(folder.name):
            continue
        for entry in sorted(folder.iterdir()):
            if TEMPORARY.search(entry.name):
                waiting.append(entry)
                continue
            try:
                modified = entry.lstat().st_mtime
            except FileNotFoundError:  # claimed by a concurrent run
                continue
            settling = settings.settle_seconds > 0 and now - modified < settings.settle_seconds
            (waiting if settling else complete).append(entry)
    return complete, waiting


def claim_report(path: Path, settings: Settings) -> Claim | None:
    """Move an inbox file into its claim folder; None when another run claimed it first."""
    try:
        info = path.lstat()
        digest = _sha256(path, info)
    except FileNotFoundError:
        return None
    received_at = dt.datetime.fromtimestamp(info.st_mtime_ns / 1e9, dt.UTC)
    received = Received(
        submission_id=digest,
        provider_id=path.parent.name,
        file_name=path.name,
        size_bytes=info.st_size,
        received_at=received_at,
    )
    folder = settings.landing_dir / received.provider_id / f"{info.st_mtime_ns}-{digest}"
    stored_name = _safe_name(path.name)
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / CLAIM_FILE, {**received.to_json(), "stored_name": stored_name})
    try:
        os.rename(path, folder / stored_name)
    except FileNotFoundError:
        return None if not (folder / stored_name).exists() else read_claim(folder)
    return Claim(folder, received, stored_name)


def pending_claims(settings: Settings) -> list[Claim]:
    """Claims not yet loaded (including those a crashed run left), oldest first."""
    claims = []
    if settings.landing_dir.is_dir():
        for folder in sorted(settings.landing_dir.glob("*/*")):
            claim = read_claim(folder)
            if claim is not None:
                claims.append(claim)
    return sorted(claims, key=lambda c: (c.received.received_at, c.received.provider_id, c.received.file_name))


def validate_claim(claim: Claim, settings: Settings) -> Verdict:
    """Validate a claimed file (all layers but history) and keep the verdict beside it."""
    from pipelines.validate import validate_report

    if claim.verdict_file.exists():
        return Verdict.from_json(json.loads(claim.verdict_file.read_text(encoding="utf-8")))
    verdict = validate_report(claim.report, claim.received, settings)
    write_json(claim.verdict_file, verdict.to_json())
    return verdict


def load_claims(claims: list[Claim], settings: Settings, wait_seconds: float | None = None) -> IngestSummary:
    """Record validated claims in the ledger and the warehouse, then file them away. One writer at a time."""
    summary = IngestSummary()
    wait = settings.lock_wait_seconds if wait_seconds is None else wait_seconds
    with open_warehouse(settings, wait) as con:
        load_reference_tables(con, settings)
        for claim in claims:
            verdict = validate_claim(claim, settings)
            status = _record(con, claim, verdict, settings)
            _file_away(claim, verdict, status, settings)
            getattr(summary, status if status != "superseded" else "accepted").append(claim.label)
            if status in ("accepted", "superseded") and verdict.report_period:
                summary.periods.add(verdict.report_period)
    return summary


def claim_inbox(settings: Settings) -> tuple[list[Claim], list[Path]]:
    """Claim every complete inbox file; all claims awaiting load (a crashed run's too), and files still
    being written (left for the next run)."""
    complete, waiting = discover_reports(settings)
    for path in complete:
        claim_report(path, settings)
    return pending_claims(settings), waiting


def ingest_inbox(settings: Settings) -> IngestSummary:
    """The whole landing for the command line: claim, validate and load everything complete.

    One ingest at a time: a second one started meanwhile stops at once with a clear message (the Airflow
    DAG gets the same guarantee from ``max_active_runs=1``)."""
    with file_lock(settings.landing_dir / ".ingest.lock", 0, "ingest"):
        claims, waiting = claim_inbox(settings)
        for claim in claims:
            validate_claim(claim, settings)
        summary = load_claims(claims, settings)
    summary.waiting = [f"{p.parent.name}/{p.name}" for p in waiting]
    return summary


# --- recording -----------------------------------------------------------------------------------------


def _record(con: duckdb.DuckDBPyConnection, claim: Claim, verdict: Verdict, settings: Settings) -> str:
    """One transaction: the ledger row and, when accepted, the rows. Returns the arrival's status."""
    from pipelines.validate import check_history

    received = claim.received
    key = {
        "submission_id": received.submission_id,
        "file_name": received.file_name,
        "received_at": received.received_at,
    }
    recorded = con.execute(
        "select status from core.submissions where submission_id = $submission_id and file_name = $file_name "
        "and received_at = $received_at",
        key,
    ).fetchone()
    if recorded is not None:  # a crash after the commit: only the filing away was left to do
        return recorded[0]
    earlier = con.execute(
        "select status, received_at from core.submissions where submission_id = $id and status <> 'duplicate' "
        "order by received_at limit 1",
        {"id": received.submission_id},
    ).fetchone()
    con.execute("begin")
    try:
        if earlier is not None:
            status = "duplicate"
            reason = f"same bytes as the file received {earlier[1]:%Y-%m-%d %H:%M:%S %Z} ({earlier[0]}); no effect"
        else:
            if verdict.accepted:
                verdict.failures.extend(check_history(con, verdict, settings))
            status = "accepted" if verdict.accepted else "rejected"
            reason = verdict.summary()
        _insert_submission(con, claim, verdict, status, reason, settings)
        if status == "accepted":
            status = _load_rows(con, claim, verdict)
        con.execute("commit")
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
        "ingest/insert_submission",
        submission_id=received.submission_id,
        provider_id=received.provider_id,
        report_period=verdict.report_period,
        file_name=received.file_name,
        size_bytes=received.size_bytes,
        row_count=verdict.row_count,
        received_at=received.received_at,
        status=status,
        reason=reason,
        reason_path=str(_destination(claim, status, verdict, settings) / REASON_FILE) if status == "rejected" else None,
        docs_path=verdict.docs_path,
        stored_path=str(_destination(claim, status, verdict, settings) / claim.stored_name)
        if status != "duplicate"
        else None,
        contract_version=verdict.contract_version,
    )


def _load_rows(con: duckdb.DuckDBPyConnection, claim: Claim, verdict: Verdict) -> str:
    """Insert the accepted rows; the newest received report of a provider and month is the current one."""
    params = {"submission_id": claim.received.submission_id}
    run_sql(con, "ingest/insert_usage", **params, path=str(claim.report))
    loaded = con.execute("select count(*) from core.usage where submission_id = $submission_id", params).fetchone()
    if loaded is None or loaded[0] != verdict.row_count:
        raise RuntimeError(f"loaded {loaded} rows of {claim.report}, expected {verdict.row_count}")
    con.executemany(
        "insert into core.submission_totals values (?, ?, ?, ?, ?)",
        [
            [
                claim.received.submission_id,
                t["modality"],
                t["rows"],
                int(t["total_tokens"]),
                t["settlement_amount"],
            ]
            for t in verdict.totals
        ],
    )
    run_sql(con, "ingest/supersede", provider_id=claim.received.provider_id, report_period=verdict.report_period)
    status = con.execute("select status from core.submissions where submission_id = $submission_id", params)
    return status.fetchone()[0]


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
    if status == "rejected":
        write_json(claim.folder / REASON_FILE, verdict.to_json())
    target = _destination(claim, status, verdict, settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():  # the same bytes were filed away by an earlier arrival
        shutil.rmtree(claim.folder)
    else:
        os.rename(claim.folder, target)


# --- helpers ---------------------------------------------------------------------------------------------


def _sha256(path: Path, info: os.stat_result) -> str:
    digest = hashlib.sha256()
    if stat.S_ISLNK(info.st_mode):  # never follow a link: hash what it points to, as text
        digest.update(b"symlink:" + os.fsencode(os.readlink(path)))
    elif stat.S_ISREG(info.st_mode):
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    else:
        digest.update(f"special:{info.st_mode}:{info.st_ino}".encode())
    return digest.hexdigest()


def _safe_name(name: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".")[:120]
    return safe or "report"


def read_claim(folder: Path) -> Claim | None:
    try:
        data = json.loads((folder / CLAIM_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
        return None
    claim = Claim(folder=folder, received=Received.from_json(data), stored_name=data["stored_name"])
    return claim if os.path.lexists(claim.report) else None
