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
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa

from pipelines.contract.reasons import write_json
from pipelines.core.config import Settings, UsageError, disclosure_key
from pipelines.core.database import run_sql
from pipelines.core.failpoints import crash_point
from pipelines.release.plan import ReleasePlan, list_published_versions, plan_releases, read_manifest
from pipelines.release.price_index_record import build_price_index, read_index_publications
from pipelines.release.release_check import MANIFEST, read_release_table
from pipelines.release.revisions import build_revision_analysis, build_revision_triangle
from pipelines.release.series import build_series
from pipelines.release.tables import build_release_tables
from pipelines.statistics.cells import DIMENSIONS
from pipelines.statistics.disclosure import Published, protect_record
from pipelines.statistics.imputation import measure_coverage, read_estimated_contributions
from pipelines.statistics.marts import TABLES, build_marts, group_cells, read_month_contributions
from pipelines.statistics.primary import Rules

CERTIFICATE = ".disclosure_certificate.json"  # staged by the exports, folded into the manifest by finalize


def build_month_cells(con: duckdb.DuckDBPyConnection, period: str) -> int:
    """Stage "marts": every cell of the month, unprotected, into ``mart.cells``; returns the cell count."""
    return build_marts(con, period).height


def protect_month(con: duckdb.DuckDBPyConnection, period: str, settings: Settings) -> dict[str, int]:
    """Stage "disclosure": flag the month's cells in ``mart.cells``, protected together with every version of the
    month already published; keeps the audit's certificate for the manifest. Returns the count of each flag."""
    if run_sql(con, "release/month_cells", period=period).pl().is_empty():
        raise UsageError(f"no cells for {period}: build the marts first")
    rules = Rules.from_settings(settings)
    cell_groups, earlier, contributions = read_record(con, period, settings)
    protected, certificate = protect_record(cell_groups, earlier, rules, atoms=contributions)
    con.register("flags", protected.select(*DIMENSIONS, "conf_status"))
    try:
        run_sql(con, "release/store_flags", period=period)
    finally:
        con.unregister("flags")
    record = {**certificate.to_json(), "rules_hash": rules.digest(disclosure_key(settings))}
    run_sql(con, "release/store_certificate", period=period, certificate=json.dumps(record, sort_keys=True))
    return dict(protected.group_by("conf_status").len().iter_rows())


def read_record(
    con: duckdb.DuckDBPyConnection, period: str, settings: Settings, version: int | None = None
) -> tuple[pl.DataFrame, list[Published], pl.DataFrame]:
    """What the month's disclosure audit takes: the cell groups of the version to protect, every version before
    it as published, and its contributions (the atoms). By default the next version, from ``mart.contributions``;
    ``version``: one already published, from its manifest's inputs (``bench/replay.py`` replays its audit)."""
    releases = {int(r.name[1:]): r for r in list_published_versions(settings, period)}
    if version is None:
        current = con.sql(
            "select * exclude (reference_period) from mart.contributions where reference_period = $period",
            params={"period": period},
        ).to_arrow_table()
    else:
        current = _contributions_of(con, period, read_manifest(releases[version])["inputs"])
    earlier = []
    for number, release in sorted(releases.items()):
        if version is not None and number >= version:
            break
        contributions = _contributions_of(con, period, read_manifest(release)["inputs"])
        earlier.append(
            Published(number, group_cells(con, contributions), _published_flags(release), pl.from_arrow(contributions))
        )
    return group_cells(con, current), earlier, pl.from_arrow(current)


def _contributions_of(con: duckdb.DuckDBPyConnection, period: str, inputs: dict) -> pa.Table:
    """An earlier release's contributions, recomputed from the submissions and estimates its manifest lists."""
    return read_month_contributions(con, period, tuple(inputs["submissions"]), tuple(inputs.get("estimates", ())))


def _cell_coverage(con: duckdb.DuckDBPyConnection, plan: ReleasePlan, rules: Rules) -> pl.DataFrame | None:
    """The cells the release's estimates enter, with their coverage ratio (imputation.py); None without any."""
    if not plan.inputs.estimates:
        return None
    reported = read_month_contributions(con, plan.info.period, plan.inputs.submissions)
    estimated = read_estimated_contributions(con, plan.inputs.estimates)
    return measure_coverage(group_cells(con, reported), group_cells(con, estimated), rules)


def _published_flags(release: Path) -> dict[tuple, str]:
    """The flag of every cell a release published, by cell key."""
    tables = [t for t in (read_release_table(release, name) for name in TABLES) if t is not None]
    cells = pl.concat([t.select(*DIMENSIONS, "conf_status") for t in tables]).unique(subset=list(DIMENSIONS))
    return {row[:-1]: row[-1] for row in cells.iter_rows()}


def export_release(con: duckdb.DuckDBPyConnection, plan: ReleasePlan, settings: Settings) -> Path:
    """Stage "exports": the tables as CSV, Parquet, XLSX and SDMX into the staging folder."""
    from pipelines.release.formats.price_index_sdmx import write_price_index_sdmx
    from pipelines.release.formats.sdmx import write_sdmx
    from pipelines.release.formats.workbook import write_workbook

    info = plan.info
    cells = run_sql(con, "release/month_cells", period=info.period).pl().drop("reference_period")
    if cells.is_empty() or cells["conf_status"].null_count():
        raise RuntimeError(f"the cells of {info.period} are not all protected: run disclosure control first")
    previous = settings.published_dir / info.period / f"v{info.previous_version}" if info.previous_version else None
    estimated = _cell_coverage(con, plan, Rules.from_settings(settings))
    tables = build_release_tables(cells, info, plan.coverage, plan.previous_month, previous, estimated)
    submissions = (*plan.inputs.submissions, *plan.inputs.earlier_submissions)
    published = read_index_publications(settings)
    tables["price_index"] = build_price_index(con, info, submissions, Rules.from_settings(settings), published)
    tables |= build_series(tables, info, plan.series_sources)
    analysis = build_revision_analysis(tables, info, plan.series_sources, plan.staging)
    triangle = {}
    if analysis is not None:
        tables["revision_analysis"] = analysis
        triangle["revision_triangle"] = build_revision_triangle(tables["national"], info, plan.series_sources)
    shutil.rmtree(plan.staging, ignore_errors=True)  # whatever a failed attempt left
    (plan.staging / "tables").mkdir(parents=True)
    for name, table in tables.items():
        table.write_csv(plan.staging / "tables" / f"{name}.csv")
        table.write_parquet(plan.staging / "tables" / f"{name}.parquet", compression="zstd", statistics=False)
        crash_point("release.table_written")
    write_workbook(plan.staging / f"tokenstats_{info.period}_v{info.version}.xlsx", tables | triangle, info)
    write_sdmx(plan.staging / "sdmx", tables, info)
    write_price_index_sdmx(plan.staging / "sdmx", tables["price_index"], info)
    certificate = run_sql(con, "release/month_certificate", period=info.period).fetchall()
    (plan.staging / CERTIFICATE).write_text(certificate[0][0] if certificate else "null", encoding="utf-8")
    crash_point("release.after_exports")
    return plan.staging


def write_release_bulletin(plan: ReleasePlan) -> Path:
    """Stage "bulletin": the HTML bulletin, from the staged tables."""
    from pipelines.release.formats.bulletin import write_bulletin

    tables = {p.stem: pl.read_parquet(p) for p in sorted((plan.staging / "tables").glob("*.parquet"))}
    return write_bulletin(plan.staging / "bulletin.html", tables, plan.info)


def finalize_release(plan: ReleasePlan, created_at: dt.datetime) -> Path:
    """Stage "release": write the manifest and move the staged folder into place, atomically."""
    target = plan.staging.parent / f"v{plan.info.version}"
    if (target / MANIFEST).exists():  # a retry after the rename: the release is already out
        return target
    info, folder = plan.info, plan.staging
    staged = folder / CERTIFICATE
    # A retry after the certificate was folded in finds it in the staged manifest.
    certificate = (
        json.loads(staged.read_text(encoding="utf-8")) if staged.exists() else read_manifest(folder)["disclosure"]
    )
    files = [
        {
            "path": p.relative_to(folder).as_posix(),
            "sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
            "bytes": p.stat().st_size,
            "rows": _rows(p),
        }
        for p in sorted(p for p in folder.rglob("*") if p.is_file() and p.name not in (MANIFEST, CERTIFICATE))
    ]
    write_json(
        folder / MANIFEST,
        {
            "reference_period": info.period,
            "version": info.version,
            "status": info.status,
            "revises": f"v{info.previous_version}" if info.previous_version else None,
            "created_at": created_at.isoformat(timespec="seconds"),
            "coverage": plan.coverage,
            "inputs": plan.inputs.to_json(),
            "disclosure": certificate,
            "files": files,
        },
    )
    staged.unlink(missing_ok=True)
    crash_point("release.before_rename")
    os.rename(folder, target)
    crash_point("release.after_rename")
    return target


def publish_months(
    con: duckdb.DuckDBPyConnection,
    periods: list[str],
    settings: Settings,
    force: bool = False,
    created_at: dt.datetime | None = None,
) -> list[Path]:
    """Every stage in turn, as the publish DAG runs them (the command line); the releases written, none for
    a month whose inputs have not changed since its latest release."""
    plans = plan_releases(con, periods, settings, force)
    for plan in plans:
        build_month_cells(con, plan.info.period)
        crash_point("publish.after_marts")
        protect_month(con, plan.info.period, settings)
        crash_point("publish.after_disclosure")
    for plan in plans:  # oldest first: a month's exports read the previous month's staged tables
        export_release(con, plan, settings)
        write_release_bulletin(plan)
        crash_point("release.after_bulletin")
    return [finalize_release(plan, created_at or dt.datetime.now(dt.UTC)) for plan in plans]


def _rows(path: Path) -> int | None:
    if path.suffix == ".parquet":
        return pl.scan_parquet(path).select(pl.len()).collect().item()
    if path.suffix == ".csv":
        with path.open("rb") as f:
            return max(sum(1 for _ in f) - 1, 0)
    return None
