"""Landing: from a provider's inbox folder to the ledger, the warehouse, the archive or the quarantine.

A file moves through three steps, each safe to retry or resume after a crash:

1. ``claim_report``: hash the bytes (the submission id), take the next receipt number and move the file out
   of the inbox into its own claim folder ``<data>/landing/<provider>/<mtime-ns>-<sha256>-<name>/`` (an atomic
   rename);
2. ``validate_claim``: run the validation layers on the claimed file and write ``verdict.json`` beside it
   (no warehouse access, so claims validate in parallel);
3. ``load_claims``: one writer, one transaction per file: check the provider's history, record the
   ledger row and, when accepted, insert the rows and supersede the previous report for that month;
   then move the claim folder to the archive, or to the quarantine with ``reason.json``.

Receipt order belongs to the bureau: the receipt number (``receipt_seq``), taken at claim from a counter the
bureau keeps, orders arrivals (which report supersedes which, which is the latest). The file's modification
time, which the sender controls (``scp -p``, ``rsync -t``, a clock in the future), is kept as information only
(``received_at``). The number is the bureau's clock in nanoseconds, made strictly increasing by the counter
file: it stays monotonic even if the counter is lost. A crash between taking a number and the claim leaves a
gap, never a repeat.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import multiprocessing
import os
import re
import shutil
import stat
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from pipelines.contract.reasons import Received, Verdict, write_json
from pipelines.contract.reference import load_reference_tables
from pipelines.core.config import Settings
from pipelines.core.database import (
    file_lock,
    first_row,
    open_warehouse,
    restrict_data_folders,
    run_sql,
)
from pipelines.core.failpoints import crash_point
from pipelines.core.lifeline import die_with_fork_server, tie_fork_server_to, untie_fork_server
from pipelines.validation.datadocs import build_index

if TYPE_CHECKING:
    from pipelines.core.progress import Progress

log = logging.getLogger(__name__)

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
TEMPORARY = re.compile(r"(^\.|\.(tmp|part|partial|crdownload|filepart)$|~$)", re.IGNORECASE)
CLAIM_FILE = "claim.json"
RECEIPT_COUNTER = ".receipt_seq"
VERDICT_FILE = "verdict.json"
REASON_FILE = "reason.json"


@dataclass(frozen=True)
class Claim:
    """A received file moved out of the inbox, with what is known about its arrival."""

    folder: Path
    received: Received
    stored_name: str  # the file's name inside the folder (the original, made safe)
    receipt_seq: int  # the bureau's receipt order (module docstring)

    @property
    def report(self) -> Path:
        return self.folder / self.stored_name

    @property
    def verdict_file(self) -> Path:
        return self.folder / VERDICT_FILE

    @property
    def label(self) -> str:
        """``provider/file name``, as operators know the file (control characters escaped: a name cannot
        forge a line of the ingest summary)."""
        return printable_label(self.received.provider_id, self.received.file_name)


@dataclass
class IngestSummary:
    accepted: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    duplicate: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)  # still being written: left for the next run
    periods: set[str] = field(default_factory=set)  # reference months whose current figures changed


def discover_reports(settings: Settings, now: float | None = None) -> tuple[list[Path], list[Path]]:
    """Complete files in the provider folders of the inbox, and those still being written.

    Complete files come in the order their senders wrote them (modification time, then name): files found in
    one scan arrived together, and that is the only evidence of which corrects which. Across scans, the
    bureau's receipt number decides (module docstring)."""
    now = time.time() if now is None else now
    complete: list[tuple[int, Path]] = []
    waiting: list[Path] = []
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
                modified = entry.lstat().st_mtime_ns
            except FileNotFoundError:  # claimed by a concurrent run
                continue
            if settings.settle_seconds > 0 and now - modified / 1e9 < settings.settle_seconds:
                waiting.append(entry)
            else:
                complete.append((modified, entry))
    return [entry for _, entry in sorted(complete)], waiting


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
    # The name is part of the folder: two names for the same bytes and time are two arrivals, not one folder
    # in which the second claim.json silently replaces the first (hostile-report tests).
    name_key = hashlib.sha256(os.fsencode(path.name)).hexdigest()[:12]
    folder = settings.landing_dir / received.provider_id / f"{info.st_mtime_ns}-{digest}-{name_key}"
    stored_name = _safe_name(path.name)
    folder.mkdir(parents=True, exist_ok=True)
    receipt_seq = next_receipt(settings)
    write_json(folder / CLAIM_FILE, {**received.to_json(), "stored_name": stored_name, "receipt_seq": receipt_seq})
    crash_point("claim.before_rename")
    try:
        os.rename(path, folder / stored_name)
    except FileNotFoundError:
        return None if not (folder / stored_name).exists() else read_claim(folder)
    crash_point("claim.after_rename")
    return Claim(folder, received, stored_name, receipt_seq)


def next_receipt(settings: Settings) -> int:
    """The next receipt number: the bureau's clock in nanoseconds, strictly above every number given before."""
    counter = settings.landing_dir / RECEIPT_COUNTER
    with file_lock(counter.with_suffix(".lock"), 60, "the receipt counter"):
        try:
            last = int(counter.read_text(encoding="ascii"))
        except (FileNotFoundError, ValueError):
            last = 0
        number = max(time.time_ns(), last + 1)
        tmp = counter.with_name(f"{counter.name}.tmp")
        with tmp.open("w", encoding="ascii") as f:
            f.write(str(number))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, counter)
    return number


def pending_claims(settings: Settings) -> list[Claim]:
    """Claims not yet loaded (including those a crashed run left), in receipt order."""
    claims = []
    if settings.landing_dir.is_dir():
        for folder in sorted(settings.landing_dir.glob("*/*")):
            claim = read_claim(folder)
            if claim is not None:
                claims.append(claim)
    return sorted(claims, key=lambda c: c.receipt_seq)


def validate_claim(claim: Claim, settings: Settings) -> Verdict:
    """Validate a claimed file (all layers but history) and keep the verdict beside it."""
    from pipelines.validation.validate import validate_report

    if claim.verdict_file.exists():
        return Verdict.from_json(json.loads(claim.verdict_file.read_text(encoding="utf-8")))
    verdict = validate_report(claim.report, claim.received, settings)
    crash_point("validate.before_verdict")
    write_json(claim.verdict_file, verdict.to_json())
    crash_point("validate.after_verdict")
    return verdict


def validate_claims(
    claims: list[Claim], settings: Settings, on_done: Callable[[Claim, Verdict], None] | None = None
) -> list[Verdict]:
    """Validate many claims, in ``settings.validate_workers`` processes: each file's checks are independent,
    and GX's fixed cost per validation (context, metrics, Data Docs) is Python work that one core does alone.
    ``on_done`` hears of each file as it finishes (progress display)."""
    on_done = on_done or (lambda claim, verdict: None)
    todo = [claim for claim in claims if not claim.verdict_file.exists()]  # a rerun keeps earlier verdicts
    workers = min(settings.validate_workers or os.cpu_count() or 1, len(todo))
    if workers <= 1:
        verdicts = []
        for claim in claims:
            verdicts.append(validate_claim(claim, settings))
            on_done(claim, verdicts[-1])
        return verdicts
    # A fork server that has imported GX once forks light workers (plain fork is unsafe with DuckDB's threads).
    context = multiprocessing.get_context("forkserver")
    # The fork server and its workers die with this process, SIGKILL included (lifeline.py).
    tie_fork_server_to(os.getpid())
    preload = [
        "pipelines.core.lifeline",
        "great_expectations",
        "pipelines.validation.validate",
        "pipelines.validation.expectations",
    ]
    context.set_forkserver_preload(preload)
    try:
        with ProcessPoolExecutor(workers, mp_context=context, initializer=die_with_fork_server) as pool:
            futures = {pool.submit(validate_claim, claim, settings): claim for claim in claims}
            for future in as_completed(futures):
                on_done(futures[future], future.result())
            return [future.result() for future in futures]
    finally:
        untie_fork_server()


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


def claim_inbox(settings: Settings) -> tuple[list[Claim], list[Path]]:
    """Claim every complete inbox file; all claims awaiting load (a crashed run's too), and files still
    being written (left for the next run)."""
    restrict_data_folders(settings)
    complete, waiting = discover_reports(settings)
    for path in complete:
        claim_report(path, settings)
    return pending_claims(settings), waiting


def ingest_inbox(settings: Settings, progress: Progress | None = None) -> IngestSummary:
    """The whole landing for the command line: claim, validate and load everything complete.

    One ingest at a time: a second one started meanwhile stops at once with a clear message (the Airflow
    DAG gets the same guarantee from ``max_active_runs=1``)."""
    from pipelines.core.progress import NO_PROGRESS, footer_rows

    progress = progress or NO_PROGRESS

    def done(claim: Claim, verdict: Verdict, status: str | None = None) -> None:
        progress.done(claim.label, verdict.row_count or 0, status or verdict.summary())

    with file_lock(settings.landing_dir / ".ingest.lock", 0, "ingest"):
        claims, waiting = claim_inbox(settings)
        progress.phase("validate", len(claims), sum(footer_rows(claim.report) for claim in claims))
        verdicts = validate_claims(claims, settings, done)
        progress.phase("load", len(claims), sum(v.row_count or 0 for v in verdicts))
        summary = load_claims(claims, settings, on_done=done)
    summary.waiting = [printable_label(p.parent.name, p.name) for p in waiting]
    return summary


# --- recording -----------------------------------------------------------------------------------------


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
    recorded = first_row(
        con,
        "select status from core.submissions where submission_id = $submission_id and file_name = $file_name "
        "and received_at = $received_at and provider_id = $provider_id",
        key,
    )
    if recorded is not None:  # a crash after the commit: only the filing away was left to do
        return recorded[0]
    # Duplicates are per provider: the same bytes in another provider's folder are that provider's (invalid)
    # report, and must not learn when and how the first provider's file was received (isolation tests).
    earlier = first_row(
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
                late = check_history(con, verdict, settings) or check_month_bound(con, verdict, claim.report)
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
            status = _load_rows(con, claim, verdict)
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


def _load_rows(con: duckdb.DuckDBPyConnection, claim: Claim, verdict: Verdict) -> str:
    """Insert the accepted rows; the last report received of a provider and month is the current one."""
    params = {"submission_id": claim.received.submission_id}
    inserted = run_sql(con, "intake/insert_usage", **params, path=str(claim.report)).fetchall()[0][0]
    crash_point("load.after_rows_insert")
    if inserted != verdict.row_count:  # the file changed since it was validated: refuse to half-trust it
        raise RuntimeError(f"loaded {inserted} rows of {claim.report}, expected {verdict.row_count}")
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
    run_sql(con, "intake/supersede", provider_id=claim.received.provider_id, report_period=verdict.report_period)
    received = claim.received  # this arrival's ledger row (the same bytes may have arrived in another folder)
    key = {"provider": received.provider_id, "file_name": received.file_name, "received_at": received.received_at}
    status = first_row(
        con,
        "select status from core.submissions where submission_id = $submission_id and provider_id = $provider "
        "and file_name = $file_name and received_at = $received_at",
        {**params, **key},
    )
    assert status is not None
    return status[0]


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
    crash_point("file_away.before_move")
    if target.exists():  # the same bytes were filed away by an earlier arrival
        shutil.rmtree(claim.folder)
    else:
        os.rename(claim.folder, target)
    crash_point("file_away.after_move")


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


def printable_label(provider: str, file_name: str) -> str:
    """``provider/file`` for logs and summaries, with control characters (newlines, escapes) made visible."""
    return printable(f"{provider}/{file_name}")


def printable(text: str) -> str:
    """Text from outside (file and folder names, reasons) made safe to print on one line of an operator's
    terminal: control, line-breaking and bidirectional characters escaped."""
    return CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode(), text)


def _safe_name(name: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".")[:120]
    return safe or "report"


def read_claim(folder: Path) -> Claim | None:
    try:
        data = json.loads((folder / CLAIM_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
        return None
    # A claim from before receipt numbers: its modification time in nanoseconds (what ordered it then).
    receipt_seq = data.get("receipt_seq") or int(Received.from_json(data).received_at.timestamp() * 1e9)
    claim = Claim(folder, Received.from_json(data), data["stored_name"], receipt_seq)
    return claim if os.path.lexists(claim.report) else None
