"""The confidentiality scan (``tests/confidentiality.py``) passes a release the pipeline built, and catches each
way a release could leak: a registry name in any format, a suppressed value printed, a free cell that fails
the primary rules, a suppression pattern the audit can break, a value that is not the warehouse's.

The release is built in-process from a synthetic month loaded straight into the warehouse (no validation: the
scan, not ingest, is under test), then copied and tampered with one way per test.
"""

from __future__ import annotations

import datetime as dt
import shutil
import zipfile
from pathlib import Path

import polars as pl
import pytest

from pipelines.contract.reference import load_reference_tables
from pipelines.contract.registry import read_registry
from pipelines.core.config import Settings
from pipelines.core.database import open_warehouse
from pipelines.release.publish import publish_months
from pipelines.synthetic.generate import generate_month
from tests.confidentiality import CELL_TABLES, DIMENSIONS, assert_release_is_safe
from tests.loading import load_accepted_report

PERIOD = "2026-10"


def build_release(data: Path, rows: int, providers: int, seed: int) -> Path:
    """A synthetic month loaded straight into the warehouse (no validation) and published in-process."""
    settings = Settings.from_env({}, data_dir=data)
    reports = generate_month(data, PERIOD, rows=rows, providers=providers, seed=seed)
    with open_warehouse(settings) as con:
        load_reference_tables(con, settings)
        for i, report in enumerate(reports):
            received_at = dt.datetime(2026, 11, 2, tzinfo=dt.UTC) + dt.timedelta(minutes=i)
            load_accepted_report(con, settings, report.path, PERIOD, i + 1, received_at)
        (release,) = publish_months(con, [PERIOD], settings, created_at=dt.datetime(2026, 11, 5, tzinfo=dt.UTC))
    return release


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    data = tmp_path_factory.mktemp("scan") / "data"
    return data, build_release(data, rows=6_000, providers=10, seed=4)


@pytest.fixture
def copy(built, tmp_path) -> tuple[Path, Path]:
    data, release = built
    return data, Path(shutil.copytree(release, tmp_path / "v1"))


def _tables(release: Path) -> dict[str, pl.DataFrame]:
    return {name: pl.read_parquet(release / "tables" / f"{name}.parquet") for name in CELL_TABLES}


def _rewrite(release: Path, change) -> None:
    for name, table in _tables(release).items():
        change(table).write_parquet(release / "tables" / f"{name}.parquet")


def _true_values(data: Path) -> pl.DataFrame:
    import duckdb

    with duckdb.connect(str(data / "warehouse" / "tokenstats.duckdb"), read_only=True) as con:
        return con.sql(
            f"select {', '.join(DIMENSIONS)}, total_tokens::bigint as true_tokens, conf_status as flag from mart.cells"
        ).pl()


def test_the_release_the_pipeline_built_is_safe(built):
    data, release = built
    checked = assert_release_is_safe(data, release)
    assert checked["files"] >= 20 and 0 < checked["suppressed"] < checked["cells"]


def test_a_provider_name_in_the_bulletin_is_caught(copy):
    data, release = copy
    provider = read_registry(data / "registry" / "providers.csv")[0]
    bulletin = release / "bulletin.html"
    bulletin.write_text(bulletin.read_text().replace("</body>", f"<p>{provider.name}</p></body>"))
    with pytest.raises(AssertionError, match="names"):
        assert_release_is_safe(data, release)


def test_an_enterprise_group_inside_the_workbook_xml_is_caught(copy):
    data, release = copy
    group = read_registry(data / "registry" / "providers.csv")[-1].enterprise_group
    workbook = next(release.glob("*.xlsx"))
    parts = {}
    with zipfile.ZipFile(workbook) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    parts["docProps/core.xml"] = parts["docProps/core.xml"].replace(
        b"</cp:coreProperties>", f"<dc:creator>{group}</dc:creator></cp:coreProperties>".encode()
    )
    with zipfile.ZipFile(workbook, "w") as archive:
        for name, content in parts.items():
            archive.writestr(name, content)
    with pytest.raises(AssertionError, match=group.lower()):
        assert_release_is_safe(data, release)


def test_a_suppressed_value_printed_in_a_csv_is_caught(copy):
    data, release = copy
    truth = _true_values(data).filter(pl.col("flag") == "A", pl.col("true_tokens") > 10**6)
    cell = truth.row(0, named=True)
    table = pl.read_csv(release / "tables" / "cube.csv", infer_schema=False)
    key = pl.all_horizontal(pl.col(d) == cell[d] for d in DIMENSIONS)
    if not table.filter(key).height:
        table = pl.read_csv(release / "tables" / "compute_flows.csv", infer_schema=False)
    path = release / "tables" / "leak.csv"
    table.with_columns(
        pl.when(key).then(pl.lit(str(cell["true_tokens"]))).otherwise(pl.col("total_tokens")).alias("total_tokens")
    ).write_csv(path)
    with pytest.raises(AssertionError, match="suppressed"):
        assert_release_is_safe(data, release)


def test_a_value_in_sdmx_for_a_suppressed_observation_is_caught(copy):
    data, release = copy
    sdmx = pl.read_csv(release / "sdmx" / "data.csv", infer_schema=False)
    first_hidden = next(i for i, flag in enumerate(sdmx["CONF_STATUS"]) if flag != "F")
    leak = pl.when(pl.int_range(pl.len()) == first_hidden).then(pl.lit("12345")).otherwise(pl.col("OBS_VALUE"))
    sdmx.with_columns(leak.alias("OBS_VALUE")).write_csv(release / "sdmx" / "data.csv")
    with pytest.raises(AssertionError, match="suppressed value is printed"):
        assert_release_is_safe(data, release)


def _published_as_free(truth: pl.DataFrame):
    """A rewrite of a table that publishes the given suppressed cells, with their true values, as free."""

    def rewrite(table: pl.DataFrame) -> pl.DataFrame:
        joined = table.join(truth, on=list(DIMENSIONS), how="left")
        hit = pl.col("true_tokens").is_not_null()
        return joined.with_columns(
            pl.when(hit).then(pl.col("true_tokens")).otherwise(pl.col("total_tokens")).alias("total_tokens"),
            pl.when(hit).then(pl.lit("F")).otherwise(pl.col("conf_status")).alias("conf_status"),
        ).select(table.columns)

    return rewrite


def test_a_primary_cell_published_as_free_is_caught(copy):
    data, release = copy
    truth = _true_values(data).filter(pl.col("flag") == "A").head(1)
    _rewrite(release, _published_as_free(truth))
    with pytest.raises(AssertionError, match="free with"):
        assert_release_is_safe(data, release)


def test_a_pattern_without_secondary_suppression_fails_the_audit(copy):
    data, release = copy
    truth = _true_values(data).filter(pl.col("flag") == "D")
    assert truth.height, "the month has secondary suppressions"
    _rewrite(release, _published_as_free(truth))
    with pytest.raises(AssertionError, match="can be narrowed"):
        assert_release_is_safe(data, release)


def test_a_free_value_that_is_not_the_warehouses_is_caught(copy):
    data, release = copy
    by_region = pl.read_parquet(release / "tables" / "by_region.parquet")  # free cells (the national one may not be)
    assert (by_region["conf_status"] == "F").any()
    by_region.with_columns(pl.col("total_tokens") + 1).write_parquet(release / "tables" / "by_region.parquet")
    with pytest.raises(AssertionError, match="the warehouse says"):
        assert_release_is_safe(data, release)


def test_a_national_month_of_24_providers_is_protected(tmp_path):
    data = tmp_path / "data"
    assert_release_is_safe(data, build_release(data, rows=60_000, providers=24, seed=20261))


def test_a_price_index_cell_published_against_the_rules_is_caught(copy):
    data, release = copy
    path = release / "tables" / "price_index.parquet"
    index = pl.read_parquet(path)
    withheld = pl.col("conf_status") != "F"
    assert index.filter(withheld).height, "the month has a withheld index cell"
    index.with_columns(
        pl.when(withheld).then(100.0).otherwise(pl.col("price_index")).alias("price_index"),
        pl.when(withheld).then(pl.lit("F")).otherwise(pl.col("conf_status")).alias("conf_status"),
    ).write_parquet(path)
    with pytest.raises(AssertionError, match="free, but its month's items fail the rules"):
        assert_release_is_safe(data, release)
