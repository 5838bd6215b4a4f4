"""Release tables as the publish stage hands them to the output formats, built from a small synthetic month.

``release_tables()`` returns ``(tables, ReleaseInfo)`` with the columns of ``marts.TABLES`` plus ``coverage`` and,
from version 2, ``revisions``: a few provinces of every economic zone (``full=True``: all 31, about 6,000 cells),
zone and ``_T`` rows, ``_X`` compute regions, households, suppressed cells of every flag. Suppressed cells carry
null measures, as disclosure control leaves them; ``leak_suppressed=True`` keeps their values instead (a distinct
marker number) so tests can prove a writer blanks them by itself. The flags are placed to exercise the formats;
they are not a protected pattern (disclosure control has its own tests).
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from pathlib import Path

import polars as pl

from pipelines.contract.contract import read_code_list
from pipelines.release.release_model import ReleaseInfo

PERIOD = "2026-01"
DIMENSIONS = ("use_type", "region_code", "compute_region_code", "modality", "sector_code")
COUNTS = ("total_tokens", "input_tokens", "cached_input_tokens", "output_tokens", "requests")
MEASURES = (
    *COUNTS,
    "settlement_amount",
    "price_per_million_tokens",
    "share_of_total_pct",
    "change_on_previous_month_pct",
)
TABLE_DIMENSIONS = {
    "national": (),
    "by_region": ("region_code",),
    "by_modality": ("modality",),
    "by_sector": ("sector_code",),
    "cube": ("region_code", "modality", "sector_code"),
    "compute_flows": ("compute_region_code", "region_code"),
    "use_type": ("use_type",),
}
SMALL_PROVINCES = ("110000", "310000", "440000", "420000", "510000", "540000", "210000")
WEIGHTS = {"110000": 9, "310000": 8, "440000": 12, "320000": 7, "330000": 7, "510000": 3, "540000": 0.05}
MODALITY_WEIGHTS = {"text": 70, "code": 18, "image": 7, "audio": 3, "video": 2}
SMALL_SECTORS = ("C", "I", "J", "P", "T", "HH")
SECTOR_WEIGHTS = {"I": 30, "HH": 25, "C": 8, "J": 6, "P": 3, "T": 0.01}
HUBS = ("110000", "320000", "440000", "_X")  # where the small month's tokens are served (Xizang: 150000)
FULL_HUBS = (
    "110000",
    "120000",
    "130000",
    "310000",
    "320000",
    "330000",
    "340000",
    "440000",
    "500000",
    "510000",
    "520000",
    "150000",
    "620000",
    "640000",
    "_X",
)
#: every suppressed cell: (dimension values) -> flag
SUPPRESSED = {
    ("final", "540000", "_T", "_T", "_T"): "A",
    ("final", "_T", "_T", "_T", "T"): "A",
    ("final", "_T", "_T", "_T", "P"): "D",
    ("final", "_T", "_T", "video", "_T"): "O",
    ("final", "_T", "_T", "audio", "_T"): "D",
    ("final", "440000", "_T", "text", "J"): "O",
    ("final", "440000", "_T", "code", "J"): "D",
    ("final", "110000", "_T", "text", "C"): "D",
    ("final", "540000", "150000", "_T", "_T"): "O",
    ("final", "_T", "150000", "_T", "_T"): "D",
    ("final", "310000", "_X", "_T", "_T"): "D",
    ("intermediate", "_T", "_T", "_T", "_T"): "A",
    ("final", "Central", "_T", "_T", "_T"): "D",
}
LEAK = 777_777_777_777_777  # the value a leaking writer would print for a suppressed count


def release_tables(
    version: int = 1, *, full: bool = False, leak_suppressed: bool = False
) -> tuple[dict[str, pl.DataFrame], ReleaseInfo]:
    """Every table of a release of ``PERIOD`` (``version`` 2 adds ``revisions`` and normal OBS_STATUS)."""
    release = ReleaseInfo(
        period=PERIOD,
        version=version,
        previous_version=version - 1 if version > 1 else None,
        pipeline_version="0.1.0",
        contract_version="1",
    )
    cells = _cells(_microdata(full, version), version, leak_suppressed)
    tables = {name: _table(cells, name, dims) for name, dims in TABLE_DIMENSIONS.items()}
    tables["coverage"] = pl.DataFrame(
        {
            "reference_period": [PERIOD],
            "providers_expected": [42],
            "providers_reported": [40 if version == 1 else 42],
            "providers_rejected": [1 if version == 1 else 0],
            "providers_missing": [1 if version == 1 else 0],
        },
        schema={"reference_period": pl.String}
        | dict.fromkeys(
            ("providers_expected", "providers_reported", "providers_rejected", "providers_missing"), pl.Int64
        ),
    )
    if version > 1:
        tables["revisions"] = _revisions(_cells(_microdata(full, version - 1), version - 1, False), cells, version)
    return tables, release


def _microdata(full: bool, version: int) -> pl.DataFrame:
    """Final and intermediate use at the finest grain (one row per region × compute × modality × sector)."""
    provinces = [r["region_code"] for r in read_code_list("provinces.csv")] if full else list(SMALL_PROVINCES)
    sectors = [r["sector_code"] for r in read_code_list("sectors.csv")] if full else list(SMALL_SECTORS)
    rows = []
    for i, region in enumerate(provinces):
        for j, modality in enumerate(MODALITY_WEIGHTS):
            for k, sector in enumerate(sectors):
                if full:
                    compute = FULL_HUBS[(i + j + k) % len(FULL_HUBS)]
                else:
                    compute = HUBS[(i + k) % len(HUBS)] if region != "540000" else "150000"
                weight = WEIGHTS.get(region, 1.5) * MODALITY_WEIGHTS[modality] * SECTOR_WEIGHTS.get(sector, 1.0)
                tokens = int(weight * (4_200_000_000 if full else 11_600_000_000)) + 1_000_003 * (i + j + k)
                tokens += (version - 1) * tokens // 97  # the later version revises every cell
                rows.append(("final", region, compute, modality, sector, tokens))
        rows.append(("intermediate", region, "_X", "text", "_X", 900_000_000_000 + i))
    return pl.DataFrame(rows, schema=[*DIMENSIONS, "total_tokens"], orient="row")


def _cells(micro: pl.DataFrame, version: int, leak: bool) -> pl.DataFrame:
    """Every published cell (the union of the tables' slices) with measures and flags."""
    zones = {r["region_code"]: r["economic_zone"] for r in read_code_list("provinces.csv")}
    final = micro.filter(pl.col("use_type") == "final").with_columns(
        pl.col("region_code").replace_strict(zones).alias("zone")
    )
    parts = []
    for region in ("region_code", "zone", None):
        for modality in ("modality", None):
            for sector in ("sector_code", None):
                parts.append(_group(final, "final", region, None, modality, sector))
    for compute in ("compute_region_code", None):
        for region in ("region_code", None):
            parts.append(_group(final, "final", region, compute, None, None))
    parts.append(_group(micro, "use_type", None, None, None, None))
    parts.append(_group(micro, "_T", None, None, None, None))
    cells = pl.concat(parts).unique(DIMENSIONS, keep="first").sort(DIMENSIONS)
    cells = cells.with_columns(
        pl.col("total_tokens").cast(pl.Int64),
        (pl.col("total_tokens") * 7 // 10).alias("input_tokens"),
        (pl.col("total_tokens") * 7 // 10 * 3 // 10).alias("cached_input_tokens"),
        (pl.col("total_tokens") - pl.col("total_tokens") * 7 // 10).alias("output_tokens"),
        (pl.col("total_tokens") // 21_000 + 1).alias("requests"),
    )
    settlement = [
        (Decimal(t) * Decimal("0.0000300123")).quantize(Decimal("0.0001")) for t in cells["total_tokens"].to_list()
    ]
    cells = cells.with_columns(pl.Series("settlement_amount", settlement, dtype=pl.Decimal(38, 4)))
    cells = cells.with_columns(
        pl.Series(
            "price_per_million_tokens",
            [
                (s * 1_000_000 / t).quantize(Decimal("0.0001"))
                for s, t in zip(settlement, cells["total_tokens"].to_list(), strict=True)
            ],
            dtype=pl.Decimal(38, 4),
        ),
        pl.lit(None, pl.Float64).alias("share_of_total_pct"),
        pl.when(pl.col("sector_code") != "T")
        .then(((pl.col("total_tokens") % 1000) / 100 - 3).round(1))
        .otherwise(None)
        .alias("change_on_previous_month_pct"),
        pl.lit("P" if version == 1 else "A").alias("obs_status"),
        pl.struct(DIMENSIONS)
        .map_elements(lambda k: SUPPRESSED.get(tuple(k.values()), "F"), return_dtype=pl.String)
        .alias("conf_status"),
    )
    if leak:  # a suppressed cell still holds a (marker) value: the writers must blank it themselves
        return cells.with_columns(
            pl.when(pl.col("conf_status") == "F").then(pl.col(m)).otherwise(LEAK).alias(m) for m in COUNTS
        )
    measures = [m for m in MEASURES if m != "share_of_total_pct"]
    return cells.with_columns(pl.when(pl.col("conf_status") == "F").then(pl.col(m)).alias(m) for m in measures)


def _group(
    rows: pl.DataFrame, use_type: str, region: str | None, compute: str | None, modality: str | None, sector: str | None
) -> pl.DataFrame:
    """Total tokens grouped by the given columns; a dimension given as None is the total ``_T``.
    ``use_type`` is the column ``use_type`` or a fixed value."""
    keys = {
        "use_type": pl.col("use_type") if use_type == "use_type" else pl.lit(use_type),
        "region_code": pl.col(region) if region else pl.lit("_T"),
        "compute_region_code": pl.col(compute) if compute else pl.lit("_T"),
        "modality": pl.col(modality) if modality else pl.lit("_T"),
        "sector_code": pl.col(sector) if sector else pl.lit("_T"),
    }
    return rows.group_by(**keys).agg(pl.col("total_tokens").sum())


def _table(cells: pl.DataFrame, name: str, dims: tuple[str, ...]) -> pl.DataFrame:
    fixed = [d for d in DIMENSIONS if d not in dims]
    rows = cells.filter(*(pl.col(d) == "_T" for d in fixed if d != "use_type"))
    rows = rows.filter(pl.col("use_type") == "final") if "use_type" in fixed else rows
    if name == "compute_flows":
        rows = rows.filter(pl.col("region_code").str.contains(r"^\d{6}$|^_T$"))
    national = cells.filter(pl.col("use_type") == "final", *(pl.col(d) == "_T" for d in DIMENSIONS[1:]))
    grand = national["total_tokens"].max() if national.height else None  # shares are of national final use
    share = (pl.col("total_tokens") / grand * 100).round(2) if grand else pl.lit(None, pl.Float64)
    rows = rows.with_columns(
        pl.when(pl.col("conf_status") == "F").then(share).otherwise(None).alias("share_of_total_pct")
    )
    return rows.select(pl.lit(PERIOD).alias("reference_period"), *DIMENSIONS, *MEASURES, "obs_status", "conf_status")


def _revisions(before: pl.DataFrame, after: pl.DataFrame, version: int) -> pl.DataFrame:
    """Revisions of total tokens and settlement of every cell of by_region and national."""
    keys = [*DIMENSIONS]
    region_cells = (pl.col("use_type") == "final") & pl.all_horizontal(
        pl.col(d) == "_T" for d in ("compute_region_code", "modality", "sector_code")
    )
    joined = after.filter(region_cells).join(before, on=keys, suffix="_previous")
    parts = []
    for measure in ("total_tokens", "settlement_amount"):
        value = pl.col(measure).cast(pl.Decimal(38, 4))
        previous = pl.col(f"{measure}_previous").cast(pl.Decimal(38, 4))
        parts.append(
            joined.select(
                pl.lit(PERIOD).alias("reference_period"),
                *keys,
                pl.lit(measure).alias("measure"),
                pl.lit(version - 1, pl.Int64).alias("previous_version"),
                previous.alias("previous_value"),
                value.alias("value"),
                (value - previous).cast(pl.Decimal(38, 4)).alias("difference"),
                pl.col("conf_status_previous").alias("previous_conf_status"),
                "conf_status",
            )
        )
    return pl.concat(parts).sort([*keys, "measure"])


def with_series(tables: dict[str, pl.DataFrame], months: int = 6) -> dict[str, pl.DataFrame]:
    """The release's tables plus ``series_<table>``: ``months`` - 1 earlier months, each a scaled copy of this one
    (a little smaller the further back), then this month; flags as in this release."""
    series_tables = ("national", "by_region", "by_modality", "by_sector", "use_type")
    year, month = (int(p) for p in PERIOD.split("-"))
    out = dict(tables)
    for name in series_tables:
        parts = []
        for back in range(months - 1, -1, -1):
            y, m = divmod(year * 12 + month - 1 - back, 12)
            factor = 100 - 6 * back
            parts.append(
                tables[name].with_columns(
                    reference_period=pl.lit(f"{y}-{m + 1:02d}"),
                    total_tokens=pl.col("total_tokens") * factor // 100,
                    source_version=pl.lit(1 if back else 2, pl.Int64),
                )
            )
        out[f"series_{name}"] = pl.concat(parts).with_columns(change_on_previous_year_pct=pl.lit(None, pl.Float64))
    return out


def final_use_cells(rows: list[tuple[str, str, int, str]]) -> pl.DataFrame:
    """Unprotected final-use cells (as ``mart.cells`` holds them) from (region_code, modality, tokens, flag)."""
    return pl.DataFrame(
        [
            {
                "use_type": "final",
                "region_code": region,
                "compute_region_code": "_T",
                "modality": modality,
                "sector_code": "_T",
                "total_tokens": tokens,
                "input_tokens": tokens,
                "cached_input_tokens": 0,
                "output_tokens": 0,
                "requests": 1,
                "settlement_amount": tokens / 1000,
                "contributors": 5,
                "conf_status": flag,
            }
            for region, modality, tokens, flag in rows
        ]
    ).with_columns(pl.col("settlement_amount").cast(pl.Decimal(38, 4)))


def write_verified_release(root: Path, period: str, version: int, tables: dict[str, pl.DataFrame]) -> Path:
    """A release folder as a reader sees it: ``tables/*.parquet`` and a manifest of their sha256."""
    folder = root / period / f"v{version}"
    (folder / "tables").mkdir(parents=True)
    files = []
    for name, table in tables.items():
        path = folder / "tables" / f"{name}.parquet"
        table.write_parquet(path)
        files.append({"path": f"tables/{name}.parquet", "sha256": hashlib.sha256(path.read_bytes()).hexdigest()})
    (folder / "manifest.json").write_text(json.dumps({"files": files}))
    return folder
