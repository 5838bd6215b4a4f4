"""Revision analysis on a hand-checked example: three months, two revised, one value first withheld."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import polars as pl
import pytest

from pipelines.publish import release_tables
from pipelines.release_model import ReleaseInfo
from pipelines.revisions import build_revision_analysis, build_revision_triangle


def _tables(period: str, version: int, tokens: dict[str, int], flags: dict[str, str] | None = None) -> dict:
    rows = [
        {
            "use_type": "final",
            "region_code": "_T",
            "compute_region_code": "_T",
            "modality": modality,
            "sector_code": "_T",
            "total_tokens": value,
            "input_tokens": value,
            "cached_input_tokens": 0,
            "output_tokens": 0,
            "requests": 1,
            "settlement_amount": value / 1000,
            "contributors": 5,
            "conf_status": (flags or {}).get(modality, "F"),
        }
        for modality, value in tokens.items()
    ]
    cells = pl.DataFrame(rows).with_columns(pl.col("settlement_amount").cast(pl.Decimal(38, 4)))
    return release_tables(cells, ReleaseInfo(period, version, version - 1 or None, "test", "1"), {}, None, None)


def _publish(root: Path, period: str, version: int, tables: dict) -> Path:
    folder = root / period / f"v{version}"
    (folder / "tables").mkdir(parents=True)
    files = []
    for name, table in tables.items():
        path = folder / "tables" / f"{name}.parquet"
        table.write_parquet(path)
        files.append({"path": f"tables/{name}.parquet", "sha256": hashlib.sha256(path.read_bytes()).hexdigest()})
    (folder / "manifest.json").write_text(json.dumps({"files": files}))
    return folder


@pytest.fixture
def record(tmp_path: Path) -> tuple[dict, ReleaseInfo, tuple[Path, ...], Path]:
    _publish(tmp_path, "2026-08", 1, _tables("2026-08", 1, {"_T": 1000, "text": 600, "code": 400}))
    august = _publish(tmp_path, "2026-08", 2, _tables("2026-08", 2, {"_T": 1100, "text": 700, "code": 400}))
    _publish(tmp_path, "2026-09", 1, _tables("2026-09", 1, {"_T": 1200, "text": 800, "code": 400}, {"code": "D"}))
    september = _publish(tmp_path, "2026-09", 2, _tables("2026-09", 2, {"_T": 1150, "text": 750, "code": 400}))
    info = ReleaseInfo("2026-10", 1, None, "test", "1")
    current = _tables("2026-10", 1, {"_T": 1300, "text": 900, "code": 400})
    return current, info, (august, september), tmp_path / "2026-10" / ".v1.staging"


def test_first_against_latest_and_the_means_by_hand(record):
    current, info, sources, staging = record
    analysis = build_revision_analysis(current, info, sources, staging)
    got = {(r["reference_period"], r["modality"]): r for r in analysis.iter_rows(named=True)}
    assert len(got) == 3 * 3 + 3
    august = got["2026-08", "_T"]
    assert (august["first_value"], august["latest_version"], august["latest_value"]) == (1000, 2, 1100)
    assert (august["revision"], august["revision_pct"]) == (100, 10.0)
    assert got["2026-09", "_T"]["revision"] == -50
    assert got["2026-09", "_T"]["revision_pct"] == pytest.approx(-4.1667)
    assert got["2026-10", "_T"]["revision"] == 0
    national = got["_T", "_T"]  # (100 - 50 + 0) / 3 and (100 + 50 + 0) / 3
    assert (national["months"], national["mean_revision"], national["mean_absolute_revision"]) == (3, 16.67, 50.0)
    assert national["mean_revision_pct"] == pytest.approx((10 - 4.1667) / 3, abs=1e-4)
    text = got["_T", "text"]  # 600 → 700, 800 → 750, 900 → 900
    assert (text["mean_revision"], text["mean_absolute_revision"]) == (16.67, 50.0)
    # September's code total was first withheld: no first value, no revision, not in the mean
    assert got["2026-09", "code"]["first_value"] is None and got["2026-09", "code"]["revision"] is None
    assert (got["_T", "code"]["months"], got["_T", "code"]["mean_absolute_revision"]) == (2, 0.0)


def test_no_analysis_before_any_revision_and_the_triangle(record, tmp_path):
    current, info, sources, staging = record
    assert build_revision_analysis(current, info, (), staging) is None
    triangle = build_revision_triangle(current["national"], info, sources)
    assert triangle.columns == ["reference_period", "v1", "v2"]
    assert triangle.rows() == [("2026-08", 1000, 1100), ("2026-09", 1200, 1150), ("2026-10", 1300, None)]
