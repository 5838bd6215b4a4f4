"""The warehouse schema upgrades a warehouse in place, once, losing nothing: ``core.submission_totals`` from
before it kept each count's total is filled in from the report's rows, exactly (hugeint sums beyond int64
included); ``core.usage`` from before the rows were kept in files becomes one file per report, read as a view."""

from __future__ import annotations

import datetime as dt

import duckdb

from pipelines.core.config import SCHEMAS_DIR, load_settings
from pipelines.core.database import open_warehouse
from pipelines.core.usage_store import usage_file
from pipelines.synthetic.generate import generate_month
from tests.loading import load_accepted_report

BIG = 2**62  # two rows of it pass int64 in a sum: the totals must be exact
OLD_USAGE = """
create table core.usage (
    submission_id varchar not null, report_period varchar not null, provider_id varchar not null,
    usage_date date not null, region_code varchar not null, compute_region_code varchar, modality varchar not null,
    customer_type varchar not null, sector_code varchar, model_id varchar not null, input_tokens bigint not null,
    cached_input_tokens bigint not null, output_tokens bigint not null, requests bigint not null,
    settlement_amount decimal(18, 4) not null
)
"""
ROWS = [  # submission, month, modality, input, cached, output, requests
    ("s1", "2026-09", "text", 1, 2, 3, 4),
    ("s1", "2026-09", "text", BIG, BIG, BIG, BIG),
    ("s1", "2026-09", "image", 5, 0, 7, 1),
    ("s2", "2026-10", "text", 100, 100, 100, 100),
]
USAGE = "select submission_id, report_period, modality, input_tokens, requests, settlement_amount from core.usage"


def test_an_older_warehouse_is_upgraded_once_and_keeps_every_row(tmp_path):
    settings = load_settings(data_dir=tmp_path / "data")
    settings.warehouse_file.parent.mkdir(parents=True)
    with duckdb.connect(str(settings.warehouse_file)) as con:  # the warehouse as an earlier release left it
        con.execute("create schema core")
        con.execute(OLD_USAGE)  # the schema's own view of core.usage is then skipped, as in an old warehouse
        con.execute((SCHEMAS_DIR / "warehouse.sql").read_text(encoding="utf-8"))
        for sid, period, modality, *counts in ROWS:
            con.execute(
                "insert into core.usage values "
                "(?, ?, 'p', ?, '110000', null, ?, 'enterprise', 'I', 'm', ?, ?, ?, ?, 1.5)",
                [sid, period, f"{period}-01", modality, *counts],
            )
        for sid, period in (("s1", "2026-09"), ("s2", "2026-10")):
            con.execute(
                "insert into core.submissions (submission_id, provider_id, report_period, file_name, size_bytes, "
                "row_count, received_at, status, contract_version, receipt_seq) "
                "values (?, 'p', ?, 'r.parquet', 1, 1, now(), 'accepted', '1', 1)",
                [sid, period],
            )
        con.execute(  # totals as kept before each count's was: those columns null
            "insert into core.submission_totals (submission_id, modality, row_count, total_tokens, settlement_amount) "
            "values ('s1', 'text', 2, 0, 0), ('s1', 'image', 1, 0, 0)"
        )
        before = sorted(con.sql(USAGE).fetchall())
    for _ in range(2):  # the second opening finds nothing to fill in or move, and changes nothing
        with open_warehouse(settings) as con:
            filled = con.sql(
                "select modality, input_tokens, cached_input_tokens, output_tokens, requests "
                "from core.submission_totals order by modality"
            ).fetchall()
            assert filled == [("image", 5, 0, 7, 1), ("text", BIG + 1, BIG + 2, BIG + 3, BIG + 4)]
            kind = con.sql(
                "select table_type from information_schema.tables where table_schema = 'core' and table_name = 'usage'"
            ).fetchall()
            assert kind == [("VIEW",)]
            assert sorted(con.sql(USAGE).fetchall()) == before
    assert usage_file(settings, "2026-09", "s1").is_file() and usage_file(settings, "2026-10", "s2").is_file()


def test_the_empty_core_usage_and_a_loaded_one_have_the_same_columns_and_types(tmp_path):
    """The schema's empty view, the table it replaces and the file the load writes agree on every column."""
    settings = load_settings(data_dir=tmp_path / "data")
    [report] = generate_month(settings.data_dir, "2026-10", rows=200, providers=1)
    with open_warehouse(settings) as con:
        empty = con.sql("describe core.usage").fetchall()
        assert con.sql("select count(*) from core.usage").fetchall() == [(0,)]
        con.execute("create schema old")
        con.execute(OLD_USAGE.replace("core.usage", "old.usage"))
        assert [row[:2] for row in empty] == [row[:2] for row in con.sql("describe old.usage").fetchall()]
        load_accepted_report(con, settings, report.path, "2026-10", 1, dt.datetime(2026, 11, 2, tzinfo=dt.UTC))
        assert con.sql("select count(*) from core.usage").fetchall() == [(200,)]
        assert [row[:2] for row in con.sql("describe core.usage").fetchall()] == [row[:2] for row in empty]
