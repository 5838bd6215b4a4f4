"""Realistic defects for synthetic reports: each breaks exactly one validation rule.

Used by ``tokenstats generate --fault KIND`` so that tests and demos show rejections. A row-level fault
touches a few rows of the first row group and keeps every other rule intact (keys stay unique).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from pipelines.contract.contract import load_contract
from pipelines.contract.registry import Provider
from pipelines.core.config import Settings
from pipelines.core.periods import previous_period

ROWS_TOUCHED = 5


@dataclass(frozen=True)
class Fault:
    """A defect injected into one provider's report, and the validation rule it must break."""

    rule: str
    description: str


FAULTS: dict[str, Fault] = {
    "wrong_type": Fault("schema.type", "output_tokens written as float64"),
    "missing_column": Fault("schema.missing_column", "the modality column is missing"),
    "int32_overflow": Fault("schema.type", "input_tokens written as int32, large values wrapped negative"),
    "extra_column": Fault("schema.unexpected_column", "an undeclared customer_name column"),
    "other_provider": Fault("provider.matches_folder", "the report claims to be another provider's"),
    "mixed_periods": Fault("report_period.single", "rows of two reference periods"),
    "negative_counts": Fault("output_tokens.range", "negative output_tokens in a few rows"),
    "cached_exceeds_input": Fault("cached_input_tokens.not_above_input", "cached_input_tokens > input_tokens"),
    "requests_zero": Fault("requests.positive_with_tokens", "tokens reported with zero requests"),
    "unknown_region": Fault("region_code.in_code_list", "region codes that GB/T 2260 does not have"),
    "two_digit_region": Fault("region_code.in_code_list", "2-digit province codes instead of 6-digit"),
    "hk_mo_tw_region": Fault("region_code.in_code_list", "Hong Kong, Macao and Taiwan codes (out of scope)"),
    "null_region": Fault("region_code.not_null", "customer province missing in a few rows"),
    "sector_gbt2011": Fault("sector_code.in_code_list", "GB/T 4754-2011 numeric division codes"),
    "sector_division": Fault("sector_code.in_code_list", "division codes (I65) instead of sections"),
    "sector_for_individual": Fault("sector_code.empty_unless_required", "a sector on individual rows"),
    "sector_missing": Fault("sector_code.required_for_organisations", "enterprise rows without a sector"),
    "date_outside_period": Fault("usage_date.in_period", "rows dated in the following month"),
    "utc_shift": Fault("usage_date.in_period", "dates on the UTC calendar: every day one day early"),
    "duplicate_keys": Fault("key.unique", "rows repeated with the same key"),
    "long_model_id": Fault("model_id.length", "a model id of 150 characters"),
    "empty_file": Fault("file.empty", "a file of zero bytes"),
    "zero_rows": Fault("file.no_rows", "a valid Parquet file with no rows"),
    "corrupt": Fault("file.corrupt", "a Parquet file truncated in transfer"),
    "not_parquet": Fault("file.not_parquet", "a CSV export named .parquet"),
    "oversized": Fault("file.too_large", "a file beyond the configured size limit"),
    "cents_for_yuan": Fault("history.price_per_million_tokens", "settlement in cents: prices 100x the norm"),
    "volume_spike": Fault("history.total_tokens", "token totals 20x the provider's history"),
}

_DIVISION_2011 = {
    "A": "01",
    "B": "06",
    "C": "13",
    "D": "44",
    "E": "47",
    "F": "51",
    "G": "53",
    "H": "61",
    "I": "65",
    "J": "66",
    "K": "70",
    "L": "71",
    "M": "73",
    "N": "76",
    "O": "80",
    "P": "83",
    "Q": "84",
    "R": "86",
    "S": "90",
    "T": "96",
}


def apply_to_chunk(fault: str, table: pa.Table, chunk_number: int, registry: list[Provider]) -> pa.Table:
    """The row group with ``fault`` applied (column faults to every group, row faults to the first)."""
    df = pl.from_arrow(table)
    assert isinstance(df, pl.DataFrame)
    first = chunk_number == 0
    match fault:
        case "wrong_type":
            df = df.with_columns(pl.col("output_tokens").cast(pl.Float64))
        case "missing_column":
            df = df.drop("modality")
        case "int32_overflow":
            df = df.with_columns(
                pl.col("input_tokens").cast(pl.UInt32, wrap_numerical=True).cast(pl.Int32, wrap_numerical=True)
            )
        case "extra_column":
            df = df.with_columns(customer_name=pl.lit("Example Customer Ltd."))
        case "other_provider":
            own = df["provider_id"][0]
            df = df.with_columns(provider_id=pl.lit(next(p.provider_id for p in registry if p.provider_id != own)))
        case "utc_shift":
            df = df.with_columns(pl.col("usage_date") - pl.duration(days=1))
        case "mixed_periods" if first:
            previous = previous_period(df["report_period"][0])
            df = _set_rows(df, _first_rows(df), report_period=pl.lit(previous))
        case "negative_counts" if first:
            df = _set_rows(df, _first_rows(df, pl.col("output_tokens") > 0), output_tokens=-pl.col("output_tokens"))
        case "cached_exceeds_input" if first:
            df = _set_rows(df, _first_rows(df), cached_input_tokens=pl.col("input_tokens") + 1000)
        case "requests_zero" if first:
            tokens = pl.col("input_tokens") + pl.col("output_tokens") > 0
            df = _set_rows(df, _first_rows(df, tokens), requests=pl.lit(0, pl.Int64))
        case "unknown_region" if first:
            df = _set_each(df, _first_rows(df), "region_code", ["990000", "980000", "970000", "960000", "950000"])
        case "two_digit_region" if first:
            df = _set_rows(df, _first_rows(df), region_code=pl.col("region_code").str.slice(0, 2))
        case "hk_mo_tw_region" if first:
            df = _set_each(df, _first_rows(df, limit=3), "region_code", ["810000", "820000", "710000"])
        case "null_region" if first:
            df = _set_rows(df, _unique_without(df, "region_code"), region_code=pl.lit(None, pl.String))
        case "sector_gbt2011" if first:
            df = _set_rows(
                df,
                _first_rows(df, pl.col("sector_code").is_not_null()),
                sector_code=pl.col("sector_code").replace_strict(_DIVISION_2011),
            )
        case "sector_division" if first:
            df = _set_rows(
                df,
                _first_rows(df, pl.col("sector_code").is_not_null()),
                sector_code=pl.col("sector_code") + pl.col("sector_code").replace_strict(_DIVISION_2011),
            )
        case "sector_for_individual" if first:
            df = _set_rows(df, _first_rows(df, pl.col("customer_type") == "individual"), sector_code=pl.lit("I"))
        case "sector_missing" if first:
            enterprise = pl.col("customer_type") == "enterprise"
            df = _set_rows(df, _unique_without(df, "sector_code", enterprise), sector_code=pl.lit(None, pl.String))
        case "date_outside_period" if first:
            on_first_day = pl.col("usage_date") == pl.col("usage_date").min()
            df = _set_rows(
                df,
                _first_rows(df, on_first_day),
                usage_date=pl.col("usage_date").dt.month_end().max() + pl.duration(days=1),
            )
        case "duplicate_keys" if first:
            df = pl.concat([df, df.head(3)])
        case "long_model_id" if first:
            df = _set_rows(df, _first_rows(df, limit=1), model_id=pl.lit("m" * 150))
        case "cents_for_yuan":
            df = df.with_columns(pl.col("settlement_amount") * 100)
        case "volume_spike":
            df = df.with_columns(
                pl.col(c) * 20 for c in ("input_tokens", "cached_input_tokens", "output_tokens", "settlement_amount")
            )
    return _restore_types(df.to_arrow(), table)


def apply_to_file(fault: str, path: Path, rows: int) -> int:
    """Whole-file faults, applied to the written report; returns the rows the file now holds."""
    match fault:
        case "empty_file":
            path.write_bytes(b"")
            return 0
        case "zero_rows":
            pq.write_table(load_contract().arrow_schema().empty_table(), path)
            return 0
        case "corrupt":
            data = path.read_bytes()
            path.write_bytes(data[: len(data) // 2])
        case "not_parquet":
            table = pq.read_table(path).slice(0, 100)
            pacsv.write_csv(table, path)
        case "oversized":  # sparse: as large as the limit says, without using the disk
            with path.open("r+b") as f:
                f.truncate(Settings.from_env().max_file_bytes + 1)
    return rows


def _first_rows(df: pl.DataFrame, where: pl.Expr | None = None, limit: int = ROWS_TOUCHED) -> pl.Series:
    """A mask of the first ``limit`` rows matching ``where``."""
    match = df.select(pl.repeat(True, pl.len()) if where is None else where).to_series()
    return match & (match.cast(pl.Int64).cum_sum() <= limit)


def _unique_without(df: pl.DataFrame, column: str, where: pl.Expr | None = None) -> pl.Series:
    """First rows whose key stays unique when ``column`` is blanked (so only the intended rule breaks)."""
    key = [c for c in load_contract().key if c != column]
    alone = df.select(pl.len().over(key) == 1).to_series()
    if where is not None:
        alone = alone & df.select(where).to_series()
    return alone & (alone.cast(pl.Int64).cum_sum() <= ROWS_TOUCHED)


def _set_rows(df: pl.DataFrame, rows: pl.Series, **values: pl.Expr) -> pl.DataFrame:
    return df.with_columns(pl.when(rows).then(v).otherwise(pl.col(k)).alias(k) for k, v in values.items())


def _set_each(df: pl.DataFrame, rows: pl.Series, column: str, values: list[str]) -> pl.DataFrame:
    """Give the selected rows distinct values, so no two of them collide on the key."""
    cells = df[column].to_list()
    for position, value in zip(rows.arg_true(), values, strict=False):
        cells[position] = value
    return df.with_columns(pl.Series(column, cells, dtype=df.schema[column]))


def _restore_types(faulted: pa.Table, original: pa.Table) -> pa.Table:
    """Polars round-trips strings as large_string and may widen decimals; keep the file's own types."""
    columns = []
    for field in faulted.schema:
        column = faulted[field.name]
        if field.name in original.column_names:
            wanted = original.schema.field(field.name).type
            both_strings = pa.types.is_large_string(field.type) and pa.types.is_string(wanted)
            both_decimals = pa.types.is_decimal(field.type) and pa.types.is_decimal(wanted)
            if (both_strings or both_decimals) and not field.type.equals(wanted):
                column = pc.cast(column, wanted, safe=False)
        columns.append(column)
    return pa.table(columns, names=faulted.column_names)
