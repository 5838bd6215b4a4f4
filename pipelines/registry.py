"""The provider registry: who may report, under which enterprise group, since when.

The bureau keeps it as ``<data>/registry/providers.csv``; ``tokenstats generate`` writes a synthetic one.
Providers of one enterprise group count as one contributor in disclosure control.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import astuple, dataclass, fields
from pathlib import Path

PROVIDER_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


@dataclass(frozen=True)
class Provider:
    provider_id: str
    name: str
    enterprise_group: str
    registered_province: str
    active_from: str  # first reference month (YYYY-MM) the provider must report for


COLUMNS = [f.name for f in fields(Provider)]


def read_registry(path: Path) -> list[Provider]:
    if not path.exists():
        raise FileNotFoundError(
            f"provider registry not found at {path}; run `tokenstats generate` or place the bureau's registry there"
        )
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        missing = set(COLUMNS) - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"provider registry {path} lacks columns {sorted(missing)}")
        providers = [Provider(**{k: row[k] for k in COLUMNS}) for row in reader]
    if not providers:  # an empty registry would refuse every report: treat it as the fault it is
        raise ValueError(f"provider registry {path} lists no provider")
    bad = [p.provider_id for p in providers if not PROVIDER_ID_PATTERN.match(p.provider_id)]
    if bad:
        raise ValueError(f"provider registry {path} has invalid provider ids {bad}")
    return providers


def write_registry(path: Path, providers: list[Provider]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(astuple(p) for p in providers)
    os.replace(tmp, path)
    return path


def active_providers(providers: list[Provider], period: str) -> list[Provider]:
    """Providers expected to report for a reference month."""
    return [p for p in providers if p.active_from <= period]
