"""An isolated Airflow for an integration test: its own AIRFLOW_HOME, SQLite metadata DB and data directory.

Airflow reads its configuration once, when it is first imported, so every Airflow command of a test runs in a
subprocess with the environment built here; pytest's own process never imports Airflow. ``airflow db migrate``
costs about 3 s: it runs once per test session into a template home (with the one-slot warehouse pool), and each
test gets a copy of the migrated ``airflow.db``. Tests read the metadata DB directly with ``sqlite3``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipelines.core.config import WAREHOUSE_POOL, Settings
from pipelines.core.periods import previous_period

REPO_ROOT = Path(__file__).resolve().parents[2]
DAGS_FOLDER = REPO_ROOT / "dags"
BIN = Path(sys.executable).parent
AIRFLOW = str(BIN / "airflow")
DAG_IDS = ("tokenstats_ingest", "tokenstats_publish", "tokenstats_reporting_deadline")
COMMAND_TIMEOUT = 600  # seconds; generous: a 2-core machine shared with other work can be slow
FINISHED = ("success", "failed")

_templates: dict[Path, Path] = {}  # session temp root -> migrated template home


@dataclass(frozen=True)
class AirflowEnv:
    """One test's Airflow home and data directory, and the environment every Airflow process of it gets."""

    home: Path
    data_dir: Path
    env: dict[str, str]

    @property
    def db(self) -> Path:
        return self.home / "airflow.db"

    @property
    def settings(self) -> Settings:
        """The pipeline's settings as the DAG tasks see them."""
        return Settings.from_env(self.env)

    def with_env(self, **extra: str) -> AirflowEnv:
        return dataclasses.replace(self, env={**self.env, **extra})

    def airflow(self, *args: str, check: bool = True, timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess:
        """Run an Airflow CLI command; its output is kept in the home's ``commands.log`` too."""
        return self.run([AIRFLOW, *args], check=check, timeout=timeout)

    def python(self, code: str, check: bool = True, timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess:
        return self.run([sys.executable, "-c", code], check=check, timeout=timeout)

    def run(
        self, command: list[str], check: bool = True, timeout: float = COMMAND_TIMEOUT
    ) -> subprocess.CompletedProcess:
        done = subprocess.run(
            command, env=self.env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout, check=False
        )
        with (self.home / "commands.log").open("a", encoding="utf-8") as log:
            log.write(f"$ {' '.join(command)}  -> rc={done.returncode}\n{done.stdout}{done.stderr}\n")
        if check and done.returncode != 0:
            raise AssertionError(f"{' '.join(command)} exited {done.returncode}:\n{tail(done)}")
        return done

    def dags_test_command(self, dag_id: str, conf: dict | None = None) -> list[str]:
        """``airflow dags test``: dag.test() on this home's metadata DB; exit code 1 when the run fails."""
        return [AIRFLOW, "dags", "test", dag_id, *(["--conf", json.dumps(conf)] if conf else [])]

    def dags_test(self, dag_id: str, conf: dict | None = None) -> subprocess.CompletedProcess:
        return self.run(self.dags_test_command(dag_id, conf), check=False)

    # --- the metadata DB ------------------------------------------------------------------------------------

    def query(self, sql: str, params: tuple = ()) -> list[dict]:
        """Rows of a read-only query on the metadata DB (safe while Airflow writes it: SQLite in WAL mode)."""
        con = sqlite3.connect(self.db, timeout=30)
        try:
            con.row_factory = sqlite3.Row
            return [dict(row) for row in con.execute(sql, params)]
        finally:
            con.close()

    def dag_runs(self, dag_id: str) -> list[dict]:
        return self.query(
            "select run_id, state, run_type, logical_date, conf from dag_run where dag_id = ? order by id", (dag_id,)
        )

    def task_instances(self, dag_id: str, run_id: str | None = None) -> list[dict]:
        """Current try of each task instance, with its timings as datetimes (UTC)."""
        rows = self.query(
            "select run_id, task_id, map_index, rendered_map_index, state, try_number, pool, "
            "queued_dttm, start_date, end_date from task_instance "
            "where dag_id = ? and (? is null or run_id = ?) order by start_date",
            (dag_id, run_id, run_id),
        )
        for row in rows:
            for key in ("queued_dttm", "start_date", "end_date"):
                row[key] = parse_time(row[key])
        return rows

    def earlier_tries(self, dag_id: str, task_id: str) -> list[dict]:
        """Tries that were retried (Airflow moves them to task_instance_history)."""
        return self.query(
            "select run_id, map_index, try_number, state from task_instance_history "
            "where dag_id = ? and task_id = ? order by try_number",
            (dag_id, task_id),
        )


def prepare_airflow(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> AirflowEnv:
    """A fresh Airflow home under ``tmp_path`` with a migrated metadata DB, the warehouse pool and a data dir."""
    template = _migrated_template(tmp_path_factory)
    home = tmp_path / "airflow"
    home.mkdir()
    # Copy after every process using the template has exited; a leftover WAL holds committed pages too.
    for name in ("airflow.db", "airflow.db-wal"):
        if (template / name).exists():
            shutil.copy2(template / name, home / name)
    # airflow.cfg holds absolute paths (logs, plugins): point them at the new home.
    cfg = (template / "airflow.cfg").read_text(encoding="utf-8").replace(str(template), str(home))
    (home / "airflow.cfg").write_text(cfg, encoding="utf-8")
    data_dir = tmp_path / "data"
    data_dir.mkdir(exist_ok=True)
    return AirflowEnv(home, data_dir, build_airflow_environment(home, data_dir))


def build_airflow_environment(home: Path, data_dir: Path) -> dict[str, str]:
    """The environment of every Airflow process of a test; nothing Airflow-related leaks in from outside."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "TOKENSTATS_"))}
    env.update(
        {
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            # Signs task tokens: must be the same in the api-server, scheduler and task processes.
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "GX_ANALYTICS_ENABLED": "false",
            "PYTHONWARNINGS": "ignore",
            "TOKENSTATS_DATA_DIR": str(data_dir),
            "TOKENSTATS_RETRY_DELAY_SECONDS": "1",
        }
    )
    return env


def _migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``airflow db migrate`` and the one-slot pool, once per test session."""
    root = tmp_path_factory.getbasetemp()
    if root not in _templates:
        home = tmp_path_factory.mktemp("airflow-template")
        template = AirflowEnv(home, home / "data", build_airflow_environment(home, home / "data"))
        template.airflow("db", "migrate")
        template.airflow("pools", "set", WAREHOUSE_POOL, "1", "DuckDB has one writer: warehouse writes, one at a time")
        _templates[root] = home
    return _templates[root]


def latest_monthly_slot_month(now: dt.datetime) -> str:
    """The reference month of publish's latest slot (the 5th, 06:00 UTC): the run unpausing creates at once."""
    slot_month = f"{now:%Y-%m}" if (now.day, now.hour) >= (5, 6) else previous_period(f"{now:%Y-%m}")
    return previous_period(slot_month)


def free_port() -> int:
    """A loopback TCP port free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def parse_time(value: str | None) -> dt.datetime | None:
    """A timestamp from the metadata DB (naive UTC text) or the REST API (ISO 8601 with zone), aware UTC."""
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def tail(done: subprocess.CompletedProcess, chars: int = 6000) -> str:
    """The end of a command's output, for assertion messages."""
    return f"--- stdout ---\n{(done.stdout or '')[-chars:]}\n--- stderr ---\n{(done.stderr or '')[-chars:]}"
