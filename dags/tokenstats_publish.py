"""
### TokenStats publish

Writes the statistical release of a reference month to `<data>/published/<YYYY-MM>/v<N>/`.

**When.** On the 5th of each month at 06:00 UTC for the previous month (the run's logical date is the first
day of the reference month, so `airflow backfill create` replays past months); and whenever ingest changes
the current figures of a month (the `tokenstats_warehouse` asset; the months come with the event), which
writes a revision release. A manual run takes `{"months": ["2026-10"]}` in its conf; `force` writes a new
version even when the inputs are unchanged.

**Stages**, each over the run's months, oldest first (a month's change on the previous month is measured
against the previous month's new release when both are in the run): coverage (who reported; which months
need a release? if a month's inputs are those of its latest release, nothing more runs for it; every later
published month a revised month changes, through its change on the month, series and chained price index, is
added to the run and logged as carried along), marts,
disclosure control, exports (CSV, Parquet, XLSX, SDMX); then, one mapped task per release labelled by it
("2026-10 v1"), bulletin and finalize (manifest, then an atomic rename: a release is never visible
half-written); then the analyst snapshot. Tasks that touch the warehouse share
the one-slot pool `tokenstats_warehouse` with ingest's load, and its queue `warehouse` (one worker owns the file).

**Unpausing** creates a run for the latest past 5th at once; if that month has no accepted report yet, the
run's coverage task is skipped (nothing to publish), not failed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os

from airflow.sdk import Asset, AssetOrTimeSchedule, CronTriggerTimetable, Param, dag, get_current_context, task
from dateutil.relativedelta import relativedelta

from pipelines.core.config import WAREHOUSE_ASSET, WAREHOUSE_ASSET_URI, WAREHOUSE_POOL, WAREHOUSE_QUEUE

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

    @task(pool=WAREHOUSE_POOL, queue=WAREHOUSE_QUEUE)
    def coverage(months: list[str]) -> list[dict]:
        from airflow.sdk.exceptions import AirflowSkipException

        from pipelines.core.config import UsageError
        from pipelines.release.plan import plan_releases

        force = get_current_context()["params"]["force"]
        try:
            with _warehouse() as (con, settings):
                plans = plan_releases(con, months, settings, force)
        except UsageError as error:  # e.g. the month has no accepted report yet: nothing to publish
            raise AirflowSkipException(str(error)) from None
        if not plans:
            raise AirflowSkipException(f"{', '.join(months)}: inputs unchanged since the latest releases")
        for plan in plans:
            carried = "" if plan.info.period in months else "; carried along: it rests on the revised months"
            print(f"{plan.info.period}: v{plan.info.version} ({plan.info.status}); coverage {plan.coverage}{carried}")
        return [plan.to_json() for plan in plans]

    @task(pool=WAREHOUSE_POOL, queue=WAREHOUSE_QUEUE)
    def marts(plans: list[dict]) -> list[dict]:
        from pipelines.release.publish import build_month_cells

        with _warehouse() as (con, _):
            for period in _periods(plans):
                print(f"{period}: {build_month_cells(con, period):,} cells")
        return plans

    @task(pool=WAREHOUSE_POOL, queue=WAREHOUSE_QUEUE)
    def disclosure(plans: list[dict]) -> list[dict]:
        from pipelines.release.publish import protect_month

        with _warehouse() as (con, settings):
            for period in _periods(plans):
                print(f"{period}: cells by confidentiality flag {protect_month(con, period, settings)}")
        return plans

    @task(pool=WAREHOUSE_POOL, queue=WAREHOUSE_QUEUE)
    def exports(plans: list[dict]) -> list[dict]:
        from pipelines.release.plan import ReleasePlan
        from pipelines.release.publish import export_release

        with _warehouse() as (con, settings):
            for plan in plans:  # oldest first: a month's change is measured on the previous month's tables
                export_release(con, ReleasePlan.from_json(plan), settings)
        return plans

    # One mapped task per release from here on, labelled by it ("2026-09 v1"): whatever the run's dates (a
    # backfill names run dates), the grid shows which month each release is.
    @task(map_index_template="{{ release }}")
    def bulletin(plan: dict) -> dict:
        from pipelines.release.plan import ReleasePlan
        from pipelines.release.publish import write_release_bulletin

        get_current_context()["release"] = _label(plan)
        write_release_bulletin(ReleasePlan.from_json(plan))
        return plan

    @task(map_index_template="{{ release }}")
    def finalize(plan: dict) -> str:
        from pipelines.release.plan import ReleasePlan
        from pipelines.release.publish import finalize_release

        get_current_context()["release"] = _label(plan)
        folder = finalize_release(ReleasePlan.from_json(plan), dt.datetime.now(dt.UTC))
        print(f"released {folder}")
        return str(folder)

    @task(pool=WAREHOUSE_POOL, queue=WAREHOUSE_QUEUE)
    def snapshot(releases: list[str]) -> str:  # after every release of the run
        from pipelines.release.snapshot import refresh_snapshot

        with _warehouse() as (con, settings):
            return str(refresh_snapshot(con, settings))

    snapshot(finalize.expand(plan=bulletin.expand(plan=exports(disclosure(marts(coverage(reference_months())))))))


@contextlib.contextmanager
def _warehouse():
    """The warehouse open for writing (waiting for another writer), and the settings."""
    from pipelines.core.config import load_settings
    from pipelines.core.database import open_warehouse

    settings = load_settings()
    with open_warehouse(settings, settings.lock_wait_seconds) as con:
        yield con, settings


def _periods(plans: list[dict]) -> list[str]:
    return [plan["info"]["period"] for plan in plans]


def _label(plan: dict) -> str:
    """A release as the grid labels its tasks: "2026-09 v1"."""
    return f"{plan['info']['period']} v{plan['info']['version']}"


tokenstats_publish_dag = tokenstats_publish()
