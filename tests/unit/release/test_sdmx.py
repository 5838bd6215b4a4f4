"""SDMX output: structure and data read back by pysdmx (and sdmx1 where installed) equal the release tables."""

from __future__ import annotations

import csv
import re
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from lxml import etree
from pysdmx.io import get_datasets, read_sdmx
from pysdmx.model import Codelist, Dataflow, DataStructureDefinition

from pipelines.release.formats.sdmx import write_sdmx
from pipelines.release.release_model import CONF_STATUS, MEASURES
from tests.release_fixtures import LEAK, release_tables

DIMENSIONS = {
    "use_type": "USE_TYPE",
    "region_code": "REF_AREA",
    "compute_region_code": "COMPUTE_AREA",
    "modality": "MODALITY",
    "sector_code": "SECTOR",
}
CELL_TABLES = ("national", "by_region", "by_modality", "by_sector", "cube", "compute_flows", "use_type")
HEADER = (
    "STRUCTURE,STRUCTURE_ID,ACTION,USE_TYPE,REF_AREA,COMPUTE_AREA,MODALITY,SECTOR,MEASURE,TIME_PERIOD,"
    "OBS_VALUE,OBS_STATUS,CONF_STATUS,UNIT_MEASURE"
)
SHARE = "share_of_total_pct"
PLAIN = re.compile(r"^-?\d+(\.\d*[1-9])?$")


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory):
    tables, info = release_tables(2)
    folder = tmp_path_factory.mktemp("sdmx")
    structure, data = write_sdmx(folder, tables, info)
    return tables, info, structure, data


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _cells(tables: dict[str, pl.DataFrame]) -> dict[tuple[str, ...], dict]:
    """Every cell of the release once, keyed by its five dimension values; the share is of the first table's total."""
    cells: dict[tuple[str, ...], dict] = {}
    for name in CELL_TABLES:
        for row in tables[name].to_dicts():
            key = tuple(row[d] for d in DIMENSIONS)
            first = cells.setdefault(key, row)
            assert first | {SHARE: None} == row | {SHARE: None}, f"{key} differs between tables"
    return cells


def _key(obs: dict[str, str]) -> tuple[str, ...]:
    return tuple(obs[d] for d in DIMENSIONS.values())


def test_writes_sdmx_csv_2_of_the_dataflow(release):
    _, _, structure, data = release
    assert (structure.name, data.name) == ("structure.xml", "data.csv")
    lines = data.read_text(encoding="utf-8").splitlines()
    assert lines[0] == HEADER
    rows = _csv_rows(data)
    assert {(r["STRUCTURE"], r["STRUCTURE_ID"], r["ACTION"]) for r in rows} == {
        ("dataflow", "TOKENSTATS:DF_TOKENS_M(1.0.0)", "I")
    }
    assert {r["TIME_PERIOD"] for r in rows} == {"2026-01"}
    assert {r["OBS_STATUS"] for r in rows} == {"A"}  # version 2: normal values


def test_structure_reads_back_valid_with_the_code_lists(release):
    _, _, structure, _ = release
    message = read_sdmx(structure, validate=True)  # XSD-validated
    by_id = {s.id: s for s in message.structures}
    dsd = by_id["DSD_TOKENS"]
    assert isinstance(dsd, DataStructureDefinition)
    assert [c.id for c in dsd.components] == [
        *DIMENSIONS.values(),
        "MEASURE",
        "TIME_PERIOD",
        "OBS_VALUE",
        "OBS_STATUS",
        "CONF_STATUS",
        "UNIT_MEASURE",
    ]
    assert isinstance(by_id["DF_TOKENS_M"], Dataflow)
    assert by_id["DF_TOKENS_M"].short_urn == "Dataflow=TOKENSTATS:DF_TOKENS_M(1.0.0)"
    codes = {s.id: [c.id for c in s] for s in message.structures if isinstance(s, Codelist)}
    assert len(codes["CL_AREA"]) == 31 + 4 + 1
    assert {"440000", "540000", "East", "Northeast", "_T"} <= set(codes["CL_AREA"])
    assert set(codes["CL_COMPUTE_AREA"]) - set(codes["CL_AREA"]) == {"_X"}
    assert codes["CL_SECTOR"] == [*"ABCDEFGHIJKLMNOPQRST", "HH", "_X", "_T"]
    assert codes["CL_MODALITY"] == ["text", "code", "image", "audio", "video", "_T"]
    assert codes["CL_USE_TYPE"] == ["final", "intermediate", "_T"]
    assert codes["CL_MEASURE"] == list(MEASURES)
    assert codes["CL_OBS_STATUS"] == ["A", "P", "E"]  # E: the price index's estimated values
    assert codes["CL_CONF_STATUS"] == list(CONF_STATUS) == ["F", "A", "O", "D"]
    names = {c.id: c.name for c in by_id["CL_AREA"]}
    assert names["440000"] == "Guangdong"


def test_structure_carries_chinese_names_beside_english(release):
    _, _, structure, _ = release
    root = etree.parse(str(structure)).getroot()
    ns = {
        "str": "http://www.sdmx.org/resources/sdmxml/schemas/v3_0/structure",
        "com": "http://www.sdmx.org/resources/sdmxml/schemas/v3_0/common",
    }
    lang = "{http://www.w3.org/XML/1998/namespace}lang"
    code = root.find(".//str:Codelist[@id='CL_AREA']/str:Code[@id='440000']", ns)
    assert {n.get(lang): n.text for n in code.findall("com:Name", ns)} == {"en": "Guangdong", "zh": "广东省"}
    assert b"MeasureRelationship" not in structure.read_bytes()


def test_every_free_value_equals_the_tables(release):
    tables, _, structure, data = release
    cells = _cells(tables)
    text = {(_key(r), r["MEASURE"]): r for r in _csv_rows(data)}
    dataset = get_datasets(data, structure)[0]
    read = {(_key(r), r["MEASURE"]): r for r in dataset.data.to_dict("records")}
    assert len(read) == len(text) == len(dataset.data), "one observation per cell and measure"
    expected = 0
    for key, cell in cells.items():
        if cell["conf_status"] != "F":
            continue
        for measure in MEASURES:
            value = cell[measure]
            if value is None:
                assert (key, measure) not in text, "a value not available has no observation"
                continue
            expected += 1
            obs = text[(key, measure)]
            assert PLAIN.match(obs["OBS_VALUE"]), obs["OBS_VALUE"]
            assert Decimal(obs["OBS_VALUE"]) == Decimal(str(value)), (key, measure)
            assert (obs["OBS_STATUS"], obs["CONF_STATUS"]) == (cell["obs_status"], "F")
            got = read[(key, measure)]["OBS_VALUE"]
            if isinstance(value, int):
                assert got == value, (key, measure)  # to the token (below 2^53)
            else:
                assert abs(Decimal(repr(got)) - Decimal(str(value))) < Decimal("0.00005"), (key, measure)
    free_rows = [r for r in text.values() if r["CONF_STATUS"] == "F"]
    assert expected == len(free_rows) > 100


def test_suppressed_observations_are_empty_with_their_flag(release):
    tables, _, structure, data = release
    suppressed = {k: c["conf_status"] for k, c in _cells(tables).items() if c["conf_status"] != "F"}
    assert set(suppressed.values()) == {"A", "O", "D"}
    rows = [r for r in _csv_rows(data) if r["CONF_STATUS"] != "F"]
    assert {(_key(r), r["MEASURE"]): r["CONF_STATUS"] for r in rows} == {
        (key, m): flag for key, flag in suppressed.items() for m in MEASURES
    }
    assert {r["OBS_VALUE"] for r in rows} == {""}, "empty, not NaN"
    dataset = get_datasets(data, structure)[0].data
    assert dataset.loc[dataset["CONF_STATUS"] != "F", "OBS_VALUE"].isna().all()


def test_a_suppressed_cell_is_empty_even_if_it_holds_a_value(tmp_path: Path):
    tables, info = release_tables(1, leak_suppressed=True)
    _, data = write_sdmx(tmp_path, tables, info)
    assert str(LEAK) not in data.read_text(encoding="utf-8")
    rows = _csv_rows(data)
    assert {r["OBS_VALUE"] for r in rows if r["CONF_STATUS"] != "F"} == {""}
    assert {r["OBS_STATUS"] for r in rows} == {"P"}


def test_coded_values_are_in_their_code_lists(release):
    _, _, structure, data = release
    dataset = get_datasets(data, structure)[0]
    checked = 0
    for component in dataset.structure.components:
        if component.enumeration is None:
            continue
        allowed = {c.id for c in component.enumeration}
        used = set(dataset.data[component.id].dropna().unique())
        assert used <= allowed, (component.id, used - allowed)
        checked += 1
    assert checked == 9  # six coded dimensions and three attributes
    units = {r["MEASURE"]: r["UNIT_MEASURE"] for r in _csv_rows(data)}
    assert units["total_tokens"] == "TOKENS" and units["settlement_amount"] == "CNY"


def test_a_cell_in_several_tables_is_one_observation(release):
    tables, _, _, data = release
    national = ("final", "_T", "_T", "_T", "_T")
    in_use_type = tables["use_type"].filter(pl.col("use_type") == "final")["share_of_total_pct"].item()
    assert in_use_type == 100  # one base, national final use, in every table
    rows = [r for r in _csv_rows(data) if _key(r) == national]
    assert sorted(r["MEASURE"] for r in rows) == sorted(MEASURES)
    assert next(r["OBS_VALUE"] for r in rows if r["MEASURE"] == SHARE) == "100"


def test_a_cell_that_differs_between_tables_is_refused(tmp_path: Path):
    tables, info = release_tables(1)
    national = tables["national"]
    tables["national"] = national.with_columns(pl.lit("D").alias("conf_status"))  # free in by_region
    with pytest.raises(ValueError, match="differ between tables"):
        write_sdmx(tmp_path, tables, info)
    tables["national"] = national.with_columns(pl.col("total_tokens") + 1)
    with pytest.raises(ValueError, match="differ between tables"):
        write_sdmx(tmp_path, tables, info)


def test_two_writes_give_identical_bytes(tmp_path: Path):
    tables, info = release_tables(2)
    first = write_sdmx(tmp_path / "a", tables, info)
    second = write_sdmx(tmp_path / "b", tables, info)
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    assert b"2026-02-01T00:00:00" in first[0].read_bytes()  # prepared: derived from the period, not the clock


def test_empty_and_missing_tables_give_a_header_only(tmp_path: Path):
    tables, info = release_tables(1)
    structure, data = write_sdmx(tmp_path, {name: t.clear() for name, t in tables.items()}, info)
    assert data.read_text(encoding="utf-8") == HEADER + "\n"
    assert read_sdmx(structure, validate=True).structures
    _, data = write_sdmx(tmp_path / "none", {}, info)
    assert data.read_text(encoding="utf-8") == HEADER + "\n"


def test_an_unknown_code_is_refused(tmp_path: Path):
    tables, info = release_tables(1)
    tables["by_region"] = tables["by_region"].with_columns(
        pl.when(pl.col("region_code") == "440000").then(pl.lit("440300")).otherwise("region_code").alias("region_code")
    )
    with pytest.raises(ValueError, match="440300"):
        write_sdmx(tmp_path, tables, info)


def test_sdmx1_reads_the_structure_and_data(release):
    sdmx = pytest.importorskip(
        "sdmx", reason="sdmx1 (import sdmx) is not installed in the project venv; only pysdmx checks the files here"
    )
    _, _, structure, data = release
    message = sdmx.read_sdmx(structure)
    dataflow = message.dataflow["DF_TOKENS_M"]
    assert message.codelist["CL_AREA"]["440000"].name.localizations == {"en": "Guangdong", "zh": "广东省"}
    observations = sdmx.read_sdmx(data, structure=dataflow).data[0].obs
    assert len(observations) == len(_csv_rows(data))


def test_the_series_gives_every_period_read_back_by_pysdmx(tmp_path: Path):
    tables, info = release_tables(2)
    earlier = "2025-12"
    for name in ("national", "by_region", "by_modality", "by_sector", "use_type"):
        month = tables[name].with_columns(
            reference_period=pl.lit(earlier), total_tokens=pl.col("total_tokens") // 2, obs_status=pl.lit("A")
        )
        tables[f"series_{name}"] = pl.concat([month, tables[name]]).with_columns(source_version=pl.lit(1))
    _, data = write_sdmx(tmp_path, tables, info)
    dataset = get_datasets(data, tmp_path / "structure.xml")[0]
    rows = dataset.data.to_dict("records")
    assert {str(r["TIME_PERIOD"]) for r in rows} == {earlier, info.period}
    national = tables["series_national"].filter(pl.col("use_type") == "final").to_dicts()
    for cell in national:
        (obs,) = [
            r
            for r in rows
            if str(r["TIME_PERIOD"]) == cell["reference_period"]
            and r["MEASURE"] == "total_tokens"
            and _key(r) == tuple(cell[d] for d in DIMENSIONS)
        ]
        assert obs["OBS_VALUE"] == cell["total_tokens"]
    # every month's cells, each once: the current month's as before, the earlier month's from the series
    now = [r for r in rows if str(r["TIME_PERIOD"]) == info.period]
    assert len(now) == len(
        get_datasets(write_sdmx(tmp_path / "now", release_tables(2)[0], info)[1], tmp_path / "structure.xml")[0].data
    )
    withheld = [r for r in rows if str(r["TIME_PERIOD"]) == earlier and r["CONF_STATUS"] != "F"]
    assert withheld and all(_missing(r["OBS_VALUE"]) for r in withheld)


def _missing(value) -> bool:
    return value is None or value != value  # NaN
