"""The analyst snapshot: a read-only copy of the warehouse, with documented views, replaced atomically.

DuckDB lets no reader open a file while a writer holds it, so analysts never query the warehouse itself:
after each publish, the writer adds the documented ``analyst`` views, checkpoints (the file alone then holds
everything) and copies the file to ``<data>/analyst/tokenstats.duckdb`` through a temporary name and a
rename, so a reader sees the old snapshot or the new one, never half of one. A file copy costs what the
disk does, not a re-encoding of every row. The warehouse is written in an older storage format
(``warehouse.STORAGE_VERSION``) so the stock DuckDB CLI analysts install (1.4 and later) opens the copy.
The snapshot is internal: it holds provider-level rows. Releases never do.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb

from pipelines.config import Settings, UsageError
from pipelines.failpoints import crash_point
from pipelines.warehouse import sql_text


def refresh_snapshot(con: duckdb.DuckDBPyConnection, settings: Settings) -> Path:
    """Copy the warehouse, open for writing on ``con`` (under the writer lock), into a new analyst snapshot."""
    target = settings.analyst_file
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    con.execute(sql_text("snapshot/analyst_views"))
    con.execute("checkpoint")
    crash_point("snapshot.after_checkpoint")
    shutil.copyfile(settings.warehouse_file, tmp)
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
