"""No crash at the int64 edge: reports whose sums could pass 2^63 are refused at ingest with their reason;
the month is still published from the others, and sums up to the bound publish exactly."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from pipelines.synthetic.generate import generate_month
from pipelines.validation.validate import MONTH_TOTAL_LIMIT, REPORT_TOTAL_LIMIT
from tests.cli_process import run_cli

pytestmark = pytest.mark.integration

PERIOD = "2026-10"
ROW_MAX = 10**15  # the contract's bound on one row


def _set_counts(path: Path, input_tokens: int, output_tokens: int, requests: int = 1) -> int:
    """Every row of a report set to the given counts (each within the contract) and one yuan, so no provider
    dominates a measure and the national cell is published; returns the rows."""
    report = pl.read_parquet(path)
    report = report.with_columns(
        settlement_amount=pl.lit(1).cast(report.schema["settlement_amount"]),
        input_tokens=pl.lit(input_tokens, pl.Int64),
        cached_input_tokens=pl.lit(0, pl.Int64),
        output_tokens=pl.lit(output_tokens, pl.Int64),
        requests=pl.lit(requests, pl.Int64),
    )
    report.write_parquet(path)
    return report.height


def _reason(data: Path, provider: str) -> dict:
    return json.loads(next((data / "quarantine" / provider).glob("*/reason.json")).read_text())


def test_a_report_whose_sums_pass_2_63_is_rejected_and_the_month_still_publishes(tmp_path):
    data = tmp_path / "data"
    reports = generate_month(data, PERIOD, rows=40_000, providers=8)
    big = max(reports, key=lambda r: r.rows)
    rows = _set_counts(big.path, ROW_MAX, ROW_MAX, requests=ROW_MAX)
    assert rows * ROW_MAX > 2**63, "the attack: every row valid, the sums beyond int64"
    assert run_cli(data, "ingest").returncode == 0
    failure = _reason(data, big.provider_id)["failures"][0]
    assert failure["rule"] == "contract.report_total" and f"{REPORT_TOTAL_LIMIT:,}" in failure["message"]
    done = run_cli(data, "publish", "--period", PERIOD)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr


def test_the_month_bound_keeps_every_published_sum_exact_and_within_int64(tmp_path):
    data = tmp_path / "data"
    reports = generate_month(data, PERIOD, rows=12 * 300, providers=12)
    per_report = REPORT_TOTAL_LIMIT * 95 // 100  # each report within its bound; twelve of them are not
    expected, final = {}, {}
    for report in reports:
        rows = pl.read_parquet(report.path).height
        each = per_report // rows
        _set_counts(report.path, each, each)
        expected[report.provider_id] = each * rows
        final[report.provider_id] = pl.read_parquet(report.path).filter(pl.col("customer_type") != "reseller")
    done = run_cli(data, "ingest")
    assert done.returncode == 0, done.stderr
    rejected = [p for p in expected if (data / "quarantine" / p).exists()]
    assert rejected and all(_reason(data, p)["failures"][0]["rule"] == "contract.month_total" for p in rejected)
    assert sum(v for p, v in expected.items() if p not in rejected) <= MONTH_TOTAL_LIMIT
    done = run_cli(data, "publish", "--period", PERIOD)
    assert done.returncode == 0, done.stderr
    final_use = sum(final[p]["input_tokens"].sum() for p in final if p not in rejected)
    national = pl.read_parquet(data / "published" / PERIOD / "v1" / "tables" / "national.parquet")
    assert national["conf_status"].to_list() == ["F"], "the test needs the national cell published"
    assert national["input_tokens"].to_list() == [final_use], "exact to the token"
