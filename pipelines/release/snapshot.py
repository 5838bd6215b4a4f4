"""The analyst snapshot: a read-only copy of the warehouse, with documented views, replaced atomically.

DuckDB lets no reader open a file while a writer holds it, so analysts never query the warehouse itself:
after each publish, the writer adds the documented ``analyst`` views, checkpoints (the file alone then holds
everything) and copies the file to ``<data>/analyst/tokenstats.duckdb`` through a temporary name and a
rename, so a reader sees the old snapshot or the new one, never half of one. A file copy costs what the
disk does, not a re-encoding of every row. The warehouse is written in an older storage format
(``core.database.STORAGE_VERSION``) so the stock DuckDB CLI analysts install (1.4 and later) opens the copy.
The snapshot is internal: it holds provider-level rows. Releases never do.

``tokenstats query`` runs the analyst's SQL in a locked-down connection: the snapshot read-only, no file
system access (no ``read_text``, ``COPY``, ``EXPORT``, ``ATTACH`` of another file, extension install or
load), configuration locked (no ``SET`` can undo any of it), memory and threads bounded, no spilling to disk;
and only one read statement (``SELECT``, ``DESCRIBE``, ``SHOW``, ``SUMMARIZE``) is accepted at all. The file
itself is readable by its owner and group only (``SNAPSHOT_MODE``): analysts are given the group.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import duckdb

from pipelines.core.config import Settings, UsageError
from pipelines.core.database import PRIVATE_MODE, read_sql
from pipelines.core.failpoints import crash_point
from pipelines.release.vintages import store_vintages

SNAPSHOT_MODE = 0o640  # owner (the pipeline) and group (analysts); nobody else
# The one statement type an analyst may run (DESCRIBE, SHOW, SUMMARIZE and FROM-first queries are SELECTs).
# Everything else (COPY, ATTACH, PRAGMA, SET, LOAD, CALL, EXPORT, CREATE, and EXPLAIN, whose ANALYZE form runs
# any statement) is refused before DuckDB sees it; DuckDB's own lock-down below would hold even if not.


def refresh_snapshot(con: duckdb.DuckDBPyConnection, settings: Settings) -> Path:
    """Copy the warehouse, open for writing on ``con`` (under the writer lock), into a new analyst snapshot."""
    target = settings.analyst_file
    target.parent.mkdir(mode=PRIVATE_MODE, parents=True, exist_ok=True)
    target.parent.chmod(PRIVATE_MODE)
    tmp = target.with_name(f".{target.name}.tmp")
    store_vintages(con, settings)  # what every release published, for analyst.vintages and analyst.series
    con.execute(read_sql("release/analyst_views"))
    con.execute("checkpoint")
    crash_point("snapshot.after_checkpoint")
    shutil.copyfile(settings.warehouse_file, tmp)
    tmp.chmod(SNAPSHOT_MODE)
    crash_point("snapshot.before_replace")
    os.replace(tmp, target)
    crash_point("snapshot.after_replace")
    return target


def query_snapshot(settings: Settings, sql: str) -> duckdb.DuckDBPyRelation:
    """Run one read statement on the analyst snapshot, sandboxed (what ``tokenstats query`` does)."""
    statements = duckdb.extract_statements(sql)  # parse errors surface here, as duckdb.Error
    if len(statements) != 1:
        raise UsageError(f"give one SQL statement, not {len(statements)}")
    if statements[0].type != duckdb.StatementType.SELECT:
        raise UsageError(
            f"the snapshot is read-only: one SELECT (or DESCRIBE, SHOW, SUMMARIZE) runs, not {statements[0].type.name}"
        )
    if not settings.analyst_file.exists():
        raise UsageError(f"no analyst snapshot yet at {settings.analyst_file}; run `tokenstats publish`")
    con = duckdb.connect(str(settings.analyst_file), read_only=True, config=_sandbox_config(settings))
    return con.sql(sql)


def _sandbox_config(settings: Settings) -> dict[str, Any]:
    """DuckDB settings of the analyst's connection, fixed at connect time and locked."""
    config: dict[str, Any] = {
        "enable_external_access": False,  # no file but the snapshot: read_*, COPY, EXPORT, ATTACH, INSTALL
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "allow_community_extensions": False,
        "allow_unsigned_extensions": False,
        "temp_directory": "",  # no spilling: a query beyond the memory limit fails instead of writing
        "memory_limit": settings.duckdb_memory_limit,
        "lock_configuration": True,  # SET, PRAGMA and RESET can change none of these
    }
    config["threads"] = settings.duckdb_threads or os.cpu_count() or 1
    return config
