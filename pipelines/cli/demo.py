"""``tokenstats demo``: the main job end to end, through Airflow, on embedded defaults.

Generates three synthetic months if there is nothing to ingest (the last with two realistic faults, so a
rejection shows, and one provider late: its report is held back), then runs the real DAGs with ``airflow dags
test`` on a SQLite metadata database under ``<data>/airflow``: ingest, then publish for every month ingested.
The last month's v1 estimates the late provider and the two refused ones from their previous month (flag ``E``).
Then the refused providers send corrected reports and the late one its report, and the last month is ingested
and published again: its v2 replaces the estimates (revisions and the revision analysis), and every release
carries the series to date. Airflow's own output goes to
``<data>/airflow/demo.log``; the terminal gets progress and where to look.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from pipelines.core.config import REPO_ROOT, WAREHOUSE_POOL, Settings

DEMO_PERIODS = ("2026-08", "2026-09", "2026-10")
DEMO_FAULTS = ("utc_shift", "cents_for_yuan")


def run_demo(
    settings: Settings, periods: Sequence[str] = DEMO_PERIODS, rows: int = 400_000, providers: int = 24
) -> int:
    """The main job through Airflow on SQLite: generate, ingest and publish the demo months; exit code."""
    started = time.monotonic()

    def say(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {message}", flush=True)

    airflow_home = settings.data_dir / "airflow"
    airflow_home.mkdir(parents=True, exist_ok=True)
    log = airflow_home / "demo.log"
    env = build_airflow_environment(settings, airflow_home)

    refused: list[str] = []
    late: dict[Path, Path] = {}  # held back → where it goes when it arrives
    if not any(settings.inbox_dir.glob("*/*")) and not settings.warehouse_file.exists():
        from pipelines.synthetic.generate import generate_month

        for i, period in enumerate(periods):
            faults = list(DEMO_FAULTS) if i == len(periods) - 1 else []
            reports = generate_month(settings.data_dir, period, rows=rows, providers=providers, faults=faults)
            note = f", faults injected: {', '.join(faults)}" if faults else ""
            say(f"generated {period}: {len(reports)} provider reports, {sum(r.rows for r in reports):,} rows{note}")
            refused = [r.provider_id for r in reports if r.fault]
        late = _hold_back(settings, reports[len(reports) // 2].path)  # a mid-sized provider, not a faulty one
        say(f"{next(iter(late)).parent.name} is late with {periods[-1]}: v1 estimates it (flag E)")
    else:
        say(f"using the reports already in {settings.inbox_dir}")

    with log.open("a", encoding="utf-8") as out:
        if not (airflow_home / "airflow.db").exists():
            say("creating the Airflow metadata database (SQLite)")
            _airflow(["db", "migrate"], env, out)
        _airflow(["pools", "set", WAREHOUSE_POOL, "1", "one DuckDB writer at a time"], env, out)

        say("running DAG tokenstats_ingest (claim, validate with Great Expectations, load)")
        if _airflow(["dags", "test", "tokenstats_ingest"], env, out, check=False) != 0:
            say(f"ingest failed: see {log}")
            return 1
        months = _ingested_months(settings)
        say(f"ingested: {_ledger_summary(settings)}")

        say(f"running DAG tokenstats_publish for {', '.join(months)} (marts, disclosure control, formats)")
        conf = json.dumps({"months": months})
        if _airflow(["dags", "test", "tokenstats_publish", "--conf", conf], env, out, check=False) != 0:
            say(f"publish failed: see {log}")
            return 1

        if refused or late:
            resend_corrected(settings, periods[-1], refused, rows=rows, providers=providers)
            for held, target in late.items():
                os.replace(held, target)
            arrived = [*refused, *(p.parent.name for p in late)]
            say(f"{', '.join(arrived)} sent their reports for {periods[-1]}: ingest and publish again (v2)")
            conf = json.dumps({"months": [periods[-1]]})
            for dag, args in (("tokenstats_ingest", []), ("tokenstats_publish", ["--conf", conf])):
                if _airflow(["dags", "test", dag, *args], env, out, check=False) != 0:
                    say(f"{dag} failed: see {log}")
                    return 1

    say("done")
    from pipelines.release.plan import find_latest_release

    for month in months:
        release = find_latest_release(settings, month)
        print(f"  release {month}     {release}")
        if release:
            print(f"    bulletin        {release / 'bulletin.html'}")
    print(f"  quarantine        {settings.quarantine_dir}  (reason.json for each refused report)")
    print(f"  Data Docs (GX)    {settings.docs_dir}/index.html (offline; a page per validation)")
    print(f"  analyst snapshot  {settings.analyst_file}")
    print(f"  Airflow log       {log}")
    print(f"  try: tokenstats status --period {months[-1]}")
    print('       tokenstats query "select * from analyst.about"')
    return 0


def resend_corrected(settings: Settings, period: str, provider_ids: list[str], rows: int, providers: int) -> None:
    """Put a fault-free report of ``period`` for each of ``provider_ids`` into their inbox folders (a correction)."""
    import tempfile

    from pipelines.synthetic.generate import generate_month

    with tempfile.TemporaryDirectory(dir=settings.data_dir) as scratch:
        for report in generate_month(Path(scratch), period, rows=rows, providers=providers):
            if report.provider_id in provider_ids:
                target = settings.inbox_dir / report.provider_id / f"{report.provider_id}_{period}_corrected.parquet"
                os.replace(report.path, target)


def _hold_back(settings: Settings, report: Path) -> dict[Path, Path]:
    """Move a generated report out of the inbox until the provider "sends" it: {held copy: inbox path}."""
    held = settings.data_dir / "late" / report.parent.name / report.name
    held.parent.mkdir(parents=True, exist_ok=True)
    os.replace(report, held)
    return {held: report}


def build_airflow_environment(settings: Settings, airflow_home: Path) -> dict[str, str]:
    """Environment for Airflow on embedded defaults: SQLite under the data directory, our dags folder."""
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            "TOKENSTATS_DATA_DIR": str(settings.data_dir),
            "GX_ANALYTICS_ENABLED": "false",
            "PYTHONWARNINGS": "ignore",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        }
    )
    return env


def _airflow(args: list[str], env: dict[str, str], out, check: bool = True) -> int:
    out.write(f"\n$ airflow {' '.join(args)}\n")
    out.flush()
    code = subprocess.run([sys.executable, "-m", "airflow", *args], env=env, stdout=out, stderr=out).returncode
    if check and code != 0:
        raise RuntimeError(f"`airflow {' '.join(args)}` failed (exit {code}); see {out.name}")
    return code


def _ingested_months(settings: Settings) -> list[str]:
    from pipelines.intake.ledger import read_warehouse

    with read_warehouse(settings) as con:
        rows = con.sql(
            "select distinct report_period from core.submissions where status = 'accepted' order by 1"
        ).fetchall()
    return [r[0] for r in rows]


def _ledger_summary(settings: Settings) -> str:
    from pipelines.intake.ledger import read_warehouse

    with read_warehouse(settings) as con:
        counts = con.sql("select status, count(*) from core.submissions group by all order by all").fetchall()
    return ", ".join(f"{n} {status}" for status, n in counts)
