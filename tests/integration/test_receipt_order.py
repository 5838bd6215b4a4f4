"""Receipt order belongs to the bureau: a correction supersedes what it corrects whatever time its file carries."""

from __future__ import annotations

import os
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.core.config import load_settings
from pipelines.intake.claim import RECEIPT_COUNTER, next_receipt
from pipelines.synthetic.generate import generate_month
from tests.cli_process import run_cli

pytestmark = pytest.mark.integration

PERIOD = "2026-10"
DAY = 86_400


def _ledger(data: Path, provider: str) -> list[tuple[str, str]]:
    with duckdb.connect(str(data / "warehouse" / "tokenstats.duckdb"), read_only=True) as con:
        return con.sql(
            "select file_name, status from core.submissions where provider_id = $p order by receipt_seq",
            params={"p": provider},
        ).fetchall()


def _correct(data: Path, provider: str, name: str, shift_seconds: float) -> Path:
    """A corrected report dropped into the inbox with a modification time ``shift_seconds`` from now."""
    original = next((data / "archive" / provider / PERIOD).glob("*/*.parquet"))
    path = data / "inbox" / provider / name
    pl.read_parquet(original).with_columns(pl.col("output_tokens") + 7).write_parquet(path)
    when = time.time() + shift_seconds
    os.utime(path, (when, when))
    return path


@pytest.fixture
def month(tmp_path: Path) -> tuple[Path, str]:
    data = tmp_path / "data"
    reports = generate_month(data, PERIOD, rows=1_200, providers=3, seed=11)
    assert run_cli(data, "ingest").returncode == 0
    assert run_cli(data, "publish", "--period", PERIOD).returncode == 0
    return data, reports[0].provider_id


def test_a_correction_with_an_old_file_time_supersedes_and_is_published(month):
    """``scp -p`` / ``rsync -t``: the corrected file keeps a time before the report it corrects."""
    data, provider = month
    _correct(data, provider, "corrected.parquet", -30 * DAY)
    done = run_cli(data, "ingest")
    assert done.returncode == 0 and f"accepted  {provider}/corrected.parquet" in done.stdout
    ledger = _ledger(data, provider)
    assert ledger[-1] == ("corrected.parquet", "accepted") and ledger[0][1] == "superseded"
    published = run_cli(data, "publish", "--period", PERIOD)
    assert published.returncode == 0 and f"published {data}/published/{PERIOD}/v2" in published.stdout


def test_a_future_dated_report_is_superseded_by_the_next_one(month):
    data, provider = month
    _correct(data, provider, "from-the-future.parquet", 365 * DAY)
    assert run_cli(data, "ingest").returncode == 0
    original = next((data / "archive" / provider / PERIOD).glob("*/from-the-future.parquet"))
    path = data / "inbox" / provider / "second-correction.parquet"
    pl.read_parquet(original).with_columns(pl.col("output_tokens") + 11).write_parquet(path)
    assert run_cli(data, "ingest").returncode == 0
    assert [status for _, status in _ledger(data, provider)] == ["superseded", "superseded", "accepted"]
    assert _ledger(data, provider)[-1][0] == "second-correction.parquet"


def test_receipt_numbers_only_grow_even_if_the_counter_is_lost(data_dir):
    settings = load_settings()
    numbers = [next_receipt(settings) for _ in range(50)]
    assert numbers == sorted(set(numbers))
    (settings.landing_dir / RECEIPT_COUNTER).unlink()
    assert next_receipt(settings) > numbers[-1]
    (settings.landing_dir / RECEIPT_COUNTER).write_text(str(numbers[-1] + 10**15))  # a clock that ran ahead
    assert next_receipt(settings) == numbers[-1] + 10**15 + 1
