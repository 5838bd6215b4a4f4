"""Where the demo's time goes: ``tokenstats demo`` in a new data folder, timed, then every Airflow task's duration
read back from the demo's own SQLite metadata database.

    uv run --frozen python bench/demo.py [--label now] [--keep]

Writes ``bench/results/demo_<label>.json``: the demo's wall seconds and exit code, its progress lines, and per DAG
run (oldest first) each task's seconds, mapped instances summed with their count, beside the machine's facts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from run import machine_facts

RESULTS = Path(__file__).resolve().parent / "results"


def task_seconds(airflow_db: Path) -> list[dict]:
    """Per DAG run, oldest first: each task's summed duration and how many of its instances ran."""
    with sqlite3.connect(airflow_db) as con:
        rows = con.execute(
            "select dag_id, run_id, task_id, count(*), sum(duration) from task_instance "
            "group by dag_id, run_id, task_id order by min(start_date)"
        ).fetchall()
    runs: dict[tuple[str, str], dict] = {}
    for dag, run, task, instances, seconds in rows:
        entry = runs.setdefault((dag, run), {"dag": dag, "run": run, "tasks": {}})
        entry["tasks"][task] = {"instances": instances, "seconds": round(seconds or 0.0, 2)}
    return list(runs.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", default="now", help="a name for this checkout in the results")
    parser.add_argument("--keep", action="store_true", help="keep the data folder")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="tokenstats-demo-"))
    env = {**os.environ, "TOKENSTATS_DATA_DIR": str(root / "data")}
    started = time.monotonic()
    demo = subprocess.run([sys.executable, "-m", "pipelines.cli", "demo"], env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    report = {
        "label": args.label,
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "exit_code": demo.returncode,
        "seconds": round(seconds, 1),
        "progress": [line for line in demo.stdout.splitlines() if line.startswith("[")],
        "dag_runs": task_seconds(root / "data" / "airflow" / "airflow.db"),
        "machine": machine_facts(),
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"demo_{args.label}.json"
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    for run in report["dag_runs"]:
        tasks = ", ".join(f"{name} {t['seconds']:.1f} s" for name, t in run["tasks"].items())
        print(f"{run['dag']}: {tasks}")
    print(f"demo: exit {demo.returncode} in {seconds:.1f} s; wrote {out}")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return demo.returncode


if __name__ == "__main__":
    sys.exit(main())
