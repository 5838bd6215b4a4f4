"""SDMX presentation of a release: an SDMX-ML 3.0 structure message and SDMX-CSV 2.0 data, both written by pysdmx.

One dataflow of monthly cells, ``TOKENSTATS:DF_TOKENS_M(1.0.0)``. Its observations are the union of the cell tables
(they overlap: a cell is identified by its five dimension values and published once), one observation per cell and
measure. A suppressed cell (CONF_STATUS other than ``F``) has an empty OBS_VALUE; a free cell whose measure is not
available (a change on a month that was not published) has no observation for that measure.

The structure (code lists, concept scheme, DSD, dataflow) only changes with the code lists; its artefacts are
versioned ``1.0.0`` and carry their own agency ``TOKENSTATS``. Output is deterministic: the message header is
derived from the release (no random id, no clock), values are pre-formatted as plain decimals.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import polars as pl
from lxml import etree
from msgspec.structs import replace
from pysdmx.io import write_sdmx as pysdmx_write
from pysdmx.io.format import Format
from pysdmx.io.pd import PandasDataset
from pysdmx.model import (
    Code,
    Codelist,
    Component,
    Components,
    Concept,
    ConceptScheme,
    Dataflow,
    DataStructureDefinition,
    DataType,
    ItemReference,
    Role,
)
from pysdmx.model.__base import Organisation
from pysdmx.model.dataset import ActionType
from pysdmx.model.message import Header

from pipelines.contract.contract import read_code_list
from pipelines.release.release_model import AGENCY, CONF_STATUS, DIMENSIONS, MEASURES, OBS_STATUS, ReleaseInfo
from pipelines.release.series import PREFIX, SERIES_TABLES

VERSION = "1.0.0"  # SDMX 3.0 semantic version of every structure artefact
CONCEPT_SCHEME = "CS_TOKENSTATS"
DSD_ID = "DSD_TOKENS"
DATAFLOW_ID = "DF_TOKENS_M"
CELL_TABLES = ("national", "by_region", "by_modality", "by_sector", "cube", "compute_flows", "use_type")
#: table column -> SDMX dimension, in DSD order (MEASURE and TIME_PERIOD follow)
DIMENSION_IDS = {
    "use_type": "USE_TYPE",
    "region_code": "REF_AREA",
    "compute_region_code": "COMPUTE_AREA",
    "modality": "MODALITY",
    "sector_code": "SECTOR",
}
UNIT_CODES = {
    "tokens": ("TOKENS", "Tokens"),
    "requests": ("REQUESTS", "Requests"),
    "CNY": ("CNY", "Yuan renminbi"),
    "CNY per million tokens": ("CNY_PER_MTOK", "Yuan renminbi per million tokens"),
    "percent": ("PC", "Percent"),
}
TOTAL, NOT_REPORTED = ("_T", "Total", "合计"), ("_X", "Not reported", "未报告")
ZH = "zh"
SHARE = "share_of_total_pct"
MEASURE_NOTES: dict[str, str] = {}
_MEASURE_RELATIONSHIP = re.compile(r"\s*<str:MeasureRelationship>.*?</str:MeasureRelationship>", re.S)
_NS = {
    "str": "http://www.sdmx.org/resources/sdmxml/schemas/v3_0/structure",
    "com": "http://www.sdmx.org/resources/sdmxml/schemas/v3_0/common",
}
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def write_sdmx(folder: Path, tables: dict[str, pl.DataFrame], release: ReleaseInfo) -> list[Path]:
    """Write ``structure.xml`` (SDMX-ML 3.0) and ``data.csv`` (SDMX-CSV 2.0) into ``folder``; return both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    codelists = _codelists()
    dsd = _dsd(codelists)
    dataflow = Dataflow(
        id=DATAFLOW_ID,
        agency=AGENCY,
        version=VERSION,
        name="Token statistics, monthly",
        description="Final and intermediate use of AI model tokens by customer province, compute province, "
        "modality and sector, from the monthly reports of registered providers",
        structure=dsd,
    )
    artefacts = [*codelists.values(), _concept_scheme(), dsd]
    header_id = f"{AGENCY}_{release.period}_V{release.version}".replace("-", "_")
    observations = _observations(tables, release, codelists)
    return write_dataflow(folder, "", artefacts, dataflow, header_id, release.period, observations)


def write_dataflow(
    folder: Path,
    prefix: str,
    artefacts: list,
    dataflow: Dataflow,
    header_id: str,
    period: str,
    observations: pd.DataFrame,
) -> list[Path]:
    """Write ``<prefix>structure.xml`` (the artefacts and the dataflow, SDMX-ML 3.0) and ``<prefix>data.csv``
    (the observations, SDMX-CSV 2.0, OBS_VALUE as the text given) into ``folder``; return both paths."""
    header = Header(id=header_id, prepared=_prepared(period), sender=Organisation(id=AGENCY))
    xml = pysdmx_write([*artefacts, dataflow], Format.STRUCTURE_SDMX_ML_3_0, header=header, prettyprint=True)
    structure = folder / f"{prefix}structure.xml"
    structure.write_bytes(_finish_xml(xml))
    data = folder / f"{prefix}data.csv"
    csv = pysdmx_write(
        PandasDataset(
            structure=_writing_schema(dataflow.structure, dataflow.id), data=observations, action=ActionType.Information
        ),
        Format.DATA_SDMX_CSV_2_0_0,
    )
    data.write_bytes(csv.encode("utf-8"))
    return [structure, data]


def _prepared(period: str) -> datetime:
    """A fixed, reproducible preparation time: midnight UTC on the first day of the month after the period."""
    year, month = (int(p) for p in period.split("-"))
    return datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)


def _code(code: str, name: str, description: str | None = None) -> Code:
    return Code(id=code, name=name, description=description)


def _codelists() -> dict[str, Codelist]:
    """Our code lists (id -> Codelist), names in English (Chinese names are added to the XML afterwards)."""
    provinces = [_code(r["region_code"], r["name"]) for r in read_code_list("provinces.csv")]
    zones = [
        _code(r["zone_code"], f"{r['name']} (economic zone)", "NBS economic zone")
        for r in read_code_list("economic_zones.csv")
    ]
    sectors = [_code(r["sector_code"], r["name"]) for r in read_code_list("sectors.csv")]
    modalities = [_code(r["modality"], r["name"]) for r in read_code_list("modalities.csv")]
    total, not_reported = _code(*TOTAL[:2]), _code(*NOT_REPORTED[:2])
    units = {UNIT_CODES[unit] for _, unit in MEASURES.values()}
    lists = {
        "CL_USE_TYPE": (
            "Use type",
            [
                _code("final", "Final use", "Tokens used by enterprises, government and individual consumers"),
                _code("intermediate", "Intermediate use", "Tokens resold to another registered provider"),
                _code("_T", "All uses"),
            ],
        ),
        "CL_AREA": ("Customer province (GB/T 2260) and economic zone", [*provinces, *zones, total]),
        "CL_COMPUTE_AREA": ("Province of the serving data centre (GB/T 2260)", [*provinces, not_reported, total]),
        "CL_MODALITY": ("Modality", [*modalities, total]),
        "CL_SECTOR": (
            "Sector of the customer (GB/T 4754-2017 section)",
            [*sectors, _code("_X", "Unspecified", "Intermediate use carries no sector"), total],
        ),
        "CL_MEASURE": (
            "Measure",
            [_code(m, name, f"Unit: {unit}.{MEASURE_NOTES.get(m, '')}") for m, (name, unit) in MEASURES.items()],
        ),
        "CL_UNIT_MEASURE": ("Unit of measure", [_code(c, n) for c, n in sorted(units)]),
        "CL_OBS_STATUS": ("Observation status", [_code(c, n) for c, n in OBS_STATUS.items()]),
        # CONF_STATUS: the codes and meanings are those of the SDMX cross-domain CL_CONF_STATUS (F free,
        # A small counts, O dominance by one unit, D secondary confidentiality), but we issue our own list with
        # exactly the four codes we use and our definitions as names: the SDMX registry version could not be
        # checked offline, and a partial copy under agency SDMX would claim names we cannot vouch for.
        "CL_CONF_STATUS": ("Confidentiality status", [_code(c, n) for c, n in CONF_STATUS.items()]),
    }
    return {
        id_: Codelist(id=id_, agency=AGENCY, version=VERSION, name=name, items=codes)
        for id_, (name, codes) in lists.items()
    }


CONCEPTS = {
    "USE_TYPE": ("Use type", DIMENSIONS["use_type"]),
    "REF_AREA": ("Reference area (customer's province or economic zone)", DIMENSIONS["region_code"]),
    "COMPUTE_AREA": ("Compute area (province of the serving data centre)", DIMENSIONS["compute_region_code"]),
    "MODALITY": ("Modality", DIMENSIONS["modality"]),
    "SECTOR": ("Sector of the customer", DIMENSIONS["sector_code"]),
    "MEASURE": ("Measure", "What is measured; each measure has one unit (UNIT_MEASURE)"),
    "TIME_PERIOD": ("Time period", "Reference month (Beijing calendar)"),
    "OBS_VALUE": ("Observation value", "Empty for a confidential (suppressed) cell"),
    "OBS_STATUS": ("Observation status", "A normal, P provisional (first release of a month), E estimated"),
    "CONF_STATUS": ("Confidentiality status", "F free; A, O, D confidential: the value is not published"),
    "UNIT_MEASURE": ("Unit of measure", None),
}


def _concept_scheme() -> ConceptScheme:
    return ConceptScheme(
        id=CONCEPT_SCHEME,
        agency=AGENCY,
        version=VERSION,
        name="TokenStats concepts",
        items=[Concept(id=c, name=n, description=d) for c, (n, d) in CONCEPTS.items()],
    )


def _concept(concept: str) -> ItemReference:
    return ItemReference(sdmx_type="Concept", agency=AGENCY, id=CONCEPT_SCHEME, version=VERSION, item_id=concept)


def _dsd(codelists: dict[str, Codelist]) -> DataStructureDefinition:
    def dimension(id_: str, codes: str) -> Component:
        return Component(
            id=id_, required=True, role=Role.DIMENSION, concept=_concept(id_), local_codes=codelists[codes]
        )

    def attribute(id_: str, level: str) -> Component:
        return Component(
            id=id_,
            required=True,
            role=Role.ATTRIBUTE,
            concept=_concept(id_),
            local_codes=codelists[f"CL_{id_}"],
            attachment_level=level,
        )

    components = [
        dimension("USE_TYPE", "CL_USE_TYPE"),
        dimension("REF_AREA", "CL_AREA"),
        dimension("COMPUTE_AREA", "CL_COMPUTE_AREA"),
        dimension("MODALITY", "CL_MODALITY"),
        dimension("SECTOR", "CL_SECTOR"),
        dimension("MEASURE", "CL_MEASURE"),
        # the id TIME_PERIOD makes pysdmx write a <str:TimeDimension>; it must come last
        Component(
            id="TIME_PERIOD",
            required=True,
            role=Role.DIMENSION,
            concept=_concept("TIME_PERIOD"),
            local_dtype=DataType.PERIOD,
        ),
        # not required: a suppressed cell is an observation with an empty value
        Component(
            id="OBS_VALUE",
            required=False,
            role=Role.MEASURE,
            concept=_concept("OBS_VALUE"),
            local_dtype=DataType.DECIMAL,
        ),
        attribute("OBS_STATUS", "O"),
        attribute("CONF_STATUS", "O"),
        attribute("UNIT_MEASURE", "MEASURE"),  # one unit per measure
    ]
    return DataStructureDefinition(
        id=DSD_ID,
        agency=AGENCY,
        version=VERSION,
        name="Token statistics",
        components=Components(components),
    )


def _writing_schema(dsd: DataStructureDefinition, dataflow_id: str):
    """The schema the CSV is written with: the dataflow as STRUCTURE, OBS_VALUE kept as our pre-formatted text
    (pysdmx would cast Decimal to float64 and print 42.0 or 1e+20)."""
    schema = dsd.to_schema()
    components = Components(
        [replace(c, local_dtype=DataType.STRING) if c.id == "OBS_VALUE" else c for c in schema.components]
    )
    return replace(schema, context="dataflow", id=dataflow_id, components=components)


def _observations(tables: dict[str, pl.DataFrame], release: ReleaseInfo, codelists: dict[str, Codelist]):
    """One row per cell and measure, in code-list order; every coded value checked against its list."""
    columns = ["reference_period", *DIMENSION_IDS, "obs_status", "conf_status"]
    rows = _cells(tables, columns)
    order = {dim: {c.id: i for i, c in enumerate(codelists[_codelist_of(dim)])} for dim in DIMENSION_IDS.values()}
    units = {m: UNIT_CODES[unit][0] for m, (_, unit) in MEASURES.items()}
    status_codes = {c.id for c in codelists["CL_OBS_STATUS"]}
    conf_codes = {c.id for c in codelists["CL_CONF_STATUS"]}
    out = []
    for row in rows:
        period, *dims, obs_status, conf_status = row[: len(columns)]
        values = row[len(columns) :]
        if period > release.period:
            raise ValueError(f"a cell of {period} in the release of {release.period}")
        key = tuple(order[dim_id].get(code, -1) for dim_id, code in zip(DIMENSION_IDS.values(), dims, strict=True))
        unknown = [(d, c) for d, c, k in zip(DIMENSION_IDS.values(), dims, key, strict=True) if k < 0]
        if unknown or obs_status not in status_codes or conf_status not in conf_codes:
            raise ValueError(f"codes outside the code lists: {unknown or (obs_status, conf_status)}")
        free = conf_status == "F"
        for position, (measure, value) in enumerate(zip(MEASURES, values, strict=True)):
            if free and value is None:
                continue  # not available: no observation
            obs_value = value if free else None
            row = (*dims, measure, period, obs_value, obs_status, conf_status, units[measure])
            out.append((key, period, position, row))
    out.sort(key=lambda r: r[:3])
    frame = pd.DataFrame(
        [r[3] for r in out],
        columns=[
            *DIMENSION_IDS.values(),
            "MEASURE",
            "TIME_PERIOD",
            "OBS_VALUE",
            "OBS_STATUS",
            "CONF_STATUS",
            "UNIT_MEASURE",
        ],
        dtype=object,
    )
    return frame


def _cells(tables: dict[str, pl.DataFrame], columns: list[str]) -> list[tuple]:
    """The union of the cell tables, one row per cell (``columns`` then ``MEASURES``, measures as text).

    A cell published in several tables must be the same cell in each, measures and flags included (a cell
    confidential in one table and free in another would disclose it): anything else is refused."""
    names = (*CELL_TABLES, *(PREFIX + t for t in SERIES_TABLES))  # the series: every earlier month too
    parts = [_as_text(tables[t].select(*columns, *MEASURES)) for t in names if t in tables and tables[t].height]
    if not parts:
        return []
    cells = pl.concat(parts)
    keys = ["reference_period", *DIMENSION_IDS]
    variants = cells.unique().group_by(keys).len().filter(pl.col("len") > 1)
    if variants.height:
        raise ValueError(f"cells that differ between tables: {variants.select(keys).head(5).rows()}")
    return cells.unique(keys, keep="first", maintain_order=True).rows()


def _codelist_of(dimension: str) -> str:
    return {"REF_AREA": "CL_AREA"}.get(dimension, f"CL_{dimension}")


def _as_text(cells: pl.DataFrame) -> pl.DataFrame:
    """Measures as plain decimal strings: integers as integers, decimals without exponent or trailing zeros."""
    return cells.with_columns(pl.col(m).map_elements(_plain, return_dtype=pl.String, skip_nulls=True) for m in MEASURES)


def _plain(value: int | float | Decimal) -> str:
    if isinstance(value, int):
        return str(value)
    number = Decimal(repr(value)) if isinstance(value, float) else value
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def _finish_xml(xml: str) -> bytes:
    """Two fixes on pysdmx's output: drop ``<str:MeasureRelationship>`` (optional in SDMX-ML 3.0, redundant with a
    single measure, and unreadable by sdmx1 2.28), and add the Chinese names of the code lists' codes as a second
    ``<com:Name xml:lang="zh">`` (pysdmx's model holds one English name)."""
    root = etree.fromstring(_MEASURE_RELATIONSHIP.sub("", xml).encode("utf-8"))
    names = _zh_names()
    for codelist in root.iterfind(".//str:Codelist", _NS):
        for code in codelist.iterfind("str:Code", _NS):
            zh = names.get(codelist.get("id"), {}).get(code.get("id"))
            if zh:
                last = code.findall("com:Name", _NS)[-1]
                name = etree.Element(f"{{{_NS['com']}}}Name", {_XML_LANG: ZH})
                name.text, name.tail, last.tail = zh, last.tail, code.text
                last.addnext(name)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8") + b"\n"


def _zh_names() -> dict[str, dict[str, str]]:
    provinces = {r["region_code"]: r["name_zh"] for r in read_code_list("provinces.csv")}
    zones = {r["zone_code"]: r["name_zh"] for r in read_code_list("economic_zones.csv")}
    total, not_reported = dict([TOTAL[::2]]), dict([NOT_REPORTED[::2]])
    return {
        "CL_AREA": provinces | zones | total,
        "CL_COMPUTE_AREA": provinces | not_reported | total,
        "CL_MODALITY": {r["modality"]: r["name_zh"] for r in read_code_list("modalities.csv")} | total,
        "CL_SECTOR": {r["sector_code"]: r["name_zh"] for r in read_code_list("sectors.csv")} | total,
        "CL_USE_TYPE": {"final": "最终使用", "intermediate": "中间使用", "_T": "合计"},
    }
