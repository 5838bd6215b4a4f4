"""XLSX output: openpyxl reads back one sheet per table plus notes, with the tables' values and empty secrets."""

from __future__ import annotations

import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from pipelines.release.formats.workbook import write_workbook
from pipelines.release.release_model import CONF_STATUS, DIMENSIONS, MEASURES, OBS_STATUS, SUPPRESSED_NOTE
from tests.release_fixtures import LEAK, release_tables


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory):
    tables, info = release_tables(2)
    path = write_workbook(tmp_path_factory.mktemp("xlsx") / "release.xlsx", tables, info)
    return tables, info, path, openpyxl.load_workbook(path)


def _flags(row: dict, column: str) -> list[str]:
    """The conf_status columns that decide whether a value is published."""
    if column in MEASURES:
        return [row["conf_status"]]
    if column == "previous_value":
        return [row["previous_conf_status"]]
    if column == "value":
        return [row["conf_status"]]
    if column == "difference":
        return [row["previous_conf_status"], row["conf_status"]]
    return []


def test_one_sheet_per_table_in_order_and_notes(written):
    tables, _, _, book = written
    assert book.sheetnames == [*tables, "notes"]
    assert "revisions" in book.sheetnames


def test_header_row_is_the_columns_and_formatted(written):
    tables, _, _, book = written
    for name, table in tables.items():
        sheet = book[name]
        assert [c.value for c in sheet[1]] == table.columns, name
        assert all(c.font.bold for c in sheet[1]), name
        assert sheet.freeze_panes == "A2"
        assert sheet.max_row == table.height + 1


def test_values_equal_the_tables_and_secrets_are_empty(written):
    tables, _, _, book = written
    checked = suppressed = 0
    for name, table in tables.items():
        sheet = book[name]
        for row, cells in zip(table.to_dicts(), sheet.iter_rows(min_row=2), strict=True):
            for (column, value), cell in zip(row.items(), cells, strict=True):
                if any(flag != "F" for flag in _flags(row, column)):
                    assert cell.value is None, (name, column, row)
                    suppressed += 1
                elif value is None:
                    assert cell.value is None
                elif isinstance(value, Decimal):
                    assert Decimal(repr(cell.value)).quantize(Decimal("0.0001")) == value, (name, column)
                elif isinstance(value, float):
                    assert cell.value == pytest.approx(value, abs=1e-9)
                else:
                    assert cell.value == value, (name, column)  # counts to the token, codes as text
                checked += 1
    assert suppressed > 50 and checked > 5000


def test_number_formats(written):
    tables, _, _, book = written
    sheet = book["by_region"]
    columns = tables["by_region"].columns
    formats = {column: sheet.cell(2, i + 1).number_format for i, column in enumerate(columns)}
    assert formats["total_tokens"] == formats["requests"] == "#,##0"
    assert formats["settlement_amount"] == formats["price_per_million_tokens"] == "#,##0.0000"
    assert formats["share_of_total_pct"] == "0.00"
    revisions = book["revisions"]
    header = [c.value for c in revisions[1]]
    for cells in revisions.iter_rows(min_row=2):
        measure, value = cells[header.index("measure")].value, cells[header.index("value")]
        if value.value is not None:
            assert value.number_format == ("#,##0" if measure == "total_tokens" else "#,##0.0000")


def test_a_suppressed_cell_is_empty_even_if_it_holds_a_value(tmp_path: Path):
    tables, info = release_tables(1, leak_suppressed=True)
    book = openpyxl.load_workbook(write_workbook(tmp_path / "leak.xlsx", tables, info))
    values = {c.value for sheet in book.worksheets for row in sheet.iter_rows() for c in row}
    assert LEAK not in values and float(LEAK) not in values
    sheet = book["by_region"]
    header = [c.value for c in sheet[1]]
    for cells in sheet.iter_rows(min_row=2):
        if cells[header.index("conf_status")].value != "F":
            assert all(cells[header.index(m)].value is None for m in MEASURES)


def test_notes_define_the_release_the_flags_and_every_dimension_and_measure(written):
    tables, info, _, book = written
    text = "\n".join(str(c.value) for row in book["notes"].iter_rows() for c in row if c.value is not None)
    for needle in [
        info.period,
        "revised",
        info.pipeline_version,
        SUPPRESSED_NOTE,
        *DIMENSIONS,
        *DIMENSIONS.values(),
        *MEASURES,
        *(name for name, _ in MEASURES.values()),
        *OBS_STATUS.values(),
        *CONF_STATUS.values(),
        *tables,
        "广东省",
    ]:
        assert needle in text, needle


def test_identical_bytes_on_two_writes_with_a_fixed_created_date(tmp_path: Path):
    tables, info = release_tables(2)
    first = write_workbook(tmp_path / "a.xlsx", tables, info).read_bytes()
    time.sleep(1.1)  # a clock-stamped property would now differ
    second = write_workbook(tmp_path / "b.xlsx", tables, info).read_bytes()
    assert first == second
    assert openpyxl.load_workbook(tmp_path / "a.xlsx").properties.created == datetime(2026, 2, 1)


def test_empty_tables_give_header_only_sheets(tmp_path: Path):
    tables, info = release_tables(1)
    empty = {name: table.clear() for name, table in tables.items()}
    book = openpyxl.load_workbook(write_workbook(tmp_path / "empty.xlsx", empty, info))
    assert book.sheetnames == [*tables, "notes"]
    assert all(book[name].max_row == 1 for name in tables)
    assert [c.value for c in book["coverage"][1]] == tables["coverage"].columns


def test_series_sheets_and_the_revision_triangle_titled_with_withheld_values_empty(tmp_path: Path):
    import polars as pl

    tables, info = release_tables(2, leak_suppressed=True)
    earlier = tables["by_region"].with_columns(reference_period=pl.lit("2025-12"))
    tables["series_by_region"] = pl.concat([earlier, tables["by_region"]]).with_columns(source_version=pl.lit(1))
    triangle = pl.DataFrame({"reference_period": ["2025-12", "2026-01"], "v1": [10, 12], "v2": [11, None]})
    path = write_workbook(tmp_path / "release.xlsx", tables | {"revision_triangle": triangle}, info)
    book = openpyxl.load_workbook(path)
    assert {"series_by_region", "revision_triangle"} <= set(book.sheetnames)
    notes = {row[0]: row[1] for row in book["notes"].iter_rows(values_only=True) if row[0]}
    assert notes["series_by_region"].startswith("Series of the by_region table")
    assert notes["revision_triangle"].startswith("Revision triangle")
    sheet = book["series_by_region"]
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, r, strict=True)) for r in sheet.iter_rows(min_row=2, values_only=True)]
    withheld = [r for r in rows if r["conf_status"] != "F"]
    assert {r["reference_period"] for r in withheld} == {"2025-12", "2026-01"}
    assert all(r["total_tokens"] is None for r in withheld), "a leaked value in the series is written empty"
    assert [list(r) for r in book["revision_triangle"].iter_rows(values_only=True)] == [
        ["reference_period", "v1", "v2"],
        ["2025-12", 10, 11],
        ["2026-01", 12, None],
    ]
