"""Ingest through the CLI: every realistic failure is refused with its rule, nothing of it is loaded, and the
rest of the inbox goes through; reruns change nothing; corrections supersede."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.cli.commands import main
from pipelines.synthetic.faults import FAULTS
from pipelines.synthetic.generate import generate_month

pytestmark = pytest.mark.integration

PROVIDERS = len(FAULTS) + 2
ROWS = 40_000
SIZE_LIMIT = 20_000_000


def _warehouse(data: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(data / "warehouse" / "tokenstats.duckdb"), read_only=True)


def _ledger(data: Path) -> list[tuple]:
    with _warehouse(data) as con:
        return con.sql(
            "select submission_id, provider_id, report_period, file_name, status, reason, row_count "
            "from core.submissions order by all"
        ).fetchall()


def _reasons(data: Path) -> dict[str, dict]:
    """reason.json of each quarantined file, by provider."""
    reasons = {}
    for path in (data / "quarantine").glob("*/*/reason.json"):
        reason = json.loads(path.read_text())
        reasons[reason["provider_id"]] = reason
    return reasons


@pytest.fixture(scope="module")
def faulted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A clean September, then an October in which every fault hits its own provider."""
    data = tmp_path_factory.mktemp("ingest") / "data"
    env = {"TOKENSTATS_DATA_DIR": str(data), "TOKENSTATS_MAX_FILE_BYTES": str(SIZE_LIMIT)}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        generate_month(data, "2026-09", rows=ROWS, providers=PROVIDERS)
        assert main(["ingest"]) == 0
        reports = generate_month(data, "2026-10", rows=ROWS, providers=PROVIDERS, faults=list(FAULTS))
        assert main(["ingest"]) == 0
    return data, {r.provider_id: r.fault for r in reports}


def test_september_was_accepted_whole(faulted):
    data, _ = faulted
    september = [row for row in _ledger(data) if row[2] == "2026-09"]
    assert len(september) == PROVIDERS
    assert {row[4] for row in september} == {"accepted"}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_realistic_failure_is_quarantined_with_its_rule(faulted, fault):
    data, fault_of = faulted
    provider = next(p for p, f in fault_of.items() if f == fault)
    reason = _reasons(data)[provider]
    assert reason["status"] == "rejected"
    rules = {f["rule"] for f in reason["failures"]}
    assert FAULTS[fault].rule in rules, reason["failures"]
    for failure in reason["failures"]:
        assert failure["message"] and "Traceback" not in failure["message"]
    quarantined = data / "quarantine" / provider / reason["submission_id"]
    assert (quarantined / "reason.json").exists()
    assert any(p.name.endswith(".parquet") for p in quarantined.iterdir())
    with _warehouse(data) as con:
        loaded = con.sql(
            "select count(*) from core.usage where submission_id = $id", params={"id": reason["submission_id"]}
        ).fetchall()[0][0]
        status = con.sql(
            "select status, reason from core.submissions where submission_id = $id",
            params={"id": reason["submission_id"]},
        ).fetchall()
    assert loaded == 0
    assert status[0][0] == "rejected" and FAULTS[fault].rule in status[0][1]


def test_the_rest_of_the_inbox_is_processed_normally(faulted):
    data, fault_of = faulted
    clean = {p for p, f in fault_of.items() if f is None}
    october = {row[1]: row for row in _ledger(data) if row[2] == "2026-10" and row[4] == "accepted"}
    assert set(october) == clean
    assert not list((data / "inbox").glob("*/*")), "the inbox is emptied: every file is archived or quarantined"
    with _warehouse(data) as con:
        current = dict(
            con.sql(
                "select provider_id, count(*) from core.current_usage where report_period = '2026-10' group by all"
            ).fetchall()
        )
    assert set(current) == clean
    assert all(current[p] == october[p][6] for p in clean)


def test_rows_with_samples_name_the_offending_values(faulted):
    data, fault_of = faulted
    provider = next(p for p, f in fault_of.items() if f == "two_digit_region")
    failure = next(f for f in _reasons(data)[provider]["failures"] if f["rule"] == "region_code.in_code_list")
    assert failure["failing_rows"] == 5
    assert failure["samples"] and all(len(s["region_code"]) == 2 for s in failure["samples"])
    assert "440000" in failure["message"]  # the hint says what a valid code looks like


def test_rows_are_kept_once_per_loaded_report_and_nowhere_else(faulted):
    """Each loaded report's rows are one file in the warehouse's rows folder; the rows the validation wrote for a
    report the load then refused (its history) are gone, from the folder and from the quarantine."""
    data, _ = faulted
    with _warehouse(data) as con:
        loaded = con.sql(
            "select report_period, submission_id from core.submissions where status in ('accepted', 'superseded')"
        ).fetchall()
        rows = con.sql("select count(*) from core.usage").fetchall()[0][0]
        expected = con.sql("select sum(row_count) from core.submissions where status in ('accepted', 'superseded')")
        assert rows == expected.fetchall()[0][0]
    refused_at_load = [
        r for r in _reasons(data).values() if any(f["rule"].startswith("history.") for f in r["failures"])
    ]
    assert refused_at_load, "the fixture should hold a report the suite accepted and the history refused"
    usage = data / "warehouse" / "usage"
    kept = {p.relative_to(usage).as_posix() for p in usage.rglob("*") if p.is_file()}
    assert kept == {f"{period}/{submission}.parquet" for period, submission in loaded}
    assert not [p for p in data.rglob(".rows.parquet*")]


def test_a_report_claiming_another_provider_is_refused(faulted):
    data, fault_of = faulted
    provider = next(p for p, f in fault_of.items() if f == "other_provider")
    failure = _reasons(data)[provider]["failures"][0]
    assert failure["rule"] == "provider.matches_folder"
    assert provider in failure["message"]


def test_ingesting_again_changes_nothing(faulted, monkeypatch):
    data, _ = faulted
    monkeypatch.setenv("TOKENSTATS_DATA_DIR", str(data))
    before = _ledger(data)
    assert main(["ingest"]) == 0
    assert _ledger(data) == before


def test_status_lists_reported_rejected_and_missing(faulted, monkeypatch, capsys):
    data, fault_of = faulted
    monkeypatch.setenv("TOKENSTATS_DATA_DIR", str(data))
    assert main(["status", "--period", "2026-10"]) == 0
    out = capsys.readouterr().out
    assert f"{PROVIDERS} providers expected, 2 reported" in out
    rejected = next(p for p, f in fault_of.items() if f == "negative_counts")
    assert any(rejected in line and "output_tokens.range" in line for line in out.splitlines())
    unreadable = next(p for p, f in fault_of.items() if f == "corrupt")
    assert any(unreadable in line and "missing" in line for line in out.splitlines())


def test_a_corrected_report_supersedes_and_changes_current_totals(tmp_path, monkeypatch):
    data = tmp_path / "data"
    monkeypatch.setenv("TOKENSTATS_DATA_DIR", str(data))
    generate_month(data, "2026-10", rows=20_000, providers=3, seed=1)
    assert main(["ingest"]) == 0
    with _warehouse(data) as con:
        before = con.sql("select sum(output_tokens) from core.current_usage").fetchall()[0][0]

    # The provider resends its month with corrected figures: a new file, received after the first.
    provider = sorted(p.name for p in (data / "archive").iterdir())[0]
    first = next((data / "archive" / provider).glob("*/*/*.parquet"))
    corrected = pl.read_parquet(first).with_columns(pl.col("output_tokens") + 1000)
    target = data / "inbox" / provider / "resent.parquet"
    corrected.write_parquet(target)
    assert main(["ingest"]) == 0

    with _warehouse(data) as con:
        statuses = dict(
            con.sql(
                "select file_name, status from core.submissions where provider_id = $p", params={"p": provider}
            ).fetchall()
        )
        after = con.sql("select sum(output_tokens) from core.current_usage").fetchall()[0][0]
        kept = con.sql(
            "select count(distinct submission_id) from core.usage where provider_id = $p", params={"p": provider}
        ).fetchall()[0][0]
    assert statuses["resent.parquet"] == "accepted"
    assert statuses[f"{provider}_2026-10.parquet"] == "superseded"
    assert after != before
    assert kept == 2, "the superseded report's rows stay in core.usage for audit"

    # The same bytes again are a duplicate: recorded, no effect on figures.
    corrected.write_parquet(target)
    os.utime(target, (time.time() + 60, time.time() + 60))  # a later arrival of the same bytes
    assert main(["ingest"]) == 0
    with _warehouse(data) as con:
        duplicates = con.sql("select count(*) from core.submissions where status = 'duplicate'").fetchall()[0][0]
        again = con.sql("select sum(output_tokens) from core.current_usage").fetchall()[0][0]
    assert duplicates == 1
    assert again == after


def test_a_system_fault_exits_non_zero_and_a_rerun_recovers(tmp_path, monkeypatch, capsys):
    data = tmp_path / "data"
    monkeypatch.setenv("TOKENSTATS_DATA_DIR", str(data))
    generate_month(data, "2026-10", rows=2_000, providers=2)
    registry = data / "registry" / "providers.csv"
    good = registry.read_text()
    registry.write_text("not,a,registry\n")
    assert main(["ingest"]) != 0
    assert "registry" in capsys.readouterr().err
    registry.write_text(good)
    assert main(["ingest"]) == 0
    assert "2 accepted" in capsys.readouterr().out, "nothing is lost on a system fault"


def test_providers_without_an_accepted_report_are_overdue(faulted, monkeypatch):
    """What the reporting-deadline DAG alerts on: every faulted provider (rejected, or its file unreadable)."""
    from pipelines.core.config import load_settings
    from pipelines.intake.ledger import list_overdue_providers, read_period_status, read_warehouse

    data, fault_of = faulted
    monkeypatch.setenv("TOKENSTATS_DATA_DIR", str(data))
    with read_warehouse(load_settings()) as con:
        assert list_overdue_providers(read_period_status(con, "2026-09")) == []
        assert list_overdue_providers(read_period_status(con, "2026-10")) == sorted(p for p, f in fault_of.items() if f)


def test_a_verdict_kept_by_an_older_version_is_made_again(tmp_path, monkeypatch):
    """A run killed after validation, resumed by a version whose load needs each count's total: the kept
    verdict (totals without the counts) is not trusted, the file is validated again and loads exactly."""
    from pipelines.core.config import load_settings
    from pipelines.intake.ingest import claim_inbox
    from pipelines.intake.verify import validate_claims

    data = tmp_path / "data"
    monkeypatch.setenv("TOKENSTATS_DATA_DIR", str(data))
    reports = generate_month(data, "2026-10", rows=2_000, providers=2)
    requests = sum(pl.read_parquet(r.path)["requests"].sum() for r in reports)
    claims, _ = claim_inbox(load_settings())
    validate_claims(claims, load_settings())
    for claim in claims:
        kept = json.loads(claim.verdict_file.read_text())
        kept["totals"] = [
            {k: t[k] for k in ("modality", "rows", "total_tokens", "settlement_amount")} for t in kept["totals"]
        ]
        claim.verdict_file.write_text(json.dumps(kept))
    assert main(["ingest"]) == 0
    with _warehouse(data) as con:
        loaded = con.sql("select sum(requests)::bigint, count(*) from core.usage").fetchall()[0]
        kept = con.sql(
            "select sum(requests)::bigint, count(*) filter (where requests is null) from core.submission_totals"
        ).fetchall()[0]
    assert loaded == (requests, sum(r.rows for r in reports)) and kept == (requests, 0)
