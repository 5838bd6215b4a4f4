"""XLSX presentation of a release: one sheet per table, in the order given, and a ``notes`` sheet.

Each table sheet has its header in row 1 (frozen, with a filter), one row per table row, counts with thousands
separators, money and prices with four decimals, percentages with two. A suppressed cell (CONF_STATUS other
than ``F``) is written empty, whatever value it holds. The bytes are deterministic: xlsxwriter stamps the zip
entries with a fixed date, and the document's created date is derived from the reference period.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from pipelines.contract.contract import read_code_list
from pipelines.release.price_index import VALUES as INDEX_VALUES
from pipelines.release.release_model import (
    AGENCY,
    CONF_STATUS,
    COVERAGE_RATIO_NOTE,
    DIMENSIONS,
    MEASURES,
    OBS_STATUS,
    SUPPRESSED_NOTE,
    ReleaseInfo,
)
from pipelines.release.revisions import TITLES as REVISION_TITLES
from pipelines.release.series import TITLES as SERIES_TITLES
from pipelines.statistics.marts import TABLES

OTHER_TITLES = {
    "coverage": "Coverage: providers expected, reported, rejected and missing",
    "revisions": "Revisions of total tokens and amount settled since the previous version",
    "price_index": "Token price index: chained Törnqvist (headline), GEKS-Törnqvist, unit value; first month = 100",
    **SERIES_TITLES,
    **REVISION_TITLES,
}
COUNT_UNITS = ("tokens", "requests")
FORMATS = {
    "count": "#,##0",
    "money": "#,##0.0000",
    "percent": "0.00",
}
#: a revisions column -> the conf_status column that decides whether it is published
REVISION_FLAGS = {"previous_value": ("previous_conf_status",), "value": ("conf_status",)}
REVISION_FLAGS["difference"] = ("previous_conf_status", "conf_status")
EXCEL_DIGITS_NOTE = (
    "Excel shows at most 15 significant digits: a national token count of 16 digits is displayed with its last "
    "digit rounded, although the file stores it exactly. The CSV, Parquet and SDMX files hold every value exactly."
)


def write_workbook(path: Path, tables: dict[str, pl.DataFrame], release: ReleaseInfo) -> Path:
    """Write the release's tables and notes to one XLSX file at ``path``; return ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = xlsxwriter.Workbook(str(path), {"in_memory": True, "strings_to_numbers": False})
    workbook.set_properties(
        {
            "title": f"TokenStats: token statistics {release.period}, version {release.version}",
            "subject": f"Reference month {release.period} ({release.status})",
            "author": AGENCY,
            "company": AGENCY,
            "comments": SUPPRESSED_NOTE,
            "created": _created(release.period),
        }
    )
    formats = {
        "header": workbook.add_format(
            {"bold": True, "bg_color": "#DDE4EE", "bottom": 1, "text_wrap": True, "valign": "top"}
        ),
        "suppressed": workbook.add_format({"bg_color": "#F2F2F2"}),
        **{name: workbook.add_format({"num_format": spec}) for name, spec in FORMATS.items()},
        "title": workbook.add_format({"bold": True, "font_size": 14}),
        "section": workbook.add_format({"bold": True, "font_size": 11, "bottom": 1}),
        "label": workbook.add_format({"bold": True, "valign": "top"}),
        "wrap": workbook.add_format({"text_wrap": True, "valign": "top"}),
    }
    for name, table in tables.items():
        _write_table(workbook.add_worksheet(name[:31]), table, formats)
    _write_notes(workbook.add_worksheet("notes"), tables, release, formats)
    workbook.close()
    return path


def _created(period: str) -> datetime:
    """The document date: midnight UTC on the first day of the month after the reference period."""
    year, month = (int(p) for p in period.split("-"))
    return datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)


def _kind(table: pl.DataFrame, column: str) -> str | None:
    """How a column's numbers are shown; None for text."""
    dtype = table.schema[column]
    if column in MEASURES:
        unit = MEASURES[column][1]
        return "count" if unit in COUNT_UNITS else "percent" if unit == "percent" else "money"
    if dtype.is_integer():
        return "count"
    if isinstance(dtype, pl.Decimal):
        return "money"
    if dtype.is_float():
        return "percent"
    return None


def _publishable(table: pl.DataFrame) -> dict[str, pl.Series]:
    """Per numeric column, whether each row's value may be shown (False: confidential, written empty)."""
    flags = {}
    for column in table.columns:
        if (column in MEASURES or column in INDEX_VALUES) and "conf_status" in table.columns:
            flags[column] = table["conf_status"] == "F"
        elif column in REVISION_FLAGS and all(c in table.columns for c in REVISION_FLAGS[column]):
            free = [table[c] == "F" for c in REVISION_FLAGS[column]]
            flags[column] = free[0] if len(free) == 1 else free[0] & free[1]
    return flags


def _write_table(sheet: Worksheet, table: pl.DataFrame, formats: dict[str, Format]) -> None:
    sheet.write_row(0, 0, table.columns, formats["header"])
    sheet.freeze_panes(1, 0)
    kinds = {c: _kind(table, c) for c in table.columns}
    publishable = _publishable(table)
    # revisions: a value of a count measure is shown as a count
    row_kinds = (
        ["count" if MEASURES.get(m, ("", ""))[1] in COUNT_UNITS else "money" for m in table["measure"]]
        if "measure" in table.columns
        else None
    )
    for col, column in enumerate(table.columns):
        kind = kinds[column]
        values = table[column].to_list()
        shown = publishable[column].to_list() if column in publishable else None
        for row, value in enumerate(values, start=1):
            if shown is not None and not shown[row - 1]:
                sheet.write_blank(row, col, None, formats["suppressed"])
            elif value is None:
                continue
            elif kind is None:
                sheet.write_string(row, col, str(value))
            else:
                if row_kinds is not None and kind == "money" and column in REVISION_FLAGS:
                    kind_here = row_kinds[row - 1]
                else:
                    kind_here = kind
                sheet.write_number(row, col, _number(value), formats[kind_here])
        sheet.set_column(col, col, _width(column, kind))
    if table.height:
        sheet.autofilter(0, 0, table.height, len(table.columns) - 1)


def _number(value: int | float | Decimal) -> float | int:
    return float(value) if isinstance(value, Decimal) else value


def _width(column: str, kind: str | None) -> float:
    if kind is None:
        return max(10, min(len(column) + 2, 24))
    return max(len(column) * 0.9, 22 if kind == "count" else 18)


def _write_notes(
    sheet: Worksheet, tables: dict[str, pl.DataFrame], release: ReleaseInfo, formats: dict[str, Format]
) -> None:
    sheet.set_column(0, 0, 30)
    sheet.set_column(1, 1, 100)
    sheet.set_column(2, 2, 24)
    rows: list[tuple[str, ...] | str] = [
        "#title",
        ("Release",),
        ("Reference period", release.period),
        ("Version", str(release.version)),
        ("Status", release.status + (" (first release of the month)" if release.provisional else "")),
        ("Revises version", str(release.previous_version) if release.previous_version else "none"),
        ("Pipeline version", release.pipeline_version),
        ("Data contract version", release.contract_version),
        "",
        ("Sheets",),
        *((name, TABLES[name].title if name in TABLES else OTHER_TITLES.get(name, name)) for name in tables),
        ("notes", "This sheet"),
        "",
        ("Dimensions",),
        *((column, text) for column, text in DIMENSIONS.items()),
        ("_T", "Total of all values of a dimension"),
        ("_X", "Not reported (compute region) or unspecified (sector of intermediate use)"),
        "",
        ("Measures", "Definition", "Unit"),
        *((column, name, unit) for column, (name, unit) in MEASURES.items()),
        "",
        ("OBS_STATUS (column obs_status)",),
        *OBS_STATUS.items(),
        *([("coverage_ratio", COVERAGE_RATIO_NOTE)] if _has_coverage_ratio(tables) else []),
        "",
        ("CONF_STATUS (column conf_status)",),
        *CONF_STATUS.items(),
        "",
        ("Confidential cells",),
        ("Suppression", SUPPRESSED_NOTE),
        (
            "Display",
            "Counts with thousands separators; amounts in yuan (CNY) with four decimals; percentages "
            "with two decimals. " + EXCEL_DIGITS_NOTE,
        ),
        "",
        ("Codes: region_code and compute_region_code", "Name", "Economic zone"),
        *(
            (r["region_code"], f"{r['name']} / {r['name_zh']}", r["economic_zone"])
            for r in read_code_list("provinces.csv")
        ),
        *(
            (r["zone_code"], f"{r['name']} economic zone / {r['name_zh']}")
            for r in read_code_list("economic_zones.csv")
        ),
        ("Codes: sector_code", "Name"),
        *((r["sector_code"], f"{r['name']} / {r['name_zh']}") for r in read_code_list("sectors.csv")),
        ("Codes: modality", "Name"),
        *((r["modality"], f"{r['name']} / {r['name_zh']}") for r in read_code_list("modalities.csv")),
    ]
    for row, item in enumerate(rows):
        if item == "#title":
            sheet.write_string(row, 0, f"TokenStats: token statistics, {release.period}", formats["title"])
        elif isinstance(item, tuple) and (len(item) == 1 or item[0].startswith("Codes:") or item[0] == "Measures"):
            sheet.write_row(row, 0, item, formats["section"])
        elif isinstance(item, tuple):
            sheet.write_string(row, 0, item[0], formats["label"])
            sheet.write_row(row, 1, item[1:], formats["wrap"])


def _has_coverage_ratio(tables: dict[str, pl.DataFrame]) -> bool:
    """A release that estimates a late provider: its tables carry ``coverage_ratio`` (imputation)."""
    return any("coverage_ratio" in table.columns for table in tables.values())
