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
import hmac
import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import polars as pl

import pipelines
from pipelines.contract.contract import load_contract
from pipelines.contract.reasons import write_json
from pipelines.contract.reference import load_reference_tables
from pipelines.core.config import Settings, UsageError, disclosure_key
from pipelines.core.database import run_sql
from pipelines.core.failpoints import crash_point
from pipelines.core.periods import previous_period
from pipelines.intake.ledger import COVERAGE_KEYS, coverage_counts, period_status
from pipelines.release.release_check import read_release_table
from pipelines.release.release_model import ReleaseInfo
from pipelines.statistics.disclosure import DIMENSIONS, TOTAL, Published, Rules, protect_record
from pipelines.statistics.marts import (
    MEASURES,
    TABLES,
    build_marts,
    current_submissions,
    group_cells,
    month_contributions,
    slice_tables,
)

MANIFEST = "manifest.json"
CERTIFICATE = ".disclosure_certificate.json"  # staged by the exports, folded into the manifest by finalize
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
    groups: str  # keyed hash of the month's providers' enterprise groups: a merger is a reason to re-protect

    def to_json(self) -> dict:
        return {
            "submissions": list(self.submissions),
            "previous_month_release": self.previous_month_release,
            "pipeline_version": self.pipeline_version,
            "contract_version": self.contract_version,
            "groups": self.groups,
        }


def release_inputs(
    con: duckdb.DuckDBPyConnection, period: str, previous_month_release: str | None, settings: Settings
) -> Inputs:
    memberships = run_sql(con, "release/month_groups", period=period).fetchall()
    return Inputs(
        period=period,
        submissions=current_submissions(con, period),
        previous_month_release=previous_month_release,
        pipeline_version=pipelines.__version__,
        contract_version=load_contract().version,
        groups=hmac.new(disclosure_key(settings), json.dumps(memberships).encode(), hashlib.sha256).hexdigest(),
    )


def latest_release(settings: Settings, period: str) -> Path | None:
    """The newest complete release folder of a month (one with a manifest), if any."""
    versions = published_versions(settings, period)
    return versions[-1] if versions else None


def build_month_cells(con: duckdb.DuckDBPyConnection, period: str) -> int:
    """Stage "marts": every cell of the month, unprotected, into ``mart.cells``; returns the cell count."""
    return build_marts(con, period).height


def protect_month(con: duckdb.DuckDBPyConnection, period: str, settings: Settings) -> dict[str, int]:
    """Stage "disclosure": flag the month's cells in ``mart.cells``, protected together with every version of the
    month already published; keeps the audit's certificate for the manifest. Returns the count of each flag."""
    if run_sql(con, "release/month_cells", period=period).pl().is_empty():
        raise UsageError(f"no cells for {period}: build the marts first")
    stored = con.sql(
        "select * exclude (reference_period) from mart.contributions where reference_period = $period",
        params={"period": period},
    ).to_arrow_table()
    earlier = [
        Published(
            int(release.name[1:]),
            group_cells(con, month_contributions(con, period, tuple(_manifest(release)["inputs"]["submissions"]))),
            _published_flags(release),
        )
        for release in published_versions(settings, period)
    ]
    rules = Rules.from_settings(settings)
    protected, certificate = protect_record(group_cells(con, stored), earlier, rules)
    con.register("flags", protected.select(*DIMENSIONS, "conf_status"))
    try:
        run_sql(con, "release/store_flags", period=period)
    finally:
        con.unregister("flags")
    record = {**certificate.to_json(), "rules_hash": rules.digest(disclosure_key(settings))}
    run_sql(con, "release/store_certificate", period=period, certificate=json.dumps(record, sort_keys=True))
    return dict(protected.group_by("conf_status").len().iter_rows())


def published_versions(settings: Settings, period: str) -> list[Path]:
    """Every complete release folder of a month (one with a manifest), oldest first."""
    folder = settings.published_dir / period
    versions = [p for p in folder.glob("v*") if p.name[1:].isdigit() and (p / MANIFEST).exists()]
    return sorted(versions, key=lambda p: int(p.name[1:]))


def _published_flags(release: Path) -> dict[tuple, str]:
    """The flag of every cell a release published, by cell key."""
    tables = [t for t in (_read_table(release, name) for name in TABLES) if t is not None]
    cells = pl.concat([t.select(*DIMENSIONS, "conf_status") for t in tables]).unique(subset=list(DIMENSIONS))
    return {row[:-1]: row[-1] for row in cells.iter_rows()}


def release_tables(
    cells: pl.DataFrame,
    info: ReleaseInfo,
    coverage: dict[str, int],
    previous_month: Path | None,
    previous_version: Path | None,
) -> dict[str, pl.DataFrame]:
    """The published tables: derived measures, flags, suppressed values emptied, revisions from v2."""
    obs_status = "P" if info.provisional else "A"
    national = cells.filter(pl.col("use_type") == "final", *(pl.col(d) == TOTAL for d in DIMENSIONS[1:]))
    # A share is published only beside a published base: shares of a withheld total would give the total away.
    national_final_use = national["total_tokens"][0] if national.height and national["conf_status"][0] == "F" else None
    tables = {}
    for name, rows in slice_tables(cells).items():
        table = _with_derived_measures(rows, national_final_use, _read_table(previous_month, name))
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


def _with_derived_measures(rows: pl.DataFrame, total: int | None, previous: pl.DataFrame | None) -> pl.DataFrame:
    """Price per million tokens, share of national final use (one base for every table, so a cell has one
    share wherever it appears), change on the previous month's release."""
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
    return read_release_table(release, name)  # checked against the release's manifest


# --- writing ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReleasePlan:
    """What the next release of a month will be; small enough for an Airflow XCom (``to_json``)."""

    info: ReleaseInfo
    inputs: Inputs
    coverage: dict[str, int]
    staging: Path
    previous_month: Path | None  # the folder whose tables are the base of change on the previous month

    def to_json(self) -> dict:
        return {
            "info": asdict(self.info),
            "inputs": asdict(self.inputs),
            "coverage": self.coverage,
            "staging": str(self.staging),
            "previous_month": str(self.previous_month) if self.previous_month else None,
        }

    @classmethod
    def from_json(cls, data: dict) -> ReleasePlan:
        inputs = data["inputs"]
        return cls(
            ReleaseInfo(**data["info"]),
            Inputs(**{**inputs, "submissions": tuple(inputs["submissions"])}),
            {key: data["coverage"][key] for key in COVERAGE_KEYS},  # XCom in PostgreSQL (jsonb) reorders keys
            Path(data["staging"]),
            Path(data["previous_month"]) if data["previous_month"] else None,
        )


def plan_releases(
    con: duckdb.DuckDBPyConnection, periods: list[str], settings: Settings, force: bool = False
) -> list[ReleasePlan]:
    """Stage "coverage": who reported, and which months need a new release, oldest first.

    A month's change on the previous month is measured against the previous month's release: the one
    planned in the same run if there is one (so later stages must run month after month, oldest first),
    else its latest. A new release of a month therefore revises the next month's too."""
    load_reference_tables(con, settings)  # groups as the registry stands now: re-read and validated
    plans: list[ReleasePlan] = []
    for period in sorted(set(periods)):
        earlier = next((p for p in plans if p.info.period == previous_period(period)), None)
        if earlier is not None:
            base_id, base = f"{earlier.info.period}/v{earlier.info.version}", earlier.staging
        else:
            base = latest_release(settings, previous_period(period))
            base_id = f"{base.parent.name}/{base.name}" if base else None
        inputs = release_inputs(con, period, base_id, settings)
        if not inputs.submissions:
            raise UsageError(f"no accepted reports for {period}: nothing to publish")
        latest = latest_release(settings, period)
        if latest is not None and not force and _manifest(latest)["inputs"] == inputs.to_json():
            continue
        version = 1 if latest is None else int(latest.name[1:]) + 1
        info = ReleaseInfo(
            period, version, None if latest is None else version - 1, inputs.pipeline_version, inputs.contract_version
        )
        staging = settings.published_dir / period / f".v{version}.staging"
        coverage = coverage_counts(period_status(con, period))
        plans.append(ReleasePlan(info, inputs, coverage, staging, base))
    return plans


def export_release(con: duckdb.DuckDBPyConnection, plan: ReleasePlan, settings: Settings) -> Path:
    """Stage "exports": the tables as CSV, Parquet, XLSX and SDMX into the staging folder."""
    from pipelines.release.formats.sdmx import write_sdmx
    from pipelines.release.formats.workbook import write_workbook

    info = plan.info
    cells = run_sql(con, "release/month_cells", period=info.period).pl().drop("reference_period")
    if cells.is_empty() or cells["conf_status"].null_count():
        raise RuntimeError(f"the cells of {info.period} are not all protected: run disclosure control first")
    previous = settings.published_dir / info.period / f"v{info.previous_version}" if info.previous_version else None
    tables = release_tables(cells, info, plan.coverage, plan.previous_month, previous)
    shutil.rmtree(plan.staging, ignore_errors=True)  # whatever a failed attempt left
    (plan.staging / "tables").mkdir(parents=True)
    for name, table in tables.items():
        table.write_csv(plan.staging / "tables" / f"{name}.csv")
        table.write_parquet(plan.staging / "tables" / f"{name}.parquet", compression="zstd", statistics=False)
        crash_point("release.table_written")
    write_workbook(plan.staging / f"tokenstats_{info.period}_v{info.version}.xlsx", tables, info)
    write_sdmx(plan.staging / "sdmx", tables, info)
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
    certificate = json.loads(staged.read_text(encoding="utf-8")) if staged.exists() else _manifest(folder)["disclosure"]
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


def latest_manifest(settings: Settings, period: str) -> dict | None:
    latest = latest_release(settings, period)
    return None if latest is None else _manifest(latest)


def _manifest(release: Path) -> dict:
    return json.loads((release / MANIFEST).read_text(encoding="utf-8"))


def _rows(path: Path) -> int | None:
    if path.suffix == ".parquet":
        return pl.scan_parquet(path).select(pl.len()).collect().item()
    if path.suffix == ".csv":
        with path.open("rb") as f:
            return max(sum(1 for _ in f) - 1, 0)
    return None
