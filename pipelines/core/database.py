"""The DuckDB warehouse: connections, schema, named SQL, and the single-writer lock; every stage uses them.

DuckDB allows one writer process per file, and a reader cannot open a file a writer holds; so every write
goes through ``open_warehouse`` under an exclusive lock, and analysts read a snapshot (``snapshot.py``).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import duckdb

from pipelines.core.config import SCHEMAS_DIR, Settings, disclosure_key
from pipelines.core.hostname import worker_hostname
from pipelines.core.lifeline import process_ended
from pipelines.core.usage_store import define_usage_view, move_usage_table

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # pipelines/: each stage keeps its SQL in <stage>/sql/
# The storage format the warehouse (and so the analyst snapshot, its copy) is written in: the oldest our
# analysts' DuckDB CLI reads (2.0 would write v2). duckdb-cli 1.4.4 opens the snapshot and reads the rows'
# Parquet v2 files (checked by hand; the tests run the newest CLI, which pyproject.toml installs).
STORAGE_VERSION = "v1.4.0"
# Folders holding provider-level data are closed to other users: owner (the pipeline) and group (operators,
# analysts) only. Providers write into the inbox by their own means; releases and Data Docs are for reading.
PRIVATE_MODE = 0o750
PRIVATE_FOLDERS = ("warehouse", "landing", "archive", "quarantine", "analyst", "registry", "scratch")


class WarehouseBusy(RuntimeError):
    """Another process holds the warehouse for writing."""


def configure_connection(con: duckdb.DuckDBPyConnection, settings: Settings) -> duckdb.DuckDBPyConnection:
    """Bound memory and threads, whatever the size of the data."""
    con.execute(f"set memory_limit = '{settings.duckdb_memory_limit}'")
    if settings.duckdb_threads:
        con.execute(f"set threads = {int(settings.duckdb_threads)}")
    con.execute("set preserve_insertion_order = false")
    con.execute("set enable_progress_bar = false")  # DuckDB draws it on stdout: the command's output, task logs
    return con


def connect_memory(settings: Settings) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB for work on files (validation). What does not fit in memory spills to a folder of
    its own in ``<data>/scratch/`` (private: it holds provider-level rows), which DuckDB removes at close;
    DuckDB's default, ``.tmp`` in the working directory, put them wherever the process was started."""
    con = configure_connection(duckdb.connect(), settings)
    con.execute(f"set temp_directory = {quote_literal(str(_spill_folder(settings)))}")
    return con


def _spill_folder(settings: Settings) -> Path:
    """A new spill folder, named ``duckdb_<host>_<pid>_<random>`` (DuckDB creates it only if it spills). Those
    left by this host's processes that ended without closing (kill -9) are removed first; other hosts' folders,
    on a shared data folder, are theirs to remove."""
    settings.scratch_dir.mkdir(mode=PRIVATE_MODE, parents=True, exist_ok=True)
    host = _host()
    for folder in settings.scratch_dir.glob("duckdb_*"):
        _, folder_host, pid, _ = (folder.name.split("_") + [""] * 4)[:4]
        if folder_host == host and pid.isdigit() and process_ended(pid):
            shutil.rmtree(folder, ignore_errors=True)
    return settings.scratch_dir / f"duckdb_{host}_{os.getpid()}_{uuid.uuid4().hex}"


@functools.cache
def _host() -> str:
    """This machine's name in spill folders, asked once per process (``getfqdn`` may ask DNS)."""
    return worker_hostname().replace("_", "-")


@contextlib.contextmanager
def lock_file(path: Path, wait_seconds: float, what: str) -> Iterator[None]:
    """An exclusive lock across processes (flock), held for the block; names its holder when refused."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as handle:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WarehouseBusy(
                        f"{what} is in use by {_holder(handle)}; try again when it has finished"
                    ) from None
                time.sleep(0.2)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)
            fcntl.flock(handle, fcntl.LOCK_UN)


def _holder(handle: IO[str]) -> str:
    """Who holds a lock, as its holder wrote it just after taking it (give it a moment to have written)."""
    for _ in range(10):
        handle.seek(0)
        holder = handle.read().strip()
        if holder:
            return holder
        time.sleep(0.05)
    return "another process"


def lock_writer(settings: Settings, wait_seconds: float = 0.0) -> contextlib.AbstractContextManager[None]:
    """Exclusive right to write the warehouse, across processes (Airflow tasks, command-line runs)."""
    return lock_file(
        settings.warehouse_file.with_suffix(".lock"), wait_seconds, f"the warehouse {settings.warehouse_file}"
    )


@contextlib.contextmanager
def open_warehouse(settings: Settings, wait_seconds: float = 0.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """The warehouse, opened for writing under the writer lock, with its schema in place."""
    settings.warehouse_file.parent.mkdir(mode=PRIVATE_MODE, parents=True, exist_ok=True)
    restrict_data_folders(settings)
    with lock_writer(settings, wait_seconds):
        disclosure_key(settings)  # made with the warehouse: every later release's keyed hashes use it
        config = {"storage_compatibility_version": STORAGE_VERSION}  # read by the analysts' CLI (snapshot.py)
        con = configure_connection(duckdb.connect(str(settings.warehouse_file), config=config), settings)
        try:
            schema = (SCHEMAS_DIR / "warehouse.sql").read_text(encoding="utf-8")
            con.execute(schema)
            if move_usage_table(con, settings):
                con.execute(schema)  # core.usage's empty shape, should the moved table have had no rows
            define_usage_view(con, settings)  # names every file again: the data folder may have moved
            yield con
        finally:
            con.close()


def restrict_data_folders(settings: Settings) -> None:
    """Close the private data folders (``PRIVATE_FOLDERS``) that exist to other users (at every ingest, load
    and publish; a folder appears only when something goes in it: an empty quarantine blames no file)."""
    for name in PRIVATE_FOLDERS:
        folder = settings.data_dir / name
        if folder.is_dir():
            folder.chmod(PRIVATE_MODE)


def read_sql(name: str) -> str:
    """The text of a named SQL file: ``statistics/cells`` → ``pipelines/statistics/sql/cells.sql``."""
    stage, _, file = name.partition("/")
    return (PACKAGE_DIR / stage / "sql" / f"{file}.sql").read_text(encoding="utf-8")


def quote_literal(value: str) -> str:
    """A quoted SQL string literal, for the few statements that cannot bind parameters (view definitions)."""
    return "'" + value.replace("'", "''") + "'"


def fetch_first_row(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> tuple | None:
    """The first row of a short query, or None; the whole result is consumed (DuckDB wants that before the
    next statement on the connection)."""
    rows = con.sql(sql, params=params).fetchall()
    return rows[0] if rows else None


def run_sql(con: duckdb.DuckDBPyConnection, name: str, **params: Any) -> duckdb.DuckDBPyRelation | None:
    """Run a named SQL file with bound parameters (``$name`` in the file); values are never spliced in.

    A query comes back as a relation (consume it before the next statement); other statements run now.
    """
    return con.sql(read_sql(name), params=params or None)
