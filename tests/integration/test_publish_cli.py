"""Publishing through the CLI: published figures are right to the token, versions follow the inputs, the
analyst snapshot opens in the stock DuckDB CLI."""

from __future__ import annotations

import decimal
import json
import math
import shutil
import subprocess
from pathlib import Path

import polars as pl
import pytest

from pipelines.cli.commands import main
from pipelines.contract.registry import read_registry
from pipelines.synthetic.generate import generate_month
from tests.confidentiality import assert_release_is_safe
from tests.imputation_oracle import estimated_rows
from tests.oracle import read_reports
from tests.price_index_oracle import index_items, true_series

pytestmark = pytest.mark.integration

PERIOD = "2026-10"
ZONES = pl.read_csv(Path(__file__).resolve().parents[2] / "schemas" / "provinces.csv", infer_schema=False).select(
    "region_code", "economic_zone"
)


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("publish") / "data"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TOKENSTATS_DATA_DIR", str(data))
        generate_month(data, "2026-09", rows=120_000, providers=40)
        generate_month(data, PERIOD, rows=120_000, providers=40, faults=["corrupt"])
        assert main(["ingest"]) == 0
        assert main(["publish", "--period", "2026-09", "--period", PERIOD]) == 0
    return data


def _table(data: Path, name: str, version: int = 1) -> pl.DataFrame:
    return pl.read_parquet(data / "published" / PERIOD / f"v{version}" / "tables" / f"{name}.parquet")


def _accepted_rows(data: Path, period: str) -> pl.DataFrame:
    """The accepted reports' rows, read straight from the archived files (not from the warehouse)."""
    files = sorted((data / "archive").glob(f"*/{period}/*/*.parquet"))
    return read_reports(files).filter(pl.col("customer_type") != "reseller")


def _independent(rows: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """national, by_region (provinces, zones, total), by_modality, by_sector, recomputed in Polars."""
    rows = rows.join(ZONES, on="region_code").with_columns(
        total_tokens=pl.col("input_tokens") + pl.col("output_tokens"),
        sector_code=pl.when(pl.col("customer_type") == "individual").then(pl.lit("HH")).otherwise("sector_code"),
    )
    sums = [
        pl.col(m).sum()
        for m in (
            "total_tokens",
            "input_tokens",
            "cached_input_tokens",
            "output_tokens",
            "requests",
            "settlement_amount",
        )
    ]

    def by(column: str | None, key: str) -> pl.DataFrame:
        grouped = rows.group_by(column).agg(sums).rename({column: key}) if column else rows.select(sums)
        return grouped.with_columns(pl.lit("_T").alias(key)) if not column else grouped

    regions = pl.concat(
        [by("region_code", "region_code"), by("economic_zone", "region_code"), by(None, "region_code")],
        how="diagonal_relaxed",
    )
    return {
        "national": by(None, "region_code"),
        "by_region": regions,
        "by_modality": pl.concat([by("modality", "modality"), by(None, "modality")], how="diagonal_relaxed"),
        "by_sector": pl.concat([by("sector_code", "sector_code"), by(None, "sector_code")], how="diagonal_relaxed"),
    }


@pytest.mark.parametrize(
    "name,key",
    [
        ("national", "region_code"),
        ("by_region", "region_code"),
        ("by_modality", "modality"),
        ("by_sector", "sector_code"),
    ],
)
def test_free_cells_equal_an_independent_recomputation_to_the_token(published, name, key):
    """The corrupt report is refused, so its provider is late: estimated (tests/imputation_oracle.py), flagged E."""
    late = estimated_rows(published, published / "published" / PERIOD / "v1", "2026-09")
    expected = _independent(pl.concat([_accepted_rows(published, PERIOD), late], how="diagonal_relaxed"))[name]
    reported_only = _independent(_accepted_rows(published, PERIOD))[name]
    table = _table(published, name)
    free = table.filter(pl.col("conf_status") == "F")
    assert free.height >= 1
    estimated = free.filter(pl.col("obs_status") == "E")
    assert (name != "national") or estimated.height == 1, "the national total holds the estimate"
    # A cell without the estimate equals the reports alone; a cell with it does not.
    unchanged = free.join(reported_only, on=key, how="left", suffix="_reported")
    assert ((unchanged["total_tokens"] == unchanged["total_tokens_reported"]) == (unchanged["obs_status"] != "E")).all()
    joined = free.join(expected, on=key, how="left", suffix="_expected")
    for measure in ("total_tokens", "input_tokens", "cached_input_tokens", "output_tokens", "requests"):
        assert (joined[measure] == joined[f"{measure}_expected"]).all(), (name, measure)
    for got, want in zip(joined["settlement_amount"], joined["settlement_amount_expected"], strict=True):
        assert decimal.Decimal(str(got)) == decimal.Decimal(str(want)), name
    suppressed = table.filter(pl.col("conf_status") != "F")
    assert suppressed.select(pl.col("total_tokens").is_null().all()).item()


def test_price_index_equals_an_independent_recomputation_from_the_archive(published):
    """Plain numpy over the archived reports each release used (their manifests), none of the pipeline's code."""
    groups = {p.provider_id: p.enterprise_group for p in read_registry(published / "registry" / "providers.csv")}
    used = set()
    for period in ("2026-09", PERIOD):
        manifest = json.loads((published / "published" / period / "v1" / "manifest.json").read_text())
        used |= set(manifest["inputs"]["submissions"])
    files = [f for f in sorted((published / "archive").glob("*/*/*/*.parquet")) if f.parent.name in used]
    truth = true_series(index_items(read_reports(files), groups))
    index = _table(published, "price_index")
    assert sorted(index["month"].unique()) == ["2026-09", PERIOD]  # the series to date, from the first month
    free = index.filter(pl.col("conf_status") == "F", pl.col("month") == PERIOD)
    assert {"_T", "text"} <= set(free["modality"])
    for row in free.iter_rows(named=True):
        level = truth[(row["month"], row["modality"])]["level"]
        assert math.isclose(row["price_index"], level, rel_tol=1e-9), row
        assert row["geks_index"] == pytest.approx(row["price_index"], rel=1e-12)  # two months: GEKS is Törnqvist
    september = _table(published, "price_index").filter(pl.col("month") == "2026-09", pl.col("conf_status") == "F")
    assert set(september["price_index"]) == {100.0}


def test_each_release_is_complete_safe_and_provisional(published):
    for period in ("2026-09", PERIOD):
        release = published / "published" / period / "v1"
        manifest = json.loads((release / "manifest.json").read_text())
        assert manifest["status"] == "provisional" and manifest["version"] == 1
        for entry in manifest["files"]:
            assert (release / entry["path"]).exists()
        names = {p.name for p in (release / "tables").iterdir()}
        for table in (
            "national",
            "by_region",
            "by_modality",
            "by_sector",
            "cube",
            "compute_flows",
            "use_type",
            "coverage",
            "price_index",
        ):
            assert {f"{table}.csv", f"{table}.parquet"} <= names
        assert (release / "sdmx" / "data.csv").exists() and (release / "bulletin.html").exists()
        national = pl.read_parquet(release / "tables" / "national.parquet")
        assert set(national["obs_status"]) == {"P" if period == "2026-09" else "E"}  # October: one estimate
        assert_release_is_safe(published, release)
    october = json.loads((published / "published" / PERIOD / "v1" / "manifest.json").read_text())
    assert october["inputs"]["previous_month_release"] == "2026-09/v1"
    assert _table(published, "coverage").row(0, named=True)["providers_missing"] == 1  # the corrupt report


def test_publishing_unchanged_inputs_writes_nothing_new(published, monkeypatch, capsys):
    monkeypatch.setenv("TOKENSTATS_DATA_DIR", str(published))
    before = sorted(p.name for p in (published / "published" / PERIOD).iterdir())
    assert main(["publish", "--period", PERIOD]) == 0
    assert "nothing new published" in capsys.readouterr().out
    assert sorted(p.name for p in (published / "published" / PERIOD).iterdir()) == before == ["v1"]


def test_the_analyst_snapshot_opens_in_the_stock_duckdb_cli(published):
    cli = shutil.which("duckdb") or str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "duckdb")
    done = subprocess.run(
        [
            cli,
            "-readonly",
            "-csv",
            str(published / "analyst" / "tokenstats.duckdb"),
            "-c",
            # sums, not only the count (which the files' footers answer): the CLI decodes every value written
            "select count(*) as n, sum(input_tokens) as tokens, sum(settlement_amount) as amount "
            "from analyst.usage where report_period = '2026-10'",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows = read_reports(sorted((published / "archive").glob(f"*/{PERIOD}/*/*.parquet")))
    assert (
        rows.height
        == _accepted_rows(published, PERIOD).height + rows.filter(pl.col("customer_type") == "reseller").height
    )
    n, tokens, amount = done.stdout.split()[-1].split(",")
    assert (int(n), int(tokens)) == (rows.height, rows["input_tokens"].sum())
    assert decimal.Decimal(amount) == decimal.Decimal(str(rows["settlement_amount"].sum()))


def test_query_runs_read_only_sql_on_the_snapshot(published, monkeypatch, capsys):
    monkeypatch.setenv("TOKENSTATS_DATA_DIR", str(published))
    assert main(["query", "select view_name from analyst.about order by 1", "--format", "csv"]) == 0
    assert {"usage", "submissions", "by_region"} <= set(capsys.readouterr().out.split())
    assert main(["query", "delete from core.usage"]) == 2  # read-only
    assert "read-only" in capsys.readouterr().err


def test_a_correction_writes_v2_with_a_revisions_table(published, monkeypatch):
    monkeypatch.setenv("TOKENSTATS_DATA_DIR", str(published))
    # Three providers of three enterprise groups each correct 100 rows by the same amount: a revision of the
    # national total that is no single group's change (one group's alone would be withheld: see
    # test_record_confidentiality.py).
    registry = pl.read_csv(published / "registry" / "providers.csv", infer_schema=False)
    reporting = {p.name for p in (published / "archive").iterdir()}
    providers = (
        registry.filter(pl.col("provider_id").is_in(sorted(reporting)))
        .unique("enterprise_group", keep="first", maintain_order=True)["provider_id"]
        .head(3)
    )
    for provider in providers:
        first = next((published / "archive" / provider / PERIOD).glob("*/*.parquet"))
        report = pl.read_parquet(first).with_row_index()
        corrected = report.with_columns(
            pl.when(pl.col("index") < 100).then(pl.col("output_tokens") + 1_000).otherwise(pl.col("output_tokens"))
        ).drop("index")
        corrected.write_parquet(published / "inbox" / provider / "corrected.parquet")
    assert main(["ingest"]) == 0
    assert main(["publish", "--period", PERIOD]) == 0

    release = published / "published" / PERIOD / "v2"
    manifest = json.loads((release / "manifest.json").read_text())
    assert manifest["status"] == "revised" and manifest["revises"] == "v1"
    revisions = _table(published, "revisions", version=2)
    national = revisions.filter(
        pl.col("region_code") == "_T",
        pl.col("modality") == "_T",
        pl.col("sector_code") == "_T",
        pl.col("compute_region_code") == "_T",
        pl.col("use_type") == "final",
        pl.col("measure") == "total_tokens",
    )
    row = national.row(0, named=True)
    # at most 300,000 tokens: reseller rows among the 300 corrected are intermediate use, not in final use
    assert 0 < row["difference"] == row["value"] - row["previous_value"] <= 300_000
    assert row["conf_status"] == "F", "three groups' change, none dominant: the revision is published"
    assert set(_table(published, "national", version=2)["obs_status"]) == {"E"}, "the refused provider: still late"
    assert (published / "published" / PERIOD / "v1" / "manifest.json").exists(), "v1 stays, unchanged"
    assert_release_is_safe(published, release)
