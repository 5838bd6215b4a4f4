"""The Airflow DAGs: they parse cheaply and as designed, and ``dag.test()`` runs them end to end on a fresh SQLite
metadata DB: a bad file is an outcome, not a failure; a busy warehouse fails a try and the retry succeeds; a broken
registry fails the run, and the next run recovers every file.

Every Airflow command runs in a subprocess (``airflow dags test``) with the test's own AIRFLOW_HOME
(``airflow_env.py``); pytest's process never imports Airflow, so tests cannot leak configuration into each other.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import time
from pathlib import Path

import duckdb
import pytest

from pipelines.core.config import VALIDATE_QUEUE, WAREHOUSE_ASSET, WAREHOUSE_POOL, WAREHOUSE_QUEUE
from pipelines.core.database import lock_writer
from pipelines.synthetic.generate import generate_month
from tests.confidentiality import assert_release_is_safe
from tests.integration.airflow_env import DAG_IDS, DAGS_FOLDER, AirflowEnv, prepare_airflow, tail

pytestmark = pytest.mark.integration

MONTH = "2026-10"
HEAVY_MODULES = ("duckdb", "polars", "pyarrow", "great_expectations", "pandas")
# Tasks of the publish DAG that open the warehouse (DuckDB has one writer: they share the one-slot pool).
WAREHOUSE_TASKS = {"coverage", "marts", "disclosure", "exports", "snapshot"}

# Parses the dags folder as the dag-processor does, and reports what the tests check, as JSON.
DAGBAG_PROBE = """
import json, sys, time
started = time.perf_counter()
from airflow.dag_processing.dagbag import DagBag
imported = time.perf_counter()
bag = DagBag()
parsed = time.perf_counter()
HEAVY = {heavy!r}
report = {{
    "import_errors": {{str(k): v for k, v in bag.import_errors.items()}},
    "airflow_import_seconds": imported - started,
    "dagbag_seconds": parsed - imported,
    "file_seconds": {{s.file: s.duration.total_seconds() for s in bag.dagbag_stats}},
    "heavy_modules": sorted(m for m in sys.modules if m.split(".")[0] in HEAVY),
    "dags": {{}},
}}
for dag in bag.dags.values():
    timetable = dag.timetable
    report["dags"][dag.dag_id] = {{
        "timetable": type(timetable).__name__,
        "expression": getattr(timetable, "_expression", None) or getattr(timetable, "expression", None),
        "inner_timetable": type(getattr(timetable, "timetable", None)).__name__,
        "inner_expression": getattr(getattr(timetable, "timetable", None), "expression", None),
        "inner_interval": repr(getattr(getattr(timetable, "timetable", None), "interval", None)),
        "assets": sorted(a.name for a in getattr(getattr(timetable, "asset_condition", None), "objects", [])),
        "max_active_runs": dag.max_active_runs,
        "catchup": dag.catchup,
        "doc_md": bool(dag.doc_md and dag.doc_md.strip()),
        "tags": sorted(dag.tags),
        "tasks": {{
            t.task_id.split(".")[-1]: {{"pool": t.pool, "queue": t.queue, "retries": t.retries}} for t in dag.tasks
        }},
        "outlets": sorted(a.name for t in dag.tasks for a in t.outlets),
    }}
print("PROBE" + json.dumps(report))
"""

# The DAG files imported as plain modules, as ``python dags/<file>.py`` would: no heavy import at parse time.
IMPORT_PROBE = """
import json, sys, time
sys.path.insert(0, "dags")
started = time.perf_counter()
import airflow.sdk
sdk = time.perf_counter()
import tokenstats_ingest, tokenstats_publish, tokenstats_reporting_deadline
done = time.perf_counter()
HEAVY = {heavy!r}
print("PROBE" + json.dumps({{
    "heavy_modules": sorted(m for m in sys.modules if m.split(".")[0] in HEAVY),
    "airflow_sdk_seconds": sdk - started,
    "dag_modules_seconds": done - sdk,
}}))
"""


def _probe(airflow: AirflowEnv, code: str) -> dict:
    done = airflow.python(code.format(heavy=HEAVY_MODULES))
    line = next(line for line in done.stdout.splitlines() if line.startswith("PROBE"))
    return json.loads(line.removeprefix("PROBE"))


@pytest.fixture
def airflow(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> AirflowEnv:
    return prepare_airflow(tmp_path, tmp_path_factory)


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory: pytest.TempPathFactory) -> dict:
    airflow = prepare_airflow(tmp_path_factory.mktemp("dagbag"), tmp_path_factory)
    return _probe(airflow, DAGBAG_PROBE)


# --- parsing ---------------------------------------------------------------------------------------------------


def test_the_dags_folder_parses_without_errors(dagbag):
    assert dagbag["import_errors"] == {}
    assert set(dagbag["dags"]) == set(DAG_IDS)
    print(
        f"\nparse: airflow import {dagbag['airflow_import_seconds']:.2f} s, DagBag of {DAGS_FOLDER} "
        f"{dagbag['dagbag_seconds']:.3f} s; per file {dagbag['file_seconds']}"
    )


def test_ingest_runs_every_15_minutes_one_run_at_a_time(dagbag):
    ingest = dagbag["dags"]["tokenstats_ingest"]
    assert ingest["timetable"] == "CronTriggerTimetable"
    assert ingest["expression"] == "*/15 * * * *"
    assert ingest["max_active_runs"] == 1
    assert ingest["catchup"] is False
    assert ingest["outlets"] == [WAREHOUSE_ASSET]


def test_publish_runs_monthly_or_when_the_warehouse_changes(dagbag):
    publish = dagbag["dags"]["tokenstats_publish"]
    assert publish["timetable"] == "AssetOrTimeSchedule"
    assert publish["inner_timetable"] == "CronTriggerTimetable"
    assert publish["inner_expression"] == "0 6 5 * *"
    assert "months=+1" in publish["inner_interval"]  # logical date = the 1st of the reference month
    assert publish["assets"] == [WAREHOUSE_ASSET]
    assert publish["max_active_runs"] == 1


def test_the_readmes_backfill_replays_the_reference_months_it_says(airflow):
    """The README's backfill, as written: run dates August–October are reference months July–September (each
    run's logical date is the 1st of its month; its release tasks are labelled by month, see the dag.test run)."""
    airflow.airflow("dags", "reserialize")
    airflow.airflow("dags", "unpause", "tokenstats_publish")
    airflow.airflow(
        "backfill", "create", "--dag-id", "tokenstats_publish", "--from-date", "2026-08-01", "--to-date",
        "2026-10-31", "--max-active-runs", "1",
    )  # fmt: skip
    runs = airflow.dag_runs("tokenstats_publish")
    assert [r["run_type"] for r in runs] == ["backfill"] * 3
    assert [r["logical_date"][:10] for r in runs] == ["2026-07-01", "2026-08-01", "2026-09-01"]


def test_the_reporting_deadline_is_checked_daily(dagbag):
    deadline = dagbag["dags"]["tokenstats_reporting_deadline"]
    assert (deadline["timetable"], deadline["expression"]) == ("CronTriggerTimetable", "0 8 * * *")
    assert deadline["catchup"] is False and deadline["outlets"] == []


def test_warehouse_writers_share_the_one_slot_pool(dagbag):
    ingest = dagbag["dags"]["tokenstats_ingest"]["tasks"]
    publish = dagbag["dags"]["tokenstats_publish"]["tasks"]
    assert ingest["load"]["pool"] == WAREHOUSE_POOL
    assert {name for name, task in publish.items() if task["pool"] == WAREHOUSE_POOL} == WAREHOUSE_TASKS
    assert {name for name, task in ingest.items() if task["pool"] == WAREHOUSE_POOL} == {"load"}


def test_warehouse_writers_are_pinned_to_the_warehouse_queue(dagbag):
    """The pool serializes the writers; the queue pins them to the one worker on the warehouse's host."""
    tasks = {(dag_id, name): task for dag_id, dag in dagbag["dags"].items() for name, task in dag["tasks"].items()}
    pooled = {key for key, task in tasks.items() if task["pool"] == WAREHOUSE_POOL}
    assert {key for key, task in tasks.items() if task["queue"] == WAREHOUSE_QUEUE} == pooled
    assert tasks[("tokenstats_ingest", "validate")]["queue"] == VALIDATE_QUEUE
    assert {task["queue"] for key, task in tasks.items() if key not in pooled and key[1] != "validate"} == {"default"}


def test_every_task_retries_and_every_dag_is_documented(dagbag):
    for dag_id, dag in dagbag["dags"].items():
        assert dag["doc_md"], dag_id
        assert "tokenstats" in dag["tags"], dag_id
        for task_id, task in dag["tasks"].items():
            assert task["retries"] > 0, f"{dag_id}.{task_id}"


def test_parsing_imports_no_heavy_module(airflow, dagbag):
    assert dagbag["heavy_modules"] == []
    plain = _probe(airflow, IMPORT_PROBE)
    assert plain["heavy_modules"] == []
    print(
        f"\nimport: airflow.sdk {plain['airflow_sdk_seconds']:.2f} s, "
        f"both DAG modules {plain['dag_modules_seconds'] * 1000:.0f} ms"
    )


# --- dag.test() ----------------------------------------------------------------------------------------------


def _ledger(airflow: AirflowEnv) -> list[tuple[str, str, str]]:
    """(provider, period, status) of every file in the ledger."""
    with duckdb.connect(str(airflow.settings.warehouse_file), read_only=True) as con:
        return con.sql("select provider_id, report_period, status from core.submissions order by all").fetchall()


def _states(airflow: AirflowEnv, dag_id: str) -> dict[str, str]:
    return {f"{t['task_id']}[{t['map_index']}]": t["state"] for t in airflow.task_instances(dag_id)}


def _report_timings(airflow: AirflowEnv, dag_id: str, wall: float) -> None:
    """Per-task figures under dag.test(): the first task pays for the in-process execution API."""
    tis = airflow.task_instances(dag_id)
    first, rest = tis[0], tis[1:]
    durations = sorted((t["end_date"] - t["start_date"]).total_seconds() for t in rest)
    gaps = [(b["start_date"] - a["end_date"]).total_seconds() for a, b in itertools.pairwise(tis)]
    print(
        f"\n{dag_id} under dag.test: process wall {wall:.1f} s; run span "
        f"{(tis[-1]['end_date'] - first['start_date']).total_seconds():.1f} s for {len(tis)} task instances; "
        f"first task {(first['end_date'] - first['start_date']).total_seconds():.2f} s; others median "
        f"{durations[len(durations) // 2]:.2f} s; median gap between tasks {sorted(gaps)[len(gaps) // 2]:.2f} s"
    )


def test_dag_test_ingests_a_month_with_a_bad_file_then_publishes_it(airflow):
    reports = generate_month(airflow.data_dir, MONTH, rows=30_000, providers=6, faults=["corrupt"])
    bad = next(r.provider_id for r in reports if r.fault)

    started = time.perf_counter()
    ingest = airflow.dags_test("tokenstats_ingest")
    assert ingest.returncode == 0, tail(ingest)
    _report_timings(airflow, "tokenstats_ingest", time.perf_counter() - started)
    [run] = airflow.dag_runs("tokenstats_ingest")
    assert run["state"] == "success"
    states = _states(airflow, "tokenstats_ingest")
    assert set(states.values()) == {"success"}, states  # the corrupt file fails no task
    labels = {
        t["rendered_map_index"] for t in airflow.task_instances("tokenstats_ingest") if t["task_id"] == "validate"
    }
    assert labels == {f"{r.provider_id}/{r.path.name}" for r in reports}

    ledger = _ledger(airflow)
    assert sorted(p for p, _, status in ledger if status == "accepted") == sorted(
        r.provider_id for r in reports if not r.fault
    )
    assert [(p, s) for p, _, s in ledger if s == "rejected"] == [(bad, "rejected")]
    assert (airflow.data_dir / "quarantine" / bad).is_dir()
    assert not list(airflow.data_dir.glob("inbox/*/*")) and not list(airflow.data_dir.glob("landing/*/*"))
    [event] = airflow.query("select extra from asset_event")
    assert json.loads(event["extra"]) == {"periods": [MONTH]}

    started = time.perf_counter()
    publish = airflow.dags_test("tokenstats_publish", conf={"months": [MONTH]})
    assert publish.returncode == 0, tail(publish)
    _report_timings(airflow, "tokenstats_publish", time.perf_counter() - started)
    assert set(_states(airflow, "tokenstats_publish").values()) == {"success"}
    labels = {
        (t["task_id"], t["rendered_map_index"])
        for t in airflow.task_instances("tokenstats_publish")
        if t["task_id"] in ("bulletin", "finalize")
    }
    assert labels == {("bulletin", f"{MONTH} v1"), ("finalize", f"{MONTH} v1")}  # the grid names the release
    release = airflow.data_dir / "published" / MONTH / "v1"
    manifest = json.loads((release / "manifest.json").read_text())
    assert manifest["reference_period"] == MONTH and manifest["version"] == 1
    assert (release / "bulletin.html").stat().st_size > 0
    tables = {p.name for p in (release / "tables").glob("*.csv")}
    assert {"national.csv", "coverage.csv"} <= tables
    assert {f["path"] for f in manifest["files"]} >= {f"tables/{name}" for name in tables}
    assert not list((airflow.data_dir / "published" / MONTH).glob(".*")), "no staging folder is left"
    assert_release_is_safe(airflow.data_dir, release)  # tests/confidentiality.py (issue 7)
    with duckdb.connect(str(airflow.settings.analyst_file), read_only=True) as snapshot:
        assert snapshot.sql("select count(*) from core.submissions").fetchall() == [(len(reports),)]


def test_a_busy_warehouse_fails_load_once_and_the_retry_succeeds(airflow):
    """Another writer holds the warehouse when ``load`` starts: WarehouseBusy, then the retry loads everything."""
    reports = generate_month(airflow.data_dir, MONTH, rows=6_000, providers=3)
    busy = airflow.with_env(TOKENSTATS_LOCK_WAIT_SECONDS="0")
    log = airflow.home / "dags_test.log"
    with log.open("w") as out, lock_writer(airflow.settings):
        run = subprocess.Popen(
            busy.dags_test_command("tokenstats_ingest"), env=busy.env, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 600
            # Keep the lock until load has failed its first try (the run is then waiting to retry).
            while run.poll() is None and time.monotonic() < deadline:
                if airflow.earlier_tries("tokenstats_ingest", "load") or any(
                    t["task_id"] == "load" and t["state"] == "up_for_retry"
                    for t in airflow.task_instances("tokenstats_ingest")
                ):
                    break
                time.sleep(0.2)
        except BaseException:
            run.kill()
            raise
    returncode = run.wait(timeout=600)
    output = log.read_text()
    assert returncode == 0, output[-6000:]
    assert "WarehouseBusy" in output
    [load] = [t for t in airflow.task_instances("tokenstats_ingest") if t["task_id"] == "load"]
    assert load["state"] == "success"
    assert load["try_number"] >= 2
    assert airflow.earlier_tries("tokenstats_ingest", "load")[0]["state"] == "failed"  # try 1: WarehouseBusy
    assert [run["state"] for run in airflow.dag_runs("tokenstats_ingest")] == ["success"]
    assert {status for _, _, status in _ledger(airflow)} == {"accepted"}
    assert len(_ledger(airflow)) == len(reports)


BROKEN_REGISTRIES = [
    pytest.param("PK\x03\x04 this is not the registry\n", id="unreadable"),
    pytest.param("provider_id,name,enterprise_group,registered_province,active_from\n", id="no-providers"),
]


@pytest.mark.parametrize("broken", BROKEN_REGISTRIES)
def test_a_broken_registry_fails_the_run_and_the_next_run_loses_nothing(airflow, broken):
    """A system fault (a broken provider registry) is not a verdict on the files: the run fails, the files
    wait in landing, and once the registry is restored the next run records every one of them."""
    reports = generate_month(airflow.data_dir, MONTH, rows=6_000, providers=3, faults=["negative_counts"])
    registry = airflow.settings.registry_file
    good = registry.read_bytes()
    registry.write_text(broken)

    failed = airflow.dags_test("tokenstats_ingest")
    assert failed.returncode != 0, tail(failed)
    assert [run["state"] for run in airflow.dag_runs("tokenstats_ingest")] == ["failed"]
    assert "provider registry" in failed.stdout + failed.stderr
    assert not (airflow.data_dir / "quarantine").exists(), "no file is blamed for the system fault"
    assert not airflow.settings.warehouse_file.exists() or _ledger(airflow) == []
    assert len(list(airflow.data_dir.glob("landing/*/*"))) == len(reports), "the claims wait for the next run"

    registry.write_bytes(good)
    rerun = airflow.dags_test("tokenstats_ingest")
    assert rerun.returncode == 0, tail(rerun)
    assert [run["state"] for run in airflow.dag_runs("tokenstats_ingest")] == ["failed", "success"]
    ledger = _ledger(airflow)
    assert sorted(p for p, _, _ in ledger) == sorted(r.provider_id for r in reports)
    assert sorted(s for _, _, s in ledger) == ["accepted", "accepted", "rejected"]
    assert not list(airflow.data_dir.glob("inbox/*/*")) and not list(airflow.data_dir.glob("landing/*/*"))
