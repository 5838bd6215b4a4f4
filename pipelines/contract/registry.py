"""The provider registry: who may report, under which enterprise group, since when.

The bureau keeps it as ``<data>/registry/providers.csv``; ``tokenstats generate`` writes a synthetic one
(never over an existing, different registry without ``--force``). It is validated whenever it is read.
Providers of one enterprise group count as one contributor in disclosure control.
"""

from __future__ import annotations

import csv
import functools
import os
import re
from dataclasses import astuple, dataclass, fields
from pathlib import Path

from pipelines.contract.contract import read_code_list
from pipelines.core.config import UsageError
from pipelines.core.periods import PERIOD

PROVIDER_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


@dataclass(frozen=True)
class Provider:
    provider_id: str
    name: str
    enterprise_group: str
    registered_province: str
    active_from: str  # first reference month (YYYY-MM) the provider must report for


COLUMNS = [f.name for f in fields(Provider)]


class RegistryError(UsageError):
    """The registry file is not a valid registry: every problem, with its line, for the bureau's editor."""


def read_registry(path: Path) -> list[Provider]:
    """The registry, validated as the input it is: UTF-8 (a byte-order mark is fine), the columns of
    ``Provider``, unique well-formed provider ids, a province of the code list, a reference month, a group."""
    if not path.exists():
        raise FileNotFoundError(
            f"provider registry not found at {path}; run `tokenstats generate` or place the bureau's registry there"
        )
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:  # -sig: spreadsheets save a byte-order mark
            reader = csv.DictReader(f)
            missing = set(COLUMNS) - set(reader.fieldnames or [])
            if missing:
                raise RegistryError(f"provider registry {path} lacks columns {sorted(missing)}")
            rows = [(reader.line_num, {k: (row[k] or "").strip() for k in COLUMNS}) for row in reader]
    except UnicodeDecodeError as error:
        raise RegistryError(f"provider registry {path} is not UTF-8 text ({error})") from None
    if not rows:  # an empty registry would refuse every report: treat it as the fault it is
        raise RegistryError(f"provider registry {path} lists no provider")
    problems = [f"line {line}: {problem}" for line, row in rows for problem in _row_problems(row)]
    seen: dict[str, int] = {}
    for line, row in rows:
        first = seen.setdefault(row["provider_id"], line)
        if first != line:
            problems.append(f"line {line}: provider_id {row['provider_id']!r} is already on line {first}")
    if problems:
        shown = "; ".join(problems[:10]) + (f"; and {len(problems) - 10} more" if len(problems) > 10 else "")
        raise RegistryError(f"provider registry {path} is invalid: {shown}")
    return [Provider(**row) for _, row in rows]


def _row_problems(row: dict[str, str]) -> list[str]:
    problems = []
    if not PROVIDER_ID_PATTERN.match(row["provider_id"]):
        problems.append(f"provider_id {row['provider_id']!r} is not 2-63 lower-case letters, digits and hyphens")
    for column in ("name", "enterprise_group"):
        if not row[column] or not row[column].isprintable():
            problems.append(f"{column} {row[column]!r} is empty or has control characters")
    if row["registered_province"] not in _provinces():
        problems.append(f"registered_province {row['registered_province']!r} is not a province code (GB/T 2260)")
    if not PERIOD.match(row["active_from"]):
        problems.append(f"active_from {row['active_from']!r} is not a month YYYY-MM")
    return problems


@functools.cache
def _provinces() -> frozenset[str]:
    return frozenset(r["region_code"] for r in read_code_list("provinces.csv"))


def write_registry(path: Path, providers: list[Provider]) -> Path:
    """Write the registry CSV through a temporary name and a rename (never half a registry)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(astuple(p) for p in providers)
    os.replace(tmp, path)
    return path
