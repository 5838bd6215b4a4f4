"""SDMX presentation of the token price index: its own dataflow, ``TOKENSTATS:DF_TOKEN_PRICES_M(1.0.0)``.

``sdmx/price_index_structure.xml`` (SDMX-ML 3.0: code lists, concept scheme, DSD, dataflow) and
``sdmx/price_index_data.csv`` (SDMX-CSV 2.0), written by pysdmx like the cells' dataflow (``sdmx.py``), whose code
lists of modality and flags it shares. One observation per month, modality and measure of the ``price_index``
table; a withheld row's observations have an empty OBS_VALUE and its flag, a value that is not available (the
change of the first month) has no observation. Deterministic: the header comes from the release.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import polars as pl
from pysdmx.model import (
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

from pipelines.release.formats.sdmx import CONCEPTS as CELL_CONCEPTS
from pipelines.release.formats.sdmx import VERSION, _code, _codelists, _plain, write_dataflow
from pipelines.release.release_model import AGENCY, ReleaseInfo

DATAFLOW_ID = "DF_TOKEN_PRICES_M"
DSD_ID = "DSD_TOKEN_PRICES"
CONCEPT_SCHEME = "CS_TOKEN_PRICES"
#: table column -> (code, name, unit code)
MEASURES = {
    "price_index": ("PRICE_INDEX", "Token price index, chained Törnqvist over matched models (headline)", "IX"),
    "change_on_previous_month_pct": ("PRICE_INDEX_CHANGE", "Change of the headline index on the month", "PC"),
    "geks_index": ("GEKS_INDEX", "GEKS-Törnqvist index, 13-month window, mean splice", "IX"),
    "unit_value_index": ("UNIT_VALUE_INDEX", "Unit-value index: settlement per million tokens, all tokens", "IX"),
    "matched_items": ("MATCHED_ITEMS", "Items (provider, model, modality) sold in the month and the previous one", "N"),
}
UNITS = {"IX": "Index, first month = 100", "PC": "Percent", "N": "Number"}
SHARED_CONCEPTS = ("MODALITY", "TIME_PERIOD", "OBS_VALUE", "OBS_STATUS", "CONF_STATUS", "UNIT_MEASURE")
CONCEPTS = {
    "MEASURE": ("Measure", "Which index, its change, or the count of matched items"),
    **{concept: CELL_CONCEPTS[concept] for concept in SHARED_CONCEPTS},  # one definition for both dataflows
}


def write_price_index_sdmx(folder: Path, index: pl.DataFrame, release: ReleaseInfo) -> list[Path]:
    """Write the index's structure and data into ``folder``; return both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    codelists = _price_codelists()
    dsd = _dsd(codelists)
    description = "Price of AI model tokens from the amounts settled for final use, per modality and for all"
    dataflow = _ours(Dataflow, DATAFLOW_ID, "Token price index, monthly", description=description, structure=dsd)
    concepts = [Concept(id=c, name=n, description=d) for c, (n, d) in CONCEPTS.items()]
    scheme = _ours(ConceptScheme, CONCEPT_SCHEME, "TokenStats price index concepts", items=concepts)
    header_id = f"{AGENCY}_PRICES_{release.period}_V{release.version}".replace("-", "_")
    artefacts = [*codelists.values(), scheme, dsd]
    return write_dataflow(folder, "price_index_", artefacts, dataflow, header_id, release.period, _observations(index))


def _price_codelists() -> dict[str, Codelist]:
    shared = _codelists()
    own = {
        "CL_PRICE_MEASURE": ("Price index measure", [_code(code, name) for code, name, _ in MEASURES.values()]),
        "CL_PRICE_UNIT": ("Unit of measure of the price index", [_code(c, n) for c, n in UNITS.items()]),
    }
    return {
        **{id_: shared[id_] for id_ in ("CL_MODALITY", "CL_OBS_STATUS", "CL_CONF_STATUS")},
        **{id_: _ours(Codelist, id_, name, items=codes) for id_, (name, codes) in own.items()},
    }


def _ours(kind: type, id_: str, name: str, **fields: object):
    """A structure artefact of the bureau's (agency TOKENSTATS, version VERSION)."""
    return kind(id=id_, agency=AGENCY, version=VERSION, name=name, **fields)


def _component(id_: str, role: Role, dtype: DataType | None = None, **extra: object) -> Component:
    concept = ItemReference(sdmx_type="Concept", agency=AGENCY, id=CONCEPT_SCHEME, version=VERSION, item_id=id_)
    return Component(id=id_, required=role == Role.DIMENSION, role=role, concept=concept, local_dtype=dtype, **extra)


def _dsd(codelists: dict[str, Codelist]) -> DataStructureDefinition:
    components = [
        _component("MODALITY", Role.DIMENSION, local_codes=codelists["CL_MODALITY"]),
        _component("MEASURE", Role.DIMENSION, local_codes=codelists["CL_PRICE_MEASURE"]),
        _component("TIME_PERIOD", Role.DIMENSION, DataType.PERIOD),  # last: pysdmx's TimeDimension
        _component("OBS_VALUE", Role.MEASURE, DataType.DECIMAL),  # not required: a withheld value is empty
        _component("OBS_STATUS", Role.ATTRIBUTE, local_codes=codelists["CL_OBS_STATUS"], attachment_level="O"),
        _component("CONF_STATUS", Role.ATTRIBUTE, local_codes=codelists["CL_CONF_STATUS"], attachment_level="O"),
        _component("UNIT_MEASURE", Role.ATTRIBUTE, local_codes=codelists["CL_PRICE_UNIT"], attachment_level="MEASURE"),
    ]
    return _ours(DataStructureDefinition, DSD_ID, "Token price index", components=Components(components))


def _observations(index: pl.DataFrame) -> pd.DataFrame:
    out = []
    for row in index.sort("modality", "month").iter_rows(named=True):
        free = row["conf_status"] == "F"
        for column, (code, _, unit) in MEASURES.items():
            value = row[column]
            if free and value is None:
                continue  # not available: no observation
            obs_value = _plain(value) if free else None
            out.append((row["modality"], code, row["month"], obs_value, row["obs_status"], row["conf_status"], unit))
    columns = ["MODALITY", "MEASURE", "TIME_PERIOD", "OBS_VALUE", "OBS_STATUS", "CONF_STATUS", "UNIT_MEASURE"]
    return pd.DataFrame(out, columns=columns, dtype=object)
