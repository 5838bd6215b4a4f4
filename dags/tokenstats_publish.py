"""
### TokenStats publish

Writes the statistical release of a reference month to `<data>/published/<YYYY-MM>/v<N>/`.

**When.** On the 5th of each month at 06:00 UTC for the previous month (the run's logical date is the first
day of the reference month, so `airflow backfill create` replays past months); and whenever ingest changes
the current figures of a month (the `tokenstats_warehouse` asset; the months come with the event), which
writes a revision release. A manual run takes `{"months": ["2026-10"]}` in its conf; `force` writes a new
version even when the inputs are unchanged.

**Stages**, per month: coverage (who reported; is a release due? if the inputs are those of the latest
release, nothing more runs), marts, disclosure control, exports (CSV, Parquet, XLSX, SDMX), bulletin,
release (manifest, then an atomic rename: a release is never visible half-written), analyst snapshot.
Tasks that touch the warehouse share the one-slot pool `tokenstats_warehouse` with ingest's load.
"""

from __future__ import annotations

import datetime as dt
import os

from airflow.sdk import Asset, AssetOrTimeSchedule, CronTriggerTimetable, Param, dag, get_current_context, task
from airflow.sdk import task_group as group
from dateutil.relativedelta import relativedelta

from pipelines.config import WAREHOUSE_ASSET, WAREHOUSE_ASSET_URI, WAREHOUSE_POOL

WAREHOUSE = Asset(name=WAREHOUSE_ASSET, uri=WAREHOUSE_ASSET_URI)
RETRY_DELAY = dt.timedelta(seconds=float(os.environ.get("TOKENSTATS_RETRY_DELAY_SECONDS", "60")))
# Runs on the 5th at 06:00 UTC; logical date = run time - interval = 1st of the previous month, 00:00.
MONTHLY_ON_THE_5TH = CronTriggerTimetable(
    "0 6 5 * *", timezone="UTC", interval=relativedelta(months=1, days=4, hours=6)
)


@dag(
    dag_id="tokenstats_publish",
    schedule=AssetOrTimeSchedule(timetable=MONTHLY_ON_THE_5TH, assets=[WAREHOUSE]),
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": RETRY_DELAY},
    params={
        "months": Param(None, type=["null", "array"], items={"type": "string"}, description="YYYY-MM months"),
        "force": Param(False, type="boolean", description="write a new version even if inputs are unchanged"),
    },
    tags=["tokenstats", "publish"],
    doc_md=__doc__,
)
def tokenstats_publish():
    @task
    def reference_months() -> list[str]:
        from airflow.sdk.exceptions import AirflowFailException

        context = get_current_context()
        if context["params"].get("months"):
            return sorted(set(context["params"]["months"]))
        events = context.get("triggering_asset_events")
        if events:  # several ingest runs may be batched into one publish run: take every month they changed
            return sorted({month for event in events[WAREHOUSE] for month in event.extra.get("periods", [])})
        logical_date = context.get("logical_date")
        if logical_date is None:
            raise AirflowFailException('a manual run needs a logical date or conf {"months": ["YYYY-MM"]}')
        return [f"{logical_date:%Y-%m}"]

    @group
    def release(month: str) -> None:
        @task(pool=WAREHOUSE_POOL, map_index_template="{{ month }}")
        def coverage(month: str) -> dict:
            from airflow.sdk.exceptions import AirflowSkipException

            from pipelines.config import load_settings
            from pipelines.publish import plan_release
            from pipelines.warehouse import open_warehouse

            get_current_context()["month"] = month
            settings = load_settings()
            with open_warehouse(settings, settings.lock_wait_seconds) as con:
                plan = plan_release(con, month, settings, force=get_current_context()["params"]["force"])
            if plan is None:
                raise AirflowSkipException(f"{month}: inputs unchanged since the latest release")
            print(f"{month}: v{plan.info.version} ({plan.info.status}); coverage {plan.coverage}")
            return plan.to_json()

        @task(pool=WAREHOUSE_POOL)
        def marts(plan: dict) -> dict:
            from pipelines.config import load_settings
            from pipelines.publish import ReleasePlan, build_month_cells
            from pipelines.warehouse import open_warehouse

            settings = load_settings()
            period = ReleasePlan.from_json(plan).info.period
            with open_warehouse(settings, settings.lock_wait_seconds) as con:
                print(f"{period}: {build_month_cells(con, period):,} cells")
            return plan

        @task(pool=WAREHOUSE_POOL)
        def disclosure(plan: dict) -> dict:
            from pipelines.config import load_settings
            from pipelines.publish import ReleasePlan, protect_month
            from pipelines.warehouse import open_warehouse

            settings = load_settings()
            period = ReleasePlan.from_json(plan).info.period
            with open_warehouse(settings, settings.lock_wait_seconds) as con:
                print(f"{period}: cells by confidentiality flag {protect_month(con, period, settings)}")
            return plan

        @task(pool=WAREHOUSE_POOL)
        def exports(plan: dict) -> dict:
            from pipelines.config import load_settings
            from pipelines.publish import ReleasePlan, export_release
            from pipelines.warehouse import open_warehouse

            settings = load_settings()
            with open_warehouse(settings, settings.lock_wait_seconds) as con:
                export_release(con, ReleasePlan.from_json(plan), settings)
            return plan

        @task
        def bulletin(plan: dict) -> dict:
            from pipelines.publish import ReleasePlan, write_release_bulletin

            write_release_bulletin(ReleasePlan.from_json(plan))
            return plan

        @task
        def finalize(plan: dict) -> str:
            from pipelines.publish import ReleasePlan, finalize_release

            folder = finalize_release(ReleasePlan.from_json(plan), dt.datetime.now(dt.UTC))
            print(f"released {folder}")
            return str(folder)

        @task(pool=WAREHOUSE_POOL)
        def snapshot(release_folder: str) -> str:
            from pipelines.config import load_settings
            from pipelines.snapshot import refresh_snapshot
            from pipelines.warehouse import open_warehouse

            settings = load_settings()
            with open_warehouse(settings, settings.lock_wait_seconds) as con:
                return str(refresh_snapshot(con, settings))

        snapshot(finalize(bulletin(exports(disclosure(marts(coverage(month)))))))

    release.expand(month=reference_months())


tokenstats_publish_dag = tokenstats_publish()
