"""Concurrency: one writer at a time, named when it refuses another; analysts read the snapshot throughout.

- a second ``tokenstats ingest`` (or a publish while the warehouse is held) exits 75 naming the holder, without
  touching anything; two ingests started at once load every file exactly once, whichever wins;
- a loader handed claims that another loader has filed away meanwhile (a CLI run beside an Airflow run) skips
  them instead of failing;
- an analyst process reading ``data/analyst/tokenstats.duckdb`` read-only in a loop while ingest and publish run
  never gets an error and always sees one consistent state (the ledger's accepted rows equal the usage rows,
  the national cell equals the sum of the usage), and sees every published state in turn.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.core.config import Settings
from pipelines.core.database import lock_file, lock_writer
from pipelines.intake.ingest import claim_inbox
from pipelines.intake.load import load_claims
from pipelines.synthetic.generate import generate_month
from tests.cli_process import cli_env, run_cli, start_cli
from tests.confidentiality import assert_release_is_safe

pytestmark = pytest.mark.integration

PERIOD = "2026-10"
READER = r"""
import json, sys, os, duckdb
path, stop = sys.argv[1], sys.argv[2]
query = '''
select
    (select coalesce(sum(row_count), 0) from analyst.submissions where status = 'accepted') as ledger_rows,
    (select count(*) from analyst.usage) as usage_rows,
    (select count(*) from analyst.submissions) as arrivals,
    (select total_tokens from analyst.cells where reference_period = '2026-10' and use_type = 'final'
        and region_code = '_T' and compute_region_code = '_T' and modality = '_T' and sector_code = '_T')
        as national_cell,
    (select sum(total_tokens) from analyst.usage where report_period = '2026-10' and use_type = 'final')
        as national_usage
'''
reads, last = 0, None
while not os.path.exists(stop):
    try:
        with duckdb.connect(path, read_only=True) as con:
            row = con.sql(query).fetchall()[0]
        state = {"ledger_rows": row[0], "usage_rows": row[1], "arrivals": row[2],
                 "national_cell": str(row[3]), "national_usage": str(row[4])}
    except Exception as error:
        state = {"error": repr(error)}
    reads += 1
    if state != last:
        print(json.dumps(state), flush=True)
        last = state
print(json.dumps({"reads": reads}), flush=True)
"""


def _ledger(data: Path) -> pl.DataFrame:
    with duckdb.connect(str(data / "warehouse" / "tokenstats.duckdb"), read_only=True) as con:
        return con.sql("select provider_id, file_name, status, row_count, submission_id from core.submissions").pl()


def _usage_rows(data: Path) -> int:
    with duckdb.connect(str(data / "warehouse" / "tokenstats.duckdb"), read_only=True) as con:
        return con.sql("select count(*) from core.usage").fetchall()[0][0]


def test_a_second_ingest_or_publish_names_the_holder_and_exits_75(tmp_path):
    data = tmp_path / "data"
    generate_month(data, PERIOD, rows=300, providers=2)
    settings = Settings.from_env(data_dir=data)
    inbox = sorted(p.name for p in data.glob("inbox/*/*"))
    with lock_file(settings.landing_dir / ".ingest.lock", 0, "ingest"):
        result = run_cli(data, "ingest")
    assert result.returncode == 75, result.stderr
    assert f"ingest is in use by pid {os.getpid()}" in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in data.glob("inbox/*/*")) == inbox, "nothing was claimed"
    with lock_writer(settings):
        result = run_cli(data, "publish", "--period", PERIOD)
    assert result.returncode == 75, result.stderr
    assert f"by pid {os.getpid()}" in result.stderr and "Traceback" not in result.stderr


def test_two_ingests_started_at_once_load_each_file_exactly_once(tmp_path):
    data = tmp_path / "data"
    reports = generate_month(data, PERIOD, rows=600, providers=3)
    runs = [start_cli(data, "ingest") for _ in range(2)]
    outcomes = [(run.wait(timeout=300), *run.communicate()) for run in runs]
    codes = sorted(code for code, _, _ in outcomes)
    assert codes in ([0, 0], [0, 75]), outcomes
    print(f"two ingests at once: exit codes {codes}")
    for code, out, err in outcomes:
        assert "Traceback" not in err
        if code == 75:
            assert "ingest is in use by pid" in err
        else:
            assert out
    ledger = _ledger(data)
    assert ledger.height == len(reports) and set(ledger["status"]) == {"accepted"}
    assert ledger["submission_id"].n_unique() == len(reports)
    assert _usage_rows(data) == ledger["row_count"].sum() == sum(r.rows for r in reports)
    assert not list(data.glob("inbox/*/*")) and not list(data.glob("landing/*/*"))


def test_a_loader_given_claims_another_loader_filed_away_skips_them(tmp_path):
    data = tmp_path / "data"
    report = generate_month(data, PERIOD, rows=50, providers=1)[0]
    report.path.unlink()  # two unreadable files: refused by the structure layer, no GX needed
    for i in range(2):
        (report.path.parent / f"broken_{i}.parquet").write_bytes(f"not parquet {i}".encode())
    settings = Settings.from_env({}, data_dir=data, validate_workers=1)
    claims, _ = claim_inbox(settings)
    first = load_claims(claims, settings)
    second = load_claims(claims, settings)  # e.g. an Airflow load task holding a list a CLI run has handled
    assert len(first.rejected) == 2 and not (second.accepted or second.rejected or second.duplicate)
    assert _ledger(data).height == 2


@pytest.mark.slow
def test_analysts_reading_the_snapshot_meanwhile_never_see_an_error_or_a_mixed_state(tmp_path):
    data = tmp_path / "data"
    reports = generate_month(data, PERIOD, rows=900, providers=3)
    assert run_cli(data, "ingest").returncode == 0
    assert run_cli(data, "publish", "--period", PERIOD).returncode == 0
    analyst, stop = data / "analyst" / "tokenstats.duckdb", tmp_path / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(analyst), str(stop)],
        env=cli_env(data),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: list[dict] = []
    lines = threading.Thread(target=lambda: seen.extend(json.loads(line) for line in reader.stdout), daemon=True)
    lines.start()

    def wait_until_read(state: dict) -> None:
        deadline = time.monotonic() + 120  # a guard against a hung reader, not a timing assertion
        while state not in seen:
            assert time.monotonic() < deadline and reader.poll() is None, (state, seen[-3:], reader.stderr)
            time.sleep(0.05)

    try:
        wait_until_read(_snapshot_state(analyst))
        for round_ in range(2):  # a correction arrives: ingest it, publish a new version, while the reader reads
            provider = reports[round_].provider_id
            source = pl.read_parquet(next((data / "archive" / provider).glob(f"{PERIOD}/*/*.parquet")))
            target = data / "inbox" / provider / f"correction_{round_}.parquet"
            source.with_columns(pl.col("output_tokens") + round_ + 1).write_parquet(target)
            assert run_cli(data, "ingest").returncode == 0
            assert run_cli(data, "publish", "--period", PERIOD).returncode == 0
            wait_until_read(_snapshot_state(analyst))
    finally:
        stop.touch()
        reader.wait(timeout=60)
        lines.join(timeout=10)
    errors = [s for s in seen if "error" in s]
    states = [s for s in seen if "ledger_rows" in s]
    assert not errors, errors
    assert len({s["arrivals"] for s in states}) >= 3, "the reader saw each published state"
    for state in states:
        assert state["ledger_rows"] == state["usage_rows"], state
        assert state["national_cell"] == state["national_usage"], state
    assert seen[-1]["reads"] >= len(states)
    print(f"analyst reader: {seen[-1]['reads']} reads, {len(states)} states, no error")
    for release in sorted((data / "published" / PERIOD).iterdir()):  # v1, v2, v3: each safe to publish
        assert_release_is_safe(data, release)


def _snapshot_state(analyst: Path) -> dict:
    with duckdb.connect(str(analyst), read_only=True) as con:
        row = con.sql(
            "select (select coalesce(sum(row_count), 0) from analyst.submissions where status = 'accepted'), "
            "(select count(*) from analyst.usage), (select count(*) from analyst.submissions), "
            "(select total_tokens from analyst.cells where reference_period = '2026-10' and use_type = 'final' "
            "and region_code = '_T' and compute_region_code = '_T' and modality = '_T' and sector_code = '_T'), "
            "(select sum(total_tokens) from analyst.usage where report_period = '2026-10' and use_type = 'final')"
        ).fetchall()[0]
    keys = ("ledger_rows", "usage_rows", "arrivals", "national_cell", "national_usage")
    return {k: str(v) if k.startswith("national") else v for k, v in zip(keys, row, strict=True)}
