"""The warehouse schema upgrades a ledger in place: ``core.submission_totals`` from before it kept each count's
total is filled in from the report's rows, once, exactly (hugeint sums beyond int64 included)."""

from __future__ import annotations

import duckdb

from pipelines.core.config import load_settings
from pipelines.core.database import open_warehouse

BIG = 2**62  # two rows of it pass int64 in a sum: the totals must be exact


def test_older_report_totals_gain_each_count_exactly_once(tmp_path):
    settings = load_settings(data_dir=tmp_path / "data")
    settings.warehouse_file.parent.mkdir(parents=True)
    with duckdb.connect(str(settings.warehouse_file)) as con:  # the ledger as an earlier release left it
        con.execute("create schema core")
        con.execute(
            "create table core.submission_totals (submission_id varchar not null, modality varchar not null, "
            "row_count bigint not null, total_tokens hugeint not null, settlement_amount decimal(38, 4) not null, "
            "primary key (submission_id, modality))"
        )
        con.execute("insert into core.submission_totals values ('s1', 'text', 2, 0, 0), ('s1', 'image', 1, 0, 0)")
        con.execute(
            "create table core.usage as select * from (values "
            "('s1', 'text', 1::bigint, 2::bigint, 3::bigint, 4::bigint), "
            f"('s1', 'text', {BIG}::bigint, {BIG}::bigint, {BIG}::bigint, {BIG}::bigint), "
            "('s1', 'image', 5::bigint, 0::bigint, 7::bigint, 1::bigint), "
            "('other', 'text', 100::bigint, 100::bigint, 100::bigint, 100::bigint)) "
            "as t(submission_id, modality, input_tokens, cached_input_tokens, output_tokens, requests)"
        )
    for _ in range(2):  # the second opening finds nothing to fill in and changes nothing
        with open_warehouse(settings) as con:
            filled = con.sql(
                "select modality, input_tokens, cached_input_tokens, output_tokens, requests "
                "from core.submission_totals order by modality"
            ).fetchall()
        assert filled == [("image", 5, 0, 7, 1), ("text", BIG + 1, BIG + 2, BIG + 3, BIG + 4)]
