"""
### TokenStats ingest

Lands providers' monthly usage reports from `<data>/inbox/<provider>/`, every 15 minutes.

1. **discover** claims every complete file (hash = submission id; moved out of the inbox) and lists all
   claims awaiting load, including any a failed run left behind;
2. **validate**, one mapped task per file (labelled `provider/file`; queue `validate`: any worker), runs the
   structure checks and the Great Expectations suite; a bad report is an outcome, not a failure of the task;
3. **load** (pool `tokenstats_warehouse`, one slot: DuckDB has one writer; queue `warehouse`: the one worker on
   the warehouse's host) records each file in the ledger and loads accepted rows in one transaction per file,
   then archives or quarantines it with `reason.json`.
   When a month's current figures changed, it updates the `tokenstats_warehouse` asset, with the months in
   the event's extra; that triggers the publish DAG.

Every task can be retried or re-run: claims are named by content, verdicts are kept beside them, and the
ledger refuses to record a file twice.
"""

from __future__ import annotations

import datetime as dt
import os

from airflow.sdk import Asset, dag, get_current_context, task

from pipelines.core.config import VALIDATE_QUEUE, WAREHOUSE_ASSET, WAREHOUSE_ASSET_URI, WAREHOUSE_POOL, WAREHOUSE_QUEUE

WAREHOUSE = Asset(name=WAREHOUSE_ASSET, uri=WAREHOUSE_ASSET_URI)
RETRY_DELAY = dt.timedelta(seconds=float(os.environ.get("TOKENSTATS_RETRY_DELAY_SECONDS", "60")))


@dag(
    dag_id="tokenstats_ingest",
    schedule="*/15 * * * *",
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": RETRY_DELAY},
    tags=["tokenstats", "ingest"],
    doc_md=__doc__,
)
def tokenstats_ingest():
    @task
    def discover() -> list[str]:
        from pipelines.core.config import load_settings
        from pipelines.intake.ingest import claim_inbox

        claims, waiting = claim_inbox(load_settings())
        if waiting:
            print(f"{len(waiting)} files still being written, left for the next run")
        return [str(claim.folder) for claim in claims]

    @task(queue=VALIDATE_QUEUE, map_index_template="{{ label }}", multiple_outputs=False)
    def validate(claim_folder: str) -> str:
        from pathlib import Path

        from pipelines.core.config import load_settings
        from pipelines.intake.claim import read_claim
        from pipelines.intake.verify import validate_claim

        claim = read_claim(Path(claim_folder))
        if claim is None:  # loaded by an earlier attempt of this run
            return claim_folder
        get_current_context()["label"] = claim.label
        verdict = validate_claim(claim, load_settings())
        print(f"{claim.label}: {verdict.summary()}")
        return claim_folder

    @task(pool=WAREHOUSE_POOL, queue=WAREHOUSE_QUEUE, outlets=[WAREHOUSE], multiple_outputs=False)
    def load(claim_folders: list[str]) -> dict[str, int]:
        from pathlib import Path

        from airflow.sdk.exceptions import AirflowSkipException

        from pipelines.core.config import load_settings
        from pipelines.intake.claim import read_claim
        from pipelines.intake.load import load_claims

        claims = [c for c in (read_claim(Path(f)) for f in claim_folders[:]) if c is not None]
        summary = load_claims(claims, load_settings())
        counts = {
            "accepted": len(summary.accepted),
            "rejected": len(summary.rejected),
            "duplicate": len(summary.duplicate),
        }
        print(f"{counts}; current figures changed for {sorted(summary.periods) or 'no month'}")
        if not summary.periods:  # nothing for the publish DAG to do: no asset event
            raise AirflowSkipException("no month's current figures changed")
        get_current_context()["outlet_events"][WAREHOUSE].extra = {"periods": sorted(summary.periods)}
        return counts

    load(validate.expand(claim_folder=discover()))


tokenstats_ingest_dag = tokenstats_ingest()
