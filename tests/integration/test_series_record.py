"""The statistical record over time, through the CLI: three small months published, the first revised, the last
republished. Series equal the months' latest releases cell by cell; the snapshot's vintages reproduce every
release's free cells; the scan catches a series that prints a value its month's latest release withheld."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from pipelines.cli import main
from pipelines.core.config import Settings
from pipelines.release.snapshot import query_snapshot
from tests.cli_process import publish_generated_months
from tests.confidentiality import CELL_TABLES, DIMENSIONS, assert_release_is_safe, series_not_as_published

pytestmark = pytest.mark.integration

MONTHS = ("2026-08", "2026-09", "2026-10")


@pytest.fixture(scope="module")
def record(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("record") / "data"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TOKENSTATS_DATA_DIR", str(data))
        publish_generated_months(data, MONTHS, rows=6_000, providers=12, seed=7)
        _correct(data, MONTHS[0])
        assert main(["ingest"]) == 0
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            # August v2, and with it September and October v2: their series and price index rest on August
            assert main(["publish", "--period", MONTHS[0]]) == 0
            assert main(["publish", "--period", MONTHS[0]]) == 0  # nothing changed since: nothing new
        (data / "publish.out").write_text(output.getvalue())
    return data


def _correct(data: Path, month: str) -> None:
    """Three providers of different groups resend their month with 1,000 more output tokens in 50 rows."""
    registry = pl.read_csv(data / "registry" / "providers.csv", infer_schema=False)
    providers = registry.unique("enterprise_group", keep="first", maintain_order=True)["provider_id"].head(3)
    for provider in providers:
        first = next((data / "archive" / provider / month).glob("*/*.parquet"))
        report = pl.read_parquet(first).with_row_index()
        report.with_columns(
            pl.when(pl.col("index") < 50).then(pl.col("output_tokens") + 1_000).otherwise(pl.col("output_tokens"))
        ).drop("index").write_parquet(data / "inbox" / provider / "corrected.parquet")


def _releases(data: Path) -> list[Path]:
    return sorted((data / "published").glob("*/v*"), key=lambda p: (p.parent.name, p.name))


def test_every_release_is_safe_and_lists_its_series(record):
    assert [f"{p.parent.name}/{p.name}" for p in _releases(record)] == [
        "2026-08/v1",
        "2026-08/v2",
        "2026-09/v1",
        "2026-09/v2",
        "2026-10/v1",
        "2026-10/v2",
    ]
    for release in _releases(record):
        manifest = json.loads((release / "manifest.json").read_text())
        listed = {entry["path"] for entry in manifest["files"]}
        for name in ("national", "by_region", "by_modality", "by_sector", "use_type"):
            assert {f"tables/series_{name}.csv", f"tables/series_{name}.parquet"} <= listed
        assert_release_is_safe(record, release)


def test_a_revision_republishes_every_later_month_once_and_says_so(record):
    """August's correction reaches September's and October's change on the month, series and chained price index:
    one command republishes them (a user naming August alone), and says which were carried along."""
    out = (record / "publish.out").read_text()
    assert out.count("published ") == 3 and out.count("revised with the months before it") == 2
    assert "2026-08: inputs unchanged since the latest release; nothing new published" in out
    for month in MONTHS[1:]:
        manifest = json.loads((record / "published" / month / "v2" / "manifest.json").read_text())
        august = json.loads((record / "published" / "2026-08" / "v2" / "manifest.json").read_text())
        assert set(august["inputs"]["submissions"]) <= set(manifest["inputs"]["earlier_submissions"])
        assert manifest["inputs"]["previous_month_release"] == f"{MONTHS[MONTHS.index(month) - 1]}/v2"
    index = pl.read_parquet(record / "published" / "2026-10" / "v2" / "tables" / "price_index.parquet")
    assert set(index["reference_period"]) == {"2026-10"} and sorted(set(index["month"])) == list(MONTHS)


def test_series_equal_the_months_latest_releases_cell_by_cell(record):
    october = record / "published" / "2026-10" / "v2"
    for name in ("national", "by_region", "by_modality", "by_sector", "use_type"):
        series = pl.read_parquet(october / "tables" / f"series_{name}.parquet")
        assert sorted(set(series["reference_period"])) == list(MONTHS)
        for month, version in (("2026-08", 2), ("2026-09", 2), ("2026-10", 2)):
            published = pl.read_parquet(record / "published" / month / f"v{version}" / "tables" / f"{name}.parquet")
            rows = series.filter(pl.col("reference_period") == month)
            assert set(rows["source_version"]) == {version}
            assert rows.select(published.columns).sort(DIMENSIONS).equals(published.sort(DIMENSIONS)), (name, month)
    csv = pl.read_csv(october / "tables" / "series_national.csv", infer_schema=False)
    assert csv["reference_period"].to_list() == list(MONTHS)


def test_a_series_printing_a_withheld_or_stale_value_is_caught(record, tmp_path):
    release = tmp_path / "published" / "2026-10" / "v2"
    for month in MONTHS:
        shutil.copytree(record / "published" / month, tmp_path / "published" / month)
    path = release / "tables" / "series_by_region.parquet"
    series = pl.read_parquet(path)
    assert series_not_as_published(release) == []
    withheld = (pl.col("reference_period") == "2026-09") & (pl.col("conf_status") != "F")
    assert series.filter(withheld).height, "the fixture has a withheld province in September"
    series.with_columns(
        total_tokens=pl.when(withheld).then(pl.lit(123_456_789)).otherwise("total_tokens")
    ).write_parquet(path)
    assert any("2026-09 differs" in p for p in series_not_as_published(release))
    stale = series.with_columns(
        source_version=pl.when(pl.col("reference_period") == "2026-08").then(1).otherwise("source_version")
    )
    stale.write_parquet(path)
    assert any("2026-08 is not from its latest release" in p for p in series_not_as_published(release))


def test_vintages_reproduce_every_published_free_cell(record, monkeypatch):
    monkeypatch.setenv("TOKENSTATS_DATA_DIR", str(record))
    settings = Settings.from_env(data_dir=record)
    vintages = query_snapshot(settings, "select * from analyst.vintages").pl()
    for release in _releases(record):
        tables = [pl.read_parquet(release / "tables" / f"{name}.parquet") for name in CELL_TABLES]
        free = (
            pl.concat(tables, how="diagonal_relaxed")
            .unique(subset=list(DIMENSIONS))
            .filter(pl.col("conf_status") == "F")
            .sort(DIMENSIONS)
        )
        got = vintages.filter(
            pl.col("reference_period") == release.parent.name, pl.col("version") == int(release.name[1:])
        )
        assert got.select(free.columns).sort(DIMENSIONS).equals(free), release
    assert vintages["conf_status"].unique().to_list() == ["F"]


def test_a_month_as_published_on_a_date(record):
    settings = Settings.from_env(data_dir=record)
    releases = query_snapshot(settings, "select * from analyst.releases order by created_at, version").pl()
    first_out = releases.filter(pl.col("reference_period") == "2026-08", pl.col("version") == 1)["created_at"][0]
    august = "reference_period = '2026-08'"
    then = query_snapshot(settings, f"select * from analyst.as_published(timestamptz '{first_out}') where {august}")
    now = query_snapshot(settings, f"select * from analyst.series where {august}").pl()
    for got, version in ((then.pl(), 1), (now, 2)):
        assert set(got["version"]) == {version}
        national = pl.read_parquet(record / "published" / "2026-08" / f"v{version}" / "tables" / "by_region.parquet")
        free = national.filter(pl.col("conf_status") == "F").sort(DIMENSIONS)
        assert got.join(free, on=list(DIMENSIONS), how="semi").height == free.height > 0
