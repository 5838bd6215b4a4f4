"""The analyst snapshot: a read-only DuckDB file of the warehouse, with documented views, swapped atomically.

DuckDB lets no reader open a file while a writer holds it, so analysts never query the warehouse itself. They
open ``<data>/analyst/tokenstats.duckdb``, a symbolic link to one of two generations,
``<data>/analyst/generations/{a,b}.duckdb``. After each publish the writer brings the generation analysts are
*not* pointed at up to date and swaps the link onto it (a rename), so a reader sees the old snapshot or the new
one, never half of one, and a reader that opened the old one keeps it until it closes.

Bringing a generation up to date copies no row: the rows of accepted reports live in the bureau's own Parquet
files, one per report (``core/usage_store.py``), and the generation's ``core.usage`` is the warehouse's view
over them; only the small tables (ledger, code lists, marts, the published record) are replaced whole. So its
cost does not grow with the warehouse, and a generation an analyst still holds open from two publishes ago is
simply unlinked (the analyst keeps reading it) and written afresh. Both generations are written in an older
storage format (``core.database.STORAGE_VERSION``) so the stock DuckDB CLI analysts install (1.4 and later)
opens them. The snapshot is internal: it holds provider-level rows. Releases never do.

``tokenstats query`` runs the analyst's SQL in a locked-down connection: the snapshot read-only, no file
read but the snapshot and the rows' folder (no ``read_text`` elsewhere, ``COPY``, ``EXPORT``, ``ATTACH`` of
another file, extension install or load), configuration locked (no ``SET`` can undo any of it), memory and
threads bounded, no spilling to disk; and only one read statement (``SELECT``, ``DESCRIBE``, ``SHOW``,
``SUMMARIZE``) is accepted at all. The file itself is readable by its owner and group only
(``SNAPSHOT_MODE``): analysts are given the group, which reads the rows' files too.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import duckdb

from pipelines.core.config import Settings, UsageError
from pipelines.core.database import PRIVATE_MODE, STORAGE_VERSION, quote_literal, read_sql
from pipelines.core.failpoints import crash_point
from pipelines.release.vintages import store_vintages

SNAPSHOT_MODE = 0o640  # owner (the pipeline) and group (analysts); nobody else
GENERATIONS = ("a", "b")  # the snapshot analysts open is one; the next publish writes the other
SNAPSHOT = "snapshot"  # the generation being written, as attached to the writer's connection
# The one statement type an analyst may run (DESCRIBE, SHOW, SUMMARIZE and FROM-first queries are SELECTs).
# Everything else (COPY, ATTACH, PRAGMA, SET, LOAD, CALL, EXPORT, CREATE, and EXPLAIN, whose ANALYZE form runs
# any statement) is refused before DuckDB sees it; DuckDB's own lock-down below would hold even if not.


def refresh_snapshot(con: duckdb.DuckDBPyConnection, settings: Settings) -> Path:
    """Bring the generation analysts are not reading up to date from the warehouse, open for writing on
    ``con`` (under the writer lock), and point the analysts' snapshot at it."""
    target = settings.analyst_file
    folder = target.parent / "generations"
    folder.mkdir(mode=PRIVATE_MODE, parents=True, exist_ok=True)
    for path in (target.parent, folder):
        path.chmod(PRIVATE_MODE)
    store_vintages(con, settings)  # what every release published, for analyst.vintages and analyst.series
    generation = folder / f"{_next_generation(target)}.duckdb"
    _attach_generation(con, generation)
    try:
        _update_generation(con)
        con.execute(f"checkpoint {SNAPSHOT}")
    finally:
        con.execute(f"detach {SNAPSHOT}")
    crash_point("snapshot.after_checkpoint")
    generation.chmod(SNAPSHOT_MODE)
    link = target.with_name(f".{target.name}.tmp")
    link.unlink(missing_ok=True)
    link.symlink_to(generation.relative_to(target.parent))
    crash_point("snapshot.before_replace")
    os.replace(link, target)
    crash_point("snapshot.after_replace")
    return target


def _next_generation(target: Path) -> str:
    """The generation analysts are not pointed at (a snapshot of the older, copied layout counts as none)."""
    current = Path(os.readlink(target)).stem if target.is_symlink() else None
    return GENERATIONS[1] if current == GENERATIONS[0] else GENERATIONS[0]


def _attach_generation(con: duckdb.DuckDBPyConnection, generation: Path) -> None:
    """Attach a generation for writing; one an analyst still holds open is unlinked and started afresh."""
    attach = f"attach {quote_literal(str(generation))} as {SNAPSHOT} (storage_version {quote_literal(STORAGE_VERSION)})"
    try:
        con.execute(attach)
    except duckdb.IOException:  # the lock of a reader from two publishes ago: it keeps its file, we take a new one
        generation.unlink()
        generation.with_name(f"{generation.name}.wal").unlink(missing_ok=True)
        con.execute(attach)


def _update_generation(con: duckdb.DuckDBPyConnection) -> None:
    """In one transaction of the generation: replace every table, recreate the warehouse's views (core.usage
    first: others read it) and the documented analyst views."""
    warehouse = con.sql("select current_database()").fetchall()[0][0]
    tables = con.sql(
        "select schema_name, table_name from duckdb_tables() where database_name = $db order by all",
        params={"db": warehouse},
    ).fetchall()
    views = con.sql(
        "select schema_name, view_name, sql from duckdb_views() "
        "where database_name = $db and not internal and schema_name <> 'analyst' "
        "order by (schema_name, view_name) <> ('core', 'usage'), view_oid",
        params={"db": warehouse},
    ).fetchall()
    con.execute("begin")
    try:
        for schema in sorted({s for s, _ in tables} | {s for s, _, _ in views} | {"analyst"}):
            con.execute(f"create schema if not exists {SNAPSHOT}.{_name(schema)}")
        _drop_copied_usage(con)
        for schema, table in tables:
            name = f"{_name(schema)}.{_name(table)}"
            con.execute(f"create or replace table {SNAPSHOT}.{name} as from {name}")
        con.execute(f"use {SNAPSHOT}")  # views bind to the names of the generation they live in
        for schema, view, sql in views:
            con.execute(f"drop view if exists {_name(schema)}.{_name(view)}")
            con.execute(sql)
        con.execute(read_sql("release/analyst_views"))
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        con.execute(f"use {_name(warehouse)}")


def _drop_copied_usage(con: duckdb.DuckDBPyConnection) -> None:
    """A generation from before the rows were kept in files holds them as a table: the view replaces it."""
    copied = con.sql(
        "select 1 from duckdb_tables() where database_name = $db and schema_name = 'core' and table_name = 'usage'",
        params={"db": SNAPSHOT},
    ).fetchall()
    if copied:
        con.execute(f"drop table {SNAPSHOT}.core.usage")


def _name(identifier: str) -> str:
    """A quoted SQL identifier (schema, table and view names come from the catalog, never from users)."""
    return '"' + identifier.replace('"', '""') + '"'


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
    # Set after connecting, before the configuration is locked: DuckDB takes the one folder it may read only
    # while file access is still on, and the progress bar is a session setting (DuckDB draws it on stdout,
    # into the CSV or JSON, once a query has run two seconds). A second connection in one process shares
    # the database, locked already by the first (the command line makes one).
    if not con.execute("select current_setting('lock_configuration')").fetchall()[0][0]:
        con.execute(f"set allowed_directories = [{quote_literal(f'{settings.usage_dir}{os.sep}')}]")
        con.execute("set enable_external_access = false")  # no file but the snapshot and the rows' files
        con.execute("set enable_progress_bar = false")
        con.execute("set lock_configuration = true")
    return con.sql(sql)


def _sandbox_config(settings: Settings) -> dict[str, Any]:
    """DuckDB settings of the analyst's connection, fixed at connect time (``query_snapshot`` then turns file
    access off and locks the configuration: SET, PRAGMA and RESET can change none of them)."""
    config: dict[str, Any] = {
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "allow_community_extensions": False,
        "allow_unsigned_extensions": False,
        "temp_directory": "",  # no spilling: a query beyond the memory limit fails instead of writing
        "memory_limit": settings.duckdb_memory_limit,
    }
    config["threads"] = settings.duckdb_threads or os.cpu_count() or 1
    return config
