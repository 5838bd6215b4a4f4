"""The DAGs under a real Airflow: api-server, scheduler (LocalExecutor on SQLite) and dag-processor as processes.

One story, in the order production sees it:

1. unpausing ``tokenstats_ingest`` makes its latest 15-minute slot run at once: it loads the month S waiting in
   the inbox (``tokenstats_publish`` is still paused, so that asset event is not queued for it);
2. unpausing ``tokenstats_publish`` makes its latest monthly slot (the 5th, 06:00 UTC) run at once: its reference
   month is S, which has data now, so it releases S v1;
3. meanwhile the reports of month S+1 arrive and an ingest is triggered by hand: its ``load`` competes with the
   publish run's warehouse tasks for the one-slot pool, and its asset event (months in the extra) triggers a
   publish run that releases S+1 v1 (and finds nothing new for S).

Every run of either DAG succeeds and no two warehouse tasks ever overlap. Every process started here is stopped
(SIGTERM to its process group, SIGKILL after a grace period), even when the test fails; none is left behind.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import os
import signal
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import httpx
import psutil
import pytest

from pipelines.core.config import WAREHOUSE_POOL
from pipelines.synthetic.generate import generate_month
from tests.confidentiality import assert_release_is_safe
from tests.integration.airflow_env import (
    AIRFLOW,
    FINISHED,
    AirflowEnv,
    free_port,
    latest_monthly_slot_month,
    parse_time,
    prepare_airflow,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

INGEST, PUBLISH = "tokenstats_ingest", "tokenstats_publish"
PROVIDERS = 3
ROWS = 6_000
WAIT_SECONDS = 300  # generous: nothing here is a timed assertion
STOP_GRACE_SECONDS = 30
TRIVIAL_TASKS = ("discover", "reference_months", "bulletin", "finalize")


@dataclass
class Services:
    """The running Airflow processes of one test and a REST client for them."""

    airflow: AirflowEnv
    base_url: str
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    started_at: float = 0.0  # epoch seconds
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        # SIMPLE_AUTH_MANAGER_ALL_ADMINS: every request is an admin's, no token needed.
        self.client = httpx.Client(base_url=self.base_url, timeout=30)

    def start(self) -> None:
        self.started_at = time.time()
        commands = {
            "api-server": ["api-server", "--host", "127.0.0.1", "--port", self.base_url.rsplit(":", 1)[1]],
            "scheduler": ["scheduler", "--skip-serve-logs"],
            "dag-processor": ["dag-processor"],
        }
        for name, args in commands.items():
            with (self.airflow.home / f"{name}.log").open("w") as log:
                # Own session, so its process group holds it and every child it forks (executor workers, tasks).
                self.processes[name] = subprocess.Popen(
                    [AIRFLOW, *args],
                    env=self.airflow.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )

    def stop(self) -> list[str]:
        """Stop every process group started here; the processes of this Airflow home still alive after that."""
        for process in self.processes.values():
            _signal_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for process in self.processes.values():
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait(timeout=STOP_GRACE_SECONDS)
        for process in self.processes.values():  # children left in the group once its leader is gone
            _signal_group(process.pid, signal.SIGKILL)
        self.client.close()
        strays = _processes_of(self.airflow.home)
        for stray in strays:
            stray.kill()
        return [f"{p.pid} {' '.join(p.cmdline())[:120]}" for p in strays]

    def dead(self) -> str | None:
        """The first process that exited, with the end of its log (a failed start is not worth waiting out)."""
        for name, process in self.processes.items():
            if process.poll() is not None:
                log = (self.airflow.home / f"{name}.log").read_text(errors="replace")[-4000:]
                return f"{name} exited {process.returncode}:\n{log}"
        return None

    # --- REST ------------------------------------------------------------------------------------------------

    def get(self, path: str, **params: Any) -> Any:
        response = self.client.get(f"/api/v2/{path}", params=params)
        response.raise_for_status()
        return response.json()

    def unpause(self, dag_id: str) -> None:
        self.client.patch(f"/api/v2/dags/{dag_id}", json={"is_paused": False}).raise_for_status()

    def trigger(self, dag_id: str, conf: dict | None = None) -> str:
        response = self.client.post(f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})
        response.raise_for_status()
        return response.json()["dag_run_id"]

    def runs(self, dag_id: str) -> list[dict]:
        return self.get(f"dags/{dag_id}/dagRuns", order_by="run_after", limit=100)["dag_runs"]

    def task_instances(self, dag_id: str = "~", run_id: str = "~") -> list[dict]:
        """Task instances of every run (``~``: all); one page is enough for this test's few runs."""
        page = self.get(f"dags/{dag_id}/dagRuns/{run_id}/taskInstances", limit=100)
        assert page["total_entries"] == len(page["task_instances"]), "more task instances than one page"
        return page["task_instances"]

    def xcom(self, dag_id: str, run_id: str, task_id: str) -> Any:
        return self.get(f"dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value")["value"]

    def wait_for(self, what: str, condition: Callable[[], Any], timeout: float = WAIT_SECONDS) -> Any:
        """Poll until ``condition()`` is truthy; fails early when an Airflow process died."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (dead := self.dead()) is not None:
                pytest.fail(f"while waiting for {what}: {dead}")
            try:
                if result := condition():
                    return result
            except (httpx.HTTPError, KeyError, ValueError):
                pass  # not up yet, or a response without the field yet
            time.sleep(0.5)
        pytest.fail(f"timed out after {timeout} s waiting for {what}")

    def all_finished(self, dag_id: str) -> list[dict] | None:
        """The DAG's runs once there is at least one and none is queued or running."""
        runs = self.runs(dag_id)
        return runs if runs and all(run["state"] in FINISHED for run in runs) else None


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _processes_of(home: Path) -> list[psutil.Process]:
    """Live processes whose environment names this Airflow home."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.pid != os.getpid() and process.environ().get("AIRFLOW_HOME") == str(home):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


@pytest.fixture
def services(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    airflow = prepare_airflow(tmp_path, tmp_path_factory).with_env(
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__PARALLELISM="3",  # LocalExecutor forks up to this many workers; 2 cores here
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__PORT=str(port),
        AIRFLOW__API__BASE_URL=base_url,
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"{base_url}/execution/",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
        # Find the DAG files at once (default 300 s); they do not change during the test, so no reparsing churn.
        AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
        AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL="30",
        # Fixed defaults 8793/8794 would clash with any other Airflow on the machine.
        AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
        AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(free_port()),
    )
    running = Services(airflow, base_url)
    try:
        running.start()
        yield running
    finally:
        running.stop()


def _next_period(period: str) -> str:
    year, month = (int(x) for x in period.split("-"))
    return f"{year + (month == 12)}-{month % 12 + 1:02d}"


def _manifest(data: Path, month: str, version: int) -> dict | None:
    path = data / "published" / month / f"v{version}" / "manifest.json"
    return json.loads(path.read_text()) if path.exists() else None


def _seconds(later: str | None, earlier: str | None) -> float | None:
    if not later or not earlier:
        return None
    return (parse_time(later) - parse_time(earlier)).total_seconds()


def test_real_scheduler_ingests_and_publishes(services):
    airflow, data = services.airflow, services.airflow.data_dir
    month = latest_monthly_slot_month(dt.datetime.now(dt.UTC))
    new_month = _next_period(month)
    generate_month(data, month, rows=ROWS, providers=PROVIDERS)

    services.wait_for("the api-server", lambda: services.client.get("/api/v2/monitor/health").status_code == 200)
    healthy_at = time.time()
    services.wait_for(
        "both DAGs parsed", lambda: {d["dag_id"] for d in services.get("dags")["dags"]} >= {INGEST, PUBLISH}
    )

    # 1. The ingest's immediate scheduled run loads month S.
    services.unpause(INGEST)
    runs = services.wait_for("the first ingest run", lambda: services.all_finished(INGEST))
    assert [(r["run_type"], r["state"]) for r in runs] == [("scheduled", "success")] * len(runs), runs

    # 2. and 3. Publish's scheduled run for S, and a triggered ingest of S+1 at the same time.
    services.unpause(PUBLISH)
    generate_month(data, new_month, rows=ROWS, providers=PROVIDERS)
    manual = services.trigger(INGEST)
    services.wait_for(
        "the scheduled and the asset-triggered releases",
        lambda: (
            _manifest(data, month, 1)
            and _manifest(data, new_month, 1)
            and services.all_finished(PUBLISH)
            and services.all_finished(INGEST)
        ),
    )

    ingest_runs, publish_runs = services.runs(INGEST), services.runs(PUBLISH)
    assert [r["state"] for r in ingest_runs + publish_runs] == ["success"] * len(ingest_runs + publish_runs)
    assert next(r for r in ingest_runs if r["dag_run_id"] == manual)["run_type"] == "manual"
    [scheduled] = [r for r in publish_runs if r["run_type"] == "scheduled"]
    assert scheduled["logical_date"].startswith(f"{month}-01T00:00:00")
    assert services.xcom(PUBLISH, scheduled["dag_run_id"], "reference_months") == [month]
    triggered = [r for r in publish_runs if r["run_type"] == "asset_triggered"]
    assert triggered, publish_runs
    # The first asset-triggered run also gets the event S's load emitted while publish was paused (Airflow starts
    # its window when the DAG first scheduled on the asset, not at unpause): S's inputs are those of S v1, so its
    # release is skipped, not repeated.
    months = {m for run in triggered for m in services.xcom(PUBLISH, run["dag_run_id"], "reference_months")}
    assert months == {month, new_month}
    assert not (data / "published" / month / "v2").exists()
    events = services.get("assets/events", order_by="timestamp", limit=100)["asset_events"]
    assert events[0]["extra"] == {"periods": [month]}
    assert {p for e in events[1:] for p in e["extra"]["periods"]} == {new_month}

    for period in (month, new_month):
        release = data / "published" / period / "v1"
        assert _manifest(data, period, 1)["status"] == "provisional"
        assert (release / "bulletin.html").exists() and list((release / "tables").glob("*.csv"))
        assert_release_is_safe(data, release)
    assert _manifest(data, new_month, 1)["inputs"]["previous_month_release"] == f"{month}/v1"
    assert (data / "analyst" / "tokenstats.duckdb").exists()

    # The one-slot pool: no two warehouse tasks of any run ever ran at the same time.
    tis = services.task_instances()
    # Only tries that ran: a task skipped because its upstream was skipped gets start = end and was never queued.
    ran = [t for t in tis if t["pool"] == WAREHOUSE_POOL and t["queued_when"] and t["start_date"] and t["end_date"]]
    pooled = sorted(ran, key=lambda t: parse_time(t["start_date"]))
    assert len(pooled) >= 2 + 2 * 5  # two loads, five warehouse tasks for each release
    overlaps = [
        (a["task_id"], a["end_date"], b["task_id"], b["start_date"])
        for a, b in itertools.pairwise(pooled)
        if parse_time(a["end_date"]) > parse_time(b["start_date"])
    ]
    assert overlaps == []
    _report_timings(services, tis, healthy_at)

    strays = services.stop()
    assert strays == [], strays
    for process in services.processes.values():
        with pytest.raises(ProcessLookupError):
            os.killpg(process.pid, 0)  # the group is empty

    with duckdb.connect(str(airflow.settings.warehouse_file), read_only=True) as con:
        ledger = con.sql("select report_period, status from core.submissions order by all").fetchall()
    assert ledger == [(month, "accepted")] * PROVIDERS + [(new_month, "accepted")] * PROVIDERS
    assert not list(data.glob("inbox/*/*")) and not list(data.glob("landing/*/*"))


def _report_timings(services: Services, tis: list[dict], healthy_at: float) -> None:
    """Scheduler overheads, printed for the record (``pytest -s``); nothing here is asserted."""

    def median(values: list[float | None]) -> str:
        values = [v for v in values if v is not None]
        return f"{statistics.median(values):.2f} s (max {max(values):.2f})" if values else "n/a"

    trivial = [t for t in tis if t["task_id"] in TRIVIAL_TASKS and t["state"] == "success" and t["queued_when"]]
    gaps = []  # from a task's end to the start of the next task of its run: the scheduler's hand-over
    for run_id in {t["dag_run_id"] for t in tis}:
        ran = sorted((t for t in tis if t["dag_run_id"] == run_id and t["queued_when"]), key=lambda t: t["start_date"])
        gaps += [g for a, b in itertools.pairwise(ran) if (g := _seconds(b["start_date"], a["end_date"])) and g > 0]
    first_success = min(parse_time(t["end_date"]) for t in tis if t["state"] == "success").timestamp()
    pooled = [t for t in tis if t["pool"] == WAREHOUSE_POOL and t["queued_when"] and t["scheduled_when"]]
    waited = [  # ready, but not queued until another warehouse task that started meanwhile had finished
        f"{t['task_id']}[{t['map_index']}] ({t['dag_id'].split('_')[1]}, {t['dag_run_id'].split('__')[0]}) "
        f"{_seconds(t['queued_when'], t['scheduled_when']):.1f} s"
        for t in pooled
        if any(o is not t and t["scheduled_when"] <= o["start_date"] < t["queued_when"] for o in pooled)
    ]
    print(
        f"\nreal scheduler, {len(tis)} task instances. Trivial tasks ({', '.join(TRIVIAL_TASKS)}): "
        f"scheduled->queued {median([_seconds(t['queued_when'], t['scheduled_when']) for t in trivial])}, "
        f"queued->running {median([_seconds(t['start_date'], t['queued_when']) for t in trivial])}, "
        f"running->success {median([_seconds(t['end_date'], t['start_date']) for t in trivial])}; "
        f"hand-over between consecutive tasks {median(gaps)}.\n"
        f"processes started -> API healthy {healthy_at - services.started_at:.1f} s, "
        f"-> first task success {first_success - services.started_at:.1f} s; "
        f"pool tasks that waited for the slot: {', '.join(waited) or 'none'}"
    )
    for dag_id in (INGEST, PUBLISH):
        for run in services.runs(dag_id):
            print(
                f"  {dag_id} {run['run_type']:<15} {run['state']:<8} queued->end "
                f"{_seconds(run['end_date'], run['queued_at']):5.1f} s  {run['dag_run_id']}"
            )
