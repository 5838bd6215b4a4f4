"""An independent reading of the data contract, in plain Polars, to check the generator and the validators.

It shares nothing with ``pipelines.validation.validate`` but the contract files: where the two disagree, one is wrong.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import json
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
ALLOWED_TYPES = {
    "string": lambda t: (
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_string_view(t)
        or (pa.types.is_dictionary(t) and (pa.types.is_string(t.value_type) or pa.types.is_large_string(t.value_type)))
    ),
    "int64": lambda t: t == pa.int64(),
    "date32": lambda t: t == pa.date32(),
    "decimal(20,4)": lambda t: pa.types.is_decimal(t) and t.scale == 4,
}


def contract() -> dict:
    return json.loads((SCHEMAS / "usage_report.v1.json").read_text())


def codes(file: str, column: str, **where: str) -> set[str]:
    with (SCHEMAS / file).open(encoding="utf-8") as f:
        return {r[column] for r in csv.DictReader(f) if all(r[k] == v for k, v in where.items())}


def as_polars(table: pa.Table) -> pl.DataFrame:
    """Polars reads dictionary strings as categoricals; the contract treats them as plain strings."""
    plain = [c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c for c in table.columns]
    return pl.from_arrow(pa.table(plain, names=table.column_names))


def read_reports(paths: list[Path]) -> pl.DataFrame:
    return pl.concat([as_polars(pq.read_table(p)) for p in paths], how="vertical_relaxed")


def violations(path: Path, max_file_bytes: int = 8 * 1024**3) -> set[str]:
    """Rule ids (as the pipeline names them) that the report at ``path`` breaks."""
    size = path.stat().st_size
    if size == 0:
        return {"file.empty"}
    if size > max_file_bytes:
        return {"file.too_large"}
    with path.open("rb") as f:
        head = f.read(4)
    if head != b"PAR1":
        return {"file.not_parquet"}
    try:
        table = pq.read_table(path)
    except Exception:
        return {"file.corrupt"}
    if table.num_rows == 0:
        return {"file.no_rows"}
    spec = contract()
    declared = {c["name"]: c for c in spec["columns"]}
    broken = set()
    if set(declared) - set(table.column_names):
        broken.add("schema.missing_column")
    if set(table.column_names) - set(declared):
        broken.add("schema.unexpected_column")
    for field in table.schema:
        if field.name in declared and not ALLOWED_TYPES[declared[field.name]["type"]](field.type):
            broken.add("schema.type")
    if broken:
        return broken

    df = as_polars(table.select(list(declared)))
    folder = path.parent.name
    if (df["provider_id"] != folder).any():
        broken.add("provider.matches_folder")
    periods = df["report_period"].unique().to_list()
    if len(periods) != 1:
        return broken | {"report_period.single"}
    period = periods[0]

    for name, column in declared.items():
        if not column["nullable"] and df[name].null_count():
            broken.add(f"{name}.not_null")
    provinces = codes("provinces.csv", "region_code")
    domains = {
        "region_code": provinces,
        "compute_region_code": provinces,
        "modality": codes("modalities.csv", "modality"),
        "customer_type": codes("customer_types.csv", "customer_type"),
        "sector_code": codes("sectors.csv", "sector_code", in_reports="true"),
    }
    for name, allowed in domains.items():
        values = df[name].drop_nulls()
        if (~values.is_in(list(allowed))).any():
            broken.add(f"{name}.in_code_list")
    for name in ("input_tokens", "cached_input_tokens", "output_tokens", "requests"):
        if ((df[name] < 0) | (df[name] > 10**15)).any():
            broken.add(f"{name}.range")
    amount = df["settlement_amount"].cast(pl.Float64)
    if ((amount < 0) | (amount > 1e13)).any():
        broken.add("settlement_amount.range")
    if (df["cached_input_tokens"] > df["input_tokens"]).any():
        broken.add("cached_input_tokens.not_above_input")
    tokens = df["input_tokens"] + df["output_tokens"]
    if ((tokens > 0) & (df["requests"] <= 0)).any():
        broken.add("requests.positive_with_tokens")
    organisation = df["customer_type"].is_in(["enterprise", "government"])
    if (organisation & df["sector_code"].is_null()).any():
        broken.add("sector_code.required_for_organisations")
    if (~organisation & df["customer_type"].is_not_null() & df["sector_code"].is_not_null()).any():
        broken.add("sector_code.empty_unless_required")
    year, month = (int(x) for x in period.split("-"))
    first, last = dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])
    if ((df["usage_date"] < first) | (df["usage_date"] > last)).any():
        broken.add("usage_date.in_period")
    if df.select(spec["key"]).is_duplicated().any():
        broken.add("key.unique")
    lengths = df["model_id"].str.len_chars()
    if ((lengths < 1) | (lengths > 128)).any():
        broken.add("model_id.length")
    if (~df["model_id"].str.contains(r"^[\x20-\x7E]+$")).any():
        broken.add("model_id.printable")
    return broken
