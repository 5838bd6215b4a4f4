"""Vintages: every published version of every free cell, with its release and creation time (what was known when).

Read from the published releases themselves (each file verified against its manifest, as any earlier release
is read), never from the warehouse: a vintage is exactly what users were given. The analyst snapshot holds
them as ``analyst.vintages``, with ``analyst.releases`` (one row per release) and ``analyst.series`` (every
cell as the latest release of its month states it).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import polars as pl

from pipelines.core.config import Settings
from pipelines.release.release_check import MANIFEST, read_release_table
from pipelines.release.release_model import MEASURES
from pipelines.statistics.cells import DIMENSIONS
from pipelines.statistics.marts import TABLES

RELEASE_COLUMNS = {
    "reference_period": pl.String,
    "version": pl.Int64,
    "status": pl.String,
    "created_at": pl.Datetime("us", "UTC"),
}


def read_releases(settings: Settings) -> list[Path]:
    """Every complete release folder (one with a manifest), month by month, oldest version first."""
    folders = [p for p in settings.published_dir.glob("????-??/v*") if p.name[1:].isdigit() and (p / MANIFEST).exists()]
    return sorted(folders, key=lambda p: (p.parent.name, int(p.name[1:])))


def read_vintages(releases: list[Path]) -> pl.DataFrame:
    """The free cells of every release (each cell once per release), keyed by month and version."""
    frames = []
    for folder in releases:
        tables = [t for t in (read_release_table(folder, name) for name in TABLES) if t is not None]
        if not tables:
            continue
        cells = pl.concat(tables, how="diagonal_relaxed").unique(subset=list(DIMENSIONS), keep="first")
        frames.append(
            cells.filter(pl.col("conf_status") == "F").with_columns(version=pl.lit(int(folder.name[1:]), pl.Int64))
        )
    if not frames:
        return pl.DataFrame()
    rows = pl.concat(frames, how="diagonal_relaxed")
    first = ["reference_period", "version", *DIMENSIONS]
    return rows.select(*first, pl.exclude(*first)).sort(first)


def describe_releases(releases: list[Path]) -> pl.DataFrame:
    """One row per release: month, version, status and creation time, from its manifest."""
    rows = []
    for folder in releases:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))  # the root its files are checked on
        created = dt.datetime.fromisoformat(manifest["created_at"]).astimezone(dt.UTC)
        rows.append((manifest["reference_period"], manifest["version"], manifest["status"], created))
    return pl.DataFrame(rows, schema=RELEASE_COLUMNS, orient="row")


def store_vintages(con: duckdb.DuckDBPyConnection, settings: Settings) -> int:
    """Replace ``record.releases`` and ``record.vintages`` in the warehouse; returns the count of vintages."""
    releases = read_releases(settings)
    vintages = read_vintages(releases)
    con.register("releases", describe_releases(releases))
    con.register("vintages", vintages if vintages.width else _empty_vintages())
    try:
        con.execute("create schema if not exists record")
        con.execute("create or replace table record.releases as select * from releases")
        con.execute("create or replace table record.vintages as select * from vintages")
    finally:
        con.unregister("releases")
        con.unregister("vintages")
    return vintages.height


def _empty_vintages() -> pl.DataFrame:
    """No release yet: the columns of a vintage, so the analyst views still resolve."""
    keys = {"reference_period": pl.String, "version": pl.Int64, **dict.fromkeys(DIMENSIONS, pl.String)}
    flags = {"obs_status": pl.String, "conf_status": pl.String}
    return pl.DataFrame(schema={**keys, **dict.fromkeys(MEASURES, pl.Float64), **flags})
