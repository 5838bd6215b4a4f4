"""The analyst snapshot: a read-only copy of the warehouse, with documented views, replaced atomically.

DuckDB lets no reader open a file while a writer holds it, so analysts never query the warehouse itself:
after each publish the warehouse is copied into ``<data>/analyst/tokenstats.duckdb`` (through a temporary
file and a rename, so a reader sees the old snapshot or the new one, never half of one). The file uses
an older storage format so the stock DuckDB CLI that analysts install (1.4 and later) can open it.
The snapshot is internal: it holds provider-level rows. Releases never do.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from pipelines.config import Settings, UsageError
from pipelines.failpoints import crash_point
from pipelines.warehouse import sql_text

# The oldest storage format our analysts' DuckDB CLI reads (duckdb-cli 1.4 on PyPI reads v1.4.0).
STORAGE_VERSION = "v1.4.0"
SNAPSHOT_ALIAS = "snapshot"


def refresh_snapshot(con: duckdb.DuckDBPyConnection, settings: Settings) -> Path:
    """Copy the open warehouse into a new analyst snapshot and swap it into place."""
    target = settings.analyst_file
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.unlink(missing_ok=True)
    source = con.sql("select current_database()").fetchall()[0][0]
    con.execute(f"attach '{_quote(tmp)}' as {SNAPSHOT_ALIAS} (storage_version '{STORAGE_VERSION}')")
    try:
        crash_point("snapshot.after_attach")
        con.execute(f"copy from database {source} to {SNAPSHOT_ALIAS}")
        crash_point("snapshot.after_copy")
        con.execute(f"use {SNAPSHOT_ALIAS}")
        try:
            con.execute(sql_text("snapshot/analyst_views"))
        finally:
            con.execute(f"use {source}")
    finally:
        con.execute(f"detach {SNAPSHOT_ALIAS}")
    crash_point("snapshot.before_replace")
    os.replace(tmp, target)
    crash_point("snapshot.after_replace")
    return target


def query_snapshot(settings: Settings, sql: str) -> duckdb.DuckDBPyRelation:
    """Run read-only SQL on the analyst snapshot (what ``tokenstats query`` does)."""
    if not settings.analyst_file.exists():
        raise UsageError(f"no analyst snapshot yet at {settings.analyst_file}; run `tokenstats publish`")
    con = duckdb.connect(str(settings.analyst_file), read_only=True)
    return con.sql(sql)


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")
