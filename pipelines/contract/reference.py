"""The contract's reference data in the warehouse: code lists and the provider registry as ``ref.*`` tables."""

from __future__ import annotations

from typing import Any

import duckdb

from pipelines.contract.contract import read_code_list
from pipelines.contract.registry import COLUMNS as REGISTRY_COLUMNS
from pipelines.contract.registry import read_registry
from pipelines.core.config import Settings

REFERENCE_TABLES = {
    "ref.provinces": "provinces.csv",
    "ref.economic_zones": "economic_zones.csv",
    "ref.sectors": "sectors.csv",
    "ref.modalities": "modalities.csv",
    "ref.customer_types": "customer_types.csv",
}


def load_reference_tables(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """Replace code lists and the registry in one transaction (they change rarely, and never partly)."""
    con.execute("begin")
    try:
        for table, file_name in REFERENCE_TABLES.items():
            rows = read_code_list(file_name)
            columns = list(rows[0])
            con.execute(f"delete from {table}")
            placeholders = ", ".join("?" for _ in columns)
            con.executemany(
                f"insert into {table} ({', '.join(columns)}) values ({placeholders})",
                [[_cell(r[c]) for c in columns] for r in rows],
            )
        providers = read_registry(settings.registry_file)
        con.execute("delete from ref.providers")
        con.executemany(
            f"insert into ref.providers values ({', '.join('?' for _ in REGISTRY_COLUMNS)})",
            [[getattr(p, c) for c in REGISTRY_COLUMNS] for p in providers],
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def _cell(value: str) -> Any:
    if value in ("true", "false"):
        return value == "true"
    return value or None
