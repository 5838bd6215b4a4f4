"""The synthetic national month: valid by the contract, realistic in shape, deterministic, and faultable."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from pipelines.cli.commands import main
from pipelines.contract.registry import read_registry
from pipelines.synthetic.faults import FAULTS
from pipelines.synthetic.generate import ROW_GROUP_ROWS, generate_month
from tests.oracle import read_reports, violations

HISTORY_FAULTS = {"cents_for_yuan", "volume_spike"}  # visible only against the provider's history


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("month")
    generate_month(data, "2026-10", rows=1_000_000)
    return data


def _usage(data: Path) -> pl.DataFrame:
    return read_reports(sorted((data / "inbox").glob("*/*.parquet"))).with_columns(
        tokens=pl.col("input_tokens") + pl.col("output_tokens")
    )


def test_cli_writes_at_least_ten_reports_that_satisfy_the_contract(data_dir: Path, capsys):
    assert main(["generate", "--period", "2026-10", "--rows", "1000000"]) == 0
    files = sorted((data_dir / "inbox").glob("*/*.parquet"))
    assert len(files) >= 10
    assert sum(pq.ParquetFile(f).metadata.num_rows for f in files) == 1_000_000
    for f in files:
        assert violations(f) == set(), f
    registry = read_registry(data_dir / "registry" / "providers.csv")
    assert {p.provider_id for p in registry} == {f.parent.name for f in files}
    assert "1,000,000 rows" in capsys.readouterr().out


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path):
    def digest(seed: int, name: str) -> dict[str, bytes]:
        generate_month(tmp_path / name, "2026-10", rows=50_000, seed=seed)
        return {p.name: p.read_bytes() for p in sorted((tmp_path / name).rglob("*.parquet"))}

    first = digest(7, "a")
    assert first == digest(7, "b")
    assert first != digest(8, "c")


def test_reports_stream_in_bounded_row_groups(month: Path):
    for f in (month / "inbox").glob("*/*.parquet"):
        meta = pq.ParquetFile(f).metadata
        assert all(meta.row_group(i).num_rows <= ROW_GROUP_ROWS for i in range(meta.num_row_groups))


def test_string_columns_arrive_in_several_arrow_encodings(month: Path):
    encodings = {str(pq.read_schema(f).field("region_code").type) for f in (month / "inbox").glob("*/*.parquet")}
    assert encodings == {"string", "large_string", "dictionary<values=string, indices=int32, ordered=0>"}


def test_national_volume_is_of_order_ten_to_the_fifteen(month: Path):
    total = _usage(month)["tokens"].sum()
    assert 1e15 <= total <= 1e16


def test_a_few_providers_dominate_and_a_long_tail_follows(month: Path):
    shares = _usage(month).group_by("provider_id").agg(pl.col("tokens").sum()).sort("tokens", descending=True)
    share = (shares["tokens"] / shares["tokens"].sum()).to_list()
    assert share[0] > 0.25
    assert sum(share[:3]) > 0.55
    assert share[-1] < 0.05


def test_text_far_ahead_then_code_image_audio_video(month: Path):
    by_modality = _usage(month).group_by("modality").agg(pl.col("tokens").sum()).sort("tokens", descending=True)
    assert by_modality["modality"].to_list() == ["text", "code", "image", "audio", "video"]
    text, code = by_modality["tokens"][0], by_modality["tokens"][1]
    assert text > 2.5 * code


def test_eastern_provinces_dominate_and_compute_sits_in_hubs(month: Path):
    usage = _usage(month)
    east = {
        "110000",
        "120000",
        "130000",
        "310000",
        "320000",
        "330000",
        "350000",
        "370000",
        "440000",
        "460000",
    }
    east_share = usage.filter(pl.col("region_code").is_in(east))["tokens"].sum() / usage["tokens"].sum()
    assert east_share > 0.6
    western_hubs = ["150000", "520000", "620000", "640000"]
    served = usage.filter(pl.col("compute_region_code").is_in(western_hubs))["tokens"].sum()
    consumed = usage.filter(pl.col("region_code").is_in(western_hubs))["tokens"].sum()
    assert served > 10 * consumed
    assert usage["compute_region_code"].null_count() > 0


def test_sector_i_leads_enterprise_use_and_resellers_are_a_minority(month: Path):
    usage = _usage(month)
    enterprise = (
        usage.filter(pl.col("customer_type") == "enterprise")
        .group_by("sector_code")
        .agg(pl.col("tokens").sum())
        .sort("tokens", descending=True)
    )
    assert enterprise["sector_code"][0] == "I"
    assert enterprise["tokens"][0] / enterprise["tokens"].sum() > 0.25
    reseller_share = usage.filter(pl.col("customer_type") == "reseller")["tokens"].sum() / usage["tokens"].sum()
    assert 0.05 < reseller_share < 0.25


def test_weekdays_busier_for_enterprises_and_prices_differ_by_modality(month: Path):
    usage = _usage(month).with_columns(weekend=pl.col("usage_date").dt.weekday() >= 6)
    daily = (
        usage.filter(pl.col("customer_type") == "enterprise")
        .group_by("usage_date", "weekend")
        .agg(pl.col("tokens").sum())
        .group_by("weekend")
        .agg(pl.col("tokens").mean())
    )
    per_day = dict(zip(daily["weekend"], daily["tokens"], strict=True))
    assert per_day[False] > 1.3 * per_day[True]
    price = usage.group_by("modality").agg(
        (pl.col("settlement_amount").cast(pl.Float64).sum() / pl.col("tokens").sum() * 1e6).alias("yuan_per_m")
    )
    prices = dict(zip(price["modality"], price["yuan_per_m"], strict=True))
    assert prices["video"] > prices["image"] > prices["text"]
    assert 1 < prices["text"] < 50


def test_each_fault_breaks_exactly_its_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TOKENSTATS_MAX_FILE_BYTES", str(2_000_000))
    clean = tmp_path / "clean"
    generate_month(clean, "2026-10", rows=60_000, providers=len(FAULTS) + 2)
    faulted = tmp_path / "faulted"
    reports = generate_month(faulted, "2026-10", rows=60_000, providers=len(FAULTS) + 2, faults=list(FAULTS))
    assert {r.fault for r in reports} == set(FAULTS) | {None}
    for report in reports:
        expected = set() if report.fault in (None, *HISTORY_FAULTS) else {FAULTS[report.fault].rule}
        assert violations(report.path, max_file_bytes=2_000_000) == expected, report.fault

    def totals(data: Path, provider: str) -> tuple[float, float]:
        df = read_reports(sorted((data / "inbox" / provider).glob("*.parquet")))
        tokens = (df["input_tokens"] + df["output_tokens"]).sum()
        return tokens, df["settlement_amount"].cast(pl.Float64).sum() / tokens

    for report in reports:
        if report.fault in HISTORY_FAULTS:
            (tokens, price), (tokens0, price0) = (
                totals(faulted, report.provider_id),
                totals(clean, report.provider_id),
            )
            if report.fault == "volume_spike":
                assert tokens == pytest.approx(20 * tokens0, rel=1e-6)
                assert price == pytest.approx(price0, rel=1e-6)
            else:
                assert tokens == tokens0
                assert price == pytest.approx(100 * price0, rel=1e-6)


def test_unknown_fault_and_crowded_faults_are_usage_errors(data_dir: Path, capsys):
    assert main(["generate", "--period", "2026-10", "--rows", "1000", "--fault", "gremlins"]) == 2
    assert "unknown fault 'gremlins'" in capsys.readouterr().err
    assert main(["generate", "--period", "2026-13", "--rows", "1000"]) != 0
