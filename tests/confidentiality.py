"""Is a release safe to publish? One helper for every test that builds a release: ``assert_release_is_safe``.

It reads every file of a release folder the way a user would (CSV and Parquet tables, the XLSX workbook's XML,
SDMX-CSV and its structure, the HTML bulletin, the manifest) and checks, independently of the publish code:

1. no provider id, provider name or enterprise group name from the registry appears anywhere;
2. every suppressed cell is empty wherever it is printed, and its true value appears in no file;
3. every free cell passes the primary rules, recomputed from the warehouse's own rows (``core.usage`` of the
   submissions the manifest lists, grouped by the registry's enterprise groups, with the contract's code
   lists): at least ``min_contributors`` groups and no dominance by the p% rule, on tokens and on money; and
   every free value equals that recomputation;
4. every series row (``series_<table>``) is the row the month's latest release at the time published, byte for
   byte, flags included: a value suppressed there is empty in the series, and no stale version is used;
5. an independent attacker (``tests/record_attacker.py``: scipy's LP over the finest cells, from the published
   free values) cannot narrow the largest confidential cells, nor cells withheld to protect them, below their
   protection level, on tokens and on money;
6. the price index: free cells against a numpy recomputation and the primary rules, and every difference the index
   attacker (``tests/index_attacker.py``) takes between two releases of the whole published folder is the change
   of enough groups, none dominant (``tests/price_index_oracle.py``).

Call it after any publish: ``assert_release_is_safe(data_dir, data_dir / "published" / "2026-10" / "v1")``.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq

from pipelines.contract.contract import read_code_list
from pipelines.contract.registry import read_registry
from pipelines.core.config import Settings
from pipelines.statistics.primary import Rules
from tests.price_index_oracle import index_items, index_record_failures, index_rows, price_index_failures
from tests.record_attacker import Attacker, Version

DIMENSIONS = ("use_type", "region_code", "compute_region_code", "modality", "sector_code")
CELL_TABLES = ("national", "by_region", "by_modality", "by_sector", "cube", "compute_flows", "use_type")
TOTAL = "_T"
MIN_TERM = 4  # registry terms shorter than this would match ordinary text
MIN_LEAK_VALUE = 10**6  # smaller numbers occur by chance (counts, years)
INTEGER = re.compile(r"(?<![\d.])\d+")


def assert_release_is_safe(data_dir: Path, release: Path, settings: Settings | None = None) -> dict[str, int]:
    """Fail (AssertionError) if the release discloses anything; returns counts of what was checked."""
    settings = settings or Settings.from_env(data_dir=data_dir)
    rules = Rules.from_settings(settings)  # the parameters publish used: they are configuration, not in the release
    texts = release_texts(release)
    problems = names_in(texts, data_dir / "registry" / "providers.csv")
    cells = published_cells(release)
    truth, atoms = true_cells(data_dir, release, cells)
    problems += blank_where_suppressed(release, texts)
    problems += series_not_as_published(release)
    out_before = _free_before(release)
    problems += suppressed_values_in(texts, truth.join(out_before, on=[*DIMENSIONS, "true_tokens"], how="anti"))
    problems += primary_rule_failures(truth, rules)
    problems += audit_failures(truth, atoms, rules)
    items = index_items(index_rows(data_dir, release), _groups(data_dir))
    problems += price_index_failures(release, items, rules, texts)
    problems += index_record_failures(data_dir, rules)
    assert not problems, "\n".join(problems[:40])
    return {"files": len(texts), "cells": truth.height, "suppressed": truth.filter(pl.col("conf_status") != "F").height}


# --- reading a release as its users do -----------------------------------------------------------------------


def release_texts(release: Path) -> dict[str, str]:
    """Every file's readable content: text files as they are, Parquet cells and metadata, XLSX parts."""
    texts = {}
    for path in sorted(p for p in release.rglob("*") if p.is_file()):
        name = str(path.relative_to(release))
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            metadata = pq.ParquetFile(path).metadata.metadata or {}
            parts = [",".join(table.column_names), *(f"{k!r}={v!r}" for k, v in metadata.items())]
            parts += [",".join("" if v is None else str(v) for v in row.values()) for row in table.to_pylist()]
            texts[name] = "\n".join(parts)
        elif path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as workbook:
                for part in workbook.namelist():
                    texts[f"{name}!{part}"] = workbook.read(part).decode("utf-8", errors="replace")
        else:
            texts[name] = path.read_bytes().decode("utf-8", errors="replace")
    return texts


def published_cells(release: Path) -> pl.DataFrame:
    """The distinct cells of the release's tables: dimensions, flag and the published measures."""
    frames = [
        pl.read_parquet(release / "tables" / f"{name}.parquet").select(
            *DIMENSIONS, "conf_status", "total_tokens", pl.col("settlement_amount").cast(pl.Float64)
        )
        for name in CELL_TABLES
    ]
    cells = pl.concat(frames).unique(subset=list(DIMENSIONS), keep="first", maintain_order=True)
    return cells.rename({"total_tokens": "published_tokens", "settlement_amount": "published_settlement"})


def _free_before(release: Path) -> pl.DataFrame:
    """Cells an earlier version of the month published free, with that value: out already, whatever comes later."""
    earlier = [
        published_cells(folder).filter(pl.col("conf_status") == "F")
        for folder in release.parent.glob("v*")
        if folder.name[1:].isdigit() and int(folder.name[1:]) < int(release.name[1:])
    ]
    if not earlier:
        return pl.DataFrame(schema={**{d: pl.String for d in DIMENSIONS}, "true_tokens": pl.Int64})
    return pl.concat(earlier).select(*DIMENSIONS, true_tokens="published_tokens").unique()


# --- the checks -------------------------------------------------------------------------------------------------


def names_in(texts: dict[str, str], registry: Path) -> list[str]:
    terms = set()
    for provider in read_registry(registry):
        terms |= {provider.provider_id, provider.name, provider.enterprise_group}
    terms = {t.lower() for t in terms if len(t) >= MIN_TERM}
    return [f"{name} names {term!r}" for name, text in texts.items() for term in terms if term in text.lower()]


def blank_where_suppressed(release: Path, texts: dict[str, str]) -> list[str]:
    """In every CSV (tables, SDMX): a row flagged other than F prints no value."""
    problems = []
    for name, text in texts.items():
        if not name.endswith(".csv"):
            continue
        for row in csv.DictReader(io.StringIO(text)):
            for flag, columns in _flagged_columns(row):
                if row[flag] not in ("", "F") and any(row[c] not in ("", None) for c in columns):
                    problems.append(f"{name}: a suppressed value is printed: {row}")
    return problems


def _flagged_columns(row: dict[str, str]) -> list[tuple[str, list[str]]]:
    if "CONF_STATUS" in row:
        return [("CONF_STATUS", ["OBS_VALUE"])]
    if "previous_conf_status" in row:  # revisions
        return [("previous_conf_status", ["previous_value", "difference"]), ("conf_status", ["value", "difference"])]
    if "conf_status" in row:
        # month: the price index's; source_version: the series'
        labels = (*DIMENSIONS, "reference_period", "month", "obs_status", "conf_status", "source_version")
        measures = [c for c in row if c not in labels]
        return [("conf_status", measures)]
    return []


def series_not_as_published(release: Path) -> list[str]:
    """Series rows that differ from the row their month's latest release (as of this release) published."""
    created = _created_at(release)
    problems = []
    for path in sorted((release / "tables").glob("series_*.parquet")):
        table = path.stem.removeprefix("series_")
        series = pl.read_parquet(path)
        for (period,), rows in series.group_by("reference_period", maintain_order=True):
            month = release.parent.parent / period
            known = [v for v in month.glob("v*") if v.name[1:].isdigit() and _created_at(v) <= created]
            if month == release.parent:  # this release's own month: itself, whatever the clock says
                known = [release]
            latest = max(known, key=lambda v: int(v.name[1:]), default=None)
            if latest is None or set(rows["source_version"]) != {int(latest.name[1:])}:
                problems.append(f"{path.name}: {period} is not from its latest release {latest}")
                continue
            published = pl.read_parquet(latest / "tables" / f"{table}.parquet")
            got = rows.select(published.columns).sort(DIMENSIONS)
            if not got.equals(published.sort(DIMENSIONS)):
                problems.append(f"{path.name}: {period} differs from {latest / 'tables' / table}.parquet")
    return problems


def _created_at(release: Path) -> str:
    return json.loads((release / "manifest.json").read_text())["created_at"]


def suppressed_values_in(texts: dict[str, str], truth: pl.DataFrame) -> list[str]:
    hidden = truth.filter(pl.col("conf_status") != "F", pl.col("true_tokens") >= MIN_LEAK_VALUE)
    numbers = {name: set(INTEGER.findall(text)) for name, text in texts.items()}  # whole numbers, not fractions
    return [
        f"{name} prints the suppressed {row}"
        for row in hidden.iter_rows(named=True)
        for name, found in numbers.items()
        if str(row["true_tokens"]) in found
    ]


def primary_rule_failures(truth: pl.DataFrame, rules: Rules) -> list[str]:
    problems = []
    for row in truth.filter(pl.col("conf_status") == "F").iter_rows(named=True):
        key = tuple(row[d] for d in DIMENSIONS)
        if row["published_tokens"] != row["true_tokens"]:
            problems.append(
                f"{key}: published {row['published_tokens']} tokens, the warehouse says {row['true_tokens']}"
            )
        if row["contributors"] == 0:
            continue
        if row["contributors"] < rules.min_contributors:
            problems.append(f"{key}: free with {row['contributors']} enterprise groups")
        for measure in ("tokens", "settlement"):
            total, top = row[f"true_{measure}"], row[f"top_{measure}"]
            largest, second = [*(top or []), 0.0, 0.0][:2]
            if total - largest - second < rules.dominance_p_percent / 100 * largest:
                problems.append(f"{key}: free but dominated on {measure} ({largest} of {total})")
    return problems


def audit_failures(truth: pl.DataFrame, atoms: pl.DataFrame, rules: Rules, sample: int = 12) -> list[str]:
    """The attacker against the largest confidential cells and cells withheld beside them (a sample: each
    cell costs two LPs over every atom)."""
    hidden = truth.filter(pl.col("conf_status") != "F", pl.col("true_tokens") > 0)
    chosen = pl.concat(
        [
            hidden.filter(pl.col("conf_status") != "D").sort("true_tokens", descending=True).head(sample),
            hidden.filter(pl.col("conf_status") == "D").sort("true_tokens", descending=True).head(sample // 2),
        ]
    )
    keys = list(truth.select(DIMENSIONS).iter_rows())
    problems = []
    for measure, column in (("tokens", "true_tokens"), ("settlement", "true_settlement")):
        per_atom = atoms.group_by(DIMENSIONS).agg(pl.col(measure).sum())
        published = [v if f == "F" else None for v, f in zip(truth[column], truth["conf_status"], strict=True)]
        version = Version({r[:-1]: r[-1] for r in per_atom.iter_rows()}, dict(zip(keys, published, strict=True)))
        attacker = Attacker([version])
        for row in chosen.iter_rows(named=True):
            key, value = tuple(row[d] for d in DIMENSIONS), float(row[column])
            low, high = attacker.bounds(attacker.row(0, key))
            need = rules.required(row["conf_status"]) * value
            if high < value + need - 1e-6 * value or low > value - need + 1e-6 * value:
                problems.append(
                    f"{key} ({row['conf_status']}): {measure} {value:,.0f} can be narrowed to "
                    f"[{low:,.0f}, {high:,.0f}], needs ±{need:,.0f}"
                )
    return problems


# --- the truth, recomputed from the warehouse ------------------------------------------------------------------


def finest_cells(rows: pl.DataFrame) -> pl.DataFrame:
    """Report rows keyed as the finest published cells (use type from the customer type, households as sector
    HH, _X for a missing compute province or sector) with the province's zone beside; other columns kept."""
    uses = {r["customer_type"]: r["use_type"] for r in read_code_list("customer_types.csv")}
    zones = {r["region_code"]: r["economic_zone"] for r in read_code_list("provinces.csv")}
    keys = ("customer_type", "region_code", "compute_region_code", "modality", "sector_code")
    return rows.select(
        pl.col("customer_type").replace_strict(uses).alias("use_type"),
        "region_code",
        pl.col("region_code").replace_strict(zones).alias("zone"),
        pl.col("compute_region_code").fill_null("_X"),
        "modality",
        pl.when(pl.col("customer_type") == "individual")
        .then(pl.lit("HH"))
        .otherwise(pl.col("sector_code").fill_null("_X"))
        .alias("sector_code"),
        pl.exclude(*keys),
    )


def true_cells(data_dir: Path, release: Path, cells: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Each published cell with its true totals and contributors, from the rows of the submissions the release
    used (its manifest) and the estimates it lists (``mart.estimates``, at the finest cells already), the
    registry's groups and the code lists; shares no SQL with the marts. Also the finest cells (atoms) by group."""
    manifest = json.loads((release / "manifest.json").read_text(encoding="utf-8"))
    with duckdb.connect(str(data_dir / "warehouse" / "tokenstats.duckdb"), read_only=True) as con:
        usage = con.sql(
            "select provider_id, customer_type, region_code, compute_region_code, modality, sector_code, "
            "input_tokens + output_tokens as tokens, settlement_amount::double as settlement, requests "
            "from core.usage where list_contains($ids, submission_id)",
            params={"ids": manifest["inputs"]["submissions"]},
        ).pl()
        estimates = con.sql(  # late providers' estimates: confidential inputs like the reports
            "select provider_id, use_type, region_code, compute_region_code, modality, sector_code, "
            "total_tokens::bigint as tokens, settlement_amount::double as settlement, requests::bigint as requests "
            "from mart.estimates where list_contains($ids, estimate_id)",
            params={"ids": manifest["inputs"].get("estimates", [])},
        ).pl()
    groups = _groups(data_dir)
    zones = {r["region_code"]: r["economic_zone"] for r in read_code_list("provinces.csv")}
    atoms = pl.concat(
        [
            finest_cells(usage.with_columns(pl.col("provider_id").replace_strict(groups).alias("group"))),
            estimates.with_columns(
                pl.col("region_code").replace_strict(zones).alias("zone"),
                pl.col("provider_id").replace_strict(groups).alias("group"),
            ),
        ],
        how="diagonal_relaxed",
    )
    # every atom counts in each cell that covers it: itself or a total on each dimension, its zone for regions
    expanded = []
    for use in ("use_type", None):
        for region in ("region_code", "zone", None):
            for compute in ("compute_region_code", None):
                for modality in ("modality", None):
                    for sector in ("sector_code", None):
                        keys = dict(zip(DIMENSIONS, (use, region, compute, modality, sector), strict=True))
                        expanded.append(
                            atoms.select(
                                *(pl.col(c).alias(d) if c else pl.lit(TOTAL).alias(d) for d, c in keys.items()),
                                "group",
                                "tokens",
                                "settlement",
                                "requests",
                            )
                        )
    per_group = (
        pl.concat(expanded)
        .group_by(*DIMENSIONS, "group")
        .agg(pl.col("tokens").sum(), pl.col("settlement").sum(), pl.col("requests").sum())
        .filter((pl.col("tokens") > 0) | (pl.col("settlement") > 0) | (pl.col("requests") > 0))
    )
    per_cell = per_group.group_by(DIMENSIONS).agg(
        pl.col("tokens").sum().alias("true_tokens"),
        pl.col("settlement").sum().alias("true_settlement"),
        pl.len().alias("contributors"),
        pl.col("tokens").sort(descending=True).head(2).cast(pl.Float64).alias("top_tokens"),
        pl.col("settlement").sort(descending=True).head(2).alias("top_settlement"),
    )
    truth = cells.join(per_cell, on=list(DIMENSIONS), how="left").with_columns(
        pl.col("true_tokens").fill_null(0),
        pl.col("true_settlement").fill_null(0.0),
        pl.col("contributors").fill_null(0),
    )
    return truth, atoms.drop("zone")


def _groups(data_dir: Path) -> dict[str, str]:
    return {p.provider_id: p.enterprise_group for p in read_registry(data_dir / "registry" / "providers.csv")}
