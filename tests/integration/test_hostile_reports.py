"""Hostile and broken reports: a deterministic corpus of ~150 mutated files in ONE ``tokenstats ingest`` run.

Every case comes to what it must: rejected with a rule id and a message in ``reason.json`` (nothing of it in
``core.usage``), accepted when the mutation left a valid report, left waiting when its name or age says it is
still being written, ignored when its folder is a symbolic link. The run exits 0 without a traceback, the other
providers' reports are loaded, nothing outside the data directory is read into the warehouse or written, and
a file name cannot forge a line of the run's summary. The limits are configuration (``TOKENSTATS_MAX_*``).
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.contract.contract import load_contract
from pipelines.core.config import Settings
from pipelines.intake.ingest import claim_inbox
from pipelines.intake.load import load_claims
from pipelines.synthetic.generate import generate_month
from pipelines.validation.structure import check_file, check_string_lengths
from tests.cli_process import run_cli
from tests.hostile_corpus import OLD, SQL_LIKE, Case, Limits, build_corpus
from tests.oracle import violations

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PERIOD = "2026-10"
LIMITS = Limits(max_file_bytes=1_000_000, max_rows=5_000, max_string_bytes=200)
SETTLE_SECONDS = 3600
PASSWD = Path("/etc/passwd")


@dataclass
class Run:
    data: Path
    cases: list[Case]
    provider: str
    others: list[str]
    returncode: int
    stdout: str
    stderr: str
    ledger: dict[tuple[str, str], dict]  # (folder, file name) -> ledger row
    passwd: str | None


def _sha(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    root = tmp_path_factory.mktemp("hostile")
    data, work = root / "data", root / "work"
    work.mkdir()
    reports = generate_month(data, PERIOD, rows=900, providers=3, seed=5)
    for i, report in enumerate(reports):  # settled long ago, in a fixed order
        os.utime(report.path, ns=((OLD - 100 + i) * 10**9,) * 2)
    target, other = reports[0], reports[1]
    passwd = _sha(PASSWD)
    cases = build_corpus(
        data / "inbox", target.provider_id, target.path, other.provider_id, other.path, LIMITS, work, time.time()
    )
    result = run_cli(
        data,
        "ingest",
        max_file_bytes=LIMITS.max_file_bytes,
        max_rows=LIMITS.max_rows,
        max_string_bytes=LIMITS.max_string_bytes,
        settle_seconds=SETTLE_SECONDS,
    )
    with duckdb.connect(str(data / "warehouse" / "tokenstats.duckdb"), read_only=True) as con:
        rows = con.sql("select * from core.submissions").pl().to_dicts()
    ledger = {(r["provider_id"], r["file_name"]): r for r in rows}
    return Run(
        data,
        cases,
        target.provider_id,
        [r.provider_id for r in reports[1:]],
        result.returncode,
        result.stdout,
        result.stderr,
        ledger,
        passwd,
    )


def _outcome(run: Run, case: Case) -> tuple[str, set[str]]:
    row = run.ledger.get((case.folder, case.file_name))
    if row is None:
        inbox = run.data / "inbox" / case.folder / case.file_name
        if case.expect == "ignored":
            return ("ignored" if os.path.lexists(run.data / "inbox" / case.folder) else "missing"), set()
        return ("waiting" if os.path.lexists(inbox) else "lost"), set()
    status = "accepted" if row["status"] in ("accepted", "superseded") else row["status"]
    rules = set()
    if row["reason_path"]:
        rules = {f["rule"] for f in json.loads(Path(row["reason_path"]).read_text())["failures"]}
    return status, rules


def test_the_run_survives_every_case_without_a_traceback(run):
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stdout + run.stderr


def test_every_case_comes_to_its_expected_outcome(run):
    tally: collections.Counter = collections.Counter()
    by_rule: collections.Counter = collections.Counter()
    wrong = []
    for case in run.cases:
        status, rules = _outcome(run, case)
        tally[(case.kind, status)] += 1
        by_rule.update(rules)
        if status != case.expect or (case.rules and not rules & case.rules):
            wrong.append((case.name, case.expect, sorted(case.rules), status, sorted(rules)))
    outcomes = collections.Counter(_outcome(run, c)[0] for c in run.cases)
    print(f"\nhostile corpus: {len(run.cases)} cases; outcomes {dict(outcomes)}")
    print("by category:", dict(sorted(tally.items())))
    print("rules reported:", dict(by_rule.most_common()))
    assert not wrong, wrong
    assert len(run.cases) >= 140


def test_each_rejection_has_a_reason_with_rule_and_message_beside_the_file(run):
    quarantine = (run.data / "quarantine").resolve()
    for case in (c for c in run.cases if c.expect == "rejected"):
        row = run.ledger[(case.folder, case.file_name)]
        reason_path = Path(row["reason_path"])
        assert reason_path.resolve().is_relative_to(quarantine / case.folder), reason_path
        reason = json.loads(reason_path.read_text(encoding="utf-8"))
        assert reason["status"] == "rejected" and reason["failures"], case.name
        assert reason["file_name"] == case.file_name and reason["provider_id"] == case.folder
        for failure in reason["failures"]:
            assert failure["rule"] and failure["message"], (case.name, failure)
            assert "Traceback" not in failure["message"] and str(run.data) not in failure["message"], failure
        stored = Path(row["stored_path"])
        assert stored.parent == reason_path.parent and os.path.lexists(stored), case.name


def test_nothing_rejected_reaches_core_usage(run):
    with duckdb.connect(str(run.data / "warehouse" / "tokenstats.duckdb"), read_only=True) as con:
        loaded = dict(con.sql("select submission_id, count(*) from core.usage group by all").fetchall())
        good = {
            r[0]
            for r in con.sql(
                "select submission_id from core.submissions where status in ('accepted', 'superseded')"
            ).fetchall()
        }
        rows = dict(con.sql("select submission_id, any_value(row_count) from core.submissions group by all").fetchall())
    assert set(loaded) <= good, "rows of a rejected submission were loaded"
    assert all(loaded[s] == rows[s] for s in good), "an accepted submission was loaded partly"


def test_other_providers_reports_are_loaded(run):
    for provider in run.others:
        row = run.ledger[(provider, f"{provider}_{PERIOD}.parquet")]
        assert row["status"] == "accepted", row


def test_sql_like_text_is_stored_verbatim_and_the_warehouse_is_intact(run):
    with duckdb.connect(str(run.data / "warehouse" / "tokenstats.duckdb"), read_only=True) as con:
        tables = {
            r[0] for r in con.sql("select table_schema || '.' || table_name from information_schema.tables").fetchall()
        }
        assert {"core.usage", "core.submissions", "core.submission_totals", "ref.providers"} <= tables
        stored = {r[0] for r in con.sql("select model_id from core.usage where model_id like '%#%'").fetchall()}
    assert {m.rsplit("#", 1)[0] for m in stored} == set(SQL_LIKE)
    failure = next(
        f
        for f in json.loads(
            Path(run.ledger[(run.provider, "model_id_sql_duplicates.parquet")]["reason_path"]).read_text()
        )["failures"]
        if f["rule"] == "key.unique"
    )
    assert {s["model_id"] for s in failure["samples"]} <= set(SQL_LIKE), "samples show the hostile text as data"


def test_nothing_outside_the_data_directory_is_read_or_written(run):
    assert _sha(PASSWD) == run.passwd
    with duckdb.connect(str(run.data / "warehouse" / "tokenstats.duckdb"), read_only=True) as con:
        sizes = dict(con.sql("select file_name, size_bytes from core.submissions").fetchall())
    assert sizes["passwd.parquet"] < 200, "the link itself was recorded, not what it points to"
    for entry in (run.data / "inbox").iterdir():
        if entry.is_symlink():  # ignored folders: left as they were
            assert entry.name in {"symlinked-folder", "etc-folder"}
    stored = [Path(r["stored_path"]) for r in run.ledger.values() if r["stored_path"]]
    assert all(p.parent.resolve().is_relative_to(run.data.resolve()) for p in stored)
    assert sorted(p.name for p in run.data.parent.iterdir()) == ["data", "work"]


def test_a_file_name_cannot_forge_a_summary_line(run):
    labels = ("accepted ", "rejected ", "duplicate ", "waiting ")
    for line in run.stdout.splitlines():
        assert line.startswith(labels) or "accepted," in line or line.startswith("current figures"), line
    assert f"{run.provider}/a\\nb.parquet" in run.stdout


def test_files_still_being_written_wait_in_the_inbox(run):
    waiting = [c for c in run.cases if c.expect == "waiting"]
    assert len(waiting) >= 8
    for case in waiting:
        assert os.path.lexists(run.data / "inbox" / case.folder / case.file_name), case.name
    assert "8 still being written" in run.stdout


def test_accepted_mutations_are_valid_by_the_independent_oracle(run, tmp_path):
    """The accepted cases are not holes in the validator: an independent reading of the contract agrees."""
    for i, case in enumerate(c for c in run.cases if c.expect == "accepted"):
        stored = Path(run.ledger[(case.folder, case.file_name)]["stored_path"])
        copy = tmp_path / str(i) / case.folder / "report.parquet"  # the oracle reads the provider from the folder
        copy.parent.mkdir(parents=True)
        shutil.copyfile(stored, copy)
        assert violations(copy) == set(), case.name


# --- limits are configuration --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("limits") / "data"
    return generate_month(data, PERIOD, rows=300, providers=1, seed=3)[0].path


@pytest.mark.parametrize("margin", [0, -1])
def test_file_and_row_limits_are_inclusive_and_configurable(report, margin):
    size, rows = report.stat().st_size, pq.ParquetFile(report).metadata.num_rows
    failures, _ = check_file(report, Settings(max_file_bytes=size + margin))
    assert [f.rule for f in failures] == ([] if margin == 0 else ["file.too_large"])
    failures, _ = check_file(report, Settings(max_rows=rows + margin))
    assert [f.rule for f in failures] == ([] if margin == 0 else ["file.too_many_rows"])


@pytest.mark.parametrize("margin", [0, -1])
def test_string_limit_is_inclusive_and_configurable(report, margin):
    table = pq.read_table(report)
    text = [c.name for c in load_contract().columns if c.type == "string"]
    longest = max(len(v.encode()) for name in text for v in table[name].to_pylist() if v is not None)
    failures = check_string_lengths(report, load_contract(), Settings(max_string_bytes=longest + margin))
    assert [f.rule for f in failures] == ([] if margin == 0 else ["schema.string_length"])


def test_limits_are_read_from_the_environment():
    env = {"TOKENSTATS_MAX_FILE_BYTES": "123", "TOKENSTATS_MAX_ROWS": "45", "TOKENSTATS_MAX_STRING_BYTES": "6"}
    settings = Settings.from_env(env, data_dir=Path("."))
    assert (settings.max_file_bytes, settings.max_rows, settings.max_string_bytes) == (123, 45, 6)
    settle = Settings.from_env({"TOKENSTATS_SETTLE_SECONDS": "2.5"}, data_dir=Path("."))
    assert settle.settle_seconds == 2.5


def test_a_dictionary_bomb_is_refused_before_it_is_expanded(tmp_path):
    """One 4 MiB dictionary value referenced by a million rows: ~4 MiB on disk, 4 TiB expanded."""
    rows = 1_000_000
    table = pq.read_table(generate_month(tmp_path, PERIOD, rows=50, providers=1)[0].path)
    table = table.take([i % table.num_rows for i in range(rows)])
    bomb = pa.DictionaryArray.from_arrays(pa.array([0] * rows, pa.int32()), pa.array(["m" * (4 << 20)]))
    table = table.set_column(table.schema.get_field_index("model_id"), "model_id", bomb)
    path = tmp_path / "bomb.parquet"
    pq.write_table(table, path, compression="zstd", dictionary_pagesize_limit=16 << 20)
    assert path.stat().st_size < 8 << 20
    started = time.perf_counter()
    failures = check_string_lengths(path, load_contract(), Settings())
    assert [f.rule for f in failures] == ["schema.string_length"]
    print(f"dictionary bomb refused in {time.perf_counter() - started:.2f} s")


def test_the_same_bytes_under_two_names_at_the_same_instant_are_two_arrivals(tmp_path):
    """``cp -p`` or ``rsync -t`` of one file under two names: both arrivals are in the ledger (one duplicate)."""
    data = tmp_path / "data"
    report = generate_month(data, PERIOD, rows=50, providers=1)[0]
    report.path.unlink()
    for name in ("a.parquet", "b.parquet"):  # unreadable, so no GX: the ledger, not validation, is under test
        copy = report.path.parent / name
        copy.write_bytes(b"the same bytes")
        os.utime(copy, ns=(OLD * 10**9, OLD * 10**9))
    settings = Settings.from_env({}, data_dir=data, validate_workers=1)
    claims, _ = claim_inbox(settings)
    summary = load_claims(claims, settings)
    assert (summary.rejected, summary.duplicate) == (
        [f"{report.provider_id}/a.parquet"],
        [f"{report.provider_id}/b.parquet"],
    )
    assert not list(data.glob("landing/*/*")), "nothing left behind"
