"""Provider isolation: a provider's folder lands only that provider's data, and what a provider is told about its
report (reason.json, the ledger's reason) names nothing of another provider's data.

One ingest run over two months for three providers P, Q, R. September is accepted (their history). October:
P's folder receives a byte-for-byte copy of Q's report before Q's own arrives, R's folder another one after it
(neither may count as Q's duplicate: that would hide the rejection, tell them when Q's file arrived and, for
the earlier copy, make Q's genuine report a "duplicate" of a rejected file); P's own report is 20 times its
history (its reason cites P's own months only); R's has invalid region codes (its samples come from its file);
Q resends its month under a hostile file name with SQL-like model ids, and a hostile, unregistered folder
appears. SQL stays parameterized throughout: the text arrives verbatim and the warehouse is intact.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.contract.reasons import clean_sample
from pipelines.synthetic.generate import generate_month
from pipelines.synthetic.providers import generate_registry
from tests.cli_process import run_cli

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SEED, T0 = 7, 1_790_000_000
HOSTILE_FOLDER = "'); DROP TABLE core.usage; --"
HOSTILE_NAME = "q'); DROP TABLE core.submissions; -- {batch} $1 %s.parquet"
HOSTILE_MODELS = ["'); DROP TABLE core.usage; --", 'O\'Brien "quoted"', "{batch}", "$1", "%s", ":p", "?"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    data = tmp_path_factory.mktemp("isolation") / "data"
    p, q, r = (provider.provider_id for provider in generate_registry(3, SEED))
    september = generate_month(data, "2026-09", rows=1_200, providers=3, seed=SEED)
    october = {
        report.provider_id: report.path
        for report in generate_month(
            data, "2026-10", rows=1_200, providers=3, seed=SEED, faults=[f"volume_spike={p}", f"two_digit_region={r}"]
        )
    }
    inbox = data / "inbox"
    early_copy = shutil.copyfile(october[q], inbox / p / "theirs.parquet")
    late_copy = shutil.copyfile(october[q], inbox / r / "theirs.parquet")
    (inbox / HOSTILE_FOLDER).mkdir()
    shutil.copyfile(october[q], inbox / HOSTILE_FOLDER / "report.parquet")
    resent = pq.read_table(october[q])
    models = pa.array([f"{HOSTILE_MODELS[i % len(HOSTILE_MODELS)]}#{i}" for i in range(resent.num_rows)])
    resent = resent.set_column(resent.schema.get_field_index("model_id"), "model_id", models)
    pq.write_table(resent, inbox / q / HOSTILE_NAME)
    order = [
        *(s.path for s in september),
        early_copy,
        october[q],
        late_copy,
        october[p],
        october[r],
        inbox / HOSTILE_FOLDER / "report.parquet",
        inbox / q / HOSTILE_NAME,
    ]
    for i, path in enumerate(order):
        os.utime(path, ns=((T0 + 100 * i) * 10**9,) * 2)
    result = run_cli(data, "ingest")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    with duckdb.connect(str(data / "warehouse" / "tokenstats.duckdb"), read_only=True) as con:
        ledger = {
            (row["provider_id"], row["file_name"]): row
            for row in con.sql("select * from core.submissions").pl().to_dicts()
        }
        history = dict(
            con.sql(
                "select s.provider_id, sum(t.total_tokens)::bigint from core.submission_totals as t "
                "join core.submissions as s using (submission_id) where s.report_period = '2026-09' group by all"
            ).fetchall()
        )
    registry = {x.provider_id: x for x in generate_registry(3, SEED)}
    return {"data": data, "p": p, "q": q, "r": r, "ledger": ledger, "history": history, "registry": registry}


def _reason(world: dict, provider: str, file_name: str) -> tuple[dict, str]:
    row = world["ledger"][(provider, file_name)]
    text = Path(row["reason_path"]).read_text(encoding="utf-8")
    return json.loads(text), text + row["reason"]


def _foreign_facts(world: dict, provider: str) -> list[str]:
    """What a report about another provider must not mention: its name, group, history and arrivals."""
    other = world["registry"][provider]
    rows = [r for r in world["ledger"].values() if r["provider_id"] == provider]
    facts = [other.name, other.enterprise_group, str(world["history"][provider]), f"{world['history'][provider]:,}"]
    facts += [r["received_at"].isoformat() for r in rows] + [f"{r['received_at']:%Y-%m-%d %H:%M:%S}" for r in rows]
    return facts


def test_a_copy_of_another_providers_report_is_refused_and_names_only_the_claimed_id(world):
    p, q, r = world["p"], world["q"], world["r"]
    for folder in (p, r):
        row = world["ledger"][(folder, "theirs.parquet")]
        assert row["status"] == "rejected", "not a 'duplicate' of the other provider's file"
        reason, text = _reason(world, folder, "theirs.parquet")
        assert [f["rule"] for f in reason["failures"]] == ["provider.matches_folder"]
        assert reason["failures"][0]["details"] == {"found": q}
        assert not [fact for fact in _foreign_facts(world, q) if fact in text]
        assert reason["totals"] == [] and all(not f["samples"] for f in reason["failures"])


def test_the_genuine_report_is_not_taken_for_a_duplicate_of_a_copy_that_came_first(world):
    q = world["q"]
    assert world["ledger"][(q, f"{q}_2026-10.parquet")]["status"] == "superseded"  # accepted, then resent
    assert world["ledger"][(q, HOSTILE_NAME)]["status"] == "accepted"


def test_the_history_check_compares_a_provider_only_with_its_own_past(world):
    p = world["p"]
    reason, text = _reason(world, p, f"{p}_2026-10.parquet")
    failure = next(f for f in reason["failures"] if f["rule"] == "history.total_tokens")
    assert failure["details"]["previous_average"] == world["history"][p]
    for other in (world["q"], world["r"]):
        assert not [fact for fact in _foreign_facts(world, other) if fact in text]


def test_sample_rows_in_every_reason_come_from_the_file_itself(world):
    checked = 0
    for row in world["ledger"].values():
        if row["status"] != "rejected" or not row["stored_path"]:
            continue
        reason = json.loads(Path(row["reason_path"]).read_text(encoding="utf-8"))
        samples = [s for f in reason["failures"] for s in f["samples"]]
        if not samples:
            continue
        own = [clean_sample(r) for r in pl.read_parquet(row["stored_path"]).to_dicts()]
        for sample in samples:
            keys = [k for k in sample if k in own[0]]
            assert keys and any(all(o[k] == sample[k] for k in keys) for o in own), sample
            checked += 1
    assert checked >= 5, "R's invalid region codes give samples"


def test_a_folder_lands_only_its_own_providers_rows(world):
    with duckdb.connect(str(world["data"] / "warehouse" / "tokenstats.duckdb"), read_only=True) as con:
        foreign = con.sql(
            "select count(*) from core.usage as u join core.submissions as s using (submission_id) "
            "where s.status in ('accepted', 'superseded') and u.provider_id <> s.provider_id"
        ).fetchall()[0][0]
        providers = {r[0] for r in con.sql("select distinct provider_id from core.usage").fetchall()}
    assert foreign == 0
    assert providers <= {world["p"], world["q"], world["r"]}
    for row in world["ledger"].values():
        for path in (row["stored_path"], row["reason_path"], row["docs_path"]):
            if path:
                assert f"/{row['provider_id']}/" in path, path


def test_hostile_names_and_values_are_stored_verbatim_and_the_warehouse_is_intact(world):
    data, q = world["data"], world["q"]
    hostile = world["ledger"][(HOSTILE_FOLDER, "report.parquet")]
    assert hostile["status"] == "rejected"
    reason, _ = _reason(world, HOSTILE_FOLDER, "report.parquet")
    assert reason["provider_id"] == HOSTILE_FOLDER
    assert "provider.registered" in {f["rule"] for f in reason["failures"]}
    assert Path(hostile["reason_path"]).parent.parent == data / "quarantine" / HOSTILE_FOLDER
    named = world["ledger"][(q, HOSTILE_NAME)]
    assert Path(named["stored_path"]).resolve().is_relative_to((data / "archive" / q).resolve())
    with duckdb.connect(str(data / "warehouse" / "tokenstats.duckdb"), read_only=True) as con:
        models = {
            r[0].rsplit("#", 1)[0]
            for r in con.sql("select model_id from core.usage where model_id like '%#%'").fetchall()
        }
        tables = {
            r[0] for r in con.sql("select table_schema || '.' || table_name from information_schema.tables").fetchall()
        }
        loaded = con.sql("select count(*) from core.usage").fetchall()[0][0]
        expected = con.sql(
            "select sum(row_count) from core.submissions where status in ('accepted', 'superseded')"
        ).fetchall()[0][0]
    assert models == set(HOSTILE_MODELS)
    assert {"core.usage", "core.submissions", "core.submission_totals"} <= tables
    assert loaded == expected
