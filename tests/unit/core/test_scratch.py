"""In-memory DuckDB work spills inside the data folder, in a private folder of its own that is gone after
the connection closes: never into the working directory, where DuckDB's default would put provider rows."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

from pipelines.core import lifeline
from pipelines.core.config import Settings
from pipelines.core.database import _host, connect_memory


def test_spilled_work_stays_in_the_private_scratch_folder_and_is_removed(tmp_path, monkeypatch):
    elsewhere = tmp_path / "started-here"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    settings = Settings.from_env(data_dir=tmp_path / "data", duckdb_memory_limit="64MB", duckdb_threads=1)
    con = connect_memory(settings)
    con.execute("create table t as select i, md5(i::varchar) as s from range(3000000) as r(i)")
    assert con.sql("select count(distinct s) from t").fetchall() == [(3_000_000,)]
    spilled = [p for p in settings.scratch_dir.rglob("*") if p.is_file()]
    assert spilled, "64 MB cannot hold 3M rows: the work should have spilled"
    assert stat.S_IMODE(settings.scratch_dir.stat().st_mode) & 0o007 == 0  # no access for other users
    con.close()
    assert list(settings.scratch_dir.iterdir()) == []
    assert list(elsewhere.iterdir()) == []


def test_spill_folders_left_by_killed_processes_of_this_host_are_removed(tmp_path):
    settings = Settings.from_env(data_dir=tmp_path / "data")
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = ended.stdout.strip()  # a process that has ended: what a kill -9 leaves behind
    scratch = settings.scratch_dir
    left = scratch / f"duckdb_{_host()}_{dead_pid}_0123"
    running = scratch / f"duckdb_{_host()}_{os.getpid()}_4567"
    other_host = scratch / f"duckdb_elsewhere.example_{dead_pid}_89ab"  # a shared data folder: not ours to judge
    for folder in (left, running, other_host):
        folder.mkdir(parents=True)
        (folder / "duckdb_temp_storage-0.tmp").write_bytes(b"provider rows")
    connect_memory(settings).close()
    assert not left.exists()
    assert running.exists() and other_host.exists()


def test_without_procfs_a_running_process_keeps_its_spill_folder(tmp_path, monkeypatch):
    """macOS has no /proc: liveness is asked of the kernel, so two processes on one host never remove each
    other's spill folders while they spill (a missing /proc once read as every process ended)."""
    monkeypatch.setattr(lifeline, "PROC", tmp_path / "no-procfs")
    settings = Settings.from_env(data_dir=tmp_path / "data")
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    left = settings.scratch_dir / f"duckdb_{_host()}_{ended.stdout.strip()}_0123"
    running = settings.scratch_dir / f"duckdb_{_host()}_{os.getpid()}_4567"
    for folder in (left, running):
        folder.mkdir(parents=True)
    connect_memory(settings).close()
    assert running.exists() and not left.exists()
