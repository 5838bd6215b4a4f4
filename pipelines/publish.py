"""Releases: the protected cells of a month, as immutable, versioned folders for regulators.

``data/published/<YYYY-MM>/v<N>/`` holds ``tables/<name>.csv|.parquet``, ``tokenstats_<YYYY-MM>_v<N>.xlsx``,
``sdmx/`` (SDMX-CSV 2.0 and its structure), ``bulletin.html`` and ``manifest.json``. A release is built in a
hidden staging folder and renamed into place once complete, so no half-written release is ever visible.

The folders are the record: the latest version's manifest says which inputs it used, so publishing again
with the same inputs writes nothing, and new or corrected submissions write the next version, with a
``revisions`` table against the previous one. Data files depend only on the inputs (same inputs, same
bytes); the creation time lives in the manifest alone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

import pipelines
from pipelines.config import Settings, UsageError
from pipelines.contract import load_contract
from pipelines.disclosure import DIMENSIONS, TOTAL, Rules, protect_cells
from pipelines.ledger import coverage_counts, period_status
from pipelines.marts import MEASURES, TABLES, Table, build_marts, slice_tables
from pipelines.periods import previous_period
from pipelines.reasons import write_json
from pipelines.release_model import ReleaseInfo
from pipelines.warehouse import run_sql

MANIFEST = "manifest.json"
CELL_MEASURES = (*MEASURES, "price_per_million_tokens", "share_of_total_pct", "change_on_previous_month_pct")
REVISED_MEASURES = ("total_tokens", "settlement_amount")


@dataclass(frozen=True)
class Inputs:
    """Everything a release's figures depend on; equal inputs give an equal release."""

    period: str
    submissions: tuple[str, ...]  # accepted, current submission ids of the month
    previous_month_release: str | None  # e.g. "2026-09/v2": the base of change on the previous month
    pipeline_version: str
    contract_version: str

    def to_json(self) -> dict:
        return {
            "submissions": list(self.submissions),
            "previous_month_release": self.previous_month_release,
            "pipeline_version": self.pipeline_version,
            "contract_version": self.contract_version,
        }


def release_inputs(con: duckdb.DuckDBPyConnection, period: str, settings: Settings) -> Inputs:
    ids = run_sql(con, "publish/current_submissions", period=period).fetchall()
    previous = latest_release(settings, previous_period(period))
    return Inputs(
        period=period,
        submissions=tuple(sorted(row[0] for row in ids)),
        previous_month_release=f"{previous.parent.name}/{previous.name}" if previous else None,
        pipeline_version=pipelines.__version__,
        contract_version=load_contract().version,
    )


def latest_release(settings: Settings, period: str) -> Path | None:
    """The newest complete release folder of a month (one with a manifest), if any."""
    folder = settings.published_dir / period
    versions = [p for p in folder.glob("v*") if p.name[1:].isdigit() and (p / MANIFEST).exists()]
    return max(versions, key=lambda p: int(p.name[1:]), default=None)


def needs_release(settings: Settings, inputs: Inputs) -> bool:
    latest = latest_release(settings, inputs.period)
    if latest is None:
        return True
    manifest = json.loads((latest / MANIFEST).read_text(encoding="utf-8"))
    return manifest["inputs"] != inputs.to_json()


def protected_cells(con: duckdb.DuckDBPyConnection, period: str, settings: Settings) -> pl.DataFrame:
    """Build the month's cells and apply disclosure control; the flags are kept in ``mart.cells``."""
    cells = build_marts(con, period)
    rules = Rules(settings.min_contributors, settings.dominance_p_percent, settings.protection_percent)
    protected = protect_cells(cells, rules)
    con.register("flags", protected.select(*DIMENSIONS, "conf_status"))
    try:
        con.execute("alter table mart.cells add column if not exists conf_status varchar")
        run_sql(con, "publish/store_flags", period=period)
    finally:
        con.unregister("flags")
    return protected


def release_tables(
    cells: pl.DataFrame,
    info: ReleaseInfo,
    coverage: dict[str, int],
    previous_month: Path | None,
    previous_version: Path | None,
) -> dict[str, pl.DataFrame]:
    """The published tables: derived measures, flags, suppressed values emptied, revisions from v2."""
    obs_status = "P" if info.provisional else "A"
    tables = {}
    for name, rows in slice_tables(cells).items():
        table = _with_derived_measures(rows, TABLES[name], _read_table(previous_month, name))
        free = pl.col("conf_status") == "F"
        tables[name] = table.select(
            pl.lit(info.period).alias("reference_period"),
            *DIMENSIONS,
            *(pl.when(free).then(pl.col(m)).otherwise(None).alias(m) for m in CELL_MEASURES),
            pl.lit(obs_status).alias("obs_status"),
            "conf_status",
        ).sort(DIMENSIONS)
    tables["coverage"] = pl.DataFrame([{"reference_period": info.period, **coverage}]).cast(
        {k: pl.Int64 for k in coverage}
    )
    if previous_version is not None:
        tables["revisions"] = _revisions(tables, previous_version, info)
    return tables


def _with_derived_measures(rows: pl.DataFrame, table: Table, previous: pl.DataFrame | None) -> pl.DataFrame:
    """Price per million tokens, share of the table's total, change on the previous month's release."""
    grand_total = rows.filter(*(pl.col(d) == TOTAL for d in table.dimensions))
    total = grand_total["total_tokens"][0] if grand_total.height else None
    rows = rows.with_columns(
        price_per_million_tokens=pl.when(pl.col("total_tokens") > 0)
        .then((pl.col("settlement_amount").cast(pl.Float64) * 1e6 / pl.col("total_tokens")).round(4))
        .cast(pl.Decimal(38, 4)),
        share_of_total_pct=(pl.col("total_tokens") / total * 100).round(4) if total else pl.lit(None, pl.Float64),
    )
    if previous is None:
        return rows.with_columns(change_on_previous_month_pct=pl.lit(None, pl.Float64))
    base = previous.filter(pl.col("conf_status") == "F").select(*DIMENSIONS, previous_tokens="total_tokens")
    return (
        rows.join(base, on=list(DIMENSIONS), how="left")
        .with_columns(
            change_on_previous_month_pct=pl.when(pl.col("previous_tokens") > 0)
            .then(((pl.col("total_tokens") / pl.col("previous_tokens") - 1) * 100).round(4))
            .otherwise(None)
        )
        .drop("previous_tokens")
    )


def _revisions(tables: dict[str, pl.DataFrame], previous: Path, info: ReleaseInfo) -> pl.DataFrame:
    """Cells whose value or flag changed since the previous version; a difference only between free cells."""
    new = _unique_cells(tables)
    old = _unique_cells({name: _read_table(previous, name) for name in TABLES})
    frames = []
    for measure in REVISED_MEASURES:
        joined = old.select(*DIMENSIONS, previous_value=measure, previous_conf_status="conf_status").join(
            new.select(*DIMENSIONS, value=measure, conf_status="conf_status"),
            on=list(DIMENSIONS),
            how="full",
            coalesce=True,
        )
        frames.append(
            joined.with_columns(
                pl.lit(measure).alias("measure"),
                pl.col("previous_value").cast(pl.Decimal(38, 4)),
                pl.col("value").cast(pl.Decimal(38, 4)),
            ).filter(
                pl.col("previous_value").ne_missing(pl.col("value"))
                | pl.col("previous_conf_status").ne_missing(pl.col("conf_status"))
            )
        )
    revisions = pl.concat(frames).with_columns(
        reference_period=pl.lit(info.period),
        previous_version=pl.lit(info.previous_version, pl.Int64),
        difference=pl.col("value") - pl.col("previous_value"),
    )
    return revisions.select(
        "reference_period",
        *DIMENSIONS,
        "measure",
        "previous_version",
        "previous_value",
        "value",
        "difference",
        "previous_conf_status",
        "conf_status",
    ).sort(*DIMENSIONS, "measure")


def _unique_cells(tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    cells = [t for name, t in tables.items() if name in TABLES and t is not None]
    return pl.concat(cells, how="vertical_relaxed").unique(subset=list(DIMENSIONS), keep="first")


def _read_table(release: Path | None, name: str) -> pl.DataFrame | None:
    if release is None or not (release / "tables" / f"{name}.parquet").exists():
        return None
    return pl.read_parquet(release / "tables" / f"{name}.parquet")


# --- writing ---------------------------------------------------------------------------------------------


def stage_folder(settings: Settings, info: ReleaseInfo) -> Path:
    return settings.published_dir / info.period / f".v{info.version}.staging"


def write_tables(folder: Path, tables: dict[str, pl.DataFrame]) -> None:
    """CSV and Parquet for each table; the bytes depend on the values only."""
    (folder / "tables").mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        table.write_csv(folder / "tables" / f"{name}.csv")
        table.write_parquet(folder / "tables" / f"{name}.parquet", compression="zstd", statistics=False)


def finalize_release(folder: Path, info: ReleaseInfo, inputs: Inputs, created_at: dt.datetime) -> Path:
    """Write the manifest and move the staged folder into place (atomic); returns the release folder."""
    files = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        files.append(
            {
                "path": path.relative_to(folder).as_posix(),
                "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                "bytes": path.stat().st_size,
                "rows": _rows(path),
            }
        )
    write_json(
        folder / MANIFEST,
        {
            "reference_period": info.period,
            "version": info.version,
            "status": info.status,
            "revises": f"v{info.previous_version}" if info.previous_version else None,
            "created_at": created_at.isoformat(timespec="seconds"),
            "inputs": inputs.to_json(),
            "files": files,
        },
    )
    target = folder.parent / f"v{info.version}"
    os.rename(folder, target)
    return target


def _rows(path: Path) -> int | None:
    if path.suffix == ".parquet":
        return pl.scan_parquet(path).select(pl.len()).collect().item()
    if path.suffix == ".csv":
        with path.open("rb") as f:
            return max(sum(1 for _ in f) - 1, 0)
    return None


def next_version(settings: Settings, period: str) -> tuple[int, Path | None]:
    latest = latest_release(settings, period)
    return (1, None) if latest is None else (int(latest.name[1:]) + 1, latest)


def publish_month(
    con: duckdb.DuckDBPyConnection,
    period: str,
    settings: Settings,
    force: bool = False,
    created_at: dt.datetime | None = None,
) -> Path | None:
    """The whole release for the command line; None when the inputs have not changed since the last one."""
    from pipelines.bulletin import write_bulletin
    from pipelines.sdmx import write_sdmx
    from pipelines.workbook import write_workbook

    inputs = release_inputs(con, period, settings)
    if not inputs.submissions:
        raise UsageError(f"no accepted reports for {period}: nothing to publish")
    if not force and not needs_release(settings, inputs):
        return None
    version, previous = next_version(settings, period)
    info = ReleaseInfo(
        period, version, int(previous.name[1:]) if previous else None, inputs.pipeline_version, inputs.contract_version
    )
    cells = protected_cells(con, period, settings)
    coverage = coverage_counts(period_status(con, period))
    tables = release_tables(cells, info, coverage, latest_release(settings, previous_period(period)), previous)
    folder = stage_folder(settings, info)
    shutil.rmtree(folder, ignore_errors=True)  # what a crashed attempt left
    write_tables(folder, tables)
    write_workbook(folder / f"tokenstats_{period}_v{version}.xlsx", tables, info)
    write_sdmx(folder / "sdmx", tables, info)
    write_bulletin(folder / "bulletin.html", tables, info)
    return finalize_release(folder, info, inputs, created_at or dt.datetime.now(dt.UTC))
