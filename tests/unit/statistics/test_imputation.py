"""Imputation on a hand-checkable warehouse: four providers of four groups report August; in September d is late.

August totals (tokens): a 1,000, b 1,000, c 2,000, d 500; September: a 1,100, b 1,200, c 2,100. The trend of the
providers that reported both months is 4,400 / 4,000 = 1.1, so d's two August rows are carried forward ×1.1:
text 300 input (100 cached) + 100 output, 10 requests, 2.5 yuan → 330 (110) + 110 = 440, 11 requests, 2.75 yuan;
image (a household) 50 + 50, 3 requests, 1 yuan → 55 + 55 = 110, 3 requests (3.3 rounded), 1.1 yuan.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.contract.reference import load_reference_tables
from pipelines.core.config import SCHEMAS_DIR, Settings
from pipelines.core.usage_store import define_usage_view, store_rows
from pipelines.statistics.cells import DIMENSIONS
from pipelines.statistics.imputation import list_late_providers, measure_coverage, store_estimates
from pipelines.statistics.marts import build_marts
from pipelines.statistics.primary import Rules

PROVIDERS = {"a": "Group A", "b": "Group B", "c": "Group C", "d": "Group D"}
# provider, month, region, modality, customer type, sector, input, cached, output, requests, amount
ROWS = [
    ("a", "2026-08", "110000", "text", "enterprise", "I", 500, 0, 500, 10, "5"),
    ("b", "2026-08", "110000", "text", "enterprise", "I", 500, 0, 500, 10, "5"),
    ("c", "2026-08", "110000", "text", "enterprise", "I", 1000, 0, 1000, 10, "5"),
    ("d", "2026-08", "110000", "text", "enterprise", "I", 300, 100, 100, 10, "2.5"),
    ("d", "2026-08", "310000", "image", "individual", None, 50, 0, 50, 3, "1"),
    ("a", "2026-09", "110000", "text", "enterprise", "I", 550, 0, 550, 10, "5"),
    ("b", "2026-09", "110000", "text", "enterprise", "I", 600, 0, 600, 10, "5"),
    ("c", "2026-09", "110000", "text", "enterprise", "I", 1050, 0, 1050, 10, "5"),
]


@pytest.fixture
def warehouse(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    registry = tmp_path / "registry" / "providers.csv"
    registry.parent.mkdir()
    registry.write_text(
        "provider_id,name,enterprise_group,registered_province,active_from\n"
        + "".join(f"p-{p},Provider {p},{g},110000,2025-01\n" for p, g in PROVIDERS.items()),
        encoding="utf-8",
    )
    settings = Settings.from_env(data_dir=tmp_path)
    con = duckdb.connect()
    con.execute((SCHEMAS_DIR / "warehouse.sql").read_text(encoding="utf-8"))
    load_reference_tables(con, settings)
    con.execute("create temp table report as from core.usage")  # core.usage's columns and types, no row
    for provider, month in sorted({(r[0], r[1]) for r in ROWS}):
        rows = [r for r in ROWS if r[:2] == (provider, month)]
        submission = f"{provider}-{month}"
        provider = f"p-{provider}"
        con.execute(
            "insert into core.submissions (submission_id, provider_id, report_period, file_name, size_bytes, "
            "row_count, received_at, status, contract_version, receipt_seq) "
            "values (?, ?, ?, 'r.parquet', 1, ?, now(), 'accepted', '1', 1)",
            [submission, provider, month, len(rows)],
        )
        con.execute(
            "insert into core.submission_totals (submission_id, modality, row_count, total_tokens, settlement_amount) "
            "values (?, 'text', ?, ?, 0)",
            [submission, len(rows), sum(r[6] + r[8] for r in rows)],
        )
        for _, _, *values in rows:  # region, modality, customer type, sector, the measures
            con.execute(
                "insert into report values (?, ?, ?, ?, ?, null, ?, ?, ?, 'm', ?, ?, ?, ?, ?)",
                [submission, month, provider, f"{month}-01", *values],
            )
        store_rows(con, settings, month, submission, "from report where submission_id = $id", {"id": submission})
    define_usage_view(con, settings)
    return con


def test_a_late_provider_is_its_last_month_times_the_trend(warehouse):
    [late] = list_late_providers(warehouse, "2026-09")
    assert (late["provider_id"], late["base_period"], late["growth"]) == ("p-d", "2026-08", 1.1)
    assert list_late_providers(warehouse, "2026-08") == []  # everyone reported; nobody before August

    assert store_estimates(warehouse, "2026-09") == (late["estimate_id"],)
    assert store_estimates(warehouse, "2026-09") == (late["estimate_id"],)  # idempotent: kept once
    estimate = warehouse.sql(
        "select modality, sector_code, total_tokens::bigint, input_tokens::bigint, cached_input_tokens::bigint, "
        "output_tokens::bigint, requests::bigint, settlement_amount from mart.estimates order by modality"
    ).fetchall()
    assert estimate == [
        ("image", "HH", 110, 55, 0, 55, 3, Decimal("1.1000")),
        ("text", "I", 440, 330, 110, 110, 11, Decimal("2.7500")),
    ]
    # The estimate is kept apart: the reported rows are untouched.
    assert warehouse.sql("select count(*) from core.usage where report_period = '2026-09'").fetchall() == [(3,)]


def test_the_estimate_enters_the_cells_as_its_groups_contribution(warehouse):
    cells = build_marts(warehouse, "2026-09")
    national = cells.filter(pl.col("use_type") == "final", *(pl.col(d) == "_T" for d in DIMENSIONS[1:]))
    assert national["total_tokens"].to_list() == [4_400 + 440 + 110]
    assert national["contributors"].to_list() == [4]  # d's group counts like a reporter's
    image = cells.filter(pl.col("modality") == "image", pl.col("region_code") == "310000")
    image = image.filter(pl.col("sector_code") == "HH", pl.col("compute_region_code") == "_T")
    assert image["contributors"].to_list() == [1]  # only the estimate: confidential (A) like any one-group cell


def test_an_estimate_is_kept_while_the_provider_stays_late(warehouse):
    first = store_estimates(warehouse, "2026-09")
    # a reporting provider's correction moves the trend; the late provider's estimate stays as it was published
    warehouse.execute(
        "update core.submission_totals set total_tokens = 2 * total_tokens where submission_id = 'a-2026-09'"
    )
    assert [late["estimate_id"] for late in list_late_providers(warehouse, "2026-09")] != list(first)
    assert store_estimates(warehouse, "2026-09") == first
    assert warehouse.sql("select count(distinct estimate_id) from mart.estimates").fetchall() == [(1,)]


def test_a_late_report_replaces_the_estimate(warehouse):
    warehouse.execute(
        "insert into core.submissions (submission_id, provider_id, report_period, file_name, size_bytes, "
        "row_count, received_at, status, contract_version, receipt_seq) "
        "values ('d-2026-09', 'p-d', '2026-09', 'r.parquet', 1, 1, now(), 'accepted', '1', 2)"
    )
    assert list_late_providers(warehouse, "2026-09") == []
    assert store_estimates(warehouse, "2026-09") == ()


def _groups(cells: dict[str, list[tuple[str, int]]]) -> pl.DataFrame:
    """Cell groups as group_cells returns them: one cell per region, its groups' total tokens (other measures 0)."""
    rows = [
        {"use_type": "final", "region_code": region, "compute_region_code": "_T", "modality": "_T",
         "sector_code": "_T", "enterprise_group": group, "total_tokens": tokens, "requests": 0}
        for region, groups in cells.items()
        for group, tokens in groups
    ]  # fmt: skip
    return pl.DataFrame(rows)


def test_coverage_ratio_is_the_reported_share_where_neither_part_is_confidential_on_national_cells_only():
    reported = _groups(
        {
            "110000": [("R1", 100), ("R2", 100), ("R3", 100)],
            "120000": [("R1", 100), ("R2", 100), ("R3", 100)],
            "130000": [("R1", 100), ("R2", 100)],
            "140000": [("R1", 100), ("R2", 100), ("R3", 100)],
            "_T": [("R1", 400), ("R2", 400), ("R3", 300)],
        }
    )
    estimated = _groups(
        {
            "110000": [("E1", 50), ("E2", 50), ("E3", 50)],  # both parts safe, but a region: a second table
            "120000": [("E1", 90)],  # the estimate is one group's: ratio withheld
            "130000": [("E1", 50), ("E2", 50), ("E3", 50)],  # the reported part is two groups': withheld
            "_T": [("E1", 190), ("E2", 100), ("E3", 100)],  # 1,100 of 1,490 reported: 0.7383
        }
    )
    coverage = measure_coverage(reported, estimated, Rules()).sort("region_code")
    assert coverage.select("region_code", "estimated", "coverage_ratio").rows() == [
        ("110000", True, None),
        ("120000", True, None),
        ("130000", True, None),
        ("_T", True, 0.7383),
    ]  # 140000 has no estimate: not listed (its ratio is 1)
