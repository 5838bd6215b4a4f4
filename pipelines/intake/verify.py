"""Validating claims: the validation layers run on each claimed file, ``verdict.json`` kept beside it (no
warehouse access, so claims validate in parallel, in processes that die with the ingest however it ends)."""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed

from pipelines.contract.reasons import Verdict, write_json
from pipelines.core.config import Settings
from pipelines.core.failpoints import crash_point
from pipelines.core.lifeline import die_with_fork_server, tie_fork_server_to, untie_fork_server
from pipelines.intake.claim import Claim


def validate_claim(claim: Claim, settings: Settings) -> Verdict:
    """Validate a claimed file (all layers but history) and keep the verdict beside it."""
    from pipelines.validation.validate import validate_report

    if claim.verdict_file.exists():
        kept = Verdict.from_json(json.loads(claim.verdict_file.read_text(encoding="utf-8")))
        if kept.has_count_totals():  # else kept by a version before the load needed them: validated again
            return kept
    verdict = validate_report(claim.report, claim.received, settings, rows_to=claim.rows_file)
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
