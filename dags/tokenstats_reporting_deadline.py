"""
### TokenStats reporting deadline

Every day at 08:00 UTC, from day `TOKENSTATS_REPORTING_DEADLINE_DAY` (default 3) of the month onwards: has every
registered provider an accepted report for the previous month? If not, the run **fails**, naming the providers
that are missing or only sent rejected files: the alert goes wherever the site sends task failures
(`on_failure_callback`, e-mail or a notifier). It fails again each day until they have reported. Before the
deadline day the check is skipped. Read-only: it never waits on, nor blocks, the warehouse's writer for long.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import CronTriggerTimetable, dag, get_current_context, task


@dag(
    dag_id="tokenstats_reporting_deadline",
    schedule=CronTriggerTimetable("0 8 * * *", timezone="UTC"),
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": dt.timedelta(minutes=5)},
    tags=["tokenstats", "monitoring"],
    doc_md=__doc__,
)
def tokenstats_reporting_deadline():
    @task
    def providers_reported() -> str:
        from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

        from pipelines.core.config import load_settings
        from pipelines.core.periods import previous_period
        from pipelines.intake.ledger import list_overdue_providers, read_period_status, read_warehouse

        settings = load_settings()
        today = get_current_context()["logical_date"]
        period = previous_period(f"{today:%Y-%m}")
        if today.day < settings.reporting_deadline_day:
            raise AirflowSkipException(f"{period} is due by day {settings.reporting_deadline_day}")
        with read_warehouse(settings) as con:
            overdue = list_overdue_providers(read_period_status(con, period))
        if overdue:
            raise AirflowFailException(
                f"{period}: {len(overdue)} registered providers without an accepted report by day "
                f"{settings.reporting_deadline_day}: {', '.join(overdue)} (tokenstats status --period {period})"
            )
        return f"{period}: every registered provider has reported"

    providers_reported()


tokenstats_reporting_deadline_dag = tokenstats_reporting_deadline()
