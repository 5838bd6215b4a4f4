"""The registry through the CLI: a clear error for a bad one, coverage counts only registered providers, and
names from the inbox cannot forge a line of ``tokenstats status``."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from pipelines.synthetic.generate import generate_month
from tests.cli_process import run_cli

pytestmark = pytest.mark.integration

PERIOD = "2026-10"
FORGED = "FORGED accepted line"


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("registry") / "data"
    reports = generate_month(data, PERIOD, rows=3_000, providers=8)
    for folder in ("-rf", "JIUZHOU-MODELS"):  # inbox folders nobody registered
        (data / "inbox" / folder).mkdir()
        shutil.copy(reports[0].path, data / "inbox" / folder / "report.parquet")
    shutil.copy(reports[1].path, data / "inbox" / reports[1].provider_id / f"x\n{FORGED}.parquet")
    assert run_cli(data, "ingest").returncode == 0
    done = run_cli(data, "publish", "--period", PERIOD)
    assert done.returncode == 0, done.stderr
    return data


def test_unregistered_folders_do_not_count_in_the_published_coverage(month):
    coverage = pl.read_csv(month / "published" / PERIOD / "v1" / "tables" / "coverage.csv").row(0, named=True)
    assert coverage["providers_expected"] == 8
    assert coverage["providers_reported"] == 8
    assert coverage["providers_rejected"] == 0
    assert coverage["providers_missing"] == 0


def test_status_escapes_names_and_marks_unregistered_folders(month):
    done = run_cli(month, "status", "--period", PERIOD)
    assert done.returncode == 0, done.stderr
    assert not any(line.startswith(FORGED) for line in done.stdout.splitlines())
    assert f"x\\n{FORGED}" in done.stdout
    assert "(not registered)" in done.stdout and "JIUZHOU-MODELS" in done.stdout
    assert "8 providers expected, 8 reported, 0 rejected, 0 missing" in done.stdout


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda lines: [*lines, lines[1]], "is already on line 2"),
        (lambda lines: [lines[0], lines[1].replace(",2025-01", ",2025-13"), *lines[2:]], "'2025-13' is not a month"),
    ],
)
def test_a_bad_registry_is_a_clear_error_and_a_byte_order_mark_is_not(month, tmp_path, edit, message):
    data = tmp_path / "data"
    registry = data / "registry" / "providers.csv"
    registry.parent.mkdir(parents=True)
    good = (month / "registry" / "providers.csv").read_text(encoding="utf-8").splitlines()
    shutil.copytree(month / "warehouse", data / "warehouse")
    registry.write_text("\n".join(edit(good)) + "\n", encoding="utf-8")
    done = run_cli(data, "ingest")
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
    registry.write_text("\n".join(good) + "\n", encoding="utf-8-sig")
    done = run_cli(data, "ingest")
    assert done.returncode == 0, done.stderr


def test_generate_refuses_to_replace_the_registry(month):
    done = run_cli(month, "generate", "--period", "2026-11", "--providers", "3", "--rows", "100")
    assert done.returncode == 2 and "--force" in done.stderr and "Traceback" not in done.stderr
