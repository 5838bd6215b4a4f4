"""The contract loader: one machine-readable file and its code lists are the source of truth."""

from __future__ import annotations

import pyarrow as pa
import pytest

from pipelines.contract.contract import load_contract, read_code_list

DESIGN_COLUMNS = [
    "report_period",
    "provider_id",
    "usage_date",
    "region_code",
    "compute_region_code",
    "modality",
    "customer_type",
    "sector_code",
    "model_id",
    "input_tokens",
    "cached_input_tokens",
    "output_tokens",
    "requests",
    "settlement_amount",
]


def test_contract_declares_the_design_columns_and_key():
    contract = load_contract()
    assert contract.column_names == DESIGN_COLUMNS
    assert set(contract.key) <= set(contract.column_names)
    nullable = {c.name for c in contract.columns if c.nullable}
    assert nullable == {"compute_region_code", "sector_code"}
    schema = contract.arrow_schema()
    assert schema.field("settlement_amount").type == pa.decimal128(20, 4)
    assert schema.field("usage_date").type == pa.date32()
    assert all(schema.field(c).type == pa.int64() for c in ("input_tokens", "requests"))


def test_provinces_are_the_31_mainland_codes_with_zones_and_hubs():
    provinces = read_code_list("provinces.csv")
    assert len(provinces) == 31
    assert all(len(p["region_code"]) == 6 and p["region_code"].endswith("0000") for p in provinces)
    zones = {}
    for p in provinces:
        zones.setdefault(p["economic_zone"], set()).add(p["region_code"][:2])
    assert zones == {
        "East": {"11", "12", "13", "31", "32", "33", "35", "37", "44", "46"},
        "Central": {"14", "34", "36", "41", "42", "43"},
        "West": {"15", "45", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65"},
        "Northeast": {"21", "22", "23"},
    }
    hubs = {p["computing_hub"] for p in provinces} - {""}
    assert len(hubs) == 8
    assert not {"71", "81", "82"} & {p["region_code"][:2] for p in provinces}  # TW, HK, MO out of scope


def test_sectors_are_sections_a_to_t_plus_households_for_tables_only():
    contract = load_contract()
    assert contract.code_list("report_sectors") == [chr(c) for c in range(ord("A"), ord("T") + 1)]
    assert [r["sector_code"] for r in read_code_list("sectors.csv")][-1] == "HH"
    assert contract.code_list("modalities") == ["text", "code", "image", "audio", "video"]
    assert contract.code_list("customer_types") == ["enterprise", "government", "individual", "reseller"]


@pytest.mark.parametrize(
    ("column", "arrow_type", "accepted"),
    [
        ("region_code", pa.string(), True),
        ("region_code", pa.large_string(), True),
        ("region_code", pa.dictionary(pa.int32(), pa.string()), True),
        ("region_code", pa.int64(), False),
        ("input_tokens", pa.int64(), True),
        ("input_tokens", pa.int32(), False),
        ("input_tokens", pa.float64(), False),
        ("input_tokens", pa.uint64(), False),
        ("settlement_amount", pa.decimal128(20, 4), True),
        ("settlement_amount", pa.decimal128(38, 4), True),
        ("settlement_amount", pa.decimal128(20, 2), False),
        ("settlement_amount", pa.float64(), False),
        ("usage_date", pa.date32(), True),
        ("usage_date", pa.timestamp("us"), False),
        ("usage_date", pa.string(), False),
    ],
)
def test_logical_types_accept_any_string_encoding_but_exact_numbers(column, arrow_type, accepted):
    assert load_contract().column(column).accepts(arrow_type) is accepted
