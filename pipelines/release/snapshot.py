"""The analyst snapshot: a read-only DuckDB file of the warehouse, with documented views, swapped atomically.

DuckDB lets no reader open a file while a writer holds it, so analysts never query the warehouse itself. They
open ``<data>/analyst/tokenstats.duckdb``, a symbolic link to one of two generations,
``<data>/analyst/generations/{a,b}.duckdb``. After each publish the writer brings the generation analysts are
*not* pointed at up to date and swaps the link onto it (a rename), so a reader sees the old snapshot or the new
one, never half of one, and a reader that opened the old one keeps it until it closes.

Bringing a generation up to date costs what changed, not the size of the warehouse: accepted reports are
immutable and keyed by their sha256, so only the rows of submissions the generation does not hold yet are
appended (each read from the warehouse by its submission id, which its row groups' min/max statistics find
without scanning the rest); the small tables (ledger, code lists, marts, the published record) are replaced
whole. Should an analyst still hold that generation open from two publishes ago, it is unlinked (the analyst
keeps reading it) and rebuilt from scratch: the only case that copies every row. Both generations are written
in an older storage format (``core.database.STORAGE_VERSION``) so the stock DuckDB CLI analysts install (1.4
and later) opens them. The snapshot is internal: it holds provider-level rows. Releases never do.

``tokenstats query`` runs the analyst's SQL in a locked-down connection: the snapshot read-only, no file
system access (no ``read_text``, ``COPY``, ``EXPORT``, ``ATTACH`` of another file, extension install or
load), configuration locked (no ``SET`` can undo any of it), memory and threads bounded, no spilling to disk;
and only one read statement (``SELECT``, ``DESCRIBE``, ``SHOW``, ``SUMMARIZE``) is accepted at all. The file
itself is readable by its owner and group only (``SNAPSHOT_MODE``): analysts are given the group.
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
# Ledger statuses whose submissions have rows in core.usage (a superseded report was accepted first).
LOADED = "('accepted', 'superseded')"
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
    """In one transaction of the generation: append the rows of submissions it lacks, replace every other
    table, recreate the warehouse's views and the documented analyst views."""
    warehouse = con.sql("select current_database()").fetchall()[0][0]
    tables = con.sql(
        "select schema_name, table_name from duckdb_tables() where database_name = $db order by all",
        params={"db": warehouse},
    ).fetchall()
    views = con.sql(
        "select schema_name, view_name, sql from duckdb_views() "
        "where database_name = $db and not internal and schema_name <> 'analyst' order by view_oid",
        params={"db": warehouse},
    ).fetchall()
    con.execute("begin")
    try:
        for schema in sorted({s for s, _ in tables} | {s for s, _, _ in views} | {"analyst"}):
            con.execute(f"create schema if not exists {SNAPSHOT}.{_name(schema)}")
        con.execute(f"create table if not exists {SNAPSHOT}.core.usage as from core.usage limit 0")
        con.execute(f"create table if not exists {SNAPSHOT}.core.submissions as from core.submissions limit 0")
        _append_new_usage(con)
        for schema, table in tables:
            if (schema, table) != ("core", "usage"):
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


def _append_new_usage(con: duckdb.DuckDBPyConnection) -> None:
    """Append to the generation the rows of every loaded submission its own ledger copy does not list yet."""
    new = con.sql(
        f"select submission_id from core.submissions where status in {LOADED} "
        f"except select submission_id from {SNAPSHOT}.core.submissions where status in {LOADED} order by 1"
    ).fetchall()
    for (submission_id,) in new:  # one equality each: the scan skips every row group of other submissions
        con.execute(
            f"insert into {SNAPSHOT}.core.usage by name from core.usage where submission_id = $id",
            {"id": submission_id},
        )


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
    # A session setting (no connect-time option), so set before the configuration is locked: DuckDB draws its
    # progress bar on stdout, into the CSV or JSON, once a query has run two seconds. A second connection in
    # one process shares the database, locked already by the first (the command line makes one).
    if not con.execute("select current_setting('lock_configuration')").fetchall()[0][0]:
        con.execute("set enable_progress_bar = false")
        con.execute("set lock_configuration = true")
    return con.sql(sql)


def _sandbox_config(settings: Settings) -> dict[str, Any]:
    """DuckDB settings of the analyst's connection, fixed at connect time (``query_snapshot`` then locks the
    configuration: SET, PRAGMA and RESET can change none of them)."""
    config: dict[str, Any] = {
        "enable_external_access": False,  # no file but the snapshot: read_*, COPY, EXPORT, ATTACH, INSTALL
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "allow_community_extensions": False,
        "allow_unsigned_extensions": False,
        "temp_directory": "",  # no spilling: a query beyond the memory limit fails instead of writing
        "memory_limit": settings.duckdb_memory_limit,
    }
    config["threads"] = settings.duckdb_threads or os.cpu_count() or 1
    return config
