"""Late providers through the CLI: three providers of three groups hold October back; October v1 estimates them
(flag E, coverage ratio), the disclosure rules hold with the estimates as inputs, the analysts see the estimates
apart from the reports; then the reports arrive and v2 replaces the estimates (a revision)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl
import pytest

from pipelines.cli import main
from pipelines.core.config import Settings
from pipelines.release.snapshot import query_snapshot
from pipelines.statistics.cells import DIMENSIONS
from pipelines.synthetic.generate import generate_month
from tests.confidentiality import assert_release_is_safe
from tests.imputation_oracle import archived_reports, estimated_rows

pytestmark = pytest.mark.integration

SEPTEMBER, OCTOBER = "2026-09", "2026-10"
FINAL_TOTAL = (
    pl.col("use_type") == "final",
    *(pl.col(d) == "_T" for d in ("region_code", "compute_region_code", "modality", "sector_code")),
)


@pytest.fixture(scope="module")
def record(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    data = tmp_path_factory.mktemp("imputation") / "data"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TOKENSTATS_DATA_DIR", str(data))
        generate_month(data, SEPTEMBER, rows=20_000, providers=12, seed=7)
        reports = generate_month(data, OCTOBER, rows=20_000, providers=12, seed=7)
        registry = pl.read_csv(data / "registry" / "providers.csv", infer_schema=False)
        late = registry.unique("enterprise_group", keep="first", maintain_order=True)["provider_id"][2:5].to_list()
        held = data / "held"
        held.mkdir()
        for report in reports:
            if report.provider_id in late:
                os.replace(report.path, held / report.path.name)
        assert main(["ingest"]) == 0
        assert main(["publish", "--period", SEPTEMBER, "--period", OCTOBER]) == 0
        estimated_rows(data, data / "published" / OCTOBER / "v1", SEPTEMBER).write_parquet(
            data / "v1_estimated_rows.parquet"
        )
        for report in reports:
            if report.provider_id in late:
                os.replace(held / report.path.name, report.path)
        assert main(["ingest"]) == 0
        assert main(["publish", "--period", OCTOBER]) == 0
    return data, late


def _table(data: Path, name: str, version: int) -> pl.DataFrame:
    return pl.read_parquet(data / "published" / OCTOBER / f"v{version}" / "tables" / f"{name}.parquet")


def _final_tokens(rows: pl.DataFrame) -> int:
    rows = rows.filter(pl.col("customer_type") != "reseller")
    return int(rows["input_tokens"].sum() + rows["output_tokens"].sum())


def test_v1_flags_the_estimated_cells_and_gives_the_coverage_ratio(record):
    data, late = record
    manifest = json.loads((data / "published" / OCTOBER / "v1" / "manifest.json").read_text())
    assert len(manifest["inputs"]["estimates"]) == len(late)
    estimate = pl.read_parquet(data / "v1_estimated_rows.parquet")
    reports = archived_reports(data, OCTOBER)  # the late ones too, by now: they arrived for v2
    reported = sum(_final_tokens(report) for provider, report in reports.items() if provider not in late)
    estimated = _final_tokens(estimate)

    national = _table(data, "national", 1).filter(*FINAL_TOTAL).row(0, named=True)
    assert national["obs_status"] == "E" and national["conf_status"] == "F"
    assert national["total_tokens"] == reported + estimated  # the estimate recomputed independently
    # The ratio is given only on national cells, as the reported share, and only where neither part is
    # confidential (here the amount settled may be dominated by one late group: then it is withheld).
    if national["coverage_ratio"] is not None:
        assert national["coverage_ratio"] == pytest.approx(reported / (reported + estimated), abs=1e-4)
    by_modality = _table(data, "by_modality", 1)
    # E exactly where an estimate enters: by modality, the modalities the late providers sold in September.
    by_modality = by_modality.filter(pl.col("modality") != "_T")
    entered = set(estimate.filter(pl.col("input_tokens") + pl.col("output_tokens") > 0)["modality"])
    assert set(by_modality.filter(pl.col("obs_status") == "E")["modality"]) == entered
    assert set(by_modality.filter(pl.col("obs_status") != "E")["obs_status"]) <= {"P"}
    # A free cell without an estimate (if any: three groups' estimates reach most cells) is wholly reported; a
    # withheld cell shows no ratio.
    for name in ("by_modality", "by_region", "by_sector", "cube"):
        table = _table(data, name, 1)
        national_cell = pl.all_horizontal(pl.col(c) == "_T" for c in DIMENSIONS[1:] if c in table.columns)
        assert table.filter(~national_cell, pl.col("obs_status") == "E")["coverage_ratio"].is_null().all(), name
        assert set(table.filter(pl.col("obs_status") == "P", pl.col("conf_status") == "F")["coverage_ratio"]) <= {1.0}
        assert (
            table.filter(pl.col("conf_status") != "F")["coverage_ratio"].null_count()
            == table.filter(pl.col("conf_status") != "F").height
        )
    assert_release_is_safe(data, data / "published" / OCTOBER / "v1")  # estimates are confidential inputs too


def test_the_late_reports_replace_the_estimates_in_v2(record):
    data, _ = record
    manifest = json.loads((data / "published" / OCTOBER / "v2" / "manifest.json").read_text())
    assert manifest["revises"] == "v1" and "estimates" not in manifest["inputs"]
    national = _table(data, "national", 2)
    assert set(national["obs_status"]) == {"A"} and "coverage_ratio" not in national.columns
    row = national.filter(*FINAL_TOTAL).row(0, named=True)
    if row["conf_status"] == "F":  # the late groups' change may be confidential: then the total is withheld
        assert row["total_tokens"] == sum(_final_tokens(r) for r in archived_reports(data, OCTOBER).values())
    assert _table(data, "revisions", 2).height > 0
    assert_release_is_safe(data, data / "published" / OCTOBER / "v2")


def test_analysts_see_the_estimates_apart_from_the_reports(record):
    data, late = record
    settings = Settings.from_env(data_dir=data)
    estimates = query_snapshot(settings, "select distinct provider_id, base_period from analyst.estimates order by 1")
    assert estimates.fetchall() == [(p, SEPTEMBER) for p in sorted(late)]
    usage = query_snapshot(settings, "select count(*) from analyst.usage where report_period = '2026-10'").fetchall()
    assert usage[0][0] == sum(r.height for r in archived_reports(data, OCTOBER).values())  # reports only
