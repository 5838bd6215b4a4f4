"""The price index when a provider corrects an earlier month, through the CLI: two months published, then one
provider resends September with every amount 8% higher (it billed at the wrong rate). One command republishes
September and, resting on it, October; no index cell is printed by two releases with a difference that is that one
group's correction (``tests/index_attacker.py`` over the published folder only), though the true index moved."""

from __future__ import annotations

import contextlib
import io
import json
import math
from pathlib import Path

import polars as pl
import pytest

from pipelines.cli.commands import main
from pipelines.contract.registry import read_registry
from tests.cli_process import publish_generated_months, resend_report
from tests.confidentiality import assert_release_is_safe
from tests.index_attacker import published_differences, read_publications
from tests.price_index_oracle import index_items, index_rows, true_series

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MONTHS = ("2026-09", "2026-10")


@pytest.fixture(scope="module")
def corrected(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("index") / "data"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TOKENSTATS_DATA_DIR", str(data))
        reports = publish_generated_months(data, MONTHS, rows=8_000, providers=10, seed=5)
        resend_report(data, reports[MONTHS[0]][0].provider_id, MONTHS[0], _billed_at_the_right_rate)
        assert main(["ingest"]) == 0
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            assert main(["publish", "--period", MONTHS[0]]) == 0
        (data / "publish.out").write_text(output.getvalue())
    return data


def _billed_at_the_right_rate(report: pl.DataFrame) -> pl.DataFrame:
    amount = pl.col("settlement_amount")
    return report.with_columns((amount.cast(pl.Float64) * 1.08).round(4).cast(report.schema["settlement_amount"]))


def _releases(data: Path) -> list[Path]:
    return sorted((data / "published").glob("*/v*"))


def test_one_command_republishes_the_corrected_month_and_the_month_resting_on_it(corrected: Path):
    assert [f"{p.parent.name}/{p.name}" for p in _releases(corrected)] == [
        "2026-09/v1",
        "2026-09/v2",
        "2026-10/v1",
        "2026-10/v2",
    ]
    assert "revised with the months before it" in (corrected / "publish.out").read_text()


def test_no_published_difference_is_the_correcting_groups_and_every_release_is_safe(corrected: Path):
    assert published_differences(read_publications(corrected / "published")) == []
    for release in _releases(corrected):
        assert_release_is_safe(corrected, release)  # the index oracle and the record judge among its checks


def test_the_correction_moved_the_true_index_and_those_cells_are_withheld(corrected: Path):
    groups = {p.provider_id: p.enterprise_group for p in read_registry(corrected / "registry" / "providers.csv")}
    published = corrected / "published" / MONTHS[1]
    before, after = (true_series(index_items(index_rows(corrected, published / v), groups)) for v in ("v1", "v2"))
    moved = {key for key in after if not _same(before[key]["level"], after[key]["level"])}
    assert moved, "the correction moves the index (the scenario tests something)"
    v1, v2 = (pl.read_parquet(published / v / "tables" / "price_index.parquet") for v in ("v1", "v2"))
    free_before = {(r["month"], r["modality"]) for r in v1.filter(pl.col("conf_status") == "F").iter_rows(named=True)}
    flags = {(r["month"], r["modality"]): r["conf_status"] for r in v2.iter_rows(named=True)}
    assert all(flags[key] != "F" for key in moved & free_before), "a moved cell published before stays hidden"
    assert any(flags[key] == "D" for key in moved & free_before) or not (moved & free_before)
    manifest = json.loads((published / "v2" / "manifest.json").read_text())
    assert manifest["inputs"]["previous_month_release"] == f"{MONTHS[0]}/v2"


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-12)
