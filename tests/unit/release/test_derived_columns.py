"""Derived columns (price, share, change on the month) appear only beside published bases: a derived value
beside a withheld base would give the base away (share = cell / national total)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import polars as pl
import pytest

from pipelines.release.release_model import ReleaseInfo
from pipelines.release.tables import build_release_tables

DIMENSIONS = ("use_type", "region_code", "compute_region_code", "modality", "sector_code")
INFO = ReleaseInfo("2026-10", 1, None, "test", "1")


def _cells(flags: dict[str, str], tokens: dict[str, int]) -> pl.DataFrame:
    rows = [
        {
            "use_type": "final",
            "region_code": region,
            "compute_region_code": "_T",
            "modality": "_T",
            "sector_code": "_T",
            "total_tokens": tokens[region],
            "input_tokens": tokens[region],
            "cached_input_tokens": 0,
            "output_tokens": 0,
            "requests": 1,
            "settlement_amount": tokens[region] / 1000,
            "contributors": 5,
            "conf_status": flag,
        }
        for region, flag in flags.items()
    ]
    return pl.DataFrame(rows).with_columns(pl.col("settlement_amount").cast(pl.Decimal(38, 4)))


TOKENS = {"_T": 1000, "East": 1000, "110000": 400, "120000": 600}


@pytest.mark.parametrize("national", ["F", "O"])
def test_shares_only_beside_a_free_national_total(national: str):
    cells = _cells({"_T": national, "East": "D", "110000": "F", "120000": "F"}, TOKENS)
    tables = build_release_tables(cells, INFO, {}, None, None)
    shares = tables["by_region"].filter(pl.col("region_code") == "110000")["share_of_total_pct"]
    assert shares.to_list() == ([40.0] if national == "F" else [None])
    for name in ("by_region", "national", "cube"):
        withheld = tables[name].filter(pl.col("conf_status") != "F")
        assert withheld.select("price_per_million_tokens", "share_of_total_pct").null_count().sum_horizontal()[0] == (
            2 * withheld.height
        )


def test_change_on_the_month_only_where_both_months_are_free(tmp_path: Path):
    previous = tmp_path / "2026-09" / "v1"
    (previous / "tables").mkdir(parents=True)
    before = build_release_tables(
        _cells({"_T": "F", "East": "F", "110000": "D", "120000": "F"}, TOKENS),
        ReleaseInfo("2026-09", 1, None, "test", "1"),
        {},
        None,
        None,
    )
    files = []
    for name, table in before.items():
        path = previous / "tables" / f"{name}.parquet"
        table.write_parquet(path)
        files.append({"path": f"tables/{name}.parquet", "sha256": hashlib.sha256(path.read_bytes()).hexdigest()})
    (previous / "manifest.json").write_text(json.dumps({"files": files}))  # earlier releases are read verified
    now = {"_T": 1100, "East": 1100, "110000": 500, "120000": 600}
    tables = build_release_tables(
        _cells({"_T": "F", "East": "D", "110000": "F", "120000": "F"}, now), INFO, {}, previous, None
    )
    change = dict(tables["by_region"].select("region_code", "change_on_previous_month_pct").iter_rows())
    assert change["_T"] == pytest.approx(10.0)
    assert change["120000"] == 0.0
    assert change["110000"] is None, "withheld last month"
    assert change["East"] is None, "withheld this month"
