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

See ``claim``, ``verify`` and ``load``; this module runs them in turn for the command line.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.contract.reasons import Verdict
from pipelines.core.config import Settings
from pipelines.core.database import lock_file, restrict_data_folders
from pipelines.intake.claim import Claim, claim_report, discover_reports, format_arrival_label, pending_claims
from pipelines.intake.load import IngestSummary, load_claims
from pipelines.intake.verify import validate_claims

if TYPE_CHECKING:
    from pipelines.core.progress import Progress


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
    from pipelines.core.progress import NO_PROGRESS, count_footer_rows

    progress = progress or NO_PROGRESS

    def done(claim: Claim, verdict: Verdict, status: str | None = None) -> None:
        progress.done(claim.label, verdict.row_count or 0, status or verdict.summary())

    with lock_file(settings.landing_dir / ".ingest.lock", 0, "ingest"):
        claims, waiting = claim_inbox(settings)
        progress.phase("validate", len(claims), sum(count_footer_rows(claim.report) for claim in claims))
        verdicts = validate_claims(claims, settings, done)
        progress.phase("load", len(claims), sum(v.row_count or 0 for v in verdicts))
        summary = load_claims(claims, settings, on_done=done)
    summary.waiting = [format_arrival_label(p.parent.name, p.name) for p in waiting]
    return summary
