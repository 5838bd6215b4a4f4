"""The GX layer: the suite file, GX's SQL engine on DuckDB (and the upstream bug our engine works around)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import shutil
import warnings
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from pipelines.contract.reasons import Received
from pipelines.core.config import Settings
from pipelines.core.database import quote_literal, read_sql
from pipelines.synthetic.faults import FAULTS
from pipelines.synthetic.generate import generate_month
from pipelines.validation.expectations import SUITE_FILE, _gx, _session, load_suite, run_suite


def test_the_suite_loads_whole_and_every_rule_is_named_and_explained():
    raw = json.loads(SUITE_FILE.read_text())
    assert len(load_suite().expectations) == len(raw["expectations"])
    for expectation in raw["expectations"]:
        assert expectation["meta"]["rule"] and expectation["meta"]["hint"]
    rules = {e["meta"]["rule"] for e in raw["expectations"]}
    # Every fault that is not about the file, its structure or history is caught by a rule of the suite.
    earlier_layers = ("file.", "schema.", "provider.", "history.", "report_period.single", "model_id.printable")
    value_faults = {f.rule for f in FAULTS.values() if not f.rule.startswith(earlier_layers)}
    assert value_faults <= rules


def _report(tmp_path: Path, fault: str | None = None) -> tuple[Path, Received]:
    reports = generate_month(tmp_path / "data", "2026-10", rows=3_000, providers=2, faults=[fault] if fault else [])
    report = next(r for r in reports if r.fault == fault) if fault else reports[0]
    received = Received(
        "0" * 64,
        report.provider_id,
        report.path.name,
        report.path.stat().st_size,
        dt.datetime(2026, 11, 5, tzinfo=dt.UTC),
    )
    return report.path, received


def _run(path: Path, received: Received, settings: Settings):
    con = duckdb.connect()
    con.execute(read_sql("validation/report_batch").format(path=quote_literal(str(path))))
    rows = pq.ParquetFile(path).metadata.num_rows
    return run_suite(con, "report", "2026-10", rows, settings, received)


def test_a_clean_report_passes_and_gets_a_data_docs_page(tmp_path):
    path, received = _report(tmp_path)
    settings = Settings.from_env(data_dir=tmp_path / "data")
    failures, page = _run(path, received, settings)
    assert failures == []
    assert page and Path(page).exists() and Path(page).suffix == ".html"
    assert Path(page) == settings.docs_dir / "validations" / received.provider_id / "2026-10" / (
        f"{received.submission_id}.html"
    )


@pytest.mark.parametrize(
    "fault", ["cached_exceeds_input", "duplicate_keys", "sector_for_individual", "date_outside_period", "requests_zero"]
)
def test_failures_carry_counts_and_samples_from_gx(tmp_path, fault):
    path, received = _report(tmp_path, fault)
    failures, _ = _run(path, received, Settings.from_env(data_dir=tmp_path / "data"))
    assert [f.rule for f in failures] == [FAULTS[fault].rule]
    failure = failures[0]
    assert failure.layer == "expectations"
    assert failure.failing_rows and failure.failing_rows <= 5
    assert failure.samples and len(failure.samples) <= 5


def test_one_reused_gx_session_gives_each_file_its_own_verdict_and_page(tmp_path):
    """GX's context is built once per process; nothing of one file (metrics, batch, connection) decides another's:
    good, bad, good again in one session, each with its own verdict and Data Docs page."""
    good, good_received = _report(tmp_path / "good")
    bad, bad_received = _report(tmp_path / "bad", "requests_zero")
    settings = Settings.from_env(data_dir=tmp_path / "site")
    runs = [
        (good, dataclasses.replace(good_received, submission_id="1" * 64)),
        (bad, dataclasses.replace(bad_received, submission_id="2" * 64)),
        (good, dataclasses.replace(good_received, submission_id="3" * 64)),
    ]
    outcomes, sessions = [], set()
    for path, received in runs:
        outcomes.append(_run(path, received, settings))
        sessions.add(id(_session(settings.docs_dir, "report", os.getpid())))
    assert len(sessions) == 1
    assert [[f.rule for f in failures] for failures, _ in outcomes] == [[], [FAULTS["requests_zero"].rule], []]
    assert outcomes[1][0][0].failing_rows and outcomes[1][0][0].samples
    pages = [Path(page) for _, page in outcomes]
    assert [p.stem for p in pages] == [received.submission_id for _, received in runs]
    status = [re.search(r"Status:</span>\s*<i[^>]*></i>\s*(\w+)", p.read_text()).group(1) for p in pages]
    assert status == ["Succeeded", "Failed", "Succeeded"]
    assert not list(settings.docs_dir.glob(".scratch*"))  # GX's scratch site is removed after every file


def test_a_session_removes_nothing_but_its_own_scratch_site(tmp_path, monkeypatch):
    """Validating processes share the docs folder: removing a folder another process may be creating its scratch
    site in (a shared parent, once empty) made GX fail to render that process's page under load."""
    path, received = _report(tmp_path)
    settings = Settings.from_env(data_dir=tmp_path / "data")
    removed: list[Path] = []
    real_rmtree, real_rmdir = shutil.rmtree, Path.rmdir
    monkeypatch.setattr(shutil, "rmtree", lambda p, *a, **k: (removed.append(Path(p)), real_rmtree(p, *a, **k)))
    monkeypatch.setattr(Path, "rmdir", lambda p: (removed.append(p), real_rmdir(p)))
    failures, page = _run(path, received, settings)
    assert failures == [] and page
    assert _session(settings.docs_dir, "report", os.getpid()).scratch in removed
    assert all(str(os.getpid()) in p.name for p in removed), removed  # each a folder of this process's own


def test_stock_gx_sql_engine_loses_duckdb_results(tmp_path):
    """Pins great_expectations #10738: GX closes its connection before reading results, which on DuckDB
    rolls them back. When this test fails, GX has fixed it and expectations._PersistentEngine can go."""
    database = tmp_path / "plain.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute("create table t as select range as x from range(100)")
    gx = _gx()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        context = gx.get_context(mode="ephemeral")
        source = context.data_sources.add_sql(name="stock", connection_string=f"duckdb:///{database}")
        batch = source.add_table_asset(name="t", table_name="t").add_batch_definition_whole_table("all").get_batch()
        result = batch.validate(gx.expectations.ExpectColumnValuesToNotBeNull(column="x"))
    assert not result.success
    assert "raised_exception" in json.dumps(result.exception_info, default=str)
