"""The data contract of the provider usage report, loaded from ``schemas/`` (the one source of truth).

The contract fixes logical types: a string column may arrive in any Arrow string encoding, counts must be
int64, money a decimal of scale 4, dates date32. Column order is free.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pyarrow as pa

from pipelines.core.config import SCHEMAS_DIR

CONTRACT_FILE = "usage_report.v1.json"


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool
    rule: str
    code_list: str | None = None
    min: int | None = None
    max: int | None = None
    min_length: int | None = None
    max_length: int | None = None

    @property
    def arrow_type(self) -> pa.DataType:
        """The canonical Arrow type (what the generator writes and the warehouse loads)."""
        if self.type == "string":
            return pa.string()
        if self.type == "date32":
            return pa.date32()
        if self.type == "int64":
            return pa.int64()
        precision, scale = _decimal_parts(self.type)
        return pa.decimal128(precision, scale)

    def accepts(self, arrow_type: pa.DataType) -> bool:
        """Whether an Arrow type carries this column's logical type."""
        if pa.types.is_dictionary(arrow_type):
            return self.type == "string" and _is_string(arrow_type.value_type)
        if self.type == "string":
            return _is_string(arrow_type)
        if self.type.startswith("decimal"):
            _, scale = _decimal_parts(self.type)
            return pa.types.is_decimal(arrow_type) and arrow_type.scale == scale
        return arrow_type == self.arrow_type


@dataclass(frozen=True)
class Contract:
    name: str
    version: str
    title: str
    grain: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    code_list_specs: dict[str, dict]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.arrow_type, nullable=c.nullable) for c in self.columns])

    def code_list(self, name: str) -> list[str]:
        """The codes of a named code list, in file order."""
        spec = self.code_list_specs[name]
        rows = read_code_list(spec["file"])
        where = spec.get("where", {})
        return [r[spec["column"]] for r in rows if all(r[k] == v for k, v in where.items())]


def _is_string(arrow_type: pa.DataType) -> bool:
    return (
        pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or (pa.types.is_string_view(arrow_type))
    )


def _decimal_parts(type_name: str) -> tuple[int, int]:
    precision, scale = type_name.removeprefix("decimal(").removesuffix(")").split(",")
    return int(precision), int(scale)


@cache
def load_contract(schemas_dir: Path = SCHEMAS_DIR) -> Contract:
    """The report contract (``usage_report.v1.json``): columns, logical types, rules."""
    spec = json.loads((schemas_dir / CONTRACT_FILE).read_text(encoding="utf-8"))
    return Contract(
        name=spec["name"],
        version=spec["version"],
        title=spec["title"],
        grain=spec["grain"],
        key=tuple(spec["key"]),
        columns=tuple(Column(**c) for c in spec["columns"]),
        code_list_specs=spec["code_lists"],
    )


@cache
def _read_code_list(path: Path) -> tuple[dict[str, str], ...]:
    with path.open(encoding="utf-8", newline="") as f:
        return tuple(csv.DictReader(f))


def read_code_list(file_name: str, schemas_dir: Path = SCHEMAS_DIR) -> list[dict[str, str]]:
    """Rows of a code-list CSV in ``schemas/`` as dictionaries (all values strings)."""
    return [dict(r) for r in _read_code_list(schemas_dir / file_name)]
