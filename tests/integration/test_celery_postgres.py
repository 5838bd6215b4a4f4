"""The production shape, started by the project's own files (``deploy/stack.py``): PostgreSQL as the metadata
database, Redis as the Celery broker, the api-server, scheduler and dag-processor, and two Celery workers, each
with its own AIRFLOW_HOME (two "hosts" sharing only the data folder).

One month goes through ingest and publish. While a validation runs on ``worker-validate`` (after it has finished
one), that worker's whole process group gets SIGKILL, as a host that dies: the scheduler finds the task without
heartbeat, and the retry runs on ``worker-warehouse``. Then: validation ran on both workers; every warehouse
task (load, publish's writers) ran on ``worker-warehouse`` only; the release is byte-identical (the manifest's
creation time aside) to the one the LocalExecutor writes from the same input files (``airflow dags test
--use-executor`` on SQLite, an api-server beside it); every process started here is gone afterwards.

Needs Debian's ``postgresql`` and ``redis-server``: skipped without them, except with
``TOKENSTATS_REQUIRE_SERVICES=1`` (``.ci/run`` installs them and sets it), where their absence fails.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import httpx
import psutil
import pytest

from pipelines.core.config import WAREHOUSE_QUEUE, Settings, disclosure_key
from pipelines.synthetic.generate import generate_month
from tests.confidentiality import assert_release_is_safe
from tests.integration.airflow_env import (
    AIRFLOW,
    BIN,
    FINISHED,
    REPO_ROOT,
    AirflowEnv,
    free_port,
    latest_monthly_slot_month,
    prepare_airflow,
    tail,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

INGEST, PUBLISH = "tokenstats_ingest", "tokenstats_publish"
WAREHOUSE_WORKER, VALIDATE_WORKER = "worker-warehouse", "worker-validate"
PROVIDERS = 6  # enough files that the validation worker finishes one and is killed running the next
ROWS = 6_000
WAIT_SECONDS = 300  # generous: nothing here is a timed assertion
# Shorter than production (deploy/airflow.env) so that the test does not wait minutes for the scheduler.
OVERRIDES = {
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
    "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1",  # 2 cores: one task per worker at a time
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "30",
    "TOKENSTATS_RETRY_DELAY_SECONDS": "1",
}


def _load_stack_module():
    spec = importlib.util.spec_from_file_location("tokenstats_deploy_stack", REPO_ROOT / "deploy" / "stack.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


stack_module = _load_stack_module()


def _require_services() -> None:
    missing = []
    try:
        stack_module.postgres_bin()
    except SystemExit:
        missing.append("postgresql")
    if shutil.which("redis-server") is None:
        missing.append("redis-server")
    if missing:
        message = f"not installed: {', '.join(missing)} (apt-get install -y postgresql redis-server)"
        if os.environ.get("TOKENSTATS_REQUIRE_SERVICES") == "1":
            pytest.fail(message + " and TOKENSTATS_REQUIRE_SERVICES=1")
        pytest.skip(message)


@dataclass
class RunningStack:
    """``deploy/stack.py`` as a process, and what its ``stack.json`` says about the services."""

    root: Path
    process: subprocess.Popen
    state: dict

    @property
    def data(self) -> Path:
        return Path(self.state["data"])

    def env(self) -> dict[str, str]:
        """The control host's environment (api-server, scheduler) for ``airflow`` commands."""
        settings = stack_module.read_env_file(Path(self.state["environment"]["control"]))
        return {**_clean_environ(), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", **settings}

    def airflow(self, *args: str) -> subprocess.CompletedProcess:
        done = subprocess.run([AIRFLOW, *args], env=self.env(), cwd=REPO_ROOT, capture_output=True, text=True)
        assert done.returncode == 0, f"airflow {' '.join(args)}:\n{tail(done)}"
        return done

    def query(self, sql: str, params: tuple = ()) -> list[dict]:
        import psycopg2
        import psycopg2.extras

        port = self.state["postgres"]["port"]
        connection = psycopg2.connect(host="127.0.0.1", port=port, user="airflow", dbname="airflow")
        with contextlib.closing(connection), connection.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            cur.execute(sql, params)
            return [dict(row) for row in cur.fetchall()]

    def tries(self, dag_id: str) -> list[dict]:
        """Every try that ran, current and retried (Airflow moves retried tries to task_instance_history)."""
        columns = "run_id, task_id, map_index, try_number, state, hostname, queue"
        return self.query(
            f"select {columns} from task_instance where dag_id = %s and hostname <> '' "
            f"union all select {columns} from task_instance_history where dag_id = %s and hostname <> ''",
            (dag_id, dag_id),
        )

    def runs(self, dag_id: str) -> list[dict]:
        return self.query("select run_id, run_type, state from dag_run where dag_id = %s order by id", (dag_id,))

    def all_finished(self, dag_id: str) -> list[dict] | None:
        runs = self.runs(dag_id)
        return runs if runs and all(run["state"] in FINISHED for run in runs) else None

    def wait_for(self, what: str, condition: Callable[[], Any], timeout: float = WAIT_SECONDS) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"deploy/stack.py exited {self.process.returncode} while waiting for {what}")
            if result := condition():
                return result
            time.sleep(0.3)
        pytest.fail(f"timed out after {timeout} s waiting for {what}; logs in {self.root}")


def _clean_environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "TOKENSTATS_"))}


@contextlib.contextmanager
def running_stack(root: Path) -> Iterator[RunningStack]:
    """Starts ``deploy/stack.py``; on exit stops it (SIGTERM) and checks that nothing it started is left."""
    with (root / "stack.out").open("w") as out:
        process = subprocess.Popen(
            [sys.executable, str(REPO_ROOT / "deploy" / "stack.py"), "--root", str(root), "--api-port", "0"],
            env={**_clean_environ(), **OVERRIDES},
            cwd=REPO_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    stack = RunningStack(root, process, {})
    try:
        stack.wait_for("the stack to be up", lambda: (root / "stack.json").exists())
        stack.state = json.loads((root / "stack.json").read_text())
        yield stack
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=180)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            pytest.fail("deploy/stack.py did not stop within 180 s of SIGTERM")
        strays = _processes_under(root)
        for stray in strays:
            stray.kill()
        assert strays == [], [" ".join(p.cmdline())[:160] for p in strays]


def _processes_under(root: Path) -> list[psutil.Process]:
    """Live processes whose command line or environment names the stack's folder."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.pid == os.getpid():
                continue
            if str(root) in " ".join(process.cmdline()) or str(root) in process.environ().get("AIRFLOW_HOME", ""):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


@pytest.fixture
def stack_root() -> Path:
    """Outside pytest's private temp folder: PostgreSQL runs as the ``postgres`` user, which must reach it.
    The test removes it when it passes; a failed run leaves it, logs and all, for a look."""
    _require_services()
    root = Path(tempfile.mkdtemp(prefix="tokenstats-stack-"))
    root.chmod(0o755)
    return root


def test_two_celery_workers_on_postgres_and_redis(stack_root: Path, tmp_path: Path, tmp_path_factory):
    month = latest_monthly_slot_month(dt.datetime.now(dt.UTC))
    inputs = tmp_path / "inputs"
    generate_month(inputs, month, rows=ROWS, providers=PROVIDERS)
    disclosure_key(Settings(data_dir=inputs))  # one installation, one secret: the manifests' keyed hashes agree
    # The same files for both runs; copies keep the mtimes (a report's received_at).
    shutil.copytree(inputs, stack_root / "data", symlinks=True)
    reference = prepare_airflow(tmp_path, tmp_path_factory)
    shutil.copytree(inputs, reference.data_dir, symlinks=True, dirs_exist_ok=True)

    # The LocalExecutor's release, in the meantime (both spend much of their time waiting on schedulers).
    with ThreadPoolExecutor(1) as background, running_stack(stack_root) as stack:
        local_executor = background.submit(_release_with_local_executor, reference, month)
        # 1. Ingest: unpausing runs its latest slot at once. Kill the validation worker mid-validation.
        stack.wait_for("both DAGs parsed", lambda: len(stack.query("select dag_id from dag")) >= 2)
        stack.airflow("dags", "unpause", INGEST)
        stack.wait_for("a second validation on worker-validate", lambda: _running_second_on(stack))
        os.killpg(stack.state["pids"][VALIDATE_WORKER], signal.SIGKILL)
        ingest_runs = stack.wait_for("the ingest run", lambda: stack.all_finished(INGEST))
        assert [r["state"] for r in ingest_runs] == ["success"] * len(ingest_runs), ingest_runs

        # 2. Publish: unpausing runs the latest monthly slot, whose reference month is the one just loaded.
        stack.airflow("dags", "unpause", PUBLISH)
        release = stack.data / "published" / month / "v1"
        stack.wait_for("the release", lambda: (release / "manifest.json").exists() and stack.all_finished(PUBLISH))
        publish_runs = stack.runs(PUBLISH)
        assert [r["state"] for r in publish_runs] == ["success"] * len(publish_runs), publish_runs
        validations = [t for t in stack.tries(INGEST) if t["task_id"] == "validate"]
        warehouse_tries = [t for dag in (INGEST, PUBLISH) for t in stack.tries(dag) if t["queue"] == WAREHOUSE_QUEUE]

    # Placement: validation on both workers; the killed validations retried on the survivor and succeeded.
    assert {t["hostname"] for t in validations} == {WAREHOUSE_WORKER, VALIDATE_WORKER}
    assert any(t["hostname"] == VALIDATE_WORKER and t["state"] == "success" for t in validations)
    final = {t["map_index"]: t for t in validations if t["state"] == "success"}
    assert sorted(final) == list(range(PROVIDERS))
    killed = {t["map_index"] for t in validations if t["hostname"] == VALIDATE_WORKER and t["state"] != "success"}
    assert killed, validations
    for map_index in killed:
        assert final[map_index]["hostname"] == WAREHOUSE_WORKER and final[map_index]["try_number"] >= 2
    # The warehouse's writers ran on its worker only (every try of every run), and each of them did run.
    assert {t["hostname"] for t in warehouse_tries} == {WAREHOUSE_WORKER}
    assert {t["task_id"] for t in warehouse_tries} >= {"load", "coverage", "marts", "disclosure", "exports", "snapshot"}

    # The same ledger and the same release as the LocalExecutor's from the same inputs.
    local_executor.result()
    assert _ledger(stack_root / "data") == _ledger(reference.data_dir)
    assert _release_digest(release) == _release_digest(reference.data_dir / "published" / month / "v1")
    assert_release_is_safe(stack_root / "data", release)
    shutil.rmtree(stack_root)


def _running_second_on(stack: RunningStack) -> bool:
    """Whether worker-validate runs a validation, having finished one; fails if it never gets a second."""
    validations = [t for t in stack.tries(INGEST) if t["task_id"] == "validate"]
    mine = [t for t in validations if t["hostname"] == VALIDATE_WORKER]
    running = [t["map_index"] for t in mine if t["state"] == "running"]
    if running and any(t["state"] == "success" for t in mine):
        return True
    finished = [t for t in validations if t["state"] == "success"]
    assert len(finished) < PROVIDERS, f"worker-validate never ran a second validation: {validations}"
    return False


def _release_with_local_executor(airflow: AirflowEnv, month: str) -> None:
    """Ingest, then publish ``month``, through the LocalExecutor (it needs an api-server for its tasks)."""
    port = free_port()
    env = airflow.with_env(
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__PARALLELISM="2",
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/",
    )
    with (airflow.home / "api-server.log").open("w") as log:
        api = subprocess.Popen(
            [AIRFLOW, "api-server", "--host", "127.0.0.1", "--port", str(port)],
            env=env.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        while not _healthy(f"http://127.0.0.1:{port}/api/v2/monitor/health"):
            assert api.poll() is None and time.monotonic() < deadline, "the reference api-server did not start"
            time.sleep(0.5)
        for dag_id, conf in ((INGEST, None), (PUBLISH, {"months": [month]})):
            done = env.run([*env.dags_test_command(dag_id, conf), "--use-executor"], check=False)
            assert done.returncode == 0, tail(done)
    finally:
        os.killpg(api.pid, signal.SIGTERM)
        api.wait(timeout=60)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def _ledger(data: Path) -> list[tuple]:
    with duckdb.connect(str(data / "warehouse" / "tokenstats.duckdb"), read_only=True) as con:
        return con.sql(
            "select provider_id, file_name, report_period, submission_id, status, reason, row_count "
            "from core.submissions order by all"
        ).fetchall()


def _release_digest(folder: Path) -> dict[str, Any]:
    """Every file's sha256, the manifest as data without its creation time."""
    digest = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.name == "manifest.json":
            manifest = json.loads(path.read_text(encoding="utf-8"))
            manifest.pop("created_at")
            digest[path.name] = manifest
        else:
            digest[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digest
